package io.cairn.daemon;

import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The node protocol as the recovery worker uses it: synchronous calls to one extent node at a time (a surviving
 * replica or this node itself), each answered or timed out. Why an interface: {@link ExtentRecoveryAgent}'s logic is
 * tested against fake nodes ({@code ExtentRecoveryAgentTest}); production uses {@link AeronRecoveryPeers}, which
 * speaks the existing SBE requests (ExtentStatus, SealExtent, Read, OpenExtent, Replicate) over Aeron.
 * <p>
 * Every method returns the node's status, or null when the node did not answer within the time-out. The results of
 * the last successful call are read from {@link #commitLength()}, {@link #sealed()}, {@link #ownerRevision()},
 * {@link #nextOffset()} and {@link #payloadLengthBytes()}.
 */
interface RecoveryPeers extends AutoCloseable
{
    /**
     * ExtentStatus: commit length (the sealed length when sealed), sealed flag, highest owner revision.
     *
     * @param nodeId   node to ask.
     * @param endpoint its host:port.
     * @param extentId extent.
     * @return OK, NO_SUCH_EXTENT, ..., or null on time-out.
     */
    NodeStatus extentStatus(int nodeId, String endpoint, long extentId);

    /**
     * SealExtent: fence with {@code ownerRevision}, and seal at {@code sealLength} unless it is
     * {@link io.cairn.replication.NodeProtocol#NULL_OFFSET} (fence only, which answers the durable length).
     *
     * @param nodeId        node.
     * @param endpoint      its host:port.
     * @param extentId      extent.
     * @param ownerRevision fencing revision.
     * @param sealLength    block boundary, or NULL_OFFSET.
     * @return status or null on time-out.
     */
    NodeStatus seal(int nodeId, String endpoint, long extentId, long ownerRevision, long sealLength);

    /**
     * Read one committed block; the node verifies its CRC32C and answers CORRUPT rather than bad data.
     *
     * @param nodeId      node.
     * @param endpoint    its host:port.
     * @param extentId    extent.
     * @param blockOffset start of a committed block.
     * @param payload     receives the payload (at index 0), at least {@link io.cairn.replication.NodeProtocol#MAX_PAYLOAD_BYTES}.
     * @return status or null on time-out.
     */
    NodeStatus read(int nodeId, String endpoint, long extentId, long blockOffset, MutableDirectBuffer payload);

    /**
     * OpenExtent as a secondary (forwarded): create the extent on that node, or find it.
     *
     * @param nodeId        node (must be replicas[1] or replicas[2]).
     * @param endpoint      its host:port.
     * @param extentId      extent.
     * @param streamId      stream.
     * @param ownerRevision fencing revision.
     * @param replicas      the extent's replicas with this node in place of the lost one.
     * @param endpoints     their endpoints.
     * @return status or null on time-out.
     */
    NodeStatus openSecondary(
        int nodeId, String endpoint, long extentId, long streamId, long ownerRevision, int[] replicas, String[] endpoints);

    /**
     * Replicate: write one block at exactly {@code blockOffset} (the node's end), durably, before the answer.
     *
     * @param nodeId        node.
     * @param endpoint      its host:port.
     * @param extentId      extent.
     * @param blockOffset   the node's end of extent.
     * @param ownerRevision fencing revision.
     * @param payload       the payload.
     * @param lengthBytes   its length.
     * @return status or null on time-out.
     */
    NodeStatus replicate(
        int nodeId, String endpoint, long extentId, long blockOffset, long ownerRevision, DirectBuffer payload,
        int lengthBytes);

    /**
     * Replicate one block of a record, keeping its framing and user metadata (a copy must read back as the same
     * records). Implementations that predate records write a whole one-block record.
     *
     * @param nodeId         node.
     * @param endpoint       its host:port.
     * @param extentId       extent.
     * @param blockOffset    the node's end of extent.
     * @param ownerRevision  fencing revision.
     * @param recordFlags    the block's record flags (BlockFormat.RECORD_*).
     * @param metadata       user metadata (FIRST block only).
     * @param metadataLength its length, 0 when none.
     * @param payload        the payload.
     * @param lengthBytes    its length.
     * @return status or null on time-out.
     */
    default NodeStatus replicate(
        int nodeId, String endpoint, long extentId, long blockOffset, long ownerRevision, int recordFlags,
        DirectBuffer metadata, int metadataLength, DirectBuffer payload, int lengthBytes)
    {
        return replicate(nodeId, endpoint, extentId, blockOffset, ownerRevision, payload, lengthBytes);
    }

    /** @return from the last Read answer: the block's record flags (BlockFormat.RECORD_*). */
    default int recordFlags()
    {
        return io.cairn.replication.BlockFormat.RECORD_WHOLE;
    }

    /** @return from the last Read answer: the record's user metadata (its length is {@link #metadataLength()}). */
    default DirectBuffer metadata()
    {
        return null;
    }

    /** @return from the last Read answer: the user metadata length. */
    default int metadataLength()
    {
        return 0;
    }

    /** @return from the last answer: the durable length (sealed length when sealed). */
    long commitLength();

    /** @return from the last ExtentStatus or SealExtent answer: whether the replica holds the extent sealed. */
    boolean sealed();

    /** @return from the last ExtentStatus answer: the highest owner revision the replica has seen. */
    long ownerRevision();

    /** @return from the last Read answer: the start of the following block. */
    long nextOffset();

    /** @return from the last Read answer: the payload length. */
    int payloadLengthBytes();

    /** @return the last error text a node sent, or "" (for logs). */
    String errorMessage();

    @Override
    void close();
}
