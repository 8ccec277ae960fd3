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

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 0 || !("write".equals(args[0]) || "io".equals(args[0]) || "disk".equals(args[0]) ||
            "manager".equals(args[0])))
        {
            System.err.println("usage: cairn-bench write|io|disk|manager [options]   (--help after the name lists the options)\n" +
                "  write  replicated appends through a running cluster, HdrHistogram percentiles\n" +
                "  io     the io_uring O_DIRECT write+fdatasync round trip alone, on a local file\n" +
                "  disk   the extent store alone (store + disk I/O agent) at a queue depth; see perf/disk-bench.sh\n" +
                "  manager  metadata operations against the manager or etcd; see perf/manager-bench.sh");
            System.exit(2);
        }
        final boolean write = "write".equals(args[0]);
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if ("disk".equals(args[0]))
        {
            if (Arrays.asList(rest).contains("--help"))
            {
                System.out.print(DiskBenchmark.USAGE);
                return;
            }
            DiskBenchmark.main(rest);
            return;
        }
        if ("manager".equals(args[0]))
        {
            if (Arrays.asList(rest).contains("--help"))
            {
                System.out.print(ManagerBenchmark.USAGE);
                return;
            }
            ManagerBenchmark.main(rest);
            return;
        }
        if (Arrays.asList(rest).contains("--help"))
        {
            System.out.print(write ? WriteBenchmark.USAGE : IoRoundTripBenchmark.USAGE);
            return;
        }
        if (write)
        {
            WriteBenchmark.main(rest);
        }
        else
        {
            IoRoundTripBenchmark.main(rest);
        }
    }
}
