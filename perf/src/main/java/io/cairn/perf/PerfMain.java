package io.cairn.perf;

import java.util.Arrays;

/**
 * Entry point of {@code bin/cairn-bench}: dispatches to a benchmark by name.
 */
public final class PerfMain
{
    private PerfMain()
    {
    }

    static final String USAGE = "usage: cairn-bench COMMAND [options]   (--help after the name lists the options)\n" +
        "  load         the load rig: open loop (scheduled-time latency) or closed loop, against append|read|kv-put|\n" +
        "               kv-get|echo|bookkeeper; writes .hlog/.hgrm/summary.json/PNG plots to a run folder\n" +
        "  compare      overlays several run folders: one table with ratios, one latency plot, one throughput plot\n" +
        "  stream-table the replicated append vs the sum of its parts (echo RTT x hops + local append); see\n" +
        "               perf/stream-bench.sh\n" +
        "  bookkeeper-conf  writes the configuration of the BookKeeper peer (ZooKeeper + bookies; perf/compare.sh)\n" +
        "  echo-server  a raw Aeron UDP echo (the network limit), optionally fanning out to peers like replication\n" +
        "  jmh          JMH micro-benchmarks of the hot paths (forks get the flags of jvm.properties)\n" +
        "  write        replicated appends through a running cluster, closed loop, HdrHistogram percentiles\n" +
        "  io           the io_uring O_DIRECT write+fdatasync round trip alone, on a local file\n" +
        "  disk         the extent store alone (store + disk I/O agent) at a queue depth; see perf/disk-bench.sh\n" +
        "  manager      metadata operations against the manager or etcd; see perf/manager-bench.sh\n" +
        "  (perf/compare.sh runs everything side by side with the peers: fio, Aeron echo, BookKeeper, etcd)\n";

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 0)
        {
            System.err.print(USAGE);
            System.exit(2);
        }
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        final boolean help = Arrays.asList(rest).contains("--help");
        switch (args[0])
        {
            case "disk" ->
            {
                if (help)
                {
                    System.out.print(DiskBenchmark.USAGE);
                    return;
                }
                DiskBenchmark.main(rest);
            }
            case "manager" ->
            {
                if (help)
                {
                    System.out.print(ManagerBenchmark.USAGE);
                    return;
                }
                ManagerBenchmark.main(rest);
            }
            case "write" ->
            {
                if (help)
                {
                    System.out.print(WriteBenchmark.USAGE);
                    return;
                }
                WriteBenchmark.main(rest);
            }
            case "io" ->
            {
                if (help)
                {
                    System.out.print(IoRoundTripBenchmark.USAGE);
                    return;
                }
                IoRoundTripBenchmark.main(rest);
            }
            case "load" -> runTool(help, LoadCommand.USAGE, () -> LoadCommand.main(rest, System.out));
            case "bookkeeper-conf" -> runTool(help, BookKeeperConf.USAGE, () -> BookKeeperConf.main(rest, System.out));
            case "compare" -> runTool(help, CompareRuns.USAGE, () -> CompareRuns.main(rest, System.out));
            case "stream-table" -> runTool(help, StreamTable.USAGE, () -> StreamTable.main(rest, System.out));
            case "echo-server" ->
            {
                if (help)
                {
                    System.out.print(AeronEcho.USAGE);
                    return;
                }
                AeronEcho.serverMain(rest); // Returns on SIGTERM; no System.exit while shutdown hooks run.
            }
            case "jmh" -> runTool(help, JmhMain.USAGE, () -> JmhMain.main(rest));
            default ->
            {
                System.err.print(USAGE);
                System.exit(2);
            }
        }
    }

    @FunctionalInterface
    interface Tool
    {
        int run() throws Exception;
    }

    /** Usage errors exit 2 with the usage; failures exit 1 naming what failed. */
    private static void runTool(final boolean help, final String usage, final Tool tool)
    {
        if (help)
        {
            System.out.print(usage);
            return;
        }
        int rc;
        try
        {
            rc = tool.run();
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-bench: " + ex.getMessage());
            System.err.print(usage);
            rc = 2;
        }
        catch (final Exception ex)
        {
            System.err.println("cairn-bench: failed: " + ex);
            rc = 1;
        }
        System.exit(rc);
    }
}
