package io.cairn.client;

import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.AppendRequestEncoder;
import io.cairn.sbe.node.ConnectRequestEncoder;
import io.cairn.sbe.node.ExtentStatusRequestEncoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.OpenExtentRequestEncoder;
import io.cairn.sbe.node.ReadRequestEncoder;
import io.cairn.sbe.node.SealExtentRequestEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Encodes the client's requests to one extent node and offers them on that node's request channel.
 * One instance per node the client talks to; all encoders and the buffer are shared by the client thread.
 */
final class ExtentNodeProxy implements AutoCloseable
{
    private final int nodeId;
    private final String endpoint;
    private final SealExtentRequestEncoder sealEncoder = new SealExtentRequestEncoder();
    private final ExclusivePublication publication;
    private final MutableDirectBuffer buffer;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ConnectRequestEncoder connectEncoder = new ConnectRequestEncoder();
    private final OpenExtentRequestEncoder openEncoder = new OpenExtentRequestEncoder();
    private final AppendRequestEncoder appendEncoder = new AppendRequestEncoder();
    private final ReadRequestEncoder readEncoder = new ReadRequestEncoder();
    private final ExtentStatusRequestEncoder statusEncoder = new ExtentStatusRequestEncoder();
    private boolean handshakeDone;

    ExtentNodeProxy(
        final int nodeId, final String endpoint, final ExclusivePublication publication, final MutableDirectBuffer buffer)
    {
        this.nodeId = nodeId;
        this.endpoint = endpoint;
        this.publication = publication;
        this.buffer = buffer;
    }

    int nodeId()
    {
        return nodeId;
    }

    String endpoint()
    {
        return endpoint;
    }

    boolean isConnected()
    {
        return publication.isConnected();
    }

    boolean handshakeDone()
    {
        return handshakeDone;
    }

    void handshakeDone(final boolean done)
    {
        handshakeDone = done;
    }

    int encodeConnect(final long correlationId, final long clientId, final int responseStreamId, final String responseChannel)
    {
        connectEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .responseStreamId(responseStreamId)
            .responseChannel(responseChannel);
        return MessageHeaderEncoder.ENCODED_LENGTH + connectEncoder.encodedLength();
    }

    int encodeOpenExtent(
        final long correlationId,
        final long clientId,
        final long extentId,
        final long streamId,
        final long ownerRevision,
        final int[] replicas,
        final String[] endpoints)
    {
        openEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId)
            .streamId(streamId)
            .forwarded((short)0)
            .ownerRevision(ownerRevision);
        final OpenExtentRequestEncoder.ReplicasEncoder group = openEncoder.replicasCount(replicas.length);
        for (int i = 0; i < replicas.length; i++)
        {
            group.next().nodeId(replicas[i]).endpoint(endpoints[i]);
        }
        return MessageHeaderEncoder.ENCODED_LENGTH + openEncoder.encodedLength();
    }

    int encodeAppend(
        final long correlationId,
        final long clientId,
        final long extentId,
        final long expectedOffset,
        final long ownerRevision,
        final long requestId,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength)
    {
        return encodeAppendChunk(correlationId, clientId, extentId, expectedOffset, ownerRevision, requestId,
            payloadLength, 0, null, 0, 0, payload, payloadOffset, payloadLength);
    }

    /**
     * Encode one chunk of a record: every chunk but the last carries exactly {@link NodeProtocol#MAX_PAYLOAD_BYTES}.
     */
    int encodeAppendChunk(
        final long correlationId,
        final long clientId,
        final long extentId,
        final long expectedOffset,
        final long ownerRevision,
        final long requestId,
        final int recordLength,
        final int chunkOffset,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength)
    {
        appendEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId)
            .expectedOffset(expectedOffset)
            .ownerRevision(ownerRevision)
            .requestId(requestId)
            .recordLengthBytes(recordLength)
            .chunkOffset(chunkOffset)
            .putPayload(payload, payloadOffset, payloadLength)
            .putMetadata(null == metadata ? EMPTY : metadata, metadataOffset, metadataLength);
        return MessageHeaderEncoder.ENCODED_LENGTH + appendEncoder.encodedLength();
    }

    private static final DirectBuffer EMPTY = new org.agrona.concurrent.UnsafeBuffer(new byte[0]);

    int encodeRead(final long correlationId, final long clientId, final long extentId, final long blockOffset)
    {
        readEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId)
            .blockOffset(blockOffset);
        return MessageHeaderEncoder.ENCODED_LENGTH + readEncoder.encodedLength();
    }

    int encodeExtentStatus(final long correlationId, final long clientId, final long extentId)
    {
        statusEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId);
        return MessageHeaderEncoder.ENCODED_LENGTH + statusEncoder.encodedLength();
    }

    int encodeSealExtent(
        final long correlationId, final long clientId, final long extentId, final long ownerRevision, final long sealLength)
    {
        sealEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId)
            .ownerRevision(ownerRevision)
            .sealLength(sealLength);
        return MessageHeaderEncoder.ENCODED_LENGTH + sealEncoder.encodedLength();
    }

    /**
     * Offers what the last encode call wrote.
     *
     * @param lengthBytes the encoded length.
     * @return Aeron's result: a new position (> 0) or a negative code.
     */
    long offer(final int lengthBytes)
    {
        return publication.offer(buffer, 0, lengthBytes);
    }

    static boolean isRetryable(final long offerResult)
    {
        return offerResult == Publication.BACK_PRESSURED ||
            offerResult == Publication.ADMIN_ACTION ||
            offerResult == Publication.NOT_CONNECTED;
    }

    public void close()
    {
        CloseHelper.quietClose(publication);
    }
}
