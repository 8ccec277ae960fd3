package io.cairn.bindings;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static io.cairn.bindings.NativeIo.BLOCK_ALIGNMENT_BYTES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Registered buffers (WRITE_FIXED/READ_FIXED), the drain barrier after unlinked concurrent writes, and thread
 * pinning, all through the shim.
 */
@Timeout(30)
class IoRingFixedBuffersTest
{
    static final int BLOCKS = 8;

    @Test
    void fixedWritesThenDrainedFdatasyncThenFixedReadsRoundTrip() throws Exception
    {
        final Path file = TestDirectories.newTestDirectory("fixed").resolve("extent.dat");
        try (AlignedBufferPool pool = new AlignedBufferPool(2 * BLOCKS, BLOCK_ALIGNMENT_BYTES);
            AlignedBufferPool unregistered = new AlignedBufferPool(1, BLOCK_ALIGNMENT_BYTES);
            IoRing ring = new IoRing(32))
        {
            ring.registerBuffers(new long[]{ pool.regionAddress() }, new long[]{ pool.regionLengthBytes() });
            assertEquals(1, ring.registeredBufferCount());
            assertThrows(IllegalArgumentException.class,
                () -> ring.registerBuffers(new long[]{ pool.regionAddress() }, new long[]{ pool.regionLengthBytes() }));
            final int fd = NativeIo.openDirect(file, true);
            try
            {
                NativeIo.fallocate(fd, 0, (long)(BLOCKS + 1) * BLOCK_ALIGNMENT_BYTES);
                for (int b = 0; b < BLOCKS; b++)
                {
                    pool.segment(b).fill((byte)(b + 1));
                    ring.prepareWrite(fd, pool.address(b), BLOCK_ALIGNMENT_BYTES, (long)b * BLOCK_ALIGNMENT_BYTES, b, false);
                }
                // A buffer outside the registered region still goes through the plain opcode.
                unregistered.segment(0).fill((byte)99);
                ring.prepareWrite(fd, unregistered.address(0), BLOCK_ALIGNMENT_BYTES,
                    (long)BLOCKS * BLOCK_ALIGNMENT_BYTES, BLOCKS, false);
                ring.prepareFdatasyncAfterAll(fd, 100);
                ring.submit();
                final Map<Long, Integer> results = reap(ring, BLOCKS + 2);
                for (long b = 0; b <= BLOCKS; b++)
                {
                    assertEquals(BLOCK_ALIGNMENT_BYTES, results.get(b), "write " + b);
                }
                assertEquals(0, results.get(100L), "fdatasync");

                for (int b = 0; b < BLOCKS; b++)
                {
                    ring.prepareRead(fd, pool.address(BLOCKS + b), BLOCK_ALIGNMENT_BYTES, (long)b * BLOCK_ALIGNMENT_BYTES,
                        b, false);
                }
                ring.submit();
                final Map<Long, Integer> reads = reap(ring, BLOCKS);
                for (int b = 0; b < BLOCKS; b++)
                {
                    assertEquals(BLOCK_ALIGNMENT_BYTES, reads.get((long)b), "read " + b);
                    assertEquals((byte)(b + 1), pool.segment(BLOCKS + b).get(ValueLayout.JAVA_BYTE, 4095));
                }
            }
            finally
            {
                NativeIo.close(fd);
            }
        }
    }

    @Test
    void pinsTheCallingThreadAndRefusesAMissingCpu() throws Exception
    {
        final int cpus = NativeIo.cpuCount();
        final Throwable[] failure = new Throwable[1];
        final Thread thread = new Thread(() ->
        {
            try
            {
                NativeIo.pinCurrentThread(cpus - 1);
            }
            catch (final Throwable t)
            {
                failure[0] = t;
            }
        });
        thread.start();
        thread.join();
        assertEquals(null, failure[0]);
        final NativeIoException ex = assertThrows(NativeIoException.class, () -> NativeIo.pinCurrentThread(1 << 20));
        assertEquals(Errno.EINVAL, ex.errno());
    }

    private static Map<Long, Integer> reap(final IoRing ring, final int count) throws NativeIoException
    {
        final Map<Long, Integer> results = new HashMap<>();
        while (results.size() < count)
        {
            ring.reap(results::put, 1);
        }
        return results;
    }
}
