package io.cairn.manager;

import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveMarkFile;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.cluster.ClusteredMediaDriver;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.service.ClusterMarkFile;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.aeron.driver.MediaDriver;
import io.cairn.config.ConfigTable;
import io.cairn.config.SystemdNotify;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.EventLog;
import io.cairn.replication.metrics.HealthCheck;
import io.cairn.replication.metrics.Metric;
import io.cairn.replication.metrics.MetricsEndpoint;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.NoOpLock;
import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * One manager cluster member: a process running an Aeron media driver, archive and consensus module
 * ({@link ClusteredMediaDriver}) plus a {@link ClusteredServiceContainer} hosting {@link ManagerService}.
 * <p>
 * Command line: {@code --member-id N --managers "0=127.0.0.1:20110,1=127.0.0.1:20120,2=127.0.0.1:20130" --dir DIR}.
 * Each member's entry names its port base, from which it uses (see {@link ManagerEndpoints}):
 * <ul>
 *   <li>base + 0: client ingress (the port clients name);</li>
 *   <li>base + 1: consensus between members;</li>
 *   <li>base + 2: the replicated log;</li>
 *   <li>base + 3: follower catch-up;</li>
 *   <li>base + 4: archive control.</li>
 * </ul>
 * State lives in {@code DIR/cluster} and {@code DIR/archive} and survives restarts; the Aeron directory is under
 * /dev/shm, per member and port base, and is recreated on start. On startup the member holds an exclusive lock on
 * {@code DIR/member.lock}; while it holds it no other live process owns {@code DIR}, so Aeron mark files left there
 * by a predecessor killed with SIGKILL are stale and are removed. Otherwise Aeron refuses to start for 10 s after a
 * kill ("active mark file detected").
 * <p>
 * Every flag is also a key of the TOML file given with {@code --config FILE} (flags override it); the settings are
 * declared once in {@link ManagerMemberConfig}; {@code --print-config} prints the effective configuration.
 * Prints {@code cairn-manager <id> ready} on stdout once launched (and tells systemd {@code READY=1} under a
 * Type=notify unit); SIGTERM or SIGINT shut it down cleanly.
 * Exit codes: 0 after a clean shutdown, 1 when launching failed, 2 for bad flags or config values.
 */
public final class ManagerMember implements AutoCloseable
{
    /** Printed (with the member id) on stdout once the member is launched. */
    public static final String READY_FORMAT = "cairn-manager %d ready";
    /** File in the member directory locked while a member process runs on it. */
    public static final String LOCK_FILENAME = "member.lock";

    /**
     * Default archive/consensus file sync level: 1, so a command is acknowledged only once a majority has
     * forced it to disk. Aeron's own default (0) would lose acknowledged metadata if a majority lost power.
     */
    public static final int FILE_SYNC_LEVEL_DEFAULT = 1;

    /** Environment variable holding the role secrets when {@code --secrets} is not given. */
    public static final String SECRETS_ENV = "CAIRN_MANAGER_SECRETS";

    static final String USAGE = ManagerMemberConfig.TABLE.usage("""
        usage: cairn-manager [--config FILE] --member-id N --managers "0=host:port,1=host:port,2=host:port" \
        --dir DIR [flags]
        flags (each is also a key of the --config file):""");

    /**
     * Configuration of a member. Defaults follow TOOLCHAIN.md's measured fast-failover settings.
     */
    public static final class Context
    {
        /** Leader heartbeat timeout: failover takes about twice this. */
        public static final long LEADER_HEARTBEAT_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(1);
        /** Leader heartbeat interval. */
        public static final long LEADER_HEARTBEAT_INTERVAL_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(100);
        /** Election timeout. */
        public static final long ELECTION_TIMEOUT_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(500);
        /** Term length of the replicated log: small, the manager's commands are small. */
        public static final int LOG_TERM_LENGTH_BYTES_DEFAULT = 256 * 1024;
        /**
         * Term length of the driver's other publications, egress included: an answer may be up to
         * {@link ManagerStateMachine#RESPONSE_BUFFER_LENGTH_MIN} bytes and a message is at most a term / 8.
         */
        public static final int PUBLICATION_TERM_LENGTH_BYTES_DEFAULT = 1024 * 1024;
        /** Archive segment file length. */
        public static final int ARCHIVE_SEGMENT_FILE_LENGTH_BYTES_DEFAULT = 1024 * 1024;
        /** Concurrent client sessions: every extent node and client holds one. */
        public static final int MAX_CONCURRENT_SESSIONS_DEFAULT = ManagerStateMachine.MAX_NODES + 64;

        private int memberId = -1;
        private String managers;
        private File dir;
        private String aeronDirectoryName;
        private long leaderHeartbeatTimeoutNs = LEADER_HEARTBEAT_TIMEOUT_NS_DEFAULT;
        private long leaderHeartbeatIntervalNs = LEADER_HEARTBEAT_INTERVAL_NS_DEFAULT;
        private long electionTimeoutNs = ELECTION_TIMEOUT_NS_DEFAULT;
        private int logTermLengthBytes = LOG_TERM_LENGTH_BYTES_DEFAULT;
        private int publicationTermLengthBytes = PUBLICATION_TERM_LENGTH_BYTES_DEFAULT;
        private int archiveSegmentFileLengthBytes = ARCHIVE_SEGMENT_FILE_LENGTH_BYTES_DEFAULT;
        private int maxConcurrentSessions = MAX_CONCURRENT_SESSIONS_DEFAULT;
        private Runnable terminationHook = () -> {};
        private String secrets = ManagerAuthenticator.SECRETS_DEFAULT;
        private long suspectTimeoutMs = ManagerStateMachine.SUSPECT_TIMEOUT_MS_DEFAULT;
        private long deadTimeoutMs = ManagerStateMachine.DEAD_TIMEOUT_MS_DEFAULT;
        private long snapshotIntervalBytes = ManagerService.SNAPSHOT_INTERVAL_BYTES_DEFAULT;
        private int fileSyncLevel = FILE_SYNC_LEVEL_DEFAULT;

        /**
         * @param secrets role secrets, {@code "client=S1,admin=S2"}; see {@link ManagerAuthenticator}.
         * @return this.
         */
        public Context secrets(final String secrets)
        {
            this.secrets = secrets;
            return this;
        }

        /**
         * @return the role secrets.
         */
        public String secrets()
        {
            return secrets;
        }

        /**
         * @param ms time without a heartbeat after which a node is SUSPECT; must be equal on every member.
         * @return this.
         */
        public Context suspectTimeoutMs(final long ms)
        {
            this.suspectTimeoutMs = ms;
            return this;
        }

        /**
         * @return the suspect timeout.
         */
        public long suspectTimeoutMs()
        {
            return suspectTimeoutMs;
        }

        /**
         * @param ms time without a heartbeat after which a node is DEAD; must be equal on every member.
         * @return this.
         */
        public Context deadTimeoutMs(final long ms)
        {
            this.deadTimeoutMs = ms;
            return this;
        }

        /**
         * @return the dead timeout.
         */
        public long deadTimeoutMs()
        {
            return deadTimeoutMs;
        }

        /**
         * @param level 0: the archive never forces the log to disk (a simultaneous power loss of a majority
         *              loses acknowledged commands); 1: data is forced before it counts as recorded, so a
         *              command is acknowledged only once a majority has it on disk; 2: data and metadata.
         * @return this.
         */
        public Context fileSyncLevel(final int level)
        {
            this.fileSyncLevel = level;
            return this;
        }

        /**
         * @return the archive's and consensus module's file sync level.
         */
        public int fileSyncLevel()
        {
            return fileSyncLevel;
        }

        /**
         * @param bytes log growth after which the leader takes a snapshot; 0 or less disables.
         * @return this.
         */
        public Context snapshotIntervalBytes(final long bytes)
        {
            this.snapshotIntervalBytes = bytes;
            return this;
        }

        /**
         * @return the snapshot interval.
         */
        public long snapshotIntervalBytes()
        {
            return snapshotIntervalBytes;
        }
        private ErrorHandler errorHandler = Throwable::printStackTrace;
        private ManagerEndpoints endpoints;
        private boolean concluded;
        // --- metrics, health and error log (issue 7) ---
        private java.net.InetSocketAddress prometheusAddress;
        private File errorLogDir;
        private int errorLogLengthBytes = ErrorLogFile.LENGTH_BYTES_DEFAULT;
        private long healthWindowMs = HealthCheck.WINDOW_MS_DEFAULT;

        /**
         * @param address where {@code /metrics} and {@code /health} are served (--prometheus-address); null: off.
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

        /** @param dir where the distinct error log goes (--error-log-dir); default {@link #dir()}. @return this. */
        public Context errorLogDir(final File dir)
        {
            this.errorLogDir = dir;
            return this;
        }

        /** @return where the distinct error log goes. */
        public File errorLogDir()
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

        /** @param ms sampling window of {@code /health} (--health-window-ms). @return this. */
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
        // --- end of issue 7 fields ---

        /**
         * @param memberId this member's id; must appear in {@link #managers(String)}.
         * @return this.
         */
        public Context memberId(final int memberId)
        {
            this.memberId = memberId;
            return this;
        }

        /**
         * @return this member's id.
         */
        public int memberId()
        {
            return memberId;
        }

        /**
         * @param managers every member: {@code "0=host:port,1=host:port,2=host:port"} with port bases.
         * @return this.
         */
        public Context managers(final String managers)
        {
            this.managers = managers;
            return this;
        }

        /**
         * @return the members string.
         */
        public String managers()
        {
            return managers;
        }

        /**
         * @param dir directory for the cluster and archive state; created if absent, never cleared.
         * @return this.
         */
        public Context dir(final File dir)
        {
            this.dir = dir;
            return this;
        }

        /**
         * @return the member directory.
         */
        public File dir()
        {
            return dir;
        }

        /**
         * @param aeronDirectoryName the embedded driver's directory; default per member and port base under
         *                           {@link AeronDefaults#aeronDirectory(String)}.
         * @return this.
         */
        public Context aeronDirectoryName(final String aeronDirectoryName)
        {
            this.aeronDirectoryName = aeronDirectoryName;
            return this;
        }

        /**
         * @return the embedded driver's directory.
         */
        public String aeronDirectoryName()
        {
            return aeronDirectoryName;
        }

        /**
         * @param timeoutNs after which followers consider the leader gone.
         * @return this.
         */
        public Context leaderHeartbeatTimeoutNs(final long timeoutNs)
        {
            this.leaderHeartbeatTimeoutNs = timeoutNs;
            return this;
        }

        /**
         * @return the leader heartbeat timeout.
         */
        public long leaderHeartbeatTimeoutNs()
        {
            return leaderHeartbeatTimeoutNs;
        }

        /**
         * @param intervalNs between leader heartbeats.
         * @return this.
         */
        public Context leaderHeartbeatIntervalNs(final long intervalNs)
        {
            this.leaderHeartbeatIntervalNs = intervalNs;
            return this;
        }

        /**
         * @return the leader heartbeat interval.
         */
        public long leaderHeartbeatIntervalNs()
        {
            return leaderHeartbeatIntervalNs;
        }

        /**
         * @param timeoutNs of an election round.
         * @return this.
         */
        public Context electionTimeoutNs(final long timeoutNs)
        {
            this.electionTimeoutNs = timeoutNs;
            return this;
        }

        /**
         * @return the election timeout.
         */
        public long electionTimeoutNs()
        {
            return electionTimeoutNs;
        }

        /**
         * @param lengthBytes term length of the replicated log, a power of two.
         * @return this.
         */
        public Context logTermLengthBytes(final int lengthBytes)
        {
            this.logTermLengthBytes = lengthBytes;
            return this;
        }

        /**
         * @return the log term length.
         */
        public int logTermLengthBytes()
        {
            return logTermLengthBytes;
        }

        /**
         * @param lengthBytes term length of the driver's other publications, a power of two.
         * @return this.
         */
        public Context publicationTermLengthBytes(final int lengthBytes)
        {
            this.publicationTermLengthBytes = lengthBytes;
            return this;
        }

        /**
         * @return the publication term length.
         */
        public int publicationTermLengthBytes()
        {
            return publicationTermLengthBytes;
        }

        /**
         * @param lengthBytes of each archive segment file.
         * @return this.
         */
        public Context archiveSegmentFileLengthBytes(final int lengthBytes)
        {
            this.archiveSegmentFileLengthBytes = lengthBytes;
            return this;
        }

        /**
         * @return the archive segment file length.
         */
        public int archiveSegmentFileLengthBytes()
        {
            return archiveSegmentFileLengthBytes;
        }

        /**
         * @param maxConcurrentSessions client sessions the cluster accepts at once.
         * @return this.
         */
        public Context maxConcurrentSessions(final int maxConcurrentSessions)
        {
            this.maxConcurrentSessions = maxConcurrentSessions;
            return this;
        }

        /**
         * @return the session limit.
         */
        public int maxConcurrentSessions()
        {
            return maxConcurrentSessions;
        }

        /**
         * @param terminationHook run when the cluster terminates this member (e.g. by ClusterTool).
         * @return this.
         */
        public Context terminationHook(final Runnable terminationHook)
        {
            this.terminationHook = terminationHook;
            return this;
        }

        /**
         * @return the termination hook.
         */
        public Runnable terminationHook()
        {
            return terminationHook;
        }

        /**
         * @param errorHandler receives errors of every Aeron component of the member.
         * @return this.
         */
        public Context errorHandler(final ErrorHandler errorHandler)
        {
            this.errorHandler = errorHandler;
            return this;
        }

        /**
         * @return the error handler.
         */
        public ErrorHandler errorHandler()
        {
            return errorHandler;
        }

        /**
         * @return the parsed members, after {@link #conclude()}.
         */
        public ManagerEndpoints endpoints()
        {
            return endpoints;
        }

        /**
         * Validates and fills derived values; call once.
         *
         * @return this.
         * @throws IllegalArgumentException naming the first invalid setting.
         */
        public Context conclude()
        {
            if (concluded)
            {
                throw new IllegalStateException("ManagerMember.Context already concluded");
            }
            // Each setting's own rules live in the option table, shared with flags and config files.
            ManagerMemberConfig.TABLE.validate(this);
            endpoints = ManagerEndpoints.parse(managers);
            final ManagerEndpoints.Member self = endpoints.member(memberId);
            if (self == null)
            {
                throw new IllegalArgumentException("member id " + memberId + " is not in managers " + managers);
            }
            if (dir == null)
            {
                throw new IllegalArgumentException("dir is required");
            }
            ManagerAuthenticator.parseSecrets(secrets);
            if (fileSyncLevel < 0 || fileSyncLevel > 2)
            {
                throw new IllegalArgumentException("fileSyncLevel=" + fileSyncLevel + " must be 0, 1 or 2");
            }
            requirePositive(suspectTimeoutMs, "suspectTimeoutMs");
            if (deadTimeoutMs <= suspectTimeoutMs)
            {
                throw new IllegalArgumentException("deadTimeoutMs must be > suspectTimeoutMs");
            }
            requirePositive(leaderHeartbeatTimeoutNs, "leaderHeartbeatTimeoutNs");
            requirePositive(leaderHeartbeatIntervalNs, "leaderHeartbeatIntervalNs");
            requirePositive(electionTimeoutNs, "electionTimeoutNs");
            if (leaderHeartbeatIntervalNs >= leaderHeartbeatTimeoutNs)
            {
                throw new IllegalArgumentException("leaderHeartbeatIntervalNs must be < leaderHeartbeatTimeoutNs");
            }
            requirePowerOfTwo(logTermLengthBytes, "logTermLengthBytes");
            requirePowerOfTwo(publicationTermLengthBytes, "publicationTermLengthBytes");
            if (publicationTermLengthBytes / 8 < ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN + 64)
            {
                throw new IllegalArgumentException("publicationTermLengthBytes / 8 must hold an answer of " +
                    ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN + " bytes");
            }
            if (archiveSegmentFileLengthBytes < logTermLengthBytes)
            {
                throw new IllegalArgumentException("archiveSegmentFileLengthBytes must be >= logTermLengthBytes");
            }
            requirePositive(maxConcurrentSessions, "maxConcurrentSessions");
            // --- metrics, health and error log (issue 7) ---
            ErrorLogFile.validateLength("--error-log-bytes", errorLogLengthBytes);
            if (healthWindowMs < 1 || healthWindowMs > HealthCheck.WINDOW_MS_MAX)
            {
                throw new IllegalArgumentException("--health-window-ms " + healthWindowMs + ": must be in [1, " +
                    HealthCheck.WINDOW_MS_MAX + "]");
            }
            if (errorLogDir == null)
            {
                errorLogDir = dir;
            }
            // --- end of issue 7 ---
            if (aeronDirectoryName == null)
            {
                aeronDirectoryName = AeronDefaults.aeronDirectory("manager-" + memberId + "-" + self.basePort());
            }
            concluded = true;
            return this;
        }

        private static void requirePositive(final long value, final String name)
        {
            if (value <= 0)
            {
                throw new IllegalArgumentException(name + " must be > 0, was " + value);
            }
        }

        private static void requirePowerOfTwo(final int value, final String name)
        {
            if (value < 64 * 1024 || Integer.bitCount(value) != 1)
            {
                throw new IllegalArgumentException(name + " must be a power of two >= 65536, was " + value);
            }
        }
    }

    private final Context ctx;
    private final FileChannel lockChannel;
    private final ManagerService service;
    private ClusteredMediaDriver clusteredMediaDriver;
    private ClusteredServiceContainer container;
    // --- metrics, health and error log (issue 7) ---
    private ErrorLogFile errorLog;
    private ErrorHandler errorHandler;
    private MetricsEndpoint metricsEndpoint;

    private ManagerMember(final Context ctx)
    {
        this.ctx = ctx;
        this.lockChannel = lockMemberDir(ctx.dir());
        // Structured, rate-limited lines (key=value), never per command.
        final EventLog events = EventLog.forDaemon("cairn-manager-" + ctx.memberId(), System.err);
        this.service = new ManagerService((event) -> events.info("service_event", "detail", event),
            new ManagerStateMachine(ctx.suspectTimeoutMs(), ctx.deadTimeoutMs()), ctx.snapshotIntervalBytes())
            .metricsMemberId(ctx.memberId());
    }

    /**
     * Launches a member in this process.
     *
     * @param ctx concluded or not; concluded here if not.
     * @return the running member; close it to stop.
     */
    public static ManagerMember launch(final Context ctx)
    {
        if (ctx.endpoints() == null)
        {
            ctx.conclude();
        }
        final ManagerMember member = new ManagerMember(ctx);
        try
        {
            member.start();
            return member;
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(member);
            throw ex;
        }
    }

    private void start()
    {
        final File clusterDir = new File(ctx.dir(), "cluster");
        final File archiveDir = new File(ctx.dir(), "archive");
        removeStaleMarkFiles(clusterDir, archiveDir);
        startErrorLog();

        final ManagerEndpoints.Member self = ctx.endpoints().member(ctx.memberId());
        final String host = self.host();
        final String aeronDir = ctx.aeronDirectoryName();
        final int termLength = ctx.publicationTermLengthBytes();

        final MediaDriver.Context driverCtx = AeronDefaults.driverContext("manager-" + ctx.memberId())
            .aeronDirectoryName(aeronDir) // per member and port base, so test suites and run.sh do not collide
            .sharedIdleStrategy(AeronDefaults.controlIdleStrategy())
            .publicationTermBufferLength(termLength)
            .ipcTermBufferLength(termLength)
            .initialWindowLength(Math.min(termLength / 2, 2 * 1024 * 1024))
            .errorHandler(errorHandler)
            .terminationHook(ctx.terminationHook());

        final Archive.Context archiveCtx = new Archive.Context()
            .aeronDirectoryName(aeronDir)
            .archiveDir(archiveDir)
            .controlChannel("aeron:udp?endpoint=" + self.endpoint(ManagerEndpoints.ARCHIVE_CONTROL_PORT_OFFSET))
            .localControlChannel("aeron:ipc?term-length=64k")
            .replicationChannel("aeron:udp?endpoint=" + host + ":0")
            .archiveClientContext(new AeronArchive.Context()
                .controlResponseChannel("aeron:udp?endpoint=" + host + ":0"))
            .recordingEventsEnabled(false)
            .threadingMode(ArchiveThreadingMode.SHARED)
            .idleStrategySupplier(AeronDefaults::controlIdleStrategy)
            .segmentFileLength(ctx.archiveSegmentFileLengthBytes())
            .fileSyncLevel(ctx.fileSyncLevel())
            .catalogFileSyncLevel(ctx.fileSyncLevel())
            .deleteArchiveOnStart(false)
            .errorHandler(errorHandler);

        final AeronArchive.Context localArchiveCtx = new AeronArchive.Context()
            .lock(NoOpLock.INSTANCE)
            .controlRequestChannel(archiveCtx.localControlChannel())
            .controlRequestStreamId(archiveCtx.localControlStreamId())
            .controlResponseChannel(archiveCtx.localControlChannel())
            .aeronDirectoryName(aeronDir);

        final ConsensusModule.Context consensusCtx = new ConsensusModule.Context()
            .clusterMemberId(ctx.memberId())
            .clusterMembers(ctx.endpoints().clusterMembers())
            .clusterDir(clusterDir)
            .aeronDirectoryName(aeronDir)
            .archiveContext(localArchiveCtx.clone())
            .serviceCount(1)
            .ingressChannel("aeron:udp")
            .logChannel("aeron:udp?term-length=" + ctx.logTermLengthBytes())
            .replicationChannel("aeron:udp?endpoint=" + host + ":0")
            .leaderHeartbeatTimeoutNs(ctx.leaderHeartbeatTimeoutNs())
            .leaderHeartbeatIntervalNs(ctx.leaderHeartbeatIntervalNs())
            .electionTimeoutNs(ctx.electionTimeoutNs())
            .fileSyncLevel(ctx.fileSyncLevel())
            .maxConcurrentSessions(ctx.maxConcurrentSessions())
            .authenticatorSupplier(() -> new ManagerAuthenticator(ManagerAuthenticator.parseSecrets(ctx.secrets())))
            .authorisationServiceSupplier(() -> ManagerAuthenticator.AUTHORISATION)
            .idleStrategySupplier(AeronDefaults::controlIdleStrategy)
            .errorHandler(errorHandler)
            .terminationHook(ctx.terminationHook());

        final ClusteredServiceContainer.Context serviceCtx = new ClusteredServiceContainer.Context()
            .aeronDirectoryName(aeronDir)
            .archiveContext(localArchiveCtx.clone())
            .clusterDir(clusterDir)
            .clusteredService(service)
            .serviceId(0)
            .idleStrategySupplier(AeronDefaults::controlIdleStrategy)
            .errorHandler(errorHandler)
            .terminationHook(ctx.terminationHook());

        clusteredMediaDriver = ClusteredMediaDriver.launch(driverCtx, archiveCtx, consensusCtx);
        container = ClusteredServiceContainer.launch(serviceCtx);
        startMetricsEndpoint();
    }

    private void startErrorLog()
    {
        try
        {
            errorLog = ErrorLogFile.create(ctx.errorLogDir().toPath(), ctx.errorLogLengthBytes(),
                System::currentTimeMillis);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create the error log in " + ctx.errorLogDir(), ex);
        }
        final ErrorLogFile errors = errorLog;
        final ErrorHandler configured = ctx.errorHandler();
        // Recorded first: `cairn errors` shows every distinct error with its count, whatever the handler does next.
        errorHandler = (throwable) ->
        {
            errors.onError(throwable);
            configured.onError(throwable);
        };
    }

    private void startMetricsEndpoint()
    {
        if (ctx.prometheusAddress() == null)
        {
            return;
        }
        final java.util.Map<String, String> labels = java.util.Map.of("member", Integer.toString(ctx.memberId()));
        final ErrorLogFile errors = errorLog;
        try
        {
            metricsEndpoint = MetricsEndpoint.start(ctx.prometheusAddress(), ctx.aeronDirectoryName(), () -> java.util.List.of(
                MetricsEndpoint.series(Metric.ERRORS, labels, errors.observations()),
                MetricsEndpoint.series(Metric.ERROR_LOG_DROPPED, labels, errors.dropped())), ctx.healthWindowMs());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("--prometheus-address " + ctx.prometheusAddress() + ": cannot listen", ex);
        }
    }

    /** @return the configuration. */
    public Context context()
    {
        return ctx;
    }

    /** @return the metrics endpoint's bound address, or null when it is off. */
    public java.net.InetSocketAddress metricsAddress()
    {
        return null == metricsEndpoint ? null : metricsEndpoint.address();
    }

    /**
     * @return the service, e.g. to read its role.
     */
    public ManagerService service()
    {
        return service;
    }

    /**
     * Stops the service container, then the consensus module, archive and driver, then releases the directory lock.
     */
    public void close()
    {
        CloseHelper.quietClose(metricsEndpoint);
        CloseHelper.closeAll(container, clusteredMediaDriver);
        CloseHelper.quietClose(errorLog);
        CloseHelper.quietClose(lockChannel);
    }

    private static FileChannel lockMemberDir(final File dir)
    {
        try
        {
            Files.createDirectories(dir.toPath());
            final FileChannel channel = FileChannel.open(
                new File(dir, LOCK_FILENAME).toPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = null;
            try
            {
                lock = channel.tryLock();
            }
            catch (final OverlappingFileLockException ignore)
            {
                // held by this JVM: treated like another process holding it
            }
            if (lock == null)
            {
                channel.close();
                throw new IllegalStateException("member directory " + dir + " is in use by another live process");
            }
            return channel;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot lock member directory " + dir, ex);
        }
    }

    /**
     * Only called while holding the directory lock: any mark file present belongs to a dead predecessor.
     * The candidate term that Aeron once kept in the mark file lives in node-state.dat since 1.45, which is kept.
     */
    private static void removeStaleMarkFiles(final File clusterDir, final File archiveDir)
    {
        final File[] markFiles = {
            new File(clusterDir, ClusterMarkFile.FILENAME),
            new File(clusterDir, ClusterMarkFile.markFilenameForService(0)),
            new File(archiveDir, ArchiveMarkFile.FILENAME),
        };
        for (final File file : markFiles)
        {
            if (file.exists() && !file.delete())
            {
                throw new IllegalStateException("cannot remove stale mark file " + file);
            }
        }
    }

    /**
     * Runs one member until SIGTERM/SIGINT. See the class comment for flags and exit codes.
     *
     * @param args command line.
     */
    public static void main(final String[] args)
    {
        final ConfigTable.CommandLine<Context> commandLine;
        final Context ctx;
        try
        {
            commandLine = ManagerMemberConfig.TABLE.parse(args);
            if (commandLine.help())
            {
                System.out.print(USAGE);
                return;
            }
            ctx = commandLine.context().conclude();
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-manager: " + ex.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        if (commandLine.printConfig())
        {
            System.out.print(ManagerMemberConfig.TABLE.render(ctx, "effective configuration of cairn-manager " +
                ctx.memberId() + (null == commandLine.configFile() ? "" : " (file " + commandLine.configFile() + ")")));
            return;
        }

        final int exitCode = run(ctx);
        if (exitCode != 0)
        {
            System.exit(exitCode);
        }
    }

    @SuppressWarnings("try")
    private static int run(final Context ctx)
    {
        final String prefix = "cairn-manager " + ctx.memberId() + ": ";
        final EventLog events = EventLog.forDaemon("cairn-manager-" + ctx.memberId(), System.err);
        ctx.errorHandler((throwable) ->
        {
            // Rate-limited: every occurrence is in the distinct error log with its count (cairn errors).
            if (events.error("agent_error", "error", throwable.toString()))
            {
                throwable.printStackTrace(System.err);
            }
        });
        try (ShutdownSignalBarrier barrier = new ShutdownSignalBarrier())
        {
            ctx.terminationHook(barrier::signalAll);
            try (ManagerMember ignore = launch(ctx))
            {
                System.out.println(String.format(READY_FORMAT, ctx.memberId()));
                System.out.flush();
                SystemdNotify.notify("READY=1\nSTATUS=member " + ctx.memberId() + " running");
                barrier.await();
                SystemdNotify.notify("STOPPING=1");
                System.err.println(prefix + "shutting down");
            }
            System.err.println(prefix + "stopped cleanly");
            return 0;
        }
        catch (final RuntimeException ex)
        {
            System.err.println(prefix + "failed: " + ex);
            ex.printStackTrace(System.err);
            return 1;
        }
    }

    /**
     * Parse flags (and the --config file they name, and $CAIRN_MANAGER_SECRETS) and check every setting.
     *
     * @param args command line.
     * @return the context, not yet concluded.
     * @throws IllegalArgumentException naming the flag or key, the value and what is allowed.
     */
    static Context parseArgs(final String[] args)
    {
        final Context ctx = ManagerMemberConfig.TABLE.parse(args).context();
        ManagerMemberConfig.TABLE.validate(ctx);
        return ctx;
    }
}
