package io.cairn.replication;

import io.cairn.sbe.node.AppendRequestEncoder;
import io.cairn.sbe.node.AppendResponseDecoder;
import io.cairn.sbe.node.ConnectRequestEncoder;
import io.cairn.sbe.node.ErrorResponseDecoder;
import io.cairn.sbe.node.ExtentStatusRequestEncoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.OpenExtentRequestEncoder;
import io.cairn.sbe.node.OpenExtentResponseDecoder;
import io.cairn.sbe.node.ReadRequestEncoder;
import io.cairn.sbe.node.ReadResponseDecoder;
import io.cairn.sbe.node.ConnectResponseDecoder;
import io.cairn.sbe.node.ExtentStatusResponseDecoder;
import io.cairn.sbe.node.SealExtentRequestEncoder;
import io.cairn.sbe.node.SealExtentResponseDecoder;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;

/**
 * Encodes requests and decodes responses for tests (both the simulated and the Aeron ones).
 */
public final class TestClient
{
    /** A decoded response, with the fields tests look at. */
    public record Response(int templateId, long correlationId, String status, long blockOffset, long nextOffset,
        long commitLength, byte[] payload, String message, int recordFlags, byte[] metadata)
    {
        Response(final int templateId, final long correlationId, final String status, final long blockOffset,
            final long nextOffset, final long commitLength, final byte[] payload, final String message)
        {
            this(templateId, correlationId, status, blockOffset, nextOffset, commitLength, payload, message, 0, null);
        }
    }

    public final long clientId;
    public final String responseChannel;
    public final List<Response> responses = new ArrayList<>();
    /** Correlation ids of SealExtent answers from a replica holding the extent sealed. */
    public final java.util.Set<Long> sealedAnswers = new java.util.HashSet<>();
    private final java.util.Map<Long, Response> firstByCorrelationId = new java.util.HashMap<>();
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[2 * 1024 * 1024]);
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();
    private long nextCorrelationId = 1;

    public TestClient(final long clientId, final String responseChannel)
    {
        this.clientId = clientId;
        this.responseChannel = responseChannel;
    }

    public long nextCorrelationId()
    {
        return nextCorrelationId;
    }

    public byte[] connect()
    {
        final ConnectRequestEncoder e = new ConnectRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(nextCorrelationId++).clientId(clientId).responseStreamId(NodeProtocol.RESPONSE_STREAM_ID)
            .responseChannel(responseChannel);
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    public byte[] openExtent(final long extentId, final long streamId, final int[] nodeIds, final String[] endpoints)
    {
        return openExtent(extentId, streamId, nodeIds, endpoints, 0);
    }

    public byte[] openExtent(
        final long extentId, final long streamId, final int[] nodeIds, final String[] endpoints, final long ownerRevision)
    {
        final OpenExtentRequestEncoder e = new OpenExtentRequestEncoder().wrapAndApplyHeader(buffer, 0, header);
        final OpenExtentRequestEncoder.ReplicasEncoder r = e.correlationId(nextCorrelationId++).clientId(clientId)
            .extentId(extentId).streamId(streamId).forwarded((short)0).ownerRevision(ownerRevision).replicasCount(3);
        for (int i = 0; i < 3; i++)
        {
            r.next().nodeId(nodeIds[i]).endpoint(endpoints[i]);
        }
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    public byte[] append(final long extentId, final long expectedOffset, final byte[] payload)
    {
        return append(extentId, expectedOffset, payload, 0, 0);
    }

    public byte[] append(
        final long extentId, final long expectedOffset, final byte[] payload, final long ownerRevision, final long requestId)
    {
        final AppendRequestEncoder e = new AppendRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(nextCorrelationId++).clientId(clientId).extentId(extentId).expectedOffset(expectedOffset)
            .ownerRevision(ownerRevision).requestId(requestId).recordLengthBytes(payload.length).chunkOffset(0)
            .putPayload(payload, 0, payload.length);
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    /**
     * One chunk of a record, with a correlation id the caller chose (all chunks of a record share one).
     */
    public byte[] appendChunk(
        final long correlationId,
        final long extentId,
        final long requestId,
        final int recordLength,
        final int chunkOffset,
        final byte[] payload,
        final int payloadOffset,
        final int payloadLength,
        final byte[] metadata)
    {
        final AppendRequestEncoder e = new AppendRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId).clientId(clientId).extentId(extentId).expectedOffset(-1)
            .ownerRevision(0).requestId(requestId).recordLengthBytes(recordLength).chunkOffset(chunkOffset)
            .putPayload(payload, payloadOffset, payloadLength)
            .putMetadata(null == metadata ? new byte[0] : metadata, 0, null == metadata ? 0 : metadata.length);
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    /**
     * @return a fresh correlation id, for {@link #appendChunk}.
     */
    public long takeCorrelationId()
    {
        return nextCorrelationId++;
    }

    public byte[] seal(final long extentId, final long ownerRevision, final long sealLength)
    {
        final SealExtentRequestEncoder e = new SealExtentRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(nextCorrelationId++).clientId(clientId).extentId(extentId).ownerRevision(ownerRevision)
            .sealLength(sealLength);
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    public byte[] read(final long extentId, final long blockOffset)
    {
        final ReadRequestEncoder e = new ReadRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(nextCorrelationId++).clientId(clientId).extentId(extentId).blockOffset(blockOffset);
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    public byte[] extentStatus(final long extentId)
    {
        final ExtentStatusRequestEncoder e = new ExtentStatusRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(nextCorrelationId++).clientId(clientId).extentId(extentId);
        return copy(MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
    }

    private byte[] copy(final int length)
    {
        final byte[] bytes = new byte[length];
        buffer.getBytes(0, bytes);
        return bytes;
    }

    /**
     * Decode one response message and add it to {@link #responses}.
     *
     * @param b buffer holding exactly one message at offset.
     * @param offset where it starts.
     */
    public synchronized void onResponse(final org.agrona.DirectBuffer b, final int offset)
    {
        final MessageHeaderDecoder h = new MessageHeaderDecoder().wrap(b, offset);
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int bl = h.blockLength();
        final int v = h.version();
        final Response r = switch (h.templateId())
        {
            case ConnectResponseDecoder.TEMPLATE_ID ->
            {
                final ConnectResponseDecoder d = new ConnectResponseDecoder().wrap(b, body, bl, v);
                yield new Response(h.templateId(), d.correlationId(), d.status().name(), -1, -1, -1, null, "");
            }
            case OpenExtentResponseDecoder.TEMPLATE_ID ->
            {
                final OpenExtentResponseDecoder d = new OpenExtentResponseDecoder().wrap(b, body, bl, v);
                final long c = d.correlationId();
                d.extentId();
                final String s = d.status().name();
                final long cl = d.commitLength();
                yield new Response(h.templateId(), c, s, -1, -1, cl, null, d.errorMessage());
            }
            case AppendResponseDecoder.TEMPLATE_ID ->
            {
                final AppendResponseDecoder d = new AppendResponseDecoder().wrap(b, body, bl, v);
                final long c = d.correlationId();
                d.extentId();
                final String s = d.status().name();
                final long bo = d.blockOffset();
                final long no = d.nextOffset();
                yield new Response(h.templateId(), c, s, bo, no, -1, null, d.errorMessage());
            }
            case ReadResponseDecoder.TEMPLATE_ID ->
            {
                final ReadResponseDecoder d = new ReadResponseDecoder().wrap(b, body, bl, v);
                final long c = d.correlationId();
                d.extentId();
                final String s = d.status().name();
                final long bo = d.blockOffset();
                final long no = d.nextOffset();
                final long cl = d.commitLength();
                final int flags = d.recordFlags();
                final byte[] p = new byte[d.payloadLength()];
                d.getPayload(p, 0, p.length);
                final String error = d.errorMessage();
                final byte[] meta = new byte[d.metadataLength()];
                d.getMetadata(meta, 0, meta.length);
                yield new Response(h.templateId(), c, s, bo, no, cl, p, error, flags, meta);
            }
            case ErrorResponseDecoder.TEMPLATE_ID ->
            {
                final ErrorResponseDecoder d = new ErrorResponseDecoder().wrap(b, body, bl, v);
                final long c = d.correlationId();
                final String s = d.status().name();
                yield new Response(h.templateId(), c, s, -1, -1, -1, null, d.errorMessage());
            }
            case ExtentStatusResponseDecoder.TEMPLATE_ID ->
            {
                final ExtentStatusResponseDecoder d = new ExtentStatusResponseDecoder().wrap(b, body, bl, v);
                final long c = d.correlationId();
                d.nodeId();
                d.extentId();
                final String s = d.status().name();
                yield new Response(h.templateId(), c, s, -1, -1, d.commitLength(), null, "");
            }
            case SealExtentResponseDecoder.TEMPLATE_ID ->
            {
                final SealExtentResponseDecoder d = new SealExtentResponseDecoder().wrap(b, body, bl, v);
                final long c = d.correlationId();
                d.nodeId();
                d.extentId();
                final String s = d.status().name();
                final long cl = d.commitLength();
                if (d.isSealed() == 1)
                {
                    sealedAnswers.add(c);
                }
                yield new Response(h.templateId(), c, s, -1, -1, cl, null, d.errorMessage());
            }
            default -> new Response(h.templateId(), -1, "UNKNOWN_TEMPLATE", -1, -1, -1, null, "");
        };
        responses.add(r);
        firstByCorrelationId.putIfAbsent(r.correlationId(), r);
    }

    /**
     * @param correlationId of the request.
     * @return its response, or null.
     */
    public synchronized Response find(final long correlationId)
    {
        return firstByCorrelationId.get(correlationId);
    }
}
