package io.cairn.daemon;

import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerException;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.ManagerStateMachine;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.Verify;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.TaskKind;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The node side of re-replication: works off the manager's recovery tasks (docs/internals/replication.md,
 * "Re-replication"). Every {@link Context#pollIntervalMs()} it lists the open tasks and claims one whose extent this
 * node does not hold (a holder cannot become the new replica, so it never claims such a task: claiming by id instead
 * of "oldest" keeps a node from sitting on claims it cannot finish). Then, synchronously on its own thread:
 * <ul>
 *   <li><b>SEAL</b> (an unsealed tail lost a replica): fence every surviving replica with the stream's owner revision,
 *       seal them at the smallest commit length they report (the client's failover rule: an acknowledged block is on
 *       every replica, so it lies below that minimum), record the seal with the manager (AllocateExtent), and go on as
 *       for RECOVER with the sealed length the manager now holds.</li>
 *   <li><b>RECOVER</b> (a sealed extent lost a replica): create the extent on this node (OpenExtent as a secondary),
 *       read every block below the sealed length from a surviving replica (which verifies its CRC32C and answers
 *       CORRUPT rather than bad data; then the other replica is asked), write it to this node at the same offset
 *       (Replicate: io_uring, O_DIRECT, durable before the answer), seal the copy at the sealed length, read the copy
 *       back and compare a CRC32C over all payloads with the one taken from the sources, and complete the task naming
 *       this node as the new replica. Progress goes to the manager every {@link Context#progressIntervalMs()}, which
 *       extends the claim.</li>
 * </ul>
 * One block is in flight at a time (at most {@link NodeProtocol#MAX_PAYLOAD_BYTES}), one task at a time per node,
 * and the manager caps claims per node ({@link ManagerStateMachine#MAX_TASK_CLAIMS_PER_NODE}): recovery never swamps
 * the node's hot path. Any failure abandons the task: the claim is released at once (TaskRelease) so another node can
 * take it, this node does not retry it for {@link Context#retryBackoffMs()}, and the cause is logged once per cause,
 * not per block or task. The partial local copy is handed to the {@link ExtentCollector} as a suspect: the manager
 * confirms it is not placed on this node and the collector deletes it (without a collector, or before the delete, a
 * later attempt on this node resumes after its durable prefix, which is verified again before completion). A copy
 * whose completion was sent but not answered is left alone: the task may have completed, and the next start's
 * reconciliation decides.
 */
public final class ExtentRecoveryAgent implements AutoCloseable
{
    /** What the worker is doing (published for tests and status). */
    public enum State
    {
        /** Waiting for the next poll. */
        IDLE,
        /** Fencing and sealing an unsealed extent's survivors. */
        SEALING,
        /** Copying blocks. */
        COPYING,
        /** Reading the local copy back. */
        VERIFYING,
        /** Asking the manager to swap the replica in. */
        COMPLETING
    }

    /** Why a task was abandoned; each is logged once. */
    public enum Cause
    {
        /** No surviving replica answered. */
        SOURCE_UNREACHABLE,
        /** Every surviving replica answered the block CORRUPT, missing, or malformed. */
        NO_INTACT_SOURCE,
        /** A newer stream owner fenced the extent: its writer seals it. */
        FENCED,
        /** The manager did not record a seal. */
        SEAL_FAILED,
        /** Another node took the claim over (CLAIM_LOST). */
        CLAIM_LOST,
        /** The task is gone: the lost node came back, or it was completed. */
        TASK_GONE,
        /** The extent changed since the claim (STALE_EXTENT) or the manager refused the swap. */
        STALE_EXTENT,
        /** This node's disk is full (EXTENT_FULL). */
        DISK_FULL,
        /** This node refused or did not answer a local create, write or seal. */
        LOCAL_FAILED,
        /** A copy already on this node conflicts (sealed at another length, longer than the sealed length). */
        LOCAL_CONFLICT,
        /** The copy read back does not match what the sources sent. */
        VERIFY_FAILED,
        /** The manager did not answer. */
        MANAGER_UNREACHABLE,
        /** The worker is closing. */
        STOPPED
    }

    /**
     * Configuration: named defaults, fluent setters, {@link #conclude()}.
     */
    public static final class Context
    {
        /** How often the task list is polled when idle. */
        public static final long POLL_INTERVAL_MS_DEFAULT = 1_000;
        /** Claim lease: long enough for a progress report to extend it well before it lapses. */
        public static final long CLAIM_LEASE_MS_DEFAULT = 30_000;
        /** Progress is reported (and the claim extended) at most this often during a copy. */
        public static final long PROGRESS_INTERVAL_MS_DEFAULT = 2_000;
        /** Time-out of one request to a node. */
        public static final long NODE_TIMEOUT_MS_DEFAULT = 2_000;
        /** A task this node abandoned is not claimed by it again before this. */
        public static final long RETRY_BACKOFF_MS_DEFAULT = 10_000;
        /** Longest sleep of the worker thread between polls (bounds how long close() waits). */
        public static final long SLEEP_MS_MAX = 100;

        private int nodeId;
        private String endpoint;
        private long pollIntervalMs = POLL_INTERVAL_MS_DEFAULT;
        private long claimLeaseMs = CLAIM_LEASE_MS_DEFAULT;
        private long progressIntervalMs = PROGRESS_INTERVAL_MS_DEFAULT;
        private long nodeTimeoutMs = NODE_TIMEOUT_MS_DEFAULT;
        private long retryBackoffMs = RETRY_BACKOFF_MS_DEFAULT;
        private NanoClock clock = System::nanoTime;
        private ExtentCollector collector;
        private PrintStream log = System.err;

        /**
         * @return this, validated.
         * @throws IllegalArgumentException naming the bad value.
         */
        public Context conclude()
        {
            require(nodeId > 0, "recovery nodeId " + nodeId + ": must be > 0");
            require(null != endpoint, "recovery endpoint: required");
            require(pollIntervalMs >= 10 && pollIntervalMs <= 3_600_000,
                "--recovery-poll-ms " + pollIntervalMs + ": must be in [10, 3600000]");
            require(claimLeaseMs >= ManagerStateMachine.MIN_TASK_LEASE_MS &&
                claimLeaseMs <= ManagerStateMachine.MAX_TASK_LEASE_MS, "--recovery-lease-ms " + claimLeaseMs +
                ": must be in [" + ManagerStateMachine.MIN_TASK_LEASE_MS + ", " + ManagerStateMachine.MAX_TASK_LEASE_MS + "]");
            // A claim must be extended at least twice per lease, or one slow report loses it.
            require(progressIntervalMs >= 1 && progressIntervalMs * 2 <= claimLeaseMs, "recovery progress interval " +
                progressIntervalMs + " ms: must be >= 1 and at most half the lease (" + claimLeaseMs + " ms)");
            require(nodeTimeoutMs >= 1 && nodeTimeoutMs * 2 <= claimLeaseMs, "recovery node time-out " + nodeTimeoutMs +
                " ms: must be >= 1 and at most half the lease (" + claimLeaseMs + " ms)");
            require(retryBackoffMs >= 0, "recovery retry backoff " + retryBackoffMs + " ms: must be >= 0");
            require(null != clock && null != log, "recovery clock and log: required");
            return this;
        }

        private static void require(final boolean ok, final String message)
        {
            if (!ok)
            {
                throw new IllegalArgumentException(message);
            }
        }

        /** @param nodeId this node. @return this. */
        public Context nodeId(final int nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /** @param endpoint this node's host:port (where the copy is written). @return this. */
        public Context endpoint(final String endpoint)
        {
            this.endpoint = endpoint;
            return this;
        }

        /** @param ms poll period of the task list. @return this. */
        public Context pollIntervalMs(final long ms)
        {
            this.pollIntervalMs = ms;
            return this;
        }

        /** @return poll period of the task list. */
        public long pollIntervalMs()
        {
            return pollIntervalMs;
        }

        /** @param ms claim lease. @return this. */
        public Context claimLeaseMs(final long ms)
        {
            this.claimLeaseMs = ms;
            return this;
        }

        /** @return claim lease. */
        public long claimLeaseMs()
        {
            return claimLeaseMs;
        }

        /** @param ms most time between progress reports during a copy. @return this. */
        public Context progressIntervalMs(final long ms)
        {
            this.progressIntervalMs = ms;
            return this;
        }

        /** @return most time between progress reports. */
        public long progressIntervalMs()
        {
            return progressIntervalMs;
        }

        /** @param ms time-out of one node request. @return this. */
        public Context nodeTimeoutMs(final long ms)
        {
            this.nodeTimeoutMs = ms;
            return this;
        }

        /** @return time-out of one node request. */
        public long nodeTimeoutMs()
        {
            return nodeTimeoutMs;
        }

        /** @param ms before this node claims a task it abandoned again. @return this. */
        public Context retryBackoffMs(final long ms)
        {
            this.retryBackoffMs = ms;
            return this;
        }

        /** @return before this node claims a task it abandoned again. */
        public long retryBackoffMs()
        {
            return retryBackoffMs;
        }

        /** @param clock time source (injected in tests). @return this. */
        public Context clock(final NanoClock clock)
        {
            this.clock = clock;
            return this;
        }

        /**
         * @param collector deletes abandoned copies (once the manager agrees) and tells which extents are being
         *                  deleted, so none is claimed meanwhile; null: none (copies stay for a resumed attempt).
         * @return this.
         */
        public Context collector(final ExtentCollector collector)
        {
            this.collector = collector;
            return this;
        }

        /** @param log where abandoned causes are reported (once each). @return this. */
        public Context log(final PrintStream log)
        {
            this.log = log;
            return this;
        }
    }

    private final Context ctx;
    private final RecoveryManager manager;
    private final RecoveryPeers peers;
    private final NanoClock clock;
    private final UnsafeBuffer block = new UnsafeBuffer(ByteBuffer.allocateDirect(NodeProtocol.MAX_PAYLOAD_BYTES));
    private final CRC32C sourceDigest = new CRC32C();
    private final CRC32C localDigest = new CRC32C();
    private final Long2LongHashMap retryNotBeforeNs = new Long2LongHashMap(Long.MIN_VALUE);
    private final boolean[] causeLogged = new boolean[Cause.values().length];
    private final long[] abandoned = new long[Cause.values().length];
    private Thread thread;
    private volatile boolean running = true;
    private volatile State state = State.IDLE;
    private volatile long tasksCompleted;
    private volatile long bytesCopied;
    private volatile long sourceFailovers;
    private long nextPollNs;
    private String causeDetail = "";
    private boolean completionSent;
    private volatile long activeExtentId = ManagerStateMachine.NULL_ID;
    private volatile long claimsReleased;

    /**
     * @param ctx     configuration, concluded here.
     * @param manager the manager calls.
     * @param peers   the node calls.
     */
    public ExtentRecoveryAgent(final Context ctx, final RecoveryManager manager, final RecoveryPeers peers)
    {
        this.ctx = ctx.conclude();
        this.manager = manager;
        this.peers = peers;
        this.clock = ctx.clock;
        this.nextPollNs = clock.nanoTime();
    }

    /**
     * Starts the worker on its own low-priority thread over the node's media driver.
     *
     * @param ctx                configuration.
     * @param managers           manager members string.
     * @param aeronDirectoryName the node's media driver.
     * @param credentials        {@code role:secret}, or null for the manager client's default.
     * @return the running worker.
     */
    public static ExtentRecoveryAgent start(
        final Context ctx, final String managers, final String aeronDirectoryName, final String credentials)
    {
        ctx.conclude();
        final String host = ctx.endpoint.substring(0, ctx.endpoint.lastIndexOf(':'));
        final RecoveryPeers peers = new AeronRecoveryPeers(
            aeronDirectoryName, host, TimeUnit.MILLISECONDS.toNanos(ctx.nodeTimeoutMs), ctx.clock);
        final RecoveryManager manager = new ManagerRecoveryClient(
            managers, aeronDirectoryName, credentials, Math.max(ctx.nodeTimeoutMs, 5_000));
        final ExtentRecoveryAgent agent = new ExtentRecoveryAgent(ctx, manager, peers);
        agent.thread = new Thread(agent::run, "cairn-recovery-" + ctx.nodeId);
        agent.thread.setDaemon(true);
        agent.thread.start();
        return agent;
    }

    private void run()
    {
        while (running)
        {
            try
            {
                doWork(clock.nanoTime());
            }
            catch (final RuntimeException ex)
            {
                if (ex.getMessage() != null && ex.getMessage().startsWith("invariant violated"))
                {
                    throw ex; // never worked around: the worker stops loudly
                }
                // Anything else (Aeron, the manager session) must not kill the node: report once, reconnect, retry.
                logOnce(Cause.MANAGER_UNREACHABLE, "recovery worker error: " + ex);
                manager.close();
            }
            sleepMs(Math.min(Context.SLEEP_MS_MAX, ctx.pollIntervalMs));
        }
        manager.close();
        peers.close();
    }

    /**
     * One poll: when due, list the tasks and run at most one to its end (completed or abandoned).
     *
     * @param nowNs current time.
     * @return 1 when a poll ran, else 0.
     */
    public int doWork(final long nowNs)
    {
        if (nowNs - nextPollNs < 0)
        {
            return 0;
        }
        nextPollNs = nowNs + TimeUnit.MILLISECONDS.toNanos(ctx.pollIntervalMs);
        final List<ManagerListing.Task> tasks;
        try
        {
            tasks = manager.listTasks();
        }
        catch (final ManagerException ex)
        {
            logOnce(Cause.MANAGER_UNREACHABLE, "listing tasks: " + ex.getMessage());
            manager.close();
            return 1;
        }
        forgetRetriesNotIn(tasks);
        for (final ManagerListing.Task task : tasks)
        {
            if (!running)
            {
                break;
            }
            final long notBeforeNs = retryNotBeforeNs.get(task.taskId());
            if (notBeforeNs != Long.MIN_VALUE && nowNs - notBeforeNs < 0)
            {
                continue;
            }
            final StreamInfo stream;
            final ManagerListing.TaskClaim claim;
            try
            {
                stream = manager.streamInfo(task.streamId());
                final ExtentInfo extent = find(stream, task.extentId());
                if (null == extent || indexOf(extent.replicas(), ctx.nodeId) >= 0)
                {
                    continue; // gone, or this node already holds it: it cannot be the new replica
                }
                // Marked before the check; the collector marks an id before checking this mark (no copy is deleted).
                activeExtentId = task.extentId();
                if (null != ctx.collector && ctx.collector.isDeleting(task.extentId()))
                {
                    activeExtentId = ManagerStateMachine.NULL_ID;
                    continue; // its local file is being deleted: claim it once that is done
                }
                claim = manager.claim(ctx.nodeId, task.taskId(), ctx.claimLeaseMs);
            }
            catch (final ManagerException ex)
            {
                activeExtentId = ManagerStateMachine.NULL_ID;
                if (null == ex.status())
                {
                    logOnce(Cause.MANAGER_UNREACHABLE, "task " + task.taskId() + ": " + ex.getMessage());
                    manager.close();
                    return 1;
                }
                if (ManagerStatus.TOO_MANY_CLAIMS == ex.status())
                {
                    return 1; // earlier claims of this node have not lapsed yet
                }
                continue; // claimed by another node, or gone: try the next
            }
            completionSent = false;
            final Cause cause = execute(claim, stream);
            if (null == cause)
            {
                tasksCompleted++;
                retryNotBeforeNs.remove(claim.taskId());
                activeExtentId = ManagerStateMachine.NULL_ID;
            }
            else
            {
                abandon(claim, cause);
                abandoned[cause.ordinal()]++;
                if (Cause.STOPPED != cause)
                {
                    logOnce(cause, "task " + claim.taskId() + " (" + claim.kind() + " extent " + claim.extentId() +
                        " of stream " + claim.streamId() + ", lost node " + claim.lostNodeId() + "): " + causeDetail);
                }
                retryNotBeforeNs.put(claim.taskId(),
                    clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ctx.retryBackoffMs));
            }
            state = State.IDLE;
            return 1;
        }
        return 1;
    }

    /** Releases the claim and hands the partial copy to the collector, unless the completion's outcome is unknown. */
    private void abandon(final ManagerListing.TaskClaim claim, final Cause cause)
    {
        final boolean outcomeUnknown = completionSent && (Cause.MANAGER_UNREACHABLE == cause || Cause.STOPPED == cause);
        if (!outcomeUnknown && Cause.CLAIM_LOST != cause && Cause.TASK_GONE != cause &&
            Cause.MANAGER_UNREACHABLE != cause)
        {
            try
            {
                manager.release(ctx.nodeId, claim);
                claimsReleased++;
            }
            catch (final ManagerException ex)
            {
                // Lost or gone meanwhile, or the manager is unreachable: the claim lapses at its expiry.
                if (null == ex.status())
                {
                    manager.close();
                }
            }
        }
        activeExtentId = ManagerStateMachine.NULL_ID;
        if (!outcomeUnknown && null != ctx.collector)
        {
            ctx.collector.suspect(claim.extentId()); // the manager decides whether the copy may go
        }
    }

    private Cause execute(final ManagerListing.TaskClaim initialClaim, final StreamInfo stream)
    {
        ManagerListing.TaskClaim claim = initialClaim;
        final ExtentInfo extent = find(stream, claim.extentId());
        Verify.verify(null != extent, "claimed extent vanished from its stream", claim.extentId());
        final int[] replicas = extent.replicas();
        int sourceCount = 0;
        final int[] sources = new int[replicas.length];
        final String[] sourceEndpoints = new String[replicas.length];
        for (final int replica : replicas)
        {
            final String endpoint = stream.nodeEndpoints().get(replica);
            if (replica != claim.lostNodeId() && replica != ctx.nodeId && null != endpoint)
            {
                sources[sourceCount] = replica;
                sourceEndpoints[sourceCount++] = endpoint;
            }
        }
        if (0 == sourceCount)
        {
            causeDetail = "no surviving replica among " + java.util.Arrays.toString(replicas);
            return Cause.SOURCE_UNREACHABLE;
        }
        if (TaskKind.SEAL == claim.kind() && ManagerStateMachine.UNSEALED == claim.sealedLength())
        {
            state = State.SEALING;
            final Cause sealCause = sealSurvivors(stream, claim.extentId(), sources, sourceEndpoints, sourceCount);
            if (null != sealCause)
            {
                return sealCause;
            }
            try
            {
                claim = manager.progress(ctx.nodeId, claim, 0, ctx.claimLeaseMs); // the sealed length as recorded
            }
            catch (final ManagerException ex)
            {
                return managerCause(ex);
            }
            if (ManagerStateMachine.UNSEALED == claim.sealedLength())
            {
                causeDetail = "the manager holds extent " + claim.extentId() + " unsealed after the seal";
                return Cause.SEAL_FAILED;
            }
        }
        return copy(claim, stream, extent, sources, sourceEndpoints, sourceCount);
    }

    /** The client's failover rule: fence, seal every reachable survivor at the smallest commit length, record it. */
    private Cause sealSurvivors(
        final StreamInfo stream, final long extentId, final int[] sources, final String[] endpoints, final int count)
    {
        final long revision = stream.ownerRevision();
        long min = Long.MAX_VALUE;
        long alreadySealed = -1;
        final boolean[] reachable = new boolean[count];
        for (int i = 0; i < count; i++)
        {
            final NodeStatus status = peers.seal(sources[i], endpoints[i], extentId, revision, NodeProtocol.NULL_OFFSET);
            if (NodeStatus.OK == status)
            {
                reachable[i] = true;
                min = Math.min(min, peers.commitLength());
                alreadySealed = peers.sealed() ? peers.commitLength() : alreadySealed;
            }
            else if (NodeStatus.NO_SUCH_EXTENT == status)
            {
                min = Math.min(min, NodeProtocol.FIRST_BLOCK_OFFSET); // never created there: nothing acknowledged
            }
            else if (NodeStatus.LOCKED_BY_OTHER == status)
            {
                causeDetail = "node " + sources[i] + " holds extent " + extentId + " for a newer owner than revision " +
                    revision;
                return Cause.FENCED;
            }
        }
        if (Long.MAX_VALUE == min)
        {
            causeDetail = "no surviving replica answered the fence of extent " + extentId;
            return Cause.SOURCE_UNREACHABLE;
        }
        final long sealLength = alreadySealed >= 0 ? alreadySealed : min;
        for (int i = 0; i < count; i++)
        {
            if (reachable[i])
            {
                // A survivor that fails here is repaired later: the copy reads only below the recorded length.
                peers.seal(sources[i], endpoints[i], extentId, revision, sealLength);
            }
        }
        try
        {
            manager.recordSeal(stream.streamId(), extentId, sealLength, revision);
        }
        catch (final ManagerException ex)
        {
            if (null == ex.status())
            {
                causeDetail = ex.getMessage();
                return Cause.MANAGER_UNREACHABLE;
            }
            // STALE_TAIL and the like: the writer rolled over first, by the same rule; the refreshed claim says.
        }
        return null;
    }

    private Cause copy(
        final ManagerListing.TaskClaim initialClaim,
        final StreamInfo stream,
        final ExtentInfo extent,
        final int[] sources,
        final String[] sourceEndpoints,
        final int sourceCount)
    {
        ManagerListing.TaskClaim claim = initialClaim;
        state = State.COPYING;
        final long extentId = claim.extentId();
        final long sealedLength = claim.sealedLength();
        if (sealedLength < NodeProtocol.FIRST_BLOCK_OFFSET)
        {
            causeDetail = "the manager answered sealed length " + sealedLength + " for extent " + extentId;
            return Cause.STALE_EXTENT; // a wire value, not an invariant of this node
        }

        // The sources: surviving replicas that have every block below the sealed length.
        long revision = 0;
        int usable = 0;
        for (int i = 0; i < sourceCount; i++)
        {
            final NodeStatus status = peers.extentStatus(sources[i], sourceEndpoints[i], extentId);
            if (NodeStatus.OK == status && peers.commitLength() >= sealedLength)
            {
                revision = Math.max(revision, peers.ownerRevision());
                sources[usable] = sources[i];
                sourceEndpoints[usable++] = sourceEndpoints[i];
            }
        }
        // An extent sealed empty (a tail never written, often never created on its replicas) needs no source.
        if (0 == usable && sealedLength > NodeProtocol.FIRST_BLOCK_OFFSET)
        {
            causeDetail = "no surviving replica of extent " + extentId + " answered with " + sealedLength + " bytes";
            return Cause.SOURCE_UNREACHABLE;
        }

        // The local copy: create it, or resume after the durable prefix an earlier attempt left.
        final int self = ctx.nodeId;
        NodeStatus status = peers.extentStatus(self, ctx.endpoint, extentId);
        long localLength;
        boolean localSealed = false;
        if (NodeStatus.NO_SUCH_EXTENT == status)
        {
            final int[] newReplicas = extent.replicas().clone();
            newReplicas[indexOf(newReplicas, claim.lostNodeId())] = self;
            if (newReplicas[0] == self)
            {
                newReplicas[0] = newReplicas[1]; // a forwarded open names this node as a secondary
                newReplicas[1] = self;
            }
            final String[] endpoints = new String[newReplicas.length];
            for (int i = 0; i < newReplicas.length; i++)
            {
                endpoints[i] = newReplicas[i] == self ? ctx.endpoint :
                    stream.nodeEndpoints().getOrDefault(newReplicas[i], "");
            }
            status = peers.openSecondary(self, ctx.endpoint, extentId, claim.streamId(), revision, newReplicas, endpoints);
            if (NodeStatus.OK != status)
            {
                return localCause(status, "create of extent " + extentId);
            }
            localLength = NodeProtocol.FIRST_BLOCK_OFFSET;
        }
        else if (NodeStatus.OK == status)
        {
            localLength = peers.commitLength();
            if (localLength > sealedLength || (peers.sealed() && localLength != sealedLength))
            {
                causeDetail = "this node already holds extent " + extentId + " with " + localLength + " bytes" +
                    (peers.sealed() ? " sealed" : "") + ", sealed length " + sealedLength;
                return Cause.LOCAL_CONFLICT;
            }
            revision = Math.max(revision, peers.ownerRevision());
            localSealed = peers.sealed();
        }
        else
        {
            return localCause(status, "status of extent " + extentId);
        }

        // Copy: every block is read from a source (below the local length only for the digest), the rest written.
        sourceDigest.reset();
        int current = 0;
        long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
        long lastReportNs = clock.nanoTime();
        final long reportIntervalNs = TimeUnit.MILLISECONDS.toNanos(ctx.progressIntervalMs);
        while (offset < sealedLength)
        {
            if (!running)
            {
                causeDetail = "closing";
                return Cause.STOPPED;
            }
            final int from = readFromAnySource(extentId, offset, sealedLength, sources, sourceEndpoints, usable, current);
            if (from < 0)
            {
                return -1 == from ? Cause.SOURCE_UNREACHABLE : Cause.NO_INTACT_SOURCE;
            }
            current = from;
            final int length = peers.payloadLengthBytes();
            final long next = peers.nextOffset();
            sourceDigest.update(block.byteBuffer().duplicate().position(0).limit(length));
            if (offset >= localLength)
            {
                final int recordFlags = peers.recordFlags();
                status = peers.replicate(self, ctx.endpoint, extentId, offset, revision, recordFlags, peers.metadata(),
                    peers.metadataLength(), block, length);
                if (NodeStatus.OK != status)
                {
                    return localCause(status, "write of extent " + extentId + " at " + offset);
                }
                // The commit length moves past a record only with its last block.
                if ((recordFlags & BlockFormat.RECORD_LAST) != 0 && peers.commitLength() != next)
                {
                    causeDetail = "write of extent " + extentId + " at " + offset + " left commit length " +
                        peers.commitLength() + ", expected " + next;
                    return Cause.LOCAL_FAILED;
                }
                bytesCopied += next - offset;
            }
            offset = next;
            final long nowNs = clock.nanoTime();
            if (nowNs - lastReportNs >= reportIntervalNs)
            {
                lastReportNs = nowNs;
                try
                {
                    claim = manager.progress(self, claim, offset - NodeProtocol.FIRST_BLOCK_OFFSET, ctx.claimLeaseMs);
                }
                catch (final ManagerException ex)
                {
                    return managerCause(ex);
                }
            }
        }
        Verify.verify(offset == sealedLength, "copy ended off the sealed length", offset, sealedLength);

        if (!localSealed)
        {
            status = peers.seal(self, ctx.endpoint, extentId, revision, sealedLength);
            if (NodeStatus.OK != status || !peers.sealed() || peers.commitLength() != sealedLength)
            {
                return localCause(NodeStatus.OK == status ? NodeStatus.IO_ERROR : status,
                    "seal of extent " + extentId + " at " + sealedLength);
            }
        }

        // Verify: the sealed copy, read back through this node (which checks every block's CRC32C), must carry
        // exactly the payloads the sources sent.
        state = State.VERIFYING;
        localDigest.reset();
        offset = NodeProtocol.FIRST_BLOCK_OFFSET;
        while (offset < sealedLength)
        {
            status = peers.read(self, ctx.endpoint, extentId, offset, block);
            if (NodeStatus.OK != status || peers.payloadLengthBytes() < 0 || peers.nextOffset() <= offset)
            {
                causeDetail = "read-back of extent " + extentId + " at " + offset + ": " + status;
                return Cause.VERIFY_FAILED;
            }
            localDigest.update(block.byteBuffer().duplicate().position(0).limit(peers.payloadLengthBytes()));
            offset = peers.nextOffset();
        }
        if (offset != sealedLength || localDigest.getValue() != sourceDigest.getValue())
        {
            causeDetail = "copy of extent " + extentId + " read back CRC32C " + Long.toHexString(localDigest.getValue()) +
                " ending at " + offset + ", sources sent " + Long.toHexString(sourceDigest.getValue()) + " ending at " +
                sealedLength;
            return Cause.VERIFY_FAILED;
        }

        state = State.COMPLETING;
        try
        {
            manager.progress(self, claim, sealedLength - NodeProtocol.FIRST_BLOCK_OFFSET, ctx.claimLeaseMs);
            completionSent = true;
            manager.complete(self, claim, self);
        }
        catch (final ManagerException ex)
        {
            return managerCause(ex);
        }
        return null;
    }

    /**
     * Reads the block at {@code offset} into {@link #block} from the preferred source, else the others.
     *
     * @return the index of the source that answered an intact block, -1 when none answered, -2 when every one that
     * answered had it corrupt, missing or malformed.
     */
    private int readFromAnySource(
        final long extentId,
        final long offset,
        final long sealedLength,
        final int[] sources,
        final String[] endpoints,
        final int count,
        final int preferred)
    {
        boolean anyAnswered = false;
        final StringBuilder failures = new StringBuilder();
        for (int attempt = 0; attempt < count; attempt++)
        {
            final int i = (preferred + attempt) % count;
            final NodeStatus status = peers.read(sources[i], endpoints[i], extentId, offset, block);
            if (NodeStatus.OK == status)
            {
                final int length = peers.payloadLengthBytes();
                if (length > 0 && peers.nextOffset() == offset + BlockFormat.blockLengthBytes(length) &&
                    peers.nextOffset() <= sealedLength)
                {
                    if (attempt > 0)
                    {
                        sourceFailovers++;
                    }
                    return i;
                }
                anyAnswered = true;
                failures.append(" node ").append(sources[i]).append(": malformed block (payload ").append(length)
                    .append(", next ").append(peers.nextOffset()).append(");");
            }
            else
            {
                anyAnswered |= null != status;
                failures.append(" node ").append(sources[i]).append(": ")
                    .append(null == status ? "no answer" : status.name()).append(';');
            }
        }
        causeDetail = "block at " + offset + " of extent " + extentId + ":" + failures;
        return anyAnswered ? -2 : -1;
    }

    private Cause localCause(final NodeStatus status, final String what)
    {
        causeDetail = what + " on this node: " + (null == status ? "no answer" : status + " " + peers.errorMessage());
        return NodeStatus.EXTENT_FULL == status ? Cause.DISK_FULL : Cause.LOCAL_FAILED;
    }

    private Cause managerCause(final ManagerException ex)
    {
        causeDetail = ex.getMessage();
        if (null == ex.status())
        {
            manager.close();
            return Cause.MANAGER_UNREACHABLE;
        }
        return switch (ex.status())
        {
            case CLAIM_LOST -> Cause.CLAIM_LOST;
            case NO_SUCH_TASK -> Cause.TASK_GONE;
            default -> Cause.STALE_EXTENT;
        };
    }

    /**
     * @return the extent this worker is about to claim or is copying, or -1 (the {@link ExtentCollector} does not
     * delete it meanwhile).
     */
    public long activeExtentId()
    {
        return activeExtentId;
    }

    /**
     * @return claims this worker released on abandoning their task.
     */
    public long claimsReleased()
    {
        return claimsReleased;
    }

    private void logOnce(final Cause cause, final String message)
    {
        if (!causeLogged[cause.ordinal()])
        {
            causeLogged[cause.ordinal()] = true;
            ctx.log.println("cairn-node " + ctx.nodeId + ": recovery abandoned, " + cause +
                " (logged once; counted after): " + message);
        }
    }

    private void forgetRetriesNotIn(final List<ManagerListing.Task> tasks)
    {
        if (retryNotBeforeNs.isEmpty())
        {
            return;
        }
        final Long2LongHashMap.KeyIterator keys = retryNotBeforeNs.keySet().iterator();
        while (keys.hasNext())
        {
            final long taskId = keys.nextValue();
            boolean open = false;
            for (final ManagerListing.Task task : tasks)
            {
                open |= task.taskId() == taskId;
            }
            if (!open)
            {
                keys.remove(); // bounded by the open tasks
            }
        }
    }

    private static ExtentInfo find(final StreamInfo stream, final long extentId)
    {
        for (final ExtentInfo extent : stream.extents())
        {
            if (extent.extentId() == extentId)
            {
                return extent;
            }
        }
        return null;
    }

    private static int indexOf(final int[] values, final int value)
    {
        for (int i = 0; i < values.length; i++)
        {
            if (values[i] == value)
            {
                return i;
            }
        }
        return -1;
    }

    private static void sleepMs(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** @return what the worker is doing now. */
    public State state()
    {
        return state;
    }

    /** @return tasks this node completed. */
    public long tasksCompleted()
    {
        return tasksCompleted;
    }

    /** @return bytes written to local copies. */
    public long bytesCopied()
    {
        return bytesCopied;
    }

    /** @return blocks read from another source after the preferred one failed. */
    public long sourceFailovers()
    {
        return sourceFailovers;
    }

    /**
     * @param cause a cause.
     * @return tasks abandoned for it.
     */
    public long abandoned(final Cause cause)
    {
        return abandoned[cause.ordinal()];
    }

    /** Stops the worker (a copy in progress is abandoned at the next block) and closes its clients. */
    public void close()
    {
        running = false;
        if (null != thread)
        {
            try
            {
                thread.join(TimeUnit.SECONDS.toMillis(15));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        else
        {
            manager.close();
            peers.close();
        }
    }
}
