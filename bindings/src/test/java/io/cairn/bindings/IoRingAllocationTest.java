package io.cairn.bindings;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;

import static io.cairn.bindings.NativeIo.BLOCK_ALIGNMENT_BYTES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The steady-state prepare → submit → reap cycle allocates nothing on the Java heap. */
@Timeout(60)
class IoRingAllocationTest
{
    private static final int BATCH = 8;
    private static final int FILE_BLOCKS = 64;
    private static final int WARM_UP_BATCHES = 5_000;
    private static final int MEASURED_BATCHES = 2_000;
    /** Slack for a stray JIT/profiling allocation; a per-op allocation would cost >= 16 B x 16k ops. */
    private static final long ALLOWED_BYTES = 4_096;

    private long completed;
    private int failures;

    @Test
    void batchCycleDoesNotAllocate() throws Exception
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final long threadId = Thread.currentThread().threadId();
        final IoRing.CompletionHandler handler = (userData, result) ->
        {
            completed++;
            if (result != BLOCK_ALIGNMENT_BYTES)
            {
                failures++;
            }
        };

        final int fd = NativeIo.openDirect(TestDirectories.newTestDirectory("alloc").resolve("extent.dat"), true);
        try (AlignedBufferPool pool = new AlignedBufferPool(BATCH, BLOCK_ALIGNMENT_BYTES);
            IoRing ring = new IoRing(BATCH))
        {
            NativeIo.fallocate(fd, 0, (long)FILE_BLOCKS * BLOCK_ALIGNMENT_BYTES);
            runBatches(ring, pool, fd, handler, WARM_UP_BATCHES);

            final long before = threads.getThreadAllocatedBytes(threadId);
            runBatches(ring, pool, fd, handler, MEASURED_BATCHES);
            final long allocated = threads.getThreadAllocatedBytes(threadId) - before;

            assertEquals(0, failures, "failed writes");
            assertEquals((long)(WARM_UP_BATCHES + MEASURED_BATCHES) * BATCH, completed);
            assertTrue(allocated <= ALLOWED_BYTES,
                "prepare/submit/reap allocated " + allocated + " bytes over " + MEASURED_BATCHES * BATCH + " ops");
        }
        finally
        {
            NativeIo.close(fd);
        }
    }

    private static void runBatches(
        final IoRing ring, final AlignedBufferPool pool, final int fd, final IoRing.CompletionHandler handler,
        final int batches) throws NativeIoException
    {
        for (int batch = 0; batch < batches; batch++)
        {
            for (int i = 0; i < BATCH; i++)
            {
                final long offset = (long)((batch * BATCH + i) % FILE_BLOCKS) * BLOCK_ALIGNMENT_BYTES;
                ring.prepareWrite(fd, pool.address(i), BLOCK_ALIGNMENT_BYTES, offset, i, false);
            }
            ring.submit();
            int reaped = 0;
            while (reaped < BATCH)
            {
                reaped += ring.reap(handler, BATCH - reaped);
            }
        }
    }
}
