package io.cairn.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The files of one run in its own folder: {@code latency.hlog} (one interval histogram a second, written while running),
 * {@code latency.hgrm} (percentile distribution, µs), {@code service.hgrm} (open loop: from the actual send),
 * {@code summary.json}, {@code latency.png} and {@code throughput.png}; and reading them back for {@code compare}.
 */
final class RunResults
{
    static final String HLOG = "latency.hlog";
    static final String SUMMARY = "summary.json";
    static final double[] PERCENTILES = { 50, 90, 99, 99.9, 99.99 };

    /** A run read back from its folder. */
    record Run(Path dir, String label, String mode, Histogram latency, List<Histogram> intervals, double throughputPerS)
    {
    }

    private RunResults()
    {
    }

    /** Writes everything but the .hlog (already written during the run). */
    static void write(
        final Path dir, final String label, final LoadRig.Options o, final LoadRig.Result r,
        final Map<String, Object> workload) throws IOException
    {
        Files.createDirectories(dir);
        try (PrintStream ps = new PrintStream(Files.newOutputStream(dir.resolve("latency.hgrm")), true,
            StandardCharsets.UTF_8))
        {
            r.latency().outputPercentileDistribution(ps, 1000.0);
        }
        if (o.mode() == LoadRig.Mode.OPEN)
        {
            try (PrintStream ps = new PrintStream(Files.newOutputStream(dir.resolve("service.hgrm")), true,
                StandardCharsets.UTF_8))
            {
                r.service().outputPercentileDistribution(ps, 1000.0);
            }
        }
        Files.writeString(dir.resolve(SUMMARY), summaryJson(label, o, r, workload));
        final Map<String, Histogram> latency = new LinkedHashMap<>();
        latency.put(label + (o.mode() == LoadRig.Mode.OPEN ? " (from scheduled send)" : ""), r.latency());
        if (o.mode() == LoadRig.Mode.OPEN)
        {
            latency.put(label + " (service time, from actual send)", r.service());
        }
        Plots.latencyByPercentile(dir.resolve("latency.png"), label + ": latency by percentile", latency);
        Plots.throughputOverTime(dir.resolve("throughput.png"), label + ": throughput", Map.of(label, r.intervals()));
    }

    static String summaryJson(
        final String label, final LoadRig.Options o, final LoadRig.Result r, final Map<String, Object> workload)
    {
        final StringBuilder b = new StringBuilder(1024).append("{\n");
        field(b, "label", label);
        field(b, "mode", o.mode().name().toLowerCase(Locale.ROOT));
        field(b, "targetRatePerS", o.mode() == LoadRig.Mode.OPEN ? o.ratePerS() : null);
        field(b, "threads", o.threads());
        field(b, "warmupS", o.warmupNs() / 1e9);
        field(b, "durationS", o.durationNs() / 1e9);
        field(b, "maxOps", o.maxOps());
        for (final Map.Entry<String, Object> e : workload.entrySet())
        {
            field(b, e.getKey(), e.getValue());
        }
        field(b, "measuredOps", r.measuredOps());
        field(b, "warmupOps", r.warmupOps());
        field(b, "errors", r.errors());
        field(b, "firstError", null == r.firstError() ? null : String.valueOf(r.firstError()));
        field(b, "unsentOps", r.unsentOps());
        field(b, "clampedOps", r.clamped());
        field(b, "elapsedS", r.elapsedS());
        field(b, "throughputPerS", r.throughputPerS());
        b.append("  \"latencyUs\": ").append(percentilesJson(r.latency())).append(",\n");
        b.append("  \"serviceTimeUs\": ").append(percentilesJson(r.service())).append('\n');
        return b.append("}\n").toString();
    }

    static String percentilesJson(final Histogram h)
    {
        final StringBuilder b = new StringBuilder("{");
        for (final double p : PERCENTILES)
        {
            b.append('"').append("p").append(fmt(p)).append("\": ").append(fmt(h.getValueAtPercentile(p) / 1e3))
                .append(", ");
        }
        return b.append("\"max\": ").append(fmt(h.getMaxValue() / 1e3)).append(", \"count\": ")
            .append(h.getTotalCount()).append('}').toString();
    }

    private static void field(final StringBuilder b, final String name, final Object value)
    {
        b.append("  \"").append(name).append("\": ");
        if (null == value)
        {
            b.append("null");
        }
        else if (value instanceof Number n)
        {
            b.append(n instanceof Double || n instanceof Float ? fmt(n.doubleValue()) : n.toString());
        }
        else if (value instanceof Boolean)
        {
            b.append(value);
        }
        else
        {
            b.append('"').append(escape(value.toString())).append('"');
        }
        b.append(",\n");
    }

    static String escape(final String s)
    {
        final StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> b.append(c < 0x20 ? String.format("\\u%04x", (int)c) : String.valueOf(c));
            }
        }
        return b.toString();
    }

    static String fmt(final double v)
    {
        if (v == Math.rint(v) && Math.abs(v) < 1e15)
        {
            return Long.toString((long)v);
        }
        return String.format(Locale.ROOT, "%.3f", v).replaceAll("0+$", "");
    }

    /** Reads a run folder: the .hlog for the histograms, the summary for its label and mode. */
    static Run read(final Path dir) throws IOException
    {
        final Path hlog = dir.resolve(HLOG);
        if (!Files.exists(hlog))
        {
            throw new IOException(dir + " holds no " + HLOG + " (not a load-rig run folder)");
        }
        final List<Histogram> intervals = new ArrayList<>();
        final Histogram total = new Histogram(LoadRig.HIGHEST_TRACKABLE_NS, LoadRig.SIGNIFICANT_DIGITS);
        try (HistogramLogReader reader = new HistogramLogReader(hlog.toFile()))
        {
            Histogram h;
            while (null != (h = (Histogram)reader.nextIntervalHistogram()))
            {
                intervals.add(h);
                total.add(h);
            }
        }
        final String json = Files.exists(dir.resolve(SUMMARY)) ? Files.readString(dir.resolve(SUMMARY)) : "";
        final String label = jsonString(json, "label", dir.getFileName().toString());
        final String mode = jsonString(json, "mode", "?");
        final double throughput = jsonNumber(json, "throughputPerS", Double.NaN);
        return new Run(dir, label, mode, total, intervals, throughput);
    }

    /** Every run folder at or below {@code root} (a folder holding a latency.hlog), in name order. */
    static List<Path> findRuns(final Path root) throws IOException
    {
        try (Stream<Path> s = Files.walk(root, 4))
        {
            return s.filter(p -> p.getFileName().toString().equals(HLOG)).map(Path::getParent).sorted().toList();
        }
    }

    static String jsonString(final String json, final String name, final String otherwise)
    {
        final Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\":\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        return m.find() ? m.group(1).replace("\\\"", "\"").replace("\\\\", "\\") : otherwise;
    }

    static double jsonNumber(final String json, final String name, final double otherwise)
    {
        final Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\":\\s*(-?[0-9.eE+-]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : otherwise;
    }
}
