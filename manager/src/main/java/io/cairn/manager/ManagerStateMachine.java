package io.cairn.manager;

import io.cairn.replication.Verify;
import io.cairn.sbe.manager.AllocateExtentRequestDecoder;
import io.cairn.sbe.manager.TruncateStreamRequestDecoder;
import io.cairn.sbe.manager.PunchHoleRequestDecoder;
import io.cairn.sbe.manager.ExtentReconcileRequestDecoder;
import io.cairn.sbe.manager.ExtentDeletedRequestDecoder;
import io.cairn.sbe.manager.ExtentReconcileResponseEncoder;
import io.cairn.sbe.manager.TaskReleaseRequestDecoder;
import io.cairn.sbe.manager.GarbageEntryEncoder;
import io.cairn.sbe.manager.GarbageEntryDecoder;
import io.cairn.sbe.manager.CompareResult;
import io.cairn.sbe.manager.CompareTarget;
import io.cairn.sbe.manager.DiskEntryDecoder;
import io.cairn.sbe.manager.DiskEntryEncoder;
import io.cairn.sbe.manager.DiskListResponseEncoder;
import io.cairn.sbe.manager.DiskState;
import io.cairn.sbe.manager.EventType;
import io.cairn.sbe.manager.ExtentListResponseEncoder;
import io.cairn.sbe.manager.KvDeleteRequestDecoder;
import io.cairn.sbe.manager.KvEntryDecoder;
import io.cairn.sbe.manager.KvEntryEncoder;
import io.cairn.sbe.manager.KvEventEntryDecoder;
import io.cairn.sbe.manager.KvEventEntryEncoder;
import io.cairn.sbe.manager.KvOpType;
import io.cairn.sbe.manager.KvPutRequestDecoder;
import io.cairn.sbe.manager.KvRangeRequestDecoder;
import io.cairn.sbe.manager.KvResponseEncoder;
import io.cairn.sbe.manager.KvTxnRequestDecoder;
import io.cairn.sbe.manager.LeaseEntryDecoder;
import io.cairn.sbe.manager.LeaseEntryEncoder;
import io.cairn.sbe.manager.LeaseGrantRequestDecoder;
import io.cairn.sbe.manager.LeaseKeepAliveRequestDecoder;
import io.cairn.sbe.manager.LeaseResponseEncoder;
import io.cairn.sbe.manager.LeaseRevokeRequestDecoder;
import io.cairn.sbe.manager.ListKind;
import io.cairn.sbe.manager.ListRequestDecoder;
import io.cairn.sbe.manager.NodeHeartbeatRequestDecoder;
import io.cairn.sbe.manager.NodeHeartbeatResponseEncoder;
import io.cairn.sbe.manager.NodeListResponseEncoder;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.manager.PartitionAssignRequestDecoder;
import io.cairn.sbe.manager.PartitionCreateRequestDecoder;
import io.cairn.sbe.manager.PartitionEntryDecoder;
import io.cairn.sbe.manager.PartitionEntryEncoder;
import io.cairn.sbe.manager.PartitionListResponseEncoder;
import io.cairn.sbe.manager.PartitionMergeRequestDecoder;
import io.cairn.sbe.manager.PartitionResponseEncoder;
import io.cairn.sbe.manager.PartitionSplitRequestDecoder;
import io.cairn.sbe.manager.SessionRole;
import io.cairn.sbe.manager.SessionAnswerEntryDecoder;
import io.cairn.sbe.manager.SessionAnswerEntryEncoder;
import io.cairn.sbe.manager.StreamListResponseEncoder;
import io.cairn.sbe.manager.TaskEntryDecoder;
import io.cairn.sbe.manager.TaskEntryEncoder;
import io.cairn.sbe.manager.TaskClaimRequestDecoder;
import io.cairn.sbe.manager.TaskClaimResponseDecoder;
import io.cairn.sbe.manager.TaskClaimResponseEncoder;
import io.cairn.sbe.manager.TaskCompleteRequestDecoder;
import io.cairn.sbe.manager.TaskProgressRequestDecoder;
import io.cairn.sbe.manager.TaskKind;
import io.cairn.sbe.manager.TaskListResponseEncoder;
import io.cairn.sbe.manager.WatchCancelRequestDecoder;
import io.cairn.sbe.manager.WatchCreateRequestDecoder;
import io.cairn.sbe.manager.WatchEntryDecoder;
import io.cairn.sbe.manager.WatchEntryEncoder;
import io.cairn.sbe.manager.WatchEventEncoder;
import io.cairn.sbe.manager.WatchResponseEncoder;
import io.cairn.sbe.manager.ClusterStatusRequestDecoder;
import io.cairn.sbe.manager.ClusterStatusResponseEncoder;
import io.cairn.sbe.manager.CreateStreamRequestDecoder;
import io.cairn.sbe.manager.OpenStreamRequestDecoder;
import io.cairn.sbe.manager.ExtentEntryDecoder;
import io.cairn.sbe.manager.ExtentEntryEncoder;
import io.cairn.sbe.manager.ManagerErrorResponseEncoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.NodeEntryDecoder;
import io.cairn.sbe.manager.NodeEntryEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestDecoder;
import io.cairn.sbe.manager.RegisterNodeResponseEncoder;
import io.cairn.sbe.manager.SessionEntryDecoder;
import io.cairn.sbe.manager.SessionEntryEncoder;
import io.cairn.sbe.manager.SnapshotBeginDecoder;
import io.cairn.sbe.manager.SnapshotBeginEncoder;
import io.cairn.sbe.manager.SnapshotEndDecoder;
import io.cairn.sbe.manager.SnapshotEndEncoder;
import io.cairn.sbe.manager.StreamEntryDecoder;
import io.cairn.sbe.manager.StreamEntryEncoder;
import io.cairn.sbe.manager.StreamInfoRequestDecoder;
import io.cairn.sbe.manager.StreamInfoResponseEncoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The manager's replicated metadata: registered extent nodes, streams and their ordered extents, and per-session
 * de-duplication state.
 * <p>
 * Pure and deterministic: no Aeron types, no clock (cluster time is passed in), no I/O, no randomness. Every
 * cluster member applies the same commands in the same order and reaches the same state. A command is SBE bytes
 * from the cluster log; the answer is written into the caller's buffer. A malformed command is answered with
 * {@link ManagerStatus#BAD_REQUEST} and changes nothing; only a broken invariant throws.
 * <p>
 * De-duplication: write commands (RegisterNode, CreateStream, AllocateExtent) that were applied record their
 * correlationId per session. A later command of that session whose correlationId is not greater is answered from
 * the current state and not applied again, which makes a client's retry across a leader change safe. Commands that
 * failed changed nothing and are not recorded, so their retry is evaluated again.
 * <p>
 * Not thread-safe: owned by the clustered service thread.
 */
public final class ManagerStateMachine
{
    /** Version of the snapshot layout written by {@link #takeSnapshot(SnapshotSink)}. */
    public static final int SNAPSHOT_FORMAT_VERSION = 5;
    /** Oldest snapshot layout this build still reads. */
    public static final int SNAPSHOT_FORMAT_VERSION_MIN = 1;
    /** Default time without a heartbeat after which a node is SUSPECT: no new replicas go to it. */
    public static final long SUSPECT_TIMEOUT_MS_DEFAULT = 3_000;
    /** Default time without a heartbeat after which a node is DEAD: recovery tasks are created. */
    public static final long DEAD_TIMEOUT_MS_DEFAULT = 10_000;
    /** Longest failure-domain label, in UTF-8 bytes. */
    public static final int MAX_FAILURE_DOMAIN_LENGTH_BYTES = 64;
    /** Most disks a node may report. */
    public static final int MAX_DISKS_PER_NODE = 16;
    /** Most watches over all sessions. */
    public static final int MAX_WATCHES = 4096;
    /** Most entries of a range answer, and the default limit. */
    public static final int MAX_RANGE_RESULTS = 1000;
    /** Most compares, and most ops, in one transaction. */
    public static final int MAX_TXN_COMPARES = 16;
    /** Most ops in one transaction. */
    public static final int MAX_TXN_OPS = 16;
    /** Most entries of one page of a listing. */
    public static final int MAX_LIST_RESULTS = 1000;
    /** Longest stream name, in UTF-8 bytes. */
    public static final int MAX_NAME_LENGTH_BYTES = 256;
    /** Longest node endpoint, in UTF-8 bytes. */
    public static final int MAX_ENDPOINT_LENGTH_BYTES = 256;
    /** Most nodes that may register: bounds placement work and the ClusterStatus answer. */
    public static final int MAX_NODES = 128;
    /** A StreamInfo answer carries at most this many extents, the most recent ones (tail included). */
    public static final int MAX_EXTENTS_PER_RESPONSE = 512;
    /** Answers are at most this long, so the caller's buffer must be at least this long. */
    public static final int RESPONSE_BUFFER_LENGTH_MIN = 64 * 1024;
    /** Value of an id or correlationId that is absent. */
    public static final long NULL_ID = -1;
    /**
     * Answers of key/value writes kept per session, the last one included: a client may have this many commands in
     * flight ({@link ManagerClient.Context#maxOutstandingRequests(int)}) and still have each retry answered as the
     * first time.
     */
    public static final int MAX_SESSION_ANSWERS = 32;
    /** Recovery tasks one node may hold claimed at once: throttles re-replication traffic per node. */
    public static final int MAX_TASK_CLAIMS_PER_NODE = 2;
    /** Shortest claim of a recovery task. */
    public static final long MIN_TASK_LEASE_MS = 100;
    /** Longest claim of a recovery task; the claimer extends it with progress reports. */
    public static final long MAX_TASK_LEASE_MS = 10 * 60 * 1000;
    /** sealedLength of an extent that is not sealed. */
    public static final long UNSEALED = -1;
    /** Most extent ids one ExtentReconcile or ExtentDeleted command may carry. */
    public static final int MAX_RECONCILE_IDS = 512;
    /** Most extent ids one ExtentReconcileResponse tells a node to delete. */
    public static final int MAX_DELETES_PER_RESPONSE = 512;

    private static final int MAX_ERROR_MESSAGE_LENGTH_BYTES = 512;
    /** Answers stop adding entries when they would pass this, leaving room for the header and an error. */
    private static final int ANSWER_BUDGET_BYTES = RESPONSE_BUFFER_LENGTH_MIN - 2048;
    private static final int GROUP_HEADER_BYTES = 4;
    private static final int HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;
    private static final int VAR_LENGTH_FIELD_BYTES = 4;

    /** Sink for snapshot messages; each call is one complete SBE message. */
    @FunctionalInterface
    public interface SnapshotSink
    {
        /**
         * @param buffer holding the message.
         * @param offset of the message header.
         * @param length of the message.
         */
        void write(DirectBuffer buffer, int offset, int length);
    }

    /** Receives watch events for sessions other than (or besides) the one whose command is being answered. */
    @FunctionalInterface
    public interface WatchSink
    {
        /**
         * @param sessionId the watching cluster session.
         * @param buffer    holding one WatchEvent message.
         * @param offset    of its header.
         * @param length    of the message.
         */
        void deliver(long sessionId, DirectBuffer buffer, int offset, int length);
    }

    private static final class Disk
    {
        final int diskId;
        long capacityBytes;
        long freeBytes;
        DiskState state = DiskState.OK;

        Disk(final int diskId)
        {
            this.diskId = diskId;
        }
    }

    private static final class Task
    {
        final long taskId;
        final TaskKind kind;
        final long extentId;
        final long streamId;
        final int lostNodeId;
        final long createdAtMs;
        final long sealedLength;
        int claimNodeId;
        long claimEpoch;
        long claimExpiresAtMs;
        long progressBytes;

        Task(final long taskId, final TaskKind kind, final long extentId, final long streamId, final int lostNodeId,
            final long createdAtMs, final long sealedLength)
        {
            this.taskId = taskId;
            this.kind = kind;
            this.extentId = extentId;
            this.streamId = streamId;
            this.lostNodeId = lostNodeId;
            this.createdAtMs = createdAtMs;
            this.sealedLength = sealedLength;
        }
    }

    private record Watch(long sessionId, long watchId, String key, boolean prefix)
    {
        boolean matches(final String changed)
        {
            return prefix ? changed.startsWith(key) : changed.equals(key);
        }
    }

    private record KvView(
        byte[] keyBytes, byte[] value, long createRevision, long modRevision, long version, long leaseId)
    {
        static KvView of(final KvStore.KeyValue kv)
        {
            return new KvView(
                kv.keyBytes(), kv.value(), kv.createRevision(), kv.modRevision(), kv.version(), kv.leaseId());
        }

        int encodedLength()
        {
            return KvResponseEncoder.KvsEncoder.sbeBlockLength() + 2 * VAR_LENGTH_FIELD_BYTES +
                keyBytes.length + value.length;
        }
    }

    private record Compare(CompareTarget target, CompareResult result, long operand, String key, byte[] value)
    {
    }

    private record Op(int branch, KvOpType type, boolean prefix, long leaseId, int maxCount, String key, byte[] value)
    {
    }

    private static final class Node
    {
        final int nodeId;
        String endpoint;
        byte[] endpointBytes;
        int diskCount;
        long capacityBytes;
        long registeredAtMs;
        int extentCount;
        String failureDomain = "";
        byte[] failureDomainBytes = new byte[0];
        NodeState state = NodeState.ALIVE;
        long lastHeartbeatMs = NULL_ID;
        final TreeMap<Integer, Disk> disks = new TreeMap<>();

        Node(final int nodeId)
        {
            this.nodeId = nodeId;
        }
    }

    private static final class Extent
    {
        final long extentId;
        final long streamId;
        final int[] replicas;
        long sealedLength = UNSEALED;
        int refCount = 1;
        long ownerRevision;

        Extent(final long extentId, final long streamId, final int[] replicas)
        {
            this.extentId = extentId;
            this.streamId = streamId;
            this.replicas = replicas;
        }
    }

    /**
     * An extent no stream references any more (refCount 0): a tombstone that remembers its replicas until each has
     * confirmed deleting its file. A confirmed replica is 0.
     */
    private static final class Garbage
    {
        final long extentId;
        final long streamId;
        final long sealedLength;
        final int[] pending;

        Garbage(final long extentId, final long streamId, final long sealedLength, final int[] pending)
        {
            this.extentId = extentId;
            this.streamId = streamId;
            this.sealedLength = sealedLength;
            this.pending = pending;
        }

        boolean confirmedByAll()
        {
            for (final int nodeId : pending)
            {
                if (nodeId != 0)
                {
                    return false;
                }
            }
            return true;
        }
    }

    private static final class Stream
    {
        final long streamId;
        final String name;
        final byte[] nameBytes;
        final ArrayList<Extent> extents = new ArrayList<>();
        /** The global revision at the last OpenStream: its writer owns the stream; 0 until first opened. */
        long ownerRevision;

        Stream(final long streamId, final String name, final byte[] nameBytes)
        {
            this.streamId = streamId;
            this.name = name;
            this.nameBytes = nameBytes;
        }

        Extent tail()
        {
            return extents.get(extents.size() - 1);
        }
    }

    private static final class Session
    {
        long lastCorrelationId = NULL_ID;
        long lastStreamId = NULL_ID;
        /** From the authenticated principal at session open; a session never seen opening is a client. */
        SessionRole role = SessionRole.CLIENT;
        byte[] lastAnswer;
        /** Answers of earlier key/value writes, by correlationId, for retries of pipelined commands. */
        final TreeMap<Long, byte[]> earlierAnswers = new TreeMap<>();
    }

    // Ordered maps: snapshots and answers list entries in id order, independent of insertion history.
    private final TreeMap<Integer, Node> nodes = new TreeMap<>();
    private final TreeMap<Long, Stream> streams = new TreeMap<>();
    private final HashMap<String, Stream> streamsByName = new HashMap<>();
    private final TreeMap<Long, Session> sessions = new TreeMap<>();
    private final TreeMap<Long, Extent> extentsById = new TreeMap<>();
    private final TreeMap<Long, Task> tasks = new TreeMap<>();
    private final TreeMap<Long, Garbage> garbage = new TreeMap<>();
    private final TreeMap<Long, TreeMap<Long, Watch>> watchesBySession = new TreeMap<>();
    private final KvStore kv = new KvStore();
    private final PartitionTable partitions = new PartitionTable();
    private long nextId = 1;
    private int extentCount;
    private int watchCount;
    private long revision;
    private int eventsApplied;
    private final long suspectTimeoutMs;
    private final long deadTimeoutMs;
    private WatchSink watchSink = (sessionId, buffer, offset, length) -> {};

    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RegisterNodeRequestDecoder registerNodeDecoder = new RegisterNodeRequestDecoder();
    private final CreateStreamRequestDecoder createStreamDecoder = new CreateStreamRequestDecoder();
    private final AllocateExtentRequestDecoder allocateExtentDecoder = new AllocateExtentRequestDecoder();
    private final OpenStreamRequestDecoder openStreamDecoder = new OpenStreamRequestDecoder();
    private final StreamInfoRequestDecoder streamInfoDecoder = new StreamInfoRequestDecoder();
    private final ClusterStatusRequestDecoder clusterStatusDecoder = new ClusterStatusRequestDecoder();
    private final RegisterNodeResponseEncoder registerNodeResponseEncoder = new RegisterNodeResponseEncoder();
    private final StreamInfoResponseEncoder streamInfoResponseEncoder = new StreamInfoResponseEncoder();
    private final ClusterStatusResponseEncoder clusterStatusResponseEncoder = new ClusterStatusResponseEncoder();
    private final ManagerErrorResponseEncoder errorResponseEncoder = new ManagerErrorResponseEncoder();

    private final SnapshotBeginEncoder snapshotBeginEncoder = new SnapshotBeginEncoder();
    private final NodeEntryEncoder nodeEntryEncoder = new NodeEntryEncoder();
    private final StreamEntryEncoder streamEntryEncoder = new StreamEntryEncoder();
    private final ExtentEntryEncoder extentEntryEncoder = new ExtentEntryEncoder();
    private final SessionEntryEncoder sessionEntryEncoder = new SessionEntryEncoder();
    private final SnapshotEndEncoder snapshotEndEncoder = new SnapshotEndEncoder();
    private final SnapshotBeginDecoder snapshotBeginDecoder = new SnapshotBeginDecoder();
    private final NodeEntryDecoder nodeEntryDecoder = new NodeEntryDecoder();
    private final StreamEntryDecoder streamEntryDecoder = new StreamEntryDecoder();
    private final ExtentEntryDecoder extentEntryDecoder = new ExtentEntryDecoder();
    private final SessionEntryDecoder sessionEntryDecoder = new SessionEntryDecoder();
    private final SnapshotEndDecoder snapshotEndDecoder = new SnapshotEndDecoder();
    private final UnsafeBuffer snapshotBuffer = new UnsafeBuffer(new byte[RESPONSE_BUFFER_LENGTH_MIN + 1024]);
    private final UnsafeBuffer eventBuffer = new UnsafeBuffer(new byte[2 * KvStore.MAX_VALUE_LENGTH_BYTES]);
    private final byte[] keyBytes = new byte[KvStore.MAX_KEY_LENGTH_BYTES];

    private final NodeHeartbeatRequestDecoder heartbeatDecoder = new NodeHeartbeatRequestDecoder();
    private final NodeHeartbeatResponseEncoder heartbeatResponseEncoder = new NodeHeartbeatResponseEncoder();
    private final ListRequestDecoder listDecoder = new ListRequestDecoder();
    private final NodeListResponseEncoder nodeListEncoder = new NodeListResponseEncoder();
    private final DiskListResponseEncoder diskListEncoder = new DiskListResponseEncoder();
    private final StreamListResponseEncoder streamListEncoder = new StreamListResponseEncoder();
    private final ExtentListResponseEncoder extentListEncoder = new ExtentListResponseEncoder();
    private final TaskListResponseEncoder taskListEncoder = new TaskListResponseEncoder();
    private final KvPutRequestDecoder kvPutDecoder = new KvPutRequestDecoder();
    private final KvRangeRequestDecoder kvRangeDecoder = new KvRangeRequestDecoder();
    private final KvDeleteRequestDecoder kvDeleteDecoder = new KvDeleteRequestDecoder();
    private final KvTxnRequestDecoder kvTxnDecoder = new KvTxnRequestDecoder();
    private final KvResponseEncoder kvResponseEncoder = new KvResponseEncoder();
    private final LeaseGrantRequestDecoder leaseGrantDecoder = new LeaseGrantRequestDecoder();
    private final LeaseRevokeRequestDecoder leaseRevokeDecoder = new LeaseRevokeRequestDecoder();
    private final LeaseKeepAliveRequestDecoder leaseKeepAliveDecoder = new LeaseKeepAliveRequestDecoder();
    private final LeaseResponseEncoder leaseResponseEncoder = new LeaseResponseEncoder();
    private final WatchCreateRequestDecoder watchCreateDecoder = new WatchCreateRequestDecoder();
    private final WatchCancelRequestDecoder watchCancelDecoder = new WatchCancelRequestDecoder();
    private final WatchResponseEncoder watchResponseEncoder = new WatchResponseEncoder();
    private final WatchEventEncoder watchEventEncoder = new WatchEventEncoder();
    private final DiskEntryEncoder diskEntryEncoder = new DiskEntryEncoder();
    private final DiskEntryDecoder diskEntryDecoder = new DiskEntryDecoder();
    private final TaskEntryEncoder taskEntryEncoder = new TaskEntryEncoder();
    private final TaskClaimRequestDecoder taskClaimDecoder = new TaskClaimRequestDecoder();
    private final TaskProgressRequestDecoder taskProgressDecoder = new TaskProgressRequestDecoder();
    private final TaskCompleteRequestDecoder taskCompleteDecoder = new TaskCompleteRequestDecoder();
    private final TaskClaimResponseEncoder taskClaimResponseEncoder = new TaskClaimResponseEncoder();
    private final TaskClaimResponseDecoder taskClaimResponseDecoder = new TaskClaimResponseDecoder();
    private final TaskEntryDecoder taskEntryDecoder = new TaskEntryDecoder();
    private final KvEntryEncoder kvEntryEncoder = new KvEntryEncoder();
    private final KvEntryDecoder kvEntryDecoder = new KvEntryDecoder();
    private final LeaseEntryEncoder leaseEntryEncoder = new LeaseEntryEncoder();
    private final LeaseEntryDecoder leaseEntryDecoder = new LeaseEntryDecoder();
    private final KvEventEntryEncoder kvEventEntryEncoder = new KvEventEntryEncoder();
    private final KvEventEntryDecoder kvEventEntryDecoder = new KvEventEntryDecoder();
    private final WatchEntryEncoder watchEntryEncoder = new WatchEntryEncoder();
    private final WatchEntryDecoder watchEntryDecoder = new WatchEntryDecoder();
    private final SessionAnswerEntryEncoder sessionAnswerEntryEncoder = new SessionAnswerEntryEncoder();
    private final SessionAnswerEntryDecoder sessionAnswerEntryDecoder = new SessionAnswerEntryDecoder();
    private final PartitionCreateRequestDecoder partitionCreateDecoder = new PartitionCreateRequestDecoder();
    private final PartitionSplitRequestDecoder partitionSplitDecoder = new PartitionSplitRequestDecoder();
    private final PartitionMergeRequestDecoder partitionMergeDecoder = new PartitionMergeRequestDecoder();
    private final PartitionAssignRequestDecoder partitionAssignDecoder = new PartitionAssignRequestDecoder();
    private final PartitionResponseEncoder partitionResponseEncoder = new PartitionResponseEncoder();
    private final PartitionListResponseEncoder partitionListEncoder = new PartitionListResponseEncoder();
    private final PartitionEntryEncoder partitionEntryEncoder = new PartitionEntryEncoder();
    private final PartitionEntryDecoder partitionEntryDecoder = new PartitionEntryDecoder();
    private final TruncateStreamRequestDecoder truncateDecoder = new TruncateStreamRequestDecoder();
    private final PunchHoleRequestDecoder punchDecoder = new PunchHoleRequestDecoder();
    private final ExtentReconcileRequestDecoder reconcileDecoder = new ExtentReconcileRequestDecoder();
    private final ExtentDeletedRequestDecoder deletedDecoder = new ExtentDeletedRequestDecoder();
    private final ExtentReconcileResponseEncoder reconcileResponseEncoder = new ExtentReconcileResponseEncoder();
    private final TaskReleaseRequestDecoder taskReleaseDecoder = new TaskReleaseRequestDecoder();
    private final GarbageEntryEncoder garbageEntryEncoder = new GarbageEntryEncoder();
    private final GarbageEntryDecoder garbageEntryDecoder = new GarbageEntryDecoder();
    private final long[] reconcileDeletes = new long[MAX_DELETES_PER_RESPONSE];

    private final byte[] varBytes = new byte[Math.max(MAX_NAME_LENGTH_BYTES, MAX_ENDPOINT_LENGTH_BYTES)];
    private final CharsetDecoder utf8Decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final int[] placementNodeIds = new int[MAX_NODES];
    private final int[] placementCounts = new int[MAX_NODES];
    private final long[] placementFree = new long[MAX_NODES];
    private final String[] placementDomains = new String[MAX_NODES];
    private final int[] placementOut = new int[Placement.REPLICA_COUNT];

    // Snapshot restore progress.
    private boolean restoring;
    private Stream restoringStream;
    private int restoredEntryCount;
    private Session restoringSession;

    /**
     * A state machine with the default liveness timeouts.
     */
    public ManagerStateMachine()
    {
        this(SUSPECT_TIMEOUT_MS_DEFAULT, DEAD_TIMEOUT_MS_DEFAULT);
    }

    /**
     * @param suspectTimeoutMs time without a heartbeat after which a node is SUSPECT; the same on every member.
     * @param deadTimeoutMs    time without a heartbeat after which a node is DEAD; greater than the suspect timeout.
     */
    public ManagerStateMachine(final long suspectTimeoutMs, final long deadTimeoutMs)
    {
        Verify.verify(suspectTimeoutMs > 0 && deadTimeoutMs > suspectTimeoutMs,
            "0 < suspectTimeoutMs < deadTimeoutMs", deadTimeoutMs);
        this.suspectTimeoutMs = suspectTimeoutMs;
        this.deadTimeoutMs = deadTimeoutMs;
        kv.eventListener(this::onKvEvent);
    }

    /**
     * @param sink receives watch events; on followers the service's offers are mocked, so only the leader sends.
     */
    public void watchSink(final WatchSink sink)
    {
        this.watchSink = sink;
    }

    /**
     * Applies one command and writes its answer.
     *
     * @param sessionId     cluster session that sent the command; scope of de-duplication.
     * @param buffer        holding the command.
     * @param offset        of the command's message header.
     * @param length        of the command in bytes.
     * @param clusterTimeMs cluster time at which the command is applied.
     * @param out           receives the answer at {@code outOffset}; at least {@link #RESPONSE_BUFFER_LENGTH_MIN}
     *                      bytes from there.
     * @param outOffset     where the answer starts.
     * @return length of the answer in bytes.
     */
    public int onCommand(
        final long sessionId,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        Verify.verify(out.capacity() - outOffset >= RESPONSE_BUFFER_LENGTH_MIN, "response buffer too small");
        Verify.verify(!restoring, "command while a snapshot restore is incomplete");
        if (length < HEADER_LENGTH || offset < 0 || offset + length > buffer.capacity())
        {
            return writeError(out, outOffset, NULL_ID, "truncated: " + length + " bytes is shorter than a header");
        }

        headerDecoder.wrap(buffer, offset);
        final int schemaId = headerDecoder.schemaId();
        final int templateId = headerDecoder.templateId();
        final int blockLength = headerDecoder.blockLength();
        final int version = headerDecoder.version();
        final int bodyOffset = offset + HEADER_LENGTH;
        final int end = offset + length;
        final long correlationId = blockLength >= Long.BYTES && bodyOffset + Long.BYTES <= end ?
            buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN) : NULL_ID;

        if (schemaId != MessageHeaderDecoder.SCHEMA_ID)
        {
            return writeError(out, outOffset, NULL_ID,
                "wrong schemaId " + schemaId + ", expected " + MessageHeaderDecoder.SCHEMA_ID);
        }
        if (bodyOffset + blockLength > end)
        {
            return writeError(out, outOffset, NULL_ID,
                "truncated: blockLength " + blockLength + " exceeds the " + length + " byte message");
        }
        final int minBlockLength = minBlockLength(templateId);
        if (minBlockLength < 0)
        {
            return writeError(out, outOffset, correlationId, "unknown templateId " + templateId);
        }
        if (blockLength < minBlockLength)
        {
            return writeError(out, outOffset, correlationId,
                "blockLength " + blockLength + " < " + minBlockLength + " for templateId " + templateId);
        }

        return switch (templateId)
        {
            case RegisterNodeRequestDecoder.TEMPLATE_ID -> onRegisterNode(
                sessionId, buffer, bodyOffset, blockLength, version, end, clusterTimeMs, out, outOffset);
            case CreateStreamRequestDecoder.TEMPLATE_ID -> onCreateStream(
                sessionId, buffer, bodyOffset, blockLength, version, end, out, outOffset);
            case AllocateExtentRequestDecoder.TEMPLATE_ID -> onAllocateExtent(
                sessionId, buffer, bodyOffset, blockLength, version, out, outOffset);
            case OpenStreamRequestDecoder.TEMPLATE_ID -> onOpenStream(
                sessionId, buffer, bodyOffset, blockLength, version, out, outOffset);
            case StreamInfoRequestDecoder.TEMPLATE_ID -> onStreamInfo(
                buffer, bodyOffset, blockLength, version, out, outOffset);
            case ClusterStatusRequestDecoder.TEMPLATE_ID -> onClusterStatus(
                buffer, bodyOffset, blockLength, version, out, outOffset);
            case NodeHeartbeatRequestDecoder.TEMPLATE_ID -> onHeartbeat(
                buffer, bodyOffset, blockLength, version, end, clusterTimeMs, out, outOffset);
            case ListRequestDecoder.TEMPLATE_ID -> onList(buffer, bodyOffset, blockLength, version, out, outOffset);
            case TruncateStreamRequestDecoder.TEMPLATE_ID, PunchHoleRequestDecoder.TEMPLATE_ID -> onDropExtents(
                sessionId, templateId, buffer, bodyOffset, blockLength, version, out, outOffset);
            case ExtentReconcileRequestDecoder.TEMPLATE_ID -> onReconcile(
                buffer, bodyOffset, blockLength, version, end, clusterTimeMs, out, outOffset);
            case ExtentDeletedRequestDecoder.TEMPLATE_ID -> onExtentsDeleted(
                sessionId, buffer, bodyOffset, blockLength, version, end, out, outOffset);
            case TaskClaimRequestDecoder.TEMPLATE_ID, TaskProgressRequestDecoder.TEMPLATE_ID,
                TaskCompleteRequestDecoder.TEMPLATE_ID, TaskReleaseRequestDecoder.TEMPLATE_ID -> onTaskCommand(
                sessionId, templateId, buffer, bodyOffset, blockLength, version, clusterTimeMs, out, outOffset);
            case PartitionCreateRequestDecoder.TEMPLATE_ID, PartitionSplitRequestDecoder.TEMPLATE_ID,
                PartitionMergeRequestDecoder.TEMPLATE_ID, PartitionAssignRequestDecoder.TEMPLATE_ID ->
                onPartitionCommand(sessionId, templateId, buffer, bodyOffset, blockLength, version, end, out, outOffset);
            default -> onKvCommand(
                sessionId, templateId, buffer, bodyOffset, blockLength, version, end, clusterTimeMs, out, outOffset);
        };
    }

    /**
     * Whether a command only reads state: a KV range (or get). Applying it changes nothing (no revision, no session
     * de-duplication entry), so a member whose answers are not sent (a follower: its offers are mocked) may skip it
     * and stay identical to the leader.
     *
     * @param buffer holding the command.
     * @param offset where it starts.
     * @param length its length in bytes.
     * @return true for a well-formed header of a read-only command.
     */
    public static boolean isReadOnly(final DirectBuffer buffer, final int offset, final int length)
    {
        return length >= HEADER_LENGTH &&
            buffer.getShort(offset + MessageHeaderDecoder.schemaIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) ==
            MessageHeaderDecoder.SCHEMA_ID &&
            buffer.getShort(offset + MessageHeaderDecoder.templateIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) ==
            KvRangeRequestDecoder.TEMPLATE_ID;
    }

    /**
     * Records a new session and its role. Called from the log (every member, same position), with the principal the
     * leader's authenticator gave the session: {@code "admin"} is {@link SessionRole#ADMIN}, anything else a client.
     *
     * @param sessionId        of the new cluster session.
     * @param encodedPrincipal the session's principal ({@link ManagerAuthenticator}: the role name); may be null.
     */
    public void onSessionOpen(final long sessionId, final byte[] encodedPrincipal)
    {
        final Session session = sessions.computeIfAbsent(sessionId, (id) -> new Session());
        session.role = encodedPrincipal != null &&
            Arrays.equals(encodedPrincipal, ManagerAuthenticator.ROLE_ADMIN.getBytes(StandardCharsets.UTF_8)) ?
            SessionRole.ADMIN : SessionRole.CLIENT;
    }

    /**
     * @param sessionId a cluster session.
     * @return its role; {@link SessionRole#CLIENT} for a session never seen opening.
     */
    public SessionRole sessionRole(final long sessionId)
    {
        final Session session = sessions.get(sessionId);
        return session == null ? SessionRole.CLIENT : session.role;
    }

    /**
     * Forgets a closed session's de-duplication state: a closed session cannot retry.
     *
     * @param sessionId of the closed cluster session.
     */
    public void onSessionClose(final long sessionId)
    {
        sessions.remove(sessionId);
        final TreeMap<Long, Watch> watches = watchesBySession.remove(sessionId);
        if (watches != null)
        {
            watchCount -= watches.size();
        }
    }

    private static int minBlockLength(final int templateId)
    {
        return switch (templateId)
        {
            case RegisterNodeRequestDecoder.TEMPLATE_ID -> RegisterNodeRequestDecoder.BLOCK_LENGTH;
            case CreateStreamRequestDecoder.TEMPLATE_ID -> CreateStreamRequestDecoder.BLOCK_LENGTH;
            case AllocateExtentRequestDecoder.TEMPLATE_ID -> AllocateExtentRequestDecoder.BLOCK_LENGTH - Long.BYTES;
            case OpenStreamRequestDecoder.TEMPLATE_ID -> OpenStreamRequestDecoder.BLOCK_LENGTH;
            case StreamInfoRequestDecoder.TEMPLATE_ID -> StreamInfoRequestDecoder.BLOCK_LENGTH;
            case ClusterStatusRequestDecoder.TEMPLATE_ID -> ClusterStatusRequestDecoder.BLOCK_LENGTH;
            case NodeHeartbeatRequestDecoder.TEMPLATE_ID -> NodeHeartbeatRequestDecoder.BLOCK_LENGTH;
            case ListRequestDecoder.TEMPLATE_ID -> ListRequestDecoder.BLOCK_LENGTH;
            case KvPutRequestDecoder.TEMPLATE_ID -> KvPutRequestDecoder.BLOCK_LENGTH;
            case KvRangeRequestDecoder.TEMPLATE_ID -> KvRangeRequestDecoder.BLOCK_LENGTH;
            case KvDeleteRequestDecoder.TEMPLATE_ID -> KvDeleteRequestDecoder.BLOCK_LENGTH;
            case KvTxnRequestDecoder.TEMPLATE_ID -> KvTxnRequestDecoder.BLOCK_LENGTH;
            case LeaseGrantRequestDecoder.TEMPLATE_ID -> LeaseGrantRequestDecoder.BLOCK_LENGTH;
            case LeaseRevokeRequestDecoder.TEMPLATE_ID -> LeaseRevokeRequestDecoder.BLOCK_LENGTH;
            case LeaseKeepAliveRequestDecoder.TEMPLATE_ID -> LeaseKeepAliveRequestDecoder.BLOCK_LENGTH;
            case WatchCreateRequestDecoder.TEMPLATE_ID -> WatchCreateRequestDecoder.BLOCK_LENGTH;
            case WatchCancelRequestDecoder.TEMPLATE_ID -> WatchCancelRequestDecoder.BLOCK_LENGTH;
            case TaskClaimRequestDecoder.TEMPLATE_ID -> TaskClaimRequestDecoder.BLOCK_LENGTH;
            case TaskProgressRequestDecoder.TEMPLATE_ID -> TaskProgressRequestDecoder.BLOCK_LENGTH;
            case TaskCompleteRequestDecoder.TEMPLATE_ID -> TaskCompleteRequestDecoder.BLOCK_LENGTH;
            case TaskReleaseRequestDecoder.TEMPLATE_ID -> TaskReleaseRequestDecoder.BLOCK_LENGTH;
            case TruncateStreamRequestDecoder.TEMPLATE_ID -> TruncateStreamRequestDecoder.BLOCK_LENGTH;
            case PunchHoleRequestDecoder.TEMPLATE_ID -> PunchHoleRequestDecoder.BLOCK_LENGTH;
            case ExtentReconcileRequestDecoder.TEMPLATE_ID -> ExtentReconcileRequestDecoder.BLOCK_LENGTH;
            case ExtentDeletedRequestDecoder.TEMPLATE_ID -> ExtentDeletedRequestDecoder.BLOCK_LENGTH;
            case PartitionCreateRequestDecoder.TEMPLATE_ID -> PartitionCreateRequestDecoder.BLOCK_LENGTH;
            case PartitionSplitRequestDecoder.TEMPLATE_ID -> PartitionSplitRequestDecoder.BLOCK_LENGTH;
            case PartitionMergeRequestDecoder.TEMPLATE_ID -> PartitionMergeRequestDecoder.BLOCK_LENGTH;
            case PartitionAssignRequestDecoder.TEMPLATE_ID -> PartitionAssignRequestDecoder.BLOCK_LENGTH;
            default -> -1;
        };
    }

    private int onRegisterNode(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final RegisterNodeRequestDecoder decoder = registerNodeDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final int nodeId = decoder.nodeId();
        final int diskCount = decoder.diskCount();
        final long capacityBytes = decoder.capacityBytes();
        final int endpointLength = varLength(buffer, decoder.limit(), end, MAX_ENDPOINT_LENGTH_BYTES);
        if (endpointLength < 0)
        {
            return writeError(out, outOffset, correlationId, varLengthError("endpoint", endpointLength,
                MAX_ENDPOINT_LENGTH_BYTES));
        }
        decoder.getEndpoint(varBytes, 0, endpointLength);
        final String endpoint = decodeUtf8(varBytes, endpointLength);
        String failureDomain = "";
        if (version >= 2 && decoder.limit() < end) // an encoder that left the newer field out sent none
        {
            final int domainLength = varLength(buffer, decoder.limit(), end, MAX_FAILURE_DOMAIN_LENGTH_BYTES);
            if (domainLength < 0)
            {
                return writeError(out, outOffset, correlationId, varLengthError("failureDomain", domainLength,
                    MAX_FAILURE_DOMAIN_LENGTH_BYTES));
            }
            decoder.getFailureDomain(varBytes, 0, domainLength);
            failureDomain = decodeUtf8(varBytes, domainLength);
        }

        if (isDuplicate(sessionId, correlationId))
        {
            return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.OK, nodeId, "");
        }
        final String invalid = nodeId <= 0 ? "nodeId must be > 0, was " + nodeId :
            diskCount <= 0 ? "diskCount must be > 0, was " + diskCount :
            capacityBytes < 0 ? "capacityBytes must be >= 0, was " + capacityBytes :
            endpoint == null ? "endpoint is not valid UTF-8" :
            endpoint.isEmpty() ? "endpoint is empty" :
            failureDomain == null ? "failureDomain is not valid UTF-8" : null;
        if (invalid != null)
        {
            return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, nodeId, invalid);
        }

        Node node = nodes.get(nodeId);
        if (node == null)
        {
            if (nodes.size() >= MAX_NODES)
            {
                return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, nodeId,
                    "node limit of " + MAX_NODES + " reached");
            }
            node = new Node(nodeId);
            nodes.put(nodeId, node);
        }
        node.endpoint = endpoint;
        node.endpointBytes = endpoint.getBytes(StandardCharsets.UTF_8);
        node.diskCount = diskCount;
        node.capacityBytes = capacityBytes;
        node.registeredAtMs = clusterTimeMs;
        node.failureDomain = failureDomain;
        node.failureDomainBytes = failureDomain.getBytes(StandardCharsets.UTF_8);
        if (node.lastHeartbeatMs != NULL_ID)
        {
            // A registration is a sign of life: a tracked node starts a fresh heartbeat period.
            node.lastHeartbeatMs = clusterTimeMs;
            markAlive(node);
        }
        revision++;
        recordApplied(sessionId, correlationId, NULL_ID, false);

        return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.OK, nodeId, "");
    }

    private int onCreateStream(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final CreateStreamRequestDecoder decoder = createStreamDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final int nameLength = varLength(buffer, decoder.limit(), end, MAX_NAME_LENGTH_BYTES);
        if (nameLength < 0)
        {
            return writeError(out, outOffset, correlationId, varLengthError("name", nameLength, MAX_NAME_LENGTH_BYTES));
        }
        decoder.getName(varBytes, 0, nameLength);

        if (isDuplicate(sessionId, correlationId))
        {
            return writeDuplicateAnswer(sessionId, correlationId, out, outOffset);
        }
        final String name = decodeUtf8(varBytes, nameLength);
        if (name == null || name.isEmpty())
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, NULL_ID,
                name == null ? "stream name is not valid UTF-8" : "stream name is empty");
        }
        if (streamsByName.containsKey(name))
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.DUPLICATE_NAME,
                streamsByName.get(name).streamId, "a stream named '" + name + "' already exists");
        }
        if (!placeReplicas(nextId + 1))
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NOT_ENOUGH_NODES, NULL_ID,
                notEnoughNodesMessage());
        }

        revision++;
        final Stream stream = new Stream(nextId++, name, name.getBytes(StandardCharsets.UTF_8));
        streams.put(stream.streamId, stream);
        streamsByName.put(name, stream);
        appendExtent(stream);
        recordApplied(sessionId, correlationId, stream.streamId, true);
        verifyStream(stream);

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private int onAllocateExtent(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final AllocateExtentRequestDecoder decoder =
            allocateExtentDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final long streamId = decoder.streamId();
        final long tailExtentId = decoder.tailExtentId();
        final long sealLength = decoder.sealLength();
        // Version 4 senders carry no owner revision (the block ends before it): 0, "none".
        final long ownerRevision = blockLength >= AllocateExtentRequestDecoder.BLOCK_LENGTH ?
            Math.max(0, decoder.ownerRevision()) : 0;

        if (isDuplicate(sessionId, correlationId))
        {
            return writeDuplicateAnswer(sessionId, correlationId, out, outOffset);
        }
        final Stream stream = streams.get(streamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_STREAM, streamId,
                "no stream with id " + streamId);
        }
        if (sealLength < 0)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, streamId,
                "sealLength must be >= 0, was " + sealLength);
        }
        if (stream.ownerRevision != 0 && ownerRevision != stream.ownerRevision)
        {
            return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.LOCKED_BY_OTHER, stream,
                "owner revision " + ownerRevision + " does not own stream " + streamId + "; its owner revision is " +
                stream.ownerRevision);
        }
        final Extent tail = stream.tail();
        if (tail.extentId != tailExtentId)
        {
            return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.STALE_TAIL, stream,
                "extent " + tailExtentId + " is not the tail of stream " + streamId + "; the tail is " +
                tail.extentId);
        }
        if (!placeReplicas(nextId))
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NOT_ENOUGH_NODES, streamId,
                notEnoughNodesMessage());
        }

        revision++;
        tail.sealedLength = sealLength;
        tail.ownerRevision = revision;
        appendExtent(stream);
        recordApplied(sessionId, correlationId, streamId, true);
        verifyStream(stream);

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private int onOpenStream(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final OpenStreamRequestDecoder decoder = openStreamDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final long streamId = decoder.streamId();
        if (isDuplicate(sessionId, correlationId))
        {
            return writeDuplicateAnswer(sessionId, correlationId, out, outOffset);
        }
        final Stream stream = streams.get(streamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_STREAM, streamId,
                "no stream with id " + streamId);
        }
        revision++;
        stream.ownerRevision = revision;
        recordApplied(sessionId, correlationId, streamId, true);

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Extent lifecycle: TruncateStream and PunchHole drop references; an extent at refCount 0 becomes garbage, a
    // tombstone with its replicas, until every replica node confirmed deleting its file (ExtentDeleted). Nodes learn
    // what to delete from ExtentReconcile (docs/internals/replication.md, "Extent lifecycle").
    // ---------------------------------------------------------------------------------------------------------------

    private int onDropExtents(
        final long sessionId,
        final int templateId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final boolean truncate = templateId == TruncateStreamRequestDecoder.TEMPLATE_ID;
        final long correlationId;
        final long streamId;
        final long ownerRevision;
        final long extentId;
        if (truncate)
        {
            final TruncateStreamRequestDecoder d = truncateDecoder.wrap(buffer, bodyOffset, blockLength, version);
            correlationId = d.correlationId();
            streamId = d.streamId();
            ownerRevision = Math.max(0, d.ownerRevision());
            extentId = d.firstExtentIdToKeep();
        }
        else
        {
            final PunchHoleRequestDecoder d = punchDecoder.wrap(buffer, bodyOffset, blockLength, version);
            correlationId = d.correlationId();
            streamId = d.streamId();
            ownerRevision = Math.max(0, d.ownerRevision());
            extentId = d.extentId();
        }
        if (isDuplicate(sessionId, correlationId))
        {
            return writeDuplicateAnswer(sessionId, correlationId, out, outOffset);
        }
        final Stream stream = streams.get(streamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_STREAM, streamId,
                "no stream with id " + streamId);
        }
        if (stream.ownerRevision != 0 && ownerRevision != stream.ownerRevision)
        {
            return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.LOCKED_BY_OTHER, stream,
                "owner revision " + ownerRevision + " does not own stream " + streamId + "; its owner revision is " +
                stream.ownerRevision);
        }
        int index = -1;
        for (int i = 0; i < stream.extents.size(); i++)
        {
            if (stream.extents.get(i).extentId == extentId)
            {
                index = i;
                break;
            }
        }
        if (index < 0)
        {
            return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, stream,
                (truncate ? "firstExtentIdToKeep " : "extentId ") + extentId + " is not an extent of stream " + streamId);
        }
        final int last = stream.extents.size() - 1;
        if (!truncate && index == last)
        {
            return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, stream,
                "extentId " + extentId + " is the tail of stream " + streamId + "; only sealed extents before it " +
                "can be punched out");
        }

        // The tail is never dropped: truncate keeps firstExtentIdToKeep (at most the tail), punch refused it above.
        if (!truncate || index > 0)
        {
            revision++;
            final int from = truncate ? 0 : index;
            final int to = truncate ? index : index + 1;
            for (int i = from; i < to; i++)
            {
                releaseExtent(stream.extents.get(i));
            }
            stream.extents.subList(from, to).clear();
        }
        recordApplied(sessionId, correlationId, streamId, true);
        verifyStream(stream);

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    /** Drops one reference; at 0 the extent leaves the index, its open tasks are void and it becomes garbage. */
    private void releaseExtent(final Extent extent)
    {
        Verify.verify(extent.refCount > 0, "released extent is referenced", extent.extentId);
        Verify.verify(extent.sealedLength != UNSEALED, "only sealed extents are released", extent.extentId);
        extent.refCount--;
        if (extent.refCount > 0)
        {
            return;
        }
        extentsById.remove(extent.extentId);
        extentCount--;
        for (final int nodeId : extent.replicas)
        {
            nodes.get(nodeId).extentCount--;
        }
        // A copy in progress is pointless now; its worker's next progress report is answered NO_SUCH_TASK.
        tasks.values().removeIf(task -> task.extentId == extent.extentId);
        garbage.put(extent.extentId, new Garbage(extent.extentId, extent.streamId, extent.sealedLength,
            extent.replicas.clone()));
    }

    /**
     * Read-only. Which of the node's extent files must go: a file is deleted only when the manager does not list the
     * extent on this node (garbage, never placed here, or moved away by a completed re-replication), its id is below
     * the id high-water mark (an id at or above it may be a create not yet applied), and no live claim of this node
     * on a recovery task for it exists (that is its copy in progress). Pending garbage of the node is added.
     */
    private int onReconcile(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final ExtentReconcileRequestDecoder d = reconcileDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final int nodeId = d.nodeId();
        final int count = groupCount(buffer, d.limit(), end, MAX_RECONCILE_IDS);
        if (count < 0)
        {
            return writeReconcileResponse(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, 0,
                "extents group is truncated or has more than MAX_RECONCILE_IDS (" + MAX_RECONCILE_IDS + ") entries");
        }
        if (!nodes.containsKey(nodeId))
        {
            return writeReconcileResponse(out, outOffset, correlationId, ManagerStatus.NO_SUCH_NODE, 0,
                "node " + nodeId + " is not registered");
        }
        int deletes = 0;
        for (final ExtentReconcileRequestDecoder.ExtentsDecoder e : d.extents())
        {
            final long extentId = e.extentId();
            if (deletes < MAX_DELETES_PER_RESPONSE && mayDelete(nodeId, extentId, clusterTimeMs))
            {
                reconcileDeletes[deletes++] = extentId;
            }
        }
        for (final Garbage g : garbage.values())
        {
            if (deletes >= MAX_DELETES_PER_RESPONSE)
            {
                break;
            }
            if (pendingIndex(g, nodeId) >= 0 && !contains(reconcileDeletes, deletes, g.extentId))
            {
                reconcileDeletes[deletes++] = g.extentId;
            }
        }
        return writeReconcileResponse(out, outOffset, correlationId, ManagerStatus.OK, deletes, "");
    }

    private boolean mayDelete(final int nodeId, final long extentId, final long clusterTimeMs)
    {
        if (extentId <= 0 || extentId >= nextId)
        {
            return false; // not yet allocated: maybe a create the manager has not applied yet
        }
        final Extent extent = extentsById.get(extentId);
        if (extent == null)
        {
            return true; // garbage, or an id that never was an extent on this node
        }
        if (replicaIndex(extent, nodeId) >= 0)
        {
            return false; // a live replica: never deleted
        }
        for (final Task task : tasks.values())
        {
            if (task.extentId == extentId && task.claimNodeId == nodeId && task.claimExpiresAtMs > clusterTimeMs)
            {
                return false; // this node's re-replication copy in progress
            }
        }
        return true;
    }

    private static int pendingIndex(final Garbage g, final int nodeId)
    {
        for (int i = 0; i < g.pending.length; i++)
        {
            if (g.pending[i] == nodeId)
            {
                return i;
            }
        }
        return -1;
    }

    private static boolean contains(final long[] ids, final int count, final long id)
    {
        for (int i = 0; i < count; i++)
        {
            if (ids[i] == id)
            {
                return true;
            }
        }
        return false;
    }

    private int writeReconcileResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final int deletes,
        final String message)
    {
        final ExtentReconcileResponseEncoder encoder = reconcileResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .nextId(nextId);
        final ExtentReconcileResponseEncoder.DeletesEncoder group = encoder.deletesCount(deletes);
        for (int i = 0; i < deletes; i++)
        {
            group.next().extentId(reconcileDeletes[i]);
        }
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    /** A node deleted these extents' files: it leaves their tombstones. Idempotent; unknown ids are ignored. */
    private int onExtentsDeleted(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final ExtentDeletedRequestDecoder d = deletedDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final int nodeId = d.nodeId();
        final int count = groupCount(buffer, d.limit(), end, MAX_RECONCILE_IDS);
        if (count < 0)
        {
            return writeReconcileResponse(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, 0,
                "extents group is truncated or has more than MAX_RECONCILE_IDS (" + MAX_RECONCILE_IDS + ") entries");
        }
        if (isDuplicate(sessionId, correlationId))
        {
            return writeReconcileResponse(out, outOffset, correlationId, ManagerStatus.OK, 0, "");
        }
        boolean changed = false;
        for (final ExtentDeletedRequestDecoder.ExtentsDecoder e : d.extents())
        {
            final Garbage g = garbage.get(e.extentId());
            final int index = g == null ? -1 : pendingIndex(g, nodeId);
            if (index >= 0)
            {
                g.pending[index] = 0;
                changed = true;
                if (g.confirmedByAll())
                {
                    garbage.remove(g.extentId);
                }
            }
        }
        if (changed)
        {
            revision++;
        }
        recordApplied(sessionId, correlationId, NULL_ID, false);
        return writeReconcileResponse(out, outOffset, correlationId, ManagerStatus.OK, 0, "");
    }

    private int onStreamInfo(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final StreamInfoRequestDecoder decoder = streamInfoDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final long streamId = decoder.streamId();
        final Stream stream = streams.get(streamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_STREAM, streamId,
                "no stream with id " + streamId);
        }

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private int onClusterStatus(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final ClusterStatusRequestDecoder decoder =
            clusterStatusDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();

        final ClusterStatusResponseEncoder encoder = clusterStatusResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .memberId(-1)
            .logPosition(-1)
            .streamCount(streams.size())
            .extentCount(extentCount)
            .leadershipTermId(-1)
            .snapshotLogPosition(-1)
            .revision(revision)
            .keyCount(kv.keyCount())
            .leaseCount(kv.leaseCount())
            .taskCount(tasks.size());
        final ClusterStatusResponseEncoder.NodesEncoder nodesEncoder = encoder.nodesCount(nodes.size());
        for (final Node node : nodes.values())
        {
            nodesEncoder.next()
                .nodeId(node.nodeId)
                .diskCount(node.diskCount)
                .capacityBytes(node.capacityBytes)
                .registeredAtMs(node.registeredAtMs)
                .putEndpoint(node.endpointBytes, 0, node.endpointBytes.length);
        }

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private boolean isDuplicate(final long sessionId, final long correlationId)
    {
        final Session session = sessions.get(sessionId);
        return session != null && correlationId <= session.lastCorrelationId;
    }

    private void recordApplied(
        final long sessionId, final long correlationId, final long streamId, final boolean updatesStream)
    {
        Session session = sessions.get(sessionId);
        if (session == null)
        {
            session = new Session();
            sessions.put(sessionId, session);
        }
        if (session.lastAnswer != null)
        {
            session.earlierAnswers.put(session.lastCorrelationId, session.lastAnswer);
            while (session.earlierAnswers.size() > MAX_SESSION_ANSWERS - 1)
            {
                session.earlierAnswers.pollFirstEntry();
            }
        }
        session.lastCorrelationId = correlationId;
        session.lastAnswer = null;
        if (updatesStream)
        {
            session.lastStreamId = streamId;
        }
    }

    private int writeDuplicateAnswer(
        final long sessionId, final long correlationId, final MutableDirectBuffer out, final int outOffset)
    {
        final Session session = sessions.get(sessionId);
        final Stream stream = streams.get(session.lastStreamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, NULL_ID,
                "correlationId " + correlationId + " is not above the last applied " + session.lastCorrelationId +
                " and that command named no stream");
        }

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private boolean placeReplicas(final long newExtentId)
    {
        int count = 0;
        for (final Node node : nodes.values())
        {
            if (node.state != NodeState.ALIVE)
            {
                continue;
            }
            placementNodeIds[count] = node.nodeId;
            placementCounts[count] = node.extentCount;
            placementFree[count] = freeBytes(node);
            placementDomains[count] = node.failureDomain;
            count++;
        }

        return Placement.place(placementNodeIds, placementFree, placementCounts, placementDomains, count, newExtentId,
            placementOut);
    }

    /** Appends an extent placed by the preceding successful {@link #placeReplicas(long)}. */
    private void appendExtent(final Stream stream)
    {
        final Extent extent = new Extent(nextId++, stream.streamId, placementOut.clone());
        extent.ownerRevision = revision;
        extentsById.put(extent.extentId, extent);
        for (final int nodeId : extent.replicas)
        {
            nodes.get(nodeId).extentCount++;
        }
        stream.extents.add(extent);
        extentCount++;
    }

    private String notEnoughNodesMessage()
    {
        int alive = 0;
        for (final Node node : nodes.values())
        {
            alive += node.state == NodeState.ALIVE ? 1 : 0;
        }
        return "need " + Placement.REPLICA_COUNT + " alive nodes to place an extent, have " + alive + " alive of " +
            nodes.size() + " registered";
    }

    private void verifyStream(final Stream stream)
    {
        final List<Extent> extents = stream.extents;
        Verify.verify(!extents.isEmpty(), "stream has an extent", stream.streamId);
        for (int i = 0, last = extents.size() - 1; i <= last; i++)
        {
            final Extent extent = extents.get(i);
            Verify.verify(extent.streamId == stream.streamId, "extent belongs to its stream", extent.extentId);
            Verify.verify(i == last ? extent.sealedLength == UNSEALED : extent.sealedLength >= 0,
                "only the tail of a stream is unsealed; extent", extent.extentId);
            final int[] r = extent.replicas;
            Verify.verify(r.length == Placement.REPLICA_COUNT && r[0] != r[1] && r[0] != r[2] && r[1] != r[2],
                "replicas of extent are distinct", extent.extentId);
            for (final int nodeId : r)
            {
                Verify.verify(nodes.containsKey(nodeId), "replica node is registered", nodeId);
            }
            Verify.verify(extent.extentId < nextId, "extent id was allocated", extent.extentId);
        }
    }

    /**
     * Checks every invariant of the whole state; cheap enough for tests and after a snapshot restore.
     *
     * @throws IllegalStateException naming the first invariant that does not hold.
     */
    public void verifyInvariants()
    {
        int extents = 0;
        final Map<Integer, Integer> countsByNode = new HashMap<>();
        final TreeSet<Long> ids = new TreeSet<>();
        for (final Stream stream : streams.values())
        {
            verifyStream(stream);
            Verify.verify(streamsByName.get(stream.name) == stream, "stream is indexed by name", stream.streamId);
            Verify.verify(stream.streamId < nextId && ids.add(stream.streamId), "stream id unique", stream.streamId);
            for (final Extent extent : stream.extents)
            {
                Verify.verify(ids.add(extent.extentId), "extent id unique", extent.extentId);
                for (final int nodeId : extent.replicas)
                {
                    countsByNode.merge(nodeId, 1, Integer::sum);
                }
            }
            extents += stream.extents.size();
        }
        Verify.verify(streamsByName.size() == streams.size(), "name index size", streamsByName.size());
        Verify.verify(extents == extentCount, "extentCount matches the streams", extentCount);
        for (final Node node : nodes.values())
        {
            Verify.verify(node.extentCount == countsByNode.getOrDefault(node.nodeId, 0),
                "extent count of node matches its extents", node.nodeId);
            Verify.verify(node.lastHeartbeatMs != NULL_ID || node.state == NodeState.ALIVE,
                "an untracked node is alive", node.nodeId);
            Verify.verify(node.disks.size() <= MAX_DISKS_PER_NODE, "disks per node within limit", node.nodeId);
        }
        verifyExtentReferences();
        verifyGarbage();
        for (final Task task : tasks.values())
        {
            Verify.verify(task.taskId < nextId, "task id was allocated", task.taskId);
            final Extent extent = extentsById.get(task.extentId);
            Verify.verify(extent != null, "task names an existing extent", task.taskId);
            final Node lost = nodes.get(task.lostNodeId);
            Verify.verify(lost != null && (lost.state == NodeState.DEAD || allDisksFailed(lost)),
                "task's lost node is dead or has every disk failed", task.taskId);
            Verify.verify(task.claimNodeId == 0 ? task.claimExpiresAtMs == 0 : nodes.containsKey(task.claimNodeId),
                "task claimed by a registered node", task.taskId);
        }
        int watches = 0;
        for (final TreeMap<Long, Watch> byId : watchesBySession.values())
        {
            watches += byId.size();
        }
        Verify.verify(watches == watchCount && watchCount <= MAX_WATCHES, "watch count", watchCount);
        kv.verifyInvariants(revision);
        partitions.verifyInvariants(revision, nextId, streams::containsKey);
        for (final PartitionTable.Partition partition : partitions.byId())
        {
            Verify.verify(partition.ownerLeaseId() == 0 || kv.lease(partition.ownerLeaseId()) != null,
                "an assigned partition's owner lease is alive", partition.partitionId());
        }
    }

    private void verifyExtentReferences()
    {
        // Every extent's refCount is the number of streams that list it; the id index holds exactly those extents.
        final Map<Long, Integer> references = new HashMap<>();
        for (final Stream stream : streams.values())
        {
            for (final Extent extent : stream.extents)
            {
                references.merge(extent.extentId, 1, Integer::sum);
                Verify.verify(extentsById.get(extent.extentId) == extent, "extent indexed by id", extent.extentId);
                Verify.verify(extent.ownerRevision <= revision, "owner revision not in the future", extent.extentId);
            }
        }
        Verify.verify(references.size() == extentsById.size(), "extent index size", extentsById.size());
        for (final Extent extent : extentsById.values())
        {
            Verify.verify(extent.refCount == references.getOrDefault(extent.extentId, 0),
                "extent refCount matches its references", extent.extentId);
        }
    }

    private void verifyGarbage()
    {
        for (final Garbage g : garbage.values())
        {
            Verify.verify(g.extentId < nextId, "garbage extent id was allocated", g.extentId);
            Verify.verify(!extentsById.containsKey(g.extentId), "a garbage extent is not referenced", g.extentId);
            Verify.verify(!g.confirmedByAll(), "a garbage extent some replica has not confirmed", g.extentId);
            final int[] p = g.pending;
            Verify.verify(p.length == Placement.REPLICA_COUNT &&
                (p[0] == 0 || (p[0] != p[1] && p[0] != p[2])) && (p[1] == 0 || p[1] != p[2]),
                "pending replicas of a garbage extent are distinct", g.extentId);
            for (final int nodeId : p)
            {
                Verify.verify(nodeId == 0 || nodes.containsKey(nodeId), "garbage replica node is registered", nodeId);
            }
        }
    }

    private static int varLength(final DirectBuffer buffer, final int limit, final int end, final int maxLength)
    {
        if (limit + VAR_LENGTH_FIELD_BYTES > end)
        {
            return -1;
        }
        final long length = buffer.getInt(limit, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        if (length > maxLength)
        {
            return -2;
        }
        if (limit + VAR_LENGTH_FIELD_BYTES + length > end)
        {
            return -3;
        }

        return (int)length;
    }

    private static String varLengthError(final String field, final int code, final int maxLength)
    {
        return switch (code)
        {
            case -1 -> "truncated: no length for " + field;
            case -2 -> field + " longer than the limit of " + maxLength + " bytes";
            default -> "truncated: " + field + " extends beyond the message";
        };
    }

    private String decodeUtf8(final byte[] bytes, final int length)
    {
        try
        {
            return utf8Decoder.reset().decode(ByteBuffer.wrap(bytes, 0, length)).toString();
        }
        catch (final CharacterCodingException ex)
        {
            return null;
        }
    }

    private int writeError(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final String message)
    {
        return writeError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, message);
    }

    private int writeError(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final String message)
    {
        final ManagerErrorResponseEncoder encoder = errorResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeRegisterNodeResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final int nodeId,
        final String message)
    {
        final RegisterNodeResponseEncoder encoder = registerNodeResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .nodeId(nodeId);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeStreamError(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final long streamId,
        final String message)
    {
        final StreamInfoResponseEncoder encoder = streamInfoResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .streamId(streamId)
            .ownerRevision(0);
        encoder.extentsCount(0);
        encoder.nodesCount(0);
        encoder.putName(varBytes, 0, 0);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeStreamInfo(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final Stream stream)
    {
        return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.OK, stream, "");
    }

    private int writeStreamInfo(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final Stream stream,
        final String message)
    {
        final StreamInfoResponseEncoder encoder = streamInfoResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .streamId(stream.streamId)
            .ownerRevision(stream.ownerRevision);

        final ArrayList<Extent> extents = stream.extents;
        final int first = Math.max(0, extents.size() - MAX_EXTENTS_PER_RESPONSE);
        final StreamInfoResponseEncoder.ExtentsEncoder extentsEncoder = encoder.extentsCount(extents.size() - first);
        final TreeSet<Integer> nodeIds = new TreeSet<>();
        for (int i = first; i < extents.size(); i++)
        {
            final Extent extent = extents.get(i);
            extentsEncoder.next()
                .extentId(extent.extentId)
                .sealedLength(extent.sealedLength)
                .replica0(extent.replicas[0])
                .replica1(extent.replicas[1])
                .replica2(extent.replicas[2]);
            for (final int nodeId : extent.replicas)
            {
                nodeIds.add(nodeId);
            }
        }

        final StreamInfoResponseEncoder.NodesEncoder nodesEncoder = encoder.nodesCount(nodeIds.size());
        for (final int nodeId : nodeIds)
        {
            final Node node = nodes.get(nodeId);
            nodesEncoder.next().nodeId(nodeId).putEndpoint(node.endpointBytes, 0, node.endpointBytes.length);
        }
        encoder.putName(stream.nameBytes, 0, stream.nameBytes.length);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    @FunctionalInterface
    private interface BytesConsumer
    {
        void accept(byte[] bytes, int length);
    }

    private static void putBounded(final String message, final BytesConsumer consumer)
    {
        // Error messages quote client input, so bound them to keep every answer within its buffer.
        final byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        consumer.accept(bytes, Math.min(bytes.length, MAX_ERROR_MESSAGE_LENGTH_BYTES));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Liveness: heartbeats and cluster timers
    // ---------------------------------------------------------------------------------------------------------------

    private int onHeartbeat(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final NodeHeartbeatRequestDecoder decoder = heartbeatDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final int nodeId = decoder.nodeId();
        final int count = groupCount(buffer, decoder.limit(), end, MAX_DISKS_PER_NODE);
        if (count < 0)
        {
            return writeError(out, outOffset, correlationId, "disks group is truncated or has more than " +
                MAX_DISKS_PER_NODE + " entries");
        }
        final Node node = nodes.get(nodeId);
        final TreeMap<Integer, Disk> disks = new TreeMap<>();
        String invalid = node == null ? "node " + nodeId + " is not registered" : null;
        for (final NodeHeartbeatRequestDecoder.DisksDecoder disk : decoder.disks())
        {
            final Disk d = new Disk(disk.diskId());
            d.capacityBytes = disk.capacityBytes();
            d.freeBytes = disk.freeBytes();
            final short stateRaw = disk.stateRaw();
            d.state = DiskState.get(stateRaw);
            if (d.state == DiskState.NULL_VAL || d.capacityBytes < 0 || d.freeBytes < 0 ||
                disks.put(d.diskId, d) != null)
            {
                invalid = "disk " + d.diskId + " is duplicated or has an invalid state, capacity or free space";
            }
        }
        if (invalid != null)
        {
            return writeHeartbeatResponse(out, outOffset, correlationId,
                node == null ? ManagerStatus.NO_SUCH_NODE : ManagerStatus.BAD_REQUEST, NodeState.DEAD, invalid);
        }
        final boolean wasAllFailed = allDisksFailed(node);
        node.disks.clear();
        node.disks.putAll(disks);
        node.lastHeartbeatMs = clusterTimeMs;
        final boolean voided = markAlive(node);
        final boolean allFailed = allDisksFailed(node);
        if (allFailed && (!wasAllFailed || voided))
        {
            // A live node whose every disk failed holds no readable replica: recover its extents as if it were dead.
            // (The manager does not know which disk holds which replica, so one failed disk of several creates none.)
            revision++;
            createTasks(node, clusterTimeMs);
        }
        else if (wasAllFailed && !allFailed)
        {
            // Its disks serve again (the node restarted and recovered them): like a node that came back.
            revision++;
            tasks.values().removeIf(task -> task.lostNodeId == node.nodeId);
        }

        return writeHeartbeatResponse(out, outOffset, correlationId, ManagerStatus.OK, node.state, "");
    }

    /** @return true when the node was not ALIVE (its tasks were voided). */
    private boolean markAlive(final Node node)
    {
        if (node.state == NodeState.ALIVE)
        {
            return false;
        }
        revision++;
        node.state = NodeState.ALIVE;
        // Its replicas are reachable again: work created for its loss is void.
        tasks.values().removeIf(task -> task.lostNodeId == node.nodeId);
        return true;
    }

    private static boolean allDisksFailed(final Node node)
    {
        if (node.disks.isEmpty())
        {
            return false;
        }
        for (final Disk disk : node.disks.values())
        {
            if (disk.state != DiskState.FAILED)
            {
                return false;
            }
        }
        return true;
    }

    private int writeHeartbeatResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final NodeState state,
        final String message)
    {
        final NodeHeartbeatResponseEncoder encoder = heartbeatResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .nodeState(state);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    /**
     * @return cluster time of the next lease expiry or node liveness transition; {@link Long#MAX_VALUE} if none. The
     * service keeps a cluster timer armed for it and calls {@link #onTimer(long)} when it fires.
     */
    public long nextDeadlineMs()
    {
        long deadline = kv.nextExpiryMs();
        for (final Node node : nodes.values())
        {
            if (node.lastHeartbeatMs == NULL_ID || node.state == NodeState.DEAD)
            {
                continue;
            }
            final long due = node.lastHeartbeatMs + (node.state == NodeState.ALIVE ? suspectTimeoutMs : deadTimeoutMs);
            deadline = Math.min(deadline, due);
        }
        return deadline;
    }

    /**
     * Applies everything due by {@code clusterTimeMs}: expired leases are revoked (their keys deleted, one revision
     * per lease) and nodes silent for too long become SUSPECT or DEAD (DEAD creates recovery tasks). Called from a
     * cluster timer event, so its time comes from the log.
     *
     * @param clusterTimeMs the timer event's cluster time.
     */
    public void onTimer(final long clusterTimeMs)
    {
        Verify.verify(!restoring, "timer while a snapshot restore is incomplete");
        KvStore.Lease expired;
        while ((expired = kv.firstExpired(clusterTimeMs)) != null)
        {
            final KvStore.Lease lease = expired;
            applyRevision(() -> kv.revoke(revision + 1, lease));
            Verify.verify(kv.lease(lease.leaseId()) == null, "expired lease removed", lease.leaseId());
            unassignPartitionsOf(lease.leaseId());
        }
        for (final Node node : nodes.values())
        {
            if (node.lastHeartbeatMs == NULL_ID || node.state == NodeState.DEAD)
            {
                continue;
            }
            final long silentMs = clusterTimeMs - node.lastHeartbeatMs;
            if (silentMs >= deadTimeoutMs)
            {
                markDead(node, clusterTimeMs);
            }
            else if (silentMs >= suspectTimeoutMs && node.state == NodeState.ALIVE)
            {
                revision++;
                node.state = NodeState.SUSPECT;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Recovery task claims: a healthy node claims a task for a lease, reports progress (extending it) and completes
    // it by swapping the lost replica for the one it copied. Claims expire by cluster time, so an abandoned claim is
    // taken over by the next claimer; each claim bumps the task's epoch, which fences the old claimer.
    // ---------------------------------------------------------------------------------------------------------------

    private int onTaskCommand(
        final long sessionId,
        final int templateId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final long correlationId = buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN);
        if (isDuplicate(sessionId, correlationId))
        {
            return writeKvDuplicate(sessionId, correlationId, out, outOffset);
        }
        final int length = switch (templateId)
        {
            case TaskClaimRequestDecoder.TEMPLATE_ID ->
                claimTask(buffer, bodyOffset, blockLength, version, clusterTimeMs, out, outOffset);
            case TaskProgressRequestDecoder.TEMPLATE_ID ->
                progressTask(buffer, bodyOffset, blockLength, version, clusterTimeMs, out, outOffset);
            case TaskReleaseRequestDecoder.TEMPLATE_ID ->
                releaseTask(buffer, bodyOffset, blockLength, version, out, outOffset);
            default -> completeTask(buffer, bodyOffset, blockLength, version, out, outOffset);
        };
        final ManagerStatus status = taskClaimResponseDecoder.wrap(out, outOffset + HEADER_LENGTH,
            TaskClaimResponseDecoder.BLOCK_LENGTH, TaskClaimResponseDecoder.SCHEMA_VERSION).status();
        if (status == ManagerStatus.OK)
        {
            recordApplied(sessionId, correlationId, NULL_ID, false);
            final byte[] answer = new byte[length];
            out.getBytes(outOffset, answer);
            sessions.get(sessionId).lastAnswer = answer;
        }
        return length;
    }

    private int claimTask(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final TaskClaimRequestDecoder d = taskClaimDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final int nodeId = d.nodeId();
        final long taskId = d.taskId();
        final long leaseMs = d.leaseMs();
        if (leaseMs < MIN_TASK_LEASE_MS || leaseMs > MAX_TASK_LEASE_MS)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST,
                "leaseMs " + leaseMs + " outside [" + MIN_TASK_LEASE_MS + ", " + MAX_TASK_LEASE_MS + "]");
        }
        final Node node = nodes.get(nodeId);
        if (node == null || node.state != NodeState.ALIVE)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_NODE,
                "node " + nodeId + " is " + (node == null ? "not registered" : node.state) + "; only ALIVE nodes claim");
        }
        int held = 0;
        for (final Task task : tasks.values())
        {
            held += task.claimNodeId == nodeId && task.claimExpiresAtMs > clusterTimeMs && task.taskId != taskId ? 1 : 0;
        }
        if (held >= MAX_TASK_CLAIMS_PER_NODE)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.TOO_MANY_CLAIMS,
                "node " + nodeId + " holds " + held + " claims, the most allowed (MAX_TASK_CLAIMS_PER_NODE)");
        }
        Task chosen = null;
        if (taskId != NULL_ID)
        {
            final Task task = tasks.get(taskId);
            chosen = task != null && claimable(task, nodeId, clusterTimeMs) ? task : null;
        }
        else
        {
            for (final Task task : tasks.values())
            {
                if (task.claimNodeId != nodeId && claimable(task, nodeId, clusterTimeMs))
                {
                    chosen = task;
                    break;
                }
            }
        }
        if (chosen == null)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_TASK,
                taskId == NULL_ID ? "no claimable task" : "task " + taskId + " does not exist or is claimed");
        }
        if (chosen.claimNodeId != nodeId)
        {
            chosen.progressBytes = 0; // a new claimer starts its copy afresh
        }
        chosen.claimNodeId = nodeId;
        chosen.claimEpoch++;
        chosen.claimExpiresAtMs = clusterTimeMs + leaseMs;
        return writeTaskResponse(out, outOffset, correlationId, chosen);
    }

    private static boolean claimable(final Task task, final int nodeId, final long clusterTimeMs)
    {
        return task.claimNodeId == 0 || task.claimNodeId == nodeId || task.claimExpiresAtMs <= clusterTimeMs;
    }

    private int progressTask(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final TaskProgressRequestDecoder d = taskProgressDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final Task task = tasks.get(d.taskId());
        final String refusal = claimRefusal(task, d.taskId(), d.nodeId(), d.claimEpoch());
        if (refusal != null)
        {
            return writeTaskError(out, outOffset, correlationId,
                task == null ? ManagerStatus.NO_SUCH_TASK : ManagerStatus.CLAIM_LOST, refusal);
        }
        final long leaseMs = d.leaseMs();
        final long progressBytes = d.progressBytes();
        if (leaseMs < MIN_TASK_LEASE_MS || leaseMs > MAX_TASK_LEASE_MS || progressBytes < 0)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST,
                "leaseMs " + leaseMs + " outside [" + MIN_TASK_LEASE_MS + ", " + MAX_TASK_LEASE_MS +
                "] or negative progress " + progressBytes);
        }
        task.progressBytes = Math.max(task.progressBytes, progressBytes);
        task.claimExpiresAtMs = clusterTimeMs + leaseMs;
        return writeTaskResponse(out, outOffset, correlationId, task);
    }

    /** The claimer gives its claim up at once (it abandoned the task): any node may claim it now. */
    private int releaseTask(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final TaskReleaseRequestDecoder d = taskReleaseDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final Task task = tasks.get(d.taskId());
        final String refusal = claimRefusal(task, d.taskId(), d.nodeId(), d.claimEpoch());
        if (refusal != null)
        {
            return writeTaskError(out, outOffset, correlationId,
                task == null ? ManagerStatus.NO_SUCH_TASK : ManagerStatus.CLAIM_LOST, refusal);
        }
        // The epoch stays: the next claim bumps it, which fences this claimer if it ever comes back.
        task.claimNodeId = 0;
        task.claimExpiresAtMs = 0;
        task.progressBytes = 0;
        return writeTaskResponse(out, outOffset, correlationId, task);
    }

    /** An expired claim that nobody took over (same epoch) is still honoured: only a newer claim fences it. */
    private static String claimRefusal(final Task task, final long taskId, final int nodeId, final long claimEpoch)
    {
        if (task == null)
        {
            return "task " + taskId + " does not exist (completed, or voided by its node coming back)";
        }
        if (task.claimNodeId != nodeId || task.claimEpoch != claimEpoch)
        {
            return "task " + taskId + " is claimed by node " + task.claimNodeId + " epoch " + task.claimEpoch +
                ", not node " + nodeId + " epoch " + claimEpoch;
        }
        return null;
    }

    private int completeTask(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final TaskCompleteRequestDecoder d = taskCompleteDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final Task task = tasks.get(d.taskId());
        final String refusal = claimRefusal(task, d.taskId(), d.nodeId(), d.claimEpoch());
        if (refusal != null)
        {
            return writeTaskError(out, outOffset, correlationId,
                task == null ? ManagerStatus.NO_SUCH_TASK : ManagerStatus.CLAIM_LOST, refusal);
        }
        final Extent extent = extentsById.get(task.extentId);
        final int lostIndex = extent == null ? -1 : replicaIndex(extent, task.lostNodeId);
        if (extent == null || extent.refCount <= 0 || lostIndex < 0 || extent.ownerRevision != d.ownerRevision() ||
            extent.sealedLength == UNSEALED)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.STALE_EXTENT, "extent " + task.extentId +
                (extent == null ? " is gone" : " has owner revision " + extent.ownerRevision + " (copy made from " +
                d.ownerRevision() + "), refCount " + extent.refCount + ", sealed length " + extent.sealedLength +
                (lostIndex < 0 ? ", and no longer lists node " + task.lostNodeId : "")));
        }
        final int newNodeId = d.newNodeId();
        final Node newNode = nodes.get(newNodeId);
        if (newNode == null || newNode.state != NodeState.ALIVE || replicaIndex(extent, newNodeId) >= 0)
        {
            return writeTaskError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST,
                "new replica node " + newNodeId + " must be ALIVE and not already hold extent " + extent.extentId);
        }
        revision++;
        extent.replicas[lostIndex] = newNodeId;
        extent.ownerRevision = revision;
        nodes.get(task.lostNodeId).extentCount--;
        newNode.extentCount++;
        tasks.remove(task.taskId);
        return writeTaskResponse(out, outOffset, correlationId, task);
    }

    private static int replicaIndex(final Extent extent, final int nodeId)
    {
        for (int i = 0; i < extent.replicas.length; i++)
        {
            if (extent.replicas[i] == nodeId)
            {
                return i;
            }
        }
        return -1;
    }

    private int writeTaskResponse(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final Task task)
    {
        final Extent extent = extentsById.get(task.extentId);
        final TaskClaimResponseEncoder encoder = taskClaimResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(ManagerStatus.OK)
            .taskId(task.taskId)
            .kind(task.kind)
            .extentId(task.extentId)
            .streamId(task.streamId)
            .lostNodeId(task.lostNodeId)
            .sealedLength(extent.sealedLength)
            .ownerRevision(extent.ownerRevision)
            .claimEpoch(task.claimEpoch)
            .claimExpiresAtMs(task.claimExpiresAtMs)
            .progressBytes(task.progressBytes);
        encoder.putErrorMessage(new byte[0], 0, 0);
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeTaskError(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final String message)
    {
        final TaskClaimResponseEncoder encoder = taskClaimResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .taskId(NULL_ID)
            .kind(TaskKind.SEAL)
            .extentId(NULL_ID)
            .streamId(NULL_ID)
            .lostNodeId(0)
            .sealedLength(UNSEALED)
            .ownerRevision(0)
            .claimEpoch(0)
            .claimExpiresAtMs(0)
            .progressBytes(0);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private void markDead(final Node node, final long clusterTimeMs)
    {
        revision++;
        node.state = NodeState.DEAD;
        createTasks(node, clusterTimeMs);
    }

    /** One task per replica the node held, unless one is open already (its disks failed before it died). */
    private void createTasks(final Node node, final long clusterTimeMs)
    {
        final org.agrona.collections.LongHashSet open = new org.agrona.collections.LongHashSet();
        for (final Task task : tasks.values())
        {
            if (task.lostNodeId == node.nodeId)
            {
                open.add(task.extentId);
            }
        }
        for (final Extent extent : extentsById.values())
        {
            for (final int replica : extent.replicas)
            {
                if (replica == node.nodeId && !open.contains(extent.extentId))
                {
                    final TaskKind kind = extent.sealedLength == UNSEALED ? TaskKind.SEAL : TaskKind.RECOVER;
                    final Task task = new Task(nextId++, kind, extent.extentId, extent.streamId, node.nodeId,
                        clusterTimeMs, extent.sealedLength);
                    tasks.put(task.taskId, task);
                }
            }
        }
    }

    private static long freeBytes(final Node node)
    {
        if (node.disks.isEmpty())
        {
            return node.capacityBytes; // nothing reported yet: the registered capacity
        }
        long free = 0;
        for (final Disk disk : node.disks.values())
        {
            free += disk.state == DiskState.OK ? disk.freeBytes : 0;
        }
        return free;
    }

    /** @return the group's count when its header and fixed blocks fit before end and the count is within max. */
    private static int groupCount(final DirectBuffer buffer, final int limit, final int end, final int max)
    {
        if (limit + GROUP_HEADER_BYTES > end)
        {
            return -1;
        }
        final int blockLength = buffer.getShort(limit, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int count = buffer.getShort(limit + 2, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (count > max || limit + GROUP_HEADER_BYTES + (long)count * blockLength > end)
        {
            return -1;
        }
        return count;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Listings
    // ---------------------------------------------------------------------------------------------------------------

    private int onList(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final ListRequestDecoder decoder = listDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final ListKind kind = decoder.kind();
        final long fromId = decoder.fromId();
        final int requested = decoder.maxCount();
        final int maxCount = requested <= 0 ? MAX_LIST_RESULTS : Math.min(requested, MAX_LIST_RESULTS);
        return switch (kind)
        {
            case NODES -> writeNodeList(out, outOffset, correlationId);
            case DISKS -> writeDiskList(out, outOffset, correlationId);
            case STREAMS -> writeStreamList(out, outOffset, correlationId, fromId, maxCount);
            case EXTENTS -> writeExtentList(out, outOffset, correlationId, fromId, maxCount);
            case TASKS -> writeTaskList(out, outOffset, correlationId, fromId, maxCount);
            case PARTITIONS -> writePartitionList(out, outOffset, correlationId, fromId, maxCount);
            case GARBAGE -> writeGarbageList(out, outOffset, correlationId, fromId, maxCount);
            default -> writeError(out, outOffset, correlationId, "unsupported list kind " + kind);
        };
    }

    private int writeNodeList(final MutableDirectBuffer out, final int outOffset, final long correlationId)
    {
        final NodeListResponseEncoder encoder = nodeListEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId);
        final NodeListResponseEncoder.NodesEncoder group = encoder.nodesCount(nodes.size());
        for (final Node node : nodes.values())
        {
            group.next()
                .nodeId(node.nodeId)
                .state(node.state)
                .diskCount(node.diskCount)
                .capacityBytes(node.capacityBytes)
                .freeBytes(freeBytes(node))
                .extentCount(node.extentCount)
                .registeredAtMs(node.registeredAtMs)
                .lastHeartbeatMs(node.lastHeartbeatMs)
                .putEndpoint(node.endpointBytes, 0, node.endpointBytes.length)
                .putFailureDomain(node.failureDomainBytes, 0, node.failureDomainBytes.length);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeDiskList(final MutableDirectBuffer out, final int outOffset, final long correlationId)
    {
        int count = 0;
        for (final Node node : nodes.values())
        {
            count += node.disks.size();
        }
        final DiskListResponseEncoder encoder = diskListEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId);
        final DiskListResponseEncoder.DisksEncoder group = encoder.disksCount(count);
        for (final Node node : nodes.values())
        {
            for (final Disk disk : node.disks.values())
            {
                group.next().nodeId(node.nodeId).diskId(disk.diskId).capacityBytes(disk.capacityBytes)
                    .freeBytes(disk.freeBytes).state(disk.state);
            }
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeStreamList(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final long fromId,
        final int maxCount)
    {
        final ArrayList<Stream> page = new ArrayList<>();
        long nextFromId = NULL_ID;
        int bytes = 0;
        for (final Stream stream : streams.tailMap(fromId, true).values())
        {
            final int length = StreamListResponseEncoder.StreamsEncoder.sbeBlockLength() + VAR_LENGTH_FIELD_BYTES +
                stream.nameBytes.length;
            if (page.size() == maxCount || bytes + length > ANSWER_BUDGET_BYTES)
            {
                nextFromId = stream.streamId;
                break;
            }
            page.add(stream);
            bytes += length;
        }
        final StreamListResponseEncoder encoder = streamListEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .nextFromId(nextFromId);
        final StreamListResponseEncoder.StreamsEncoder group = encoder.streamsCount(page.size());
        for (final Stream stream : page)
        {
            group.next().streamId(stream.streamId).extentCount(stream.extents.size())
                .tailExtentId(stream.tail().extentId).putName(stream.nameBytes, 0, stream.nameBytes.length);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeExtentList(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final long fromId,
        final int maxCount)
    {
        final ArrayList<Extent> page = new ArrayList<>();
        long nextFromId = NULL_ID;
        for (final Extent extent : extentsById.tailMap(fromId, true).values())
        {
            if (page.size() == maxCount)
            {
                nextFromId = extent.extentId;
                break;
            }
            page.add(extent);
        }
        final ExtentListResponseEncoder encoder = extentListEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .nextFromId(nextFromId);
        final ExtentListResponseEncoder.ExtentsEncoder group = encoder.extentsCount(page.size());
        for (final Extent extent : page)
        {
            group.next().extentId(extent.extentId).streamId(extent.streamId).sealedLength(extent.sealedLength)
                .replica0(extent.replicas[0]).replica1(extent.replicas[1]).replica2(extent.replicas[2])
                .refCount(extent.refCount).ownerRevision(extent.ownerRevision);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeGarbageList(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final long fromId,
        final int maxCount)
    {
        final ArrayList<Garbage> page = new ArrayList<>();
        long nextFromId = NULL_ID;
        for (final Garbage g : garbage.tailMap(fromId, true).values())
        {
            if (page.size() == maxCount)
            {
                nextFromId = g.extentId;
                break;
            }
            page.add(g);
        }
        final ExtentListResponseEncoder encoder = extentListEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .nextFromId(nextFromId);
        final ExtentListResponseEncoder.ExtentsEncoder group = encoder.extentsCount(page.size());
        for (final Garbage g : page)
        {
            group.next().extentId(g.extentId).streamId(g.streamId).sealedLength(g.sealedLength)
                .replica0(g.pending[0]).replica1(g.pending[1]).replica2(g.pending[2])
                .refCount(0).ownerRevision(0);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeTaskList(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final long fromId,
        final int maxCount)
    {
        final ArrayList<Task> page = new ArrayList<>();
        long nextFromId = NULL_ID;
        for (final Task task : tasks.tailMap(fromId, true).values())
        {
            if (page.size() == maxCount)
            {
                nextFromId = task.taskId;
                break;
            }
            page.add(task);
        }
        final TaskListResponseEncoder encoder = taskListEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .nextFromId(nextFromId);
        final TaskListResponseEncoder.TasksEncoder group = encoder.tasksCount(page.size());
        for (final Task task : page)
        {
            group.next().taskId(task.taskId).kind(task.kind).extentId(task.extentId).streamId(task.streamId)
                .lostNodeId(task.lostNodeId).createdAtMs(task.createdAtMs).sealedLength(task.sealedLength)
                .claimNodeId(task.claimNodeId).claimEpoch(task.claimEpoch).claimExpiresAtMs(task.claimExpiresAtMs)
                .progressBytes(task.progressBytes);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Partition table (admin role)
    // ---------------------------------------------------------------------------------------------------------------

    private int onPartitionCommand(
        final long sessionId,
        final int templateId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final long correlationId = buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN);
        if (sessionRole(sessionId) != SessionRole.ADMIN)
        {
            return writePartitionResponse(out, outOffset, correlationId, ManagerStatus.UNAUTHORISED, NULL_ID, 0, NULL_ID,
                "partition table changes need the " + ManagerAuthenticator.ROLE_ADMIN + " role");
        }
        if (isDuplicate(sessionId, correlationId))
        {
            return writeKvDuplicate(sessionId, correlationId, out, outOffset);
        }
        final int length;
        try
        {
            length = switch (templateId)
            {
                case PartitionCreateRequestDecoder.TEMPLATE_ID ->
                    createPartition(buffer, bodyOffset, blockLength, version, end, out, outOffset);
                case PartitionSplitRequestDecoder.TEMPLATE_ID ->
                    splitPartition(buffer, bodyOffset, blockLength, version, end, out, outOffset);
                case PartitionMergeRequestDecoder.TEMPLATE_ID ->
                    mergePartitions(buffer, bodyOffset, blockLength, version, out, outOffset);
                default -> assignPartition(buffer, bodyOffset, blockLength, version, out, outOffset);
            };
        }
        catch (final KvRefusal refusal)
        {
            return writePartitionResponse(out, outOffset, correlationId, refusal.status, NULL_ID, 0, NULL_ID,
                refusal.getMessage());
        }
        recordApplied(sessionId, correlationId, NULL_ID, false);
        final byte[] answer = new byte[length];
        out.getBytes(outOffset, answer);
        sessions.get(sessionId).lastAnswer = answer;
        return length;
    }

    private int createPartition(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final int end,
        final MutableDirectBuffer out, final int outOffset)
    {
        final PartitionCreateRequestDecoder d = partitionCreateDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final long logStreamId = d.logStreamId();
        final long tableStreamId = d.tableStreamId();
        final long metaStreamId = d.metaStreamId();
        final byte[] startKey = PartitionTable.bytes(readKey(buffer, d.limit(), end, true));
        d.skipStartKey();
        final byte[] endKey = PartitionTable.bytes(readKey(buffer, d.limit(), end, true));
        d.skipEndKey();
        requireStreams(logStreamId, tableStreamId, metaStreamId);
        final String refused = partitions.checkCreate(startKey, endKey);
        if (refused != null)
        {
            throw new KvRefusal(ManagerStatus.RANGE_CONFLICT, refused);
        }
        revision++;
        final PartitionTable.Partition partition = partitions.create(nextId++, startKey, endKey, revision);
        PartitionTable.streams(partition, logStreamId, tableStreamId, metaStreamId);
        return writePartitionResponse(out, outOffset, correlationId, ManagerStatus.OK, partition.partitionId(),
            partition.version(), NULL_ID, "");
    }

    private int splitPartition(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final int end,
        final MutableDirectBuffer out, final int outOffset)
    {
        final PartitionSplitRequestDecoder d = partitionSplitDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final long partitionId = d.partitionId();
        final long expectedVersion = d.expectedVersion();
        final long logStreamId = d.logStreamId();
        final long tableStreamId = d.tableStreamId();
        final long metaStreamId = d.metaStreamId();
        final byte[] splitKey = PartitionTable.bytes(readKey(buffer, d.limit(), end, false));
        d.skipSplitKey();
        final PartitionTable.Partition left = requirePartition(partitionId, expectedVersion);
        requireStreams(logStreamId, tableStreamId, metaStreamId);
        final String refused = partitions.checkSplit(left, splitKey);
        if (refused != null)
        {
            throw new KvRefusal(ManagerStatus.RANGE_CONFLICT, refused);
        }
        revision++;
        final PartitionTable.Partition right = partitions.split(left, splitKey, nextId++, revision);
        PartitionTable.streams(right, logStreamId, tableStreamId, metaStreamId);
        return writePartitionResponse(out, outOffset, correlationId, ManagerStatus.OK, left.partitionId(),
            left.version(), right.partitionId(), "");
    }

    private int mergePartitions(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version,
        final MutableDirectBuffer out, final int outOffset)
    {
        final PartitionMergeRequestDecoder d = partitionMergeDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final PartitionTable.Partition left = requirePartition(d.leftPartitionId(), d.leftExpectedVersion());
        final PartitionTable.Partition right = requirePartition(d.rightPartitionId(), d.rightExpectedVersion());
        final String refused = PartitionTable.checkMerge(left, right);
        if (refused != null)
        {
            throw new KvRefusal(ManagerStatus.RANGE_CONFLICT, refused);
        }
        revision++;
        partitions.merge(left, right, revision);
        return writePartitionResponse(out, outOffset, correlationId, ManagerStatus.OK, left.partitionId(),
            left.version(), NULL_ID, "");
    }

    private int assignPartition(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version,
        final MutableDirectBuffer out, final int outOffset)
    {
        final PartitionAssignRequestDecoder d = partitionAssignDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = d.correlationId();
        final long partitionId = d.partitionId();
        final long expectedVersion = d.expectedVersion();
        final int ownerId = d.ownerId();
        final long ownerLeaseId = d.ownerLeaseId();
        final PartitionTable.Partition partition = requirePartition(partitionId, expectedVersion);
        if (ownerId < 0 || (ownerId == 0 && ownerLeaseId != 0))
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST, "ownerId must be >= 0, and an unassigned partition has " +
                "ownerLeaseId 0");
        }
        if (ownerLeaseId != 0 && kv.lease(ownerLeaseId) == null)
        {
            throw new KvRefusal(ManagerStatus.NO_SUCH_LEASE, "no lease " + ownerLeaseId);
        }
        revision++;
        PartitionTable.assign(partition, ownerId, ownerLeaseId, revision);
        return writePartitionResponse(out, outOffset, correlationId, ManagerStatus.OK, partitionId,
            partition.version(), NULL_ID, "");
    }

    /**
     * A partition's owner holds it only while the owner's lease lives: when the lease ends (expiry or revoke) every
     * partition it owned becomes unassigned, all of them at one new revision, which becomes their version (so a CAS
     * by an old version fails). A scan of the table: leases end rarely, and the table is bounded (MAX_PARTITIONS).
     */
    private void unassignPartitionsOf(final long leaseId)
    {
        boolean changed = false;
        for (final PartitionTable.Partition partition : partitions.byId())
        {
            if (partition.ownerLeaseId() == leaseId)
            {
                if (!changed)
                {
                    revision++;
                    changed = true;
                }
                PartitionTable.assign(partition, 0, 0, revision);
            }
        }
    }

    private PartitionTable.Partition requirePartition(final long partitionId, final long expectedVersion)
    {
        final PartitionTable.Partition partition = partitions.get(partitionId);
        if (partition == null)
        {
            throw new KvRefusal(ManagerStatus.NO_SUCH_PARTITION, "no partition " + partitionId);
        }
        if (partition.version() != expectedVersion)
        {
            throw new KvRefusal(ManagerStatus.VERSION_MISMATCH, "partition " + partitionId + " is at version " +
                partition.version() + ", not " + expectedVersion);
        }
        return partition;
    }

    private void requireStreams(final long logStreamId, final long tableStreamId, final long metaStreamId)
    {
        for (final long streamId : new long[]{ logStreamId, tableStreamId, metaStreamId })
        {
            if (streamId != 0 && !streams.containsKey(streamId))
            {
                throw new KvRefusal(ManagerStatus.NO_SUCH_STREAM, "no stream " + streamId);
            }
        }
    }

    private int writePartitionResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final long partitionId,
        final long version,
        final long newPartitionId,
        final String message)
    {
        final PartitionResponseEncoder encoder = partitionResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .partitionId(partitionId)
            .version(version)
            .newPartitionId(newPartitionId)
            .revision(revision);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writePartitionList(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final long fromId,
        final int maxCount)
    {
        final ArrayList<PartitionTable.Partition> page = new ArrayList<>();
        long nextFromId = NULL_ID;
        int bytes = 0;
        for (final PartitionTable.Partition p : partitions.tail(fromId))
        {
            final int entryBytes = PartitionListResponseEncoder.PartitionsEncoder.sbeBlockLength() +
                2 * VAR_LENGTH_FIELD_BYTES + p.startKey().length + p.endKey().length;
            if (page.size() == maxCount || bytes + entryBytes > ANSWER_BUDGET_BYTES)
            {
                nextFromId = p.partitionId();
                break;
            }
            bytes += entryBytes;
            page.add(p);
        }
        final PartitionListResponseEncoder encoder = partitionListEncoder.wrapAndApplyHeader(out, outOffset,
            headerEncoder).correlationId(correlationId).nextFromId(nextFromId);
        final PartitionListResponseEncoder.PartitionsEncoder group = encoder.partitionsCount(page.size());
        for (final PartitionTable.Partition p : page)
        {
            group.next().partitionId(p.partitionId()).version(p.version()).ownerId(p.ownerId())
                .ownerLeaseId(p.ownerLeaseId()).logStreamId(p.logStreamId()).tableStreamId(p.tableStreamId())
                .metaStreamId(p.metaStreamId()).putStartKey(p.startKey(), 0, p.startKey().length)
                .putEndKey(p.endKey(), 0, p.endKey().length);
        }
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int snapshotPartitions(final SnapshotSink sink)
    {
        for (final PartitionTable.Partition p : partitions.byId())
        {
            partitionEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .partitionId(p.partitionId()).version(p.version()).ownerId(p.ownerId()).ownerLeaseId(p.ownerLeaseId())
                .logStreamId(p.logStreamId()).tableStreamId(p.tableStreamId()).metaStreamId(p.metaStreamId())
                .putStartKey(p.startKey(), 0, p.startKey().length).putEndKey(p.endKey(), 0, p.endKey().length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + partitionEntryEncoder.encodedLength());
        }
        return partitions.size();
    }

    private void restorePartition(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final PartitionEntryDecoder d = partitionEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long partitionId = d.partitionId();
        final long partitionVersion = d.version();
        final int ownerId = d.ownerId();
        final long ownerLeaseId = d.ownerLeaseId();
        final long logStreamId = d.logStreamId();
        final long tableStreamId = d.tableStreamId();
        final long metaStreamId = d.metaStreamId();
        final byte[] startKey = new byte[d.startKeyLength()];
        d.getStartKey(startKey, 0, startKey.length);
        final byte[] endKey = new byte[d.endKeyLength()];
        d.getEndKey(endKey, 0, endKey.length);
        Verify.verify(partitions.get(partitionId) == null, "snapshot partition is unique", partitionId);
        final PartitionTable.Partition p = partitions.restore(partitionId, startKey, endKey, partitionVersion);
        PartitionTable.assign(p, ownerId, ownerLeaseId, partitionVersion);
        PartitionTable.streams(p, logStreamId, tableStreamId, metaStreamId);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Key/value, leases, watches
    // ---------------------------------------------------------------------------------------------------------------

    /** A KV command whose request failed validation: answered with this status and message, nothing applied. */
    private static final class KvRefusal extends RuntimeException
    {
        private static final long serialVersionUID = 1L;
        final ManagerStatus status;

        KvRefusal(final ManagerStatus status, final String message)
        {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private int onKvCommand(
        final long sessionId,
        final int templateId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final long correlationId = buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN);
        final boolean write = templateId != KvRangeRequestDecoder.TEMPLATE_ID &&
            templateId != WatchCreateRequestDecoder.TEMPLATE_ID && templateId != WatchCancelRequestDecoder.TEMPLATE_ID;
        final boolean lease = templateId == LeaseGrantRequestDecoder.TEMPLATE_ID ||
            templateId == LeaseRevokeRequestDecoder.TEMPLATE_ID || templateId == LeaseKeepAliveRequestDecoder.TEMPLATE_ID;
        final boolean watch = templateId == WatchCreateRequestDecoder.TEMPLATE_ID ||
            templateId == WatchCancelRequestDecoder.TEMPLATE_ID;
        try
        {
            final Runnable parsed = switch (templateId)
            {
                case KvPutRequestDecoder.TEMPLATE_ID -> parsePut(buffer, bodyOffset, blockLength, version, end);
                case KvDeleteRequestDecoder.TEMPLATE_ID -> parseDelete(buffer, bodyOffset, blockLength, version, end);
                case KvTxnRequestDecoder.TEMPLATE_ID -> parseTxn(buffer, bodyOffset, blockLength, version, end);
                case KvRangeRequestDecoder.TEMPLATE_ID -> parseRange(buffer, bodyOffset, blockLength, version, end);
                case LeaseGrantRequestDecoder.TEMPLATE_ID -> parseGrant(buffer, bodyOffset, blockLength, version,
                    clusterTimeMs);
                case LeaseRevokeRequestDecoder.TEMPLATE_ID -> parseRevoke(buffer, bodyOffset, blockLength, version);
                case LeaseKeepAliveRequestDecoder.TEMPLATE_ID -> parseKeepAlive(buffer, bodyOffset, blockLength, version,
                    clusterTimeMs);
                case WatchCreateRequestDecoder.TEMPLATE_ID -> parseWatchCreate(
                    sessionId, buffer, bodyOffset, blockLength, version, end);
                default -> parseWatchCancel(sessionId, buffer, bodyOffset, blockLength, version);
            };
            if (write && isDuplicate(sessionId, correlationId))
            {
                return writeKvDuplicate(sessionId, correlationId, out, outOffset);
            }
            kvOut = out;
            kvOutOffset = outOffset;
            kvCorrelationId = correlationId;
            parsed.run();
            final int length = kvAnswerLength;
            if (write)
            {
                recordApplied(sessionId, correlationId, NULL_ID, false);
                final byte[] answer = new byte[length];
                out.getBytes(outOffset, answer);
                sessions.get(sessionId).lastAnswer = answer;
            }
            return length;
        }
        catch (final KvRefusal refusal)
        {
            return lease ? writeLeaseResponse(out, outOffset, correlationId, refusal.status, 0, 0, 0, refusal.getMessage()) :
                watch ? writeWatchResponse(out, outOffset, correlationId, refusal.status, NULL_ID, refusal.getMessage()) :
                writeKvResponse(out, outOffset, correlationId, refusal.status, false, 0, List.of(), false,
                refusal.getMessage());
        }
        finally
        {
            kvOut = null;
        }
    }

    // Scratch lists of a range, reused: one command is applied at a time and its answer is encoded before the next.
    private final ArrayList<KvView> rangeResults = new ArrayList<>();
    private final ArrayList<KvStore.KeyValue> rangeFound = new ArrayList<>();

    // The parse step validates everything and returns the apply step; the answer goes to these while applying.
    private MutableDirectBuffer kvOut;
    private int kvOutOffset;
    private long kvCorrelationId;
    private int kvAnswerLength;

    private int writeKvDuplicate(
        final long sessionId, final long correlationId, final MutableDirectBuffer out, final int outOffset)
    {
        final Session session = sessions.get(sessionId);
        final byte[] answer = correlationId == session.lastCorrelationId ? session.lastAnswer :
            session.earlierAnswers.get(correlationId);
        if (answer != null)
        {
            out.putBytes(outOffset, answer);
            return answer.length;
        }
        return writeError(out, outOffset, correlationId, ManagerStatus.STALE_REQUEST, "correlationId " + correlationId +
            " is not above the last applied " + session.lastCorrelationId + " and its answer is no longer kept");
    }

    private String readKey(final DirectBuffer buffer, final int limit, final int end, final boolean allowEmpty)
    {
        final int length = varLength(buffer, limit, end, KvStore.MAX_KEY_LENGTH_BYTES);
        if (length < 0)
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST, varLengthError("key", length, KvStore.MAX_KEY_LENGTH_BYTES));
        }
        buffer.getBytes(limit + VAR_LENGTH_FIELD_BYTES, keyBytes, 0, length);
        final String key = decodeUtf8(keyBytes, length);
        if (key == null || (key.isEmpty() && !allowEmpty))
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST, key == null ? "key is not valid UTF-8" : "key is empty");
        }
        return key;
    }

    private static byte[] readValue(final DirectBuffer buffer, final int limit, final int end)
    {
        final int length = varLength(buffer, limit, end, KvStore.MAX_VALUE_LENGTH_BYTES);
        if (length < 0)
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST,
                varLengthError("value", length, KvStore.MAX_VALUE_LENGTH_BYTES));
        }
        final byte[] value = new byte[length];
        buffer.getBytes(limit + VAR_LENGTH_FIELD_BYTES, value, 0, length);
        return value;
    }

    private static int varFieldLength(final DirectBuffer buffer, final int limit)
    {
        return VAR_LENGTH_FIELD_BYTES + buffer.getInt(limit, ByteOrder.LITTLE_ENDIAN);
    }

    private Runnable parsePut(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final int end)
    {
        final KvPutRequestDecoder decoder = kvPutDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final long leaseId = decoder.leaseId();
        final String key = readKey(buffer, decoder.limit(), end, false);
        decoder.skipKey();
        final byte[] value = readValue(buffer, decoder.limit(), end);
        decoder.skipValue();
        return () ->
        {
            final String refused = kv.checkPut(key, leaseId);
            if (refused != null)
            {
                throw new KvRefusal(leaseId != 0 && kv.lease(leaseId) == null ?
                    ManagerStatus.NO_SUCH_LEASE : ManagerStatus.BAD_REQUEST, refused);
            }
            applyRevision(() -> kv.put(revision + 1, key, value, leaseId));
            kvAnswerLength = writeKvResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, true, 0, List.of(),
                false, "");
        };
    }

    private Runnable parseDelete(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final int end)
    {
        final KvDeleteRequestDecoder decoder = kvDeleteDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final boolean prefix = decoder.prefix() != 0;
        final String key = readKey(buffer, decoder.limit(), end, prefix);
        decoder.skipKey();
        return () ->
        {
            final int[] deleted = new int[1];
            applyRevision(() -> deleted[0] = kv.delete(revision + 1, key, prefix));
            kvAnswerLength = writeKvResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, true, deleted[0],
                List.of(), false, "");
        };
    }

    private Runnable parseRange(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final int end)
    {
        final KvRangeRequestDecoder decoder = kvRangeDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final int requested = decoder.maxCount();
        final boolean prefix = decoder.prefix() != 0;
        final String key = readKey(buffer, decoder.limit(), end, prefix);
        decoder.skipKey();
        final int maxCount = requested <= 0 ? MAX_RANGE_RESULTS : Math.min(requested, MAX_RANGE_RESULTS);
        return () ->
        {
            final ArrayList<KvView> results = rangeResults;
            results.clear();
            final boolean more = collectRange(key, prefix, maxCount, results);
            kvAnswerLength = writeKvResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, true, 0, results,
                more, "");
        };
    }

    /** Adds up to maxCount matches that fit the answer budget; true when some were left out. */
    private boolean collectRange(final String key, final boolean prefix, final int maxCount, final List<KvView> out)
    {
        final ArrayList<KvStore.KeyValue> found = rangeFound;
        found.clear();
        boolean more = kv.range(key, prefix, maxCount, found);
        int bytes = 0;
        for (final KvView view : out)
        {
            bytes += view.encodedLength();
        }
        for (final KvStore.KeyValue entry : found)
        {
            final KvView view = KvView.of(entry);
            if (bytes + view.encodedLength() > ANSWER_BUDGET_BYTES)
            {
                return true;
            }
            bytes += view.encodedLength();
            out.add(view);
        }
        return more;
    }

    private Runnable parseTxn(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final int end)
    {
        final KvTxnRequestDecoder decoder = kvTxnDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        if (groupCount(buffer, decoder.limit(), end, MAX_TXN_COMPARES) < 0)
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST, "compares truncated or more than " + MAX_TXN_COMPARES);
        }
        final ArrayList<Compare> compares = new ArrayList<>();
        for (final KvTxnRequestDecoder.ComparesDecoder c : decoder.compares())
        {
            final CompareTarget target = c.target();
            final CompareResult result = c.result();
            final long operand = c.operand();
            final String key = readKey(buffer, decoder.limit(), end, false);
            c.skipKey();
            final byte[] value = readValue(buffer, decoder.limit(), end);
            c.skipValue();
            if (target == CompareTarget.NULL_VAL || result == CompareResult.NULL_VAL)
            {
                throw new KvRefusal(ManagerStatus.BAD_REQUEST, "compare of key '" + key + "' has no valid target/result");
            }
            compares.add(new Compare(target, result, operand, key, value));
        }
        if (groupCount(buffer, decoder.limit(), end, MAX_TXN_OPS) < 0)
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST, "ops truncated or more than " + MAX_TXN_OPS);
        }
        final ArrayList<Op> ops = new ArrayList<>();
        for (final KvTxnRequestDecoder.OpsDecoder o : decoder.ops())
        {
            final short branch = o.branch();
            final KvOpType type = o.opType();
            final boolean prefix = o.prefix() != 0;
            final long leaseId = o.leaseId();
            final int maxCount = o.maxCount();
            final String key = readKey(buffer, decoder.limit(), end, prefix && type != KvOpType.PUT);
            o.skipKey();
            final byte[] value = readValue(buffer, decoder.limit(), end);
            o.skipValue();
            if (type == KvOpType.NULL_VAL || branch > 1)
            {
                throw new KvRefusal(ManagerStatus.BAD_REQUEST, "op on key '" + key + "' has no valid type/branch");
            }
            ops.add(new Op(branch, type, prefix, leaseId,
                maxCount <= 0 ? MAX_RANGE_RESULTS : Math.min(maxCount, MAX_RANGE_RESULTS), key, value));
        }
        return () -> applyTxn(compares, ops);
    }

    private void applyTxn(final List<Compare> compares, final List<Op> ops)
    {
        boolean succeeded = true;
        for (final Compare compare : compares)
        {
            succeeded &= holds(compare);
        }
        final int branch = succeeded ? 0 : 1;
        for (final Op op : ops)
        {
            if (op.branch() == branch && op.type() == KvOpType.PUT)
            {
                final String refused = kv.checkPut(op.key(), op.leaseId());
                if (refused != null)
                {
                    throw new KvRefusal(op.leaseId() != 0 && kv.lease(op.leaseId()) == null ?
                        ManagerStatus.NO_SUCH_LEASE : ManagerStatus.BAD_REQUEST, refused);
                }
            }
        }
        final ArrayList<KvView> results = new ArrayList<>();
        final int[] deleted = new int[1];
        final boolean[] more = new boolean[1];
        applyRevision(() ->
        {
            for (final Op op : ops)
            {
                if (op.branch() != branch)
                {
                    continue;
                }
                switch (op.type())
                {
                    case PUT -> kv.put(revision + 1, op.key(), op.value(), op.leaseId());
                    case DELETE -> deleted[0] += kv.delete(revision + 1, op.key(), op.prefix());
                    default -> more[0] |= collectRange(op.key(), op.prefix(), op.maxCount(), results);
                }
            }
        });
        kvAnswerLength = writeKvResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, succeeded, deleted[0],
            results, more[0], "");
    }

    private boolean holds(final Compare compare)
    {
        final KvStore.KeyValue entry = kv.get(compare.key());
        final int cmp;
        if (compare.target() == CompareTarget.VALUE)
        {
            if (entry == null)
            {
                return false; // as etcd: a value compare on a missing key never holds
            }
            cmp = Arrays.compareUnsigned(entry.value(), compare.value());
        }
        else
        {
            final long actual = entry == null ? 0 : switch (compare.target())
            {
                case VERSION -> entry.version();
                case CREATE_REVISION -> entry.createRevision();
                case MOD_REVISION -> entry.modRevision();
                default -> entry.leaseId();
            };
            cmp = Long.compare(actual, compare.operand());
        }
        return switch (compare.result())
        {
            case EQUAL -> cmp == 0;
            case NOT_EQUAL -> cmp != 0;
            case LESS -> cmp < 0;
            default -> cmp > 0;
        };
    }

    /** Runs changes at revision + 1 and keeps that revision only if something changed. */
    private void applyRevision(final Runnable changes)
    {
        final int before = eventsApplied;
        changes.run();
        if (eventsApplied != before)
        {
            revision++;
        }
    }

    private Runnable parseGrant(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version,
        final long clusterTimeMs)
    {
        final LeaseGrantRequestDecoder decoder = leaseGrantDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final long ttlMs = decoder.ttlMs();
        if (ttlMs < KvStore.MIN_LEASE_TTL_MS || ttlMs > KvStore.MAX_LEASE_TTL_MS)
        {
            throw new KvRefusal(ManagerStatus.BAD_REQUEST, "ttlMs must be in [" + KvStore.MIN_LEASE_TTL_MS + ", " +
                KvStore.MAX_LEASE_TTL_MS + "], was " + ttlMs);
        }
        return () ->
        {
            if (kv.leaseCount() >= KvStore.MAX_LEASES)
            {
                throw new KvRefusal(ManagerStatus.BAD_REQUEST, "lease limit of " + KvStore.MAX_LEASES + " reached");
            }
            final KvStore.Lease lease = kv.grant(nextId++, ttlMs, clusterTimeMs);
            kvAnswerLength = writeLeaseResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, lease.leaseId(),
                ttlMs, lease.expiresAtMs(), "");
        };
    }

    private Runnable parseRevoke(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final LeaseRevokeRequestDecoder decoder = leaseRevokeDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final long leaseId = decoder.leaseId();
        return () ->
        {
            final KvStore.Lease lease = requireLease(leaseId);
            applyRevision(() -> kv.revoke(revision + 1, lease));
            unassignPartitionsOf(leaseId);
            kvAnswerLength = writeLeaseResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, leaseId,
                lease.ttlMs(), lease.expiresAtMs(), "");
        };
    }

    private Runnable parseKeepAlive(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version,
        final long clusterTimeMs)
    {
        final LeaseKeepAliveRequestDecoder decoder =
            leaseKeepAliveDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final long leaseId = decoder.leaseId();
        return () ->
        {
            final KvStore.Lease lease = requireLease(leaseId);
            kv.keepAlive(lease, clusterTimeMs);
            kvAnswerLength = writeLeaseResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, leaseId,
                lease.ttlMs(), lease.expiresAtMs(), "");
        };
    }

    private KvStore.Lease requireLease(final long leaseId)
    {
        final KvStore.Lease lease = kv.lease(leaseId);
        if (lease == null)
        {
            throw new KvRefusal(ManagerStatus.NO_SUCH_LEASE, "no lease " + leaseId + " (expired or revoked)");
        }
        return lease;
    }

    private Runnable parseWatchCreate(
        final long sessionId, final DirectBuffer buffer, final int bodyOffset, final int blockLength,
        final int version, final int end)
    {
        final WatchCreateRequestDecoder decoder = watchCreateDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final long watchId = decoder.watchId();
        final long startRevision = decoder.startRevision();
        final boolean prefix = decoder.prefix() != 0;
        final String key = readKey(buffer, decoder.limit(), end, prefix);
        decoder.skipKey();
        return () ->
        {
            final long from = startRevision <= 0 ? revision + 1 : startRevision;
            if (from <= kv.compactRevision())
            {
                throw new KvRefusal(ManagerStatus.COMPACTED, "revision " + from + " is compacted; the oldest kept is " +
                    (kv.compactRevision() + 1));
            }
            final TreeMap<Long, Watch> watches = watchesBySession.computeIfAbsent(sessionId, (id) -> new TreeMap<>());
            if (!watches.containsKey(watchId) && watchCount >= MAX_WATCHES)
            {
                throw new KvRefusal(ManagerStatus.BAD_REQUEST, "watch limit of " + MAX_WATCHES + " reached");
            }
            final Watch watch = new Watch(sessionId, watchId, key, prefix);
            if (watches.put(watchId, watch) == null)
            {
                watchCount++;
            }
            kvAnswerLength = writeWatchResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, watchId, "");
            final Iterator<KvStore.Event> history = kv.historyFrom(from);
            while (history.hasNext())
            {
                final KvStore.Event event = history.next();
                if (watch.matches(event.key()))
                {
                    deliver(watch, event);
                }
            }
        };
    }

    private Runnable parseWatchCancel(
        final long sessionId, final DirectBuffer buffer, final int bodyOffset, final int blockLength,
        final int version)
    {
        final WatchCancelRequestDecoder decoder = watchCancelDecoder.wrap(buffer, bodyOffset, blockLength, version);
        decoder.correlationId();
        final long watchId = decoder.watchId();
        return () ->
        {
            final TreeMap<Long, Watch> watches = watchesBySession.get(sessionId);
            if (watches != null && watches.remove(watchId) != null)
            {
                watchCount--;
                if (watches.isEmpty())
                {
                    watchesBySession.remove(sessionId);
                }
            }
            kvAnswerLength = writeWatchResponse(kvOut, kvOutOffset, kvCorrelationId, ManagerStatus.OK, watchId, "");
        };
    }

    private void onKvEvent(final KvStore.Event event)
    {
        eventsApplied++;
        if (restoring)
        {
            return;
        }
        for (final TreeMap<Long, Watch> watches : watchesBySession.values())
        {
            for (final Watch watch : watches.values())
            {
                if (watch.matches(event.key()))
                {
                    deliver(watch, event);
                }
            }
        }
    }

    private void deliver(final Watch watch, final KvStore.Event event)
    {
        final byte[] key = event.key().getBytes(StandardCharsets.UTF_8);
        final WatchEventEncoder encoder = watchEventEncoder.wrapAndApplyHeader(eventBuffer, 0, headerEncoder)
            .correlationId(NULL_ID)
            .watchId(watch.watchId())
            .eventType(event.delete() ? EventType.DELETE : EventType.PUT)
            .revision(event.revision())
            .createRevision(event.createRevision())
            .version(event.version())
            .leaseId(event.leaseId())
            .putKey(key, 0, key.length)
            .putValue(event.value(), 0, event.value().length);
        watchSink.deliver(watch.sessionId(), eventBuffer, 0, HEADER_LENGTH + encoder.encodedLength());
    }

    private int writeKvResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final boolean succeeded,
        final int deleted,
        final List<KvView> kvs,
        final boolean more,
        final String message)
    {
        final KvResponseEncoder encoder = kvResponseEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .revision(revision)
            .succeeded((short)(succeeded ? 1 : 0))
            .deleted(deleted)
            .more((short)(more ? 1 : 0));
        final KvResponseEncoder.KvsEncoder group = encoder.kvsCount(kvs.size());
        for (final KvView view : kvs)
        {
            final byte[] key = view.keyBytes();
            group.next()
                .createRevision(view.createRevision())
                .modRevision(view.modRevision())
                .version(view.version())
                .leaseId(view.leaseId())
                .putKey(key, 0, key.length)
                .putValue(view.value(), 0, view.value().length);
        }
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeLeaseResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final long leaseId,
        final long ttlMs,
        final long expiresAtMs,
        final String message)
    {
        final LeaseResponseEncoder encoder = leaseResponseEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .leaseId(leaseId)
            .ttlMs(ttlMs)
            .expiresAtMs(expiresAtMs)
            .revision(revision);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeWatchResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final long watchId,
        final String message)
    {
        final WatchResponseEncoder encoder = watchResponseEncoder.wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .watchId(watchId)
            .revision(revision)
            .compactRevision(kv.compactRevision());
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));
        return HEADER_LENGTH + encoder.encodedLength();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Snapshots
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Writes the whole state as SBE messages: SnapshotBegin, NodeEntry*, (StreamEntry, ExtentEntry*)*,
     * SessionEntry*, SnapshotEnd.
     *
     * @param sink receives each message in order.
     */
    public void takeSnapshot(final SnapshotSink sink)
    {
        Verify.verify(!restoring, "snapshot while a restore is incomplete");
        int entryCount = 0;
        snapshotBeginEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
            .formatVersion(SNAPSHOT_FORMAT_VERSION)
            .nextStreamId(nextId)
            .nextExtentId(nextId)
            .revision(revision)
            .compactRevision(kv.compactRevision());
        sink.write(snapshotBuffer, 0, HEADER_LENGTH + snapshotBeginEncoder.encodedLength());

        for (final Node node : nodes.values())
        {
            nodeEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .nodeId(node.nodeId)
                .diskCount(node.diskCount)
                .capacityBytes(node.capacityBytes)
                .registeredAtMs(node.registeredAtMs)
                .state(node.state)
                .lastHeartbeatMs(node.lastHeartbeatMs)
                .putEndpoint(node.endpointBytes, 0, node.endpointBytes.length)
                .putFailureDomain(node.failureDomainBytes, 0, node.failureDomainBytes.length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + nodeEntryEncoder.encodedLength());
            entryCount++;
            for (final Disk disk : node.disks.values())
            {
                diskEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                    .nodeId(node.nodeId).diskId(disk.diskId).capacityBytes(disk.capacityBytes)
                    .freeBytes(disk.freeBytes).state(disk.state);
                sink.write(snapshotBuffer, 0, HEADER_LENGTH + diskEntryEncoder.encodedLength());
                entryCount++;
            }
        }

        entryCount += snapshotStreams(sink);
        entryCount += snapshotSessions(sink);
        entryCount += snapshotKv(sink);

        for (final Task task : tasks.values())
        {
            taskEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .taskId(task.taskId).kind(task.kind).extentId(task.extentId).streamId(task.streamId)
                .lostNodeId(task.lostNodeId).createdAtMs(task.createdAtMs).sealedLength(task.sealedLength)
                .claimNodeId(task.claimNodeId).claimEpoch(task.claimEpoch).claimExpiresAtMs(task.claimExpiresAtMs)
                .progressBytes(task.progressBytes);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + taskEntryEncoder.encodedLength());
            entryCount++;
        }

        entryCount += snapshotPartitions(sink);

        for (final Garbage g : garbage.values())
        {
            garbageEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .extentId(g.extentId).streamId(g.streamId).sealedLength(g.sealedLength)
                .replica0(g.pending[0]).replica1(g.pending[1]).replica2(g.pending[2]);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + garbageEntryEncoder.encodedLength());
            entryCount++;
        }

        snapshotEndEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder).entryCount(entryCount);
        sink.write(snapshotBuffer, 0, HEADER_LENGTH + snapshotEndEncoder.encodedLength());
    }

    private int snapshotStreams(final SnapshotSink sink)
    {
        int entryCount = 0;
        for (final Stream stream : streams.values())
        {
            streamEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .streamId(stream.streamId)
                .ownerRevision(stream.ownerRevision)
                .putName(stream.nameBytes, 0, stream.nameBytes.length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + streamEntryEncoder.encodedLength());
            entryCount++;
            for (final Extent extent : stream.extents)
            {
                extentEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                    .extentId(extent.extentId)
                    .streamId(extent.streamId)
                    .sealedLength(extent.sealedLength)
                    .replica0(extent.replicas[0])
                    .replica1(extent.replicas[1])
                    .replica2(extent.replicas[2])
                    .refCount(extent.refCount)
                    .ownerRevision(extent.ownerRevision);
                sink.write(snapshotBuffer, 0, HEADER_LENGTH + extentEntryEncoder.encodedLength());
                entryCount++;
            }
        }
        return entryCount;
    }

    private int snapshotSessions(final SnapshotSink sink)
    {
        int entryCount = 0;
        for (final Map.Entry<Long, Session> entry : sessions.entrySet())
        {
            final Session session = entry.getValue();
            sessionEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .clusterSessionId(entry.getKey())
                .lastCorrelationId(session.lastCorrelationId)
                .lastStreamId(session.lastStreamId)
                .role(session.role);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + sessionEntryEncoder.encodedLength());
            entryCount++;
            // Earlier answers first, the last one at the end: a restore keeps that order.
            for (final Map.Entry<Long, byte[]> answer : session.earlierAnswers.entrySet())
            {
                writeSessionAnswer(sink, entry.getKey(), answer.getKey(), answer.getValue());
                entryCount++;
            }
            if (session.lastAnswer != null)
            {
                writeSessionAnswer(sink, entry.getKey(), session.lastCorrelationId, session.lastAnswer);
                entryCount++;
            }
        }
        for (final TreeMap<Long, Watch> watches : watchesBySession.values())
        {
            for (final Watch watch : watches.values())
            {
                final byte[] key = watch.key().getBytes(StandardCharsets.UTF_8);
                watchEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                    .clusterSessionId(watch.sessionId()).watchId(watch.watchId())
                    .prefix((short)(watch.prefix() ? 1 : 0)).putKey(key, 0, key.length);
                sink.write(snapshotBuffer, 0, HEADER_LENGTH + watchEntryEncoder.encodedLength());
                entryCount++;
            }
        }
        return entryCount;
    }

    private void writeSessionAnswer(
        final SnapshotSink sink, final long sessionId, final long correlationId, final byte[] answer)
    {
        sessionAnswerEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
            .clusterSessionId(sessionId)
            .correlationId(correlationId)
            .putAnswer(answer, 0, answer.length);
        sink.write(snapshotBuffer, 0, HEADER_LENGTH + sessionAnswerEntryEncoder.encodedLength());
    }

    private int snapshotKv(final SnapshotSink sink)
    {
        int entryCount = 0;
        // Leases before keys: a key names its lease.
        for (final KvStore.Lease lease : kv.allLeases())
        {
            leaseEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .leaseId(lease.leaseId()).ttlMs(lease.ttlMs()).expiresAtMs(lease.expiresAtMs());
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + leaseEntryEncoder.encodedLength());
            entryCount++;
        }
        for (final KvStore.KeyValue entry : kv.allKeys())
        {
            final byte[] key = entry.key().getBytes(StandardCharsets.UTF_8);
            kvEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .createRevision(entry.createRevision()).modRevision(entry.modRevision()).version(entry.version())
                .leaseId(entry.leaseId()).putKey(key, 0, key.length).putValue(entry.value(), 0, entry.value().length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + kvEntryEncoder.encodedLength());
            entryCount++;
        }
        for (final KvStore.Event event : kv.history())
        {
            final byte[] key = event.key().getBytes(StandardCharsets.UTF_8);
            kvEventEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .revision(event.revision()).eventType(event.delete() ? EventType.DELETE : EventType.PUT)
                .createRevision(event.createRevision()).version(event.version()).leaseId(event.leaseId())
                .putKey(key, 0, key.length).putValue(event.value(), 0, event.value().length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + kvEventEntryEncoder.encodedLength());
            entryCount++;
        }
        return entryCount;
    }

    /**
     * Starts restoring from a snapshot: clears the state; feed each message to {@link #onSnapshotMessage}.
     */
    public void beginRestore()
    {
        nodes.clear();
        streams.clear();
        streamsByName.clear();
        sessions.clear();
        extentsById.clear();
        tasks.clear();
        garbage.clear();
        watchesBySession.clear();
        watchCount = 0;
        kv.clear();
        partitions.clear();
        revision = 0;
        nextId = 1;
        extentCount = 0;
        restoringSession = null;
        restoring = true;
        restoringStream = null;
        restoredEntryCount = -1;
    }

    /**
     * Applies one snapshot message during a restore.
     *
     * @param buffer holding the message.
     * @param offset of its header.
     * @param length of the message.
     * @return true once SnapshotEnd was applied and the restore is complete.
     * @throws IllegalStateException when the snapshot is malformed, of an unknown format version, or out of order.
     */
    public boolean onSnapshotMessage(final DirectBuffer buffer, final int offset, final int length)
    {
        Verify.verify(restoring, "snapshot message outside a restore");
        if (length < HEADER_LENGTH)
        {
            throw new IllegalStateException("snapshot message of " + length + " bytes is shorter than a header");
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            throw new IllegalStateException("snapshot message has schemaId " + headerDecoder.schemaId() +
                ", expected " + MessageHeaderDecoder.SCHEMA_ID);
        }
        final int templateId = headerDecoder.templateId();
        final int bodyOffset = offset + HEADER_LENGTH;
        final int blockLength = headerDecoder.blockLength();
        final int version = headerDecoder.version();
        final boolean begun = restoredEntryCount >= 0;
        if (templateId != SnapshotBeginDecoder.TEMPLATE_ID && !begun)
        {
            throw new IllegalStateException("snapshot does not start with SnapshotBegin: templateId " + templateId);
        }

        switch (templateId)
        {
            case SnapshotBeginDecoder.TEMPLATE_ID -> restoreBegin(buffer, bodyOffset, blockLength, version, begun);
            case NodeEntryDecoder.TEMPLATE_ID -> restoreNode(buffer, bodyOffset, blockLength, version);
            case StreamEntryDecoder.TEMPLATE_ID -> restoreStream(buffer, bodyOffset, blockLength, version);
            case ExtentEntryDecoder.TEMPLATE_ID -> restoreExtent(buffer, bodyOffset, blockLength, version);
            case SessionEntryDecoder.TEMPLATE_ID -> restoreSession(buffer, bodyOffset, blockLength, version);
            case DiskEntryDecoder.TEMPLATE_ID -> restoreDisk(buffer, bodyOffset, blockLength, version);
            case SessionAnswerEntryDecoder.TEMPLATE_ID -> restoreSessionAnswer(buffer, bodyOffset, blockLength, version);
            case WatchEntryDecoder.TEMPLATE_ID -> restoreWatch(buffer, bodyOffset, blockLength, version);
            case LeaseEntryDecoder.TEMPLATE_ID -> restoreLease(buffer, bodyOffset, blockLength, version);
            case KvEntryDecoder.TEMPLATE_ID -> restoreKey(buffer, bodyOffset, blockLength, version);
            case KvEventEntryDecoder.TEMPLATE_ID -> restoreEvent(buffer, bodyOffset, blockLength, version);
            case TaskEntryDecoder.TEMPLATE_ID -> restoreTask(buffer, bodyOffset, blockLength, version);
            case PartitionEntryDecoder.TEMPLATE_ID -> restorePartition(buffer, bodyOffset, blockLength, version);
            case GarbageEntryDecoder.TEMPLATE_ID -> restoreGarbage(buffer, bodyOffset, blockLength, version);
            case SnapshotEndDecoder.TEMPLATE_ID ->
            {
                final int expected = snapshotEndDecoder.wrap(buffer, bodyOffset, blockLength, version).entryCount();
                if (expected != restoredEntryCount)
                {
                    throw new IllegalStateException("snapshot has " + restoredEntryCount + " entries, SnapshotEnd says " +
                        expected);
                }
                finishRestoringStream();
                restoring = false;
                restoringStream = null;
                restoringSession = null;
                verifyInvariants();
                return true;
            }
            default -> throw new IllegalStateException("unknown snapshot templateId " + templateId);
        }
        if (templateId != SnapshotBeginDecoder.TEMPLATE_ID)
        {
            restoredEntryCount++;
        }

        return false;
    }

    /**
     * @return true while a restore started by {@link #beginRestore()} has not seen its SnapshotEnd.
     */
    public boolean isRestoring()
    {
        return restoring;
    }

    private void restoreBegin(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final boolean begun)
    {
        if (begun)
        {
            throw new IllegalStateException("second SnapshotBegin in one snapshot");
        }
        final SnapshotBeginDecoder decoder = snapshotBeginDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final int formatVersion = decoder.formatVersion();
        if (formatVersion < SNAPSHOT_FORMAT_VERSION_MIN || formatVersion > SNAPSHOT_FORMAT_VERSION)
        {
            throw new IllegalStateException("unknown manager snapshot formatVersion " + formatVersion +
                "; this build reads versions " + SNAPSHOT_FORMAT_VERSION_MIN + " to " + SNAPSHOT_FORMAT_VERSION);
        }
        nextId = Math.max(decoder.nextStreamId(), decoder.nextExtentId());
        if (formatVersion >= 2)
        {
            revision = decoder.revision();
            kv.restoreCompactRevision(decoder.compactRevision());
        }
        restoredEntryCount = 0;
    }

    private void restoreNode(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final NodeEntryDecoder decoder = nodeEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Node node = new Node(decoder.nodeId());
        node.diskCount = decoder.diskCount();
        node.capacityBytes = decoder.capacityBytes();
        node.registeredAtMs = decoder.registeredAtMs();
        if (version >= 2)
        {
            node.state = decoder.state();
            node.lastHeartbeatMs = decoder.lastHeartbeatMs();
            Verify.verify(node.state != NodeState.NULL_VAL, "snapshot node state is valid", node.nodeId);
        }
        node.endpoint = decoder.endpoint();
        node.endpointBytes = node.endpoint.getBytes(StandardCharsets.UTF_8);
        if (version >= 2)
        {
            node.failureDomain = decoder.failureDomain();
            node.failureDomainBytes = node.failureDomain.getBytes(StandardCharsets.UTF_8);
        }
        Verify.verify(nodes.put(node.nodeId, node) == null, "snapshot node is unique", node.nodeId);
        Verify.verify(nodes.size() <= MAX_NODES, "snapshot node count within limit", nodes.size());
    }

    private void restoreStream(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final StreamEntryDecoder decoder = streamEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long streamId = decoder.streamId();
        final long ownerRevision = version >= 5 ? Math.max(0, decoder.ownerRevision()) : 0;
        final String name = decoder.name();
        final Stream stream = new Stream(streamId, name, name.getBytes(StandardCharsets.UTF_8));
        stream.ownerRevision = ownerRevision;
        Verify.verify(streams.put(streamId, stream) == null, "snapshot stream is unique", streamId);
        Verify.verify(streamsByName.put(name, stream) == null, "snapshot stream name of is unique", streamId);
        restoringStream = stream;
    }

    private void restoreExtent(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final ExtentEntryDecoder decoder = extentEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long extentId = decoder.extentId();
        final long streamId = decoder.streamId();
        Verify.verify(restoringStream != null && restoringStream.streamId == streamId,
            "snapshot extent follows its stream", extentId);
        final Extent extent = new Extent(
            extentId, streamId, new int[]{ decoder.replica0(), decoder.replica1(), decoder.replica2() });
        extent.sealedLength = decoder.sealedLength();
        if (version >= 2)
        {
            extent.refCount = decoder.refCount();
            extent.ownerRevision = decoder.ownerRevision();
        }
        Verify.verify(extentsById.put(extentId, extent) == null, "snapshot extent is unique", extentId);
        for (final int nodeId : extent.replicas)
        {
            final Node node = nodes.get(nodeId);
            Verify.verify(node != null, "snapshot replica node is registered", nodeId);
            node.extentCount++;
        }
        restoringStream.extents.add(extent);
        extentCount++;
    }

    private void restoreSession(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final SessionEntryDecoder decoder = sessionEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Session session = new Session();
        final long sessionId = decoder.clusterSessionId();
        session.lastCorrelationId = decoder.lastCorrelationId();
        session.lastStreamId = decoder.lastStreamId();
        if (version >= 4)
        {
            session.role = decoder.role();
            Verify.verify(session.role != SessionRole.NULL_VAL, "snapshot session role is valid", sessionId);
        }
        Verify.verify(sessions.put(sessionId, session) == null, "snapshot session is unique", sessionId);
        restoringSession = session;
    }

    private void restoreDisk(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final DiskEntryDecoder decoder = diskEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Node node = nodes.get(decoder.nodeId());
        Verify.verify(node != null, "snapshot disk's node exists", decoder.nodeId());
        final Disk disk = new Disk(decoder.diskId());
        disk.capacityBytes = decoder.capacityBytes();
        disk.freeBytes = decoder.freeBytes();
        disk.state = decoder.state();
        Verify.verify(node.disks.put(disk.diskId, disk) == null, "snapshot disk is unique", disk.diskId);
    }

    private void restoreSessionAnswer(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final SessionAnswerEntryDecoder decoder = sessionAnswerEntryDecoder.wrap(buffer, bodyOffset, blockLength,
            version);
        final long sessionId = decoder.clusterSessionId();
        // Format version 2 kept only the answer of the last write, without its correlationId.
        final long correlationId = version >= 3 ? decoder.correlationId() : restoringSession == null ? NULL_ID :
            restoringSession.lastCorrelationId;
        Verify.verify(restoringSession != null && sessions.get(sessionId) == restoringSession,
            "snapshot answer follows its session", sessionId);
        final byte[] answer = new byte[decoder.answerLength()];
        decoder.getAnswer(answer, 0, answer.length);
        if (correlationId == restoringSession.lastCorrelationId)
        {
            Verify.verify(restoringSession.lastAnswer == null, "one last answer per session", sessionId);
            restoringSession.lastAnswer = answer;
        }
        else
        {
            Verify.verify(restoringSession.lastAnswer == null && correlationId < restoringSession.lastCorrelationId &&
                (restoringSession.earlierAnswers.isEmpty() || restoringSession.earlierAnswers.lastKey() < correlationId) &&
                restoringSession.earlierAnswers.size() < MAX_SESSION_ANSWERS - 1,
                "snapshot answers in correlationId order below the last", correlationId);
            restoringSession.earlierAnswers.put(correlationId, answer);
        }
    }

    private void restoreWatch(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final WatchEntryDecoder decoder = watchEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long sessionId = decoder.clusterSessionId();
        final long watchId = decoder.watchId();
        final boolean prefix = decoder.prefix() != 0;
        final Watch restored = new Watch(sessionId, watchId, decoder.key(), prefix);
        Verify.verify(watchesBySession.computeIfAbsent(restored.sessionId(), (id) -> new TreeMap<>())
            .put(restored.watchId(), restored) == null, "snapshot watch is unique", restored.watchId());
        watchCount++;
    }

    private void restoreLease(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final LeaseEntryDecoder decoder = leaseEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        kv.restoreLease(decoder.leaseId(), decoder.ttlMs(), decoder.expiresAtMs());
    }

    private void restoreKey(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final KvEntryDecoder decoder = kvEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long createRevision = decoder.createRevision();
        final long modRevision = decoder.modRevision();
        final long keyVersion = decoder.version();
        final long leaseId = decoder.leaseId();
        final String key = decoder.key();
        final byte[] value = new byte[decoder.valueLength()];
        decoder.getValue(value, 0, value.length);
        kv.restoreKey(key, value, createRevision, modRevision, keyVersion, leaseId);
    }

    private void restoreEvent(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final KvEventEntryDecoder decoder = kvEventEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long eventRevision = decoder.revision();
        final boolean delete = decoder.eventType() == EventType.DELETE;
        final long createRevision = decoder.createRevision();
        final long keyVersion = decoder.version();
        final long leaseId = decoder.leaseId();
        final String key = decoder.key();
        final byte[] value = new byte[decoder.valueLength()];
        decoder.getValue(value, 0, value.length);
        kv.restoreEvent(new KvStore.Event(eventRevision, delete, key, value, createRevision, keyVersion, leaseId));
    }

    private void restoreTask(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final TaskEntryDecoder d = taskEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Task task = new Task(d.taskId(), d.kind(), d.extentId(), d.streamId(), d.lostNodeId(), d.createdAtMs(),
            d.sealedLength());
        if (version >= 3)
        {
            task.claimNodeId = d.claimNodeId();
            task.claimEpoch = d.claimEpoch();
            task.claimExpiresAtMs = d.claimExpiresAtMs();
            task.progressBytes = d.progressBytes();
        }
        Verify.verify(tasks.put(task.taskId, task) == null, "snapshot task is unique", task.taskId);
    }

    private void restoreGarbage(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final GarbageEntryDecoder d = garbageEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Garbage g = new Garbage(d.extentId(), d.streamId(), d.sealedLength(),
            new int[]{ d.replica0(), d.replica1(), d.replica2() });
        Verify.verify(garbage.put(g.extentId, g) == null, "snapshot garbage extent is unique", g.extentId);
    }

    private void finishRestoringStream()
    {
        if (restoringStream != null)
        {
            verifyStream(restoringStream);
            restoringStream = null;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Inspection
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * @return number of registered nodes.
     */
    public int nodeCount()
    {
        return nodes.size();
    }

    /**
     * @return number of streams.
     */
    public int streamCount()
    {
        return streams.size();
    }

    /**
     * @return number of extents over all streams.
     */
    public int extentCount()
    {
        return extentCount;
    }

    /**
     * @return the global revision: raised by every change of keys, nodes' liveness, streams and extents.
     */
    public long revision()
    {
        return revision;
    }

    /**
     * @return the key/value space, for inspection by tests; do not modify.
     */
    public KvStore kv()
    {
        return kv;
    }

    /**
     * @return the partition table, for inspection by tests; do not modify.
     */
    public PartitionTable partitions()
    {
        return partitions;
    }

    /**
     * @return number of garbage extents (tombstones some replica has not confirmed deleting).
     */
    public int garbageCount()
    {
        return garbage.size();
    }

    /**
     * @param extentId an extent.
     * @return the nodes that have not yet confirmed deleting the garbage extent (0 for one that did), or null when it
     * is not garbage.
     */
    public int[] garbagePending(final long extentId)
    {
        final Garbage g = garbage.get(extentId);
        return g == null ? null : g.pending.clone();
    }

    /**
     * @return the id allocator's high-water mark: every id at or above it is unallocated.
     */
    public long nextId()
    {
        return nextId;
    }

    /**
     * @return number of open recovery tasks.
     */
    public int taskCount()
    {
        return tasks.size();
    }

    /**
     * @param nodeId a node.
     * @return its liveness state, or null when it is not registered.
     */
    public NodeState nodeState(final int nodeId)
    {
        final Node node = nodes.get(nodeId);
        return node == null ? null : node.state;
    }

    /**
     * A canonical, human-readable text of the whole state: two state machines with equal dumps are equal.
     *
     * @return the dump; allocates, for tests and diagnostics only.
     */
    public String canonicalDump()
    {
        final StringBuilder sb = new StringBuilder(256);
        sb.append("nextId=").append(nextId).append(" extentCount=").append(extentCount).append('\n');
        for (final Node node : nodes.values())
        {
            sb.append("node ").append(node.nodeId).append(" endpoint=").append(node.endpoint)
                .append(" disks=").append(node.diskCount).append(" capacity=").append(node.capacityBytes)
                .append(" registeredAtMs=").append(node.registeredAtMs).append(" extents=").append(node.extentCount)
                .append(" domain=").append(node.failureDomain).append(" state=").append(node.state)
                .append(" lastHeartbeatMs=").append(node.lastHeartbeatMs).append('\n');
            for (final Disk disk : node.disks.values())
            {
                sb.append("  disk ").append(disk.diskId).append(" capacity=").append(disk.capacityBytes)
                    .append(" free=").append(disk.freeBytes).append(" state=").append(disk.state).append('\n');
            }
        }
        for (final Stream stream : streams.values())
        {
            sb.append("stream ").append(stream.streamId).append(" name=").append(stream.name)
                .append(" ownerRevision=").append(stream.ownerRevision).append('\n');
            for (final Extent extent : stream.extents)
            {
                sb.append("  extent ").append(extent.extentId).append(" sealed=").append(extent.sealedLength)
                    .append(" replicas=").append(extent.replicas[0]).append(',').append(extent.replicas[1])
                    .append(',').append(extent.replicas[2]).append(" refCount=").append(extent.refCount)
                    .append(" ownerRevision=").append(extent.ownerRevision).append('\n');
            }
        }
        for (final Map.Entry<Long, Session> entry : sessions.entrySet())
        {
            sb.append("session ").append(entry.getKey()).append(" lastCorrelationId=")
                .append(entry.getValue().lastCorrelationId).append(" lastStreamId=")
                .append(entry.getValue().lastStreamId).append(" lastAnswer=")
                .append(Arrays.toString(entry.getValue().lastAnswer)).append(" role=").append(entry.getValue().role)
                .append(" earlierAnswers=")
                .append(entry.getValue().earlierAnswers.keySet()).append('\n');
        }
        for (final TreeMap<Long, Watch> watches : watchesBySession.values())
        {
            for (final Watch watch : watches.values())
            {
                sb.append(watch).append('\n');
            }
        }
        for (final Task task : tasks.values())
        {
            sb.append("task ").append(task.taskId).append(' ').append(task.kind).append(" extent=").append(task.extentId)
                .append(" stream=").append(task.streamId).append(" lost=").append(task.lostNodeId).append(" at=")
                .append(task.createdAtMs).append(" sealed=").append(task.sealedLength).append('\n');
        }
        for (final Garbage g : garbage.values())
        {
            sb.append("garbage ").append(g.extentId).append(" stream=").append(g.streamId).append(" sealed=")
                .append(g.sealedLength).append(" pending=").append(Arrays.toString(g.pending)).append('\n');
        }
        partitions.dump(sb);
        sb.append("revision=").append(revision).append(" watchCount=").append(watchCount).append('\n');
        kv.dump(sb);

        return sb.toString();
    }
}
