package io.cairn.daemon;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.cairn.bindings.NativeIoException;
import io.cairn.config.ConfigTable;
import io.cairn.config.SystemdNotify;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.AeronMessageTransport;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.ReplicationAgent;
import io.cairn.replication.ReplicationConductor;
import io.cairn.replication.ReplicationCounters;
import io.cairn.replication.metrics.DutyCycleAgent;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.EventLog;
import io.cairn.replication.metrics.HealthCheck;
import io.cairn.replication.metrics.Metric;
import io.cairn.replication.metrics.MetricsEndpoint;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.ShutdownSignalBarrier;
import org.agrona.concurrent.SystemNanoClock;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The extent node daemon: recovers its extents, starts an embedded media driver, one replication agent
 * and one {@link DiskIoAgent} per data directory, optionally registers with the manager, and serves the
 * node protocol (see {@link ReplicationConductor}) until closed or SIGTERM.
 * <pre>
 * ExtentNode --node-id N --endpoint 127.0.0.1:PORT --data-dir DIR [--data-dir DIR2 ...]
 *            [--managers "0=host:port,1=host:port,2=host:port"] [--extent-size-bytes N]
 *            [--io-buffers N] [--threading SHARED|DEDICATED]
 * </pre>
 * Every flag is also a key of the TOML file given with {@code --config FILE} (flags override it); the settings
 * are declared once in {@link ExtentNodeConfig}. {@code --print-config} prints the effective configuration.
 * Prints exactly one line on stdout once serving: {@code cairn-node <id> ready endpoint=<endpoint>}, and tells
 * systemd {@code READY=1} under a Type=notify unit. On SIGTERM it drains (see {@link #drain(long)}), then stops.
 * Bad flags or config values print the problem (key, value, what is allowed) on stderr and exit with status 2.
 */
public final class ExtentNode implements AutoCloseable
{
    /** Exit status for bad flags. */
    public static final int EXIT_USAGE = 2;
    /** Exit status when a critical agent failed. */
    public static final int EXIT_CRITICAL = 70;

    /** Exit status when start-up failed (recovery, registration, a disk refused). */
    public static final int EXIT_START_FAILED = 1;
    /** While draining, the node stops once no append was acknowledged or replicated for this long. */
    public static final long DRAIN_QUIET_MS = 250;

    static final String USAGE_HEAD = """
        usage: cairn-node [--config FILE] --node-id N --endpoint HOST:PORT --data-dir DIR [--data-dir DIR ...] [flags]
               cairn-node format --node-id N --data-dir DIR [--data-dir DIR ...] [--upgrade]
               cairn-node stat --node-id N [--aeron-dir DIR]
        flags (each is also a key of the --config file):""";
    static final String USAGE = ExtentNodeConfig.TABLE.usage(USAGE_HEAD);

    private final Context ctx;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final ReplicationConductor conductor;
    private final IoUringReplicaStore store;
    private final List<AgentRunner> runners = new ArrayList<>();
    /** Liveness with the manager: null when the node runs without one (--managers absent). */
    private ManagerHeartbeat heartbeat;
    /** Re-replication worker: null when the node runs without a manager. */
    private ExtentRecoveryAgent recovery;
    /** Block repair: queue and per-disk slots made with the disk agents; the worker starts with the manager. */
    private BlockRepairQueue repairQueue;
    private RepairIo[] repairIos;
    private BlockRepairAgent repair;
    private ExtentDeleteAgent deleteAgent;
    private ExtentCollector collector;
    private final List<RecoveredExtent> recovered;
    private DiskCounters[] diskCounters;
    // --- metrics, health and error log (issue 7): wiring only, the classes live in io.cairn.replication.metrics ---
    private ErrorLogFile errorLog;
    private MetricsEndpoint metricsEndpoint;

    private ExtentNode(final Context ctx) throws IOException
    {
        this.ctx = ctx;
        final Path[] dirs = ctx.dataDirs().toArray(new Path[0]);
        recovered = new ArrayList<>();
        final DiskIoAgent[] disks = new DiskIoAgent[dirs.length];
        final List<List<RecoveredExtent>> perDisk = new ArrayList<>();
        MediaDriver launchedDriver = null;
        Aeron connected = null;
        try
        {
            final String[] recoveryFailures = new String[dirs.length];
            for (int d = 0; d < dirs.length; d++)
            {
                checkIdentity(ctx, dirs[d], d);
                ctx.storage().probeDirect(dirs[d]);
                final DiskRecovery found = recoverDisk(ctx, dirs[d], d);
                recoveryFailures[d] = found.failure();
                perDisk.add(found.extents());
                recovered.addAll(found.extents());
            }
            if (java.util.Arrays.stream(recoveryFailures).allMatch(java.util.Objects::nonNull))
            {
                throw new IOException("recovery failed on every data directory: " +
                    String.join("; ", recoveryFailures));
            }
            final MediaDriver.Context driverCtx = AeronDefaults.driverContext("node-" + ctx.nodeId())
                .aeronDirectoryName(ctx.aeronDirectoryName());
            if (Threading.SHARED == ctx.threading())
            {
                // One hot thread per node: the driver's duty cycle runs inside the node's composite agent.
                // A separate driver thread doubled the wake-ups competing for 2 cores with the other nodes.
                driverCtx.threadingMode(ThreadingMode.INVOKER);
            }
            launchedDriver = MediaDriver.launch(driverCtx);
            final Aeron.Context aeronCtx = new Aeron.Context().aeronDirectoryName(launchedDriver.aeronDirectoryName());
            if (null != launchedDriver.sharedAgentInvoker())
            {
                // Blocking client calls (addPublication from the replication agent) drive the driver themselves;
                // the client's conductor then runs in the composite too (Aeron requires both or neither).
                aeronCtx.driverAgentInvoker(launchedDriver.sharedAgentInvoker()).useConductorAgentInvoker(true);
            }
            connected = Aeron.connect(aeronCtx);
            final Aeron aeronForCounters = connected;
            // In the CnC file beside the disk counters: `cairn stat` and the Prometheus endpoint read them there.
            // Always this launch's own: counters of an earlier launch died with its driver.
            ctx.replication().counters(new ReplicationCounters(aeronForCounters::addCounter, "node=" + ctx.nodeId()));
            for (int d = 0; d < dirs.length; d++)
            {
                // Counters live in the driver's CnC file: `cairn-node stat` reads them while the node runs.
                final DiskCounters counters = new DiskCounters(aeronForCounters::addCounter, ctx.nodeId(), d,
                    dirs[d].toString());
                disks[d] = new DiskIoAgent(d, dirs[d], ctx.storage(), counters, ctx.diskConfig(d), perDisk.get(d),
                    SystemNanoClock.INSTANCE, ctx.log());
                if (null != recoveryFailures[d])
                {
                    disks[d].markFailed();
                }
            }
            if (null != ctx.managers())
            {
                // Before the agents start (their threads see the queue); repair needs the manager's replica lists.
                repairQueue = new BlockRepairQueue();
                repairIos = new RepairIo[disks.length];
                for (int d = 0; d < disks.length; d++)
                {
                    repairIos[d] = disks[d].enableRepair(repairQueue);
                }
            }
            store = new IoUringReplicaStore(disks, dirs, ctx.extentSizeBytes(),
                ctx.maxBlockLengthBytes() - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
            conductor = new ReplicationConductor(ctx.replication()
                .nodeId(ctx.nodeId())
                .endpoint(ctx.endpoint())
                .store(store)
                .transport(new AeronMessageTransport(connected)));
        }
        catch (final IOException | RuntimeException ex)
        {
            for (final DiskIoAgent disk : disks)
            {
                if (null != disk)
                {
                    disk.onClose();
                }
            }
            if (null == disks[0])
            {
                closeRecovered(ctx, recovered);
            }
            CloseHelper.quietCloseAll(connected, launchedDriver);
            throw ex;
        }
        driver = launchedDriver;
        aeron = connected;
        try
        {
            startObservability();
        }
        catch (final IOException | RuntimeException ex)
        {
            closeObservability();
            for (final DiskIoAgent disk : disks)
            {
                disk.onClose();
            }
            CloseHelper.quietCloseAll(aeron, driver);
            throw ex;
        }
        diskCounters = new DiskCounters[disks.length];
        for (int d = 0; d < disks.length; d++)
        {
            diskCounters[d] = disks[d].counters();
        }
        deleteAgent = new ExtentDeleteAgent(store);
        startAgents(new ReplicationAgent(aeron, conductor, SystemNanoClock.INSTANCE), disks);
    }

    /** The error log file, then (when configured) the metrics endpoint; both read or write beside the agents. */
    private void startObservability() throws IOException
    {
        errorLog = ErrorLogFile.create(ctx.errorLogDir(), ctx.errorLogLengthBytes(), System::currentTimeMillis);
        if (null != ctx.prometheusAddress())
        {
            final String labels = "node=" + ctx.nodeId();
            metricsEndpoint = MetricsEndpoint.start(ctx.prometheusAddress(), driver.aeronDirectoryName(), () -> List.of(
                MetricsEndpoint.series(Metric.ERRORS, java.util.Map.of("node", "" + ctx.nodeId()), errorLog.observations()),
                MetricsEndpoint.series(Metric.ERROR_LOG_DROPPED, java.util.Map.of("node", "" + ctx.nodeId()),
                    errorLog.dropped()),
                MetricsEndpoint.series(Metric.LOG_SUPPRESSED, java.util.Map.of("node", "" + ctx.nodeId()),
                    ctx.eventLog().suppressedTotal())), ctx.healthWindowMs());
            ctx.eventLog().info("metrics_endpoint_started", "address", metricsEndpoint.address(), "labels", labels);
        }
    }

    private void closeObservability()
    {
        CloseHelper.quietCloseAll(metricsEndpoint, errorLog);
        ctx.eventLog().flush();
    }

    /** @return the metrics endpoint's bound address, or null when it is off. */
    public java.net.InetSocketAddress metricsAddress()
    {
        return null == metricsEndpoint ? null : metricsEndpoint.address();
    }

    /** @return the error log file. */
    public java.io.File errorLogFile()
    {
        return errorLog.file();
    }

    /**
     * What recovery found on one data directory.
     *
     * @param extents the extents recovered (empty when it failed).
     * @param failure why recovery failed, or null.
     */
    record DiskRecovery(List<RecoveredExtent> extents, String failure)
    {
    }

    /**
     * Recover one data directory. An I/O error there (a disk failing under the scan) fails only that disk: the
     * node starts with it in state FAILED (no extents, takes no new ones) and serves from the others.
     *
     * @param ctx       configuration.
     * @param dir       the data directory.
     * @param diskIndex its index.
     * @return its extents, or the failure.
     */
    static DiskRecovery recoverDisk(final Context ctx, final Path dir, final int diskIndex)
    {
        try
        {
            return new DiskRecovery(ExtentFiles.recover(ctx.storage(), dir, diskIndex, ctx.log()), null);
        }
        catch (final IOException ex)
        {
            final String failure = "disk " + diskIndex + " (" + dir + "): I/O error during recovery: " + ex.getMessage();
            ctx.log().println("cairn-node " + ctx.nodeId() + ": " + failure + "; the disk is marked FAILED and the " +
                "node serves from the others");
            return new DiskRecovery(List.of(), failure);
        }
    }

    private static void checkIdentity(final Context ctx, final Path dir, final int diskId) throws IOException
    {
        if (ctx.formatIfEmpty() && !java.nio.file.Files.exists(dir.resolve(DiskFormat.COOKIE_FILE)) &&
            DiskFormat.isEmpty(dir))
        {
            final DiskFormat.Cookie cookie = DiskFormat.format(dir, ctx.nodeId(), diskId);
            ctx.log().println("cairn-node " + ctx.nodeId() + ": formatted empty " + dir + " as disk " + diskId +
                " (uuid " + cookie.uuid() + ")");
        }
        DiskFormat.verify(dir, ctx.nodeId(), diskId);
    }

    private static void closeRecovered(final Context ctx, final List<RecoveredExtent> recovered)
    {
        for (final RecoveredExtent r : recovered)
        {
            try
            {
                ctx.storage().close(r.fd());
            }
            catch (final NativeIoException ignore)
            {
                // Failing start-up anyway.
            }
        }
    }

    /**
     * Recover, start and serve.
     *
     * @param ctx configuration, concluded here.
     * @return the running node.
     * @throws IOException when a data directory cannot be recovered.
     */
    public static ExtentNode launch(final Context ctx) throws IOException
    {
        ctx.conclude();
        final ExtentNode node = new ExtentNode(ctx);
        try
        {
            if (null != ctx.managers())
            {
                ManagerRegistration.register(ctx.managers(), node.driver.aeronDirectoryName(), ctx.nodeId(),
                    ctx.endpoint(), ctx.dataDirs());
                // Without heartbeats the manager never marks this node dead, so it would keep placing extents here.
                node.collector = new ExtentCollector(ctx.nodeId(), ctx.dataDirs(), node.deleteAgent, ctx.log());
                node.heartbeat = ManagerHeartbeat.start(new ManagerHeartbeat.Context()
                    .collector(node.collector)
                    .managers(ctx.managers())
                    .aeronDirectoryName(node.driver.aeronDirectoryName())
                    .nodeId(ctx.nodeId())
                    .endpoint(ctx.endpoint())
                    .dataDirs(ctx.dataDirs()));
                node.recovery = ExtentRecoveryAgent.start(new ExtentRecoveryAgent.Context()
                    .nodeId(ctx.nodeId())
                    .endpoint(ctx.endpoint())
                    .pollIntervalMs(ctx.recoveryPollMs())
                    .claimLeaseMs(ctx.recoveryLeaseMs())
                    .progressIntervalMs(Math.min(ExtentRecoveryAgent.Context.PROGRESS_INTERVAL_MS_DEFAULT,
                        ctx.recoveryLeaseMs() / 4))
                    .nodeTimeoutMs(Math.min(ExtentRecoveryAgent.Context.NODE_TIMEOUT_MS_DEFAULT,
                        ctx.recoveryLeaseMs() / 4))
                    .collector(node.collector)
                    .log(ctx.log()), ctx.managers(), node.driver.aeronDirectoryName(), null);
                node.repair = BlockRepairAgent.start(new BlockRepairAgent.Context()
                    .nodeId(ctx.nodeId())
                    .blocksPerSecond(ctx.repairBlocksPerSecond())
                    .log(ctx.log()), node.repairQueue, node.repairIos, node.diskCounters, ctx.managers(),
                    node.driver.aeronDirectoryName(), ctx.endpoint().substring(0, ctx.endpoint().lastIndexOf(':')));
                node.collector.recoveringExtent(node.recovery::activeExtentId);
            }
        }
        catch (final Exception ex)
        {
            node.close();
            throw new IOException("registration with the manager failed: " + ex.getMessage(), ex);
        }
        return node;
    }

    private void startAgents(final ReplicationAgent replication, final DiskIoAgent[] disks)
    {
        final ErrorHandler configured = ctx.errorHandler();
        final ErrorLogFile errors = errorLog;
        // Recorded first, so even a critical error that halts the process is in the error log for `cairn errors`.
        final ErrorHandler errorHandler = error ->
        {
            errors.onError(error);
            configured.onError(error);
        };
        final DutyCycleAgent dutyCycles = DutyCycleAgent.allocate(aeron::addCounter, "node=" + ctx.nodeId());
        if (ctx.threading() == Threading.SHARED)
        {
            final Agent[] all = new Agent[disks.length + 4];
            all[0] = new InvokerAgent(driver.sharedAgentInvoker(), "media-driver");
            all[1] = new InvokerAgent(aeron.conductorAgentInvoker(), "aeron-client-conductor");
            all[2] = new CompositeAgent(replication, deleteAgent); // the store's one thread
            all[3] = dutyCycles;
            System.arraycopy(disks, 0, all, 4, disks.length);
            // Sleeping while a disk has I/O in flight is a wait for its completion (woken by the disk).
            runners.add(new AgentRunner(DiskIdleStrategy.forDisks(disks), errorHandler, null, new CompositeAgent(all)));
        }
        else
        {
            runners.add(new AgentRunner(AeronDefaults.idleStrategy(), errorHandler, null,
                new CompositeAgent(replication, deleteAgent, dutyCycles)));
            for (final DiskIoAgent disk : disks)
            {
                runners.add(new AgentRunner(DiskIdleStrategy.forDisks(disk), errorHandler, null, disk));
            }
        }
        for (final AgentRunner runner : runners)
        {
            AgentRunner.startOnThread(runner);
        }
    }

    /** Runs an invoker-mode duty cycle (the embedded driver, the Aeron client conductor) inside the composite. */
    private record InvokerAgent(AgentInvoker invoker, String roleName) implements Agent
    {
        public int doWork()
        {
            return invoker.invoke();
        }
    }

    /**
     * @return the configuration.
     */
    public Context context()
    {
        return ctx;
    }

    /**
     * @return the replication counters (readable from any thread).
     */
    public ReplicationCounters counters()
    {
        return conductor.counters();
    }

    /**
     * @return the extent collector (deletes garbage and orphan extent files), or null without a manager.
     */
    public ExtentCollector collector()
    {
        return collector;
    }

    /**
     * @return extents found at start.
     */
    public List<RecoveredExtent> recoveredExtents()
    {
        return recovered;
    }

    /**
     * @return errors reported by the agents so far.
     */
    public long errorCount()
    {
        return ctx.errorCount().get();
    }

    /**
     * Graceful shutdown's first half: stop heart-beating (so the manager stops counting on this node) but keep
     * serving until appends and replications in flight are done: no append was acknowledged or replicated for
     * {@link #DRAIN_QUIET_MS}, or {@code timeoutMs} passed. Safe either way: an append is acknowledged only once
     * durable on all three replicas, and what is still in flight when the agents stop is never acknowledged (its
     * writer times out and seals the extent at the acknowledged length).
     *
     * @param timeoutMs the longest wait ({@code shutdown-drain-ms}).
     * @return appends acknowledged plus blocks replicated during the drain.
     * @throws InterruptedException if interrupted while waiting.
     */
    public long drain(final long timeoutMs) throws InterruptedException
    {
        CloseHelper.quietClose(heartbeat);
        heartbeat = null;
        final long start = progress();
        final long deadlineMs = System.currentTimeMillis() + timeoutMs;
        long last = start;
        long lastChangeMs = System.currentTimeMillis();
        while (true)
        {
            final long nowMs = System.currentTimeMillis();
            final long current = progress();
            if (current != last)
            {
                last = current;
                lastChangeMs = nowMs;
            }
            if (nowMs - lastChangeMs >= DRAIN_QUIET_MS || nowMs >= deadlineMs)
            {
                return current - start;
            }
            Thread.sleep(10);
        }
    }

    private long progress()
    {
        final ReplicationCounters counters = conductor.counters();
        return counters.get(ReplicationCounters.Counter.APPENDS_ACKED) +
            counters.get(ReplicationCounters.Counter.REPLICATES_WRITTEN);
    }

    /**
     * Stop the agents (disk agents reap what is in flight and close their files), then Aeron and the driver.
     */
    public void close()
    {
        CloseHelper.quietClose(recovery); // Its Aeron clients use this node's driver: close them first.
        CloseHelper.quietClose(repair); // Likewise; and it waits on the disk agents, which stop next.
        CloseHelper.quietClose(heartbeat);
        CloseHelper.closeAll(runners);
        closeObservability();
        CloseHelper.quietCloseAll(aeron, driver);
    }

    /**
     * @param args see {@link #USAGE}.
     */
    public static void main(final String[] args)
    {
        if (args.length > 0 && "format".equals(args[0]))
        {
            System.exit(DiskFormatCommand.run(java.util.Arrays.copyOfRange(args, 1, args.length)));
            return;
        }
        if (args.length > 0 && "stat".equals(args[0]))
        {
            System.exit(DiskStat.run(java.util.Arrays.copyOfRange(args, 1, args.length), System.out));
            return;
        }
        final ConfigTable.CommandLine<Context> commandLine;
        final Context ctx;
        try
        {
            commandLine = ExtentNodeConfig.TABLE.parse(args);
            if (commandLine.help())
            {
                System.out.print(USAGE);
                return;
            }
            ctx = commandLine.context().conclude();
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-node: " + ex.getMessage());
            System.err.println("(cairn-node --help lists every flag and config key)");
            System.exit(EXIT_USAGE);
            return;
        }
        if (commandLine.printConfig())
        {
            System.out.print(ExtentNodeConfig.TABLE.render(ctx, "effective configuration of cairn-node " +
                ctx.nodeId() + (null == commandLine.configFile() ? "" : " (file " + commandLine.configFile() + ")")));
            return;
        }
        System.exit(run(ctx));
    }

    @SuppressWarnings("try")
    private static int run(final Context ctx)
    {
        final String prefix = "cairn-node " + ctx.nodeId() + ": ";
        ctx.errorHandler(error ->
        {
            // A critical agent failed (an invariant, an fsync error): stop rather than serve on.
            System.err.println(prefix + "critical error, exiting");
            error.printStackTrace(System.err);
            Runtime.getRuntime().halt(EXIT_CRITICAL);
        });
        // Closed last: the SIGTERM hook waits for it, so the node is shut down (and says so) before the JVM exits.
        try (ShutdownSignalBarrier barrier = new ShutdownSignalBarrier())
        {
            try (ExtentNode node = launch(ctx))
            {
                System.out.println("cairn-node " + ctx.nodeId() + " ready endpoint=" + ctx.endpoint());
                System.out.flush();
                SystemdNotify.notify("READY=1\nSTATUS=serving on " + ctx.endpoint());
                barrier.await();
                SystemdNotify.notify("STOPPING=1\nSTATUS=draining");
                System.err.println(prefix + "SIGTERM: draining (at most " + ctx.shutdownDrainMs() + " ms)");
                final long drained = node.drain(ctx.shutdownDrainMs());
                System.err.println(prefix + "drained (" + drained + " appends and replicates completed meanwhile); " +
                    "stopping agents");
            }
            System.err.println(prefix + "stopped cleanly");
            return 0;
        }
        catch (final IOException | RuntimeException ex)
        {
            System.err.println(prefix + ex.getMessage());
            return EXIT_START_FAILED;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            System.err.println(prefix + "interrupted while draining");
            return EXIT_START_FAILED;
        }
    }

    /**
     * Parse command-line flags (and the --config file they name) into a context (not yet concluded).
     *
     * @param args flags.
     * @return the context.
     * @throws IllegalArgumentException naming the flag that is wrong.
     */
    public static Context parse(final String[] args)
    {
        return ExtentNodeConfig.TABLE.parse(args).context();
    }

    /** How the agents are mapped onto threads. */
    public enum Threading
    {
        /** All agents on one thread with the backoff idle strategy (the default, for 2 cores). */
        SHARED,
        /** One thread per agent. */
        DEDICATED
    }

    /**
     * Configuration of an extent node: named defaults, fluent setters, one {@link #conclude()}.
     */
    public static final class Context
    {
        /** Default extent size limit: 1 GiB (files grow by preallocation steps, not all at once). */
        public static final long EXTENT_SIZE_BYTES_DEFAULT = 1L << 30;
        /** Default preallocation step: 64 MiB. */
        public static final long PREALLOC_STEP_BYTES_DEFAULT = 64L * 1024 * 1024;
        /** Default largest block: what one network append can carry (header + 1 MiB, aligned). */
        public static final int MAX_BLOCK_LENGTH_BYTES_DEFAULT = BlockFormat.MAX_BLOCK_LENGTH_BYTES;
        /** Default most commands in one group commit. */
        public static final int MAX_BATCH_COMMANDS_DEFAULT = 64;
        /** Default most bytes in one group commit: 8 MiB. */
        public static final long MAX_BATCH_BYTES_DEFAULT = 8L * 1024 * 1024;
        /** Default durable growth between checkpoints: 16 MiB (bounds the verification scan at start). */
        public static final long CHECKPOINT_INTERVAL_BYTES_DEFAULT = 16L * 1024 * 1024;
        /** Smallest extent: the header plus one largest block. */
        public static final long EXTENT_SIZE_BYTES_MIN =
            BlockFormat.EXTENT_HEADER_LENGTH_BYTES + (long)BlockFormat.MAX_BLOCK_LENGTH_BYTES;
        /** Largest extent: 1 TiB. */
        public static final long EXTENT_SIZE_BYTES_MAX = 1L << 40;
        /** Default aligned I/O buffers per data directory (each holds one largest block, ~1 MiB). */
        public static final int IO_BUFFER_COUNT_DEFAULT = 32;
        /** Default io_uring submission entries per data directory. */
        public static final int RING_ENTRIES_DEFAULT = 256;
        /** Default longest drain at SIGTERM: 5 s, well inside systemd's stop timeout. */
        public static final long SHUTDOWN_DRAIN_MS_DEFAULT = 5_000;

        private boolean concluded;
        private int nodeId;
        private String endpoint;
        private final List<Path> dataDirs = new ArrayList<>();
        private String managers;
        private long extentSizeBytes = EXTENT_SIZE_BYTES_DEFAULT;
        private int ioBufferCount = IO_BUFFER_COUNT_DEFAULT;
        private int ringEntries = RING_ENTRIES_DEFAULT;
        private int maxBlockLengthBytes = MAX_BLOCK_LENGTH_BYTES_DEFAULT;
        private long preallocStepBytes = PREALLOC_STEP_BYTES_DEFAULT;
        private int maxBatchCommands = MAX_BATCH_COMMANDS_DEFAULT;
        private long maxBatchBytes = MAX_BATCH_BYTES_DEFAULT;
        private long checkpointIntervalBytes = CHECKPOINT_INTERVAL_BYTES_DEFAULT;
        private boolean formatIfEmpty;
        private long shutdownDrainMs = SHUTDOWN_DRAIN_MS_DEFAULT;
        private long scrubBytesPerSecond;
        private int repairBlocksPerSecond = BlockRepairAgent.Context.BLOCKS_PER_SECOND_DEFAULT;
        private long recoveryPollMs = ExtentRecoveryAgent.Context.POLL_INTERVAL_MS_DEFAULT;
        private long recoveryLeaseMs = ExtentRecoveryAgent.Context.CLAIM_LEASE_MS_DEFAULT;
        private boolean fixedBuffers;
        private boolean sqPoll;
        private int[] diskCpus;
        private final int cpuCount = Runtime.getRuntime().availableProcessors();
        private DiskStorage storage = UringDiskStorage.INSTANCE;
        private Threading threading = Threading.SHARED;
        private String aeronDirectoryName;
        private ReplicationConductor.Context replication = new ReplicationConductor.Context();
        private PrintStream log = System.err;
        private final AtomicLong errorCount = new AtomicLong();
        private ErrorHandler errorHandler;
        // --- metrics, health and error log (issue 7) ---
        private java.net.InetSocketAddress prometheusAddress;
        private Path errorLogDir;
        private int errorLogLengthBytes = ErrorLogFile.LENGTH_BYTES_DEFAULT;
        private long healthWindowMs = HealthCheck.WINDOW_MS_DEFAULT;
        private EventLog eventLog;

        /**
         * @param address where the Prometheus {@code /metrics} and {@code /health} endpoint listens
         *                (--prometheus-address); null (the default) turns it off.
         * @return this.
         */
        public Context prometheusAddress(final java.net.InetSocketAddress address)
        {
            this.prometheusAddress = address;
            return this;
        }

        /** @return the endpoint's address, or null when off. */
        public java.net.InetSocketAddress prometheusAddress()
        {
            return prometheusAddress;
        }

        /**
         * @param dir where the distinct error log {@value ErrorLogFile#FILE_NAME} goes (--error-log-dir); default the
         *            node's Aeron directory (removed at a clean shutdown: give a persistent one in production).
         * @return this.
         */
        public Context errorLogDir(final Path dir)
        {
            this.errorLogDir = dir;
            return this;
        }

        /** @return the error log's directory. */
        public Path errorLogDir()
        {
            return errorLogDir;
        }

        /** @param bytes the error log's length (--error-log-bytes). @return this. */
        public Context errorLogLengthBytes(final int bytes)
        {
            this.errorLogLengthBytes = bytes;
            return this;
        }

        /** @return the error log's length. */
        public int errorLogLengthBytes()
        {
            return errorLogLengthBytes;
        }

        /** @param ms sampling window of the endpoint's {@code /health} (--health-window-ms). @return this. */
        public Context healthWindowMs(final long ms)
        {
            this.healthWindowMs = ms;
            return this;
        }

        /** @return sampling window of {@code /health}. */
        public long healthWindowMs()
        {
            return healthWindowMs;
        }

        /** @param eventLog structured, rate-limited event lines; default to {@link #log()}. @return this. */
        public Context eventLog(final EventLog eventLog)
        {
            this.eventLog = eventLog;
            return this;
        }

        /** @return structured, rate-limited event lines. */
        public EventLog eventLog()
        {
            return eventLog;
        }
        // --- end of issue 7 fields ---

        /**
         * Validate every value; idempotent.
         *
         * @return this.
         * @throws IllegalArgumentException naming the flag, its value and the allowed range.
         */
        public Context conclude()
        {
            if (concluded)
            {
                return this;
            }
            // Each setting's own rules live in the option table, shared with flags and config files.
            require(null != threading, "--threading: must be SHARED or DEDICATED");
            ExtentNodeConfig.TABLE.validate(this);
            require(Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1)) <= 65535,
                "--endpoint " + endpoint + ": must be host:port with port in [0, 65535]");
            if (null != diskCpus)
            {
                // In SHARED threading every disk agent runs on the node's one thread: there is no disk thread to pin.
                require(threading == Threading.DEDICATED,
                    "--disk-cpus: needs --threading DEDICATED (in SHARED threading all agents share one thread)");
                require(diskCpus.length == dataDirs.size(), "--disk-cpus: give one CPU per --data-dir (" +
                    dataDirs.size() + "), got " + diskCpus.length);
                for (final int cpu : diskCpus)
                {
                    require(cpu >= 0 && cpu < cpuCount, "--disk-cpus: CPU " + cpu + " is not in [0, " + cpuCount + ")");
                }
            }
            if (null == aeronDirectoryName)
            {
                aeronDirectoryName = AeronDefaults.aeronDirectory("node-" + nodeId);
            }
            // --- metrics, health and error log (issue 7) ---
            ErrorLogFile.validateLength("--error-log-bytes", errorLogLengthBytes);
            require(healthWindowMs >= 1 && healthWindowMs <= HealthCheck.WINDOW_MS_MAX,
                "--health-window-ms " + healthWindowMs + ": must be in [1, " + HealthCheck.WINDOW_MS_MAX + "]");
            if (null == errorLogDir)
            {
                errorLogDir = Path.of(aeronDirectoryName);
            }
            if (null == eventLog)
            {
                eventLog = EventLog.forDaemon("cairn-node-" + nodeId, log);
            }
            // --- end of issue 7 ---
            if (null == errorHandler)
            {
                final EventLog events = eventLog;
                errorHandler = error ->
                {
                    errorCount.incrementAndGet();
                    // Rate-limited: a repeating error shows a few lines and a suppressed count; every one of them
                    // is in the distinct error log with its count (cairn errors).
                    if (events.error("agent_error", "error", error.toString()))
                    {
                        error.printStackTrace(log);
                    }
                };
            }
            concluded = true;
            return this;
        }

        private static void require(final boolean ok, final String message)
        {
            if (!ok)
            {
                throw new IllegalArgumentException(message);
            }
        }

        /** @return the settings of the I/O agents (without a CPU to pin to). */
        public DiskIoAgent.Config diskConfig()
        {
            return diskConfig(-1);
        }

        /** @param diskIndex a data directory's index, or -1. @return the settings of that disk's I/O agent. */
        public DiskIoAgent.Config diskConfig(final int diskIndex)
        {
            return new DiskIoAgent.Config(ioBufferCount, maxBlockLengthBytes, ringEntries, maxBatchCommands,
                maxBatchBytes, preallocStepBytes, checkpointIntervalBytes, scrubBytesPerSecond, fixedBuffers, sqPoll,
                null == diskCpus || diskIndex < 0 ? -1 : diskCpus[diskIndex]);
        }

        /** @param ms how often the re-replication worker polls the manager's task list. @return this. */
        public Context recoveryPollMs(final long ms)
        {
            this.recoveryPollMs = ms;
            return this;
        }

        /** @return how often the re-replication worker polls the task list (--recovery-poll-ms). */
        public long recoveryPollMs()
        {
            return recoveryPollMs;
        }

        /** @param ms claim lease of a recovery task (extended by progress reports). @return this. */
        public Context recoveryLeaseMs(final long ms)
        {
            this.recoveryLeaseMs = ms;
            return this;
        }

        /** @return claim lease of a recovery task (--recovery-lease-ms). */
        public long recoveryLeaseMs()
        {
            return recoveryLeaseMs;
        }

        /**
         * @param bytesPerSecond average rate of the background scrubber that re-reads and verifies every block of
         *                       sealed extents (--scrub-bytes-per-sec); 0 = off (default).
         * @return this.
         */
        public Context scrubBytesPerSecond(final long bytesPerSecond)
        {
            this.scrubBytesPerSecond = bytesPerSecond;
            return this;
        }

        /** @return scrub rate, 0 = off. */
        public long scrubBytesPerSecond()
        {
            return scrubBytesPerSecond;
        }

        /**
         * @param count repairs of bad blocks (from a good replica) started per second at most
         *              (--repair-blocks-per-sec); default {@link BlockRepairAgent.Context#BLOCKS_PER_SECOND_DEFAULT}.
         * @return this.
         */
        public Context repairBlocksPerSecond(final int count)
        {
            this.repairBlocksPerSecond = count;
            return this;
        }

        /** @return repairs started per second at most. */
        public int repairBlocksPerSecond()
        {
            return repairBlocksPerSecond;
        }

        /** @param fixed register each disk's buffers with io_uring (--fixed-buffers). @return this. */
        public Context fixedBuffers(final boolean fixed)
        {
            this.fixedBuffers = fixed;
            return this;
        }

        /** @return whether buffers are registered with io_uring. */
        public boolean fixedBuffers()
        {
            return fixedBuffers;
        }

        /** @param sqPoll a kernel SQ polling thread per disk ring (--sqpoll); start fails if refused. @return this. */
        public Context sqPoll(final boolean sqPoll)
        {
            this.sqPoll = sqPoll;
            return this;
        }

        /** @return whether the rings use SQPOLL. */
        public boolean sqPoll()
        {
            return sqPoll;
        }

        /**
         * @param cpus one CPU per data directory, in order, each disk's I/O thread pinned to it (--disk-cpus);
         *             DEDICATED threading only.
         * @return this.
         */
        public Context diskCpus(final int[] cpus)
        {
            this.diskCpus = cpus;
            return this;
        }

        /** @return the CPUs of the disks' I/O threads, or null. */
        public int[] diskCpus()
        {
            return diskCpus;
        }

        /** @param bytes largest block, header included (--max-block-bytes). @return this. */
        public Context maxBlockLengthBytes(final int bytes)
        {
            this.maxBlockLengthBytes = bytes;
            return this;
        }

        /** @return largest block, header included. */
        public int maxBlockLengthBytes()
        {
            return maxBlockLengthBytes;
        }

        /** @param bytes how much an extent file grows by at a time (--prealloc-step-bytes). @return this. */
        public Context preallocStepBytes(final long bytes)
        {
            this.preallocStepBytes = bytes;
            return this;
        }

        /** @return how much an extent file grows by at a time. */
        public long preallocStepBytes()
        {
            return preallocStepBytes;
        }

        /** @param count most commands per group commit (--batch-max-commands). @return this. */
        public Context maxBatchCommands(final int count)
        {
            this.maxBatchCommands = count;
            return this;
        }

        /** @return most commands per group commit. */
        public int maxBatchCommands()
        {
            return maxBatchCommands;
        }

        /** @param bytes most bytes per group commit (--batch-max-bytes). @return this. */
        public Context maxBatchBytes(final long bytes)
        {
            this.maxBatchBytes = bytes;
            return this;
        }

        /** @return most bytes per group commit. */
        public long maxBatchBytes()
        {
            return maxBatchBytes;
        }

        /** @param bytes durable growth between checkpoints (--checkpoint-interval-bytes). @return this. */
        public Context checkpointIntervalBytes(final long bytes)
        {
            this.checkpointIntervalBytes = bytes;
            return this;
        }

        /** @return durable growth between checkpoints. */
        public long checkpointIntervalBytes()
        {
            return checkpointIntervalBytes;
        }

        /** @param ms longest drain at SIGTERM before the agents stop (shutdown-drain-ms). @return this. */
        public Context shutdownDrainMs(final long ms)
        {
            this.shutdownDrainMs = ms;
            return this;
        }

        /** @return longest drain at SIGTERM. */
        public long shutdownDrainMs()
        {
            return shutdownDrainMs;
        }

        /** @param formatIfEmpty format a data directory that is empty or absent (--format-if-empty). @return this. */
        public Context formatIfEmpty(final boolean formatIfEmpty)
        {
            this.formatIfEmpty = formatIfEmpty;
            return this;
        }

        /** @return whether empty data directories are formatted at start. */
        public boolean formatIfEmpty()
        {
            return formatIfEmpty;
        }

        /** @param storage the file system (tests pass a simulated one). @return this. */
        public Context storage(final DiskStorage storage)
        {
            this.storage = storage;
            return this;
        }

        /** @return the file system. */
        public DiskStorage storage()
        {
            return storage;
        }

        /** @param nodeId this node's id (--node-id), &gt; 0. @return this. */
        public Context nodeId(final int nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /** @return this node's id. */
        public int nodeId()
        {
            return nodeId;
        }

        /** @param endpoint host:port of the request channel (--endpoint). @return this. */
        public Context endpoint(final String endpoint)
        {
            this.endpoint = endpoint;
            return this;
        }

        /** @return host:port of the request channel. */
        public String endpoint()
        {
            return endpoint;
        }

        /** @return the data directories (--data-dir, repeatable), mutable before conclude. */
        public List<Path> dataDirs()
        {
            return dataDirs;
        }

        /** @param dir add a data directory (one I/O agent and ring each). @return this. */
        public Context dataDir(final Path dir)
        {
            dataDirs.add(dir);
            return this;
        }

        /** @param managers manager members (--managers); null skips registration. @return this. */
        public Context managers(final String managers)
        {
            this.managers = managers;
            return this;
        }

        /** @return manager members, or null. */
        public String managers()
        {
            return managers;
        }

        /** @param extentSizeBytes preallocated size of new extents (--extent-size-bytes). @return this. */
        public Context extentSizeBytes(final long extentSizeBytes)
        {
            this.extentSizeBytes = extentSizeBytes;
            return this;
        }

        /** @return preallocated size of new extents. */
        public long extentSizeBytes()
        {
            return extentSizeBytes;
        }

        /** @param ioBufferCount aligned I/O buffers per data directory (--io-buffers). @return this. */
        public Context ioBufferCount(final int ioBufferCount)
        {
            this.ioBufferCount = ioBufferCount;
            return this;
        }

        /** @return aligned I/O buffers per data directory. */
        public int ioBufferCount()
        {
            return ioBufferCount;
        }

        /** @param ringEntries io_uring entries per data directory. @return this. */
        public Context ringEntries(final int ringEntries)
        {
            this.ringEntries = ringEntries;
            return this;
        }

        /** @return io_uring entries per data directory. */
        public int ringEntries()
        {
            return ringEntries;
        }

        /** @param threading SHARED (default) or DEDICATED (--threading). @return this. */
        public Context threading(final Threading threading)
        {
            this.threading = threading;
            return this;
        }

        /** @return the threading mode. */
        public Threading threading()
        {
            return threading;
        }

        /** @param aeronDirectoryName the embedded driver's directory; default under /dev/shm. @return this. */
        public Context aeronDirectoryName(final String aeronDirectoryName)
        {
            this.aeronDirectoryName = aeronDirectoryName;
            return this;
        }

        /** @return the embedded driver's directory. */
        public String aeronDirectoryName()
        {
            return aeronDirectoryName;
        }

        /**
         * @param replication protocol limits and timeouts; nodeId, endpoint, store and transport are set by
         *                    the node.
         * @return this.
         */
        public Context replication(final ReplicationConductor.Context replication)
        {
            this.replication = replication;
            return this;
        }

        /** @return protocol limits and timeouts. */
        public ReplicationConductor.Context replication()
        {
            return replication;
        }

        /** @param log where recovery and errors are reported; default stderr. @return this. */
        public Context log(final PrintStream log)
        {
            this.log = log;
            return this;
        }

        /** @return where recovery and errors are reported. */
        public PrintStream log()
        {
            return log;
        }

        /** @param errorHandler receives agent errors; default logs and counts. @return this. */
        public Context errorHandler(final ErrorHandler errorHandler)
        {
            this.errorHandler = errorHandler;
            return this;
        }

        /** @return receives agent errors. */
        public ErrorHandler errorHandler()
        {
            return errorHandler;
        }

        /** @return errors counted by the default error handler. */
        public AtomicLong errorCount()
        {
            return errorCount;
        }
    }
}
