package io.cairn.daemon;

import io.cairn.sbe.node.NodeStatus;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;

/**
 * Runs extent deletes on the thread that owns the {@link IoUringReplicaStore} (it is a member of the replication
 * agent's composite, so the store stays single-threaded). The {@link ExtentCollector} offers extent ids it has
 * decided to delete over a bounded queue ({@link #offerDelete(long)}); finished deletes go back over a second one
 * ({@link #pollResult()}). A delete the store answers BUSY (I/O of the extent in flight, the delete limit reached)
 * waits here and is tried again on the next duty cycle.
 */
public final class ExtentDeleteAgent implements Agent
{
    /** Deletes queued or waiting here at once; the collector offers no more until some finished. */
    public static final int QUEUE_CAPACITY = 64;

    /** A finished delete. */
    public record Result(long extentId, boolean ok, long reclaimedBytes)
    {
    }

    private final IoUringReplicaStore store;
    private final OneToOneConcurrentArrayQueue<Long> requests = new OneToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final OneToOneConcurrentArrayQueue<Result> results = new OneToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final LongArrayList waiting = new LongArrayList(QUEUE_CAPACITY, Long.MIN_VALUE);
    private final IoUringReplicaStore.DeleteHandler onDeleted = this::onDeleted;

    /**
     * @param store the node's store; used only from this agent's thread.
     */
    public ExtentDeleteAgent(final IoUringReplicaStore store)
    {
        this.store = store;
    }

    /**
     * Collector thread.
     *
     * @param extentId an extent whose files to delete.
     * @return false when the queue is full (offer it again later).
     */
    public boolean offerDelete(final long extentId)
    {
        return requests.offer(extentId);
    }

    /**
     * Collector thread.
     *
     * @return the next finished delete, or null.
     */
    public Result pollResult()
    {
        return results.poll();
    }

    /** {@inheritDoc} */
    public int doWork()
    {
        int work = 0;
        Long request;
        while (waiting.size() < QUEUE_CAPACITY && null != (request = requests.poll()))
        {
            waiting.addLong(request);
            work++;
        }
        for (int i = waiting.size() - 1; i >= 0; i--)
        {
            if (store.submitDelete(waiting.getLong(i)) == NodeStatus.OK)
            {
                waiting.removeAt(i);
                work++;
            }
        }
        return work + store.pollDeleted(onDeleted);
    }

    private void onDeleted(final long extentId, final boolean ok, final long reclaimedBytes)
    {
        // At most QUEUE_CAPACITY ids are offered before their results are taken, so this never fails.
        io.cairn.replication.Verify.verify(results.offer(new Result(extentId, ok, reclaimedBytes)),
            "delete results within capacity", extentId);
    }

    /** {@inheritDoc} */
    public String roleName()
    {
        return "extent-delete";
    }
}
