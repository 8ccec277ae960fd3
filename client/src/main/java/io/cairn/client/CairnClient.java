package io.cairn.client;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.cairn.manager.ClusterStatus;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerClient;
import io.cairn.manager.ManagerEndpoints;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The Cairn client library: create streams, append blocks to them and read blocks back, over Aeron.
 * <p>
 * Stream metadata comes from the manager ({@link ManagerClient}); data goes straight to the extent
 * nodes: an append to the tail extent's primary, which acknowledges once all three replicas are durable;
 * a read to any replica. When the tail cannot take an append (full, a replica failed, no answer in time),
 * the client asks the manager to seal it at the length it knows to be acknowledged and to allocate a new
 * tail, then appends there. That is safe because one client is the single writer of a stream: every
 * acknowledged block lies below that length, and anything a replica holds beyond it is not part of the
 * stream.
 * <p>
 * Not thread-safe: one owner thread. The append and read paths allocate nothing in steady state.
 */
public final class CairnClient implements AutoCloseable
{
    /**
     * Configuration with named defaults; {@link #conclude()} validates.
     */
    public static final class Context
    {
        /** Default manager ingress endpoints: the local cluster started by ./run.sh. */
        public static final String MANAGERS_DEFAULT = "0=127.0.0.1:20110,1=127.0.0.1:20120,2=127.0.0.1:20130";
        /** How long one request to an extent node may take before the client gives up on that replica set. */
        public static final long NODE_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(5);
        /** How long a manager call may take, retries across a leader election included. */
        public static final long MANAGER_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(20);
        /** How many extents one append may try before it fails (each failed try seals a tail). */
        public static final int MAX_APPEND_ATTEMPTS_DEFAULT = 4;
        /** Host the client's response subscription binds to; nodes must be able to reach it. */
        public static final String RESPONSE_HOST_DEFAULT = "127.0.0.1";
        /**
         * How long a read waits for its replica before it also asks the next replica holding the range (a hedge);
         * the first valid answer wins. 0 turns hedging off.
         */
        public static final long HEDGE_DELAY_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(5);
        /**
         * Most extent node sessions the client holds at once (each is a publication with its own term buffers); the
         * least recently used one is closed to make room.
         */
        public static final int MAX_NODE_SESSIONS_DEFAULT = 16;
        /** Largest {@link #maxNodeSessions(int)} accepted. */
        public static final int MAX_NODE_SESSIONS_LIMIT = 1024;
        /** A session with an extent node unused for this long is closed. */
        public static final long SESSION_IDLE_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(60);
        /**
         * Extra time a record's answer may take per MiB of record, on top of the node timeout: the primary writes
         * and replicates a record only once all its chunks are in, so a 64 MiB record's answer comes seconds after
         * its last chunk.
         */
        public static final long RECORD_TIMEOUT_NS_PER_MIB_DEFAULT = TimeUnit.MILLISECONDS.toNanos(250);

        private String managers = MANAGERS_DEFAULT;
        private String aeronDirectoryName;
        private long nodeTimeoutNs = NODE_TIMEOUT_NS_DEFAULT;
        private long managerTimeoutNs = MANAGER_TIMEOUT_NS_DEFAULT;
        private int maxAppendAttempts = MAX_APPEND_ATTEMPTS_DEFAULT;
        private String responseHost = RESPONSE_HOST_DEFAULT;
        private long hedgeDelayNs = HEDGE_DELAY_NS_DEFAULT;
        private int maxNodeSessions = MAX_NODE_SESSIONS_DEFAULT;
        private long sessionIdleTimeoutNs = SESSION_IDLE_TIMEOUT_NS_DEFAULT;
        private long recordTimeoutNsPerMib = RECORD_TIMEOUT_NS_PER_MIB_DEFAULT;
        private NanoClock nanoClock = SystemNanoClock.INSTANCE;
        private boolean concluded;

        /**
         * @param timeoutNsPerMib extra time a record's answer may take per MiB of the record, beyond
         *                        {@link #nodeTimeoutNs()}.
         * @return this.
         */
        public Context recordTimeoutNsPerMib(final long timeoutNsPerMib)
        {
            this.recordTimeoutNsPerMib = timeoutNsPerMib;
            return this;
        }

        /**
         * @return extra time a record's answer may take per MiB of the record.
         */
        public long recordTimeoutNsPerMib()
        {
            return recordTimeoutNsPerMib;
        }

        /**
         * @param managers manager ingress endpoints, {@code "0=host:port,1=host:port,2=host:port"}.
         * @return this.
         */
        public Context managers(final String managers)
        {
            this.managers = managers;
            return this;
        }

        public String managers()
        {
            return managers;
        }

        /**
         * @param dir directory of a running media driver to use; null (default) embeds a driver.
         * @return this.
         */
        public Context aeronDirectoryName(final String dir)
        {
            this.aeronDirectoryName = dir;
            return this;
        }

        public String aeronDirectoryName()
        {
            return aeronDirectoryName;
        }

        /**
         * @param timeoutNs time one extent node request may take.
         * @return this.
         */
        public Context nodeTimeoutNs(final long timeoutNs)
        {
            this.nodeTimeoutNs = timeoutNs;
            return this;
        }

        public long nodeTimeoutNs()
        {
            return nodeTimeoutNs;
        }

        /**
         * @param timeoutNs time one manager call may take, retries included.
         * @return this.
         */
        public Context managerTimeoutNs(final long timeoutNs)
        {
            this.managerTimeoutNs = timeoutNs;
            return this;
        }

        public long managerTimeoutNs()
        {
            return managerTimeoutNs;
        }

        /**
         * @param attempts extents one append may try, at least 1.
         * @return this.
         */
        public Context maxAppendAttempts(final int attempts)
        {
            this.maxAppendAttempts = attempts;
            return this;
        }

        public int maxAppendAttempts()
        {
            return maxAppendAttempts;
        }

        /**
         * @param delayNs how long {@link CairnClient#readAnyReplica} (and {@link CairnClient#readStream} per block)
         *                waits for a replica before it sends the same read to the next replica holding the range as
         *                well, and again after each further delay or failure, each replica at most once; the first
         *                valid answer wins. All share one {@link #nodeTimeoutNs(long)} deadline. 0 turns hedging
         *                off (replicas are then tried one after another, each with its own time-out). Must be below
         *                nodeTimeoutNs.
         * @return this.
         */
        public Context hedgeDelayNs(final long delayNs)
        {
            this.hedgeDelayNs = delayNs;
            return this;
        }

        public long hedgeDelayNs()
        {
            return hedgeDelayNs;
        }

        /**
         * @param sessions most extent node sessions held at once, in [{@link NodeProtocol#REPLICA_COUNT},
         *                 {@link #MAX_NODE_SESSIONS_LIMIT}]: a read opens sessions with every replica of its extent
         *                 ahead of need, so fewer than the replica count could not hold them.
         * @return this.
         */
        public Context maxNodeSessions(final int sessions)
        {
            this.maxNodeSessions = sessions;
            return this;
        }

        public int maxNodeSessions()
        {
            return maxNodeSessions;
        }

        /**
         * @param timeoutNs a session with an extent node unused for this long is closed; above nodeTimeoutNs, so a
         *                  request in flight never loses its session.
         * @return this.
         */
        public Context sessionIdleTimeoutNs(final long timeoutNs)
        {
            this.sessionIdleTimeoutNs = timeoutNs;
            return this;
        }

        public long sessionIdleTimeoutNs()
        {
            return sessionIdleTimeoutNs;
        }

        /**
         * @param host address the response subscription binds to.
         * @return this.
         */
        public Context responseHost(final String host)
        {
            this.responseHost = host;
            return this;
        }

        public String responseHost()
        {
            return responseHost;
        }

        /**
         * @param clock the clock deadlines are measured with (a test may pass its own).
         * @return this.
         */
        public Context nanoClock(final NanoClock clock)
        {
            this.nanoClock = clock;
            return this;
        }

        public NanoClock nanoClock()
        {
            return nanoClock;
        }

        /**
         * Validates every value once.
         *
         * @return this.
         * @throws IllegalArgumentException naming the value and what is allowed.
         */
        public Context conclude()
        {
            if (concluded)
            {
                throw new IllegalStateException("Context already concluded");
            }
            ManagerEndpoints.parse(managers); // Throws naming the bad entry.
            requirePositive("nodeTimeoutNs", nodeTimeoutNs);
            requirePositive("managerTimeoutNs", managerTimeoutNs);
            if (recordTimeoutNsPerMib < 0 || recordTimeoutNsPerMib > TimeUnit.MINUTES.toNanos(1))
            {
                throw new IllegalArgumentException("recordTimeoutNsPerMib=" + recordTimeoutNsPerMib +
                    " must be in [0, 60 s]");
            }
            if (maxAppendAttempts < 1 || maxAppendAttempts > 100)
            {
                throw new IllegalArgumentException("maxAppendAttempts=" + maxAppendAttempts + " must be in [1, 100]");
            }
            if (hedgeDelayNs < 0 || hedgeDelayNs >= nodeTimeoutNs)
            {
                throw new IllegalArgumentException("hedgeDelayNs=" + hedgeDelayNs +
                    " must be 0 (off) or in (0, nodeTimeoutNs=" + nodeTimeoutNs + ")");
            }
            if (maxNodeSessions < NodeProtocol.REPLICA_COUNT || maxNodeSessions > MAX_NODE_SESSIONS_LIMIT)
            {
                throw new IllegalArgumentException("maxNodeSessions=" + maxNodeSessions + " must be in [" +
                    NodeProtocol.REPLICA_COUNT + ", " + MAX_NODE_SESSIONS_LIMIT + "]");
            }
            if (sessionIdleTimeoutNs <= nodeTimeoutNs)
            {
                throw new IllegalArgumentException("sessionIdleTimeoutNs=" + sessionIdleTimeoutNs +
                    " must be above nodeTimeoutNs=" + nodeTimeoutNs);
            }
            if (null == responseHost || responseHost.isBlank())
            {
                throw new IllegalArgumentException("responseHost must be a host name or address");
            }
            if (null == nanoClock)
            {
                throw new IllegalArgumentException("nanoClock must not be null");
            }
            concluded = true;
            return this;
        }

        private static void requirePositive(final String name, final long value)
        {
            if (value <= 0)
            {
                throw new IllegalArgumentException(name + "=" + value + " must be > 0");
            }
        }
    }

    private static final long UNKNOWN_LENGTH = -1;
    private static final long NO_FAILURE = Long.MIN_VALUE;
    private static final int NO_NODE = -1;
    /** A replica whose read timed out or failed is tried last for this long. */
    private static final long READ_SUSPECT_NS = TimeUnit.SECONDS.toNanos(10);
    /**
     * Fragments a hedged read takes per poll: one, so that a failed answer is looked at (and the slot re-armed)
     * before the next answer of the same read is decoded; with more, that answer would find the slot full.
     */
    private static final int HEDGED_READ_FRAGMENT_LIMIT = 1;

    /** What the client knows of a stream it writes to. */
    private static final class StreamState
    {
        final long streamId;
        StreamInfo info;
        boolean tailOpen;
        long tailAckedLength = UNKNOWN_LENGTH;
        /** This client's owner revision for the stream (from OpenStream); 0 until it takes ownership. */
        long ownerRevision;

        StreamState(final long streamId, final StreamInfo info)
        {
            this.streamId = streamId;
            this.info = info;
        }
    }

    private final Context ctx;
    private final NanoClock clock;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final ManagerClient manager;
    private final Subscription responses;
    private final String responseChannel;
    private final long clientId;
    private final UnsafeBuffer sendBuffer;
    private final NodeResponseAdapter adapter = new NodeResponseAdapter(this::onConnectResponse);
    private final FragmentAssembler assembler = new FragmentAssembler(adapter);
    private final IdleStrategy idle = AeronDefaults.idleStrategy();
    private final NodeSessions sessions;
    private final Int2ObjectHashMap<String> nodeEndpoints = new Int2ObjectHashMap<>();
    private final Long2ObjectHashMap<StreamState> streams = new Long2ObjectHashMap<>();
    private long nextCorrelationId = 1;
    private long nextRequestId = 1;
    private final ReadResult checkResult = new ReadResult();
    /** Replica order of the read in progress: not-suspect first; reused so reads allocate nothing. */
    private int[] readOrder = new int[NodeProtocol.REPLICA_COUNT];
    /** The sessions of {@link #readOrder}'s replicas for the hedged read in progress (null: no address known). */
    private ExtentNodeProxy[] readNodes = new ExtentNodeProxy[NodeProtocol.REPLICA_COUNT];
    /** Hedged read in progress, bit i for readOrder[i]: asked; answered or failed; asked as a hedge. */
    private long readAskedMask;
    private long readDoneMask;
    private long readHedgeMask;
    /** How many of readOrder the hedged read in progress may ask so far, and when it may ask one more. */
    private int readReleased;
    private long readNextReleaseNs;
    /** The last failure status of the hedged read in progress (null: none answered). */
    private NodeStatus readFailure;
    private long hedgesSent;
    /** Scratch for the second and later blocks of a record being reassembled by {@link #readRecord}. */
    private final ReadResult recordBlock = new ReadResult();
    private long hedgeWins;
    private final org.agrona.collections.Long2LongHashMap readFailedAtNs =
        new org.agrona.collections.Long2LongHashMap(NO_FAILURE);

    private CairnClient(final Context ctx)
    {
        this.ctx = ctx;
        this.clock = ctx.nanoClock();
        this.clientId = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        // Room for the largest append plus headers: encoding never needs to grow the buffer.
        this.sendBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(NodeProtocol.MAX_PAYLOAD_BYTES + 4096));

        MediaDriver launched = null;
        Aeron aeron = null;
        ManagerClient manager = null;
        Subscription responses = null;
        try
        {
            String dir = ctx.aeronDirectoryName();
            if (null == dir)
            {
                launched = MediaDriver.launchEmbedded(
                    AeronDefaults.driverContext("client-" + ProcessHandle.current().pid() + "-" + Long.toHexString(clientId)));
                dir = launched.aeronDirectoryName();
            }
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir));
            responses = aeron.addSubscription(
                "aeron:udp?endpoint=" + ctx.responseHost() + ":0", NodeProtocol.RESPONSE_STREAM_ID);
            this.responseChannel = resolveResponseChannel(responses);
            manager = ManagerClient.connect(new ManagerClient.Context()
                .managers(ctx.managers())
                .aeronDirectoryName(dir)
                // Answers come to this client's address, which need not be the managers' host.
                .egressChannel("aeron:udp?endpoint=" + ctx.responseHost() + ":0")
                .responseTimeoutNs(ctx.managerTimeoutNs()));
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(manager, responses, aeron, launched);
            throw ex;
        }
        this.driver = launched;
        this.aeron = aeron;
        this.manager = manager;
        this.responses = responses;
        this.sessions = new NodeSessions(aeron, clientId, responseChannel, sendBuffer, ctx.maxNodeSessions(),
            ctx.nodeTimeoutNs(), ctx.sessionIdleTimeoutNs(), () -> nextCorrelationId++);
    }

    private boolean onConnectResponse(final long correlationId, final int nodeId, final NodeStatus status)
    {
        return sessions.onConnectResponse(correlationId, nodeId, status);
    }

    /**
     * Connects to the manager cluster (and embeds a media driver unless the context names one).
     *
     * @param ctx configuration; concluded here.
     * @return a connected client.
     */
    public static CairnClient connect(final Context ctx)
    {
        return new CairnClient(ctx.conclude());
    }

    /**
     * @return the manager client this client uses, for metadata calls such as cluster status.
     */
    public ManagerClient manager()
    {
        return manager;
    }

    /**
     * @return this client's random id at the extent nodes.
     */
    public long clientId()
    {
        return clientId;
    }

    /**
     * Creates a stream; the manager places its first extent on three distinct nodes.
     *
     * @param name unique stream name.
     * @return the new stream.
     */
    public StreamInfo createStream(final String name)
    {
        final StreamInfo info = manager.createStream(name);
        remember(info);
        return info;
    }

    /**
     * Takes ownership of a stream as its single writer: the manager hands out a new owner revision, which this
     * client presents to the extent nodes and the manager from then on; any earlier writer is fenced (its appends
     * and seals answer LOCKED_BY_OTHER). {@link #append} calls this on a stream's first append.
     *
     * @param streamId stream to write.
     * @return the stream, with this client's owner revision.
     */
    public StreamInfo openStream(final long streamId)
    {
        final StreamInfo info = manager.openStream(streamId);
        remember(info);
        final StreamState state = streams.get(streamId);
        state.ownerRevision = info.ownerRevision();
        state.tailOpen = false;
        state.tailAckedLength = UNKNOWN_LENGTH;
        return info;
    }

    /**
     * @param streamId stream to describe.
     * @return the stream's extents as the manager has them now.
     */
    public StreamInfo streamInfo(final long streamId)
    {
        final StreamInfo info = manager.streamInfo(streamId);
        remember(info);
        return info;
    }

    /**
     * @return members, leader and registered nodes.
     */
    public ClusterStatus clusterStatus()
    {
        final ClusterStatus status = manager.clusterStatus();
        for (final var node : status.nodes())
        {
            nodeEndpoints.put(node.nodeId(), node.endpoint());
        }
        return status;
    }

    /**
     * Appends one record to the stream's tail and returns once all three replicas have all of it durably.
     *
     * @param streamId      stream to append to.
     * @param payload       bytes to append.
     * @param payloadOffset where they start.
     * @param payloadLength how many, 1 to {@link NodeProtocol#MAX_RECORD_BYTES}.
     * @param result        filled with where the record landed.
     * @throws CairnException when no extent took the append within the allowed attempts.
     */
    public void append(
        final long streamId,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final AppendResult result)
    {
        append(streamId, null, 0, 0, payload, payloadOffset, payloadLength, result);
    }

    /**
     * Appends one record with user metadata. A record of up to {@link NodeProtocol#MAX_RECORD_BYTES} is sent in
     * chunks of {@link NodeProtocol#MAX_PAYLOAD_BYTES} (one block each) and is visible whole or not at all; a retry
     * carries the same request id, so the record lands exactly once.
     *
     * @param streamId       stream to append to.
     * @param metadata       user metadata, or null.
     * @param metadataOffset where it starts.
     * @param metadataLength 0 to {@link NodeProtocol#MAX_USER_METADATA_BYTES}.
     * @param payload        bytes to append.
     * @param payloadOffset  where they start.
     * @param payloadLength  how many, 1 to {@link NodeProtocol#MAX_RECORD_BYTES}.
     * @param result         filled with where the record landed (its start and end).
     * @throws CairnException when no extent took the append within the allowed attempts.
     */
    public void append(
        final long streamId,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final AppendResult result)
    {
        if (payloadLength < 1 || payloadLength > NodeProtocol.MAX_RECORD_BYTES)
        {
            throw new IllegalArgumentException(
                "payloadLength=" + payloadLength + " must be in [1, " + NodeProtocol.MAX_RECORD_BYTES + "]");
        }
        if (metadataLength < 0 || metadataLength > NodeProtocol.MAX_USER_METADATA_BYTES ||
            (metadataLength > 0 && null == metadata))
        {
            throw new IllegalArgumentException("metadataLength=" + metadataLength + " must be in [0, " +
                NodeProtocol.MAX_USER_METADATA_BYTES + "] with metadata given");
        }
        final StreamState state = stream(streamId);
        if (0 == state.ownerRevision)
        {
            openStream(streamId);
        }
        final long requestId = nextRequestId++;
        String lastFailure = "";
        for (int attempt = 0; attempt < ctx.maxAppendAttempts(); attempt++)
        {
            final ExtentInfo tail = state.info.tail();
            final NodeStatus status;
            try
            {
                if (!state.tailOpen)
                {
                    openTail(state);
                }
                final ExtentNodeProxy primary = connectedNode(tail.primary());
                status = sendRecord(primary, tail.extentId(), state.ownerRevision, requestId, metadata, metadataOffset,
                    metadataLength, payload, payloadOffset, payloadLength);
            }
            catch (final CairnException ex)
            {
                if (NodeStatus.LOCKED_BY_OTHER == ex.nodeStatus())
                {
                    throw ex;
                }
                lastFailure = ex.getMessage();
                if (rollOver(state, payload, payloadOffset, payloadLength, result))
                {
                    return;
                }
                continue;
            }

            if (NodeStatus.OK == status)
            {
                state.tailAckedLength = adapter.nextOffset();
                result.set(tail.extentId(), adapter.blockOffset(), adapter.nextOffset());
                return;
            }
            lastFailure = describe(status, "append to extent " + tail.extentId() + " on node " + tail.primary());
            if (NodeStatus.NOT_OPEN == status)
            {
                state.tailOpen = false; // The primary restarted: open the extent again, same tail.
            }
            else if (NodeStatus.BUSY == status)
            {
                idle.reset();
                idle.idle(0);
            }
            else if (NodeStatus.BAD_REQUEST == status || NodeStatus.LOCKED_BY_OTHER == status)
            {
                throw new CairnException(status, lastFailure);
            }
            else if (rollOver(state, payload, payloadOffset, payloadLength, result))
            {
                // EXTENT_FULL, REPLICA_FAILED, SEALED, IO_ERROR, time-out...: this tail is done, and the seal
                // showed that the append had landed inside the sealed length.
                return;
            }
        }
        throw new CairnException(null, "append to stream " + streamId + " failed after " +
            ctx.maxAppendAttempts() + " attempts; last: " + lastFailure);
    }

    /**
     * Sends a record to the primary, in chunks, and waits for its one answer (an early error answer stops it).
     *
     * @return the status, or null on time-out.
     */
    private NodeStatus sendRecord(
        final ExtentNodeProxy primary,
        final long extentId,
        final long ownerRevision,
        final long requestId,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength)
    {
        final long correlationId = nextCorrelationId++;
        if (payloadLength <= NodeProtocol.MAX_PAYLOAD_BYTES)
        {
            final int length = primary.encodeAppendChunk(correlationId, clientId, extentId, NodeProtocol.NULL_OFFSET,
                ownerRevision, requestId, payloadLength, 0, metadata, metadataOffset, metadataLength, payload,
                payloadOffset, payloadLength);
            return request(primary, length, correlationId, null);
        }
        manager.poll();
        adapter.await(correlationId, null);
        for (int chunkOffset = 0; chunkOffset < payloadLength && !adapter.received();
            chunkOffset += NodeProtocol.MAX_PAYLOAD_BYTES)
        {
            final int chunkLength = Math.min(NodeProtocol.MAX_PAYLOAD_BYTES, payloadLength - chunkOffset);
            final int length = primary.encodeAppendChunk(correlationId, clientId, extentId, NodeProtocol.NULL_OFFSET,
                ownerRevision, requestId, payloadLength, chunkOffset, metadata, metadataOffset,
                0 == chunkOffset ? metadataLength : 0, payload, payloadOffset + chunkOffset, chunkLength);
            // The deadline runs per chunk: a large record takes as long as it takes, a stalled node does not.
            if (!send(primary, length, clock.nanoTime() + ctx.nodeTimeoutNs()))
            {
                primary.handshakeDone(false);
                return null;
            }
        }
        final long recordMib = payloadLength >> 20;
        return awaitAnswer(primary, clock.nanoTime() + ctx.nodeTimeoutNs() + recordMib * ctx.recordTimeoutNsPerMib());
    }

    private NodeStatus awaitAnswer(final ExtentNodeProxy node, final long deadlineNs)
    {
        idle.reset();
        while (!adapter.received())
        {
            final int work = responses.poll(assembler, 16);
            if (0 == work && clock.nanoTime() - deadlineNs > 0)
            {
                node.handshakeDone(false);
                return null;
            }
            idle.idle(work);
        }
        return adapter.status();
    }

    /**
     * Convenience form of {@link #append(long, DirectBuffer, int, int, AppendResult)}; allocates.
     *
     * @param streamId stream to append to.
     * @param payload  bytes to append.
     * @return where the block landed.
     */
    public AppendResult append(final long streamId, final byte[] payload)
    {
        final AppendResult result = new AppendResult();
        append(streamId, new UnsafeBuffer(payload), 0, payload.length, result);
        return result;
    }

    /**
     * Reads one block from one replica; the node verifies its CRC32C before answering. By design this never hedges
     * and never moves to another replica: it is the diagnostic "read from this node" call (checking a replica,
     * comparing replicas). Reads that only want the data use {@link #readAnyReplica} or {@link #readStream}.
     *
     * @param nodeId      replica to read from.
     * @param extentId    extent holding the block.
     * @param blockOffset block start, as returned by an append or a previous read's next offset.
     * @param result      filled with the payload.
     * @return the node's status: OK, or END_OF_EXTENT, OUT_OF_RANGE, CORRUPT, NO_SUCH_EXTENT...
     * @throws CairnException when the node does not answer in time.
     */
    public NodeStatus read(final int nodeId, final long extentId, final long blockOffset, final ReadResult result)
    {
        final ExtentNodeProxy node = connectedNode(nodeId);
        final long correlationId = nextCorrelationId++;
        final int length = node.encodeRead(correlationId, clientId, extentId, blockOffset);
        final NodeStatus status = request(node, length, correlationId, result);
        if (null == status)
        {
            throw new CairnException(null, "read of extent " + extentId + " at " + blockOffset +
                " from node " + nodeId + " timed out");
        }
        result.nodeId(nodeId);
        return status;
    }

    /**
     * Reads one whole record from one replica: the block at {@code recordOffset} must be a record's first; the
     * client reads the record's following blocks (the node checks each one's CRC32C) and reassembles the payload,
     * at most {@link NodeProtocol#MAX_RECORD_BYTES}. The result then holds the whole record: its payload, its user
     * metadata, and as next offset the record's end.
     *
     * @param nodeId       replica to read from.
     * @param extentId     extent holding the record.
     * @param recordOffset record start, as returned by an append or a previous read's next offset.
     * @param result       filled with the record.
     * @return the node's status: OK, or END_OF_EXTENT, OUT_OF_RANGE (also: the offset is inside a record), CORRUPT...
     * @throws CairnException when the node does not answer in time, or the blocks do not frame one record.
     */
    public NodeStatus readRecord(final int nodeId, final long extentId, final long recordOffset, final ReadResult result)
    {
        final NodeStatus status = read(nodeId, extentId, recordOffset, result);
        if (NodeStatus.OK != status)
        {
            return status;
        }
        return completeRecord(nodeId, null, 0, UNKNOWN_LENGTH, extentId, recordOffset, result);
    }

    /**
     * The record's first block is in {@code result}: reads its following blocks, from {@code nodeId} alone, or (when
     * {@code nodeId} is negative) from any replica of {@code extent}, hedged; and reassembles the record there.
     */
    private NodeStatus completeRecord(
        final int nodeId,
        final ExtentInfo extent,
        final int replicaIndex,
        final long endOffset,
        final long extentId,
        final long recordOffset,
        final ReadResult result)
    {
        int flags = result.recordFlags();
        if ((flags & BlockFormat.RECORD_FIRST) == 0)
        {
            return NodeStatus.OUT_OF_RANGE;
        }
        int totalBytes = result.lengthBytes();
        long nextOffset = result.nextOffset();
        long commitLength = result.commitLength();
        while ((flags & BlockFormat.RECORD_LAST) == 0)
        {
            final NodeStatus status = nodeId >= 0 ? read(nodeId, extentId, nextOffset, recordBlock) :
                readFollowingBlock(result.nodeId(), extent, replicaIndex, endOffset, nextOffset);
            if (NodeStatus.OK != status)
            {
                return status;
            }
            flags = recordBlock.recordFlags();
            final int length = recordBlock.lengthBytes();
            if ((flags & BlockFormat.RECORD_FIRST) != 0 || totalBytes + length > NodeProtocol.MAX_RECORD_BYTES)
            {
                throw new CairnException(NodeStatus.CORRUPT, "record at " + recordOffset + " of extent " + extentId +
                    (nodeId >= 0 ? " on node " + nodeId : "") + " is not framed as one record of at most " +
                    NodeProtocol.MAX_RECORD_BYTES + " bytes (block at " + nextOffset + " has flags " + flags + ", " +
                    totalBytes + " bytes before it)");
            }
            result.payloadBuffer().putBytes(totalBytes, recordBlock.payload(), 0, length);
            totalBytes += length;
            nextOffset = recordBlock.nextOffset();
            commitLength = recordBlock.commitLength();
        }
        result.set(totalBytes, recordOffset, nextOffset, commitLength);
        result.record(BlockFormat.RECORD_WHOLE, result.metadataArray(), result.metadataLengthBytes());
        return NodeStatus.OK;
    }

    /**
     * A record's following block, from the replica that answered its first block: the record's blocks are up to
     * 1 MiB each, so a hedge per block (its delay is sized for small blocks) would ask all three replicas for every
     * MiB and triple the transfer. Only when that replica fails or is slow past the node time-out do the other
     * replicas get asked, hedged.
     */
    private NodeStatus readFollowingBlock(
        final int nodeId, final ExtentInfo extent, final int replicaIndex, final long endOffset, final long blockOffset)
    {
        try
        {
            final NodeStatus status = read(nodeId, extent.extentId(), blockOffset, recordBlock);
            if (validRead(status, blockOffset, endOffset, recordBlock))
            {
                return status;
            }
        }
        catch (final CairnException ex)
        {
            // That replica did not answer in time: read around it below.
        }
        return readAnyReplica(extent, replicaIndex, endOffset, blockOffset, recordBlock);
    }

    /**
     * Receives whole records' payloads in stream order from {@link #readStream(long, int, BlockHandler)} and
     * {@link #readStreamFromReplica(long, int, BlockHandler)}.
     */
    @FunctionalInterface
    public interface BlockHandler
    {
        /**
         * @param extentId    extent of the block.
         * @param blockOffset its offset in the extent.
         * @param payload     its payload, valid only during the call.
         * @param lengthBytes payload length.
         */
        void onBlock(long extentId, long blockOffset, DirectBuffer payload, int lengthBytes);
    }

    /**
     * Receives whole records, with their metadata, in stream order from {@link #readStream(long, int, RecordHandler)}
     * and {@link #readStreamFromReplica(long, int, RecordHandler)}.
     */
    @FunctionalInterface
    public interface RecordHandler
    {
        /**
         * @param extentId     extent of the record.
         * @param recordOffset its offset in the extent.
         * @param record       the record (payload, metadata, next offset), valid only during the call.
         */
        void onRecord(long extentId, long recordOffset, ReadResult record);
    }

    /**
     * As {@link #readStream(long, int, RecordHandler)}, handing over each record's payload only.
     *
     * @param streamId     stream to read.
     * @param replicaIndex the replica position asked first for each block.
     * @param handler      receives every record's payload.
     * @return records read.
     */
    public long readStream(final long streamId, final int replicaIndex, final BlockHandler handler)
    {
        return readStream(streamId, replicaIndex,
            (RecordHandler)(extentId, offset, record) -> handler.onBlock(extentId, offset, record.payload(),
                record.lengthBytes()));
    }

    /**
     * Reads a whole stream in order, extent by extent, record by record, each block through the same (hedged)
     * any-replica path as {@link #readAnyReplica}: sealed extents up to their sealed length, the tail up to the
     * commit length reported by the replica that answers its first read. A replica that is slow, fails, or is behind
     * (answers the end below a sealed length) is read around; corrupt data is never passed on. A record's blocks
     * are reassembled (at most {@link NodeProtocol#MAX_RECORD_BYTES}); committed bytes are the same on every
     * replica, so its blocks may come from different replicas.
     *
     * @param streamId     stream to read.
     * @param replicaIndex the replica position asked first for each block (0: the primary, 1 or 2: a secondary),
     *                     unless it failed lately.
     * @param handler      receives every record.
     * @return records read.
     * @throws CairnException when no replica answers a block validly before the end, or the blocks do not frame
     *                        records, naming where.
     */
    public long readStream(final long streamId, final int replicaIndex, final RecordHandler handler)
    {
        checkReplicaIndex(replicaIndex);
        final StreamInfo info = streamInfo(streamId);
        final ReadResult result = new ReadResult();
        long records = 0;
        for (final ExtentInfo extent : info.extents())
        {
            long endOffset = extent.sealed() ? extent.sealedLength() : UNKNOWN_LENGTH;
            long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
            while (UNKNOWN_LENGTH == endOffset || offset < endOffset)
            {
                final NodeStatus status = readAnyReplica(extent, replicaIndex, endOffset, offset, result);
                if (UNKNOWN_LENGTH == endOffset)
                {
                    // The tail's first read: empty (or never written), else it ends where that replica's data ends.
                    if (NodeStatus.END_OF_EXTENT == status || NodeStatus.NO_SUCH_EXTENT == status)
                    {
                        break;
                    }
                    endOffset = NodeStatus.OK == status ? result.commitLength() : endOffset;
                }
                if (NodeStatus.OK != status)
                {
                    throw new CairnException(status, describe(status, "read of stream " + streamId + " extent " +
                        extent.extentId() + " at offset " + offset + " from any replica"));
                }
                final NodeStatus recordStatus =
                    completeRecord(-1, extent, replicaIndex, endOffset, extent.extentId(), offset, result);
                if (NodeStatus.OK != recordStatus)
                {
                    throw new CairnException(recordStatus, describe(recordStatus, "read of stream " + streamId +
                        " extent " + extent.extentId() + " record at offset " + offset + " from any replica"));
                }
                handler.onRecord(extent.extentId(), offset, result);
                records++;
                offset = result.nextOffset();
            }
        }
        return records;
    }

    /**
     * As {@link #readStreamFromReplica(long, int, RecordHandler)}, handing over each record's payload only.
     *
     * @param streamId     stream to read.
     * @param replicaIndex 0 for each extent's primary, 1 or 2 for a secondary.
     * @param handler      receives every record's payload.
     * @return records read.
     */
    public long readStreamFromReplica(final long streamId, final int replicaIndex, final BlockHandler handler)
    {
        return readStreamFromReplica(streamId, replicaIndex,
            (RecordHandler)(extentId, offset, record) -> handler.onBlock(extentId, offset, record.payload(),
                record.lengthBytes()));
    }

    /**
     * Reads a whole stream, extent by extent, from one replica position of each extent and no other: sealed
     * extents up to their sealed length, the tail up to the commit length its replica reports. The diagnostic
     * form of {@link #readStream} (it checks that replica position holds every record), like {@link #read}.
     *
     * @param streamId     stream to read.
     * @param replicaIndex 0 for each extent's primary, 1 or 2 for a secondary.
     * @param handler      receives every record (reassembled from its blocks).
     * @return records read.
     * @throws CairnException on any status other than OK before the end (e.g. CORRUPT), naming where.
     */
    public long readStreamFromReplica(final long streamId, final int replicaIndex, final RecordHandler handler)
    {
        checkReplicaIndex(replicaIndex);
        final StreamInfo info = streamInfo(streamId);
        final ReadResult result = new ReadResult();
        long records = 0;
        for (final ExtentInfo extent : info.extents())
        {
            final int nodeId = extent.replica(replicaIndex);
            final long endOffset = extent.sealed() ? extent.sealedLength() : tailLength(nodeId, extent.extentId());
            long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
            while (offset < endOffset)
            {
                final NodeStatus status = readRecord(nodeId, extent.extentId(), offset, result);
                if (NodeStatus.OK != status)
                {
                    throw new CairnException(status, describe(status, "read of stream " + streamId + " extent " +
                        extent.extentId() + " at offset " + offset + " from node " + nodeId));
                }
                handler.onRecord(extent.extentId(), offset, result);
                records++;
                offset = result.nextOffset();
            }
        }
        return records;
    }

    private static void checkReplicaIndex(final int replicaIndex)
    {
        if (replicaIndex < 0 || replicaIndex >= NodeProtocol.REPLICA_COUNT)
        {
            throw new IllegalArgumentException("replicaIndex=" + replicaIndex + " must be in [0, " +
                (NodeProtocol.REPLICA_COUNT - 1) + "]");
        }
    }

    private long tailLength(final int nodeId, final long extentId)
    {
        try
        {
            return commitLength(nodeId, extentId);
        }
        catch (final CairnException ex)
        {
            if (NodeStatus.NO_SUCH_EXTENT == ex.nodeStatus())
            {
                return NodeProtocol.FIRST_BLOCK_OFFSET; // Tail never written: nothing to read.
            }
            throw ex;
        }
    }

    /**
     * @param nodeId   replica to ask.
     * @param extentId extent.
     * @return that replica's durable length of the extent.
     * @throws CairnException when the node does not know the extent or does not answer.
     */
    public long commitLength(final int nodeId, final long extentId)
    {
        final ExtentNodeProxy node = connectedNode(nodeId);
        final long correlationId = nextCorrelationId++;
        final int length = node.encodeExtentStatus(correlationId, clientId, extentId);
        final NodeStatus status = request(node, length, correlationId, null);
        if (NodeStatus.OK != status)
        {
            throw new CairnException(status, describe(status, "status of extent " + extentId + " on node " + nodeId));
        }
        return adapter.commitLength();
    }

    /**
     * @return responses that arrived for requests this client had already given up on.
     */
    public long staleResponses()
    {
        return adapter.staleResponses();
    }

    /**
     * @return hedges sent: read requests sent while an earlier replica asked by the same read was still pending (at
     * most the replica count minus one per read; a retry after every earlier replica failed is not a hedge).
     */
    public long hedgesSent()
    {
        return hedgesSent;
    }

    /**
     * @return reads answered by a hedge.
     */
    public long hedgeWins()
    {
        return hedgeWins;
    }

    /**
     * @return sessions with extent nodes held now (at most {@link Context#maxNodeSessions()}).
     */
    public int nodeSessions()
    {
        return sessions.size();
    }

    /**
     * @return sessions with extent nodes opened so far (a re-opened one counts again).
     */
    public long nodeSessionsOpened()
    {
        return sessions.sessionsOpened();
    }

    /**
     * @return sessions closed for being unused for {@link Context#sessionIdleTimeoutNs()}.
     */
    public long nodeSessionsClosedIdle()
    {
        return sessions.sessionsClosedIdle();
    }

    /**
     * @return sessions closed to make room under {@link Context#maxNodeSessions()}.
     */
    public long nodeSessionsEvicted()
    {
        return sessions.sessionsEvicted();
    }

    public void close()
    {
        CloseHelper.quietClose(sessions);
        CloseHelper.quietCloseAll(manager, responses, aeron, driver);
    }

    private StreamState stream(final long streamId)
    {
        StreamState state = streams.get(streamId);
        if (null == state)
        {
            streamInfo(streamId);
            state = streams.get(streamId);
        }
        return state;
    }

    private void remember(final StreamInfo info)
    {
        for (final Map.Entry<Integer, String> e : info.nodeEndpoints().entrySet())
        {
            nodeEndpoints.put(e.getKey().intValue(), e.getValue());
        }
        final StreamState state = streams.get(info.streamId());
        if (null == state)
        {
            streams.put(info.streamId(), new StreamState(info.streamId(), info));
        }
        else if (state.info.tail().extentId() != info.tail().extentId())
        {
            state.info = info;
            state.tailOpen = false;
            state.tailAckedLength = UNKNOWN_LENGTH;
        }
        else
        {
            state.info = info;
        }
    }

    /** Opens the tail on its primary, which opens it on the secondaries: the stream-open length check. */
    private void openTail(final StreamState state)
    {
        final ExtentInfo tail = state.info.tail();
        if (tail.sealed())
        {
            throw new CairnException(NodeStatus.SEALED, "tail extent " + tail.extentId() + " of stream " +
                state.streamId + " is sealed");
        }
        final int[] replicas = tail.replicas();
        final String[] endpoints = new String[replicas.length];
        for (int i = 0; i < replicas.length; i++)
        {
            endpoints[i] = endpointOf(replicas[i]);
        }
        final ExtentNodeProxy primary = connectedNode(tail.primary());
        final long correlationId = nextCorrelationId++;
        final int length = primary.encodeOpenExtent(
            correlationId, clientId, tail.extentId(), state.streamId, state.ownerRevision, replicas, endpoints);
        final NodeStatus status = request(primary, length, correlationId, null);
        if (NodeStatus.OK != status)
        {
            throw new CairnException(status, describe(status, "open of extent " + tail.extentId() +
                " on primary " + tail.primary()));
        }
        state.tailAckedLength = adapter.commitLength();
        state.tailOpen = true;
    }

    /**
     * Seals the tail and moves to a new one, in three steps. (1) Fence: every reachable replica raises its owner
     * revision for the tail to ours, so no older writer's block is accepted there any more, and answers its commit
     * length once every write it took before is durable. (2) Seal each of them at the smallest of those lengths:
     * an append is acknowledged only when all three replicas have it, and each fenced replica answered only after
     * its earlier writes were durable, so every acknowledged block lies below that minimum. (3) Ask the manager,
     * as the stream's owner, to record the seal and allocate a new tail.
     * <p>
     * An append whose answer was lost may still have landed: when the sealed length is beyond what this client had
     * acknowledged, the blocks in between are read back and compared with the pending payload, so a retry is never
     * written twice.
     *
     * @return true when the pending append turned out to be in the sealed extent ({@code result} is filled).
     */
    private boolean rollOver(
        final StreamState state,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final AppendResult result)
    {
        final ExtentInfo tail = state.info.tail();
        final long ackedBefore = state.tailAckedLength;
        final long sealLength = sealReplicas(state.streamId, tail, state.ownerRevision);
        final boolean landed = null != payload && ackedBefore >= 0 && sealLength > ackedBefore &&
            findLanded(tail, ackedBefore, sealLength, payload, payloadOffset, payloadLength, result);
        final StreamInfo info;
        try
        {
            info = manager.allocateExtent(state.streamId, tail.extentId(), sealLength, state.ownerRevision);
        }
        catch (final io.cairn.manager.ManagerException ex)
        {
            if (io.cairn.sbe.manager.ManagerStatus.LOCKED_BY_OTHER == ex.status())
            {
                throw new CairnException(NodeStatus.LOCKED_BY_OTHER, ex.getMessage());
            }
            throw ex;
        }
        remember(info);
        state.tailAckedLength = UNKNOWN_LENGTH;
        state.tailOpen = false;
        return landed;
    }

    /**
     * Seals the stream's tail as its owner (call {@link #openStream(long)} first) and has the manager add a new one.
     *
     * @param streamId the stream.
     * @return the stream with its new tail.
     */
    public StreamInfo sealTail(final long streamId)
    {
        final StreamState state = stream(streamId);
        rollOver(state, null, 0, 0, null);
        return state.info;
    }

    /**
     * Fences every reachable replica of an unsealed extent with the owner revision and seals them at the smallest
     * durable length they report (or at the length one of them is already sealed at).
     *
     * @return the sealed length.
     * @throws CairnException LOCKED_BY_OTHER when a newer owner fenced the extent; no status when no replica answers.
     */
    public long sealReplicas(final long streamId, final ExtentInfo tail, final long ownerRevision)
    {
        long min = Long.MAX_VALUE;
        long alreadySealed = UNKNOWN_LENGTH;
        final boolean[] reachable = new boolean[tail.replicas().length];
        final StringBuilder failures = new StringBuilder();
        for (int i = 0; i < tail.replicas().length; i++)
        {
            final int nodeId = tail.replicas()[i];
            final NodeStatus status = sealRequest(nodeId, tail.extentId(), ownerRevision, NodeProtocol.NULL_OFFSET);
            if (NodeStatus.OK == status)
            {
                reachable[i] = true;
                min = Math.min(min, adapter.commitLength());
                alreadySealed = adapter.sealed() ? adapter.commitLength() : alreadySealed;
            }
            else if (NodeStatus.NO_SUCH_EXTENT == status)
            {
                min = Math.min(min, NodeProtocol.FIRST_BLOCK_OFFSET); // never created there: nothing acknowledged
            }
            else if (NodeStatus.LOCKED_BY_OTHER == status)
            {
                throw new CairnException(status, describe(status, "fence of extent " + tail.extentId() +
                    " of stream " + streamId + " on node " + nodeId));
            }
            else
            {
                failures.append(' ').append(describe(status, "fence on node " + nodeId)).append(';');
            }
        }
        if (Long.MAX_VALUE == min)
        {
            throw new CairnException(null, "cannot seal extent " + tail.extentId() +
                ": no replica answered the fence:" + failures);
        }
        final long sealLength = alreadySealed >= 0 ? alreadySealed : min;
        for (int i = 0; i < tail.replicas().length; i++)
        {
            if (reachable[i])
            {
                // A replica that fails here is behind or gone; re-replication from a sealed one repairs it.
                sealRequest(tail.replicas()[i], tail.extentId(), ownerRevision, sealLength);
            }
        }
        return sealLength;
    }

    private NodeStatus sealRequest(final int nodeId, final long extentId, final long ownerRevision, final long sealLength)
    {
        try
        {
            final ExtentNodeProxy node = connectedNode(nodeId);
            final long correlationId = nextCorrelationId++;
            final int length = node.encodeSealExtent(correlationId, clientId, extentId, ownerRevision, sealLength);
            return request(node, length, correlationId, null);
        }
        catch (final CairnException ex)
        {
            return ex.nodeStatus();
        }
    }

    /**
     * @return true when a block in [from, to) of the sealed extent holds exactly the pending payload.
     */
    private boolean findLanded(
        final ExtentInfo tail,
        final long from,
        final long to,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final AppendResult result)
    {
        // Record by record, block by block: a record matches when every block's bytes and the total length do.
        long offset = from;
        long recordStart = offset;
        int position = 0;
        boolean matching = false;
        while (offset < to)
        {
            final NodeStatus status = readAnyReplica(tail, offset, checkResult);
            if (NodeStatus.OK != status)
            {
                return false;
            }
            final int flags = checkResult.recordFlags();
            final int length = checkResult.lengthBytes();
            if ((flags & BlockFormat.RECORD_FIRST) != 0)
            {
                recordStart = offset;
                position = 0;
                matching = true;
            }
            matching = matching && position + length <= payloadLength &&
                sameBytes(checkResult.payload(), payload, payloadOffset + position, length);
            position += length;
            if ((flags & BlockFormat.RECORD_LAST) != 0 && matching && position == payloadLength)
            {
                result.set(tail.extentId(), recordStart, checkResult.nextOffset());
                return true;
            }
            offset = checkResult.nextOffset();
        }
        return false;
    }

    private static boolean sameBytes(
        final DirectBuffer stored, final DirectBuffer payload, final int payloadOffset, final int payloadLength)
    {
        for (int i = 0; i < payloadLength; i++)
        {
            if (stored.getByte(i) != payload.getByte(payloadOffset + i))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads one block from the first replica that answers it intact: a replica that times out, answers CORRUPT or
     * IO_ERROR, answers another offset, or does not have the extent, makes the client try the next one; corrupt data
     * is never returned. With hedging on ({@link Context#hedgeDelayNs(long)}) the read starts opening a session with
     * every replica of the extent without blocking, asks the first, and asks the next one too whenever a hedge delay
     * passes without a valid answer or an asked replica fails, each replica at most once, all under one
     * {@link Context#nodeTimeoutNs(long)} deadline; the first valid answer wins and later ones are dropped as stale.
     * Replicas that failed or timed out lately, or were still pending when another won, are asked last.
     *
     * @param extent      the extent.
     * @param blockOffset start of the block.
     * @param result      filled with the payload and the replica that answered.
     * @return OK, or END_OF_EXTENT / OUT_OF_RANGE (below a sealed extent's length only when every replica says so),
     * or the last replica's failure (CORRUPT, NO_SUCH_EXTENT...), or null if none answered.
     */
    public NodeStatus readAnyReplica(final ExtentInfo extent, final long blockOffset, final ReadResult result)
    {
        return readAnyReplica(extent, 0, extent.sealed() ? extent.sealedLength() : UNKNOWN_LENGTH, blockOffset, result);
    }

    /**
     * @param preferredIndex the replica position asked first (unless it failed lately).
     * @param endOffset      the extent's known end (its sealed length), or {@link #UNKNOWN_LENGTH}: below it an
     *                       END_OF_EXTENT or OUT_OF_RANGE answer is a replica that is behind, not the end.
     */
    private NodeStatus readAnyReplica(
        final ExtentInfo extent, final int preferredIndex, final long endOffset, final long blockOffset,
        final ReadResult result)
    {
        final int count = orderReplicas(extent, preferredIndex);
        if (ctx.hedgeDelayNs() > 0)
        {
            return readHedged(extent.extentId(), count, blockOffset, endOffset, result);
        }
        NodeStatus last = null;
        for (int i = 0; i < count; i++)
        {
            last = readOne(readOrder[i], extent.extentId(), blockOffset, endOffset, result);
            if (validRead(last, blockOffset, endOffset, result))
            {
                return last;
            }
        }
        return last;
    }

    /**
     * Fills {@link #readOrder}: the replicas from the preferred position on, those that did not fail lately first.
     *
     * @return how many.
     */
    private int orderReplicas(final ExtentInfo extent, final int preferredIndex)
    {
        final int replicaCount = extent.replicaCount();
        Verify.verify(replicaCount >= 1 && replicaCount <= NodeResponseAdapter.MAX_AWAITED_IDS,
            "replicas of an extent", replicaCount);
        if (readOrder.length < replicaCount)
        {
            readOrder = new int[replicaCount];
            readNodes = new ExtentNodeProxy[replicaCount];
        }
        final long nowNs = clock.nanoTime();
        int count = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            for (int k = 0; k < replicaCount; k++)
            {
                final int nodeId = extent.replica((preferredIndex + k) % replicaCount);
                final long failedAtNs = readFailedAtNs.get(nodeId);
                final boolean suspect = NO_FAILURE != failedAtNs && nowNs - failedAtNs < READ_SUSPECT_NS;
                if (suspect == (pass == 1))
                {
                    readOrder[count++] = nodeId;
                }
            }
        }
        return count;
    }

    /**
     * @return whether the answer may be returned: the block asked for (the node checked its CRC32C), or the end of
     * the extent where the end is not known to lie further.
     */
    private static boolean validRead(
        final NodeStatus status, final long blockOffset, final long endOffset, final ReadResult result)
    {
        if (NodeStatus.OK == status)
        {
            return result.blockOffset() == blockOffset; // another offset's block is as bad as a corrupt one
        }
        return (NodeStatus.END_OF_EXTENT == status || NodeStatus.OUT_OF_RANGE == status) &&
            (UNKNOWN_LENGTH == endOffset || blockOffset >= endOffset);
    }

    /**
     * One replica, one request, its own time-out (hedging off). Marks the replica suspect on failure.
     *
     * @return the status: valid, or the failure (a wrong-offset OK as CORRUPT), or null on time-out.
     */
    private NodeStatus readOne(
        final int nodeId, final long extentId, final long blockOffset, final long endOffset, final ReadResult result)
    {
        final NodeStatus status;
        try
        {
            final ExtentNodeProxy node = connectedNode(nodeId);
            final long correlationId = nextCorrelationId++;
            final int length = node.encodeRead(correlationId, clientId, extentId, blockOffset);
            status = request(node, length, correlationId, result);
        }
        catch (final CairnException ex)
        {
            readFailedAtNs.put(nodeId, clock.nanoTime());
            return ex.nodeStatus();
        }
        if (validRead(status, blockOffset, endOffset, result))
        {
            readFailedAtNs.remove(nodeId);
            result.nodeId(nodeId);
            return status;
        }
        readFailedAtNs.put(nodeId, clock.nanoTime());
        return NodeStatus.OK == status ? NodeStatus.CORRUPT : status;
    }

    /**
     * The hedged read over {@link #readOrder}: request i uses correlation id {@code first + i}, so every answer is
     * matched to its replica by id and each replica is asked at most once. Replica i is released (may be asked) once
     * i hedge delays passed or earlier ones failed; it is asked as soon as its session is up.
     */
    private NodeStatus readHedged(
        final long extentId, final int count, final long blockOffset, final long endOffset, final ReadResult result)
    {
        final long startNs = clock.nanoTime();
        sessions.closeIdle(startNs);
        for (int i = 0; i < count; i++)
        {
            readNodes[i] = prepareSession(readOrder[i], startNs);
        }
        manager.poll(); // Keep the manager session alive while the client only talks to nodes.
        final long firstCorrelationId = nextCorrelationId;
        nextCorrelationId += count;
        adapter.awaitAny(firstCorrelationId, count, result);
        final long deadlineNs = startNs + ctx.nodeTimeoutNs();
        final long allMask = count == Long.SIZE ? -1L : (1L << count) - 1;
        readAskedMask = 0;
        readDoneMask = 0;
        readHedgeMask = 0;
        readReleased = 1;
        readNextReleaseNs = startNs + ctx.hedgeDelayNs();
        readFailure = null;
        idle.reset();
        while (true)
        {
            int work = askReleased(extentId, blockOffset, firstCorrelationId, count, clock.nanoTime());
            work += responses.poll(assembler, HEDGED_READ_FRAGMENT_LIMIT);
            if (adapter.received())
            {
                final int i = adapter.answeredIndex();
                final NodeStatus status = adapter.status();
                readDoneMask |= 1L << i;
                if (validRead(status, blockOffset, endOffset, result))
                {
                    return readWon(i, status, count, clock.nanoTime(), result);
                }
                replicaFailed(i, NodeStatus.OK == status ? NodeStatus.CORRUPT : status, count, clock.nanoTime());
                adapter.awaitOthers(); // a failed answer never reaches the caller; the others may still come
                continue;
            }
            if (readDoneMask == allMask)
            {
                return readFailure; // every replica failed
            }
            final long nowNs = clock.nanoTime();
            if (nowNs - deadlineNs > 0)
            {
                readTimedOut(count, nowNs);
                return readFailure;
            }
            if (readReleased < count && nowNs - readNextReleaseNs >= 0)
            {
                readReleased++; // the hedge delay passed without a valid answer: ask the next replica too
                readNextReleaseNs = nowNs + ctx.hedgeDelayNs();
                work++;
            }
            work += sessions.doWork(nowNs);
            idle.idle(work);
        }
    }

    /**
     * Sends the read to every released replica not yet asked whose session is up; a replica whose session failed
     * counts as failed.
     */
    private int askReleased(
        final long extentId, final long blockOffset, final long firstCorrelationId, final int count, final long nowNs)
    {
        int work = 0;
        for (int i = 0; i < readReleased; i++)
        {
            final long bit = 1L << i;
            if (0 != ((readAskedMask | readDoneMask) & bit))
            {
                continue;
            }
            final ExtentNodeProxy node = readNodes[i];
            if (null == node || ExtentNodeProxy.SessionState.FAILED == node.sessionState())
            {
                replicaFailed(i, null == node ? NodeStatus.BAD_REQUEST : node.connectStatus(), count, nowNs);
                work++;
                continue;
            }
            if (!node.handshakeDone())
            {
                continue; // its session is still opening: the read goes as soon as it is up
            }
            final long offered = node.offer(node.encodeRead(firstCorrelationId + i, clientId, extentId, blockOffset));
            if (offered >= 0)
            {
                readAskedMask |= bit;
                sessions.touch(node, nowNs);
                // A hedge: sent while an earlier replica of this read is still pending (asked, or its session opening).
                if (0 != (~readDoneMask & (bit - 1)))
                {
                    readHedgeMask |= bit;
                    hedgesSent++;
                }
                work++;
            }
            else if (!ExtentNodeProxy.isRetryable(offered))
            {
                replicaFailed(i, null, count, nowNs);
                work++;
            }
        }
        return work;
    }

    /** Replica i failed (or cannot be reached): it is tried last for a while, and the next replica is released. */
    private void replicaFailed(final int i, final NodeStatus status, final int count, final long nowNs)
    {
        readDoneMask |= 1L << i;
        readFailedAtNs.put(readOrder[i], nowNs);
        if (null != status)
        {
            readFailure = status;
        }
        if (readReleased < count)
        {
            readReleased++;
            readNextReleaseNs = nowNs + ctx.hedgeDelayNs();
        }
    }

    /**
     * Replica i answered validly. The replicas still pending did not answer within a hedge delay while it did: they
     * are tried last for a while, so a stalled node costs a hedge delay once, not on every read; and the sessions of
     * those asked are voided (as on a time-out), since a node that restarted drops requests from clients it does not
     * know: without a new handshake, hedges would always answer for it and it would never be asked to connect again.
     */
    private NodeStatus readWon(
        final int i, final NodeStatus status, final int count, final long nowNs, final ReadResult result)
    {
        final int nodeId = readOrder[i];
        readFailedAtNs.remove(nodeId);
        result.nodeId(nodeId);
        if (0 != (readHedgeMask & (1L << i)))
        {
            hedgeWins++;
        }
        for (int j = 0; j < readReleased && j < count; j++)
        {
            final long bit = 1L << j;
            if (0 == (readDoneMask & bit))
            {
                readFailedAtNs.put(readOrder[j], nowNs);
                if (0 != (readAskedMask & bit))
                {
                    readNodes[j].handshakeDone(false);
                }
            }
        }
        return status;
    }

    /** The deadline passed: sessions of replicas asked without an answer are void (the node may have lost them). */
    private void readTimedOut(final int count, final long nowNs)
    {
        for (int j = 0; j < readReleased && j < count; j++)
        {
            final long bit = 1L << j;
            if (0 == (readDoneMask & bit))
            {
                readFailedAtNs.put(readOrder[j], nowNs);
                if (0 != (readAskedMask & bit))
                {
                    readNodes[j].handshakeDone(false);
                }
            }
        }
    }

    /**
     * @param nodeId   replica to ask.
     * @param extentId extent.
     * @return that replica's view of the extent: commit length, whether it is sealed, its highest owner revision.
     */
    public ReplicaStatus replicaStatus(final int nodeId, final long extentId)
    {
        final long commitLength = commitLength(nodeId, extentId);
        return new ReplicaStatus(nodeId, commitLength, adapter.sealed(), adapter.ownerRevision());
    }

    /**
     * One replica's view of an extent.
     *
     * @param nodeId        the replica.
     * @param commitLength  its durable length (the sealed length when sealed).
     * @param sealed        whether it holds the extent sealed.
     * @param ownerRevision the highest owner revision it has seen for the extent.
     */
    public record ReplicaStatus(int nodeId, long commitLength, boolean sealed, long ownerRevision)
    {
    }

    private String endpointOf(final int nodeId)
    {
        String endpoint = nodeEndpoints.get(nodeId);
        if (null == endpoint)
        {
            clusterStatus();
            endpoint = nodeEndpoints.get(nodeId);
            if (null == endpoint)
            {
                throw new CairnException(NodeStatus.BAD_REQUEST, "node " + nodeId + " is not registered with the manager");
            }
        }
        return endpoint;
    }

    /**
     * @return the node's proxy with its session up: opened (or re-opened) now and waited for, to its time-out.
     * @throws CairnException when the handshake fails or times out.
     */
    private ExtentNodeProxy connectedNode(final int nodeId)
    {
        final String endpoint = endpointOf(nodeId);
        final long nowNs = clock.nanoTime();
        sessions.closeIdle(nowNs);
        final ExtentNodeProxy node = sessions.open(nodeId, endpoint, nowNs, true);
        if (!node.handshakeDone())
        {
            manager.poll(); // Keep the manager session alive while the client only talks to nodes.
            final long deadlineNs = nowNs + ctx.nodeTimeoutNs();
            idle.reset();
            while (!node.handshakeDone())
            {
                final long timeNs = clock.nanoTime();
                final boolean failed = ExtentNodeProxy.SessionState.FAILED == node.sessionState();
                if (timeNs - deadlineNs > 0 || (failed && null != node.connectStatus()))
                {
                    final String what = "connect to node " + nodeId + " at " + endpoint;
                    throw new CairnException(node.connectStatus(), failed ? what + " failed: " +
                        node.connectFailure() : describe(null, what)); // the handshake goes on in the background
                }
                if (failed)
                {
                    // A handshake started ahead of need timed out before this call's own time is up: try again.
                    sessions.open(nodeId, endpoint, timeNs, true);
                }
                final int work = responses.poll(assembler, 16) + sessions.doWork(timeNs);
                idle.idle(work);
            }
        }
        return node;
    }

    /**
     * Starts the session with a replica ahead of need, without blocking; a replica whose address is not known
     * (and cannot be learnt from the manager) is left out, and is then a failed replica for the read.
     *
     * @return the replica's proxy, or null.
     */
    private ExtentNodeProxy prepareSession(final int nodeId, final long nowNs)
    {
        final String endpoint;
        try
        {
            endpoint = endpointOf(nodeId);
        }
        catch (final CairnException ex)
        {
            return null;
        }
        return sessions.open(nodeId, endpoint, nowNs, false);
    }

    /**
     * Sends what the proxy just encoded and waits for the matching response.
     *
     * @return the node's status, or null on time-out (the node is then asked to connect again next time).
     */
    private NodeStatus request(
        final ExtentNodeProxy node, final int length, final long correlationId, final ReadResult readResult)
    {
        manager.poll(); // Keep the manager session alive while the client only talks to nodes.
        adapter.await(correlationId, readResult);
        final long deadlineNs = clock.nanoTime() + ctx.nodeTimeoutNs();
        if (!send(node, length, deadlineNs))
        {
            node.handshakeDone(false);
            return null;
        }
        idle.reset();
        while (!adapter.received())
        {
            final int work = responses.poll(assembler, 16);
            if (0 == work && clock.nanoTime() - deadlineNs > 0)
            {
                node.handshakeDone(false);
                return null;
            }
            idle.idle(work);
        }
        return adapter.status();
    }

    /**
     * Offers what the proxy just encoded until it is sent or the deadline passes, polling responses meanwhile.
     *
     * @return false on time-out.
     */
    private boolean send(final ExtentNodeProxy node, final int length, final long deadlineNs)
    {
        idle.reset();
        long result;
        while ((result = node.offer(length)) < 0)
        {
            if (!ExtentNodeProxy.isRetryable(result))
            {
                throw new CairnException(null, "send to node " + node.nodeId() + " failed: Aeron result " + result);
            }
            if (clock.nanoTime() - deadlineNs > 0)
            {
                return false;
            }
            idle.idle(responses.poll(assembler, 16));
        }
        return true;
    }

    private String describe(final NodeStatus status, final String what)
    {
        if (null == status)
        {
            return what + " timed out after " + TimeUnit.NANOSECONDS.toMillis(ctx.nodeTimeoutNs()) + " ms";
        }
        final String message = adapter.errorMessage();
        return what + " failed: " + status + (null == message || message.isEmpty() ? "" : " (" + message + ")");
    }

    private String resolveResponseChannel(final Subscription subscription)
    {
        final long deadlineNs = clock.nanoTime() + ctx.nodeTimeoutNs();
        String resolved;
        while (null == (resolved = subscription.tryResolveChannelEndpointPort()))
        {
            if (clock.nanoTime() - deadlineNs > 0)
            {
                throw new CairnException(null, "could not bind a response port on " + ctx.responseHost());
            }
            Thread.onSpinWait();
        }
        return resolved;
    }
}
