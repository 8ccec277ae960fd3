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
import io.cairn.replication.NodeProtocol;
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

        private String managers = MANAGERS_DEFAULT;
        private String aeronDirectoryName;
        private long nodeTimeoutNs = NODE_TIMEOUT_NS_DEFAULT;
        private long managerTimeoutNs = MANAGER_TIMEOUT_NS_DEFAULT;
        private int maxAppendAttempts = MAX_APPEND_ATTEMPTS_DEFAULT;
        private String responseHost = RESPONSE_HOST_DEFAULT;
        private NanoClock nanoClock = SystemNanoClock.INSTANCE;
        private boolean concluded;

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
            if (maxAppendAttempts < 1 || maxAppendAttempts > 100)
            {
                throw new IllegalArgumentException("maxAppendAttempts=" + maxAppendAttempts + " must be in [1, 100]");
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

    /** What the client knows of a stream it writes to. */
    private static final class StreamState
    {
        final long streamId;
        StreamInfo info;
        boolean tailOpen;
        long tailAckedLength = UNKNOWN_LENGTH;

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
    private final NodeResponseAdapter adapter = new NodeResponseAdapter();
    private final FragmentAssembler assembler = new FragmentAssembler(adapter);
    private final IdleStrategy idle = AeronDefaults.idleStrategy();
    private final Int2ObjectHashMap<ExtentNodeProxy> nodes = new Int2ObjectHashMap<>();
    private final Int2ObjectHashMap<String> nodeEndpoints = new Int2ObjectHashMap<>();
    private final Long2ObjectHashMap<StreamState> streams = new Long2ObjectHashMap<>();
    private long nextCorrelationId = 1;

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
     * Appends one block to the stream's tail and returns once all three replicas have it durably.
     *
     * @param streamId      stream to append to.
     * @param payload       bytes to append.
     * @param payloadOffset where they start.
     * @param payloadLength how many, 1 to {@link NodeProtocol#MAX_PAYLOAD_BYTES}.
     * @param result        filled with where the block landed.
     * @throws CairnException when no extent took the append within the allowed attempts.
     */
    public void append(
        final long streamId,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLength,
        final AppendResult result)
    {
        if (payloadLength < 1 || payloadLength > NodeProtocol.MAX_PAYLOAD_BYTES)
        {
            throw new IllegalArgumentException(
                "payloadLength=" + payloadLength + " must be in [1, " + NodeProtocol.MAX_PAYLOAD_BYTES + "]");
        }
        final StreamState state = stream(streamId);
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
                final long correlationId = nextCorrelationId++;
                final int length = primary.encodeAppend(
                    correlationId, clientId, tail.extentId(), NodeProtocol.NULL_OFFSET, payload, payloadOffset, payloadLength);
                status = request(primary, length, correlationId, null);
            }
            catch (final CairnException ex)
            {
                lastFailure = ex.getMessage();
                rollOver(state);
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
            else if (NodeStatus.BAD_REQUEST == status)
            {
                throw new CairnException(status, lastFailure);
            }
            else
            {
                // EXTENT_FULL, REPLICA_FAILED, SEALED, IO_ERROR, time-out...: this tail is done.
                rollOver(state);
            }
        }
        throw new CairnException(null, "append to stream " + streamId + " failed after " +
            ctx.maxAppendAttempts() + " attempts; last: " + lastFailure);
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
     * Reads one block from one replica; the node verifies its CRC32C before answering.
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
        return status;
    }

    /**
     * Receives blocks in stream order from {@link #readStream(long, int, BlockHandler)}.
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
     * Reads a whole stream, extent by extent, from one replica position of each extent: sealed extents up to
     * their sealed length, the tail up to the commit length its replica reports.
     *
     * @param streamId     stream to read.
     * @param replicaIndex 0 for each extent's primary, 1 or 2 for a secondary.
     * @param handler      receives every block.
     * @return blocks read.
     * @throws CairnException on any status other than OK before the end (e.g. CORRUPT), naming where.
     */
    public long readStream(final long streamId, final int replicaIndex, final BlockHandler handler)
    {
        if (replicaIndex < 0 || replicaIndex >= NodeProtocol.REPLICA_COUNT)
        {
            throw new IllegalArgumentException("replicaIndex=" + replicaIndex + " must be in [0, " +
                (NodeProtocol.REPLICA_COUNT - 1) + "]");
        }
        final StreamInfo info = streamInfo(streamId);
        final ReadResult result = new ReadResult();
        long blocks = 0;
        for (final ExtentInfo extent : info.extents())
        {
            final int nodeId = extent.replicas()[replicaIndex];
            final long endOffset = extent.sealed() ? extent.sealedLength() : tailLength(nodeId, extent.extentId());
            long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
            while (offset < endOffset)
            {
                final NodeStatus status = read(nodeId, extent.extentId(), offset, result);
                if (NodeStatus.OK != status)
                {
                    throw new CairnException(status, describe(status, "read of stream " + streamId + " extent " +
                        extent.extentId() + " at offset " + offset + " from node " + nodeId));
                }
                handler.onBlock(extent.extentId(), offset, result.payload(), result.lengthBytes());
                blocks++;
                offset = result.nextOffset();
            }
        }
        return blocks;
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

    public void close()
    {
        CloseHelper.quietCloseAll(nodes.values());
        nodes.clear();
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
            correlationId, clientId, tail.extentId(), state.streamId, replicas, endpoints);
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
     * Seals the tail and moves to a new one. The seal length is what this (single) writer knows to be
     * acknowledged; if it never opened the tail, the smallest commit length among the replicas that answer,
     * which is safe because an append is acknowledged only once all three replicas have it.
     */
    private void rollOver(final StreamState state)
    {
        final ExtentInfo tail = state.info.tail();
        final long sealLength = state.tailAckedLength >= 0 ? state.tailAckedLength : commitLengthOfReachableReplicas(tail);
        final StreamInfo info = manager.allocateExtent(state.streamId, tail.extentId(), sealLength);
        remember(info);
        state.tailAckedLength = UNKNOWN_LENGTH;
        state.tailOpen = false;
    }

    private long commitLengthOfReachableReplicas(final ExtentInfo tail)
    {
        long min = Long.MAX_VALUE;
        final StringBuilder failures = new StringBuilder();
        for (final int nodeId : tail.replicas())
        {
            try
            {
                min = Math.min(min, commitLength(nodeId, tail.extentId()));
            }
            catch (final CairnException ex)
            {
                if (NodeStatus.NO_SUCH_EXTENT == ex.nodeStatus())
                {
                    // Never created there, so no append to it was ever acknowledged.
                    min = Math.min(min, NodeProtocol.FIRST_BLOCK_OFFSET);
                }
                else
                {
                    failures.append(' ').append(ex.getMessage()).append(';');
                }
            }
        }
        if (Long.MAX_VALUE == min)
        {
            throw new CairnException(null, "cannot seal extent " + tail.extentId() +
                ": no replica reported its commit length:" + failures);
        }
        return min;
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

    private ExtentNodeProxy connectedNode(final int nodeId)
    {
        ExtentNodeProxy node = nodes.get(nodeId);
        final String endpoint = endpointOf(nodeId);
        if (null != node && !node.endpoint().equals(endpoint))
        {
            nodes.remove(nodeId);
            node.close();
            node = null;
        }
        if (null == node)
        {
            node = new ExtentNodeProxy(nodeId, endpoint,
                aeron.addExclusivePublication(NodeProtocol.channel(endpoint), NodeProtocol.REQUEST_STREAM_ID), sendBuffer);
            nodes.put(nodeId, node);
        }
        if (!node.handshakeDone())
        {
            final long correlationId = nextCorrelationId++;
            final int length = node.encodeConnect(
                correlationId, clientId, NodeProtocol.RESPONSE_STREAM_ID, responseChannel);
            final NodeStatus status = request(node, length, correlationId, null);
            if (NodeStatus.OK != status)
            {
                throw new CairnException(status, describe(status, "connect to node " + nodeId + " at " + endpoint));
            }
            node.handshakeDone(true);
        }
        return node;
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
                node.handshakeDone(false);
                return null;
            }
            idle.idle(responses.poll(assembler, 16));
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
