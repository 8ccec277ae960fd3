package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.ReplicaStore;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proves that the write and read paths allocate nothing per block: the store (replication side) and the disk
 * agent run on this thread over the real io_uring engine and O_DIRECT files, and the thread's allocated-bytes
 * counter must not move across a steady-state loop of pipelined writes (with checkpoints and preallocation
 * steps inside the loop), reads of those blocks, and scrubber passes; with registered (fixed) buffers.
 * <p>
 * The one allocation the store still makes on these paths is the block index of an extent growing by
 * doubling (amortised, once per doubling of the extent's block count, not per block); the measured windows
 * stay inside one capacity so that they do not count it.
 * <p>
 * The loop is measured in {@link #WINDOWS} consecutive windows and one of them must allocate nothing. An
 * allocation per block shows in every window; what shows in one window only is the JVM's own one-off work on
 * this thread (a deoptimisation re-materialising objects, a class initialised late on a slow host: CI once saw
 * 512 bytes in a single window), which is not the path under test.
 */
class DiskAllocationTest
{
    static final long WARM_EXTENT = 11;
    static final long MEASURED_EXTENT = 12;
    static final long SEALED_EXTENT = 13;
    static final int QUEUE_DEPTH = 8;
    static final int PAYLOAD_BYTES = 3000;
    static final int WARM_UP_ROUNDS = 400;
    /** Blocks written to the measured extent before measuring: its index (256 initially) has grown to 1024. */
    static final int MEASURED_PRE_WRITES = 520;
    /** Measured windows; one must allocate nothing. */
    static final int WINDOWS = 3;
    /** Measured blocks per window: 520 + 3 x 160 < 1024, so the index does not grow inside a window. */
    static final int MEASURED_WRITES = 160;

    private static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

    Path dataDir;
    DiskIoAgent disk;
    IoUringReplicaStore store;
    final CountingListener listener = new CountingListener();
    final UnsafeBuffer payload = new UnsafeBuffer(new byte[PAYLOAD_BYTES]);

    @BeforeEach
    void setUp() throws IOException
    {
        dataDir = Path.of("target", "test-data", "alloc-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir);
        final var recovered = ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0,
            new PrintStream(new ByteArrayOutputStream()));
        // Small preallocation steps and checkpoint interval so that both happen inside the measured loop.
        final DiskIoAgent.Config config = new DiskIoAgent.Config(QUEUE_DEPTH * 2, BlockFormat.MAX_BLOCK_LENGTH_BYTES, 64, 64,
            8L * 1024 * 1024, 256L * 1024, 128L * 1024).withScrub(64L * 1024 * 1024).withRing(true, false, -1);
        disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE, TestCounters.counters(0), config, recovered);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, 16L * 1024 * 1024,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
    }

    @AfterEach
    void tearDown() throws IOException
    {
        store.close();
        disk.onClose();
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void steadyStateWritesReadsAndScrubsAllocateNothing() throws Exception
    {
        payload.setMemory(0, PAYLOAD_BYTES, (byte)7);
        create(WARM_EXTENT);
        create(MEASURED_EXTENT);
        create(SEALED_EXTENT);
        writeBatch(SEALED_EXTENT, QUEUE_DEPTH);
        final int before = listener.count;
        assertEquals(NodeStatus.OK, store.submitSeal(SEALED_EXTENT, store.commitLength(SEALED_EXTENT), 3));
        await(before + 1);
        assertEquals(NodeStatus.OK, listener.lastStatus);

        // Warm-up: enough rounds for the JIT to compile the loop's code paths.
        for (int round = 0; round < WARM_UP_ROUNDS; round++)
        {
            final long from = store.commitLength(WARM_EXTENT);
            writeBatch(WARM_EXTENT, QUEUE_DEPTH);
            readBatch(WARM_EXTENT, from, QUEUE_DEPTH);
        }
        for (int i = 0; i < MEASURED_PRE_WRITES / QUEUE_DEPTH; i++)
        {
            writeBatch(MEASURED_EXTENT, QUEUE_DEPTH);
        }
        final long checkpointsBefore = disk.counters().get(DiskCounters.Kind.CHECKPOINTS);
        final long preallocationsBefore = disk.counters().get(DiskCounters.Kind.PREALLOCATIONS);
        final long scrubbedBefore = disk.counters().get(DiskCounters.Kind.SCRUBBED_BLOCKS);
        final long blocksBefore = disk.counters().get(DiskCounters.Kind.BLOCKS_WRITTEN);
        final long readsBefore = disk.counters().get(DiskCounters.Kind.BLOCKS_READ);

        final long calibrateStart = THREADS.getCurrentThreadAllocatedBytes();
        final long calibrateEnd = THREADS.getCurrentThreadAllocatedBytes();
        final long[] allocated = new long[WINDOWS];
        long minAllocated = Long.MAX_VALUE;
        for (int window = 0; window < WINDOWS; window++)
        {
            final long start = THREADS.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < MEASURED_WRITES / QUEUE_DEPTH; i++)
            {
                final long from = store.commitLength(MEASURED_EXTENT);
                writeBatch(MEASURED_EXTENT, QUEUE_DEPTH);
                readBatch(MEASURED_EXTENT, from, QUEUE_DEPTH);
            }
            allocated[window] = THREADS.getCurrentThreadAllocatedBytes() - start - (calibrateEnd - calibrateStart);
            minAllocated = Math.min(minAllocated, allocated[window]);
        }

        final long blocks = disk.counters().get(DiskCounters.Kind.BLOCKS_WRITTEN) - blocksBefore;
        assertEquals((long)WINDOWS * MEASURED_WRITES, blocks, "blocks written in the windows");
        assertEquals((long)WINDOWS * MEASURED_WRITES, disk.counters().get(DiskCounters.Kind.BLOCKS_READ) - readsBefore,
            "blocks read in the windows");
        assertTrue(disk.counters().get(DiskCounters.Kind.CHECKPOINTS) - checkpointsBefore >= WINDOWS,
            "a checkpoint in every window");
        assertTrue(disk.counters().get(DiskCounters.Kind.PREALLOCATIONS) - preallocationsBefore >= WINDOWS,
            "a preallocation step in every window");
        assertTrue(disk.counters().get(DiskCounters.Kind.SCRUBBED_BLOCKS) > scrubbedBefore,
            "the scrubber ran while measuring");
        assertEquals(0, minAllocated, "bytes allocated per window of " + MEASURED_WRITES + " writes and reads: " +
            java.util.Arrays.toString(allocated) + " (none allocation-free: an allocation per block)");
    }

    private void create(final long extentId) throws Exception
    {
        final int before = listener.count;
        assertEquals(NodeStatus.OK, store.submitCreate(extentId, 5, 0));
        await(before + 1);
        assertEquals(NodeStatus.OK, listener.lastStatus);
    }

    private void writeBatch(final long extentId, final int count) throws Exception
    {
        final int before = listener.count;
        long offset = store.endOffset(extentId);
        for (int i = 0; i < count; i++)
        {
            check(store.submitWrite(extentId, offset, payload, 0, PAYLOAD_BYTES, i));
            offset += BlockFormat.blockLengthBytes(PAYLOAD_BYTES);
        }
        await(before + count);
        check(listener.lastStatus);
        check(listener.failures == 0 ? NodeStatus.OK : NodeStatus.IO_ERROR);
    }

    private void readBatch(final long extentId, final long from, final int count) throws Exception
    {
        final int before = listener.count;
        long offset = from;
        for (int i = 0; i < count; i++)
        {
            check(store.submitRead(extentId, offset, i));
            offset += BlockFormat.blockLengthBytes(PAYLOAD_BYTES);
        }
        await(before + count);
        check(listener.failures == 0 ? NodeStatus.OK : NodeStatus.CORRUPT);
    }

    /** Allocation-free check: a failure message is built only when it fails. */
    private static void check(final NodeStatus status)
    {
        if (status != NodeStatus.OK)
        {
            throw new AssertionError("status " + status);
        }
    }

    private void await(final int count) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (listener.count < count)
        {
            if (disk.doWork() + store.poll(listener, 64) == 0)
            {
                if (System.nanoTime() - deadlineNs > 0)
                {
                    throw new AssertionError("timed out waiting for completions");
                }
                Thread.onSpinWait();
            }
        }
    }

    /** Counts completions without allocating. */
    static final class CountingListener implements ReplicaStore.Listener
    {
        int count;
        int failures;
        NodeStatus lastStatus;
        long checksum;

        public void onCreated(final long token, final long extentId, final NodeStatus status, final long commitLength)
        {
            count++;
            lastStatus = status;
        }

        public void onWritten(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final long nextOffset, final long commitLength)
        {
            count++;
            lastStatus = status;
            failures += status == NodeStatus.OK ? 0 : 1;
        }

        public void onRead(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final DirectBuffer payload, final int payloadOffset, final int payloadLengthBytes, final long nextOffset,
            final long commitLength)
        {
            count++;
            lastStatus = status;
            failures += status == NodeStatus.OK && payloadLengthBytes == PAYLOAD_BYTES ? 0 : 1;
            checksum += payload.getByte(payloadOffset + payloadLengthBytes - 1);
        }

        public void onSealed(final long token, final long extentId, final NodeStatus status, final long commitLength)
        {
            count++;
            lastStatus = status;
        }
    }
}
