package io.cairn.daemon;

import io.cairn.manager.ManagerListing;
import io.cairn.manager.StreamInfo;

import java.util.List;

/**
 * The manager calls the recovery worker makes. Why an interface: the worker's logic is tested against a fake
 * manager; production uses {@link ManagerRecoveryClient} over {@link io.cairn.manager.ManagerClient}. Refusals
 * surface as {@link io.cairn.manager.ManagerException} with the manager's status (CLAIM_LOST, NO_SUCH_TASK, ...).
 */
interface RecoveryManager extends AutoCloseable
{
    /** @return the open recovery tasks, oldest first. */
    List<ManagerListing.Task> listTasks();

    /**
     * @param streamId stream.
     * @return its extents (replicas, sealed lengths), node endpoints and owner revision.
     */
    StreamInfo streamInfo(long streamId);

    /**
     * @param nodeId  this node.
     * @param taskId  the task to claim.
     * @param leaseMs claim duration.
     * @return the claim.
     */
    ManagerListing.TaskClaim claim(int nodeId, long taskId, long leaseMs);

    /**
     * @param nodeId        this node.
     * @param claim         the claim.
     * @param progressBytes bytes copied so far.
     * @param leaseMs       extends the claim by this from now.
     * @return the refreshed claim (current sealed length and owner revision of the extent).
     */
    ManagerListing.TaskClaim progress(int nodeId, ManagerListing.TaskClaim claim, long progressBytes, long leaseMs);

    /**
     * @param nodeId    this node.
     * @param claim     the claim.
     * @param newNodeId the node now holding the copy.
     * @return the completed task.
     */
    ManagerListing.TaskClaim complete(int nodeId, ManagerListing.TaskClaim claim, int newNodeId);

    /**
     * Gives the claim up at once (the task was abandoned), so another node can claim it without waiting for expiry.
     *
     * @param nodeId this node.
     * @param claim  the claim.
     * @return the task, unclaimed.
     */
    ManagerListing.TaskClaim release(int nodeId, ManagerListing.TaskClaim claim);

    /**
     * Records the seal of a stream's tail (AllocateExtent: the manager seals it and adds a new tail).
     *
     * @param streamId      stream.
     * @param tailExtentId  the tail as seen.
     * @param sealLength    the sealed length.
     * @param ownerRevision the stream's owner revision.
     */
    void recordSeal(long streamId, long tailExtentId, long sealLength, long ownerRevision);

    @Override
    void close();
}
