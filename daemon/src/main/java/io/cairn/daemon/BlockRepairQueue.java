package io.cairn.daemon;

import io.cairn.replication.Verify;
import org.agrona.BitUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.nio.ByteBuffer;

/**
 * The node's queue of pending block repairs: bad blocks of sealed extents found by a disk's scrubber or by a read,
 * waiting for the {@link BlockRepairAgent}. Many producers (every disk agent, on its own thread), one consumer (the
 * repair worker). Bounded: a fixed ring of at least {@link #CAPACITY_REQUESTS} requests; an offer never blocks and
 * never allocates (fixed-size records in an Agrona ring buffer). A request that does not fit is dropped and counted by
 * the producer ({@code repair_queue_drops}): the scrubber finds the block again on its next pass.
 */
final class BlockRepairQueue
{
    /** Requests the queue holds at least (the ring rounds its length up to a power of two). */
    static final int CAPACITY_REQUESTS = 64;

    private static final int MSG_TYPE_ID = 1;
    private static final int DISK_INDEX_OFFSET = 0;
    private static final int LENGTH_HINT_OFFSET = 4;
    private static final int EPOCH_HINT_OFFSET = 8;
    private static final int EXTENT_ID_OFFSET = 16;
    private static final int STREAM_ID_OFFSET = 24;
    private static final int BLOCK_OFFSET_OFFSET = 32;
    private static final int RECORD_LENGTH_BYTES = 40;
    /** A record with its ring-buffer header, aligned. */
    private static final int RECORD_SLOT_BYTES = 48;

    /** A request taken from the queue (the consumer's reusable holder). */
    static final class Request
    {
        int diskIndex;
        long extentId;
        long streamId;
        long blockOffset;
        /** The bad block's length on disk when this node knows it (its header or index), else 0. */
        int blockLengthHint;
        /** The epoch of the nearest verified block before it (the scrubber's walk), else 0: unknown. */
        int epochHint;

        void set(final Request other)
        {
            diskIndex = other.diskIndex;
            extentId = other.extentId;
            streamId = other.streamId;
            blockOffset = other.blockOffset;
            blockLengthHint = other.blockLengthHint;
            epochHint = other.epochHint;
        }

        @Override
        public String toString()
        {
            return "extent " + extentId + " (stream " + streamId + ") offset " + blockOffset + " on disk " + diskIndex;
        }
    }

    private final RingBuffer ring;
    private final MessageHandler handler = this::onRecord;
    private Request into;

    BlockRepairQueue()
    {
        // Each record takes its 8-byte header plus the body, aligned to 8: 48 bytes; a power of two above that.
        final int capacity = BitUtil.findNextPositivePowerOfTwo(CAPACITY_REQUESTS * RECORD_SLOT_BYTES);
        ring = new ManyToOneRingBuffer(new UnsafeBuffer(
            ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH)));
    }

    /**
     * Offer a request; any thread, never blocks, allocates nothing.
     *
     * @param diskIndex       the disk holding the bad block.
     * @param extentId        its extent (sealed).
     * @param streamId        the extent's stream (the manager lists the replicas by stream).
     * @param blockOffset     where the block starts.
     * @param blockLengthHint its length when known, else 0.
     * @param epochHint       the epoch of the nearest verified block before it, else 0.
     * @return false when the queue is full (the caller counts the drop).
     */
    boolean offer(
        final int diskIndex,
        final long extentId,
        final long streamId,
        final long blockOffset,
        final int blockLengthHint,
        final int epochHint)
    {
        final int index = ring.tryClaim(MSG_TYPE_ID, RECORD_LENGTH_BYTES);
        if (index < 0)
        {
            return false;
        }
        final var buffer = ring.buffer();
        buffer.putInt(index + DISK_INDEX_OFFSET, diskIndex);
        buffer.putInt(index + LENGTH_HINT_OFFSET, blockLengthHint);
        buffer.putInt(index + EPOCH_HINT_OFFSET, epochHint);
        buffer.putLong(index + EXTENT_ID_OFFSET, extentId);
        buffer.putLong(index + STREAM_ID_OFFSET, streamId);
        buffer.putLong(index + BLOCK_OFFSET_OFFSET, blockOffset);
        ring.commit(index);
        return true;
    }

    /**
     * Take the oldest request (the consumer's thread only).
     *
     * @param request filled with it.
     * @return false when the queue is empty.
     */
    boolean poll(final Request request)
    {
        into = request;
        try
        {
            return 1 == ring.read(handler, 1);
        }
        finally
        {
            into = null;
        }
    }

    private void onRecord(final int msgTypeId, final MutableDirectBuffer buffer, final int index, final int length)
    {
        Verify.verify(MSG_TYPE_ID == msgTypeId && RECORD_LENGTH_BYTES == length, "malformed repair request", length);
        into.diskIndex = buffer.getInt(index + DISK_INDEX_OFFSET);
        into.blockLengthHint = buffer.getInt(index + LENGTH_HINT_OFFSET);
        into.epochHint = buffer.getInt(index + EPOCH_HINT_OFFSET);
        into.extentId = buffer.getLong(index + EXTENT_ID_OFFSET);
        into.streamId = buffer.getLong(index + STREAM_ID_OFFSET);
        into.blockOffset = buffer.getLong(index + BLOCK_OFFSET_OFFSET);
    }

    /** @return requests waiting (approximate while producers offer). */
    int size()
    {
        return ring.size() / RECORD_SLOT_BYTES;
    }
}
