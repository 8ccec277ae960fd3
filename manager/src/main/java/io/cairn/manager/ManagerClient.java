package io.cairn.manager;

import io.aeron.Aeron;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.cluster.codecs.AdminRequestType;
import io.aeron.cluster.codecs.AdminResponseCode;
import io.aeron.cluster.codecs.EventCode;
import io.aeron.logbuffer.Header;
import io.cairn.replication.AeronDefaults;
import io.cairn.sbe.manager.AllocateExtentRequestEncoder;
import io.cairn.sbe.manager.ClusterStatusRequestEncoder;
import io.cairn.sbe.manager.ClusterStatusResponseDecoder;
import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.ManagerErrorResponseDecoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.RegisterNodeResponseDecoder;
import io.cairn.sbe.manager.StreamInfoRequestEncoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Synchronous client of the manager cluster. Each call sends one command with a fresh, strictly increasing
 * correlationId and polls egress until the matching answer arrives or {@link Context#responseTimeoutNs()} passes.
 * Across a leader change, back-pressure or a lost connection it resends the same correlationId: the manager
 * de-duplicates per cluster session, so a command is applied at most once while the session lives. If the session
 * itself is lost (the client was closed by the cluster), the client opens a new one and resends; a write applied
 * just before that may then be applied again (a CreateStream then answers DUPLICATE_NAME).
 * <p>
 * Not thread-safe: one owner thread. Callers that keep the client between calls must call {@link #poll()} from
 * their duty cycle so the session is kept alive and leader changes are noticed. The calling process provides the
 * media driver ({@link Context#aeronDirectoryName(String)}).
 */
public final class ManagerClient implements AutoCloseable
{
    /**
     * Configuration of a client; fluent setters, named defaults, validated once by {@link #conclude()}.
     */
    public static final class Context
    {
        /** Total time a call may take, retries across a leader change included. */
        public static final long RESPONSE_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(10);
        /** Egress channel: an ephemeral local port. */
        public static final String EGRESS_CHANNEL_DEFAULT = "aeron:udp?endpoint=127.0.0.1:0";
        /** Ingress channel; the endpoint comes from {@link #managers(String)}. */
        public static final String INGRESS_CHANNEL_DEFAULT = "aeron:udp";
        /** Interval of keep-alives sent by {@link #poll()}; the cluster closes a session silent for 10 s. */
        public static final long KEEP_ALIVE_INTERVAL_NS_DEFAULT = TimeUnit.SECONDS.toNanos(1);
        /** A command that got no answer within this is sent again (same correlationId). */
        public static final long RESEND_INTERVAL_NS_DEFAULT = TimeUnit.SECONDS.toNanos(2);

        private String managers;
        private String aeronDirectoryName;
        private long responseTimeoutNs = RESPONSE_TIMEOUT_NS_DEFAULT;
        private String egressChannel = EGRESS_CHANNEL_DEFAULT;
        private String ingressChannel = INGRESS_CHANNEL_DEFAULT;
        private long keepAliveIntervalNs = KEEP_ALIVE_INTERVAL_NS_DEFAULT;
        private long resendIntervalNs = RESEND_INTERVAL_NS_DEFAULT;
        private NanoClock nanoClock = SystemNanoClock.INSTANCE;
        private IdleStrategy idleStrategy;
        private ManagerEndpoints endpoints;

        /**
         * @param managers ingress endpoints of every member: {@code "0=host:port,1=host:port,2=host:port"}.
         * @return this.
         */
        public Context managers(final String managers)
        {
            this.managers = managers;
            return this;
        }

        /**
         * @return the members string.
         */
        public String managers()
        {
            return managers;
        }

        /**
         * @param dir directory of an already running media driver; required.
         * @return this.
         */
        public Context aeronDirectoryName(final String dir)
        {
            this.aeronDirectoryName = dir;
            return this;
        }

        /**
         * @return the media driver directory.
         */
        public String aeronDirectoryName()
        {
            return aeronDirectoryName;
        }

        /**
         * @param ns total time a call, or {@link #connect(Context)}, may take including retries.
         * @return this.
         */
        public Context responseTimeoutNs(final long ns)
        {
            this.responseTimeoutNs = ns;
            return this;
        }

        /**
         * @return the response timeout.
         */
        public long responseTimeoutNs()
        {
            return responseTimeoutNs;
        }

        /**
         * @param channel on which answers arrive.
         * @return this.
         */
        public Context egressChannel(final String channel)
        {
            this.egressChannel = channel;
            return this;
        }

        /**
         * @return the egress channel.
         */
        public String egressChannel()
        {
            return egressChannel;
        }

        /**
         * @param channel template of the ingress channel; endpoints come from {@link #managers(String)}.
         * @return this.
         */
        public Context ingressChannel(final String channel)
        {
            this.ingressChannel = channel;
            return this;
        }

        /**
         * @return the ingress channel.
         */
        public String ingressChannel()
        {
            return ingressChannel;
        }

        /**
         * @param ns interval between keep-alives sent by {@link #poll()}.
         * @return this.
         */
        public Context keepAliveIntervalNs(final long ns)
        {
            this.keepAliveIntervalNs = ns;
            return this;
        }

        /**
         * @return the keep-alive interval.
         */
        public long keepAliveIntervalNs()
        {
            return keepAliveIntervalNs;
        }

        /**
         * @param ns after which an unanswered command is sent again with the same correlationId.
         * @return this.
         */
        public Context resendIntervalNs(final long ns)
        {
            this.resendIntervalNs = ns;
            return this;
        }

        /**
         * @return the resend interval.
         */
        public long resendIntervalNs()
        {
            return resendIntervalNs;
        }

        /**
         * @param nanoClock for deadlines; tests may inject one.
         * @return this.
         */
        public Context nanoClock(final NanoClock nanoClock)
        {
            this.nanoClock = nanoClock;
            return this;
        }

        /**
         * @return the clock.
         */
        public NanoClock nanoClock()
        {
            return nanoClock;
        }

        /**
         * @param idleStrategy used while waiting for an answer; default {@link AeronDefaults#idleStrategy()}.
         * @return this.
         */
        public Context idleStrategy(final IdleStrategy idleStrategy)
        {
            this.idleStrategy = idleStrategy;
            return this;
        }

        /**
         * @return the idle strategy.
         */
        public IdleStrategy idleStrategy()
        {
            return idleStrategy;
        }

        /**
         * Validates the settings and fills defaults.
         *
         * @return this.
         * @throws ManagerException (status null) naming the first invalid setting.
         */
        public Context conclude()
        {
            try
            {
                endpoints = ManagerEndpoints.parse(managers);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ManagerException(null, "invalid managers: " + ex.getMessage());
            }
            if (aeronDirectoryName == null || aeronDirectoryName.isEmpty())
            {
                throw new ManagerException(null, "aeronDirectoryName of a running media driver is required");
            }
            if (responseTimeoutNs <= 0 || keepAliveIntervalNs <= 0 || resendIntervalNs <= 0)
            {
                throw new ManagerException(null, "responseTimeoutNs, keepAliveIntervalNs and resendIntervalNs must be > 0");
            }
            if (egressChannel == null || ingressChannel == null || nanoClock == null)
            {
                throw new ManagerException(null, "egressChannel, ingressChannel and nanoClock are required");
            }
            if (idleStrategy == null)
            {
                idleStrategy = AeronDefaults.idleStrategy();
            }
            return this;
        }
    }

    private static final int REQUEST_BUFFER_LENGTH = 4096;
    private static final int HEADER_LENGTH = MessageHeaderEncoder.ENCODED_LENGTH;

    private final Context ctx;
    private final NanoClock clock;
    private final IdleStrategy idle;
    private final Aeron aeron;
    private final UnsafeBuffer requestBuffer = new UnsafeBuffer(new byte[REQUEST_BUFFER_LENGTH]);
    private final UnsafeBuffer responseBuffer =
        new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN + 1024]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final RegisterNodeRequestEncoder registerNodeEncoder = new RegisterNodeRequestEncoder();
    private final CreateStreamRequestEncoder createStreamEncoder = new CreateStreamRequestEncoder();
    private final AllocateExtentRequestEncoder allocateExtentEncoder = new AllocateExtentRequestEncoder();
    private final StreamInfoRequestEncoder streamInfoEncoder = new StreamInfoRequestEncoder();
    private final ClusterStatusRequestEncoder clusterStatusEncoder = new ClusterStatusRequestEncoder();
    private final RegisterNodeResponseDecoder registerNodeResponseDecoder = new RegisterNodeResponseDecoder();
    private final StreamInfoResponseDecoder streamInfoResponseDecoder = new StreamInfoResponseDecoder();
    private final ClusterStatusResponseDecoder clusterStatusResponseDecoder = new ClusterStatusResponseDecoder();
    private final ManagerErrorResponseDecoder errorResponseDecoder = new ManagerErrorResponseDecoder();
    private final EgressAdapter egressAdapter = new EgressAdapter();

    private AeronCluster cluster;
    private long lastCorrelationId;
    private long awaitedCorrelationId = ManagerStateMachine.NULL_ID;
    private int responseLength;
    private boolean newLeaderSinceSend;
    private long nextKeepAliveNs;
    private String lastSessionEvent = "";
    private AdminResponseCode adminResponseCode;
    private String adminResponseMessage = "";

    private ManagerClient(final Context ctx, final Aeron aeron)
    {
        this.ctx = ctx;
        this.clock = ctx.nanoClock();
        this.idle = ctx.idleStrategy();
        this.aeron = aeron;
        this.lastCorrelationId = 0; // cluster session ids are never reused, so per-client ids need not be global
    }

    /**
     * Connects to the manager cluster, waiting at most {@link Context#responseTimeoutNs()} for its leader.
     *
     * @param ctx configuration; concluded here.
     * @return a connected client.
     * @throws ManagerException (status null) naming the endpoints when no connection could be made.
     */
    public static ManagerClient connect(final Context ctx)
    {
        ctx.conclude();
        final Aeron aeron;
        try
        {
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(ctx.aeronDirectoryName()));
        }
        catch (final RuntimeException ex)
        {
            throw new ManagerException("no media driver at " + ctx.aeronDirectoryName() + ": " + ex.getMessage(), ex);
        }
        final ManagerClient client = new ManagerClient(ctx, aeron);
        try
        {
            client.openSession(client.clock.nanoTime() + ctx.responseTimeoutNs());
            return client;
        }
        catch (final RuntimeException ex)
        {
            client.close();
            throw ex;
        }
    }

    /**
     * Registers or re-registers an extent node; idempotent.
     *
     * @param nodeId        > 0, from the node's configuration.
     * @param endpoint      host:port of the node's request channel.
     * @param diskCount     > 0.
     * @param capacityBytes >= 0.
     * @return the registered node id.
     * @throws ManagerException on a refusal (status set) or timeout (status null).
     */
    public int registerNode(final int nodeId, final String endpoint, final int diskCount, final long capacityBytes)
    {
        final long correlationId = nextCorrelationId();
        final RegisterNodeRequestEncoder encoder = registerNodeEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .diskCount(diskCount)
            .capacityBytes(capacityBytes)
            .endpoint(endpoint);
        call("registerNode(" + nodeId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());

        if (headerDecoder.templateId() != RegisterNodeResponseDecoder.TEMPLATE_ID)
        {
            throw unexpectedAnswer("registerNode");
        }
        final RegisterNodeResponseDecoder decoder = registerNodeResponseDecoder.wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        final int registeredId = decoder.nodeId();
        final String message = decoder.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, "registerNode(" + nodeId + ") refused: " + status + ": " + message);
        }
        return registeredId;
    }

    /**
     * Creates a stream and its first extent.
     *
     * @param name unique, 1 to {@link ManagerStateMachine#MAX_NAME_LENGTH_BYTES} UTF-8 bytes.
     * @return the new stream.
     * @throws ManagerException e.g. NOT_ENOUGH_NODES, DUPLICATE_NAME, or status null on timeout.
     */
    public StreamInfo createStream(final String name)
    {
        final long correlationId = nextCorrelationId();
        final CreateStreamRequestEncoder encoder = createStreamEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .name(name);
        call("createStream(" + name + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo("createStream(" + name + ")");
    }

    /**
     * Seals the stream's tail at {@code sealLength} and appends a new extent.
     *
     * @param streamId     the stream.
     * @param tailExtentId the tail the caller saw; another tail is STALE_TAIL.
     * @param sealLength   committed bytes of the tail, >= 0.
     * @return the stream with its new tail.
     * @throws ManagerException e.g. STALE_TAIL, NO_SUCH_STREAM, or status null on timeout.
     */
    public StreamInfo allocateExtent(final long streamId, final long tailExtentId, final long sealLength)
    {
        final long correlationId = nextCorrelationId();
        final AllocateExtentRequestEncoder encoder = allocateExtentEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId)
            .tailExtentId(tailExtentId)
            .sealLength(sealLength);
        final String what = "allocateExtent(" + streamId + ", " + tailExtentId + ", " + sealLength + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo(what);
    }

    /**
     * @param streamId the stream.
     * @return the stream's extents and the endpoints of their nodes.
     * @throws ManagerException NO_SUCH_STREAM, or status null on timeout.
     */
    public StreamInfo streamInfo(final long streamId)
    {
        final long correlationId = nextCorrelationId();
        final StreamInfoRequestEncoder encoder = streamInfoEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId);
        call("streamInfo(" + streamId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo("streamInfo(" + streamId + ")");
    }

    /**
     * @return the cluster's status as applied by the leader.
     * @throws ManagerException status null on timeout.
     */
    public ClusterStatus clusterStatus()
    {
        final long correlationId = nextCorrelationId();
        final ClusterStatusRequestEncoder encoder = clusterStatusEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId);
        call("clusterStatus", correlationId, HEADER_LENGTH + encoder.encodedLength());

        if (headerDecoder.templateId() != ClusterStatusResponseDecoder.TEMPLATE_ID)
        {
            throw unexpectedAnswer("clusterStatus");
        }
        final ClusterStatusResponseDecoder decoder = clusterStatusResponseDecoder.wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final int memberId = decoder.memberId();
        final long logPosition = decoder.logPosition();
        final int streamCount = decoder.streamCount();
        final int extentCount = decoder.extentCount();
        final List<NodeInfo> nodes = new ArrayList<>();
        for (final ClusterStatusResponseDecoder.NodesDecoder node : decoder.nodes())
        {
            final int nodeId = node.nodeId();
            final int diskCount = node.diskCount();
            final long capacityBytes = node.capacityBytes();
            final long registeredAtMs = node.registeredAtMs();
            nodes.add(new NodeInfo(nodeId, node.endpoint(), diskCount, capacityBytes, registeredAtMs));
        }
        return new ClusterStatus(leaderMemberId(), memberId, logPosition, streamCount, extentCount, nodes);
    }

    /**
     * Asks the cluster to take a snapshot; it is taken asynchronously after the leader accepts the request.
     *
     * @throws ManagerException (status null) when refused or not answered within the response timeout.
     */
    public void requestSnapshot()
    {
        final long correlationId = nextCorrelationId();
        final long deadlineNs = clock.nanoTime() + ctx.responseTimeoutNs();
        awaitedCorrelationId = correlationId;
        adminResponseCode = null;
        boolean sent = false;
        try
        {
            idle.reset();
            while (adminResponseCode == null)
            {
                if (clock.nanoTime() - deadlineNs >= 0)
                {
                    throw new ManagerException(null, "requestSnapshot got no answer within " +
                        TimeUnit.NANOSECONDS.toMillis(ctx.responseTimeoutNs()) + " ms from managers " + ctx.managers());
                }
                if (cluster == null || cluster.isClosed())
                {
                    openSession(deadlineNs);
                    sent = false;
                }
                if (newLeaderSinceSend)
                {
                    newLeaderSinceSend = false;
                    sent = false;
                }
                if (!sent)
                {
                    sent = cluster.sendAdminRequestToTakeASnapshot(correlationId);
                }
                idle.idle(poll());
            }
        }
        finally
        {
            awaitedCorrelationId = ManagerStateMachine.NULL_ID;
        }
        if (adminResponseCode != AdminResponseCode.OK)
        {
            throw new ManagerException(null, "requestSnapshot refused: " + adminResponseCode + " " +
                adminResponseMessage);
        }
    }

    /**
     * @return the leader's member id as last learned by this client, or -1 when not connected.
     */
    public int leaderMemberId()
    {
        return cluster == null || cluster.isClosed() ? -1 : cluster.leaderMemberId();
    }

    /**
     * Polls egress and sends a keep-alive when due. Call it from the owner's duty cycle between calls.
     *
     * @return work done, 0 when none.
     */
    public int poll()
    {
        if (cluster == null || cluster.isClosed())
        {
            return 0;
        }
        int work = cluster.pollEgress();
        final long nowNs = clock.nanoTime();
        if (nowNs - nextKeepAliveNs >= 0 && !cluster.isClosed())
        {
            if (cluster.sendKeepAlive())
            {
                nextKeepAliveNs = nowNs + ctx.keepAliveIntervalNs();
                work++;
            }
        }
        return work;
    }

    /**
     * Closes the cluster session and the Aeron client (not the media driver).
     */
    public void close()
    {
        CloseHelper.closeAll(cluster, aeron);
        cluster = null;
    }

    private long nextCorrelationId()
    {
        return ++lastCorrelationId;
    }

    /**
     * Sends the request in {@code requestBuffer} until its answer is in {@code responseBuffer} (header decoded in
     * {@code headerDecoder}); a ManagerErrorResponse is thrown.
     */
    private void call(final String what, final long correlationId, final int length)
    {
        final long startNs = clock.nanoTime();
        final long deadlineNs = startNs + ctx.responseTimeoutNs();
        awaitedCorrelationId = correlationId;
        responseLength = 0;
        long resendAtNs = startNs;
        boolean sent = false;
        int sends = 0;
        try
        {
            idle.reset();
            while (true)
            {
                final long nowNs = clock.nanoTime();
                if (nowNs - deadlineNs >= 0)
                {
                    throw new ManagerException(null, what + " got no answer within " +
                        TimeUnit.NANOSECONDS.toMillis(ctx.responseTimeoutNs()) + " ms from managers " + ctx.managers() +
                        " (correlationId " + correlationId + ", sends " + sends + ", leader " + leaderMemberId() +
                        (lastSessionEvent.isEmpty() ? "" : ", last session event: " + lastSessionEvent) + ")");
                }
                if (cluster == null || cluster.isClosed())
                {
                    openSession(deadlineNs);
                    sent = false;
                }
                if (newLeaderSinceSend)
                {
                    newLeaderSinceSend = false;
                    sent = false; // the old leader may have died before appending it: send again
                }
                if (!sent || nowNs - resendAtNs >= 0)
                {
                    final long result = cluster.offer(requestBuffer, 0, length);
                    if (result > 0)
                    {
                        sent = true;
                        sends++;
                        resendAtNs = nowNs + ctx.resendIntervalNs();
                        nextKeepAliveNs = nowNs + ctx.keepAliveIntervalNs();
                    }
                }
                final int work = poll();
                if (responseLength > 0)
                {
                    break;
                }
                idle.idle(work);
            }
        }
        finally
        {
            awaitedCorrelationId = ManagerStateMachine.NULL_ID;
        }

        headerDecoder.wrap(responseBuffer, 0);
        if (headerDecoder.templateId() == ManagerErrorResponseDecoder.TEMPLATE_ID)
        {
            final ManagerErrorResponseDecoder decoder = errorResponseDecoder.wrap(
                responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            decoder.correlationId();
            final ManagerStatus status = decoder.status();
            throw new ManagerException(status, what + " refused: " + status + ": " + decoder.errorMessage());
        }
    }

    private StreamInfo decodeStreamInfo(final String what)
    {
        if (headerDecoder.templateId() != StreamInfoResponseDecoder.TEMPLATE_ID)
        {
            throw unexpectedAnswer(what);
        }
        final StreamInfoResponseDecoder decoder = streamInfoResponseDecoder.wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        final long streamId = decoder.streamId();
        final List<ExtentInfo> extents = new ArrayList<>();
        for (final StreamInfoResponseDecoder.ExtentsDecoder extent : decoder.extents())
        {
            extents.add(new ExtentInfo(extent.extentId(), extent.sealedLength(),
                new int[]{ extent.replica0(), extent.replica1(), extent.replica2() }));
        }
        final Map<Integer, String> endpoints = new HashMap<>();
        for (final StreamInfoResponseDecoder.NodesDecoder node : decoder.nodes())
        {
            final int nodeId = node.nodeId();
            endpoints.put(nodeId, node.endpoint());
        }
        final String name = decoder.name();
        final String message = decoder.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        return new StreamInfo(streamId, name, extents, endpoints);
    }

    private ManagerException unexpectedAnswer(final String what)
    {
        return new ManagerException(null, what + " got an answer of unexpected templateId " +
            headerDecoder.templateId());
    }

    private void openSession(final long deadlineNs)
    {
        CloseHelper.quietClose(cluster);
        cluster = null;
        final long remainingNs = deadlineNs - clock.nanoTime();
        if (remainingNs <= 0)
        {
            throw new ManagerException(null, "no time left to connect to managers " + ctx.managers());
        }
        try
        {
            cluster = AeronCluster.connect(new AeronCluster.Context()
                .aeron(aeron)
                .ownsAeronClient(false)
                .ingressEndpoints(ctx.endpoints.ingressEndpoints())
                .ingressChannel(ctx.ingressChannel())
                .egressChannel(ctx.egressChannel())
                .egressListener(egressAdapter)
                .messageTimeoutNs(remainingNs)
                // Outlast a failover (about 2 s measured) rather than close the session and lose de-duplication.
                .newLeaderTimeoutNs(ctx.responseTimeoutNs())
                .idleStrategy(idle));
            nextKeepAliveNs = clock.nanoTime() + ctx.keepAliveIntervalNs();
        }
        catch (final RuntimeException ex)
        {
            throw new ManagerException("cannot connect to managers " + ctx.managers() + ": " + ex.getMessage(), ex);
        }
    }

    private final class EgressAdapter implements EgressListener
    {
        public void onMessage(
            final long clusterSessionId,
            final long timestamp,
            final DirectBuffer buffer,
            final int offset,
            final int length,
            final Header header)
        {
            // Every answer starts with its correlationId; stale answers to earlier sends are dropped here.
            if (awaitedCorrelationId == ManagerStateMachine.NULL_ID ||
                length < HEADER_LENGTH + Long.BYTES || length > responseBuffer.capacity())
            {
                return;
            }
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
            {
                return;
            }
            final long correlationId = buffer.getLong(offset + HEADER_LENGTH, ByteOrder.LITTLE_ENDIAN);
            if (correlationId == awaitedCorrelationId)
            {
                responseBuffer.putBytes(0, buffer, offset, length);
                responseLength = length;
            }
        }

        public void onSessionEvent(
            final long correlationId,
            final long clusterSessionId,
            final long leadershipTermId,
            final int leaderMemberId,
            final EventCode code,
            final String detail)
        {
            lastSessionEvent = code + " " + detail;
        }

        public void onAdminResponse(
            final long clusterSessionId,
            final long correlationId,
            final AdminRequestType requestType,
            final AdminResponseCode responseCode,
            final String message,
            final DirectBuffer payload,
            final int payloadOffset,
            final int payloadLength)
        {
            if (correlationId == awaitedCorrelationId)
            {
                adminResponseCode = responseCode;
                adminResponseMessage = message;
            }
        }

        public void onNewLeader(
            final long clusterSessionId,
            final long leadershipTermId,
            final int leaderMemberId,
            final String ingressEndpoints)
        {
            newLeaderSinceSend = true;
        }
    }
}
