package io.cairn.client;

import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.AppendResponseDecoder;
import io.cairn.sbe.node.ConnectResponseDecoder;
import io.cairn.sbe.node.ErrorResponseDecoder;
import io.cairn.sbe.node.ExtentStatusResponseDecoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.NodeStatus;
import io.cairn.sbe.node.OpenExtentResponseDecoder;
import io.cairn.sbe.node.ReadResponseDecoder;
import io.cairn.sbe.node.SealExtentResponseDecoder;
import org.agrona.DirectBuffer;

/**
 * Decodes extent node responses arriving on the client's response subscription and captures the one
 * the client is waiting for. Responses to earlier, abandoned requests are counted and dropped.
 * <p>
 * The client has one request outstanding at a time, so one capture slot is enough; a hedged read sends the same read
 * to up to all replicas under a range of consecutive correlation ids reserved for it, and the slot takes the first
 * answer from that range; the client may then re-arm it for the others ({@link #awaitOthers()}), and answers after
 * the read is over are stale. Connect answers do not use the slot: they go to the {@link ConnectListener}, which
 * opens sessions while other requests are outstanding.
 */
final class NodeResponseAdapter implements FragmentHandler
{
    /**
     * Takes the answers to Connect requests.
     */
    interface ConnectListener
    {
        /**
         * @param correlationId the Connect's correlation id.
         * @param nodeId        the node that answered.
         * @param status        its answer.
         * @return false when no session was waiting for this answer (it is then counted stale).
         */
        boolean onConnectResponse(long correlationId, int nodeId, NodeStatus status);
    }

    /** Most correlation ids one awaited range may span: the bits of {@link #answeredMask}. */
    static final int MAX_AWAITED_IDS = Long.SIZE;

    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ConnectResponseDecoder connectDecoder = new ConnectResponseDecoder();
    private final OpenExtentResponseDecoder openDecoder = new OpenExtentResponseDecoder();
    private final AppendResponseDecoder appendDecoder = new AppendResponseDecoder();
    private final ReadResponseDecoder readDecoder = new ReadResponseDecoder();
    private final org.agrona.concurrent.UnsafeBuffer metadataScratch =
        new org.agrona.concurrent.UnsafeBuffer(new byte[NodeProtocol.MAX_USER_METADATA_BYTES]);
    private final ExtentStatusResponseDecoder statusDecoder = new ExtentStatusResponseDecoder();
    private final ErrorResponseDecoder errorDecoder = new ErrorResponseDecoder();
    private final SealExtentResponseDecoder sealDecoder = new SealExtentResponseDecoder();

    private final ConnectListener connectListener;
    private long awaitedCorrelationId = Long.MIN_VALUE;
    private int awaitedCount;
    /** Bit i: the answer to awaitedCorrelationId + i was captured already; a second one is stale. */
    private long answeredMask;
    private int answeredIndex = -1;
    private boolean received;
    private NodeStatus status;
    private String errorMessage;
    private long blockOffset;
    private long nextOffset;
    private long commitLength;
    private boolean sealed;
    private long ownerRevision;
    private long staleResponses;
    private long malformedResponses;
    private ReadResult readResult;

    NodeResponseAdapter(final ConnectListener connectListener)
    {
        this.connectListener = connectListener;
    }

    void await(final long correlationId, final ReadResult readResult)
    {
        awaitAny(correlationId, 1, readResult);
    }

    /**
     * Awaits the first answer to any of {@code count} requests with the correlation ids
     * {@code [firstCorrelationId, firstCorrelationId + count)}: the replicas a read may ask.
     */
    void awaitAny(final long firstCorrelationId, final int count, final ReadResult readResult)
    {
        if (count < 1 || count > MAX_AWAITED_IDS)
        {
            throw new IllegalArgumentException("count=" + count + " must be in [1, " + MAX_AWAITED_IDS + "]");
        }
        this.awaitedCorrelationId = firstCorrelationId;
        this.awaitedCount = count;
        this.answeredMask = 0;
        this.answeredIndex = -1;
        this.readResult = readResult;
        this.received = false;
        this.status = null;
        this.errorMessage = "";
    }

    /**
     * Re-arms the slot after the captured answer was found wanting: the range's other ids are still awaited, the
     * one answered is not (a second answer under it is stale).
     */
    void awaitOthers()
    {
        this.received = false;
        this.status = null;
        this.errorMessage = "";
    }

    /** @return the captured answer's index in the awaited range (its correlation id minus the first). */
    int answeredIndex()
    {
        return answeredIndex;
    }

    boolean received()
    {
        return received;
    }

    NodeStatus status()
    {
        return status;
    }

    String errorMessage()
    {
        return errorMessage;
    }

    long blockOffset()
    {
        return blockOffset;
    }

    long nextOffset()
    {
        return nextOffset;
    }

    long commitLength()
    {
        return commitLength;
    }

    /** @return from an ExtentStatus or SealExtent answer: whether the replica holds the extent sealed. */
    boolean sealed()
    {
        return sealed;
    }

    /** @return from an ExtentStatus answer: the highest owner revision the replica has seen. */
    long ownerRevision()
    {
        return ownerRevision;
    }

    long staleResponses()
    {
        return staleResponses;
    }

    long malformedResponses()
    {
        return malformedResponses;
    }

    public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            malformedResponses++;
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            malformedResponses++;
            return;
        }
        final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int blockLength = headerDecoder.blockLength();
        final int version = headerDecoder.version();
        try
        {
            switch (headerDecoder.templateId())
            {
                case ConnectResponseDecoder.TEMPLATE_ID ->
                {
                    connectDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    if (!connectListener.onConnectResponse(
                        connectDecoder.correlationId(), connectDecoder.nodeId(), connectDecoder.status()))
                    {
                        staleResponses++;
                    }
                }
                case OpenExtentResponseDecoder.TEMPLATE_ID ->
                {
                    openDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    if (matches(openDecoder.correlationId()))
                    {
                        final NodeStatus s = openDecoder.status();
                        final long commit = openDecoder.commitLength();
                        complete(s, s == NodeStatus.OK ? "" : openDecoder.errorMessage(), -1, -1, commit);
                    }
                }
                case AppendResponseDecoder.TEMPLATE_ID ->
                {
                    appendDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    if (matches(appendDecoder.correlationId()))
                    {
                        final NodeStatus s = appendDecoder.status();
                        final long blockOffset = appendDecoder.blockOffset();
                        final long next = appendDecoder.nextOffset();
                        // Only failures carry text: decoding it for every OK would allocate on the append path.
                        complete(s, s == NodeStatus.OK ? "" : appendDecoder.errorMessage(), blockOffset, next, next);
                    }
                }
                case ReadResponseDecoder.TEMPLATE_ID -> onReadResponse(buffer, bodyOffset, blockLength, version);
                case ExtentStatusResponseDecoder.TEMPLATE_ID ->
                {
                    statusDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    if (matches(statusDecoder.correlationId()))
                    {
                        final NodeStatus s = statusDecoder.status();
                        final long commit = statusDecoder.commitLength();
                        sealed = version >= 2 && statusDecoder.isSealed() == 1;
                        ownerRevision = version >= 2 ? Math.max(0, statusDecoder.ownerRevision()) : 0;
                        complete(s, "", -1, -1, commit);
                    }
                }
                case SealExtentResponseDecoder.TEMPLATE_ID ->
                {
                    sealDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    if (matches(sealDecoder.correlationId()))
                    {
                        sealDecoder.nodeId();
                        sealDecoder.extentId();
                        final NodeStatus s = sealDecoder.status();
                        final long commit = sealDecoder.commitLength();
                        sealed = sealDecoder.isSealed() == 1;
                        complete(s, sealDecoder.errorMessage(), -1, -1, commit);
                    }
                }
                case ErrorResponseDecoder.TEMPLATE_ID ->
                {
                    errorDecoder.wrap(buffer, bodyOffset, blockLength, version);
                    if (matches(errorDecoder.correlationId()))
                    {
                        complete(errorDecoder.status(), errorDecoder.errorMessage(), -1, -1, -1);
                    }
                }
                default -> malformedResponses++;
            }
        }
        catch (final IndexOutOfBoundsException | IllegalStateException ex)
        {
            // A truncated or out-of-order message from a node must not kill the client.
            malformedResponses++;
        }
    }

    private void onReadResponse(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        readDecoder.wrap(buffer, bodyOffset, blockLength, version);
        if (!matches(readDecoder.correlationId()))
        {
            return;
        }
        final NodeStatus s = readDecoder.status();
        final long blockOffset = readDecoder.blockOffset();
        final long next = readDecoder.nextOffset();
        final long commit = readDecoder.commitLength();
        final int payloadLength = readDecoder.payloadLength();
        final int recordFlags = version >= 3 ? readDecoder.recordFlags() : BlockFormat.RECORD_WHOLE;
        if (null != readResult)
        {
            readResult.payloadBuffer().checkLimit(payloadLength);
            readDecoder.getPayload(readResult.payloadBuffer(), 0, payloadLength);
            readResult.set(payloadLength, blockOffset, next, commit);
        }
        else
        {
            readDecoder.skipPayload();
        }
        final String error = readDecoder.errorMessage();
        if (null != readResult)
        {
            final int metadataLength = version >= 3 ? readDecoder.metadataLength() : 0;
            if (metadataLength > NodeProtocol.MAX_USER_METADATA_BYTES)
            {
                malformedResponses++;
                return;
            }
            if (metadataLength > 0)
            {
                readDecoder.getMetadata(metadataScratch, 0, metadataLength);
            }
            readResult.record(recordFlags, metadataScratch, 0, metadataLength);
        }
        complete(s, s == NodeStatus.OK ? "" : error, blockOffset, next, commit);
    }

    private boolean matches(final long correlationId)
    {
        final long index = correlationId - awaitedCorrelationId;
        if (received || index < 0 || index >= awaitedCount || 0 != (answeredMask & (1L << index)))
        {
            staleResponses++;
            return false;
        }
        answeredIndex = (int)index;
        answeredMask |= 1L << index;
        return true;
    }

    private void complete(
        final NodeStatus status, final String errorMessage, final long blockOffset, final long nextOffset, final long commitLength)
    {
        this.status = status;
        this.errorMessage = errorMessage;
        this.blockOffset = blockOffset;
        this.nextOffset = nextOffset;
        this.commitLength = commitLength;
        this.received = true;
    }
}
