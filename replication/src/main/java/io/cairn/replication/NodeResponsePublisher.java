package io.cairn.replication;

import io.aeron.DirectBufferVector;
import io.cairn.sbe.node.AppendResponseEncoder;
import io.cairn.sbe.node.ConnectResponseEncoder;
import io.cairn.sbe.node.ErrorResponseEncoder;
import io.cairn.sbe.node.ExtentStatusResponseEncoder;
import io.cairn.sbe.node.SealExtentResponseEncoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.NodeStatus;
import io.cairn.sbe.node.OpenExtentResponseEncoder;
import io.cairn.sbe.node.ReadResponseEncoder;
import io.cairn.sbe.node.ReplicateResponseEncoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Encodes the node's responses and offers them to a client's {@link MessageSink}.
 * <p>
 * Small responses are encoded into one reusable buffer; a read's payload is gathered straight from the
 * store's I/O buffer with a vectored offer, so it is not staged in between.
 */
final class NodeResponsePublisher
{
    private static final int ENCODE_BUFFER_BYTES = 4096;

    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(ENCODE_BUFFER_BYTES));
    private final UnsafeBuffer trailer =
        new UnsafeBuffer(ByteBuffer.allocateDirect(8 + NodeProtocol.MAX_USER_METADATA_BYTES));
    private final DirectBufferVector[] readVectors =
        { new DirectBufferVector(), new DirectBufferVector(), new DirectBufferVector() };
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();
    private final ConnectResponseEncoder connect = new ConnectResponseEncoder();
    private final OpenExtentResponseEncoder open = new OpenExtentResponseEncoder();
    private final AppendResponseEncoder append = new AppendResponseEncoder();
    private final ReplicateResponseEncoder replicate = new ReplicateResponseEncoder();
    private final ReadResponseEncoder read = new ReadResponseEncoder();
    private final ErrorResponseEncoder error = new ErrorResponseEncoder();
    private final ExtentStatusResponseEncoder status = new ExtentStatusResponseEncoder();
    private final SealExtentResponseEncoder seal = new SealExtentResponseEncoder();
    private final int retries;

    NodeResponsePublisher(final int retries)
    {
        this.retries = retries;
    }

    boolean connectResponse(final MessageSink sink, final long correlationId, final int nodeId, final NodeStatus code)
    {
        connect.wrapAndApplyHeader(buffer, 0, header).correlationId(correlationId).nodeId(nodeId).status(code);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength());
    }

    boolean openExtentResponse(
        final MessageSink sink,
        final long correlationId,
        final long extentId,
        final NodeStatus code,
        final long commitLength,
        final String message)
    {
        final byte[] bytes = Outbound.utf8(message);
        open.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .extentId(extentId)
            .status(code)
            .commitLength(commitLength)
            .putErrorMessage(bytes, 0, bytes.length);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + open.encodedLength());
    }

    boolean appendResponse(
        final MessageSink sink,
        final long correlationId,
        final long extentId,
        final NodeStatus code,
        final long blockOffset,
        final long nextOffset,
        final String message)
    {
        final byte[] bytes = Outbound.utf8(message);
        append.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .extentId(extentId)
            .status(code)
            .blockOffset(blockOffset)
            .nextOffset(nextOffset)
            .putErrorMessage(bytes, 0, bytes.length);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + append.encodedLength());
    }

    boolean replicateResponse(
        final MessageSink sink,
        final long correlationId,
        final int nodeId,
        final long extentId,
        final NodeStatus code,
        final long blockOffset,
        final long commitLength)
    {
        replicate.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .extentId(extentId)
            .status(code)
            .blockOffset(blockOffset)
            .commitLength(commitLength);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + replicate.encodedLength());
    }

    boolean readResponse(
        final MessageSink sink,
        final long correlationId,
        final long extentId,
        final NodeStatus code,
        final long blockOffset,
        final long nextOffset,
        final long commitLength,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final String message)
    {
        read.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .extentId(extentId)
            .status(code)
            .blockOffset(blockOffset)
            .nextOffset(nextOffset)
            .commitLength(commitLength);
        if (payloadLength == 0)
        {
            final byte[] bytes = Outbound.utf8(message);
            read.recordFlags((short)0);
            read.putPayload(Outbound.EMPTY, 0, 0).putErrorMessage(bytes, 0, bytes.length).putMetadata(Outbound.EMPTY, 0, 0);
            return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + read.encodedLength());
        }
        // The block header lies just before the payload in the store's buffer (ReplicaStore.Listener#onRead).
        final int blockStart = payloadOffset - BlockFormat.BLOCK_HEADER_LENGTH_BYTES;
        final int metadataLength = BlockFormat.metadataLength(payload, blockStart);
        read.recordFlags((short)BlockFormat.recordFlags(payload, blockStart));
        // Gathered: [header, fixed fields, payload length] [payload from the I/O buffer] [empty errorMessage,
        // metadata].
        final int lengthPosition = read.limit();
        buffer.putInt(lengthPosition, payloadLength, ByteOrder.LITTLE_ENDIAN);
        trailer.putInt(0, 0, ByteOrder.LITTLE_ENDIAN);
        trailer.putInt(4, metadataLength, ByteOrder.LITTLE_ENDIAN);
        trailer.putBytes(8, payload, blockStart + BlockFormat.METADATA_OFFSET, metadataLength);
        readVectors[0].reset(buffer, 0, lengthPosition + 4);
        readVectors[1].reset(payload, payloadOffset, payloadLength);
        readVectors[2].reset(trailer, 0, 8 + metadataLength);
        return Outbound.offer(sink, readVectors, retries);
    }

    boolean errorResponse(final MessageSink sink, final long correlationId, final NodeStatus code, final String message)
    {
        final byte[] bytes = Outbound.utf8(message);
        error.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .status(code)
            .putErrorMessage(bytes, 0, bytes.length);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + error.encodedLength());
    }

    boolean extentStatusResponse(
        final MessageSink sink,
        final long correlationId,
        final int nodeId,
        final long extentId,
        final NodeStatus code,
        final long commitLength,
        final boolean sealed,
        final long ownerRevision)
    {
        status.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .extentId(extentId)
            .status(code)
            .commitLength(commitLength)
            .isSealed((short)(sealed ? 1 : 0))
            .ownerRevision(ownerRevision);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + status.encodedLength());
    }

    boolean sealExtentResponse(
        final MessageSink sink,
        final long correlationId,
        final int nodeId,
        final long extentId,
        final NodeStatus code,
        final long commitLength,
        final boolean sealed,
        final String message)
    {
        final byte[] bytes = Outbound.utf8(message);
        seal.wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .extentId(extentId)
            .status(code)
            .commitLength(commitLength)
            .isSealed((short)(sealed ? 1 : 0))
            .putErrorMessage(bytes, 0, bytes.length);
        return send(sink, MessageHeaderEncoder.ENCODED_LENGTH + seal.encodedLength());
    }

    private boolean send(final MessageSink sink, final int length)
    {
        return Outbound.offer(sink, buffer, length, retries);
    }
}
