package io.cairn.replication;

import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;

/**
 * The storage engine seen by the replication protocol: submit operations, then poll for completions.
 * <p>
 * Why an interface: the protocol logic runs unchanged over an in-memory store in deterministic tests
 * ({@link MemoryReplicaStore}) and over io_uring with O_DIRECT in the extent node daemon.
 * <p>
 * Contract:
 * <ul>
 *   <li>All methods are called from one thread (the replication agent).</li>
 *   <li>A {@code submit*} method returns {@link NodeStatus#OK} when the operation was accepted and exactly
 *       one completion will follow through {@link #poll}; any other status is the final answer and no
 *       completion follows ({@link NodeStatus#BUSY} when out of buffers or queue slots).</li>
 *   <li>Completions of the operations on one extent arrive in submission order, and a write completes
 *       only once it is durable (written and fdatasync'd); so {@link #commitLength} only ever covers a
 *       contiguous prefix of durable blocks.</li>
 *   <li>Only committed blocks are readable; a read verifies the block's CRC32C and answers
 *       {@link NodeStatus#CORRUPT} (no data) when it fails.</li>
 *   <li>After a failed write an extent refuses further writes with {@link NodeStatus#IO_ERROR} (or
 *       {@link NodeStatus#EXTENT_FULL} when its disk is full).</li>
 *   <li>A sealed extent refuses writes with {@link NodeStatus#SEALED}; its commit length is the sealed
 *       length, which survives a restart.</li>
 * </ul>
 * Offsets are byte offsets of block starts within the extent; the first block starts at
 * {@link BlockFormat#EXTENT_HEADER_LENGTH_BYTES}; see {@link BlockFormat} for the layout.
 */
public interface ReplicaStore extends AutoCloseable
{
    /** Returned by {@link #commitLength} and {@link #endOffset} for an unknown extent. */
    long NO_EXTENT = -1;

    /**
     * @return the size limit of every extent in bytes (a multiple of 4096, header included).
     */
    long extentSizeBytes();

    /**
     * @param extentId extent.
     * @return durable length (end of the last durable record: all its blocks durable), or {@link #NO_EXTENT}.
     */
    long commitLength(long extentId);

    /**
     * @param extentId extent.
     * @return end of the durable blocks (at or past the commit length: a record's blocks durable before its last
     * one), or {@link #NO_EXTENT}; equal to {@link #endOffset} when no write is in flight.
     */
    long durableEnd(long extentId);

    /**
     * @param extentId extent.
     * @return end of the last submitted write (the offset the next write must use), or {@link #NO_EXTENT}.
     */
    long endOffset(long extentId);

    /**
     * @param extentId extent.
     * @return true when the extent is sealed (or its seal is in progress); false for an unknown extent.
     */
    boolean isSealed(long extentId);

    /**
     * The highest stream owner revision a writer presented for this extent (fencing: older writers are refused).
     *
     * @param extentId extent.
     * @return the recorded revision, 0 when none or the extent is unknown.
     */
    long ownerRevision(long extentId);

    /**
     * Record a higher owner revision for an existing extent. Stores that can persist it do so before the next
     * completion of that extent is delivered; {@link #persistsOwnerRevision()} says whether it survives a restart.
     *
     * @param extentId      extent.
     * @param ownerRevision at least the current one.
     */
    void recordOwnerRevision(long extentId, long ownerRevision);

    /**
     * @return true when {@link #recordOwnerRevision} survives a restart of the store.
     */
    boolean persistsOwnerRevision();

    /**
     * Create an extent, or find an existing one (idempotent: an existing extent keeps its data).
     *
     * @param extentId extent.
     * @param streamId stream it belongs to.
     * @param token    echoed by the completion.
     * @return OK when a completion will follow, else the final status.
     */
    NodeStatus submitCreate(long extentId, long streamId, long token);

    /**
     * Write one block at {@code blockOffset}, which must equal {@link #endOffset}; the payload is copied
     * once, into the store's I/O buffer, before this returns.
     *
     * @param extentId           extent.
     * @param blockOffset        where the block starts.
     * @param payload            source of the payload.
     * @param payloadOffset      offset of the payload in its source.
     * @param payloadLengthBytes 1..{@link NodeProtocol#MAX_PAYLOAD_BYTES}.
     * @param token              echoed by the completion.
     * @return OK when a completion will follow, else the final status (WRONG_OFFSET, EXTENT_FULL, ...).
     */
    default NodeStatus submitWrite(
        long extentId, long blockOffset, DirectBuffer payload, int payloadOffset, int payloadLengthBytes, long token)
    {
        return submitWrite(extentId, blockOffset, BlockFormat.RECORD_WHOLE, null, 0, 0, payload, payloadOffset,
            payloadLengthBytes, token);
    }

    /**
     * Write one block of a record at {@code blockOffset}, which must equal {@link #endOffset}. The commit length
     * advances only when a block flagged {@link BlockFormat#RECORD_LAST} is durable (with all before it), so it
     * always lands on a record boundary.
     *
     * @param extentId            extent.
     * @param blockOffset         where the block starts.
     * @param recordFlags         {@link BlockFormat#RECORD_FIRST} and/or {@link BlockFormat#RECORD_LAST}.
     * @param metadata            user metadata source (null when none).
     * @param metadataOffset      offset of the metadata in its source.
     * @param metadataLengthBytes 0..{@link NodeProtocol#MAX_USER_METADATA_BYTES}, only on a FIRST block.
     * @param payload             source of the payload.
     * @param payloadOffset       offset of the payload in its source.
     * @param payloadLengthBytes  1..{@link NodeProtocol#MAX_PAYLOAD_BYTES}.
     * @param token               echoed by the completion.
     * @return OK when a completion will follow, else the final status (WRONG_OFFSET, EXTENT_FULL, BAD_REQUEST...).
     */
    NodeStatus submitWrite(
        long extentId,
        long blockOffset,
        int recordFlags,
        DirectBuffer metadata,
        int metadataOffset,
        int metadataLengthBytes,
        DirectBuffer payload,
        int payloadOffset,
        int payloadLengthBytes,
        long token);

    /**
     * Read the committed block starting at {@code blockOffset}.
     *
     * @param extentId    extent.
     * @param blockOffset start of a committed block.
     * @param token       echoed by the completion.
     * @return OK when a completion will follow, else the final status (END_OF_EXTENT, OUT_OF_RANGE, ...).
     */
    NodeStatus submitRead(long extentId, long blockOffset, long token);

    /**
     * Seal the extent at {@code sealedLength} durably: it takes no more writes, and blocks beyond the sealed
     * length are no longer readable. The sealed state survives restarts.
     *
     * @param extentId     extent.
     * @param sealedLength a record boundary at or below the commit length; writes must not be in flight (a
     *                     durable partial record beyond the commit length is dropped).
     * @param token        echoed by the completion ({@link Listener#onSealed}).
     * @return OK when a completion will follow, else the final status (BAD_REQUEST, BUSY, SEALED, ...).
     */
    NodeStatus submitSeal(long extentId, long sealedLength, long token);

    /**
     * Deliver completed operations.
     *
     * @param listener receives them; buffers passed to it are valid only during the call.
     * @param limit    most completions to deliver.
     * @return completions delivered.
     */
    int poll(Listener listener, int limit);

    /**
     * Release files and buffers.
     */
    @Override
    void close();

    /**
     * Receives completions from {@link #poll}.
     */
    interface Listener
    {
        /**
         * @param token        as submitted.
         * @param extentId     extent.
         * @param status       OK or why not.
         * @param commitLength the extent's durable length.
         */
        void onCreated(long token, long extentId, NodeStatus status, long commitLength);

        /**
         * @param token        as submitted.
         * @param extentId     extent.
         * @param status       OK once the sealed state is durable, else why not.
         * @param commitLength the extent's commit length (the sealed length when OK).
         */
        default void onSealed(long token, long extentId, NodeStatus status, long commitLength)
        {
            // Listeners that never submit seals (benchmarks, store tests) need not handle it.
        }

        /**
         * @param token        as submitted.
         * @param extentId     extent.
         * @param blockOffset  where the block was written.
         * @param status       OK once durable, else why not.
         * @param nextOffset   end of the block.
         * @param commitLength the extent's durable length after this write.
         */
        void onWritten(long token, long extentId, long blockOffset, NodeStatus status, long nextOffset, long commitLength);

        /**
         * @param token              as submitted.
         * @param extentId           extent.
         * @param blockOffset        block read.
         * @param status             OK or CORRUPT / IO_ERROR.
         * @param payload            the verified payload (only with OK; valid during this call only). With OK
         *                           the block's header lies just before it, at payloadOffset -
         *                           {@link BlockFormat#BLOCK_HEADER_LENGTH_BYTES}: read its record flags and
         *                           metadata with {@link BlockFormat#recordFlags} and {@link BlockFormat#metadataLength}.
         * @param payloadOffset      offset in payload.
         * @param payloadLengthBytes length of payload.
         * @param nextOffset         start of the following block.
         * @param commitLength       the extent's durable length.
         */
        void onRead(
            long token,
            long extentId,
            long blockOffset,
            NodeStatus status,
            DirectBuffer payload,
            int payloadOffset,
            int payloadLengthBytes,
            long nextOffset,
            long commitLength);
    }
}
