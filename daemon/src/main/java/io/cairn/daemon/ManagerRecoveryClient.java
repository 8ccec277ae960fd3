package io.cairn.daemon;

import io.cairn.manager.ManagerClient;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.StreamInfo;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@link RecoveryManager} over a {@link ManagerClient} on the node's media driver, connected lazily and reconnected
 * after a failure (the worker closes it when a call throws anything but a manager refusal).
 */
final class ManagerRecoveryClient implements RecoveryManager
{
    private final String managers;
    private final String aeronDirectoryName;
    private final String credentials;
    private final long responseTimeoutNs;
    private ManagerClient client;

    ManagerRecoveryClient(
        final String managers, final String aeronDirectoryName, final String credentials, final long responseTimeoutMs)
    {
        this.managers = managers;
        this.aeronDirectoryName = aeronDirectoryName;
        this.credentials = credentials;
        this.responseTimeoutNs = TimeUnit.MILLISECONDS.toNanos(responseTimeoutMs);
    }

    private ManagerClient client()
    {
        if (null == client)
        {
            final ManagerClient.Context ctx = new ManagerClient.Context()
                .managers(managers).aeronDirectoryName(aeronDirectoryName).responseTimeoutNs(responseTimeoutNs);
            if (null != credentials)
            {
                ctx.credentials(credentials);
            }
            client = ManagerClient.connect(ctx);
        }
        return client;
    }

    public List<ManagerListing.Task> listTasks()
    {
        return client().listTasks();
    }

    public StreamInfo streamInfo(final long streamId)
    {
        return client().streamInfo(streamId);
    }

    public ManagerListing.TaskClaim claim(final int nodeId, final long taskId, final long leaseMs)
    {
        return client().claimTask(nodeId, taskId, leaseMs);
    }

    public ManagerListing.TaskClaim progress(
        final int nodeId, final ManagerListing.TaskClaim claim, final long progressBytes, final long leaseMs)
    {
        return client().reportTaskProgress(nodeId, claim, progressBytes, leaseMs);
    }

    public ManagerListing.TaskClaim complete(final int nodeId, final ManagerListing.TaskClaim claim, final int newNodeId)
    {
        return client().completeTask(nodeId, claim, newNodeId);
    }

    public ManagerListing.TaskClaim release(final int nodeId, final ManagerListing.TaskClaim claim)
    {
        return client().releaseTask(nodeId, claim);
    }

    public void recordSeal(final long streamId, final long tailExtentId, final long sealLength, final long ownerRevision)
    {
        client().allocateExtent(streamId, tailExtentId, sealLength, ownerRevision);
    }

    /** Keeps the session alive between calls. */
    void poll()
    {
        if (null != client)
        {
            client.poll();
        }
    }

    public void close()
    {
        if (null != client)
        {
            client.close();
            client = null;
        }
    }

}
