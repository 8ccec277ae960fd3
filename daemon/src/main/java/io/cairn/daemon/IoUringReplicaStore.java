package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.BlockIndex;
import io.cairn.replication.NodeProtocol;
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
    private final DiskIoAgent[] disks;
    private final Path[] dataDirs;
    private final IoCommand[][] freeCommands;
    private final int[] freeCount;
    private final long extentSizeBytes;
    private final Long2ObjectHashMap<Extent> extents = new Long2ObjectHashMap<>();
    private final CRC32C crc = new CRC32C();
    private final AtomicLong failedOffers = new AtomicLong();
    private int nextDisk;

    /**
     * @param disks           one agent per data directory, not yet started.
     * @param dataDirs        the data directories, in the same order.
     * @param extentSizeBytes size limit of new extents.
     * @param recovered       extents found at start.
     */
    public IoUringReplicaStore(
        final DiskIoAgent[] disks, final Path[] dataDirs, final long extentSizeBytes, final List<RecoveredExtent> recovered)
    {
        this.disks = disks;
        this.dataDirs = dataDirs;
        this.extentSizeBytes = extentSizeBytes;
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
            extents.put(r.extentId(), extent);
        }
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
        return null == extent || extent.creating ? NO_EXTENT : extent.commitLength;
    }

    /** {@inheritDoc} */
    public long endOffset(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null == extent || extent.creating ? NO_EXTENT : extent.endOffset;
    }

    /** {@inheritDoc} */
    public NodeStatus submitCreate(final long extentId, final long streamId, final long token)
    {
        Extent extent = extents.get(extentId);
        if (null != extent && extent.streamId != streamId)
        {
            return NodeStatus.BAD_REQUEST;
        }
        final int disk = null != extent ? extent.diskIndex : nextDisk;
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
        nextDisk = (nextDisk + 1) % disks.length;
        extent = new Extent(extentId, streamId, disk, extentSizeBytes, new BlockIndex(256));
        extent.creating = true;
        extents.put(extentId, extent);
        command.reset(IoCommand.CREATE, token, extentId);
        command.path = ExtentFiles.path(dataDirs[disk], extentId);
        BlockFormat.encodeExtentHeader(command.byteBuffer, command.view, crc, extentId, streamId, extentSizeBytes);
        return offer(command);
    }

    /** {@inheritDoc} */
    public NodeStatus submitWrite(
        final long extentId,
        final long blockOffset,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLengthBytes,
        final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent || extent.creating)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (extent.failed)
        {
            return NodeStatus.IO_ERROR;
        }
        if (payloadLengthBytes <= 0 || payloadLengthBytes > NodeProtocol.MAX_PAYLOAD_BYTES)
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
            payload, payloadOffset, payloadLengthBytes);
        command.payloadLengthBytes = payloadLengthBytes;
        extent.endOffset = blockOffset + blockLength;
        return offer(command);
    }

    /** {@inheritDoc} */
    public NodeStatus submitRead(final long extentId, final long blockOffset, final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent || extent.creating)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (blockOffset == extent.commitLength)
        {
            return NodeStatus.END_OF_EXTENT;
        }
        final int payloadLength = blockOffset > extent.commitLength ? -1 : extent.index.payloadLength(blockOffset);
        if (payloadLength < 0)
        {
            return NodeStatus.OUT_OF_RANGE;
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
        return offer(command);
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
            default ->
            {
                final long next = command.blockOffset + command.blockLengthBytes;
                listener.onRead(command.token, command.extentId, command.blockOffset, command.status, command.view,
                    BlockFormat.BLOCK_HEADER_LENGTH_BYTES, command.status == NodeStatus.OK ? command.payloadLengthBytes : 0,
                    next, extent.commitLength);
            }
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

    private void completeWrite(final Listener listener, final IoCommand command, final Extent extent)
    {
        final long next = command.blockOffset + command.blockLengthBytes;
        if (command.status == NodeStatus.OK && !extent.failed)
        {
            Verify.verify(command.blockOffset == extent.commitLength, "write completed out of order",
                command.blockOffset, extent.commitLength);
            extent.commitLength = next;
            extent.index.add(command.blockOffset, command.payloadLengthBytes);
        }
        else if (!extent.failed)
        {
            // The extent stops taking writes: its end is no longer known to be contiguous on disk.
            extent.failed = true;
            System.err.println("cairn-node: write to extent " + command.extentId + " at " + command.blockOffset +
                " failed: " + command.error);
        }
        listener.onWritten(command.token, command.extentId, command.blockOffset,
            extent.failed ? NodeStatus.IO_ERROR : NodeStatus.OK, next, extent.commitLength);
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
        boolean creating;
        boolean failed;

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
