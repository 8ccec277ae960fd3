package io.cairn.daemon;

import io.cairn.replication.Verify;
import io.cairn.replication.metrics.LatencyHistogram;
import io.cairn.replication.metrics.Metric;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * The counters of one disk, allocated at start; in the node they live in the media driver's CnC file, so
 * {@code cairn-node stat} (see {@link DiskStat}) reads them from another process while the node runs.
 * <p>
 * Written by the disk's {@link DiskIoAgent} with release stores (single writer), except {@link #corruptBlocks}
 * and {@link #ioErrors}, which the store's thread also bumps, and the repair counters ({@link #scrubRepairedBlocks},
 * {@link #repairFailures}, {@link #repairQueueDrops}), which the repair worker and the producers of repair requests
 * bump: those use atomic increments.
 */
public final class DiskCounters implements AutoCloseable
{
    /** First Cairn counter type id; ids below 1000 belong to Aeron. */
    public static final int TYPE_ID_BASE = 4200;

    /** What each counter is: its type id is {@code TYPE_ID_BASE + ordinal}. */
    public enum Kind
    {
        /** Bytes written (blocks and header pages). */
        BYTES_WRITTEN,
        /** Blocks written and made durable. */
        BLOCKS_WRITTEN,
        /** Bytes read. */
        BYTES_READ,
        /** Blocks read and verified. */
        BLOCKS_READ,
        /** fdatasync calls completed. */
        FSYNCS,
        /** Batches submitted. */
        BATCHES,
        /** Commands taken by all batches (divide by BATCHES for the mean batch size). */
        BATCHED_COMMANDS,
        /** Largest batch so far. */
        MAX_BATCH,
        /** Commands queued for the disk when the last batch started. */
        QUEUE_DEPTH,
        /** I/O errors (write, read, fdatasync, fallocate, open). */
        IO_ERRORS,
        /** Blocks found corrupt (on read, at recovery, by the scrubber). */
        CORRUPT_BLOCKS,
        /** Checkpoints written (header page state slots). */
        CHECKPOINTS,
        /** Preallocation steps (fallocate). */
        PREALLOCATIONS,
        /** Disk state: 0 OK, 1 FULL (read-only for new extents and growth), 2 FAILED. */
        DISK_STATE,
        /** Bytes the scrubber read back from sealed extents. */
        SCRUBBED_BYTES,
        /** Blocks the scrubber verified good. */
        SCRUBBED_BLOCKS,
        /** Distinct bad blocks the scrubber found (each also counts in CORRUPT_BLOCKS once). */
        SCRUB_BAD_BLOCKS,
        /** Completed scrubber passes over every sealed extent of the disk. */
        SCRUB_PASSES,
        /** Bad blocks of sealed extents rewritten from a good replica and verified (see BlockRepairAgent). */
        SCRUB_REPAIRED_BLOCKS,
        /** Repairs that ended without a verified rewrite (no good copy, refused copy, I/O error, ...). */
        REPAIR_FAILURES,
        /** Repair requests dropped because the repair queue was full (the scrubber finds the block again). */
        REPAIR_QUEUE_DROPS,
        /** Extent files deleted (garbage and orphan extents). */
        EXTENTS_DELETED,
        /** Bytes of the extent files deleted. */
        RECLAIMED_BYTES,
        /** Block writes that went out inside one gathered RWF_DSYNC write (group commit, see DiskIoAgent). */
        GROUPED_WRITES
    }

    static
    {
        // Each kind is exported as the metric with its type id (docs/operating/metrics.md lists them).
        for (final Kind kind : Kind.values())
        {
            final Metric metric = Metric.byTypeId(TYPE_ID_BASE + kind.ordinal());
            Verify.verify(null != metric && metric.name().startsWith("DISK_"), "disk counter without its metric",
                kind.ordinal());
        }
    }

    /** {@link Kind#DISK_STATE} value. */
    public static final int STATE_OK = 0;
    /** {@link Kind#DISK_STATE} value. */
    public static final int STATE_FULL = 1;
    /** {@link Kind#DISK_STATE} value. */
    public static final int STATE_FAILED = 2;

    /** Allocates one counter. */
    @FunctionalInterface
    public interface Allocator
    {
        /**
         * @param typeId counter type id.
         * @param label  label.
         * @return the counter.
         */
        AtomicCounter allocate(int typeId, String label);
    }

    final AtomicCounter bytesWritten;
    final AtomicCounter blocksWritten;
    final AtomicCounter bytesRead;
    final AtomicCounter blocksRead;
    final AtomicCounter fsyncs;
    final AtomicCounter batches;
    final AtomicCounter batchedCommands;
    final AtomicCounter maxBatch;
    final AtomicCounter queueDepth;
    final AtomicCounter ioErrors;
    final AtomicCounter corruptBlocks;
    final AtomicCounter checkpoints;
    final AtomicCounter preallocations;
    final AtomicCounter diskState;
    final AtomicCounter scrubbedBytes;
    final AtomicCounter scrubbedBlocks;
    final AtomicCounter scrubBadBlocks;
    final AtomicCounter scrubPasses;
    final AtomicCounter scrubRepairedBlocks;
    final AtomicCounter repairFailures;
    final AtomicCounter repairQueueDrops;
    final AtomicCounter extentsDeleted;
    final AtomicCounter reclaimedBytes;
    final AtomicCounter groupedWrites;
    /** A block write's submission to the covering fdatasync's completion (recorded by the disk agent only). */
    final LatencyHistogram writeDurableLatency;
    /** One fdatasync's submission to its completion (recorded by the disk agent only). */
    final LatencyHistogram syncLatency;
    private final AtomicCounter[] all;

    /**
     * @param allocator where the counters live.
     * @param nodeId    node id, in the labels.
     * @param diskIndex disk index, in the labels.
     * @param dir       the data directory, in the labels.
     */
    public DiskCounters(final Allocator allocator, final int nodeId, final int diskIndex, final String dir)
    {
        final Kind[] kinds = Kind.values();
        all = new AtomicCounter[kinds.length];
        for (int i = 0; i < kinds.length; i++)
        {
            all[i] = allocator.allocate(TYPE_ID_BASE + i, label(nodeId, diskIndex, kinds[i], dir));
        }
        bytesWritten = all[Kind.BYTES_WRITTEN.ordinal()];
        blocksWritten = all[Kind.BLOCKS_WRITTEN.ordinal()];
        bytesRead = all[Kind.BYTES_READ.ordinal()];
        blocksRead = all[Kind.BLOCKS_READ.ordinal()];
        fsyncs = all[Kind.FSYNCS.ordinal()];
        batches = all[Kind.BATCHES.ordinal()];
        batchedCommands = all[Kind.BATCHED_COMMANDS.ordinal()];
        maxBatch = all[Kind.MAX_BATCH.ordinal()];
        queueDepth = all[Kind.QUEUE_DEPTH.ordinal()];
        ioErrors = all[Kind.IO_ERRORS.ordinal()];
        corruptBlocks = all[Kind.CORRUPT_BLOCKS.ordinal()];
        checkpoints = all[Kind.CHECKPOINTS.ordinal()];
        preallocations = all[Kind.PREALLOCATIONS.ordinal()];
        diskState = all[Kind.DISK_STATE.ordinal()];
        scrubbedBytes = all[Kind.SCRUBBED_BYTES.ordinal()];
        scrubbedBlocks = all[Kind.SCRUBBED_BLOCKS.ordinal()];
        scrubBadBlocks = all[Kind.SCRUB_BAD_BLOCKS.ordinal()];
        scrubPasses = all[Kind.SCRUB_PASSES.ordinal()];
        scrubRepairedBlocks = all[Kind.SCRUB_REPAIRED_BLOCKS.ordinal()];
        repairFailures = all[Kind.REPAIR_FAILURES.ordinal()];
        repairQueueDrops = all[Kind.REPAIR_QUEUE_DROPS.ordinal()];
        extentsDeleted = all[Kind.EXTENTS_DELETED.ordinal()];
        reclaimedBytes = all[Kind.RECLAIMED_BYTES.ordinal()];
        groupedWrites = all[Kind.GROUPED_WRITES.ordinal()];
        final String labels = "node=" + nodeId + " disk=" + diskIndex + " dir=" + dir;
        writeDurableLatency = new LatencyHistogram(allocator::allocate, Metric.DISK_WRITE_DURABLE_LATENCY, labels);
        syncLatency = new LatencyHistogram(allocator::allocate, Metric.DISK_SYNC_LATENCY, labels);
    }

    /**
     * The label format that {@link DiskStat} parses: {@code cairn node=N disk=D kind=K dir=PATH}.
     *
     * @param nodeId    node.
     * @param diskIndex disk.
     * @param kind      counter.
     * @param dir       data directory.
     * @return the label.
     */
    public static String label(final int nodeId, final int diskIndex, final Kind kind, final String dir)
    {
        return "cairn node=" + nodeId + " disk=" + diskIndex + " kind=" + kind.name().toLowerCase() + " dir=" + dir;
    }

    /**
     * @param kind which.
     * @return its current value.
     */
    public long get(final Kind kind)
    {
        return all[kind.ordinal()].get();
    }

    /** @return write-to-durable latency. */
    public LatencyHistogram writeDurableLatency()
    {
        return writeDurableLatency;
    }

    /** @return fdatasync latency. */
    public LatencyHistogram syncLatency()
    {
        return syncLatency;
    }

    /**
     * Free the counters.
     */
    public void close()
    {
        for (final AtomicCounter counter : all)
        {
            counter.close();
        }
        writeDurableLatency.close();
        syncLatency.close();
    }
}
