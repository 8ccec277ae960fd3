package io.cairn.replication;

import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.zip.CRC32C;

/**
 * A {@link ReplicaStore} in memory, for deterministic tests of the protocol and for clients' tests.
 * <p>
 * Blocks are encoded in the real {@link BlockFormat} into a per-extent memory image when submitted and
 * become durable (committed) when {@link #poll} delivers their completion, so tests can hold completions
 * back ({@link #holdCompletions}) to model a slow disk, fail writes, or corrupt a stored byte. Test-only:
 * it allocates per operation and per extent.
 */
public final class MemoryReplicaStore implements ReplicaStore
{
    private static final int OP_CREATE = 1;
    private static final int OP_WRITE = 2;
    private static final int OP_READ = 3;
    private static final int OP_SEAL = 4;

    private final long extentSizeBytes;
    private final int maxPendingOps;
    private final Long2ObjectHashMap<Extent> extents = new Long2ObjectHashMap<>();
    private final org.agrona.collections.Long2LongHashMap ownerRevisions = new org.agrona.collections.Long2LongHashMap(0);
    private final ArrayDeque<Op> pending = new ArrayDeque<>();
    private final CRC32C crc = new CRC32C();
    private boolean holdCompletions;
    private boolean failWrites;
    private long writesSubmitted;

    /**
     * @param extentSizeBytes size limit of each extent, a multiple of 4096.
     * @param maxPendingOps   operations in flight before submits answer BUSY.
     */
    public MemoryReplicaStore(final long extentSizeBytes, final int maxPendingOps)
    {
        Verify.verify(extentSizeBytes > BlockFormat.EXTENT_HEADER_LENGTH_BYTES &&
            extentSizeBytes % NodeProtocol.BLOCK_ALIGNMENT_BYTES == 0 && extentSizeBytes <= Integer.MAX_VALUE,
            "extentSizeBytes must be a multiple of 4096 above 4096 and fit in memory", extentSizeBytes);
        this.extentSizeBytes = extentSizeBytes;
        this.maxPendingOps = maxPendingOps;
    }

    /**
     * @param hold true to keep completions back (a slow disk), false to let {@link #poll} deliver them.
     */
    public void holdCompletions(final boolean hold)
    {
        holdCompletions = hold;
    }

    /**
     * @param fail true to make every later write complete with IO_ERROR.
     */
    public void failWrites(final boolean fail)
    {
        failWrites = fail;
    }

    /**
     * Model a crash of the node: operations not yet completed are lost (their writes were never durable), so each
     * extent's end falls back to its durable commit length (recovery cuts a durable partial record at the tail
     * as well). Sealed state, data and owner revisions survive.
     */
    public void crash()
    {
        pending.clear();
        holdCompletions = false;
        for (final Extent extent : extents.values())
        {
            extent.endOffset = extent.commitLength;
            extent.durableEnd = extent.commitLength;
            extent.index.truncate(extent.commitLength);
        }
    }

    /**
     * Flip one stored byte, to model on-disk corruption.
     *
     * @param extentId extent.
     * @param position byte position within the extent.
     */
    public void flipByte(final long extentId, final int position)
    {
        final Extent extent = extents.get(extentId);
        extent.image.putByte(position, (byte)(extent.image.getByte(position) ^ 0x5A));
    }

    /**
     * @param extentId extent.
     * @return a copy of the extent's bytes up to its end offset (for equality checks in tests).
     */
    public byte[] image(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent)
        {
            return new byte[0];
        }
        final byte[] copy = new byte[(int)extent.endOffset];
        extent.image.getBytes(0, copy);
        return copy;
    }

    /**
     * @return number of writes accepted so far.
     */
    public long writesSubmitted()
    {
        return writesSubmitted;
    }

    /**
     * @return operations submitted and not yet completed.
     */
    public int pendingCount()
    {
        return pending.size();
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
        return null == extent ? NO_EXTENT : extent.commitLength;
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
        return null == extent ? NO_EXTENT : extent.endOffset;
    }

    /** {@inheritDoc} */
    public boolean isSealed(final long extentId)
    {
        final Extent extent = extents.get(extentId);
        return null != extent && extent.sealed;
    }

    /** {@inheritDoc} */
    public long ownerRevision(final long extentId)
    {
        return ownerRevisions.get(extentId);
    }

    /** {@inheritDoc} Kept for unknown extents too: a fence may arrive before the extent's creation. */
    public void recordOwnerRevision(final long extentId, final long ownerRevision)
    {
        if (ownerRevision > ownerRevisions.get(extentId))
        {
            ownerRevisions.put(extentId, ownerRevision);
        }
    }

    /** {@inheritDoc} The memory image models a disk: it outlives a conductor restarted over it. */
    public boolean persistsOwnerRevision()
    {
        return true;
    }

    /** {@inheritDoc} */
    public NodeStatus submitCreate(final long extentId, final long streamId, final long token)
    {
        if (pending.size() >= maxPendingOps)
        {
            return NodeStatus.BUSY;
        }
        Extent extent = extents.get(extentId);
        if (null == extent)
        {
            extent = new Extent(extentId, streamId, (int)extentSizeBytes);
            BlockFormat.encodeExtentHeader(extent.byteBuffer, extent.image, crc, extentId, streamId, extentSizeBytes);
            extents.put(extentId, extent);
        }
        else if (extent.streamId != streamId)
        {
            return NodeStatus.BAD_REQUEST;
        }
        pending.add(new Op(OP_CREATE, token, extent, 0, 0, 0));
        return NodeStatus.OK;
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
        if (null == extent)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (extent.sealed)
        {
            return NodeStatus.SEALED;
        }
        if (extent.failed)
        {
            return NodeStatus.IO_ERROR;
        }
        if (payloadLengthBytes <= 0 || payloadLengthBytes > NodeProtocol.MAX_PAYLOAD_BYTES ||
            !BlockFormat.validFraming(recordFlags, metadataLengthBytes))
        {
            return NodeStatus.BAD_REQUEST;
        }
        if (blockOffset != extent.endOffset)
        {
            return NodeStatus.WRONG_OFFSET;
        }
        final int blockLength = BlockFormat.blockLengthBytes(payloadLengthBytes);
        if (blockOffset + blockLength > extentSizeBytes)
        {
            return NodeStatus.EXTENT_FULL;
        }
        if (pending.size() >= maxPendingOps)
        {
            return NodeStatus.BUSY;
        }
        final ByteBuffer slice = extent.byteBuffer.slice((int)blockOffset, blockLength).order(ByteOrder.LITTLE_ENDIAN);
        BlockFormat.encodeBlock(slice, new UnsafeBuffer(slice), crc, extentId, blockOffset, 0, recordFlags, metadata,
            metadataOffset, metadataLengthBytes, payload, payloadOffset, payloadLengthBytes);
        extent.endOffset = blockOffset + blockLength;
        writesSubmitted++;
        pending.add(new Op(OP_WRITE, token, extent, blockOffset, blockLength, payloadLengthBytes, recordFlags));
        return NodeStatus.OK;
    }

    /** {@inheritDoc} */
    public NodeStatus submitRead(final long extentId, final long blockOffset, final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (blockOffset == extent.commitLength)
        {
            return NodeStatus.END_OF_EXTENT;
        }
        final int payloadLength = extent.index.payloadLength(blockOffset);
        if (payloadLength < 0 || blockOffset > extent.commitLength)
        {
            return NodeStatus.OUT_OF_RANGE;
        }
        if (pending.size() >= maxPendingOps)
        {
            return NodeStatus.BUSY;
        }
        pending.add(new Op(OP_READ, token, extent, blockOffset, BlockFormat.blockLengthBytes(payloadLength), 0));
        return NodeStatus.OK;
    }

    /** {@inheritDoc} */
    public NodeStatus submitSeal(final long extentId, final long sealedLength, final long token)
    {
        final Extent extent = extents.get(extentId);
        if (null == extent)
        {
            return NodeStatus.NO_SUCH_EXTENT;
        }
        if (extent.sealed)
        {
            return NodeStatus.SEALED;
        }
        if (extent.endOffset != extent.durableEnd || pending.size() >= maxPendingOps)
        {
            return NodeStatus.BUSY;
        }
        if (sealedLength > extent.commitLength || sealedLength < BlockFormat.EXTENT_HEADER_LENGTH_BYTES ||
            (sealedLength != extent.commitLength && extent.index.payloadLength(sealedLength) < 0))
        {
            return NodeStatus.BAD_REQUEST;
        }
        extent.sealed = true;
        extent.commitLength = sealedLength;
        extent.endOffset = sealedLength;
        extent.durableEnd = sealedLength;
        extent.index.truncate(sealedLength);
        pending.add(new Op(OP_SEAL, token, extent, sealedLength, 0, 0));
        return NodeStatus.OK;
    }

    /** {@inheritDoc} */
    public int poll(final Listener listener, final int limit)
    {
        int count = 0;
        while (!holdCompletions && count < limit && !pending.isEmpty())
        {
            final Op op = pending.poll();
            count++;
            switch (op.kind)
            {
                case OP_CREATE -> listener.onCreated(op.token, op.extent.extentId, NodeStatus.OK, op.extent.commitLength);
                case OP_WRITE -> completeWrite(listener, op);
                case OP_SEAL -> listener.onSealed(op.token, op.extent.extentId, NodeStatus.OK, op.extent.commitLength);
                default -> completeRead(listener, op);
            }
        }
        return count;
    }

    /** {@inheritDoc} */
    public void close()
    {
        extents.clear();
        pending.clear();
    }

    private void completeWrite(final Listener listener, final Op op)
    {
        final Extent extent = op.extent;
        final long next = op.blockOffset + op.blockLength;
        if (failWrites || extent.failed)
        {
            extent.failed = true;
            listener.onWritten(op.token, extent.extentId, op.blockOffset, NodeStatus.IO_ERROR, next, extent.commitLength);
            return;
        }
        Verify.verify(op.blockOffset == extent.durableEnd, "write completed out of order", op.blockOffset);
        extent.durableEnd = next;
        extent.index.add(op.blockOffset, op.payloadLength);
        if ((op.recordFlags & BlockFormat.RECORD_LAST) != 0)
        {
            extent.commitLength = next;
        }
        listener.onWritten(op.token, extent.extentId, op.blockOffset, NodeStatus.OK, next, extent.commitLength);
    }

    private void completeRead(final Listener listener, final Op op)
    {
        final Extent extent = op.extent;
        final ByteBuffer copy = ByteBuffer.allocateDirect(op.blockLength).order(ByteOrder.LITTLE_ENDIAN);
        final UnsafeBuffer view = new UnsafeBuffer(copy);
        extent.image.getBytes((int)op.blockOffset, view, 0, op.blockLength);
        final int payloadLength = BlockFormat.verifyBlock(copy, view, crc, extent.extentId, op.blockOffset, op.blockLength);
        final long next = op.blockOffset + op.blockLength;
        if (payloadLength < 0)
        {
            listener.onRead(op.token, extent.extentId, op.blockOffset, NodeStatus.CORRUPT, view, 0, 0, next,
                extent.commitLength);
        }
        else
        {
            listener.onRead(op.token, extent.extentId, op.blockOffset, NodeStatus.OK, view,
                BlockFormat.BLOCK_HEADER_LENGTH_BYTES, payloadLength, next, extent.commitLength);
        }
    }

    private static final class Extent
    {
        final long extentId;
        final long streamId;
        final ByteBuffer byteBuffer;
        final UnsafeBuffer image;
        final BlockIndex index = new BlockIndex(64);
        long commitLength = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        long endOffset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        /** End of the durable blocks; the commit length lags it while a record's blocks are being written. */
        long durableEnd = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        boolean failed;
        boolean sealed;

        Extent(final long extentId, final long streamId, final int sizeBytes)
        {
            this.extentId = extentId;
            this.streamId = streamId;
            byteBuffer = ByteBuffer.allocateDirect(sizeBytes).order(ByteOrder.LITTLE_ENDIAN);
            image = new UnsafeBuffer(byteBuffer);
        }
    }

    private record Op(
        int kind, long token, Extent extent, long blockOffset, int blockLength, int payloadLength, int recordFlags)
    {
        Op(final int kind, final long token, final Extent extent, final long blockOffset, final int blockLength,
            final int payloadLength)
        {
            this(kind, token, extent, blockOffset, blockLength, payloadLength, 0);
        }
    }
}
