package io.cairn.daemon;

import io.cairn.manager.ManagerClient;
import io.cairn.manager.ManagerException;
import io.cairn.manager.ManagerListing;
import io.cairn.sbe.manager.DiskState;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.NodeState;
import org.agrona.CloseHelper;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The node side of liveness: a low-priority thread that sends the manager a heartbeat with every data directory's
 * capacity, free space and health every {@link Context#intervalMs()}, and keeps its manager session alive between
 * heartbeats. The manager marks a node SUSPECT, then DEAD, after its configured timeouts without one; a node that
 * never heartbeats is not tracked at all.
 * <p>
 * It owns its own {@link ManagerClient} (synchronous calls stay off the node's hot duty cycle) on the node's media
 * driver. A failed heartbeat closes the client and the next one reconnects; NO_SUCH_NODE (the manager lost or never
 * had the registration) re-registers. Nothing here stops the node: the manager decides what silence means.
 * <p>
 * After each accepted heartbeat the optional {@link ExtentCollector} runs with the same client: extent deletes and,
 * the first time, the reconciliation of the node's extent files with the manager.
 * <p>
 * Wiring in {@code ExtentNode.launch}, after the one-off registration:
 * <pre>{@code
 * heartbeat = ManagerHeartbeat.start(new ManagerHeartbeat.Context()
 *     .managers(ctx.managers()).aeronDirectoryName(node.driver.aeronDirectoryName())
 *     .nodeId(ctx.nodeId()).endpoint(ctx.endpoint()).dataDirs(ctx.dataDirs()));
 * // and heartbeat.close() in ExtentNode.close(), before the driver closes
 * }</pre>
 */
public final class ManagerHeartbeat implements AutoCloseable
{
    /**
     * Configuration; fluent setters, named defaults.
     */
    public static final class Context
    {
        /** Heartbeat interval: a third of the manager's default suspect timeout. */
        public static final long INTERVAL_MS_DEFAULT = 1_000;
        /** Poll period between heartbeats (keep-alive, leader changes). */
        public static final long POLL_PERIOD_MS_DEFAULT = 100;
        /** A disk with less free space than this is reported FULL. */
        public static final long FULL_BELOW_BYTES_DEFAULT = 256L * 1024 * 1024;

        private String managers;
        private String aeronDirectoryName;
        private int nodeId;
        private String endpoint;
        private String failureDomain = "";
        private String credentials;
        private List<Path> dataDirs = List.of();
        private long intervalMs = INTERVAL_MS_DEFAULT;
        private long fullBelowBytes = FULL_BELOW_BYTES_DEFAULT;
        private ExtentCollector collector;

        /**
         * @param managers manager members string.
         * @return this.
         */
        public Context managers(final String managers)
        {
            this.managers = managers;
            return this;
        }

        /**
         * @param dir the node's media driver directory.
         * @return this.
         */
        public Context aeronDirectoryName(final String dir)
        {
            this.aeronDirectoryName = dir;
            return this;
        }

        /**
         * @param nodeId this node.
         * @return this.
         */
        public Context nodeId(final int nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /**
         * @param endpoint this node's endpoint, for re-registration.
         * @return this.
         */
        public Context endpoint(final String endpoint)
        {
            this.endpoint = endpoint;
            return this;
        }

        /**
         * @param failureDomain rack/zone label, for re-registration; empty: none.
         * @return this.
         */
        public Context failureDomain(final String failureDomain)
        {
            this.failureDomain = failureDomain;
            return this;
        }

        /**
         * @param credentials {@code role:secret}; null: {@link ManagerClient.Context}'s default.
         * @return this.
         */
        public Context credentials(final String credentials)
        {
            this.credentials = credentials;
            return this;
        }

        /**
         * @param dataDirs one per disk; disk ids are their indexes.
         * @return this.
         */
        public Context dataDirs(final List<Path> dataDirs)
        {
            this.dataDirs = List.copyOf(dataDirs);
            return this;
        }

        /**
         * @param ms between heartbeats; well below the manager's suspect timeout.
         * @return this.
         */
        public Context intervalMs(final long ms)
        {
            this.intervalMs = ms;
            return this;
        }

        /**
         * @return the interval.
         */
        public long intervalMs()
        {
            return intervalMs;
        }

        /**
         * @param collector runs after each accepted heartbeat with the same manager client (extent deletes and the
         *                  reconciliation at start); null: none.
         * @return this.
         */
        public Context collector(final ExtentCollector collector)
        {
            this.collector = collector;
            return this;
        }

        /**
         * @param bytes free space under which a disk is reported FULL.
         * @return this.
         */
        public Context fullBelowBytes(final long bytes)
        {
            this.fullBelowBytes = bytes;
            return this;
        }
    }

    private final Context ctx;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long heartbeatsSent;
    private volatile long failures;
    private volatile String lastError = "";
    private ManagerClient client;

    private ManagerHeartbeat(final Context ctx)
    {
        if (ctx.managers == null || ctx.aeronDirectoryName == null || ctx.nodeId <= 0 || ctx.endpoint == null ||
            ctx.dataDirs.isEmpty() || ctx.intervalMs <= 0)
        {
            throw new IllegalArgumentException(
                "managers, aeronDirectoryName, nodeId > 0, endpoint, dataDirs and intervalMs > 0 are required");
        }
        this.ctx = ctx;
        this.thread = new Thread(this::run, "cairn-manager-heartbeat-" + ctx.nodeId);
        this.thread.setDaemon(true);
    }

    /**
     * @param ctx configuration.
     * @return the running heartbeat.
     */
    public static ManagerHeartbeat start(final Context ctx)
    {
        final ManagerHeartbeat heartbeat = new ManagerHeartbeat(ctx);
        heartbeat.thread.start();
        return heartbeat;
    }

    /**
     * Reads the disks' state now: capacity and usable space of each data directory's file store; a directory that
     * cannot be read or written is FAILED, one with little space FULL.
     *
     * @param dataDirs       one per disk.
     * @param fullBelowBytes threshold for FULL.
     * @return one entry per directory, disk id = index.
     */
    public static List<ManagerListing.Disk> readDisks(final List<Path> dataDirs, final long fullBelowBytes)
    {
        final List<ManagerListing.Disk> disks = new ArrayList<>(dataDirs.size());
        for (int i = 0; i < dataDirs.size(); i++)
        {
            final Path dir = dataDirs.get(i);
            try
            {
                final FileStore store = Files.getFileStore(dir);
                final long capacity = store.getTotalSpace();
                final long free = store.getUsableSpace();
                final DiskState state = !Files.isWritable(dir) ? DiskState.FAILED :
                    free < fullBelowBytes ? DiskState.FULL : DiskState.OK;
                disks.add(new ManagerListing.Disk(0, i, capacity, free, state));
            }
            catch (final IOException ex)
            {
                disks.add(new ManagerListing.Disk(0, i, 0, 0, DiskState.FAILED));
            }
        }
        return disks;
    }

    private void run()
    {
        long nextHeartbeatMs = 0;
        while (running)
        {
            final long nowMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime());
            try
            {
                if (nowMs - nextHeartbeatMs >= 0)
                {
                    beat();
                    nextHeartbeatMs = nowMs + ctx.intervalMs;
                }
                else if (client != null)
                {
                    client.poll();
                }
            }
            catch (final RuntimeException ex)
            {
                failures++;
                lastError = ex.getMessage();
                CloseHelper.quietClose(client);
                client = null;
                nextHeartbeatMs = nowMs + ctx.intervalMs;
            }
            sleepMs(Math.min(Context.POLL_PERIOD_MS_DEFAULT, ctx.intervalMs));
        }
        CloseHelper.quietClose(client);
        client = null;
    }

    private void beat()
    {
        if (client == null)
        {
            final ManagerClient.Context clientCtx = new ManagerClient.Context()
                .managers(ctx.managers)
                .aeronDirectoryName(ctx.aeronDirectoryName)
                .egressChannel(ManagerRegistration.egressChannel(ctx.endpoint))
                .responseTimeoutNs(TimeUnit.MILLISECONDS.toNanos(Math.max(2 * ctx.intervalMs, 5_000)));
            if (ctx.credentials != null)
            {
                clientCtx.credentials(ctx.credentials);
            }
            client = ManagerClient.connect(clientCtx);
        }
        final List<ManagerListing.Disk> disks = readDisks(ctx.dataDirs, ctx.fullBelowBytes);
        try
        {
            client.heartbeat(ctx.nodeId, disks);
        }
        catch (final ManagerException ex)
        {
            if (ex.status() != ManagerStatus.NO_SUCH_NODE)
            {
                throw ex;
            }
            long capacity = 0;
            for (final ManagerListing.Disk disk : disks)
            {
                capacity += disk.capacityBytes();
            }
            client.registerNode(ctx.nodeId, ctx.endpoint, disks.size(), capacity, ctx.failureDomain);
            final NodeState state = client.heartbeat(ctx.nodeId, disks);
            lastError = "re-registered; now " + state;
        }
        heartbeatsSent++;
        if (null != ctx.collector)
        {
            ctx.collector.collect(client); // records its own failures: a heartbeat that got through counts
        }
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

    /**
     * @return heartbeats the manager accepted.
     */
    public long heartbeatsSent()
    {
        return heartbeatsSent;
    }

    /**
     * @return heartbeats that failed (the client reconnects for the next one).
     */
    public long failures()
    {
        return failures;
    }

    /**
     * @return the last failure's message, or a note about a re-registration.
     */
    public String lastError()
    {
        return lastError;
    }

    /**
     * Stops the thread (within one poll period plus a call in flight) and closes its client.
     */
    public void close()
    {
        running = false; // no interrupt: it could break an Aeron call in flight
        try
        {
            thread.join(TimeUnit.SECONDS.toMillis(15));
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
