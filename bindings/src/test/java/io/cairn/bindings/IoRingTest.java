package io.cairn.bindings;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static io.cairn.bindings.NativeIo.BLOCK_ALIGNMENT_BYTES;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class IoRingTest
{
    private static final int BLOCKS = 4;
    private static final long FSYNC_USER_DATA = 1_000L;

    private AlignedBufferPool pool;
    private IoRing ring;
    private int fd = -1;

    @BeforeEach
    void setUp() throws Exception
    {
        pool = new AlignedBufferPool(2 * BLOCKS, BLOCK_ALIGNMENT_BYTES);
        ring = new IoRing(16);
        final Path file = TestDirectories.newTestDirectory("ring").resolve("extent.dat");
        fd = NativeIo.openDirect(file, true);
    }

    @AfterEach
    void tearDown() throws Exception
    {
        if (fd >= 0)
        {
            NativeIo.close(fd);
        }
        ring.close();
        pool.close();
    }

    @Test
    void writeFdatasyncReadRoundTripInOneBatchEach() throws Exception
    {
        NativeIo.fallocate(fd, 0, (long)BLOCKS * BLOCK_ALIGNMENT_BYTES);

        final int[] writeBuffers = new int[BLOCKS];
        for (int block = 0; block < BLOCKS; block++)
        {
            writeBuffers[block] = pool.acquire();
            fill(pool.segment(writeBuffers[block]), block);
            final boolean lastWrite = block == BLOCKS - 1;
            assertTrue(ring.prepareWrite(fd, pool.address(writeBuffers[block]), BLOCK_ALIGNMENT_BYTES,
                (long)block * BLOCK_ALIGNMENT_BYTES, block, lastWrite));
        }
        assertTrue(ring.prepareFdatasync(fd, FSYNC_USER_DATA, false));
        assertEquals(BLOCKS + 1, ring.preparedCount());

        assertEquals(BLOCKS + 1, ring.submit());
        assertEquals(0, ring.preparedCount());
        final Map<Long, Integer> writeResults = reapAll(BLOCKS + 1);
        for (long block = 0; block < BLOCKS; block++)
        {
            assertEquals(BLOCK_ALIGNMENT_BYTES, writeResults.get(block), "write of block " + block);
        }
        assertEquals(0, writeResults.get(FSYNC_USER_DATA), "fdatasync");

        final int[] readBuffers = new int[BLOCKS];
        for (int block = 0; block < BLOCKS; block++)
        {
            readBuffers[block] = pool.acquire();
            pool.segment(readBuffers[block]).fill((byte)0);
            assertTrue(ring.prepareRead(fd, pool.address(readBuffers[block]), BLOCK_ALIGNMENT_BYTES,
                (long)block * BLOCK_ALIGNMENT_BYTES, 100 + block, false));
        }
        assertEquals(BLOCKS, ring.submit());
        final Map<Long, Integer> readResults = reapAll(BLOCKS);
        for (int block = 0; block < BLOCKS; block++)
        {
            assertEquals(BLOCK_ALIGNMENT_BYTES, readResults.get(100L + block), "read of block " + block);
            assertArrayEquals(
                pool.segment(writeBuffers[block]).toArray(ValueLayout.JAVA_BYTE),
                pool.segment(readBuffers[block]).toArray(ValueLayout.JAVA_BYTE),
                "content of block " + block);
        }
        assertEquals(0, ring.inFlightCount());
        assertEquals(BLOCKS * BLOCK_ALIGNMENT_BYTES, NativeIo.fileSizeBytes(fd));
    }

    @Test
    void writesIntoUnallocatedSpaceGrowTheFile() throws Exception
    {
        final int buffer = pool.acquire();
        fill(pool.segment(buffer), 7);
        assertTrue(ring.prepareWrite(fd, pool.address(buffer), BLOCK_ALIGNMENT_BYTES, 3L * BLOCK_ALIGNMENT_BYTES, 1, false));
        ring.submit();
        assertEquals(BLOCK_ALIGNMENT_BYTES, reapAll(1).get(1L));
        assertEquals(4L * BLOCK_ALIGNMENT_BYTES, NativeIo.fileSizeBytes(fd));
    }

    @Test
    void dsyncWriteIsOneOpAndReadsBack() throws Exception
    {
        final int buffer = pool.acquire();
        fill(pool.segment(buffer), 5);
        assertTrue(ring.prepareWriteDsync(fd, pool.address(buffer), BLOCK_ALIGNMENT_BYTES, BLOCK_ALIGNMENT_BYTES, 1));
        assertEquals(1, ring.submit());
        assertEquals(BLOCK_ALIGNMENT_BYTES, reapAll(1).get(1L), "durable write: one completion, all bytes");

        final int readBuffer = pool.acquire();
        assertTrue(ring.prepareRead(fd, pool.address(readBuffer), BLOCK_ALIGNMENT_BYTES, BLOCK_ALIGNMENT_BYTES, 2, false));
        ring.submit();
        assertEquals(BLOCK_ALIGNMENT_BYTES, reapAll(1).get(2L));
        assertArrayEquals(pool.segment(buffer).toArray(ValueLayout.JAVA_BYTE),
            pool.segment(readBuffer).toArray(ValueLayout.JAVA_BYTE));
        assertThrows(IllegalArgumentException.class,
            () -> ring.prepareWriteDsync(fd, pool.address(buffer) + 1, BLOCK_ALIGNMENT_BYTES, 0, 3));
    }

    @Test
    void gatheredDsyncWriteWritesItsBuffersInOrderAndReadsBack() throws Exception
    {
        final int first = pool.acquire();
        final int second = pool.acquire();
        final int third = pool.acquire();
        fill(pool.segment(first), 11);
        fill(pool.segment(second), 12);
        fill(pool.segment(third), 13);
        // The iovec array lives in a buffer of its own (never a registered one: a writev is never FIXED).
        final int iovecBuffer = pool.acquire();
        final MemorySegment iovecs = pool.segment(iovecBuffer);
        final int[] order = { first, second, third };
        for (int i = 0; i < order.length; i++)
        {
            iovecs.set(ValueLayout.JAVA_LONG, (long)i * IoRing.IOVEC_BYTES, pool.address(order[i]));
            iovecs.set(ValueLayout.JAVA_LONG, (long)i * IoRing.IOVEC_BYTES + 8, BLOCK_ALIGNMENT_BYTES);
        }
        assertTrue(ring.prepareWritevDsync(fd, pool.address(iovecBuffer), 3, BLOCK_ALIGNMENT_BYTES, 1));
        assertEquals(1, ring.submit());
        assertEquals(3 * BLOCK_ALIGNMENT_BYTES, reapAll(1).get(1L), "one completion for all three buffers");

        final int readBuffer = pool.acquire();
        for (int i = 0; i < order.length; i++)
        {
            assertTrue(ring.prepareRead(fd, pool.address(readBuffer), BLOCK_ALIGNMENT_BYTES,
                (long)(1 + i) * BLOCK_ALIGNMENT_BYTES, 2 + i, false));
            ring.submit();
            assertEquals(BLOCK_ALIGNMENT_BYTES, reapAll(1).get(2L + i));
            assertArrayEquals(pool.segment(order[i]).toArray(ValueLayout.JAVA_BYTE),
                pool.segment(readBuffer).toArray(ValueLayout.JAVA_BYTE), "block " + i + " in iovec order");
        }
        final long iovecAddress = pool.address(iovecBuffer);
        assertThrows(IllegalArgumentException.class, () -> ring.prepareWritevDsync(fd, iovecAddress, 0, 0, 9));
        assertThrows(IllegalArgumentException.class,
            () -> ring.prepareWritevDsync(fd, iovecAddress, IoRing.WRITEV_MAX_IOVECS + 1, 0, 9));
        assertThrows(IllegalArgumentException.class, () -> ring.prepareWritevDsync(fd, iovecAddress + 4, 1, 0, 9));
        assertThrows(IllegalArgumentException.class, () -> ring.prepareWritevDsync(fd, iovecAddress, 1, 100, 9));
        assertThrows(IllegalArgumentException.class, () -> ring.prepareWritevDsync(-1, iovecAddress, 1, 0, 9));
    }

    @Test
    void failedDsyncWriteReportsItsError() throws Exception
    {
        final int buffer = pool.acquire();
        assertTrue(ring.prepareWriteDsync(100_000, pool.address(buffer), BLOCK_ALIGNMENT_BYTES, 0, 1));
        ring.submit();
        assertEquals(-Errno.EBADF, reapAll(1).get(1L));
    }

    @Test
    void failedOpCancelsTheRestOfItsChain() throws Exception
    {
        final int buffer = pool.acquire();
        final int notOpen = 100_000;
        assertTrue(ring.prepareWrite(notOpen, pool.address(buffer), BLOCK_ALIGNMENT_BYTES, 0, 1, true));
        assertTrue(ring.prepareFdatasync(fd, 2, false));
        assertEquals(2, ring.submit());
        final Map<Long, Integer> results = reapAll(2);
        assertEquals(-Errno.EBADF, results.get(1L));
        assertEquals(-Errno.ECANCELED, results.get(2L));
    }

    @Test
    void nonBlockingReapWithNothingInFlightReturnsZero() throws Exception
    {
        assertEquals(0, ring.reap((userData, result) -> { }, 0));
        assertEquals(0, ring.submit());
    }

    @Test
    void waitingForMoreCompletionsThanInFlightIsRejected()
    {
        assertThrows(IllegalStateException.class, () -> ring.reap((userData, result) -> { }, 1));
    }

    @Test
    void timedReapWakesOnTheCompletion() throws Exception
    {
        assertTrue(ring.canWaitWithTimeout(), "this kernel bounds io_uring waits (IORING_FEAT_EXT_ARG, Linux 5.11+)");
        assertEquals(0, ring.reapWithin((userData, result) -> { }, 500_000_000), "nothing in flight");

        NativeIo.fallocate(fd, 0, BLOCK_ALIGNMENT_BYTES);
        final int buffer = pool.acquire();
        fill(pool.segment(buffer), 3);
        assertTrue(ring.prepareWrite(fd, pool.address(buffer), BLOCK_ALIGNMENT_BYTES, 0, 7, false));
        assertEquals(1, ring.submit());
        final Map<Long, Integer> results = new HashMap<>();
        // One wait, bounded generously: it ends because the write completed (1 reaped), not by timing out (0).
        assertEquals(1, ring.reapWithin((userData, result) -> results.put(userData, result), IoRing.MAX_WAIT_NS),
            "woke on the completion, not the timeout");
        assertEquals(BLOCK_ALIGNMENT_BYTES, results.get(7L));
        assertEquals(0, ring.inFlightCount());
        assertThrows(IllegalArgumentException.class, () -> ring.reapWithin((userData, result) -> { }, -1));
    }

    @Test
    void prepareReturnsFalseWhenTheBatchIsFull()
    {
        final int capacity = ring.capacity();
        assertTrue(capacity >= 16);
        for (int i = 0; i < capacity; i++)
        {
            assertTrue(ring.prepareFdatasync(fd, i, false));
        }
        assertFalse(ring.prepareFdatasync(fd, capacity, false));
        assertEquals(capacity, ring.preparedCount());
    }

    @Test
    void lastOpOfABatchMustNotLink()
    {
        assertTrue(ring.prepareFdatasync(fd, 1, true));
        assertThrows(IllegalStateException.class, ring::submit);
    }

    @Test
    void unalignedInputsAreRejectedBeforeTheKernel()
    {
        final long address = pool.address(pool.acquire());
        final IllegalArgumentException badAddress = assertThrows(IllegalArgumentException.class,
            () -> ring.prepareWrite(fd, address + 512, BLOCK_ALIGNMENT_BYTES, 0, 1, false));
        assertTrue(badAddress.getMessage().contains("address"), badAddress.getMessage());

        final IllegalArgumentException badLength = assertThrows(IllegalArgumentException.class,
            () -> ring.prepareWrite(fd, address, 100, 0, 1, false));
        assertTrue(badLength.getMessage().contains("length 100"), badLength.getMessage());

        final IllegalArgumentException badOffset = assertThrows(IllegalArgumentException.class,
            () -> ring.prepareRead(fd, address, BLOCK_ALIGNMENT_BYTES, 512, 1, false));
        assertTrue(badOffset.getMessage().contains("offset 512"), badOffset.getMessage());

        assertThrows(IllegalArgumentException.class,
            () -> ring.prepareRead(fd, address, 0, 0, 1, false));
        assertThrows(IllegalArgumentException.class,
            () -> ring.prepareRead(-1, address, BLOCK_ALIGNMENT_BYTES, 0, 1, false));
        assertEquals(0, ring.preparedCount());
    }

    @Test
    void closedRingRefusesWork()
    {
        ring.close();
        ring.close();
        assertThrows(IllegalStateException.class, () -> ring.prepareFdatasync(fd, 1, false));
    }

    private Map<Long, Integer> reapAll(final int expected) throws NativeIoException
    {
        final Map<Long, Integer> results = new HashMap<>();
        while (results.size() < expected)
        {
            ring.reap((userData, result) -> results.put(userData, result), 1);
        }
        assertEquals(expected, results.size());
        return results;
    }

    private static void fill(final MemorySegment segment, final int seed)
    {
        for (long i = 0; i < segment.byteSize(); i++)
        {
            segment.set(ValueLayout.JAVA_BYTE, i, (byte)(seed * 31 + i * 7));
        }
    }
}
