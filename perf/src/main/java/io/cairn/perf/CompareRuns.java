package io.cairn.perf;

import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code cairn-bench compare}: several load-rig runs overlaid in one latency-by-percentile plot, one throughput plot
 * and one table, every row with its ratios to the first run (the baseline). Percentiles come from each run's own
 * .hlog, merged; nothing is averaged.
 */
final class CompareRuns
{
    static final String USAGE = """
        usage: cairn-bench compare [--out DIR] [--title TEXT] RUN...
          RUN      a run folder (holds latency.hlog) or a folder above run folders; the first run is the baseline
          --out    where compare.txt, compare-latency.png and compare-throughput.png go (default: the first RUN's
                   parent folder)
        """;

    private CompareRuns()
    {
    }

    static int main(final String[] args, final PrintStream out) throws IOException
    {
        Path outDir = null;
        String title = "comparison";
        final List<Path> runs = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--out" -> outDir = Path.of(BenchArgs.value(args, ++i, "--out"));
                case "--title" -> title = BenchArgs.value(args, ++i, "--title");
                default ->
                {
                    final Path p = Path.of(args[i]);
                    if (Files.exists(p.resolve(RunResults.HLOG)))
                    {
                        runs.add(p);
                    }
                    else if (Files.isDirectory(p))
                    {
                        runs.addAll(RunResults.findRuns(p));
                    }
                    else
                    {
                        throw new IllegalArgumentException("'" + args[i] + "' is not a run folder");
                    }
                }
            }
        }
        if (runs.isEmpty())
        {
            throw new IllegalArgumentException("no run folders given");
        }
        final List<RunResults.Run> read = new ArrayList<>();
        for (final Path p : runs)
        {
            read.add(RunResults.read(p));
        }
        if (null == outDir)
        {
            outDir = runs.get(0).toAbsolutePath().getParent();
        }
        Files.createDirectories(outDir);
        final String table = table(read);
        out.print(table);
        Files.writeString(outDir.resolve("compare.txt"), table);
        final Map<String, Histogram> latency = new LinkedHashMap<>();
        final Map<String, List<Histogram>> throughput = new LinkedHashMap<>();
        for (final RunResults.Run r : read)
        {
            latency.put(unique(latency, r.label()), r.latency());
            throughput.put(unique(throughput, r.label()), r.intervals());
        }
        Plots.latencyByPercentile(outDir.resolve("compare-latency.png"), title + ": latency by percentile", latency);
        Plots.throughputOverTime(outDir.resolve("compare-throughput.png"), title + ": throughput", throughput);
        out.println("plots: " + outDir.resolve("compare-latency.png") + " " + outDir.resolve("compare-throughput.png"));
        return 0;
    }

    private static String unique(final Map<String, ?> map, final String label)
    {
        String name = label;
        for (int i = 2; map.containsKey(name); i++)
        {
            name = label + " #" + i;
        }
        return name;
    }

    /** The table: one row per run; ratios are row / baseline (first run). */
    static String table(final List<RunResults.Run> runs)
    {
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-36s %-6s %10s %9s %9s %9s %10s %10s   %s%n", "run", "mode", "ops/s",
            "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "ratio to " + runs.get(0).label() +
            " (ops/s, p50, p99, p99.9)"));
        final RunResults.Run base = runs.get(0);
        for (final RunResults.Run r : runs)
        {
            final Histogram h = r.latency();
            b.append(String.format(Locale.ROOT, "%-36s %-6s %10.0f %9.1f %9.1f %9.1f %10.1f %10.1f", r.label(),
                r.mode(), throughput(r), us(h, 50), us(h, 90), us(h, 99), us(h, 99.9), h.getMaxValue() / 1e3));
            if (r != base)
            {
                b.append(String.format(Locale.ROOT, "   %.2fx %.2fx %.2fx %.2fx", throughput(r) / throughput(base),
                    us(h, 50) / us(base.latency(), 50), us(h, 99) / us(base.latency(), 99),
                    us(h, 99.9) / us(base.latency(), 99.9)));
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** The summary's measured throughput when present, else what the .hlog's intervals say. */
    static double throughput(final RunResults.Run r)
    {
        if (!Double.isNaN(r.throughputPerS()))
        {
            return r.throughputPerS();
        }
        long count = 0;
        long fromMs = Long.MAX_VALUE;
        long toMs = Long.MIN_VALUE;
        for (final Histogram h : r.intervals())
        {
            count += h.getTotalCount();
            fromMs = Math.min(fromMs, h.getStartTimeStamp());
            toMs = Math.max(toMs, h.getEndTimeStamp());
        }
        return toMs > fromMs ? count * 1e3 / (toMs - fromMs) : 0;
    }

    private static double us(final Histogram h, final double p)
    {
        return h.getValueAtPercentile(p) / 1e3;
    }
}
