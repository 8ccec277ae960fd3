package io.cairn.manager;

import io.aeron.Aeron;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.cluster.codecs.AdminRequestType;
import io.aeron.cluster.codecs.AdminResponseCode;
import io.aeron.cluster.codecs.EventCode;
import io.aeron.logbuffer.Header;
import io.cairn.replication.AeronDefaults;
import io.cairn.sbe.manager.TruncateStreamRequestEncoder;
import io.cairn.sbe.manager.PunchHoleRequestEncoder;
import io.cairn.sbe.manager.ExtentReconcileRequestEncoder;
import io.cairn.sbe.manager.ExtentDeletedRequestEncoder;
import io.cairn.sbe.manager.ExtentReconcileResponseDecoder;
import io.cairn.sbe.manager.TaskReleaseRequestEncoder;
import io.cairn.sbe.manager.AllocateExtentRequestEncoder;
import io.cairn.sbe.manager.DiskListResponseDecoder;
import io.cairn.sbe.manager.EventType;
import io.cairn.sbe.manager.ExtentListResponseDecoder;
import io.cairn.sbe.manager.KvDeleteRequestEncoder;
import io.cairn.sbe.manager.KvPutRequestEncoder;
import io.cairn.sbe.manager.KvRangeRequestEncoder;
import io.cairn.sbe.manager.KvResponseDecoder;
import io.cairn.sbe.manager.KvTxnRequestEncoder;
import io.cairn.sbe.manager.LeaseGrantRequestEncoder;
import io.cairn.sbe.manager.LeaseKeepAliveRequestEncoder;
import io.cairn.sbe.manager.LeaseResponseDecoder;
import io.cairn.sbe.manager.LeaseRevokeRequestEncoder;
import io.cairn.sbe.manager.ListKind;
import io.cairn.sbe.manager.PartitionAssignRequestEncoder;
import io.cairn.sbe.manager.PartitionCreateRequestEncoder;
import io.cairn.sbe.manager.PartitionListResponseDecoder;
import io.cairn.sbe.manager.PartitionMergeRequestEncoder;
import io.cairn.sbe.manager.PartitionResponseDecoder;
import io.cairn.sbe.manager.PartitionSplitRequestEncoder;
import io.cairn.sbe.manager.ListRequestEncoder;
import io.cairn.sbe.manager.NodeHeartbeatRequestEncoder;
import io.cairn.sbe.manager.NodeHeartbeatResponseDecoder;
import io.cairn.sbe.manager.NodeListResponseDecoder;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.manager.StreamListResponseDecoder;
import io.cairn.sbe.manager.TaskClaimRequestEncoder;
import io.cairn.sbe.manager.TaskClaimResponseDecoder;
import io.cairn.sbe.manager.TaskCompleteRequestEncoder;
import io.cairn.sbe.manager.TaskListResponseDecoder;
import io.cairn.sbe.manager.TaskProgressRequestEncoder;
import io.cairn.sbe.manager.WatchCancelRequestEncoder;
import io.cairn.sbe.manager.WatchCreateRequestEncoder;
import io.cairn.sbe.manager.WatchEventDecoder;
import io.cairn.sbe.manager.WatchResponseDecoder;
import io.cairn.sbe.manager.ClusterStatusRequestEncoder;
import io.cairn.sbe.manager.ClusterStatusResponseDecoder;
import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.OpenStreamRequestEncoder;
import io.cairn.sbe.manager.ManagerErrorResponseDecoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.RegisterNodeResponseDecoder;
import io.cairn.sbe.manager.StreamInfoRequestEncoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import io.aeron.security.CredentialsSupplier;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Client of the manager cluster, synchronous and asynchronous. Each call sends one command with a fresh, strictly increasing
 * correlationId and polls egress until the matching answer arrives or {@link Context#responseTimeoutNs()} passes.
 * Across a leader change, back-pressure or a lost connection it resends the same correlationId: the manager
 * de-duplicates per cluster session, so a command is applied at most once while the session lives. If the session
 * itself is lost (the client was closed by the cluster), the client opens a new one and resends; a write applied
 * just before that may then be applied again (a CreateStream then answers DUPLICATE_NAME).
 * <p>
 * The {@code *Async} calls return a {@link CompletableFuture} completed on the owner thread from {@link #poll()} (or
 * while a synchronous call waits); at most {@link Context#maxOutstandingRequests()} commands are in flight. Commands
 * are sent, and after a leader change re-sent, in correlationId order; the manager keeps the answers of a session's
 * last {@link ManagerStateMachine#MAX_SESSION_ANSWERS} key/value writes, so each pipelined retry is answered as the
 * first time.
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

        /**
         * Asynchronous commands in flight at most; a retry of each is answered as the first time only while the
         * manager keeps its answer ({@link ManagerStateMachine#MAX_SESSION_ANSWERS} per session).
         */
        public static final int MAX_OUTSTANDING_REQUESTS_DEFAULT = ManagerStateMachine.MAX_SESSION_ANSWERS;

        /** System property naming the credentials when {@link #credentials(String)} is not called. */
        public static final String CREDENTIALS_PROP_NAME = "cairn.manager.credentials";
        /** Environment variable naming the credentials when neither the setter nor the property is used. */
        public static final String CREDENTIALS_ENV = "CAIRN_MANAGER_CREDENTIALS";

        private String managers;
        private String credentials;
        private String aeronDirectoryName;
        private long responseTimeoutNs = RESPONSE_TIMEOUT_NS_DEFAULT;
        private String egressChannel = EGRESS_CHANNEL_DEFAULT;
        private String ingressChannel = INGRESS_CHANNEL_DEFAULT;
        private long keepAliveIntervalNs = KEEP_ALIVE_INTERVAL_NS_DEFAULT;
        private long resendIntervalNs = RESEND_INTERVAL_NS_DEFAULT;
        private int maxOutstandingRequests = MAX_OUTSTANDING_REQUESTS_DEFAULT;
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
         * @param credentials {@code role:secret} presented to the cluster's authenticator. Default: the system
         *                    property {@value #CREDENTIALS_PROP_NAME}, else {@code $CAIRN_MANAGER_CREDENTIALS}, else
         *                    {@link ManagerAuthenticator#CLIENT_CREDENTIALS_DEFAULT} (the local cluster's).
         * @return this.
         */
        public Context credentials(final String credentials)
        {
            this.credentials = credentials;
            return this;
        }

        /**
         * @return the credentials.
         */
        public String credentials()
        {
            return credentials;
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
         * @param count asynchronous commands in flight at most, 1 to {@link ManagerStateMachine#MAX_SESSION_ANSWERS}
         *              (a synchronous call counts as one).
         * @return this.
         */
        public Context maxOutstandingRequests(final int count)
        {
            this.maxOutstandingRequests = count;
            return this;
        }

        /**
         * @return the most commands in flight.
         */
        public int maxOutstandingRequests()
        {
            return maxOutstandingRequests;
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
            if (maxOutstandingRequests < 1 || maxOutstandingRequests > ManagerStateMachine.MAX_SESSION_ANSWERS)
            {
                throw new ManagerException(null, "maxOutstandingRequests must be 1 to " +
                    ManagerStateMachine.MAX_SESSION_ANSWERS);
            }
            if (egressChannel == null || ingressChannel == null || nanoClock == null)
            {
                throw new ManagerException(null, "egressChannel, ingressChannel and nanoClock are required");
            }
            if (idleStrategy == null)
            {
                idleStrategy = AeronDefaults.idleStrategy();
            }
            if (credentials == null)
            {
                credentials = System.getProperty(CREDENTIALS_PROP_NAME, System.getenv(CREDENTIALS_ENV));
            }
            if (credentials == null || credentials.isBlank())
            {
                credentials = ManagerAuthenticator.CLIENT_CREDENTIALS_DEFAULT;
            }
            if (credentials.indexOf(':') <= 0)
            {
                throw new ManagerException(null, "credentials must be role:secret");
            }
            return this;
        }
    }

    private static final int REQUEST_BUFFER_LENGTH = 64 * 1024;
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
    private final OpenStreamRequestEncoder openStreamEncoder = new OpenStreamRequestEncoder();
    private final StreamInfoRequestEncoder streamInfoEncoder = new StreamInfoRequestEncoder();
    private final ClusterStatusRequestEncoder clusterStatusEncoder = new ClusterStatusRequestEncoder();
    private final RegisterNodeResponseDecoder registerNodeResponseDecoder = new RegisterNodeResponseDecoder();
    private final StreamInfoResponseDecoder streamInfoResponseDecoder = new StreamInfoResponseDecoder();
    private final ClusterStatusResponseDecoder clusterStatusResponseDecoder = new ClusterStatusResponseDecoder();
    private final ManagerErrorResponseDecoder errorResponseDecoder = new ManagerErrorResponseDecoder();
    private final EgressAdapter egressAdapter = new EgressAdapter();
    private final NodeHeartbeatRequestEncoder heartbeatEncoder = new NodeHeartbeatRequestEncoder();
    private final NodeHeartbeatResponseDecoder heartbeatResponseDecoder = new NodeHeartbeatResponseDecoder();
    private final ListRequestEncoder listEncoder = new ListRequestEncoder();
    private final KvPutRequestEncoder kvPutEncoder = new KvPutRequestEncoder();
    private final KvRangeRequestEncoder kvRangeEncoder = new KvRangeRequestEncoder();
    private final KvDeleteRequestEncoder kvDeleteEncoder = new KvDeleteRequestEncoder();
    private final KvTxnRequestEncoder kvTxnEncoder = new KvTxnRequestEncoder();
    private final KvResponseDecoder kvResponseDecoder = new KvResponseDecoder();
    private final LeaseGrantRequestEncoder leaseGrantEncoder = new LeaseGrantRequestEncoder();
    private final LeaseKeepAliveRequestEncoder leaseKeepAliveEncoder = new LeaseKeepAliveRequestEncoder();
    private final LeaseRevokeRequestEncoder leaseRevokeEncoder = new LeaseRevokeRequestEncoder();
    private final LeaseResponseDecoder leaseResponseDecoder = new LeaseResponseDecoder();
    private final WatchCreateRequestEncoder watchCreateEncoder = new WatchCreateRequestEncoder();
    private final WatchCancelRequestEncoder watchCancelEncoder = new WatchCancelRequestEncoder();
    private final WatchResponseDecoder watchResponseDecoder = new WatchResponseDecoder();

    private AeronCluster cluster;
    private long lastCorrelationId;
    private long awaitedCorrelationId = ManagerStateMachine.NULL_ID;
    private int responseLength;
    private boolean newLeaderSinceSend;
    /** Commands sent or to send, in correlationId order: they are (re)sent in that order. */
    private final TreeMap<Long, Pending> pending = new TreeMap<>();
    private final ArrayList<Runnable> completions = new ArrayList<>();
    private final UnsafeBuffer asyncResponseBuffer =
        new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN + 1024]);
    private final MessageHeaderDecoder asyncHeaderDecoder = new MessageHeaderDecoder();
    private boolean resendAllPending;
    private long nextKeepAliveNs;
    private String lastSessionEvent = "";
    private AdminResponseCode adminResponseCode;
    private final java.util.TreeMap<Long, WatchState> watches = new java.util.TreeMap<>();
    private final WatchEventDecoder watchEventDecoder = new WatchEventDecoder();
    private long nextWatchId = 1;
    private boolean rewatchNeeded;
    private boolean inCall;
    private int sessionLeaderMemberId = -1;
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
        return allocateExtent(streamId, tailExtentId, sealLength, 0);
    }

    /**
     * Seals the stream's tail at {@code sealLength} and appends a new tail, as the stream's owner.
     *
     * @param streamId      the stream.
     * @param tailExtentId  the tail the caller saw.
     * @param sealLength    bytes of the tail that are kept.
     * @param ownerRevision the caller's revision from {@link #openStream(long)}; 0 only for a never-opened stream.
     * @return the stream with its new tail.
     * @throws ManagerException LOCKED_BY_OTHER when a newer owner opened the stream, STALE_TAIL, NO_SUCH_STREAM...
     */
    public StreamInfo allocateExtent(
        final long streamId, final long tailExtentId, final long sealLength, final long ownerRevision)
    {
        final long correlationId = nextCorrelationId();
        final AllocateExtentRequestEncoder encoder = allocateExtentEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId)
            .tailExtentId(tailExtentId)
            .sealLength(sealLength)
            .ownerRevision(ownerRevision);
        final String what = "allocateExtent(" + streamId + ", " + tailExtentId + ", " + sealLength + ", revision " +
            ownerRevision + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo(what);
    }

    /**
     * Takes ownership of a stream: the manager gives it a new owner revision, after which the previous owner's
     * {@link #allocateExtent(long, long, long, long)} is refused LOCKED_BY_OTHER. Present the revision to the
     * extent nodes too (open, append, seal) so that they refuse the previous owner as well.
     *
     * @param streamId the stream.
     * @return the stream, with {@link StreamInfo#ownerRevision()} the caller's new revision.
     */
    public StreamInfo openStream(final long streamId)
    {
        final long correlationId = nextCorrelationId();
        final OpenStreamRequestEncoder encoder = openStreamEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId);
        final String what = "openStream(" + streamId + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo(what);
    }

    /**
     * Drops the stream's extents before {@code firstExtentIdToKeep}, as the stream's owner. Each dropped extent whose
     * reference count reaches 0 becomes garbage: its nodes delete its files.
     *
     * @param streamId            the stream.
     * @param ownerRevision       the caller's revision from {@link #openStream(long)}; 0 only for a never-opened stream.
     * @param firstExtentIdToKeep an extent of the stream (at most its tail): it and every later one are kept.
     * @return the stream after the truncation.
     * @throws ManagerException LOCKED_BY_OTHER (stale owner), BAD_REQUEST (not an extent of the stream),
     *                          NO_SUCH_STREAM, or status null on timeout.
     */
    public StreamInfo truncateStream(final long streamId, final long ownerRevision, final long firstExtentIdToKeep)
    {
        final long correlationId = nextCorrelationId();
        final TruncateStreamRequestEncoder encoder = new TruncateStreamRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId)
            .ownerRevision(ownerRevision)
            .firstExtentIdToKeep(firstExtentIdToKeep);
        final String what = "truncateStream(" + streamId + ", keep from " + firstExtentIdToKeep + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo(what);
    }

    /**
     * Removes one sealed extent that is not the tail from the stream, as the stream's owner.
     *
     * @param streamId      the stream.
     * @param ownerRevision the caller's owner revision; 0 only for a never-opened stream.
     * @param extentId      a sealed extent of the stream, not its tail.
     * @return the stream after the removal.
     * @throws ManagerException LOCKED_BY_OTHER, BAD_REQUEST (the tail, or not of the stream), NO_SUCH_STREAM.
     */
    public StreamInfo punchHole(final long streamId, final long ownerRevision, final long extentId)
    {
        final long correlationId = nextCorrelationId();
        final PunchHoleRequestEncoder encoder = new PunchHoleRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId)
            .ownerRevision(ownerRevision)
            .extentId(extentId);
        final String what = "punchHole(" + streamId + ", " + extentId + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeStreamInfo(what);
    }

    /**
     * Asks which of this node's extent files it must delete (read-only); see ManagerStateMachine's rule.
     *
     * @param nodeId  the asking node.
     * @param held    extent ids of files it holds, at most {@link ManagerStateMachine#MAX_RECONCILE_IDS}; may be empty
     *                (then only the garbage pending on the node is answered).
     * @param from    index of the first id of {@code held} to send.
     * @param count   how many to send.
     * @return the ids to delete and the manager's id high-water mark.
     * @throws ManagerException NO_SUCH_NODE, BAD_REQUEST, or status null on timeout.
     */
    public ManagerListing.Reconcile reconcileExtents(final int nodeId, final long[] held, final int from, final int count)
    {
        final long correlationId = nextCorrelationId();
        final ExtentReconcileRequestEncoder encoder = new ExtentReconcileRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .nodeId(nodeId);
        final ExtentReconcileRequestEncoder.ExtentsEncoder group = encoder.extentsCount(count);
        for (int i = from; i < from + count; i++)
        {
            group.next().extentId(held[i]);
        }
        final String what = "reconcileExtents(node " + nodeId + ", " + count + " ids)";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeReconcile(what);
    }

    /**
     * Confirms that this node deleted (or never had) these extents' files; idempotent.
     *
     * @param nodeId the node.
     * @param ids    extent ids, at most {@link ManagerStateMachine#MAX_RECONCILE_IDS} from {@code from}.
     * @param from   index of the first id to send.
     * @param count  how many to send.
     * @throws ManagerException BAD_REQUEST, or status null on timeout.
     */
    public void confirmExtentsDeleted(final int nodeId, final long[] ids, final int from, final int count)
    {
        final long correlationId = nextCorrelationId();
        final ExtentDeletedRequestEncoder encoder = new ExtentDeletedRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .nodeId(nodeId);
        final ExtentDeletedRequestEncoder.ExtentsEncoder group = encoder.extentsCount(count);
        for (int i = from; i < from + count; i++)
        {
            group.next().extentId(ids[i]);
        }
        final String what = "confirmExtentsDeleted(node " + nodeId + ", " + count + " ids)";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        decodeReconcile(what);
    }

    private ManagerListing.Reconcile decodeReconcile(final String what)
    {
        expect(ExtentReconcileResponseDecoder.TEMPLATE_ID, what);
        final ExtentReconcileResponseDecoder d = new ExtentReconcileResponseDecoder().wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        d.correlationId();
        final ManagerStatus status = d.status();
        final long nextId = d.nextId();
        final ExtentReconcileResponseDecoder.DeletesDecoder deletes = d.deletes();
        final long[] ids = new long[deletes.count()];
        for (int i = 0; i < ids.length; i++)
        {
            ids[i] = deletes.next().extentId();
        }
        final String message = d.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        return new ManagerListing.Reconcile(nextId, ids);
    }

    /**
     * Asynchronous {@link #streamInfo(long)}; see {@link #kvPutAsync(String, byte[], long)}.
     *
     * @param streamId the stream.
     * @return the stream's extents and the endpoints of their nodes.
     */
    public CompletableFuture<StreamInfo> streamInfoAsync(final long streamId)
    {
        final long correlationId = nextCorrelationId();
        final StreamInfoRequestEncoder encoder = streamInfoEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .streamId(streamId);
        return submit("streamInfo(" + streamId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength(),
            this::decodeStreamInfo);
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
        final long termId = decoder.leadershipTermId();
        final long snapshotPosition = decoder.snapshotLogPosition();
        final long revision = decoder.revision();
        final int keyCount = decoder.keyCount();
        final int leaseCount = decoder.leaseCount();
        final int taskCount = decoder.taskCount();
        final List<NodeInfo> nodes = new ArrayList<>();
        for (final ClusterStatusResponseDecoder.NodesDecoder node : decoder.nodes())
        {
            final int nodeId = node.nodeId();
            final int diskCount = node.diskCount();
            final long capacityBytes = node.capacityBytes();
            final long registeredAtMs = node.registeredAtMs();
            nodes.add(new NodeInfo(nodeId, node.endpoint(), diskCount, capacityBytes, registeredAtMs));
        }
        return new ClusterStatus(leaderMemberId(), memberId, logPosition, streamCount, extentCount, nodes, termId,
            snapshotPosition, revision, keyCount, leaseCount, taskCount);
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
        if (cluster != null && !cluster.isClosed() && cluster.leaderMemberId() != sessionLeaderMemberId)
        {
            // A session that followed a leader change is known to the new leader's consensus module only from the
            // log, without the principal its authenticator gave it (Aeron keeps principals per member), so an admin
            // request on it is refused: authenticate afresh with the current leader.
            openSession(deadlineNs);
        }
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


    // ---------------------------------------------------------------------------------------------------------------
    // Nodes: registration with a failure domain, heartbeats
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Registers or re-registers an extent node with its failure domain; idempotent.
     *
     * @param nodeId        > 0.
     * @param endpoint      host:port of the node's request channel.
     * @param diskCount     > 0.
     * @param capacityBytes >= 0.
     * @param failureDomain rack/zone label, at most {@link ManagerStateMachine#MAX_FAILURE_DOMAIN_LENGTH_BYTES} bytes;
     *                      empty: the node is its own domain.
     * @return the registered node id.
     */
    public int registerNode(
        final int nodeId, final String endpoint, final int diskCount, final long capacityBytes,
        final String failureDomain)
    {
        final long correlationId = nextCorrelationId();
        final RegisterNodeRequestEncoder encoder = registerNodeEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .diskCount(diskCount)
            .capacityBytes(capacityBytes)
            .endpoint(endpoint)
            .failureDomain(failureDomain);
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
     * Reports a node alive with its disks' state. A node that never heartbeats is not tracked for liveness.
     *
     * @param nodeId a registered node.
     * @param disks  its disks (nodeId of each is ignored), at most {@link ManagerStateMachine#MAX_DISKS_PER_NODE}.
     * @return the node's liveness state after the heartbeat (ALIVE).
     * @throws ManagerException NO_SUCH_NODE when not registered (register again), or status null on timeout.
     */
    public NodeState heartbeat(final int nodeId, final List<ManagerListing.Disk> disks)
    {
        final long correlationId = nextCorrelationId();
        final NodeHeartbeatRequestEncoder encoder = heartbeatEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .nodeId(nodeId);
        final NodeHeartbeatRequestEncoder.DisksEncoder group = encoder.disksCount(disks.size());
        for (final ManagerListing.Disk disk : disks)
        {
            group.next().diskId(disk.diskId()).capacityBytes(disk.capacityBytes()).freeBytes(disk.freeBytes())
                .state(disk.state());
        }
        call("heartbeat(" + nodeId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
        if (headerDecoder.templateId() != NodeHeartbeatResponseDecoder.TEMPLATE_ID)
        {
            throw unexpectedAnswer("heartbeat");
        }
        final NodeHeartbeatResponseDecoder decoder = heartbeatResponseDecoder.wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        final NodeState state = decoder.nodeState();
        final String message = decoder.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, "heartbeat(" + nodeId + ") refused: " + status + ": " + message);
        }
        return state;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Listings
    // ---------------------------------------------------------------------------------------------------------------

    private void list(final ListKind kind, final long fromId)
    {
        final long correlationId = nextCorrelationId();
        final ListRequestEncoder encoder = listEncoder.wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .kind(kind)
            .fromId(fromId)
            .maxCount(0);
        call("list " + kind, correlationId, HEADER_LENGTH + encoder.encodedLength());
    }

    /**
     * @return every registered node with its liveness, by id.
     */
    public List<ManagerListing.Node> listNodes()
    {
        list(ListKind.NODES, 0);
        expect(NodeListResponseDecoder.TEMPLATE_ID, "listNodes");
        final NodeListResponseDecoder decoder = new NodeListResponseDecoder().wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final List<ManagerListing.Node> nodes = new ArrayList<>();
        for (final NodeListResponseDecoder.NodesDecoder n : decoder.nodes())
        {
            final int nodeId = n.nodeId();
            final NodeState state = n.state();
            final int diskCount = n.diskCount();
            final long capacity = n.capacityBytes();
            final long free = n.freeBytes();
            final int extents = n.extentCount();
            final long registeredAtMs = n.registeredAtMs();
            final long lastHeartbeatMs = n.lastHeartbeatMs();
            final String endpoint = n.endpoint();
            final String domain = n.failureDomain();
            nodes.add(new ManagerListing.Node(nodeId, state, endpoint, domain, diskCount, capacity, free, extents,
                registeredAtMs, lastHeartbeatMs));
        }
        return nodes;
    }

    /**
     * @return every disk reported by heartbeats, by node and disk id.
     */
    public List<ManagerListing.Disk> listDisks()
    {
        list(ListKind.DISKS, 0);
        expect(DiskListResponseDecoder.TEMPLATE_ID, "listDisks");
        final DiskListResponseDecoder decoder = new DiskListResponseDecoder().wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final List<ManagerListing.Disk> disks = new ArrayList<>();
        for (final DiskListResponseDecoder.DisksDecoder d : decoder.disks())
        {
            disks.add(new ManagerListing.Disk(d.nodeId(), d.diskId(), d.capacityBytes(), d.freeBytes(), d.state()));
        }
        return disks;
    }

    /**
     * @return every stream, by id (several pages when there are many).
     */
    public List<ManagerListing.Stream> listStreams()
    {
        final List<ManagerListing.Stream> streams = new ArrayList<>();
        long from = 0;
        while (from >= 0)
        {
            list(ListKind.STREAMS, from);
            expect(StreamListResponseDecoder.TEMPLATE_ID, "listStreams");
            final StreamListResponseDecoder decoder = new StreamListResponseDecoder().wrap(
                responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            decoder.correlationId();
            from = decoder.nextFromId();
            for (final StreamListResponseDecoder.StreamsDecoder st : decoder.streams())
            {
                final long streamId = st.streamId();
                final int extentCount = st.extentCount();
                final long tail = st.tailExtentId();
                streams.add(new ManagerListing.Stream(streamId, st.name(), extentCount, tail));
            }
        }
        return streams;
    }

    /**
     * @return every extent, by id (several pages when there are many).
     */
    public List<ManagerListing.Extent> listExtents()
    {
        final List<ManagerListing.Extent> extents = new ArrayList<>();
        long from = 0;
        while (from >= 0)
        {
            list(ListKind.EXTENTS, from);
            expect(ExtentListResponseDecoder.TEMPLATE_ID, "listExtents");
            final ExtentListResponseDecoder decoder = new ExtentListResponseDecoder().wrap(
                responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            decoder.correlationId();
            from = decoder.nextFromId();
            for (final ExtentListResponseDecoder.ExtentsDecoder e : decoder.extents())
            {
                extents.add(new ManagerListing.Extent(e.extentId(), e.streamId(), e.sealedLength(),
                    new int[]{ e.replica0(), e.replica1(), e.replica2() }, e.refCount(), e.ownerRevision()));
            }
        }
        return extents;
    }

    /**
     * @return every garbage extent (refCount 0) some replica has not confirmed deleting, by id; a replica that
     * confirmed is node 0.
     */
    public List<ManagerListing.Extent> listGarbage()
    {
        final List<ManagerListing.Extent> extents = new ArrayList<>();
        long from = 0;
        while (from >= 0)
        {
            list(ListKind.GARBAGE, from);
            expect(ExtentListResponseDecoder.TEMPLATE_ID, "listGarbage");
            final ExtentListResponseDecoder decoder = new ExtentListResponseDecoder().wrap(
                responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            decoder.correlationId();
            from = decoder.nextFromId();
            for (final ExtentListResponseDecoder.ExtentsDecoder e : decoder.extents())
            {
                extents.add(new ManagerListing.Extent(e.extentId(), e.streamId(), e.sealedLength(),
                    new int[]{ e.replica0(), e.replica1(), e.replica2() }, e.refCount(), e.ownerRevision()));
            }
        }
        return extents;
    }

    /**
     * @return every open recovery task, by id.
     */
    public List<ManagerListing.Task> listTasks()
    {
        final List<ManagerListing.Task> tasks = new ArrayList<>();
        long from = 0;
        while (from >= 0)
        {
            list(ListKind.TASKS, from);
            expect(TaskListResponseDecoder.TEMPLATE_ID, "listTasks");
            final TaskListResponseDecoder decoder = new TaskListResponseDecoder().wrap(
                responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            decoder.correlationId();
            from = decoder.nextFromId();
            for (final TaskListResponseDecoder.TasksDecoder t : decoder.tasks())
            {
                // Fields sinceVersion 6 decode as their null values from an older manager: shown as unclaimed.
                final boolean claims = headerDecoder.version() >= 6;
                tasks.add(new ManagerListing.Task(t.taskId(), t.kind(), t.extentId(), t.streamId(), t.lostNodeId(),
                    t.createdAtMs(), t.sealedLength(), claims ? t.claimNodeId() : 0, claims ? t.claimEpoch() : 0,
                    claims ? t.claimExpiresAtMs() : 0, claims ? t.progressBytes() : 0));
            }
        }
        return tasks;
    }

    /**
     * @return every partition of the partition table, by id.
     */
    public List<ManagerListing.Partition> listPartitions()
    {
        final List<ManagerListing.Partition> partitions = new ArrayList<>();
        long from = 0;
        while (from >= 0)
        {
            list(ListKind.PARTITIONS, from);
            expect(PartitionListResponseDecoder.TEMPLATE_ID, "listPartitions");
            final PartitionListResponseDecoder decoder = new PartitionListResponseDecoder().wrap(
                responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            decoder.correlationId();
            from = decoder.nextFromId();
            for (final PartitionListResponseDecoder.PartitionsDecoder p : decoder.partitions())
            {
                final long id = p.partitionId();
                final long version = p.version();
                final int ownerId = p.ownerId();
                final long ownerLeaseId = p.ownerLeaseId();
                final long log = p.logStreamId();
                final long table = p.tableStreamId();
                final long meta = p.metaStreamId();
                partitions.add(new ManagerListing.Partition(id, p.startKey(), p.endKey(), version, ownerId,
                    ownerLeaseId, log, table, meta));
            }
        }
        return partitions;
    }

    /**
     * Creates an unassigned partition over [startKey, endKey), which no partition may overlap. Admin role.
     *
     * @param startKey      inclusive start, "" for the lowest key.
     * @param endKey        exclusive end, "" for +infinity.
     * @param logStreamId   existing stream or 0.
     * @param tableStreamId existing stream or 0.
     * @param metaStreamId  existing stream or 0.
     * @return the new partition's id and version.
     * @throws ManagerException UNAUTHORISED, RANGE_CONFLICT, NO_SUCH_STREAM, BAD_REQUEST, or status null on timeout.
     */
    public ManagerListing.PartitionChange createPartition(
        final String startKey, final String endKey, final long logStreamId, final long tableStreamId,
        final long metaStreamId)
    {
        final long correlationId = nextCorrelationId();
        final PartitionCreateRequestEncoder encoder = new PartitionCreateRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).logStreamId(logStreamId).tableStreamId(tableStreamId)
            .metaStreamId(metaStreamId).startKey(startKey).endKey(endKey);
        return partitionCall("createPartition", correlationId, HEADER_LENGTH + encoder.encodedLength());
    }

    /**
     * Splits a partition at splitKey if it is still at expectedVersion: it keeps [start, splitKey), a new partition
     * with the given streams and the same owner gets [splitKey, end). Admin role.
     *
     * @return the partition's new version and the new partition's id.
     * @throws ManagerException VERSION_MISMATCH, NO_SUCH_PARTITION, RANGE_CONFLICT, UNAUTHORISED, NO_SUCH_STREAM.
     */
    public ManagerListing.PartitionChange splitPartition(
        final long partitionId, final long expectedVersion, final String splitKey, final long logStreamId,
        final long tableStreamId, final long metaStreamId)
    {
        final long correlationId = nextCorrelationId();
        final PartitionSplitRequestEncoder encoder = new PartitionSplitRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).partitionId(partitionId).expectedVersion(expectedVersion)
            .logStreamId(logStreamId).tableStreamId(tableStreamId).metaStreamId(metaStreamId).splitKey(splitKey);
        return partitionCall("splitPartition(" + partitionId + ")", correlationId,
            HEADER_LENGTH + encoder.encodedLength());
    }

    /**
     * Merges right into left (left must end where right starts), both at their expected versions. Admin role.
     *
     * @return left's id and new version.
     * @throws ManagerException VERSION_MISMATCH, NO_SUCH_PARTITION, RANGE_CONFLICT, UNAUTHORISED.
     */
    public ManagerListing.PartitionChange mergePartitions(
        final long leftPartitionId, final long leftExpectedVersion, final long rightPartitionId,
        final long rightExpectedVersion)
    {
        final long correlationId = nextCorrelationId();
        final PartitionMergeRequestEncoder encoder = new PartitionMergeRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).leftPartitionId(leftPartitionId).leftExpectedVersion(leftExpectedVersion)
            .rightPartitionId(rightPartitionId).rightExpectedVersion(rightExpectedVersion);
        return partitionCall("mergePartitions(" + leftPartitionId + ", " + rightPartitionId + ")", correlationId,
            HEADER_LENGTH + encoder.encodedLength());
    }

    /**
     * Sets a partition's owner if it is still at expectedVersion. Admin role.
     *
     * @param ownerId      partition server id, 0 to unassign.
     * @param ownerLeaseId an existing lease of the owner, 0 when unassigning.
     * @return the partition's new version.
     * @throws ManagerException VERSION_MISMATCH, NO_SUCH_PARTITION, NO_SUCH_LEASE, BAD_REQUEST, UNAUTHORISED.
     */
    public ManagerListing.PartitionChange assignPartition(
        final long partitionId, final long expectedVersion, final int ownerId, final long ownerLeaseId)
    {
        final long correlationId = nextCorrelationId();
        final PartitionAssignRequestEncoder encoder = new PartitionAssignRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).partitionId(partitionId).expectedVersion(expectedVersion)
            .ownerId(ownerId).ownerLeaseId(ownerLeaseId);
        return partitionCall("assignPartition(" + partitionId + ")", correlationId,
            HEADER_LENGTH + encoder.encodedLength());
    }

    private ManagerListing.PartitionChange partitionCall(final String what, final long correlationId, final int length)
    {
        call(what, correlationId, length);
        expect(PartitionResponseDecoder.TEMPLATE_ID, what);
        final PartitionResponseDecoder d = new PartitionResponseDecoder().wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        d.correlationId();
        final ManagerStatus status = d.status();
        final ManagerListing.PartitionChange change = new ManagerListing.PartitionChange(
            d.partitionId(), d.version(), d.newPartitionId(), d.revision());
        final String message = d.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        return change;
    }

    /**
     * Claims a recovery task for this (healthy) node for {@code leaseMs}; an abandoned claim is claimable by another
     * node once it expires. A node holds at most {@link ManagerStateMachine#MAX_TASK_CLAIMS_PER_NODE} claims.
     *
     * @param nodeId  the claiming node, ALIVE.
     * @param taskId  a task, or {@link ManagerStateMachine#NULL_ID} for the oldest claimable one.
     * @param leaseMs claim duration, within [{@link ManagerStateMachine#MIN_TASK_LEASE_MS},
     *                {@link ManagerStateMachine#MAX_TASK_LEASE_MS}].
     * @return the claim.
     * @throws ManagerException NO_SUCH_TASK, TOO_MANY_CLAIMS, NO_SUCH_NODE, or status null on timeout.
     */
    public ManagerListing.TaskClaim claimTask(final int nodeId, final long taskId, final long leaseMs)
    {
        final long correlationId = nextCorrelationId();
        final TaskClaimRequestEncoder encoder = new TaskClaimRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).nodeId(nodeId).taskId(taskId).leaseMs(leaseMs);
        final String what = "claimTask(" + nodeId + ", " + taskId + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeTaskClaim(what);
    }

    /**
     * Reports progress of a claimed task and extends the claim by {@code leaseMs} from now.
     *
     * @param nodeId        the claimer.
     * @param claim         the claim.
     * @param progressBytes bytes copied so far.
     * @param leaseMs       new claim duration.
     * @return the claim with its new expiry.
     * @throws ManagerException CLAIM_LOST when another node took it over, NO_SUCH_TASK when it is gone.
     */
    public ManagerListing.TaskClaim reportTaskProgress(
        final int nodeId, final ManagerListing.TaskClaim claim, final long progressBytes, final long leaseMs)
    {
        final long correlationId = nextCorrelationId();
        final TaskProgressRequestEncoder encoder = new TaskProgressRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).nodeId(nodeId).taskId(claim.taskId()).claimEpoch(claim.claimEpoch())
            .progressBytes(progressBytes).leaseMs(leaseMs);
        final String what = "reportTaskProgress(" + claim.taskId() + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeTaskClaim(what);
    }

    /**
     * Completes a claimed task: the extent's replica on the lost node is replaced by {@code newNodeId}, which holds
     * a full copy made from the extent at {@link ManagerListing.TaskClaim#ownerRevision()}.
     *
     * @param nodeId    the claimer.
     * @param claim     the claim.
     * @param newNodeId the node with the new replica: ALIVE, not already a replica.
     * @return the task as completed; its owner revision is the extent's new one.
     * @throws ManagerException CLAIM_LOST, STALE_EXTENT (the extent changed since), NO_SUCH_TASK, BAD_REQUEST.
     */
    public ManagerListing.TaskClaim completeTask(
        final int nodeId, final ManagerListing.TaskClaim claim, final int newNodeId)
    {
        final long correlationId = nextCorrelationId();
        final TaskCompleteRequestEncoder encoder = new TaskCompleteRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).nodeId(nodeId).taskId(claim.taskId()).claimEpoch(claim.claimEpoch())
            .ownerRevision(claim.ownerRevision()).newNodeId(newNodeId);
        final String what = "completeTask(" + claim.taskId() + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeTaskClaim(what);
    }

    /**
     * Gives a claim up at once (the claimer abandoned the task), so another node can claim it without waiting for
     * the claim to expire.
     *
     * @param nodeId the claimer.
     * @param claim  the claim.
     * @return the task, unclaimed.
     * @throws ManagerException CLAIM_LOST when the claim is no longer this node's, NO_SUCH_TASK when it is gone.
     */
    public ManagerListing.TaskClaim releaseTask(final int nodeId, final ManagerListing.TaskClaim claim)
    {
        final long correlationId = nextCorrelationId();
        final TaskReleaseRequestEncoder encoder = new TaskReleaseRequestEncoder()
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId).nodeId(nodeId).taskId(claim.taskId()).claimEpoch(claim.claimEpoch());
        final String what = "releaseTask(" + claim.taskId() + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeTaskClaim(what);
    }

    private ManagerListing.TaskClaim decodeTaskClaim(final String what)
    {
        expect(TaskClaimResponseDecoder.TEMPLATE_ID, what);
        final TaskClaimResponseDecoder d = new TaskClaimResponseDecoder().wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        d.correlationId();
        final ManagerStatus status = d.status();
        final ManagerListing.TaskClaim claim = new ManagerListing.TaskClaim(d.taskId(), d.kind(), d.extentId(),
            d.streamId(), d.lostNodeId(), d.sealedLength(), d.ownerRevision(), d.claimEpoch(), d.claimExpiresAtMs(),
            d.progressBytes());
        final String message = d.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        return claim;
    }

    private void expect(final int templateId, final String what)
    {
        if (headerDecoder.templateId() != templateId)
        {
            throw unexpectedAnswer(what);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Key/value
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Puts a key (linearizable; applied at most once per session even across leader changes).
     *
     * @param key     1 to {@link KvStore#MAX_KEY_LENGTH_BYTES} UTF-8 bytes.
     * @param value   at most {@link KvStore#MAX_VALUE_LENGTH_BYTES} bytes.
     * @param leaseId 0 for none; the key is deleted when the lease expires or is revoked.
     * @return the revision of the put.
     * @throws ManagerException NO_SUCH_LEASE, BAD_REQUEST, or status null on timeout.
     */
    public long kvPut(final String key, final byte[] value, final long leaseId)
    {
        final long correlationId = nextCorrelationId();
        call("kvPut(" + key + ")", correlationId, encodePut(correlationId, key, value, leaseId));
        return decodeKv("kvPut(" + key + ")").revision();
    }

    /**
     * Asynchronous {@link #kvPut(String, byte[], long)}: sent now (or as soon as the session allows), completed from
     * {@link #poll()} (or any call) on the owner thread. Retries keep the correlationId, so it is applied at most
     * once while the session lives.
     *
     * @param key     the key.
     * @param value   the value.
     * @param leaseId 0 for none.
     * @return the revision of the put; fails with a {@link ManagerException} (status null on timeout).
     * @throws ManagerException (status null) when {@link Context#maxOutstandingRequests()} commands are in flight.
     */
    public CompletableFuture<Long> kvPutAsync(final String key, final byte[] value, final long leaseId)
    {
        final long correlationId = nextCorrelationId();
        return submit("kvPut(" + key + ")", correlationId, encodePut(correlationId, key, value, leaseId),
            (what, buffer, header) -> decodeKv(what, buffer, header).revision());
    }

    private int encodePut(final long correlationId, final String key, final byte[] value, final long leaseId)
    {
        final KvPutRequestEncoder encoder = kvPutEncoder.wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .leaseId(leaseId)
            .key(key)
            .putValue(value, 0, value.length);
        return HEADER_LENGTH + encoder.encodedLength();
    }

    /**
     * @param key the key.
     * @return the key's entry, or null when absent.
     */
    public Kv.KeyValue kvGet(final String key)
    {
        final Kv.Result result = kvRange(key, false, 1);
        return result.kvs().isEmpty() ? null : result.kvs().get(0);
    }

    /**
     * @param key      the key, or the prefix when {@code prefix} (an empty prefix is every key).
     * @param prefix   whether {@code key} is a prefix.
     * @param maxCount most entries; 0 for the maximum ({@link ManagerStateMachine#MAX_RANGE_RESULTS}).
     * @return the entries in key order and the revision they were read at.
     */
    public Kv.Result kvRange(final String key, final boolean prefix, final int maxCount)
    {
        final long correlationId = nextCorrelationId();
        call("kvRange(" + key + ")", correlationId, encodeRange(correlationId, key, prefix, maxCount));
        return decodeKv("kvRange(" + key + ")");
    }

    /**
     * Asynchronous {@link #kvRange(String, boolean, int)}; see {@link #kvPutAsync(String, byte[], long)}.
     *
     * @param key      the key or prefix.
     * @param prefix   whether {@code key} is a prefix.
     * @param maxCount most entries; 0 for the maximum.
     * @return the entries and the revision they were read at.
     */
    public CompletableFuture<Kv.Result> kvRangeAsync(final String key, final boolean prefix, final int maxCount)
    {
        final long correlationId = nextCorrelationId();
        return submit("kvRange(" + key + ")", correlationId, encodeRange(correlationId, key, prefix, maxCount),
            this::decodeKv);
    }

    /**
     * Asynchronous {@link #kvGet(String)}; see {@link #kvPutAsync(String, byte[], long)}.
     *
     * @param key the key.
     * @return the key's entry, or null when absent.
     */
    public CompletableFuture<Kv.KeyValue> kvGetAsync(final String key)
    {
        final long correlationId = nextCorrelationId();
        return submit("kvGet(" + key + ")", correlationId, encodeRange(correlationId, key, false, 1),
            (what, buffer, header) ->
            {
                final Kv.Result result = decodeKv(what, buffer, header);
                return result.kvs().isEmpty() ? null : result.kvs().get(0);
            });
    }

    private int encodeRange(final long correlationId, final String key, final boolean prefix, final int maxCount)
    {
        final KvRangeRequestEncoder encoder = kvRangeEncoder.wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .maxCount(maxCount)
            .prefix((short)(prefix ? 1 : 0))
            .key(key);
        return HEADER_LENGTH + encoder.encodedLength();
    }

    /**
     * @param key    the key or prefix.
     * @param prefix whether {@code key} is a prefix.
     * @return the answer; {@link Kv.Result#deleted()} keys were deleted.
     */
    public Kv.Result kvDelete(final String key, final boolean prefix)
    {
        final long correlationId = nextCorrelationId();
        call("kvDelete(" + key + ")", correlationId, encodeDelete(correlationId, key, prefix));
        return decodeKv("kvDelete(" + key + ")");
    }

    /**
     * Asynchronous {@link #kvDelete(String, boolean)}; see {@link #kvPutAsync(String, byte[], long)}.
     *
     * @param key    the key or prefix.
     * @param prefix whether {@code key} is a prefix.
     * @return the answer.
     */
    public CompletableFuture<Kv.Result> kvDeleteAsync(final String key, final boolean prefix)
    {
        final long correlationId = nextCorrelationId();
        return submit("kvDelete(" + key + ")", correlationId, encodeDelete(correlationId, key, prefix), this::decodeKv);
    }

    private int encodeDelete(final long correlationId, final String key, final boolean prefix)
    {
        final KvDeleteRequestEncoder encoder = kvDeleteEncoder.wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .prefix((short)(prefix ? 1 : 0))
            .key(key);
        return HEADER_LENGTH + encoder.encodedLength();
    }

    /**
     * Runs a compare-and-swap transaction atomically at one revision.
     *
     * @param txn compares and ops, at most 16 of each.
     * @return whether the compares held, and the entries read by its range ops.
     */
    public Kv.Result txn(final Kv.Txn txn)
    {
        final long correlationId = nextCorrelationId();
        call("txn", correlationId, encodeTxn(correlationId, txn));
        return decodeKv("txn");
    }

    /**
     * Asynchronous {@link #txn(Kv.Txn)}; see {@link #kvPutAsync(String, byte[], long)}.
     *
     * @param txn compares and ops.
     * @return whether the compares held, and the entries read.
     */
    public CompletableFuture<Kv.Result> txnAsync(final Kv.Txn txn)
    {
        final long correlationId = nextCorrelationId();
        return submit("txn", correlationId, encodeTxn(correlationId, txn), this::decodeKv);
    }

    private int encodeTxn(final long correlationId, final Kv.Txn txn)
    {
        final KvTxnRequestEncoder encoder = kvTxnEncoder.wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId);
        final KvTxnRequestEncoder.ComparesEncoder compares = encoder.comparesCount(txn.compares().size());
        for (final Kv.Compare c : txn.compares())
        {
            compares.next().target(c.target()).result(c.result()).operand(c.operand()).key(c.key())
                .putValue(c.value(), 0, c.value().length);
        }
        final KvTxnRequestEncoder.OpsEncoder ops = encoder.opsCount(txn.ops().size());
        for (final Kv.Op op : txn.ops())
        {
            ops.next().branch((short)(op.onSuccess() ? 0 : 1)).opType(op.type()).prefix((short)(op.prefix() ? 1 : 0))
                .leaseId(op.leaseId()).maxCount(0).key(op.key()).putValue(op.value(), 0, op.value().length);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private Kv.Result decodeKv(final String what)
    {
        return decodeKv(what, responseBuffer, headerDecoder);
    }

    private Kv.Result decodeKv(final String what, final DirectBuffer buffer, final MessageHeaderDecoder header)
    {
        if (header.templateId() != KvResponseDecoder.TEMPLATE_ID)
        {
            throw new ManagerException(null, what + " got an answer of unexpected templateId " + header.templateId());
        }
        final KvResponseDecoder decoder = kvResponseDecoder.wrap(
            buffer, HEADER_LENGTH, header.blockLength(), header.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        final long revision = decoder.revision();
        final boolean succeeded = decoder.succeeded() != 0;
        final int deleted = decoder.deleted();
        final boolean more = decoder.more() != 0;
        final List<Kv.KeyValue> kvs = new ArrayList<>();
        for (final KvResponseDecoder.KvsDecoder e : decoder.kvs())
        {
            final long create = e.createRevision();
            final long mod = e.modRevision();
            final long version = e.version();
            final long leaseId = e.leaseId();
            final String key = e.key();
            final byte[] value = new byte[e.valueLength()];
            e.getValue(value, 0, value.length);
            kvs.add(new Kv.KeyValue(key, value, create, mod, version, leaseId));
        }
        final String message = decoder.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        return new Kv.Result(revision, succeeded, deleted, kvs, more);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Leases
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * @param ttlMs within [{@link KvStore#MIN_LEASE_TTL_MS}, {@link KvStore#MAX_LEASE_TTL_MS}].
     * @return the new lease.
     */
    public Kv.Lease leaseGrant(final long ttlMs)
    {
        final long correlationId = nextCorrelationId();
        final LeaseGrantRequestEncoder encoder = leaseGrantEncoder.wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .ttlMs(ttlMs);
        call("leaseGrant(" + ttlMs + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeLease("leaseGrant");
    }

    /**
     * Extends the lease by its TTL from now (cluster time).
     *
     * @param leaseId the lease.
     * @return the lease with its new expiry.
     * @throws ManagerException NO_SUCH_LEASE once it expired.
     */
    public Kv.Lease leaseKeepAlive(final long leaseId)
    {
        final long correlationId = nextCorrelationId();
        final LeaseKeepAliveRequestEncoder encoder = leaseKeepAliveEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .leaseId(leaseId);
        call("leaseKeepAlive(" + leaseId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
        return decodeLease("leaseKeepAlive(" + leaseId + ")");
    }

    /**
     * Revokes the lease and deletes its keys.
     *
     * @param leaseId the lease.
     */
    public void leaseRevoke(final long leaseId)
    {
        final long correlationId = nextCorrelationId();
        final LeaseRevokeRequestEncoder encoder = leaseRevokeEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .leaseId(leaseId);
        call("leaseRevoke(" + leaseId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
        decodeLease("leaseRevoke(" + leaseId + ")");
    }

    private Kv.Lease decodeLease(final String what)
    {
        expect(LeaseResponseDecoder.TEMPLATE_ID, what);
        final LeaseResponseDecoder decoder = leaseResponseDecoder.wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        final long leaseId = decoder.leaseId();
        final long ttlMs = decoder.ttlMs();
        final long expiresAtMs = decoder.expiresAtMs();
        decoder.revision();
        final String message = decoder.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        return new Kv.Lease(leaseId, ttlMs, expiresAtMs);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Watches
    // ---------------------------------------------------------------------------------------------------------------

    private static final class WatchState
    {
        final String key;
        final boolean prefix;
        final Kv.WatchListener listener;
        /** Revision of the last event delivered; the watch is re-created from the one after. */
        long lastRevision;

        WatchState(final String key, final boolean prefix, final Kv.WatchListener listener, final long startRevision)
        {
            this.key = key;
            this.prefix = prefix;
            this.listener = listener;
            this.lastRevision = startRevision <= 0 ? -1 : startRevision - 1;
        }
    }

    /**
     * Watches a key or prefix. Events arrive in revision order on the thread that calls {@link #poll()} (or any
     * call). After a leader change the watch is re-created from the revision after the last event seen, so no
     * event is lost or repeated while the manager still holds that history.
     *
     * @param key           the key, or the prefix when {@code prefix}.
     * @param prefix        whether {@code key} is a prefix.
     * @param startRevision first revision wanted; 0 for changes after now.
     * @param listener      receives the events.
     * @return the watch id.
     * @throws ManagerException COMPACTED when {@code startRevision} is no longer kept.
     */
    public long watch(final String key, final boolean prefix, final long startRevision,
        final Kv.WatchListener listener)
    {
        final long watchId = nextWatchId++;
        final WatchState state = new WatchState(key, prefix, listener, startRevision);
        watches.put(watchId, state);
        try
        {
            sendWatchCreate(watchId, state);
        }
        catch (final RuntimeException ex)
        {
            watches.remove(watchId);
            throw ex;
        }
        return watchId;
    }

    /**
     * @param watchId a watch of this client.
     */
    public void cancelWatch(final long watchId)
    {
        if (watches.remove(watchId) == null)
        {
            return;
        }
        final long correlationId = nextCorrelationId();
        final WatchCancelRequestEncoder encoder = watchCancelEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .watchId(watchId);
        call("cancelWatch(" + watchId + ")", correlationId, HEADER_LENGTH + encoder.encodedLength());
    }

    private void sendWatchCreate(final long watchId, final WatchState state)
    {
        final long correlationId = nextCorrelationId();
        final WatchCreateRequestEncoder encoder = watchCreateEncoder
            .wrapAndApplyHeader(requestBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .watchId(watchId)
            .startRevision(state.lastRevision < 0 ? 0 : state.lastRevision + 1)
            .prefix((short)(state.prefix ? 1 : 0))
            .key(state.key);
        final String what = "watch(" + state.key + ")";
        call(what, correlationId, HEADER_LENGTH + encoder.encodedLength());
        expect(WatchResponseDecoder.TEMPLATE_ID, what);
        final WatchResponseDecoder decoder = watchResponseDecoder.wrap(
            responseBuffer, HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        decoder.watchId();
        final long revision = decoder.revision();
        decoder.compactRevision();
        final String message = decoder.errorMessage();
        if (status != ManagerStatus.OK)
        {
            throw new ManagerException(status, what + " refused: " + status + ": " + message);
        }
        if (state.lastRevision < 0)
        {
            state.lastRevision = revision;
        }
    }

    private void onWatchEvent(final DirectBuffer buffer, final int offset)
    {
        final WatchEventDecoder d = watchEventDecoder.wrap(
            buffer, offset + HEADER_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        d.correlationId();
        final long watchId = d.watchId();
        final boolean delete = d.eventType() == EventType.DELETE;
        final long revision = d.revision();
        final long createRevision = d.createRevision();
        final long version = d.version();
        final long leaseId = d.leaseId();
        final String key = d.key();
        final byte[] value = new byte[d.valueLength()];
        d.getValue(value, 0, value.length);
        final WatchState state = watches.get(watchId);
        if (state == null || revision < state.lastRevision)
        {
            return; // cancelled, or older than what was delivered
        }
        state.lastRevision = revision;
        state.listener.onEvent(new Kv.WatchEvent(watchId, delete, revision, key, value, createRevision, version,
            leaseId));
    }

    private void rewatchIfNeeded()
    {
        if (!rewatchNeeded || inCall)
        {
            return;
        }
        rewatchNeeded = false;
        for (final Map.Entry<Long, WatchState> entry : new ArrayList<>(watches.entrySet()))
        {
            // Re-created from the revision after the last one delivered. The events of one revision are pushed in
            // one burst, so a failover that cut a burst short can lose the rest of that one revision's events.
            sendWatchCreate(entry.getKey(), entry.getValue());
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
        int work = pending.isEmpty() ? 0 : sendPending(clock.nanoTime());
        if (cluster == null || cluster.isClosed())
        {
            return work + runCompletions();
        }
        work += cluster.pollEgress();
        work += runCompletions();
        if (rewatchNeeded && !inCall)
        {
            rewatchIfNeeded();
            work++;
        }
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
     * Decodes an answer of a command issued asynchronously; a refusal is thrown.
     *
     * @param <T> the result.
     */
    @FunctionalInterface
    private interface AnswerDecoder<T>
    {
        T decode(String what, DirectBuffer buffer, MessageHeaderDecoder header);
    }

    /** A command in flight: kept encoded so it can be sent again with its correlationId. */
    private static final class Pending
    {
        final long correlationId;
        final String what;
        final byte[] request;
        final long deadlineNs;
        /** Null for a synchronous call: its answer is copied to {@code responseBuffer}. */
        final AnswerDecoder<?> decoder;
        final CompletableFuture<Object> future;
        boolean sent;
        long resendAtNs;
        int sends;
        boolean answered;
        RuntimeException failure;

        Pending(final long correlationId, final String what, final byte[] request, final long deadlineNs,
            final AnswerDecoder<?> decoder)
        {
            this.correlationId = correlationId;
            this.what = what;
            this.request = request;
            this.deadlineNs = deadlineNs;
            this.decoder = decoder;
            this.future = decoder == null ? null : new CompletableFuture<>();
        }
    }

    /**
     * Sends the request in {@code requestBuffer} until its answer is in {@code responseBuffer} (header decoded in
     * {@code headerDecoder}); a ManagerErrorResponse is thrown. Asynchronous commands in flight keep being sent and
     * completed meanwhile.
     */
    private void call(final String what, final long correlationId, final int length)
    {
        awaitSlot(what);
        final Pending call = enqueue(what, correlationId, length, null);
        awaitedCorrelationId = correlationId;
        responseLength = 0;
        inCall = true;
        try
        {
            idle.reset();
            while (!call.answered)
            {
                if (call.failure != null)
                {
                    throw call.failure;
                }
                idle.idle(poll());
            }
        }
        finally
        {
            pending.remove(correlationId);
            awaitedCorrelationId = ManagerStateMachine.NULL_ID;
            inCall = false;
        }

        headerDecoder.wrap(responseBuffer, 0);
        throwIfError(what, responseBuffer, headerDecoder);
    }

    private void throwIfError(final String what, final DirectBuffer buffer, final MessageHeaderDecoder header)
    {
        if (header.templateId() == ManagerErrorResponseDecoder.TEMPLATE_ID)
        {
            final ManagerErrorResponseDecoder decoder = errorResponseDecoder.wrap(
                buffer, HEADER_LENGTH, header.blockLength(), header.version());
            decoder.correlationId();
            final ManagerStatus status = decoder.status();
            throw new ManagerException(status, what + " refused: " + status + ": " + decoder.errorMessage());
        }
    }

    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<T> submit(
        final String what, final long correlationId, final int length, final AnswerDecoder<T> decoder)
    {
        if (pending.size() >= ctx.maxOutstandingRequests())
        {
            throw new ManagerException(null, what + ": " + pending.size() + " commands in flight already, the most " +
                "allowed (maxOutstandingRequests); poll() until some complete");
        }
        final Pending request = enqueue(what, correlationId, length, decoder);
        sendPending(clock.nanoTime());
        return (CompletableFuture<T>)(CompletableFuture<?>)request.future;
    }

    private Pending enqueue(final String what, final long correlationId, final int length, final AnswerDecoder<?> decoder)
    {
        final byte[] request = new byte[length];
        requestBuffer.getBytes(0, request);
        final Pending command = new Pending(correlationId, what, request, clock.nanoTime() + ctx.responseTimeoutNs(),
            decoder);
        pending.put(correlationId, command);
        return command;
    }

    private void awaitSlot(final String what)
    {
        final long deadlineNs = clock.nanoTime() + ctx.responseTimeoutNs();
        idle.reset();
        while (pending.size() >= ctx.maxOutstandingRequests())
        {
            if (clock.nanoTime() - deadlineNs >= 0)
            {
                throw new ManagerException(null, what + " found " + pending.size() + " commands in flight for " +
                    TimeUnit.NANOSECONDS.toMillis(ctx.responseTimeoutNs()) + " ms");
            }
            idle.idle(poll());
        }
    }

    /**
     * @return commands sent and not yet answered, asynchronous ones and a synchronous call in progress.
     */
    public int outstandingRequests()
    {
        return pending.size();
    }

    /**
     * Fails expired commands, reopens a lost session, and sends what is unsent or due for a resend, in
     * correlationId order so that the manager never applies a later command of this session before an earlier one.
     */
    private int sendPending(final long nowNs)
    {
        int work = 0;
        for (final java.util.Iterator<Pending> it = pending.values().iterator(); it.hasNext(); )
        {
            final Pending command = it.next();
            if (nowNs - command.deadlineNs >= 0)
            {
                it.remove();
                fail(command, new ManagerException(null, command.what + " got no answer within " +
                    TimeUnit.NANOSECONDS.toMillis(ctx.responseTimeoutNs()) + " ms from managers " + ctx.managers() +
                    " (correlationId " + command.correlationId + ", sends " + command.sends + ", leader " +
                    leaderMemberId() + (lastSessionEvent.isEmpty() ? "" : ", last session event: " + lastSessionEvent) +
                    ")"));
                work++;
            }
        }
        if (pending.isEmpty())
        {
            return work;
        }
        if (cluster == null || cluster.isClosed())
        {
            try
            {
                openSession(pending.firstEntry().getValue().deadlineNs);
            }
            catch (final ManagerException ex)
            {
                for (final Pending command : pending.values())
                {
                    fail(command, ex);
                }
                pending.clear();
                return work + 1;
            }
            resendAllPending = true;
        }
        if (resendAllPending)
        {
            // The old leader may have died before appending them: send every one again, in order.
            resendAllPending = false;
            for (final Pending command : pending.values())
            {
                command.sent = false;
            }
        }
        for (final Pending command : pending.values())
        {
            if (!command.sent || nowNs - command.resendAtNs >= 0)
            {
                final long result = cluster.offer(new UnsafeBuffer(command.request), 0, command.request.length);
                if (result <= 0)
                {
                    command.sent = false;
                    break; // keep the order: nothing later goes before this one
                }
                command.sent = true;
                command.sends++;
                command.resendAtNs = nowNs + ctx.resendIntervalNs();
                nextKeepAliveNs = nowNs + ctx.keepAliveIntervalNs();
                work++;
            }
        }
        return work;
    }

    private void fail(final Pending command, final RuntimeException failure)
    {
        if (command.future == null)
        {
            command.failure = failure;
        }
        else
        {
            completions.add(() -> command.future.completeExceptionally(failure));
        }
    }

    private void onAnswer(final Pending command, final DirectBuffer buffer, final int offset, final int length)
    {
        if (command.decoder == null)
        {
            responseBuffer.putBytes(0, buffer, offset, length);
            responseLength = length;
            command.answered = true;
            return;
        }
        pending.remove(command.correlationId);
        asyncResponseBuffer.putBytes(0, buffer, offset, length);
        asyncHeaderDecoder.wrap(asyncResponseBuffer, 0);
        try
        {
            throwIfError(command.what, asyncResponseBuffer, asyncHeaderDecoder);
            final Object result = command.decoder.decode(command.what, asyncResponseBuffer, asyncHeaderDecoder);
            completions.add(() -> command.future.complete(result));
        }
        catch (final RuntimeException ex)
        {
            completions.add(() -> command.future.completeExceptionally(ex));
        }
    }

    private int runCompletions()
    {
        final int count = completions.size();
        if (count == 0)
        {
            return 0;
        }
        // Completed outside the egress poll: a callback may issue further commands.
        final Runnable[] batch = completions.toArray(new Runnable[0]);
        completions.clear();
        for (final Runnable completion : batch)
        {
            completion.run();
        }
        return count;
    }

    private StreamInfo decodeStreamInfo(final String what)
    {
        return decodeStreamInfo(what, responseBuffer, headerDecoder);
    }

    private StreamInfo decodeStreamInfo(final String what, final DirectBuffer buffer, final MessageHeaderDecoder header)
    {
        if (header.templateId() != StreamInfoResponseDecoder.TEMPLATE_ID)
        {
            throw new ManagerException(null, what + " got an answer of unexpected templateId " + header.templateId());
        }
        final StreamInfoResponseDecoder decoder = streamInfoResponseDecoder.wrap(
            buffer, HEADER_LENGTH, header.blockLength(), header.version());
        decoder.correlationId();
        final ManagerStatus status = decoder.status();
        final long streamId = decoder.streamId();
        final long ownerRevision = header.version() >= 5 ? Math.max(0, decoder.ownerRevision()) : 0;
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
        return new StreamInfo(streamId, name, extents, endpoints, ownerRevision);
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
                .credentialsSupplier(new CredentialsSupplier()
                {
                    public byte[] encodedCredentials()
                    {
                        return ctx.credentials().getBytes(StandardCharsets.UTF_8);
                    }

                    public byte[] onChallenge(final byte[] encodedChallenge)
                    {
                        return new byte[0];
                    }
                })
                .messageTimeoutNs(remainingNs)
                // Outlast a failover (about 2 s measured) rather than close the session and lose de-duplication.
                .newLeaderTimeoutNs(ctx.responseTimeoutNs())
                .idleStrategy(idle));
            nextKeepAliveNs = clock.nanoTime() + ctx.keepAliveIntervalNs();
            sessionLeaderMemberId = cluster.leaderMemberId();
            rewatchNeeded = !watches.isEmpty();
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
            if (length < HEADER_LENGTH + Long.BYTES || length > responseBuffer.capacity())
            {
                return;
            }
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
            {
                return;
            }
            if (headerDecoder.templateId() == WatchEventDecoder.TEMPLATE_ID)
            {
                onWatchEvent(buffer, offset);
                return;
            }
            final long correlationId = buffer.getLong(offset + HEADER_LENGTH, ByteOrder.LITTLE_ENDIAN);
            final Pending command = pending.get(correlationId);
            if (command != null && !command.answered)
            {
                onAnswer(command, buffer, offset, length);
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
            resendAllPending = true;
            rewatchNeeded = !watches.isEmpty();
        }
    }
}
