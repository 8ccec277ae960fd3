package io.cairn.manager;

import io.cairn.sbe.manager.DiskState;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.manager.TaskKind;

import java.util.Arrays;

/**
 * Rows of the manager's listings ({@link ManagerClient#listNodes()} and friends), as the admin CLI shows them.
 */
public final class ManagerListing
{
    private ManagerListing()
    {
    }

    /**
     * An extent node.
     *
     * @param nodeId          its id.
     * @param state           liveness.
     * @param endpoint        host:port.
     * @param failureDomain   rack/zone label, may be empty.
     * @param diskCount       disks registered.
     * @param capacityBytes   capacity registered.
     * @param freeBytes       free space last reported (the capacity until a heartbeat reports disks).
     * @param extentCount     replicas placed on it.
     * @param registeredAtMs  cluster time of its last registration.
     * @param lastHeartbeatMs cluster time of its last heartbeat, -1 when it never sent one (liveness untracked).
     */
    public record Node(
        int nodeId, NodeState state, String endpoint, String failureDomain, int diskCount, long capacityBytes,
        long freeBytes, int extentCount, long registeredAtMs, long lastHeartbeatMs)
    {
    }

    /**
     * A disk as last reported by its node's heartbeat.
     *
     * @param nodeId        its node.
     * @param diskId        its id on the node.
     * @param capacityBytes capacity.
     * @param freeBytes     free space.
     * @param state         health.
     */
    public record Disk(int nodeId, int diskId, long capacityBytes, long freeBytes, DiskState state)
    {
    }

    /**
     * A stream.
     *
     * @param streamId     its id.
     * @param name         its name.
     * @param extentCount  extents.
     * @param tailExtentId its unsealed tail.
     */
    public record Stream(long streamId, String name, int extentCount, long tailExtentId)
    {
    }

    /**
     * An extent.
     *
     * @param extentId      its id.
     * @param streamId      its stream.
     * @param sealedLength  -1 while unsealed.
     * @param replicas      node ids, primary first.
     * @param refCount      streams referring to it.
     * @param ownerRevision global revision of its allocation or seal.
     */
    public record Extent(long extentId, long streamId, long sealedLength, int[] replicas, int refCount,
        long ownerRevision)
    {
        /**
         * {@inheritDoc}
         */
        public String toString()
        {
            return "Extent[" + extentId + " stream=" + streamId + " sealed=" + sealedLength + " replicas=" +
                Arrays.toString(replicas) + " refCount=" + refCount + " ownerRevision=" + ownerRevision + "]";
        }
    }

    /**
     * Recovery work created when a node died: the stream layer consumes it.
     *
     * @param taskId       its id.
     * @param kind         SEAL for an unsealed tail, RECOVER for a sealed extent.
     * @param extentId     the extent that lost a replica.
     * @param streamId     its stream.
     * @param lostNodeId   the dead node.
     * @param createdAtMs  cluster time the node was declared dead.
     * @param sealedLength     the extent's sealed length then, -1 if unsealed.
     * @param claimNodeId      the node holding the claim, 0 when never claimed (or a manager older than version 6).
     * @param claimEpoch       claims so far.
     * @param claimExpiresAtMs cluster time the claim lapses.
     * @param progressBytes    bytes the claimer reported copied.
     */
    public record Task(long taskId, TaskKind kind, long extentId, long streamId, int lostNodeId, long createdAtMs,
        long sealedLength, int claimNodeId, long claimEpoch, long claimExpiresAtMs, long progressBytes)
    {
        /**
         * A task as listed before claims were listed (never claimed).
         *
         * @param taskId       its id.
         * @param kind         SEAL or RECOVER.
         * @param extentId     the extent.
         * @param streamId     its stream.
         * @param lostNodeId   the lost node.
         * @param createdAtMs  creation time.
         * @param sealedLength sealed length then.
         */
        public Task(final long taskId, final TaskKind kind, final long extentId, final long streamId,
            final int lostNodeId, final long createdAtMs, final long sealedLength)
        {
            this(taskId, kind, extentId, streamId, lostNodeId, createdAtMs, sealedLength, 0, 0, 0, 0);
        }
    }

    /**
     * A recovery task as claimed by a node: what to copy and the claim that fences it.
     *
     * @param taskId           the task.
     * @param kind             SEAL or RECOVER.
     * @param extentId         the extent that lost a replica.
     * @param streamId         its stream.
     * @param lostNodeId       the dead node whose replica is replaced.
     * @param sealedLength     of the extent now ({@link ManagerStateMachine#UNSEALED} while open).
     * @param ownerRevision    of the extent now: a completion must name it.
     * @param claimEpoch       of this claim: progress and completion must name it.
     * @param claimExpiresAtMs cluster time after which another node may take the task over.
     * @param progressBytes    reported so far by this claimer.
     */
    public record TaskClaim(long taskId, TaskKind kind, long extentId, long streamId, int lostNodeId,
        long sealedLength, long ownerRevision, long claimEpoch, long claimExpiresAtMs, long progressBytes)
    {
    }

    /**
     * One partition of the partition table: keys in [startKey, endKey), an empty endKey is +infinity.
     *
     * @param partitionId   id from the shared allocator.
     * @param startKey      inclusive start (empty: the lowest key).
     * @param endKey        exclusive end (empty: +infinity).
     * @param version       revision of its last change; the compare-and-swap operand of every change.
     * @param ownerId       partition server owning it, 0 when unassigned.
     * @param ownerLeaseId  the owner's lease, 0 when unassigned.
     * @param logStreamId   commit log stream, 0 when none yet.
     * @param tableStreamId row data stream, 0 when none yet.
     * @param metaStreamId  metadata stream, 0 when none yet.
     */
    public record Partition(long partitionId, String startKey, String endKey, long version, int ownerId,
        long ownerLeaseId, long logStreamId, long tableStreamId, long metaStreamId)
    {
    }

    /**
     * Outcome of a partition table change.
     *
     * @param partitionId    the partition changed (the left one of a merge).
     * @param version        its new version.
     * @param newPartitionId split: the new right-hand partition; else -1.
     * @param revision       global revision after the change.
     */
    public record PartitionChange(long partitionId, long version, long newPartitionId, long revision)
    {
    }

    /**
     * A manager's answer to a node's extent reconciliation.
     *
     * @param nextId  the manager's id high-water mark: ids at or above it are unallocated.
     * @param deletes extent ids whose files the node must delete (then confirm), at most
     *                {@link ManagerStateMachine#MAX_DELETES_PER_RESPONSE}.
     */
    public record Reconcile(long nextId, long[] deletes)
    {
        /**
         * {@inheritDoc}
         */
        public String toString()
        {
            return "Reconcile[nextId=" + nextId + " deletes=" + Arrays.toString(deletes) + "]";
        }
    }
}
