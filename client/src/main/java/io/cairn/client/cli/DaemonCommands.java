package io.cairn.client.cli;

import io.cairn.client.CairnClient;
import io.cairn.manager.ClusterStatus;
import io.cairn.manager.ManagerEndpoints;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.metrics.CncFile;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.HealthCheck;
import io.cairn.replication.metrics.LatencyHistogram;
import io.cairn.replication.metrics.Metric;
import io.cairn.replication.metrics.MetricsReader;
import io.cairn.replication.metrics.Series;
import org.agrona.concurrent.errors.ErrorLogReader;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The admin CLI's commands that read a daemon on this machine without talking to it: {@code stat} (its counters and
 * latency histograms, from its CnC file mapped read-only), {@code health} (exit 0 healthy, 1 not, with the reasons)
 * and {@code errors} (its distinct error log). Nothing here connects to the daemon, so none of them disturbs it, and
 * they work on a daemon that is stuck.
 */
public final class DaemonCommands
{
    /** Verbs handled here. */
    public static final List<String> VERBS = List.of("stat", "health", "errors");

    /** Usage lines of these verbs. */
    public static final String USAGE = """
          stat (--node-id N | --member-id M | --aeron-dir DIR)
                                           a daemon's counters and latency histograms, read from its CnC file
                                           (read-only: the daemon is not disturbed)
          health (--node-id N | --member-id M | --aeron-dir DIR) [--window-ms MS]
                                           exit 0 if healthy, else 1 with the reasons: process alive, agent
                                           cycling, no disk FAILED, a leader known (members)
          health --cluster                 exit 0 if the manager cluster answers and a leader is known
          errors (--node-id N | --member-id M | --aeron-dir DIR) [--error-log-dir DIR] [--previous]
          errors --error-log-dir DIR       the daemon's distinct errors: count, first and last seen, stack
                                           (a member's log is in its --dir)
        """;

    static final int EXIT_OK = 0;
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;

    private final PrintStream out;
    private final PrintStream err;

    /**
     * @param out where results go.
     * @param err where errors go.
     */
    public DaemonCommands(final PrintStream out, final PrintStream err)
    {
        this.out = out;
        this.err = err;
    }

    /** Bad usage, with the message to show. */
    public static final class UsageException extends IllegalArgumentException
    {
        private static final long serialVersionUID = 1L;

        UsageException(final String message)
        {
            super(message);
        }
    }

    /** Where the daemon is and how to show it. */
    record Target(String aeronDir, Path errorLogDir, boolean cluster, String managers, boolean json, long windowMs,
        boolean previous, long timeoutMs)
    {
    }

    /**
     * @param verb     one of {@link #VERBS}.
     * @param args     the remaining arguments (consumed).
     * @param managers the --managers list (to find a member's Aeron directory and for {@code health --cluster}).
     * @param json     whether to print JSON.
     * @param timeoutMs the --timeout-ms (health --cluster).
     * @return the exit code.
     * @throws UsageException naming the bad flag.
     */
    public int run(final String verb, final List<String> args, final String managers, final boolean json,
        final long timeoutMs)
    {
        return prepare(verb, args, managers, json, timeoutMs).getAsInt();
    }

    /**
     * Parse now (so bad flags are reported as usage errors before anything runs), run later.
     *
     * @param verb      one of {@link #VERBS}.
     * @param args      the remaining arguments (consumed).
     * @param managers  the --managers list.
     * @param json      whether to print JSON.
     * @param timeoutMs the --timeout-ms.
     * @return runs the command, answering its exit code.
     * @throws UsageException naming the bad flag.
     */
    public java.util.function.IntSupplier prepare(final String verb, final List<String> args, final String managers,
        final boolean json, final long timeoutMs)
    {
        final Target target = parse(verb, args, managers, json, timeoutMs);
        args.clear();
        return () -> execute(verb, target);
    }

    private int execute(final String verb, final Target target)
    {
        try
        {
            return switch (verb)
            {
                case "stat" -> stat(target);
                case "health" -> health(target);
                case "errors" -> errors(target);
                default -> throw new UsageException("unknown command '" + verb + "'");
            };
        }
        catch (final IllegalStateException ex)
        {
            err.println("cairn " + verb + ": " + ex.getMessage());
            return EXIT_FAILED;
        }
    }

    static Target parse(final String verb, final List<String> args, final String managers, final boolean json,
        final long timeoutMs)
    {
        String aeronDir = null;
        Path errorLogDir = null;
        boolean cluster = false;
        boolean previous = false;
        long windowMs = HealthCheck.WINDOW_MS_DEFAULT;
        int targets = 0;
        for (int i = 0; i < args.size(); i++)
        {
            final String flag = args.get(i);
            switch (flag)
            {
                case "--cluster" ->
                {
                    requireVerb(verb, flag, "health");
                    cluster = true;
                    targets++;
                    continue;
                }
                case "--previous" ->
                {
                    requireVerb(verb, flag, "errors");
                    previous = true;
                    continue;
                }
                default ->
                {
                }
            }
            if (i + 1 >= args.size())
            {
                throw new UsageException(flag + " needs a value");
            }
            final String value = args.get(++i);
            switch (flag)
            {
                case "--node-id" ->
                {
                    aeronDir = AeronDefaults.aeronDirectory("node-" + parseLong(flag, value, 1, Integer.MAX_VALUE));
                    targets++;
                }
                case "--member-id" ->
                {
                    aeronDir = memberAeronDir(managers, (int)parseLong(flag, value, 0, Integer.MAX_VALUE));
                    targets++;
                }
                case "--aeron-dir" ->
                {
                    aeronDir = value;
                    targets++;
                }
                case "--error-log-dir" ->
                {
                    // With --node-id and the like it only says where that daemon's error log is.
                    requireVerb(verb, flag, "errors");
                    errorLogDir = Path.of(value);
                }
                case "--window-ms" ->
                {
                    requireVerb(verb, flag, "health");
                    windowMs = parseLong(flag, value, 1, HealthCheck.WINDOW_MS_MAX);
                }
                default -> throw new UsageException(verb + ": unknown flag " + flag);
            }
        }
        if (0 == targets && null != errorLogDir)
        {
            targets = 1; // errors --error-log-dir DIR alone: a daemon not on this machine's /dev/shm, or a member
        }
        if (targets != 1)
        {
            throw new UsageException(verb + ": give exactly one of --node-id, --member-id, --aeron-dir" +
                ("errors".equals(verb) ? ", --error-log-dir" : "health".equals(verb) ? ", --cluster" : ""));
        }
        if (null == errorLogDir && null != aeronDir)
        {
            errorLogDir = Path.of(aeronDir);
        }
        return new Target(aeronDir, errorLogDir, cluster, managers, json, windowMs, previous, timeoutMs);
    }

    private static void requireVerb(final String verb, final String flag, final String expected)
    {
        if (!expected.equals(verb))
        {
            throw new UsageException(verb + ": unknown flag " + flag + " (it belongs to '" + expected + "')");
        }
    }

    private static long parseLong(final String flag, final String value, final long min, final long max)
    {
        try
        {
            final long parsed = Long.parseLong(value);
            if (parsed < min || parsed > max)
            {
                throw new UsageException(flag + " " + value + ": must be in [" + min + ", " + max + "]");
            }
            return parsed;
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException(flag + " " + value + ": not an integer");
        }
    }

    private static String memberAeronDir(final String managers, final int memberId)
    {
        final ManagerEndpoints.Member member = ManagerEndpoints.parse(managers).member(memberId);
        if (null == member)
        {
            throw new UsageException("--member-id " + memberId + ": not in --managers " + managers);
        }
        // The member's default (ManagerMember.Context): per member id and port base.
        return AeronDefaults.aeronDirectory("manager-" + memberId + "-" + member.basePort());
    }

    private int stat(final Target target)
    {
        try (CncFile cnc = CncFile.map(target.aeronDir()))
        {
            final List<Series> series = MetricsReader.read(cnc.counters());
            if (target.json())
            {
                out.println(statJson(cnc, series));
            }
            else
            {
                printStat(cnc, series);
            }
            return EXIT_OK;
        }
    }

    private void printStat(final CncFile cnc, final List<Series> series)
    {
        out.println("daemon pid " + cnc.pid() + ", driver started " + Instant.ofEpochMilli(cnc.startTimestampMs()) +
            ", " + cnc.file());
        if (series.isEmpty())
        {
            out.println("no Cairn counters in this CnC file (is it a Cairn daemon?)");
            return;
        }
        out.printf("%-52s %-40s %s%n", "METRIC", "LABELS", "VALUE");
        for (final Series s : series)
        {
            out.printf("%-52s %-40s %s%n", s.metric().promName(), labels(s.labels()), value(s));
        }
    }

    static String labels(final Map<String, String> labels)
    {
        final StringBuilder sb = new StringBuilder();
        for (final Map.Entry<String, String> label : labels.entrySet())
        {
            sb.append(sb.isEmpty() ? "" : " ").append(label.getKey()).append('=').append(label.getValue());
        }
        return sb.isEmpty() ? "-" : sb.toString();
    }

    private static String value(final Series s)
    {
        if (s.metric().type() != Metric.Type.HISTOGRAM)
        {
            if (s.metric() == Metric.DISK_STATE)
            {
                return s.value() == 0 ? "OK" : s.value() == 1 ? "FULL" : s.value() == Metric.DISK_STATE_FAILED ?
                    "FAILED" : Long.toString(s.value());
            }
            return Long.toString(s.value());
        }
        if (0 == s.value())
        {
            return "count=0";
        }
        return "count=" + s.value() + " mean=" + micros(s.sumNs() / s.value()) + " p50<=" +
            micros(s.quantileUpperBoundNs(0.5)) + " p99<=" + micros(s.quantileUpperBoundNs(0.99)) + " max<=" +
            micros(s.quantileUpperBoundNs(1.0));
    }

    private static String micros(final long ns)
    {
        return ns == Long.MAX_VALUE ? "inf" : String.format("%.1fus", ns / 1000.0);
    }

    static String statJson(final CncFile cnc, final List<Series> series)
    {
        final StringBuilder sb = new StringBuilder("{\"cnc\":").append(quote(cnc.file().toString()))
            .append(",\"pid\":").append(cnc.pid()).append(",\"startTimestampMs\":").append(cnc.startTimestampMs())
            .append(",\"metrics\":[");
        boolean first = true;
        for (final Series s : series)
        {
            sb.append(first ? "" : ",").append("{\"name\":").append(quote(s.metric().promName()))
                .append(",\"type\":").append(quote(s.metric().type().name().toLowerCase())).append(",\"labels\":{");
            boolean firstLabel = true;
            for (final Map.Entry<String, String> label : s.labels().entrySet())
            {
                sb.append(firstLabel ? "" : ",").append(quote(label.getKey())).append(':').append(quote(label.getValue()));
                firstLabel = false;
            }
            sb.append("}");
            if (s.metric().type() == Metric.Type.HISTOGRAM)
            {
                sb.append(",\"count\":").append(s.value()).append(",\"sumNs\":").append(s.sumNs()).append(",\"buckets\":[");
                for (int i = 0; i < s.buckets().length; i++)
                {
                    final long bound = LatencyHistogram.upperBoundNs(i);
                    sb.append(i == 0 ? "" : ",").append("{\"leNs\":").append(bound == Long.MAX_VALUE ? "null" : bound)
                        .append(",\"count\":").append(s.buckets()[i]).append('}');
                }
                sb.append(']');
            }
            else
            {
                sb.append(",\"value\":").append(s.value());
            }
            sb.append('}');
            first = false;
        }
        return sb.append("]}").toString();
    }

    static String quote(final String s)
    {
        final StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        sb.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    private int health(final Target target)
    {
        if (target.cluster())
        {
            return clusterHealth(target);
        }
        final HealthCheck.Result result;
        try (CncFile cnc = CncFile.map(target.aeronDir()))
        {
            result = HealthCheck.check(cnc, target.windowMs(), Thread::sleep);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
        catch (final IllegalStateException ex)
        {
            // No CnC file (daemon gone), or not readable: that is a verdict, not a usage error.
            return report(new HealthCheck.Result(false, List.of(ex.getMessage()), List.of()), target.json());
        }
        return report(result, target.json());
    }

    private int clusterHealth(final Target target)
    {
        final ClusterStatus status;
        try (CairnClient client = CairnClient.connect(new CairnClient.Context()
            .managers(target.managers())
            .managerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(target.timeoutMs()))))
        {
            status = client.clusterStatus();
        }
        catch (final Exception ex)
        {
            return report(new HealthCheck.Result(false, List.of("manager cluster " + target.managers() +
                " did not answer: " + ex.getMessage()), List.of()), target.json());
        }
        if (status.leaderMemberId() < 0)
        {
            return report(new HealthCheck.Result(false, List.of("no leader known"), List.of()), target.json());
        }
        return report(new HealthCheck.Result(true, List.of(), List.of("manager cluster answered; leader member " +
            status.leaderMemberId() + ", term " + status.leadershipTermId())), target.json());
    }

    private int report(final HealthCheck.Result result, final boolean json)
    {
        if (json)
        {
            final StringBuilder sb = new StringBuilder("{\"healthy\":").append(result.healthy()).append(",\"problems\":[");
            for (int i = 0; i < result.problems().size(); i++)
            {
                sb.append(i == 0 ? "" : ",").append(quote(result.problems().get(i)));
            }
            sb.append("],\"checked\":[");
            for (int i = 0; i < result.checked().size(); i++)
            {
                sb.append(i == 0 ? "" : ",").append(quote(result.checked().get(i)));
            }
            out.println(sb.append("]}"));
        }
        else
        {
            out.println(result.healthy() ? "healthy" : "unhealthy");
            for (final String problem : result.problems())
            {
                out.println("  problem: " + problem);
            }
            for (final String checked : result.checked())
            {
                out.println("  ok: " + checked);
            }
        }
        return result.healthy() ? EXIT_OK : EXIT_FAILED;
    }

    private int errors(final Target target)
    {
        final Path file = target.errorLogDir().resolve(
            target.previous() ? ErrorLogFile.PREVIOUS_FILE_NAME : ErrorLogFile.FILE_NAME);
        if (!Files.exists(file))
        {
            throw new IllegalStateException(file + " not found (the daemon has not started with this error log " +
                "directory, or it was removed)");
        }
        final ErrorLogFile.Contents contents;
        try
        {
            contents = ErrorLogFile.read(file);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(file + ": " + ex.getMessage());
        }
        final List<ErrorLogFile.Entry> driverErrors = driverErrors(target);
        if (target.json())
        {
            out.println(errorsJson(file, contents, driverErrors));
            return EXIT_OK;
        }
        out.println(file + ": pid " + contents.pid() + ", started " + Instant.ofEpochMilli(contents.startMs()) + ", " +
            contents.observations() + " errors observed, " + contents.entries().size() + " distinct" +
            (contents.dropped() > 0 ? ", " + contents.dropped() + " NOT RECORDED (log full)" : ""));
        printEntries(contents.entries());
        if (!driverErrors.isEmpty())
        {
            out.println("Aeron media driver errors (from its CnC file): " + driverErrors.size() + " distinct");
            printEntries(driverErrors);
        }
        return EXIT_OK;
    }

    private List<ErrorLogFile.Entry> driverErrors(final Target target)
    {
        final List<ErrorLogFile.Entry> entries = new ArrayList<>();
        if (null == target.aeronDir() || target.previous() ||
            !Files.exists(Path.of(target.aeronDir(), io.aeron.CncFileDescriptor.CNC_FILE)))
        {
            return entries;
        }
        try (CncFile cnc = CncFile.map(target.aeronDir()))
        {
            ErrorLogReader.read(cnc.driverErrorLog(),
                (count, firstMs, lastMs, text) -> entries.add(new ErrorLogFile.Entry(count, firstMs, lastMs, text)));
        }
        catch (final IllegalStateException ex)
        {
            err.println("cairn errors: media driver errors not read: " + ex.getMessage());
        }
        return entries;
    }

    private void printEntries(final List<ErrorLogFile.Entry> entries)
    {
        for (final ErrorLogFile.Entry e : entries)
        {
            out.println();
            out.println(e.count() + " observation(s), first " + Instant.ofEpochMilli(e.firstMs()) + ", last " +
                Instant.ofEpochMilli(e.lastMs()));
            out.println(e.description().stripTrailing());
        }
    }

    private static String errorsJson(
        final Path file, final ErrorLogFile.Contents contents, final List<ErrorLogFile.Entry> driverErrors)
    {
        final StringBuilder sb = new StringBuilder("{\"file\":").append(quote(file.toString()))
            .append(",\"pid\":").append(contents.pid()).append(",\"startMs\":").append(contents.startMs())
            .append(",\"observations\":").append(contents.observations())
            .append(",\"notRecorded\":").append(contents.dropped()).append(",\"errors\":");
        entriesJson(sb, contents.entries());
        sb.append(",\"driverErrors\":");
        entriesJson(sb, driverErrors);
        return sb.append('}').toString();
    }

    private static void entriesJson(final StringBuilder sb, final List<ErrorLogFile.Entry> entries)
    {
        sb.append('[');
        for (int i = 0; i < entries.size(); i++)
        {
            final ErrorLogFile.Entry e = entries.get(i);
            sb.append(i == 0 ? "" : ",").append("{\"count\":").append(e.count()).append(",\"firstMs\":")
                .append(e.firstMs()).append(",\"lastMs\":").append(e.lastMs()).append(",\"description\":")
                .append(quote(e.description())).append('}');
        }
        sb.append(']');
    }
}
