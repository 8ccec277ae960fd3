package io.cairn.daemon;

import io.cairn.config.ConfigTable;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.HealthCheck;
import io.cairn.replication.metrics.MetricsEndpoint;

import java.nio.file.Path;

import java.util.List;

/**
 * Every setting of {@code cairn-node}, declared once: the flags, the keys of its TOML file
 * ({@code /etc/cairn/cairn-node.toml}), {@code --print-config}, {@code --help}, the reference table in
 * docs/operating/configuration.md and etc/cairn-node.toml all come from {@link #TABLE}. Cross-setting rules
 * (a CPU per data directory, the endpoint's port range) stay in {@link ExtentNode.Context#conclude()}.
 * <p>
 * To add a setting: a field, a {@code *_DEFAULT} constant, a setter and a getter in {@link ExtentNode.Context};
 * one declaration below; then regenerate the docs and example ({@code ConfigDocsTest} says how).
 */
public final class ExtentNodeConfig
{
    /** The launcher's name. */
    public static final String PROGRAM = "cairn-node";
    /** host:port, as the endpoint and each manager are written. */
    static final String HOST_PORT = "[^:,=\\s]+:\\d{1,5}";

    /** The extent node's settings. */
    public static final ConfigTable<ExtentNode.Context> TABLE = new ConfigTable<>(PROGRAM, ExtentNode.Context::new);

    static
    {
        final ConfigTable<ExtentNode.Context> t = TABLE;
        t.intOption("node-id", ExtentNode.Context::nodeId, ExtentNode.Context::nodeId).required()
            .range(1, Integer.MAX_VALUE).example("1")
            .doc("This node's id, unique in the cluster. Written into each data directory's cookie: a node refuses " +
            "disks formatted for another id.");
        t.stringOption("endpoint", ExtentNode.Context::endpoint, ExtentNode.Context::endpoint).required()
            .pattern(HOST_PORT, "host:port with port in [0, 65535]").example("\"10.0.0.11:20201\"")
            .doc("Address and UDP port of the node's request channel: clients and the other nodes send here, and " +
            "the manager hands it out. Bind to the address the other hosts reach.");
        t.pathListOption("data-dir", (c, dirs) ->
            {
                c.dataDirs().clear();
                c.dataDirs().addAll(dirs);
            }, ExtentNode.Context::dataDirs).required().example("[\"/srv/cairn/disk0\"]")
            .doc("Data directories, one per disk, each on a file system that supports O_DIRECT. One io_uring ring " +
            "and I/O agent each. The order is the disk index in the cookie: keep it.");
        t.stringOption("managers", ExtentNode.Context::managers, ExtentNode.Context::managers)
            .pattern("\\d+=" + HOST_PORT + "(,\\d+=" + HOST_PORT + ")*", "like 0=host:port,1=host:port,2=host:port")
            .example("\"0=10.0.0.1:20110,1=10.0.0.2:20110,2=10.0.0.3:20110\"")
            .doc("The manager members (id=host:port of each one's ingress). Unset: the node does not register " +
            "(tests only).");
        t.longOption("extent-size-bytes", ExtentNode.Context::extentSizeBytes, ExtentNode.Context::extentSizeBytes)
            .unit("bytes").multipleOf(NodeProtocol.BLOCK_ALIGNMENT_BYTES)
            .range(ExtentNode.Context.EXTENT_SIZE_BYTES_MIN, ExtentNode.Context.EXTENT_SIZE_BYTES_MAX)
            .doc("Size limit of an extent; a full extent answers EXTENT_FULL and the writer moves to a new one.");
        t.longOption("prealloc-step-bytes", ExtentNode.Context::preallocStepBytes,
            ExtentNode.Context::preallocStepBytes).unit("bytes").multipleOf(NodeProtocol.BLOCK_ALIGNMENT_BYTES)
            .range(NodeProtocol.BLOCK_ALIGNMENT_BYTES, ExtentNode.Context.EXTENT_SIZE_BYTES_MAX)
            .doc("How much an extent file grows by at a time (fallocate): writes into preallocated space are 4-6x " +
            "faster.");
        t.intOption("max-block-bytes", ExtentNode.Context::maxBlockLengthBytes,
            ExtentNode.Context::maxBlockLengthBytes).unit("bytes").multipleOf(NodeProtocol.BLOCK_ALIGNMENT_BYTES)
            .range(BlockFormat.MAX_BLOCK_LENGTH_BYTES, BlockFormat.STORE_MAX_BLOCK_LENGTH_BYTES)
            .doc("Largest block on disk, header included; sizes each I/O buffer.");
        t.intOption("io-buffers", ExtentNode.Context::ioBufferCount, ExtentNode.Context::ioBufferCount)
            .unit("buffers per disk").range(2, 4096)
            .doc("Aligned I/O buffers per data directory, allocated at start (each max-block-bytes): bounds the " +
            "I/O in flight per disk.");
        t.intOption("ring-entries", ExtentNode.Context::ringEntries, ExtentNode.Context::ringEntries)
            .unit("entries per disk").powerOfTwo().range(8, 32768)
            .doc("io_uring submission queue entries per data directory.");
        t.intOption("batch-max-commands", ExtentNode.Context::maxBatchCommands, ExtentNode.Context::maxBatchCommands)
            .unit("commands").range(1, 4096)
            .doc("Most writes that share one fdatasync (group commit).");
        t.longOption("batch-max-bytes", ExtentNode.Context::maxBatchBytes, ExtentNode.Context::maxBatchBytes)
            .unit("bytes").range(NodeProtocol.BLOCK_ALIGNMENT_BYTES, Long.MAX_VALUE)
            .doc("Most bytes that share one fdatasync (group commit).");
        t.longOption("checkpoint-interval-bytes", ExtentNode.Context::checkpointIntervalBytes,
            ExtentNode.Context::checkpointIntervalBytes).unit("bytes")
            .range(NodeProtocol.BLOCK_ALIGNMENT_BYTES, Long.MAX_VALUE)
            .doc("Durable growth of an extent between checkpoints of its state slot: bounds the blocks recovery " +
            "re-verifies at start.");
        t.longOption("scrub-bytes-per-sec", ExtentNode.Context::scrubBytesPerSecond,
            ExtentNode.Context::scrubBytesPerSecond).unit("bytes/s").range(0, Long.MAX_VALUE)
            .doc("Average rate of the background scrubber that re-reads and verifies every block of sealed " +
            "extents; 0 turns it off.");
        t.intOption("repair-blocks-per-sec", ExtentNode.Context::repairBlocksPerSecond,
            ExtentNode.Context::repairBlocksPerSecond).unit("blocks/s")
            .range(1, BlockRepairAgent.Context.BLOCKS_PER_SECOND_MAX)
            .doc("Most repairs per second of bad blocks of sealed extents (found by a read or the scrubber), each " +
            "rewritten in place from a good replica. Needs managers (the replica lists).");
        t.longOption("record-staging-bytes", (c, v) -> c.replication().maxStagingBytes(v),
            (c) -> c.replication().maxStagingBytes()).unit("bytes")
            .range(NodeProtocol.MAX_RECORD_BYTES, 1L << 40)
            .doc("Bound on the bytes of multi-block records this node holds as a primary while their chunks arrive " +
            "and until they are written (1 MiB slabs, allocated on first use and kept); a record that does not fit " +
            "is answered BUSY (staging full). At least one largest record (64 MiB).");
        t.enumOption("threading", (c, v) -> c.threading(ExtentNode.Threading.valueOf(v)),
            (c) -> null == c.threading() ? null : c.threading().name(), "SHARED", "DEDICATED")
            .doc("SHARED: every agent (driver, replication, disks) on one thread, for small machines. DEDICATED: " +
            "one thread each, for many cores and disks.");
        t.intListOption("disk-cpus", ExtentNode.Context::diskCpus, ExtentNode.Context::diskCpus)
            .range(0, Integer.MAX_VALUE)
            .doc("One CPU per data directory, in order: each disk's I/O thread is pinned to it. DEDICATED threading " +
            "only.");
        t.booleanOption("format-if-empty", ExtentNode.Context::formatIfEmpty, ExtentNode.Context::formatIfEmpty)
            .doc("Format a data directory that is empty or absent at start. Off in production: format disks with " +
            "cairn-node format, so a disk that was not mounted is not silently formatted.");
        t.booleanOption("fixed-buffers", ExtentNode.Context::fixedBuffers, ExtentNode.Context::fixedBuffers)
            .doc("Register each disk's buffers with io_uring (needs LimitMEMLOCK for io-buffers x max-block-bytes " +
            "per disk).");
        t.booleanOption("sqpoll", ExtentNode.Context::sqPoll, ExtentNode.Context::sqPoll)
            .doc("A kernel submission-polling thread per disk ring; start fails if the kernel refuses it.");
        t.stringOption("aeron-dir", ExtentNode.Context::aeronDirectoryName, ExtentNode.Context::aeronDirectoryName)
            .defaultText("/dev/shm/cairn-node-<node-id>")
            .doc("Directory of the node's embedded Aeron media driver (its CnC file holds the counters that " +
            "cairn-node stat reads).");
        t.longOption("shutdown-drain-ms", ExtentNode.Context::shutdownDrainMs, ExtentNode.Context::shutdownDrainMs)
            .unit("ms").range(0, 600_000)
            .doc("On SIGTERM, how long the node keeps serving while appends and replications in flight finish, " +
            "before it stops its agents. What is still in flight then is never acknowledged.");
        t.longOption("recovery-poll-ms", ExtentNode.Context::recoveryPollMs, ExtentNode.Context::recoveryPollMs)
            .unit("ms").range(10, 3_600_000)
            .doc("How often the re-replication worker polls the manager's recovery tasks.");
        t.longOption("recovery-lease-ms", ExtentNode.Context::recoveryLeaseMs, ExtentNode.Context::recoveryLeaseMs)
            .unit("ms").range(1_000, io.cairn.manager.ManagerStateMachine.MAX_TASK_LEASE_MS)
            .doc("Claim lease the re-replication worker asks for; progress reports extend it, and a claim that " +
            "runs out lets another node take the task.");
        // Metrics, health and error log (docs/operating/metrics.md).
        t.stringOption("prometheus-address",
            (c, v) -> c.prometheusAddress(MetricsEndpoint.parseAddress("prometheus-address", v)),
            (c) -> null == c.prometheusAddress() ? null :
                c.prometheusAddress().getHostString() + ":" + c.prometheusAddress().getPort())
            .pattern(HOST_PORT, "host:port with port in [0, 65535]").defaultText("off")
            .doc("Serve Prometheus text (/metrics) and the health check (/health) over HTTP at this address. " +
            "Unset: no endpoint.");
        t.stringOption("error-log-dir", (c, v) -> c.errorLogDir(Path.of(v)),
            (c) -> null == c.errorLogDir() ? null : c.errorLogDir().toString())
            .defaultText("the aeron-dir")
            .doc("Directory of the distinct error log cairn-errors.dat (read by cairn errors). The default is " +
            "removed with the Aeron directory at a restart: set one on a data disk in production.");
        t.intOption("error-log-bytes", ExtentNode.Context::errorLogLengthBytes,
            ExtentNode.Context::errorLogLengthBytes).unit("bytes")
            .multipleOf(4096).range(ErrorLogFile.LENGTH_BYTES_MIN, ErrorLogFile.LENGTH_BYTES_MAX)
            .doc("Length of the distinct error log file.");
        t.longOption("health-window-ms", ExtentNode.Context::healthWindowMs, ExtentNode.Context::healthWindowMs)
            .unit("ms").range(1, HealthCheck.WINDOW_MS_MAX)
            .doc("Window in which /health expects the node's duty-cycle counter to advance.");
    }

    /** Header of etc/cairn-node.toml. */
    public static final List<String> EXAMPLE_HEADER = List.of(
        "cairn-node configuration: one extent node (see docs/operating/configuration.md).",
        "Installed as /etc/cairn/cairn-node.toml; `cairn-node --config FILE`; flags override the file;",
        "`cairn-node --config FILE --print-config` shows the effective configuration.",
        "Generated from the option table (io.cairn.daemon.ExtentNodeConfig): edit values, not the comments.");

    private ExtentNodeConfig()
    {
    }
}
