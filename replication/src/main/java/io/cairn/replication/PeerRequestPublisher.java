package io.cairn.replication;

import io.aeron.DirectBufferVector;
import io.cairn.sbe.node.ConnectRequestEncoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.OpenExtentRequestEncoder;
import io.cairn.sbe.node.ReplicateRequestEncoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes the requests a primary sends its secondaries (it acts as their client).
 * A replicated payload is gathered from the request that carried it, not staged.
 */
final class PeerRequestPublisher
{
    private static final int ENCODE_BUFFER_BYTES = 4096;

    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(ENCODE_BUFFER_BYTES));
    private final DirectBufferVector[] vectors =
        { new DirectBufferVector(), new DirectBufferVector(), new DirectBufferVector() };
    private final UnsafeBuffer trailer = new UnsafeBuffer(ByteBuffer.allocateDirect(4 + NodeProtocol.MAX_USER_METADATA_BYTES));
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();
    private final ConnectRequestEncoder connect = new ConnectRequestEncoder();
    private final OpenExtentRequestEncoder open = new OpenExtentRequestEncoder();
    private final ReplicateRequestEncoder replicate = new ReplicateRequestEncoder();
    private final int retries;

    PeerRequestPublisher(final int retries)
    {
        this.retries = retries;
    }

    boolean connectRequest(
        final MessageSink sink,
        final long correlationId,
        final long clientId,
        final int responseStreamId,
        final byte[] responseChannel)
    {
        connect.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .clientId(clientId)
            .responseStreamId(responseStreamId)
            .putResponseChannel(responseChannel, 0, responseChannel.length);
        return Outbound.offer(sink, buffer, MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength(), retries);
    }

    boolean openExtentRequest(
        final MessageSink sink,
        final long correlationId,
        final long clientId,
        final long extentId,
        final long streamId,
        final long ownerRevision,
        final int[] nodeIds,
        final byte[][] endpoints)
    {
        final OpenExtentRequestEncoder.ReplicasEncoder replicas = open.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId)
            .streamId(streamId)
            .forwarded((short)1)
            .ownerRevision(ownerRevision)
            .replicasCount(NodeProtocol.REPLICA_COUNT);
        for (int i = 0; i < NodeProtocol.REPLICA_COUNT; i++)
        {
            replicas.next().nodeId(nodeIds[i]).putEndpoint(endpoints[i], 0, endpoints[i].length);
        }
        return Outbound.offer(sink, buffer, MessageHeaderEncoder.ENCODED_LENGTH + open.encodedLength(), retries);
    }

    boolean replicateRequest(
        final MessageSink sink,
        final long correlationId,
        final long clientId,
        final long extentId,
        final long blockOffset,
        final long ownerRevision,
        final int recordFlags,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final int offerRetries)
    {
        replicate.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .clientId(clientId)
            .extentId(extentId)
            .blockOffset(blockOffset)
            .ownerRevision(ownerRevision)
            .recordFlags((short)recordFlags);
        final int lengthPosition = replicate.limit();
        buffer.putInt(lengthPosition, payloadLength, ByteOrder.LITTLE_ENDIAN);
        trailer.putInt(0, metadataLength, ByteOrder.LITTLE_ENDIAN);
        if (metadataLength > 0)
        {
            trailer.putBytes(4, metadata, metadataOffset, metadataLength);
        }
        vectors[0].reset(buffer, 0, lengthPosition + 4);
        vectors[1].reset(payload, payloadOffset, payloadLength);
        vectors[2].reset(trailer, 0, 4 + metadataLength);
        return Outbound.offer(sink, vectors, offerRetries);
    }

    int retries()
    {
        return retries;
    }
}
