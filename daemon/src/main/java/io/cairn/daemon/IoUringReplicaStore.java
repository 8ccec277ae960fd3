package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.BlockIndex;
import io.cairn.replication.ReplicaStore;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * {@link ReplicaStore} over the {@link DiskIoAgent}s of an extent node; the proxy side, used only by the
 * replication thread.
 * <p>
 * It owns the extents' metadata (which disk, descriptor, commit length, end offset, block index) and a
 * free list of each disk's {@link IoCommand}s. A write encodes the block straight into a command's aligned
 * buffer (the payload's one copy), then offers the command to the disk's bounded queue; completions come
 * back on a second queue. Both queues hold every command of the disk, so an offer fails only if an
 * invariant broke; failed offers are counted anyway.
 */
public final class IoUringReplicaStore implements ReplicaStore
{
    /** Most extent deletes in progress at once (each takes one command of every disk). */
    public static final int MAX_DELETES_IN_FLIGHT = 8;

    /** Receives a finished delete. */
    @FunctionalInterface
    public interface DeleteHandler
    {
        /**
         * @param extentId       the extent.
         * @param ok             whether every disk deleted its file (or had none).
         * @param reclaimedBytes bytes of the files deleted.
         */
        void onDeleted(long extentId, boolean ok, long reclaimedBytes);
    }

    private final DiskIoAgent[] disks;
    private final Path[] dataDirs;
    private final IoCommand[][] freeCommands;
    private final int[] freeCount;
    private final long extentSizeBytes;
    private final int maxPayloadBytes;
    private final Long2ObjectHashMap<Extent> extents = new Long2ObjectHashMap<>();
    private final CRC32C crc = new CRC32C();
    private final AtomicLong failedOffers = new AtomicLong();
    private final long[] deletedIds = new long[MAX_DELETES_IN_FLIGHT];
    private final boolean[] deletedOk = new boolean[MAX_DELETES_IN_FLIGHT];
    private final long[] deletedBytes = new long[MAX_DELETES_IN_FLIGHT];
    private int deletedCount;
    private int deletesInFlight;
    private int nextDisk;
    private boolean noDiskReported;

    /**
     * @param disks           one agent per data directory, not yet started.
     * @param dataDirs        the data directories, in the same order.
     * @param extentSizeBytes size limit of new extents.
     * @param maxPayloadBytes largest payload of one block (the disks' buffers hold one largest block).
     * @param recovered       extents found at start.
     */
    public IoUringReplicaStore(
        final DiskIoAgent[] disks,
        final Path[] dataDirs,
        final long extentSizeBytes,
        final int maxPayloadBytes,
        final List<RecoveredExtent> recovered)
    {
        this.disks = disks;
        this.dataDirs = dataDirs;
        this.extentSizeBytes = extentSizeBytes;
        this.maxPayloadBytes = maxPayloadBytes;
        freeCommands = new IoCommand[disks.length][];
        freeCount = new int[disks.length];
        for (int d = 0; d < disks.length; d++)
        {
            freeCommands[d] = disks[d].commands().clone();
            freeCount[d] = freeCommands[d].length;
        }
        for (final RecoveredExtent r : recovered)
        {
            final Extent extent = new Extent(r.extentId(), r.streamId(), r.diskIndex(), r.sizeBytes(), r.index());
            extent.fd = r.fd();
            extent.commitLength = r.commitLength();
            extent.endOffset = r.commitLength();
            extent.durableEnd = r.commitLength();
            extent.epoch = r.state().epoch;
            extent.sealed = r.sealed();
            extent.corruptFrom = r.corruptFrom();
            extent.corruptTo = r.corruptTo();
            extents.put(r.extentId(), extent);
        }
    }

    /**
     * @param extentId extent.
     * @return whether it is sealed.
     */
    public boolean isSealed(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null != extent && extent.sealed;
    }

    /**
     * @return offers to a disk queue that failed (always 0 unless an invariant broke).
     */
    public long failedOffers()
    {
        return failedOffers.get();
    }

    /** {@inheritDoc} */
    public long extentSizeBytes()
    {
        return extentSizeBytes;
    }

    /** {@inheritDoc} */
    public long commitLength(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null == extent || extent.creating || extent.deleting ? NO_EXTENT : extent.commitLength;
    }

    /** {@inheritDoc} */
    public long durableEnd(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null == extent ? NO_EXTENT : extent.durableEnd;
    }

    /** {@inheritDoc} */
    public long endOffset(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null == extent || extent.creating || extent.deleting ? NO_EXTENT : extent.endOffset;
    }

    /** {@inheritDoc} */
    public NodeStatus submitCreate(final long extentId, final long streamId, final long token)
    {
        Extent extent = extents.get(extentId);
        if (null != extent && extent.deleting)
        {
            return NodeStatus.BUSY; // its file is being deleted; a retry creates it afresh
        }
        if (null != extent && extent.streamId != streamId)
        {
            return NodeStatus.BAD_REQUEST;
        }
        final int disk = null != extent ? extent.diskIndex : chooseDisk();
        if (disk < 0)
        {
            return NodeStatus.IO_ERROR;
        }
        final IoCommand command = acquire(disk);
        if (null == command)
        {
            return NodeStatus.BUSY;
        }
        if (null != extent)
        {
            // Through the queue even though nothing is written: completions must stay in submission order.
            command.reset(IoCommand.OPEN_EXISTING, token, extentId);
            command.fd = extent.fd;
            return offer(command);
        }
        nextDisk = (disk + 1) % disks.length;
        extent = new Extent(extentId, streamId, disk, extentSizeBytes, new BlockIndex(256));
        extent.creating = true;
        extent.epoch = 1;
        extents.put(extentId, extent);
        command.reset(IoCommand.CREATE, token, extentId);
        command.path = ExtentFiles.path(dataDirs[disk], extentId);
        command.streamId = streamId;
        command.extentSizeBytes = extentSizeBytes;
        return offer(command);
    }

    /** Round robin over the disks that take new extents (not full, not failed); -1 when none does. */
    private int chooseDisk()
    {
        for (int i = 0; i < disks.length; i++)
        {
            final int d = (nextDisk + i) % disks.length;
            if (disks[d].diskState() == DiskIoAgent.STATE_OK)
            {
                return d;
            }
        }
        if (!noDiskReported)
        {
            noDiskReported = true;
            System.err.println("cairn-node: no data directory takes new extents (every disk is full or failed)");
        }
        return -1;
    }

    /** {@inheritDoc} */
    public NodeStatus submitWrite(
        final long extentId,
        final long blockOffset,
        final int recordFlags,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLengthBytes,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLengthBytes,
        final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent || extent.creating || extent.deleting)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (extent.sealed || extent.sealing)
        {
            return NodeStatus.SEALED;
        }
        if (extent.failed)
        {
            return extent.failedStatus;
        }
        if (disks[extent.diskIndex].diskState() == DiskIoAgent.STATE_FAILED)
        {
            return NodeStatus.IO_ERROR;
        }
        if (payloadLengthBytes <= 0 || payloadLengthBytes > maxPayloadBytes ||
            !BlockFormat.validFraming(recordFlags, metadataLengthBytes))
        {
            return NodeStatus.BAD_REQUEST;
        }
        if (blockOffset != extent.endOffset)
        {
            return NodeStatus.WRONG_OFFSET;
        }
        final int blockLength = BlockFormat.blockLengthBytes(payloadLengthBytes);
        if (blockOffset + blockLength > extent.sizeBytes)
        {
            return NodeStatus.EXTENT_FULL;
        }
        final IoCommand command = acquire(extent.diskIndex);
        if (null == command)
        {
            return NodeStatus.BUSY;
        }
        command.reset(IoCommand.WRITE, token, extentId);
        command.fd = extent.fd;
        command.blockOffset = blockOffset;
        command.blockLengthBytes = BlockFormat.encodeBlock(command.byteBuffer, command.view, crc, extentId, blockOffset,
            extent.epoch, recordFlags, metadata, metadataOffset, metadataLengthBytes, payload, payloadOffset,
            payloadLengthBytes);
        command.payloadLengthBytes = payloadLengthBytes;
        command.recordFlags = recordFlags;
        extent.endOffset = blockOffset + blockLength;
        final NodeStatus offered = offer(command);
        extent.ioInFlight += offered == NodeStatus.OK ? 1 : 0;
        return offered;
    }

    /** {@inheritDoc} */
    public NodeStatus submitRead(final long extentId, final long blockOffset, final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent || extent.creating || extent.deleting)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (blockOffset == extent.commitLength)
        {
            return NodeStatus.END_OF_EXTENT;
        }
        if (blockOffset >= extent.corruptFrom && blockOffset < extent.corruptTo && extent.corruptFrom >= 0 &&
            extent.index.payloadLength(blockOffset) < 0)
        {
            // Below a durable checkpoint but past an unreadable block header: acknowledged data that is damaged.
            disks[extent.diskIndex].counters().corruptBlocks.increment();
            return NodeStatus.CORRUPT;
        }
        final int payloadLength = blockOffset > extent.commitLength ? -1 : extent.index.payloadLength(blockOffset);
        if (payloadLength < 0)
        {
            return NodeStatus.OUT_OF_RANGE;
        }
        if (payloadLength > maxPayloadBytes)
        {
            // Only an unverified header below a checkpoint can claim this: a damaged length field.
            disks[extent.diskIndex].counters().corruptBlocks.increment();
            return NodeStatus.CORRUPT;
        }
        final IoCommand command = acquire(extent.diskIndex);
        if (null == command)
        {
            return NodeStatus.BUSY;
        }
        command.reset(IoCommand.READ, token, extentId);
        command.fd = extent.fd;
        command.blockOffset = blockOffset;
        command.blockLengthBytes = BlockFormat.blockLengthBytes(payloadLength);
        final NodeStatus offered = offer(command);
        extent.ioInFlight += offered == NodeStatus.OK ? 1 : 0;
        return offered;
    }

    /**
     * Deletes an extent's file on every disk (the disk that has it open closes it first; another disk deletes a
     * stray copy, if any). From then on the extent is absent: reads, writes and seals answer NO_SUCH_EXTENT and a
     * create BUSY until the delete finished. Only the caller decides that deleting is safe (the manager's rule).
     *
     * @param extentId the extent.
     * @return OK when submitted (the outcome comes from {@link #pollDeleted(DeleteHandler)}); BUSY when I/O of the
     * extent is in flight, a delete of it is already running, {@link #MAX_DELETES_IN_FLIGHT} are, or a disk has
     * no free command: try again later.
     */
    public NodeStatus submitDelete(final long extentId)
    {
        Extent extent = extents.get(extentId);
        if (null != extent && (extent.deleting || extent.creating || extent.sealing || extent.ioInFlight > 0))
        {
            return NodeStatus.BUSY;
        }
        if (deletesInFlight >= MAX_DELETES_IN_FLIGHT)
        {
            return NodeStatus.BUSY;
        }
        for (int d = 0; d < disks.length; d++)
        {
            if (freeCount[d] == 0)
            {
                return NodeStatus.BUSY;
            }
        }
        if (null == extent)
        {
            extent = new Extent(extentId, 0, -1, 0, null); // absent here: a placeholder that refuses creates
            extents.put(extentId, extent);
        }
        extent.deleting = true;
        extent.deletesPending = disks.length;
        extent.deleteFailed = false;
        extent.reclaimedBytes = 0;
        deletesInFlight++;
        for (int d = 0; d < disks.length; d++)
        {
            final IoCommand command = acquire(d);
            command.reset(IoCommand.DELETE, 0, extentId);
            command.fd = d == extent.diskIndex ? extent.fd : -1;
            command.path = ExtentFiles.path(dataDirs[d], extentId);
            // Each disk's queue holds all its commands: an offer fails only if an invariant broke.
            Verify.verify(offer(command) == NodeStatus.OK, "delete offered to disk", d);
        }
        return NodeStatus.OK;
    }

    /**
     * @param handler receives each delete finished since the last call.
     * @return deletes reported.
     */
    public int pollDeleted(final DeleteHandler handler)
    {
        final int count = deletedCount;
        for (int i = 0; i < count; i++)
        {
            handler.onDeleted(deletedIds[i], deletedOk[i], deletedBytes[i]);
        }
        deletedCount = 0;
        deletesInFlight -= count; // a delete counts against the limit until reported, so the report fits
        return count;
    }

    /** {@inheritDoc} */
    public long ownerRevision(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null == extent ? 0 : extent.ownerRevision;
    }

    /**
     * {@inheritDoc}
     * <p>
     * Held in memory only: the extent's state slot (disk format v2) has no field for it, so a restarted node
     * forgets fences that were not followed by a seal (the seal itself is durable and refuses every writer).
     */
    public void recordOwnerRevision(final long extentId, final long ownerRevision)
    {
        final Extent extent = extents.get(extentId);
        if (null != extent)
        {
            extent.ownerRevision = Math.max(extent.ownerRevision, ownerRevision);
        }
    }

    /** {@inheritDoc} */
    public boolean persistsOwnerRevision()
    {
        return false;
    }

    /** {@inheritDoc} */
    public NodeStatus submitSeal(final long extentId, final long sealedLength, final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent || extent.creating || extent.deleting)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (extent.sealed || extent.sealing)
        {
            return NodeStatus.SEALED;
        }
        if (extent.endOffset != extent.durableEnd)
        {
            return NodeStatus.BUSY;
        }
        if (sealedLength > extent.commitLength || sealedLength < BlockFormat.EXTENT_HEADER_LENGTH_BYTES ||
            (sealedLength != extent.commitLength && extent.index.payloadLength(sealedLength) < 0))
        {
            return NodeStatus.BAD_REQUEST;
        }
        final IoCommand command = acquire(extent.diskIndex);
        if (null == command)
        {
            return NodeStatus.BUSY;
        }
        command.reset(IoCommand.SEAL, token, extentId);
        command.fd = extent.fd;
        command.blockOffset = sealedLength;
        final NodeStatus offered = offer(command);
        extent.sealing = offered == NodeStatus.OK;
        return offered;
    }

    /** {@inheritDoc} */
    public int poll(final Listener listener, final int limit)
    {
        int count = 0;
        for (int d = 0; d < disks.length && count < limit; d++)
        {
            IoCommand command;
            while (count < limit && null != (command = disks[d].completionQueue().poll()))
            {
                count++;
                complete(listener, command);
                freeCommands[d][freeCount[d]++] = command;
            }
        }
        return count;
    }

    /** {@inheritDoc} */
    public void close()
    {
        extents.clear();
    }

    private void complete(final Listener listener, final IoCommand command)
    {
        final Extent extent = extents.get(command.extentId);
        Verify.verify(null != extent, "completion for unknown extent", command.extentId);
        switch (command.kind)
        {
            case IoCommand.CREATE, IoCommand.OPEN_EXISTING -> completeCreate(listener, command, extent);
            case IoCommand.WRITE -> completeWrite(listener, command, extent);
            case IoCommand.SEAL -> completeSeal(listener, command, extent);
            case IoCommand.DELETE -> completeDelete(command, extent);
            default ->
            {
                extent.ioInFlight--;
                final long next = command.blockOffset + command.blockLengthBytes;
                listener.onRead(command.token, command.extentId, command.blockOffset, command.status, command.view,
                    BlockFormat.BLOCK_HEADER_LENGTH_BYTES, command.status == NodeStatus.OK ? command.payloadLengthBytes : 0,
                    next, extent.commitLength);
            }
        }
    }

    private void completeDelete(final IoCommand command, final Extent extent)
    {
        extent.deletesPending--;
        extent.reclaimedBytes += command.reclaimedBytes;
        if (command.status != NodeStatus.OK)
        {
            extent.deleteFailed = true;
            System.err.println("cairn-node: deleting extent " + command.extentId + " on disk " + command.diskIndex +
                " failed: " + command.error);
        }
        if (extent.deletesPending == 0)
        {
            extents.remove(extent.extentId);
            Verify.verify(deletedCount < MAX_DELETES_IN_FLIGHT, "finished deletes within limit", deletedCount);
            deletedIds[deletedCount] = extent.extentId;
            deletedOk[deletedCount] = !extent.deleteFailed;
            deletedBytes[deletedCount] = extent.reclaimedBytes;
            deletedCount++;
        }
    }

    private void completeCreate(final Listener listener, final IoCommand command, final Extent extent)
    {
        if (command.kind == IoCommand.CREATE)
        {
            if (command.status == NodeStatus.OK)
            {
                extent.fd = command.fd;
                extent.creating = false;
            }
            else
            {
                extents.remove(command.extentId);
                System.err.println("cairn-node: creating extent " + command.extentId + " failed: " + command.error);
            }
        }
        listener.onCreated(command.token, command.extentId, command.status,
            command.status == NodeStatus.OK ? extent.commitLength : NO_EXTENT);
    }

    private void completeSeal(final Listener listener, final IoCommand command, final Extent extent)
    {
        if (command.status == NodeStatus.OK)
        {
            extent.sealed = true;
            extent.commitLength = command.blockOffset;
        }
        else
        {
            System.err.println("cairn-node: sealing extent " + command.extentId + " failed: " + command.error);
        }
        extent.sealing = false;
        extent.endOffset = extent.commitLength;
        extent.durableEnd = extent.commitLength;
        extent.index.truncate(extent.commitLength);
        listener.onSealed(command.token, command.extentId, command.status, extent.commitLength);
    }

    private void completeWrite(final Listener listener, final IoCommand command, final Extent extent)
    {
        extent.ioInFlight--;
        final long next = command.blockOffset + command.blockLengthBytes;
        if (command.status == NodeStatus.OK && !extent.failed)
        {
            Verify.verify(command.blockOffset == extent.durableEnd, "write completed out of order",
                command.blockOffset, extent.durableEnd);
            extent.durableEnd = next;
            extent.index.add(command.blockOffset, command.payloadLengthBytes);
            if ((command.recordFlags & BlockFormat.RECORD_LAST) != 0)
            {
                extent.commitLength = next;
            }
        }
        else if (!extent.failed)
        {
            // The extent stops taking writes: its end is no longer known to be contiguous on disk.
            extent.failed = true;
            extent.failedStatus = command.status == NodeStatus.OK ? NodeStatus.IO_ERROR : command.status;
            System.err.println("cairn-node: write to extent " + command.extentId + " at " + command.blockOffset +
                " failed: " + command.error);
        }
        listener.onWritten(command.token, command.extentId, command.blockOffset,
            extent.failed ? extent.failedStatus : NodeStatus.OK, next, extent.commitLength);
    }

    private IoCommand acquire(final int disk)
    {
        return freeCount[disk] == 0 ? null : freeCommands[disk][--freeCount[disk]];
    }

    private NodeStatus offer(final IoCommand command)
    {
        if (!disks[command.diskIndex].submitQueue().offer(command))
        {
            failedOffers.incrementAndGet();
            freeCommands[command.diskIndex][freeCount[command.diskIndex]++] = command;
            return NodeStatus.BUSY;
        }
        return NodeStatus.OK;
    }

    private static final class Extent
    {
        final long extentId;
        final long streamId;
        final int diskIndex;
        final long sizeBytes;
        final BlockIndex index;
        int fd = -1;
        long commitLength = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        long endOffset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        /** End of the durable blocks; the commit length lags it while a record's blocks are being written. */
        long durableEnd = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        boolean creating;
        boolean failed;
        NodeStatus failedStatus = NodeStatus.IO_ERROR;
        boolean sealed;
        boolean sealing;
        long ownerRevision;
        /** Reads and writes offered and not yet completed: a delete waits for 0. */
        int ioInFlight;
        boolean deleting;
        int deletesPending;
        boolean deleteFailed;
        long reclaimedBytes;
        int epoch;
        long corruptFrom = -1;
        long corruptTo = -1;

        Extent(final long extentId, final long streamId, final int diskIndex, final long sizeBytes, final BlockIndex index)
        {
            this.extentId = extentId;
            this.streamId = streamId;
            this.diskIndex = diskIndex;
            this.sizeBytes = sizeBytes;
            this.index = index;
        }
    }
}
