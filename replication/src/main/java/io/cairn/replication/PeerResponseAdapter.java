package io.cairn.replication;

import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.cairn.sbe.node.ConnectResponseDecoder;
import io.cairn.sbe.node.ErrorResponseDecoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.NodeStatus;
import io.cairn.sbe.node.OpenExtentResponseDecoder;
import io.cairn.sbe.node.ReplicateResponseDecoder;
import org.agrona.DirectBuffer;

/**
 * Decodes the responses a primary receives from its secondaries (on its own response stream) and hands
 * them to the {@link ReplicationConductor}. Anything malformed is counted and dropped.
 */
public final class PeerResponseAdapter implements FragmentHandler
{
    private final ReplicationConductor conductor;
    private final MessageHeaderDecoder header = new MessageHeaderDecoder();
    private final ConnectResponseDecoder connect = new ConnectResponseDecoder();
    private final OpenExtentResponseDecoder open = new OpenExtentResponseDecoder();
    private final ReplicateResponseDecoder replicate = new ReplicateResponseDecoder();
    private final ErrorResponseDecoder error = new ErrorResponseDecoder();

    /**
     * @param conductor receives decoded responses.
     */
    public PeerResponseAdapter(final ReplicationConductor conductor)
    {
        this.conductor = conductor;
    }

    /** {@inheritDoc} */
    public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header h)
    {
        onMessage(buffer, offset, length);
    }

    /**
     * @param buffer holding one whole message.
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
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID || body + blockLength > end)
        {
            conductor.onUndecodable();
            return;
        }
        if (templateId == ReplicateResponseDecoder.TEMPLATE_ID && blockLength >= ReplicateResponseDecoder.BLOCK_LENGTH)
        {
            replicate.wrap(buffer, body, blockLength, version);
            conductor.onPeerReplicateResponse(replicate.correlationId(), replicate.nodeId(), replicate.extentId(),
                replicate.status(), replicate.blockOffset(), replicate.commitLength());
        }
        else if (templateId == ConnectResponseDecoder.TEMPLATE_ID && blockLength >= ConnectResponseDecoder.BLOCK_LENGTH)
        {
            connect.wrap(buffer, body, blockLength, version);
            conductor.onPeerConnectResponse(connect.correlationId(), connect.nodeId(), connect.status());
        }
        else if (templateId == OpenExtentResponseDecoder.TEMPLATE_ID &&
            blockLength >= OpenExtentResponseDecoder.BLOCK_LENGTH)
        {
            onOpenResponse(buffer, body, blockLength, version, end);
        }
        else if (templateId == ErrorResponseDecoder.TEMPLATE_ID && blockLength >= ErrorResponseDecoder.BLOCK_LENGTH)
        {
            error.wrap(buffer, body, blockLength, version);
            conductor.onPeerErrorResponse(error.correlationId(), error.status());
        }
        else
        {
            conductor.onUndecodable();
        }
    }

    private void onOpenResponse(
        final DirectBuffer buffer, final int body, final int blockLength, final int version, final int end)
    {
        open.wrap(buffer, body, blockLength, version);
        final long correlationId = open.correlationId();
        final long extentId = open.extentId();
        final NodeStatus status = open.status();
        final long commitLength = open.commitLength();
        final int position = body + blockLength;
        final int messageLength = NodeRequestAdapter.varLength(buffer, position, end, 0, 4096);
        final String message = messageLength > 0 ? NodeRequestAdapter.utf8(buffer, position + 4, messageLength) : "";
        conductor.onPeerOpenExtentResponse(correlationId, extentId, status, commitLength, message);
    }
}
