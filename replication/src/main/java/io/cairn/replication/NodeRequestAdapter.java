package io.cairn.replication;

import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.cairn.sbe.node.AppendRequestDecoder;
import io.cairn.sbe.node.ConnectRequestDecoder;
import io.cairn.sbe.node.ExtentStatusRequestDecoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.OpenExtentRequestDecoder;
import io.cairn.sbe.node.ReadRequestDecoder;
import io.cairn.sbe.node.ReplicateRequestDecoder;
import io.cairn.sbe.node.SealExtentRequestDecoder;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Decodes requests arriving on a node's request stream and hands them to the {@link ReplicationConductor}.
 * <p>
 * Every length is checked against the message's own bounds before it is used: a message is never read
 * past its end (an Aeron term holds other messages after it). A message whose clientId cannot be read is
 * counted and dropped; one whose clientId is readable is passed on as malformed, to be answered
 * BAD_REQUEST if that client is known. Feed it whole messages (behind a FragmentAssembler).
 */
public final class NodeRequestAdapter implements FragmentHandler
{
    /** Longest endpoint or response channel accepted. */
    public static final int MAX_CHANNEL_BYTES = 512;

    private final ReplicationConductor conductor;
    private final MessageHeaderDecoder header = new MessageHeaderDecoder();
    private final ConnectRequestDecoder connect = new ConnectRequestDecoder();
    private final OpenExtentRequestDecoder open = new OpenExtentRequestDecoder();
    private final AppendRequestDecoder append = new AppendRequestDecoder();
    private final ReplicateRequestDecoder replicate = new ReplicateRequestDecoder();
    private final ReadRequestDecoder read = new ReadRequestDecoder();
    private final ExtentStatusRequestDecoder status = new ExtentStatusRequestDecoder();
    private final SealExtentRequestDecoder seal = new SealExtentRequestDecoder();
    private final int[] replicaNodeIds = new int[NodeProtocol.REPLICA_COUNT];
    private final String[] replicaEndpoints = new String[NodeProtocol.REPLICA_COUNT];

    /**
     * @param conductor receives decoded requests.
     */
    public NodeRequestAdapter(final ReplicationConductor conductor)
    {
        this.conductor = conductor;
    }

    /** {@inheritDoc} */
    public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header h)
    {
        onMessage(buffer, offset, length);
    }

    /**
     * Decode and dispatch one whole message.
     *
     * @param buffer holding it.
     * @param offset where it starts.
     * @param length its length.
     */
    public void onMessage(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            conductor.onUndecodable();
            return;
        }
        header.wrap(buffer, offset);
        final int templateId = header.templateId();
        final int blockLength = header.blockLength();
        final int version = header.version();
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int end = offset + length;
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID || minBlockLength(templateId) == Integer.MAX_VALUE)
        {
            conductor.onUndecodable();
            return;
        }
        if (blockLength < minBlockLength(templateId) || body + blockLength > end)
        {
            // Every request starts with correlationId then clientId: answer if those two are readable.
            if (blockLength >= 2 * Long.BYTES && body + 2 * Long.BYTES <= end)
            {
                conductor.onMalformed(buffer.getLong(body + Long.BYTES, ByteOrder.LITTLE_ENDIAN),
                    buffer.getLong(body, ByteOrder.LITTLE_ENDIAN), "fixed block truncated or too short");
            }
            else
            {
                conductor.onUndecodable();
            }
            return;
        }
        switch (templateId)
        {
            case ConnectRequestDecoder.TEMPLATE_ID -> onConnect(buffer, body, blockLength, version, end);
            case OpenExtentRequestDecoder.TEMPLATE_ID -> onOpen(buffer, body, blockLength, version, end);
            case AppendRequestDecoder.TEMPLATE_ID -> onAppend(buffer, body, blockLength, version, end);
            case ReplicateRequestDecoder.TEMPLATE_ID -> onReplicate(buffer, body, blockLength, version, end);
            case ReadRequestDecoder.TEMPLATE_ID ->
            {
                read.wrap(buffer, body, blockLength, version);
                conductor.onRead(read.correlationId(), read.clientId(), read.extentId(), read.blockOffset());
            }
            case ExtentStatusRequestDecoder.TEMPLATE_ID ->
            {
                status.wrap(buffer, body, blockLength, version);
                conductor.onExtentStatus(status.correlationId(), status.clientId(), status.extentId());
            }
            case SealExtentRequestDecoder.TEMPLATE_ID ->
            {
                seal.wrap(buffer, body, blockLength, version);
                conductor.onSealExtent(seal.correlationId(), seal.clientId(), seal.extentId(),
                    revision(seal.ownerRevision()), seal.sealLength());
            }
            default -> conductor.onUndecodable();
        }
    }

    private static int minBlockLength(final int templateId)
    {
        return switch (templateId)
        {
            case ConnectRequestDecoder.TEMPLATE_ID -> ConnectRequestDecoder.BLOCK_LENGTH;
            case OpenExtentRequestDecoder.TEMPLATE_ID -> OpenExtentRequestDecoder.BLOCK_LENGTH;
            case AppendRequestDecoder.TEMPLATE_ID -> AppendRequestDecoder.BLOCK_LENGTH;
            case ReplicateRequestDecoder.TEMPLATE_ID -> ReplicateRequestDecoder.BLOCK_LENGTH;
            case ReadRequestDecoder.TEMPLATE_ID -> ReadRequestDecoder.BLOCK_LENGTH;
            case ExtentStatusRequestDecoder.TEMPLATE_ID -> ExtentStatusRequestDecoder.BLOCK_LENGTH;
            case SealExtentRequestDecoder.TEMPLATE_ID -> SealExtentRequestDecoder.BLOCK_LENGTH;
            default -> Integer.MAX_VALUE;
        };
    }

    /**
     * @return an owner revision as a request carries it: a version-1 sender (the field absent, its SBE null value)
     *         or a negative value counts as 0, "no revision".
     */
    static long revision(final long decoded)
    {
        return Math.max(0, decoded);
    }

    /**
     * @return the length of the var-length field at {@code position} when it lies within
     *         [position + 4, end) and within [min, max], else -1.
     */
    static int varLength(final DirectBuffer buffer, final int position, final int end, final int min, final int max)
    {
        if (position + 4 > end)
        {
            return -1;
        }
        final long length = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        if (length < min || length > max || position + 4 + length > end)
        {
            return -1;
        }
        return (int)length;
    }

    private void onConnect(final DirectBuffer buffer, final int body, final int blockLength, final int version, final int end)
    {
        connect.wrap(buffer, body, blockLength, version);
        final long correlationId = connect.correlationId();
        final long clientId = connect.clientId();
        final int streamId = connect.responseStreamId();
        final int position = body + blockLength;
        final int channelLength = varLength(buffer, position, end, 1, MAX_CHANNEL_BYTES);
        if (channelLength < 0)
        {
            conductor.onMalformed(clientId, correlationId, "ConnectRequest.responseChannel length out of bounds");
            return;
        }
        final String channel = buffer.getStringWithoutLengthUtf8(position + 4, channelLength);
        conductor.onConnect(correlationId, clientId, streamId, channel);
    }

    private void onOpen(final DirectBuffer buffer, final int body, final int blockLength, final int version, final int end)
    {
        open.wrap(buffer, body, blockLength, version);
        final long correlationId = open.correlationId();
        final long clientId = open.clientId();
        final long extentId = open.extentId();
        final long streamId = open.streamId();
        final short forwarded = open.forwarded();
        final long ownerRevision = revision(open.ownerRevision());
        final String error = decodeReplicas(buffer, body + blockLength, end);
        if (null != error)
        {
            conductor.onMalformed(clientId, correlationId, error);
            return;
        }
        if (forwarded != 0 && forwarded != 1)
        {
            conductor.onMalformed(clientId, correlationId, "OpenExtentRequest.forwarded must be 0 or 1");
            return;
        }
        conductor.onOpenExtent(correlationId, clientId, extentId, streamId, ownerRevision, forwarded == 1, replicaNodeIds,
            replicaEndpoints);
    }

    private String decodeReplicas(final DirectBuffer buffer, final int groupPosition, final int end)
    {
        if (groupPosition + 4 > end)
        {
            return "OpenExtentRequest.replicas group header truncated";
        }
        final int entryBlockLength = buffer.getShort(groupPosition, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int count = buffer.getShort(groupPosition + 2, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (count != NodeProtocol.REPLICA_COUNT || entryBlockLength < 4)
        {
            return "OpenExtentRequest.replicas must have exactly 3 entries";
        }
        int position = groupPosition + 4;
        for (int i = 0; i < count; i++)
        {
            if (position + entryBlockLength > end)
            {
                return "OpenExtentRequest.replicas entry truncated";
            }
            replicaNodeIds[i] = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN);
            position += entryBlockLength;
            final int endpointLength = varLength(buffer, position, end, 1, MAX_CHANNEL_BYTES);
            if (endpointLength < 0)
            {
                return "OpenExtentRequest.replicas endpoint length out of bounds";
            }
            replicaEndpoints[i] = buffer.getStringWithoutLengthAscii(position + 4, endpointLength);
            position += 4 + endpointLength;
        }
        return null;
    }

    private void onAppend(final DirectBuffer buffer, final int body, final int blockLength, final int version, final int end)
    {
        append.wrap(buffer, body, blockLength, version);
        final long correlationId = append.correlationId();
        final long clientId = append.clientId();
        final long extentId = append.extentId();
        final long expectedOffset = append.expectedOffset();
        final long ownerRevision = revision(append.ownerRevision());
        final long requestId = revision(append.requestId());
        final int recordLength = version >= 3 ? append.recordLengthBytes() : 0;
        final int chunkOffset = version >= 3 ? append.chunkOffset() : 0;
        final int position = body + blockLength;
        final int payloadLength = varLength(buffer, position, end, 1, NodeProtocol.MAX_PAYLOAD_BYTES);
        if (payloadLength < 0)
        {
            conductor.onMalformed(clientId, correlationId, "AppendRequest.payload must be 1.." +
                NodeProtocol.MAX_PAYLOAD_BYTES + " bytes within the message");
            return;
        }
        final int metadataPosition = position + 4 + payloadLength;
        // An encoder that stops after the payload sends no metadata: the same as empty metadata.
        final int metadataLength = version >= 3 && metadataPosition < end ?
            varLength(buffer, metadataPosition, end, 0, NodeProtocol.MAX_USER_METADATA_BYTES) : 0;
        if (metadataLength < 0)
        {
            conductor.onMalformed(clientId, correlationId, "AppendRequest.metadata must be 0.." +
                NodeProtocol.MAX_USER_METADATA_BYTES + " bytes within the message");
            return;
        }
        if (recordLength < 0 || recordLength > NodeProtocol.MAX_RECORD_BYTES || chunkOffset < 0)
        {
            conductor.onMalformed(clientId, correlationId, "AppendRequest.recordLengthBytes " + recordLength +
                " must be 0.." + NodeProtocol.MAX_RECORD_BYTES + " and chunkOffset " + chunkOffset + " at least 0");
            return;
        }
        conductor.onAppend(correlationId, clientId, extentId, expectedOffset, ownerRevision, requestId,
            0 == recordLength ? payloadLength : recordLength, chunkOffset, buffer, metadataPosition + 4, metadataLength,
            buffer, position + 4, payloadLength);
    }

    private void onReplicate(
        final DirectBuffer buffer, final int body, final int blockLength, final int version, final int end)
    {
        replicate.wrap(buffer, body, blockLength, version);
        final long correlationId = replicate.correlationId();
        final long clientId = replicate.clientId();
        final long extentId = replicate.extentId();
        final long blockOffset = replicate.blockOffset();
        final long ownerRevision = revision(replicate.ownerRevision());
        final int recordFlags = version >= 3 ? replicate.recordFlags() : BlockFormat.RECORD_WHOLE;
        final int position = body + blockLength;
        final int payloadLength = varLength(buffer, position, end, 1, NodeProtocol.MAX_PAYLOAD_BYTES);
        if (payloadLength < 0)
        {
            conductor.onMalformed(clientId, correlationId, "ReplicateRequest.payload must be 1.." +
                NodeProtocol.MAX_PAYLOAD_BYTES + " bytes within the message");
            return;
        }
        final int metadataPosition = position + 4 + payloadLength;
        // An encoder that stops after the payload sends no metadata: the same as empty metadata.
        final int metadataLength = version >= 3 && metadataPosition < end ?
            varLength(buffer, metadataPosition, end, 0, NodeProtocol.MAX_USER_METADATA_BYTES) : 0;
        if (metadataLength < 0 || !BlockFormat.validFraming(recordFlags, metadataLength))
        {
            conductor.onMalformed(clientId, correlationId, "ReplicateRequest.recordFlags " + recordFlags +
                " with metadata length " + metadataLength + " is not a valid block framing");
            return;
        }
        conductor.onReplicate(correlationId, clientId, extentId, blockOffset, ownerRevision, recordFlags, buffer,
            metadataPosition + 4, metadataLength, buffer, position + 4, payloadLength);
    }

    static String utf8(final DirectBuffer buffer, final int position, final int length)
    {
        final byte[] bytes = new byte[length];
        buffer.getBytes(position, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
