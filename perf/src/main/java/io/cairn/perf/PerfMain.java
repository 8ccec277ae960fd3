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

    public static void main(final String[] args)
    {
        if (args.length == 0 || !"write".equals(args[0]))
        {
            System.err.println("usage: cairn-bench write [options]   (cairn-bench write --help for the options)");
            System.exit(2);
        }
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        if (Arrays.asList(rest).contains("--help"))
        {
            System.out.print(WriteBenchmark.USAGE);
            return;
        }
        WriteBenchmark.main(rest);
    }
}
