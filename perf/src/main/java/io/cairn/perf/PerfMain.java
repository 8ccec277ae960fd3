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
        if (args.length == 0 || !("write".equals(args[0]) || "io".equals(args[0])))
        {
            System.err.println("usage: cairn-bench write|io [options]   (--help after the name lists the options)\n" +
                "  write  replicated appends through a running cluster, HdrHistogram percentiles\n" +
                "  io     the io_uring O_DIRECT write+fdatasync round trip alone, on a local file");
            System.exit(2);
        }
        final boolean write = "write".equals(args[0]);
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
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
