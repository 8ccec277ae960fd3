package io.cairn.client;

import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.AppendRequestEncoder;
import io.cairn.sbe.node.ConnectRequestEncoder;
import io.cairn.sbe.node.ExtentStatusRequestEncoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.OpenExtentRequestEncoder;
import io.cairn.sbe.node.ReadRequestEncoder;
import io.cairn.sbe.node.SealExtentRequestEncoder;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Encodes the client's requests to one extent node and offers them on that node's request channel, and holds the
 * state of the client's session with that node ({@link NodeSessions} drives it).
 * One instance per node the client talks to; all encoders and the buffer are shared by the client thread.
 */
final class ExtentNodeProxy implements AutoCloseable
{
    /** Where the client's session with the node stands. */
    enum SessionState
    {
        /** The publication to the node is being added by the media driver (asynchronously). */
        ADDING_PUBLICATION,
        /** The publication exists; no handshake yet, or the last one is void (a request to the node timed out). */
        NOT_CONNECTED,
        /** The Connect request is encoded and offered until the publication connects and takes it. */
        SENDING_CONNECT,
        /** The Connect request is sent; waiting for its answer. */
        AWAITING_CONNECT,
        /** The node answered the Connect: requests may go. */
        CONNECTED,
        /** The last handshake failed (time-out, refusal, bad endpoint); see {@link #connectFailure()}. */
        FAILED
    }

    private final int nodeId;
    private final String endpoint;
    private final SealExtentRequestEncoder sealEncoder = new SealExtentRequestEncoder();
    private long registrationId;
    private ExclusivePublication publication;
    private final MutableDirectBuffer buffer;
    /** The proxy's own buffer for the Connect request: it is offered repeatedly while other requests use buffer. */
    private final UnsafeBuffer connectBuffer;
    private int connectLengthBytes;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ConnectRequestEncoder connectEncoder = new ConnectRequestEncoder();
    private final OpenExtentRequestEncoder openEncoder = new OpenExtentRequestEncoder();
    private final AppendRequestEncoder appendEncoder = new AppendRequestEncoder();
    private final ReadRequestEncoder readEncoder = new ReadRequestEncoder();
    private final ExtentStatusRequestEncoder statusEncoder = new ExtentStatusRequestEncoder();
    private SessionState sessionState = SessionState.ADDING_PUBLICATION;
    private long connectCorrelationId = Long.MIN_VALUE;
    private long connectDeadlineNs;
    private long connectFailedAtNs;
    private NodeStatus connectStatus;
    private String connectFailure = "";
    private long lastUsedNs;
    private long useSequence;

    /**
     * @param registrationId the media driver registration of the publication to the node, added asynchronously.
     * @param responseChannel the client's response channel, for the Connect request.
     */
    ExtentNodeProxy(
        final int nodeId,
        final String endpoint,
        final long registrationId,
        final MutableDirectBuffer buffer,
        final String responseChannel)
    {
        this.nodeId = nodeId;
        this.endpoint = endpoint;
        this.registrationId = registrationId;
        this.buffer = buffer;
        this.connectBuffer = new UnsafeBuffer(new byte[MessageHeaderEncoder.ENCODED_LENGTH +
            ConnectRequestEncoder.BLOCK_LENGTH + ConnectRequestEncoder.responseChannelHeaderLength() +
            responseChannel.length() * 4]);
    }

    long registrationId()
    {
        return registrationId;
    }

    boolean hasPublication()
    {
        return null != publication;
    }

    /**
     * @param registrationId a new asynchronous add of the publication, after the last one failed.
     * @param deadlineNs     when the handshake that waits for it gives up.
     */
    void publicationAdding(final long registrationId, final long deadlineNs)
    {
        this.registrationId = registrationId;
        this.sessionState = SessionState.ADDING_PUBLICATION;
        connectDeadline(deadlineNs);
    }

    /**
     * @param deadlineNs when the handshake under way gives up (set while the publication is still being added).
     */
    void connectDeadline(final long deadlineNs)
    {
        connectDeadlineNs = deadlineNs;
        connectStatus = null;
        connectFailure = "";
    }

    /**
     * @param publication the publication the media driver added; the session can now hand-shake.
     */
    void publication(final ExclusivePublication publication)
    {
        this.publication = publication;
        this.sessionState = SessionState.NOT_CONNECTED;
    }

    SessionState sessionState()
    {
        return sessionState;
    }

    /**
     * Encodes a Connect into the proxy's own buffer; {@link #offerConnect()} then sends it.
     */
    void startConnect(
        final long correlationId, final long clientId, final int responseStreamId, final String responseChannel,
        final long deadlineNs)
    {
        connectEncoder.wrapAndApplyHeader(connectBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .clientId(clientId)
            .responseStreamId(responseStreamId)
            .responseChannel(responseChannel);
        connectLengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + connectEncoder.encodedLength();
        connectCorrelationId = correlationId;
        connectDeadlineNs = deadlineNs;
        connectStatus = null;
        connectFailure = "";
        sessionState = SessionState.SENDING_CONNECT;
    }

    /**
     * @return Aeron's result for the encoded Connect; on success the session awaits the answer.
     */
    long offerConnect()
    {
        final long result = publication.offer(connectBuffer, 0, connectLengthBytes);
        if (result >= 0)
        {
            sessionState = SessionState.AWAITING_CONNECT;
        }
        return result;
    }

    long connectCorrelationId()
    {
        return connectCorrelationId;
    }

    long connectDeadlineNs()
    {
        return connectDeadlineNs;
    }

    /** Records the node's OK to the Connect. */
    void connected()
    {
        sessionState = SessionState.CONNECTED;
    }

    /**
     * @param status  the node's answer, or null for a time-out or a local failure.
     * @param failure what went wrong, for the caller's error message.
     * @param nowNs   now.
     */
    void connectFailed(final NodeStatus status, final String failure, final long nowNs)
    {
        sessionState = SessionState.FAILED;
        connectStatus = status;
        connectFailure = failure;
        connectFailedAtNs = nowNs;
    }

    NodeStatus connectStatus()
    {
        return connectStatus;
    }

    String connectFailure()
    {
        return connectFailure;
    }

    long connectFailedAtNs()
    {
        return connectFailedAtNs;
    }

    /** Marks the session used now; the least recently used one is closed first when the limit is reached. */
    void touch(final long nowNs, final long sequence)
    {
        lastUsedNs = nowNs;
        useSequence = sequence;
    }

    long lastUsedNs()
    {
        return lastUsedNs;
    }

    long useSequence()
    {
        return useSequence;
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
        return null != publication && publication.isConnected();
    }

    boolean handshakeDone()
    {
        return SessionState.CONNECTED == sessionState;
    }

    /**
     * @param done must be false: voids the session (a request got no answer: the node may have lost it, e.g. it
     *             restarted), so the next use hand-shakes again. A session comes up only through {@link #connected()}.
     */
    void handshakeDone(final boolean done)
    {
        Verify.verify(!done, "a session comes up only through the node's answer to its Connect");
        if (SessionState.CONNECTED == sessionState)
        {
            sessionState = SessionState.NOT_CONNECTED;
        }
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
        if (null == publication)
        {
            return Publication.NOT_CONNECTED; // still being added: as a publication not yet connected
        }
        return publication.offer(buffer, 0, lengthBytes);
    }

    static boolean isRetryable(final long offerResult)
    {
        return offerResult == Publication.BACK_PRESSURED ||
            offerResult == Publication.ADMIN_ACTION ||
            offerResult == Publication.NOT_CONNECTED;
    }

    /**
     * Closes the publication; one still being added is removed by the caller through its registration id.
     */
    public void close()
    {
        CloseHelper.quietClose(publication);
    }
}
