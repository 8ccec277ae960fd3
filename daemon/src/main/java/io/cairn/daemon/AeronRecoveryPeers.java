package io.cairn.daemon;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.ConnectRequestEncoder;
import io.cairn.sbe.node.ConnectResponseDecoder;
import io.cairn.sbe.node.ErrorResponseDecoder;
import io.cairn.sbe.node.ExtentStatusRequestEncoder;
import io.cairn.sbe.node.ExtentStatusResponseDecoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.NodeStatus;
import io.cairn.sbe.node.OpenExtentRequestEncoder;
import io.cairn.sbe.node.OpenExtentResponseDecoder;
import io.cairn.sbe.node.ReadRequestEncoder;
import io.cairn.sbe.node.ReadResponseDecoder;
import io.cairn.sbe.node.ReplicateRequestEncoder;
import io.cairn.sbe.node.ReplicateResponseDecoder;
import io.cairn.sbe.node.SealExtentRequestEncoder;
import io.cairn.sbe.node.SealExtentResponseDecoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@link RecoveryPeers} over Aeron: the recovery worker is an ordinary client of the extent nodes, with its own
 * Aeron client on the node's media driver, its own response subscription and one publication per node it talks to.
 * One request is outstanding at a time, so one capture slot suffices; answers to abandoned requests are dropped by
 * correlation id. Not thread-safe: the recovery thread alone uses it.
 */
final class AeronRecoveryPeers implements RecoveryPeers
{
    /** Fragments taken per poll of the response subscription. */
    private static final int FRAGMENT_LIMIT = 16;

    private final NanoClock clock;
    private final long timeoutNs;
    private final long clientId = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
    private final Aeron aeron;
    private final Subscription responses;
    private final String responseChannel;
    private final IdleStrategy idle = AeronDefaults.controlIdleStrategy();
    private final Int2ObjectHashMap<Peer> peers = new Int2ObjectHashMap<>();
    // Room for the largest replicate plus headers: encoding never grows the buffer.
    private final UnsafeBuffer sendBuffer =
        new UnsafeBuffer(ByteBuffer.allocateDirect(NodeProtocol.MAX_PAYLOAD_BYTES + 4096));
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ConnectRequestEncoder connectEncoder = new ConnectRequestEncoder();
    private final ExtentStatusRequestEncoder statusEncoder = new ExtentStatusRequestEncoder();
    private final SealExtentRequestEncoder sealEncoder = new SealExtentRequestEncoder();
    private final ReadRequestEncoder readEncoder = new ReadRequestEncoder();
    private final OpenExtentRequestEncoder openEncoder = new OpenExtentRequestEncoder();
    private final ReplicateRequestEncoder replicateEncoder = new ReplicateRequestEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ConnectResponseDecoder connectDecoder = new ConnectResponseDecoder();
    private final ExtentStatusResponseDecoder statusDecoder = new ExtentStatusResponseDecoder();
    private final SealExtentResponseDecoder sealDecoder = new SealExtentResponseDecoder();
    private final ReadResponseDecoder readDecoder = new ReadResponseDecoder();
    private final OpenExtentResponseDecoder openDecoder = new OpenExtentResponseDecoder();
    private final ReplicateResponseDecoder replicateDecoder = new ReplicateResponseDecoder();
    private final ErrorResponseDecoder errorDecoder = new ErrorResponseDecoder();
    private final FragmentAssembler assembler = new FragmentAssembler(this::onFragment);

    private long nextCorrelationId = 1;
    private long awaited = Long.MIN_VALUE;
    private boolean received;
    private NodeStatus status;
    private long commitLength;
    private boolean sealed;
    private long ownerRevision;
    private static final UnsafeBuffer EMPTY = new UnsafeBuffer(new byte[0]);
    private long nextOffset;
    private int payloadLengthBytes;
    private int readRecordFlags = BlockFormat.RECORD_WHOLE;
    private final UnsafeBuffer readMetadata = new UnsafeBuffer(new byte[NodeProtocol.MAX_USER_METADATA_BYTES]);
    private int readMetadataLength;
    private String errorMessage = "";
    private MutableDirectBuffer readInto;

    private static final class Peer
    {
        final String endpoint;
        final ExclusivePublication publication;
        boolean handshakeDone;

        Peer(final String endpoint, final ExclusivePublication publication)
        {
            this.endpoint = endpoint;
            this.publication = publication;
        }
    }

    /**
     * @param aeronDirectoryName the node's media driver.
     * @param responseHost       host this node's responses are sent to (the node's own endpoint host).
     * @param timeoutNs          per request.
     * @param clock              time source.
     */
    AeronRecoveryPeers(
        final String aeronDirectoryName, final String responseHost, final long timeoutNs, final NanoClock clock)
    {
        this.clock = clock;
        this.timeoutNs = timeoutNs;
        Aeron aeron = null;
        Subscription responses = null;
        try
        {
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectoryName));
            responses = aeron.addSubscription(
                "aeron:udp?endpoint=" + responseHost + ":0", NodeProtocol.RESPONSE_STREAM_ID);
            final long deadlineNs = clock.nanoTime() + timeoutNs;
            String resolved;
            while (null == (resolved = responses.tryResolveChannelEndpointPort()))
            {
                if (clock.nanoTime() - deadlineNs > 0)
                {
                    throw new IllegalStateException("recovery: could not bind a response port on " + responseHost);
                }
                idle.idle();
            }
            this.responseChannel = resolved;
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(responses, aeron);
            throw ex;
        }
        this.aeron = aeron;
        this.responses = responses;
    }

    public NodeStatus extentStatus(final int nodeId, final String endpoint, final long extentId)
    {
        final Peer peer = connected(nodeId, endpoint);
        if (null == peer)
        {
            return null;
        }
        final long correlationId = nextCorrelationId++;
        statusEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId).clientId(clientId).extentId(extentId);
        return request(peer, MessageHeaderEncoder.ENCODED_LENGTH + statusEncoder.encodedLength(), correlationId);
    }

    public NodeStatus seal(
        final int nodeId, final String endpoint, final long extentId, final long ownerRevision, final long sealLength)
    {
        final Peer peer = connected(nodeId, endpoint);
        if (null == peer)
        {
            return null;
        }
        final long correlationId = nextCorrelationId++;
        sealEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId).clientId(clientId).extentId(extentId).ownerRevision(ownerRevision)
            .sealLength(sealLength);
        return request(peer, MessageHeaderEncoder.ENCODED_LENGTH + sealEncoder.encodedLength(), correlationId);
    }

    public NodeStatus read(
        final int nodeId, final String endpoint, final long extentId, final long blockOffset,
        final MutableDirectBuffer payload)
    {
        final Peer peer = connected(nodeId, endpoint);
        if (null == peer)
        {
            return null;
        }
        final long correlationId = nextCorrelationId++;
        readEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId).clientId(clientId).extentId(extentId).blockOffset(blockOffset);
        readInto = payload;
        try
        {
            return request(peer, MessageHeaderEncoder.ENCODED_LENGTH + readEncoder.encodedLength(), correlationId);
        }
        finally
        {
            readInto = null;
        }
    }

    public NodeStatus openSecondary(
        final int nodeId, final String endpoint, final long extentId, final long streamId, final long ownerRevision,
        final int[] replicas, final String[] endpoints)
    {
        final Peer peer = connected(nodeId, endpoint);
        if (null == peer)
        {
            return null;
        }
        final long correlationId = nextCorrelationId++;
        final OpenExtentRequestEncoder.ReplicasEncoder group = openEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId).clientId(clientId).extentId(extentId).streamId(streamId)
            .forwarded((short)1).ownerRevision(ownerRevision).replicasCount(replicas.length);
        for (int i = 0; i < replicas.length; i++)
        {
            group.next().nodeId(replicas[i]).endpoint(endpoints[i]);
        }
        return request(peer, MessageHeaderEncoder.ENCODED_LENGTH + openEncoder.encodedLength(), correlationId);
    }

    public NodeStatus replicate(
        final int nodeId, final String endpoint, final long extentId, final long blockOffset, final long ownerRevision,
        final DirectBuffer payload, final int lengthBytes)
    {
        return replicate(nodeId, endpoint, extentId, blockOffset, ownerRevision, BlockFormat.RECORD_WHOLE, null, 0,
            payload, lengthBytes);
    }

    public NodeStatus replicate(
        final int nodeId, final String endpoint, final long extentId, final long blockOffset, final long ownerRevision,
        final int recordFlags, final DirectBuffer metadata, final int metadataLength, final DirectBuffer payload,
        final int lengthBytes)
    {
        final Peer peer = connected(nodeId, endpoint);
        if (null == peer)
        {
            return null;
        }
        final long correlationId = nextCorrelationId++;
        replicateEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId).clientId(clientId).extentId(extentId).blockOffset(blockOffset)
            .ownerRevision(ownerRevision).recordFlags((short)recordFlags).putPayload(payload, 0, lengthBytes)
            .putMetadata(null == metadata ? EMPTY : metadata, 0, metadataLength);
        return request(peer, MessageHeaderEncoder.ENCODED_LENGTH + replicateEncoder.encodedLength(), correlationId);
    }

    public long commitLength()
    {
        return commitLength;
    }

    public boolean sealed()
    {
        return sealed;
    }

    public long ownerRevision()
    {
        return ownerRevision;
    }

    public long nextOffset()
    {
        return nextOffset;
    }

    public int payloadLengthBytes()
    {
        return payloadLengthBytes;
    }

    public int recordFlags()
    {
        return readRecordFlags;
    }

    public DirectBuffer metadata()
    {
        return readMetadata;
    }

    public int metadataLength()
    {
        return readMetadataLength;
    }

    public String errorMessage()
    {
        return errorMessage;
    }

    /** @return the peer after a successful Connect handshake, or null when it did not answer in time. */
    private Peer connected(final int nodeId, final String endpoint)
    {
        Peer peer = peers.get(nodeId);
        if (null != peer && !peer.endpoint.equals(endpoint))
        {
            peers.remove(nodeId);
            CloseHelper.quietClose(peer.publication);
            peer = null;
        }
        if (null == peer)
        {
            peer = new Peer(endpoint, aeron.addExclusivePublication(
                NodeProtocol.channel(endpoint), NodeProtocol.REQUEST_STREAM_ID));
            peers.put(nodeId, peer);
        }
        if (!peer.handshakeDone)
        {
            final long correlationId = nextCorrelationId++;
            connectEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
                .correlationId(correlationId).clientId(clientId).responseStreamId(NodeProtocol.RESPONSE_STREAM_ID)
                .responseChannel(responseChannel);
            final NodeStatus s = request(
                peer, MessageHeaderEncoder.ENCODED_LENGTH + connectEncoder.encodedLength(), correlationId);
            if (NodeStatus.OK != s)
            {
                return null;
            }
            peer.handshakeDone = true;
        }
        return peer;
    }

    private NodeStatus request(final Peer peer, final int lengthBytes, final long correlationId)
    {
        awaited = correlationId;
        received = false;
        status = null;
        errorMessage = "";
        final long deadlineNs = clock.nanoTime() + timeoutNs;
        idle.reset();
        long result;
        while ((result = peer.publication.offer(sendBuffer, 0, lengthBytes)) < 0)
        {
            final boolean retryable = result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION ||
                result == Publication.NOT_CONNECTED;
            if (!retryable || clock.nanoTime() - deadlineNs > 0)
            {
                peer.handshakeDone = false;
                return null;
            }
            idle.idle(responses.poll(assembler, FRAGMENT_LIMIT));
        }
        idle.reset();
        while (!received)
        {
            final int work = responses.poll(assembler, FRAGMENT_LIMIT);
            if (0 == work && clock.nanoTime() - deadlineNs > 0)
            {
                peer.handshakeDone = false; // a node that restarted forgot our session: connect again next time
                return null;
            }
            idle.idle(work);
        }
        return status;
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            return;
        }
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int blockLength = headerDecoder.blockLength();
        final int version = headerDecoder.version();
        try
        {
            switch (headerDecoder.templateId())
            {
                case ConnectResponseDecoder.TEMPLATE_ID ->
                {
                    connectDecoder.wrap(buffer, body, blockLength, version);
                    if (connectDecoder.correlationId() == awaited)
                    {
                        complete(connectDecoder.status(), -1);
                    }
                }
                case ExtentStatusResponseDecoder.TEMPLATE_ID ->
                {
                    statusDecoder.wrap(buffer, body, blockLength, version);
                    if (statusDecoder.correlationId() == awaited)
                    {
                        final NodeStatus s = statusDecoder.status();
                        final long commit = statusDecoder.commitLength();
                        sealed = version >= 2 && statusDecoder.isSealed() == 1;
                        ownerRevision = version >= 2 ? Math.max(0, statusDecoder.ownerRevision()) : 0;
                        complete(s, commit);
                    }
                }
                case SealExtentResponseDecoder.TEMPLATE_ID ->
                {
                    sealDecoder.wrap(buffer, body, blockLength, version);
                    if (sealDecoder.correlationId() == awaited)
                    {
                        sealDecoder.nodeId();
                        sealDecoder.extentId();
                        final NodeStatus s = sealDecoder.status();
                        final long commit = sealDecoder.commitLength();
                        sealed = sealDecoder.isSealed() == 1;
                        errorMessage = sealDecoder.errorMessage();
                        complete(s, commit);
                    }
                }
                case ReadResponseDecoder.TEMPLATE_ID ->
                {
                    readDecoder.wrap(buffer, body, blockLength, version);
                    if (readDecoder.correlationId() == awaited)
                    {
                        readDecoder.extentId();
                        final NodeStatus s = readDecoder.status();
                        readDecoder.blockOffset();
                        nextOffset = readDecoder.nextOffset();
                        final long commit = readDecoder.commitLength();
                        final int payloadLength = readDecoder.payloadLength();
                        if (null != readInto && payloadLength <= readInto.capacity())
                        {
                            readDecoder.getPayload(readInto, 0, payloadLength);
                            payloadLengthBytes = payloadLength;
                        }
                        else
                        {
                            readDecoder.skipPayload();
                            payloadLengthBytes = -1;
                        }
                        errorMessage = readDecoder.errorMessage();
                        readRecordFlags = version >= 3 ? readDecoder.recordFlags() : BlockFormat.RECORD_WHOLE;
                        readMetadataLength = version >= 3 ? readDecoder.getMetadata(readMetadata, 0,
                            Math.min(readDecoder.metadataLength(), NodeProtocol.MAX_USER_METADATA_BYTES)) : 0;
                        complete(s, commit);
                    }
                }
                case OpenExtentResponseDecoder.TEMPLATE_ID ->
                {
                    openDecoder.wrap(buffer, body, blockLength, version);
                    if (openDecoder.correlationId() == awaited)
                    {
                        openDecoder.extentId();
                        final NodeStatus s = openDecoder.status();
                        final long commit = openDecoder.commitLength();
                        errorMessage = openDecoder.errorMessage();
                        complete(s, commit);
                    }
                }
                case ReplicateResponseDecoder.TEMPLATE_ID ->
                {
                    replicateDecoder.wrap(buffer, body, blockLength, version);
                    if (replicateDecoder.correlationId() == awaited)
                    {
                        replicateDecoder.nodeId();
                        replicateDecoder.extentId();
                        final NodeStatus s = replicateDecoder.status();
                        replicateDecoder.blockOffset();
                        complete(s, replicateDecoder.commitLength());
                    }
                }
                case ErrorResponseDecoder.TEMPLATE_ID ->
                {
                    errorDecoder.wrap(buffer, body, blockLength, version);
                    if (errorDecoder.correlationId() == awaited)
                    {
                        final NodeStatus s = errorDecoder.status();
                        errorMessage = errorDecoder.errorMessage();
                        complete(s, -1);
                    }
                }
                default ->
                {
                    // Not an answer this worker asks for: dropped.
                }
            }
        }
        catch (final IndexOutOfBoundsException | IllegalStateException ex)
        {
            // A truncated answer must not kill the worker: the request times out instead.
        }
    }

    private void complete(final NodeStatus status, final long commitLength)
    {
        if (!received)
        {
            this.status = status;
            this.commitLength = commitLength;
            this.received = true;
        }
    }

    public void close()
    {
        for (final Peer peer : peers.values())
        {
            CloseHelper.quietClose(peer.publication);
        }
        peers.clear();
        CloseHelper.quietCloseAll(responses, aeron);
    }
}
