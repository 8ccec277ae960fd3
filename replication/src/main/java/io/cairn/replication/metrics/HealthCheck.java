package io.cairn.replication.metrics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Whether a daemon is healthy, judged from its CnC file alone (so {@code cairn health}, the daemon's HTTP
 * {@code /health} and a systemd unit all reach the same verdict):
 * <ul>
 * <li>the process that owns the file is alive and its driver's heartbeat is fresh;</li>
 * <li>its main agent's duty-cycle counter advanced across the sampling window (the agent is not stuck);</li>
 * <li>no disk is FAILED (extent nodes);</li>
 * <li>the consensus module is ACTIVE, no election is running and the member is LEADER or FOLLOWER, i.e. a leader
 * is known (manager members).</li>
 * </ul>
 */
public final class HealthCheck
{
    /** Default sampling window: long enough for an idle agent (parks at most 1 ms) to cycle many times. */
    public static final long WINDOW_MS_DEFAULT = 500;
    /** Most a window may be: a health probe must answer well inside a systemd or load-balancer timeout. */
    public static final long WINDOW_MS_MAX = 10_000;
    /** Driver heartbeat older than this fails the check (Aeron clients give up on a driver after 10 s). */
    public static final long DRIVER_HEARTBEAT_TIMEOUT_MS_DEFAULT = 5_000;

    /**
     * The verdict.
     *
     * @param healthy  whether every check passed.
     * @param problems why not, one line each; empty when healthy.
     * @param checked  what was checked and passed, one line each.
     */
    public record Result(boolean healthy, List<String> problems, List<String> checked)
    {
    }

    /** Sleeps between the two samples (tests pass one that does not). */
    @FunctionalInterface
    public interface Sleeper
    {
        /**
         * @param ms how long.
         * @throws InterruptedException when interrupted.
         */
        void sleep(long ms) throws InterruptedException;
    }

    private HealthCheck()
    {
    }

    /**
     * Sample the file twice, {@code windowMs} apart, and judge.
     *
     * @param cnc      the daemon's CnC file.
     * @param windowMs sampling window.
     * @param sleeper  waits between samples.
     * @return the verdict.
     * @throws InterruptedException when interrupted while waiting.
     */
    public static Result check(final CncFile cnc, final long windowMs, final Sleeper sleeper) throws InterruptedException
    {
        final List<Series> before = MetricsReader.read(cnc.counters());
        sleeper.sleep(windowMs);
        final List<Series> after = MetricsReader.read(cnc.counters());
        final long pid = cnc.pid();
        final boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        return evaluate(pid, alive, System.currentTimeMillis() - cnc.driverHeartbeatMs(),
            DRIVER_HEARTBEAT_TIMEOUT_MS_DEFAULT, windowMs, before, after);
    }

    /**
     * The judgement itself, over two samples.
     *
     * @param pid                  the daemon's pid.
     * @param processAlive         whether it runs.
     * @param driverHeartbeatAgeMs age of the driver's heartbeat.
     * @param heartbeatTimeoutMs   oldest heartbeat accepted.
     * @param windowMs             time between the samples.
     * @param before               first sample.
     * @param after                second sample.
     * @return the verdict.
     */
    public static Result evaluate(
        final long pid,
        final boolean processAlive,
        final long driverHeartbeatAgeMs,
        final long heartbeatTimeoutMs,
        final long windowMs,
        final List<Series> before,
        final List<Series> after)
    {
        final List<String> problems = new ArrayList<>();
        final List<String> checked = new ArrayList<>();
        if (!processAlive)
        {
            problems.add("process " + pid + " is not running (its CnC file is left from a crash or kill)");
            return new Result(false, problems, checked);
        }
        checked.add("process " + pid + " alive");
        if (driverHeartbeatAgeMs > heartbeatTimeoutMs)
        {
            problems.add("driver heartbeat " + driverHeartbeatAgeMs + " ms old (limit " + heartbeatTimeoutMs + " ms)");
        }
        else
        {
            checked.add("driver heartbeat " + Math.max(0, driverHeartbeatAgeMs) + " ms old");
        }
        checkDutyCycles(windowMs, before, after, problems, checked);
        checkDisks(after, problems, checked);
        checkCluster(after, problems, checked);
        return new Result(problems.isEmpty(), problems, checked);
    }

    private static void checkDutyCycles(
        final long windowMs, final List<Series> before, final List<Series> after, final List<String> problems,
        final List<String> checked)
    {
        final Map<Map<String, String>, Long> earlier = new HashMap<>();
        for (final Series s : MetricsReader.select(before, Metric.DUTY_CYCLES))
        {
            earlier.put(s.labels(), s.value());
        }
        final List<Series> later = MetricsReader.select(after, Metric.DUTY_CYCLES);
        if (later.isEmpty())
        {
            problems.add("no duty-cycle counter (" + Metric.DUTY_CYCLES.promName() + "): the daemon has not finished " +
                "starting, or is not a Cairn daemon");
            return;
        }
        for (final Series s : later)
        {
            final Long was = earlier.get(s.labels());
            if (null == was || s.value() <= was)
            {
                problems.add("agent " + s.labels() + " made no duty cycle in " + windowMs + " ms (stalled)");
            }
            else
            {
                checked.add("agent " + s.labels() + " cycling (" + (s.value() - was) + " duty cycles in " + windowMs +
                    " ms)");
            }
        }
    }

    private static void checkDisks(final List<Series> after, final List<String> problems, final List<String> checked)
    {
        for (final Series s : MetricsReader.select(after, Metric.DISK_STATE))
        {
            final String disk = "disk " + s.label("disk") + " (" + s.label(MetricLabels.DIR) + ")";
            if (s.value() == Metric.DISK_STATE_FAILED)
            {
                problems.add(disk + " FAILED");
            }
            else
            {
                checked.add(disk + (0 == s.value() ? " OK" : " FULL"));
            }
        }
    }

    private static void checkCluster(final List<Series> after, final List<String> problems, final List<String> checked)
    {
        for (final Series s : MetricsReader.select(after, Metric.CLUSTER_CONSENSUS_STATE))
        {
            if (s.value() != Metric.CONSENSUS_STATE_ACTIVE)
            {
                problems.add("consensus module state " + s.value() + ", not ACTIVE (1)");
            }
            else
            {
                checked.add("consensus module ACTIVE");
            }
        }
        for (final Series s : MetricsReader.select(after, Metric.CLUSTER_ELECTION_STATE))
        {
            if (s.value() != Metric.ELECTION_CLOSED)
            {
                problems.add("election in progress (state " + s.value() + "): no leader known");
            }
        }
        for (final Series s : MetricsReader.select(after, Metric.CLUSTER_ROLE))
        {
            if (s.value() != Metric.ROLE_LEADER && s.value() != Metric.ROLE_FOLLOWER)
            {
                problems.add("member is a CANDIDATE: no leader known");
            }
            else
            {
                checked.add("leader known (this member is " + (s.value() == Metric.ROLE_LEADER ? "LEADER" : "FOLLOWER") +
                    ")");
            }
        }
    }
}
