package io.cairn.manager;

import io.cairn.config.ConfigTable;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.HealthCheck;
import io.cairn.replication.metrics.MetricsEndpoint;

import java.io.File;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Every setting of {@code cairn-manager}, declared once: the flags, the keys of its TOML file
 * ({@code /etc/cairn/cairn-manager.toml}), {@code --print-config}, {@code --help}, the reference table in
 * docs/operating/configuration.md and etc/cairn-manager.toml all come from {@link #TABLE}. Cross-setting rules
 * (the member id among the members, dead after suspect) stay in {@link ManagerMember.Context#conclude()}.
 * <p>
 * To add a setting: a field, a default, a setter and a getter in {@link ManagerMember.Context}; one declaration
 * below; then regenerate the docs and example ({@code ConfigDocsTest} says how).
 */
public final class ManagerMemberConfig
{
    /** The launcher's name. */
    public static final String PROGRAM = "cairn-manager";
    private static final String HOST_PORT = "[^:,=\\s]+:\\d{1,5}";

    /** The manager member's settings. */
    public static final ConfigTable<ManagerMember.Context> TABLE =
        new ConfigTable<>(PROGRAM, ManagerMember.Context::new);

    static
    {
        final ConfigTable<ManagerMember.Context> t = TABLE;
        t.intOption("member-id", ManagerMember.Context::memberId, ManagerMember.Context::memberId).required()
            .range(0, Integer.MAX_VALUE).example("0")
            .doc("This member's id: one of the ids in managers.");
        t.stringOption("managers", ManagerMember.Context::managers, ManagerMember.Context::managers).required()
            .pattern("\\d+=" + HOST_PORT + "(,\\d+=" + HOST_PORT + ")*", "like 0=host:port,1=host:port,2=host:port")
            .example("\"0=10.0.0.1:20110,1=10.0.0.2:20110,2=10.0.0.3:20110\"")
            .doc("Every member's id and port base, the same on every member. A member uses its base (client " +
            "ingress) and the next four ports: consensus, log, catch-up, archive control.");
        t.stringOption("dir", (c, v) -> c.dir(new File(v)), (c) -> null == c.dir() ? null : c.dir().getPath())
            .required().example("\"/var/lib/cairn/manager\"")
            .doc("Directory of this member's Raft log (archive), cluster state and snapshots; created if absent, " +
            "kept across restarts. Back it up (docs/operating/backups.md).");
        t.stringOption("secrets", ManagerMember.Context::secrets, ManagerMember.Context::secrets).secret()
            .env(ManagerMember.SECRETS_ENV).pattern("[a-z]+=[^,]+(,[a-z]+=[^,]+)*", "like client=S1,admin=S2")
            .defaultText("client=cairn-local,admin=cairn-local-admin (local clusters only)")
            .doc("Role secrets that clients present. Keep them out of the config file: set the environment " +
            "variable from a root-only EnvironmentFile. Never printed.");
        t.longOption("suspect-timeout-ms", ManagerMember.Context::suspectTimeoutMs,
            ManagerMember.Context::suspectTimeoutMs).unit("ms").range(1, Long.MAX_VALUE)
            .doc("A node without a heartbeat for this long is SUSPECT (no new extents). Same on every member.");
        t.longOption("dead-timeout-ms", ManagerMember.Context::deadTimeoutMs, ManagerMember.Context::deadTimeoutMs)
            .unit("ms").range(1, Long.MAX_VALUE)
            .doc("A node without a heartbeat for this long is DEAD: its tails are sealed and its extents " +
            "re-replicated. Must be > suspect-timeout-ms. Same on every member.");
        t.longOption("snapshot-interval-bytes", ManagerMember.Context::snapshotIntervalBytes,
            ManagerMember.Context::snapshotIntervalBytes).unit("bytes").range(0, Long.MAX_VALUE)
            .doc("The leader takes a snapshot after the log grew this much; 0: only on cairn snapshot.");
        t.intOption("file-sync-level", ManagerMember.Context::fileSyncLevel, ManagerMember.Context::fileSyncLevel)
            .range(0, 2)
            .doc("Force the log to disk before it counts as recorded: 0 never (a power loss of a majority loses " +
            "acknowledged commands), 1 data, 2 data and metadata.");
        t.longOption("leader-heartbeat-timeout-ms",
            (c, v) -> c.leaderHeartbeatTimeoutNs(TimeUnit.MILLISECONDS.toNanos(v)),
            (c) -> TimeUnit.NANOSECONDS.toMillis(c.leaderHeartbeatTimeoutNs())).unit("ms").range(1, 600_000)
            .doc("Followers start an election after this long without the leader: failover takes about twice it.");
        t.longOption("leader-heartbeat-interval-ms",
            (c, v) -> c.leaderHeartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(v)),
            (c) -> TimeUnit.NANOSECONDS.toMillis(c.leaderHeartbeatIntervalNs())).unit("ms").range(1, 600_000)
            .doc("How often the leader heartbeats; must be < leader-heartbeat-timeout-ms.");
        t.longOption("election-timeout-ms", (c, v) -> c.electionTimeoutNs(TimeUnit.MILLISECONDS.toNanos(v)),
            (c) -> TimeUnit.NANOSECONDS.toMillis(c.electionTimeoutNs())).unit("ms").range(1, 600_000)
            .doc("Length of an election round.");
        t.intOption("max-concurrent-sessions", ManagerMember.Context::maxConcurrentSessions,
            ManagerMember.Context::maxConcurrentSessions).unit("sessions").range(1, 65_536)
            .doc("Client sessions the cluster accepts at once: every extent node and client holds one.");
        t.stringOption("aeron-dir", ManagerMember.Context::aeronDirectoryName,
            ManagerMember.Context::aeronDirectoryName).defaultText("/dev/shm/cairn-manager-<member-id>-<port base>")
            .doc("Directory of the member's embedded Aeron media driver; recreated at start.");
        // Metrics, health and error log (docs/operating/metrics.md).
        t.stringOption("prometheus-address",
            (c, v) -> c.prometheusAddress(MetricsEndpoint.parseAddress("prometheus-address", v)),
            (c) -> null == c.prometheusAddress() ? null :
                c.prometheusAddress().getHostString() + ":" + c.prometheusAddress().getPort())
            .pattern("[^:,=\\s]+:\\d{1,5}", "host:port with port in [0, 65535]").defaultText("off")
            .doc("Serve Prometheus text (/metrics) and the health check (/health) over HTTP at this address. " +
            "Unset: no endpoint.");
        t.stringOption("error-log-dir", (c, v) -> c.errorLogDir(new File(v)),
            (c) -> null == c.errorLogDir() ? null : c.errorLogDir().getPath())
            .defaultText("the dir")
            .doc("Directory of the distinct error log cairn-errors.dat (read by cairn errors).");
        t.intOption("error-log-bytes", ManagerMember.Context::errorLogLengthBytes,
            ManagerMember.Context::errorLogLengthBytes).unit("bytes")
            .multipleOf(4096).range(ErrorLogFile.LENGTH_BYTES_MIN, ErrorLogFile.LENGTH_BYTES_MAX)
            .doc("Length of the distinct error log file.");
        t.longOption("health-window-ms", ManagerMember.Context::healthWindowMs, ManagerMember.Context::healthWindowMs)
            .unit("ms").range(1, HealthCheck.WINDOW_MS_MAX)
            .doc("Window in which /health expects the member's duty-cycle counter to advance.");
    }

    /** Header of etc/cairn-manager.toml. */
    public static final List<String> EXAMPLE_HEADER = List.of(
        "cairn-manager configuration: one manager member (see docs/operating/configuration.md).",
        "Installed as /etc/cairn/cairn-manager.toml; `cairn-manager --config FILE`; flags override the file;",
        "`cairn-manager --config FILE --print-config` shows the effective configuration.",
        "Generated from the option table (io.cairn.manager.ManagerMemberConfig): edit values, not the comments.");

    private ManagerMemberConfig()
    {
    }
}
