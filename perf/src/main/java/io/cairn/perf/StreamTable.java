package io.cairn.perf;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The table of {@code perf/stream-bench.sh}: the replicated append against the sum of its parts, measured in the same
 * run at one append size.
 * <p>
 * The limit is {@code hops x echo RTT + local append}, percentile by percentile, where the echo is a raw Aeron UDP
 * echo that carries the payload one way and a 12-byte answer back ({@code echo-server --ack-only}) and the local
 * append is the extent store's append + fdatasync at QD 1 ({@code cairn-bench disk --mode write}). With the default
 * {@link #DEFAULT_HOPS} = 2 round trips: client to primary (the payload) and back (the ack), and primary to the
 * secondaries (the payload) and back (their acks). The two secondaries are sent to and write in parallel, so they
 * count once; so do the primary's own write and the secondaries' (the primary writes while it forwards), so one local
 * append is on the path. Adding percentiles is conservative for the tails (the p99 of a sum is at most the sum of the
 * p99s when the parts are independent), so a ratio near 1 at p99 means the protocol adds about nothing.
 * <p>
 * The limit's rate is that of a QD 1 closed loop running the parts one after another:
 * {@code 1 / (hops / echoOps + 1 / appendOps)}.
 */
final class StreamTable
{
    static final String USAGE = """
        usage: cairn-bench stream-table --size-bytes N --echo RUN_DIR --disk DISK_LINE_FILE --closed RUN_DIR
                                        [--open RUN_DIR] [--hops H]
          prints the replicated append vs the sum of its parts (perf/stream-bench.sh):
          --size-bytes  the append payload of every part, for the heading
          --echo        load-rig run folder of the raw Aeron echo (--ack-only server: payload one way, ack back)
          --disk        file holding the line of 'cairn-bench disk --mode write --qd 1' (iops= p50us= p99us= p999us=)
          --closed      load-rig run folder of the replicated append, closed loop
          --open        load-rig run folder of the replicated append, open loop (optional)
          --hops        echo round trips on the append's critical path (default 2, max 16)
        """;

    /** Client to primary and back, primary to the (parallel) secondaries and back. */
    static final int DEFAULT_HOPS = 2;
    static final int MAX_HOPS = 16;

    /** One row: throughput and latency percentiles, all measured, in ops/s and microseconds. */
    record Part(double opsPerS, double p50Us, double p99Us, double p999Us, long errors, long unsentOps)
    {
        Part
        {
            if (!(opsPerS >= 0) || !(p50Us >= 0) || !(p99Us >= p50Us) || !(p999Us >= p99Us))
            {
                throw new IllegalArgumentException("bad measurement: ops/s " + opsPerS + ", p50 " + p50Us + ", p99 " +
                    p99Us + ", p99.9 " + p999Us + " (need ops/s >= 0 and 0 <= p50 <= p99 <= p99.9)");
            }
        }
    }

    record Options(int sizeBytes, Path echo, Path disk, Path closed, Path open, int hops)
    {
    }

    private StreamTable()
    {
    }

    static Options parse(final String[] args)
    {
        int size = -1;
        Path echo = null;
        Path disk = null;
        Path closed = null;
        Path open = null;
        int hops = DEFAULT_HOPS;
        for (int i = 0; i < args.length; i++)
        {
            final String a = args[i];
            switch (a)
            {
                case "--size-bytes" -> size = (int)BenchArgs.number(args, ++i, a, 1, Integer.MAX_VALUE);
                case "--echo" -> echo = Path.of(BenchArgs.value(args, ++i, a));
                case "--disk" -> disk = Path.of(BenchArgs.value(args, ++i, a));
                case "--closed" -> closed = Path.of(BenchArgs.value(args, ++i, a));
                case "--open" -> open = Path.of(BenchArgs.value(args, ++i, a));
                case "--hops" -> hops = (int)BenchArgs.number(args, ++i, a, 1, MAX_HOPS);
                default -> throw new IllegalArgumentException("unknown argument '" + a + "'");
            }
        }
        if (size < 0)
        {
            throw new IllegalArgumentException("--size-bytes is required");
        }
        if (null == echo || null == disk || null == closed)
        {
            throw new IllegalArgumentException("--echo, --disk and --closed are required" +
                (null == echo ? " (no --echo)" : "") + (null == disk ? " (no --disk)" : "") +
                (null == closed ? " (no --closed)" : ""));
        }
        return new Options(size, echo, disk, closed, open, hops);
    }

    static int main(final String[] args, final PrintStream out) throws IOException
    {
        final Options o = parse(args);
        final Part echo = loadRun(o.echo());
        final Part disk = diskLine(Files.readString(o.disk()), o.disk().toString());
        final Part closed = loadRun(o.closed());
        final Part open = null == o.open() ? null : loadRun(o.open());
        final double openRatePerS = null == o.open() ? Double.NaN : RunResults.jsonNumber(
            Files.readString(o.open().resolve(RunResults.SUMMARY)), "targetRatePerS", Double.NaN);
        out.print(table(o.sizeBytes(), o.hops(), echo, disk, closed, open, openRatePerS));
        return 0;
    }

    /** A load-rig run's summary.json: its throughput, its (first, i.e. scheduled-time) latency percentiles. */
    static Part loadRun(final Path runDir) throws IOException
    {
        final Path summary = runDir.resolve(RunResults.SUMMARY);
        if (!Files.isRegularFile(summary))
        {
            throw new IOException(runDir + " holds no " + RunResults.SUMMARY + " (not a load-rig run folder)");
        }
        return summaryJson(Files.readString(summary), summary.toString());
    }

    static Part summaryJson(final String json, final String name)
    {
        final int at = json.indexOf("\"latencyUs\"");
        if (at < 0)
        {
            throw new IllegalArgumentException(name + " has no latencyUs");
        }
        final String latency = json.substring(at);
        return new Part(required(json, "throughputPerS", name), required(latency, "p50", name),
            required(latency, "p99", name), required(latency, "p99.9", name),
            (long)RunResults.jsonNumber(json, "errors", 0), (long)RunResults.jsonNumber(json, "unsentOps", 0));
    }

    private static double required(final String json, final String field, final String name)
    {
        final double v = RunResults.jsonNumber(json, field, Double.NaN);
        if (Double.isNaN(v))
        {
            throw new IllegalArgumentException(name + " has no " + field);
        }
        return v;
    }

    private static final Pattern DISK_FIELD = Pattern.compile("\\b(iops|p50us|p99us|p999us)=([0-9.]+)");

    /** The line {@code cairn-bench disk} prints: {@code label mode=write qd=1 ops=.. iops=.. p50us=.. p99us=.. p999us=..}. */
    static Part diskLine(final String text, final String name)
    {
        double iops = Double.NaN;
        double p50 = Double.NaN;
        double p99 = Double.NaN;
        double p999 = Double.NaN;
        final Matcher m = DISK_FIELD.matcher(text);
        while (m.find())
        {
            final double v = Double.parseDouble(m.group(2));
            switch (m.group(1))
            {
                case "iops" -> iops = v;
                case "p50us" -> p50 = v;
                case "p99us" -> p99 = v;
                default -> p999 = v;
            }
        }
        if (Double.isNaN(iops) || Double.isNaN(p50) || Double.isNaN(p99) || Double.isNaN(p999))
        {
            throw new IllegalArgumentException(name + " holds no complete 'cairn-bench disk' line (iops= p50us= " +
                "p99us= p999us=): '" + text.strip() + "'");
        }
        return new Part(iops, p50, p99, p999, 0, 0);
    }

    /** {@code hops x echo + append}, percentile by percentile; the rate of the parts run back to back at QD 1. */
    static Part limit(final int hops, final Part echo, final Part append)
    {
        if (hops < 1 || hops > MAX_HOPS)
        {
            throw new IllegalArgumentException("hops " + hops + " must be in [1, " + MAX_HOPS + "]");
        }
        final double ops = echo.opsPerS() > 0 && append.opsPerS() > 0 ?
            1.0 / (hops / echo.opsPerS() + 1.0 / append.opsPerS()) : 0;
        return new Part(ops, hops * echo.p50Us() + append.p50Us(), hops * echo.p99Us() + append.p99Us(),
            hops * echo.p999Us() + append.p999Us(), 0, 0);
    }

    static String table(final int sizeBytes, final int hops, final Part echo, final Part disk, final Part closed,
        final Part open, final double openRatePerS)
    {
        final Part limit = limit(hops, echo, disk);
        final StringBuilder b = new StringBuilder(2048);
        b.append(String.format(Locale.ROOT, "-- %s appends (%d-byte payload), 1 client, 3 replicas --%n",
            sizeName(sizeBytes), sizeBytes));
        b.append(String.format(Locale.ROOT, "  %-56s %9s %9s %9s %10s%n", "", "ops/s", "p50 µs", "p99 µs", "p99.9 µs"));
        row(b, "aeron echo RTT (payload out, 12 B ack back), closed", echo);
        row(b, "local extent append (append + fdatasync, QD 1)", disk);
        row(b, "limit = " + hops + " x echo RTT + local append", limit);
        row(b, "replicated append, closed loop QD 1", closed);
        ratio(b, "  ratio replicated/limit", closed, limit, true);
        if (null != open)
        {
            row(b, "replicated append, open loop at " + (Double.isNaN(openRatePerS) ? "?" :
                String.format(Locale.ROOT, "%.0f", openRatePerS)) + "/s (scheduled time)", open);
            // Its rate is the one asked for, not a capacity: no ops/s ratio.
            ratio(b, "  ratio replicated/limit", open, limit, false);
        }
        return b.toString();
    }

    static String sizeName(final int sizeBytes)
    {
        return sizeBytes % 1024 == 0 ? (sizeBytes / 1024) + " KiB" : sizeBytes + " B";
    }

    private static void row(final StringBuilder b, final String name, final Part p)
    {
        b.append(String.format(Locale.ROOT, "  %-56s %9.0f %9.1f %9.1f %10.1f%s%s%n", name, p.opsPerS(), p.p50Us(),
            p.p99Us(), p.p999Us(), p.errors() == 0 ? "" : "  errors " + p.errors(),
            p.unsentOps() == 0 ? "" : "  UNSENT " + p.unsentOps()));
    }

    /** Replicated over limit; the ops/s ratio is limit over replicated so that, like latency, above 1 is slower. */
    private static void ratio(final StringBuilder b, final String name, final Part replicated, final Part limit,
        final boolean withRate)
    {
        b.append(String.format(Locale.ROOT, "  %-56s %9s %9s %9s %10s%n", name,
            withRate ? div(limit.opsPerS(), replicated.opsPerS()) : "-", div(replicated.p50Us(), limit.p50Us()),
            div(replicated.p99Us(), limit.p99Us()), div(replicated.p999Us(), limit.p999Us())));
    }

    static String div(final double a, final double b)
    {
        return b > 0 ? String.format(Locale.ROOT, "%.2fx", a / b) : "-";
    }
}
