package io.cairn.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.HdrHistogram.Recorder;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A load rig in the manner of real-logic/benchmarks' {@code LoadTestRig}: N worker threads, each driving one
 * synchronous {@link Operation}, either
 * <ul>
 *     <li><b>open loop</b>: a fixed target rate; request {@code i} of a worker is <i>scheduled</i> at
 *     {@code start + offset + i * interval}, and its latency is measured from that scheduled time, not from when it
 *     was actually sent. A stall therefore counts against every request that should have been sent during it
 *     (coordinated-omission correction, as in wrk2); or</li>
 *     <li><b>closed loop</b>: each worker sends its next request as soon as the previous one completes (peak
 *     throughput); latency is measured from the actual send. This hides stalls by construction: use it for
 *     throughput, the open loop for latency.</li>
 * </ul>
 * Requests scheduled (open) or started (closed) before the warm-up ends are executed but not recorded. A run ends when
 * the measured window ends or {@code maxOps} measured requests were taken, whichever is first; an open-loop run that
 * falls behind its schedule is cut off {@link Options#drainNs()} after the window, and the requests it never sent are
 * reported as {@link Result#unsentOps()}.
 */
final class LoadRig
{
    /** Latencies above this are clamped (and counted as clamped), so a hung request cannot throw. */
    static final long HIGHEST_TRACKABLE_NS = TimeUnit.SECONDS.toNanos(60);
    static final int SIGNIFICANT_DIGITS = 3;

    enum Mode
    {
        OPEN, CLOSED
    }

    /**
     * @param mode       open or closed loop.
     * @param ratePerS   total target rate over all workers (open loop only).
     * @param threads    workers, one operation in flight each.
     * @param warmupNs   time before measuring.
     * @param durationNs measured time.
     * @param maxOps     most measured requests in total.
     * @param drainNs    how long after the window a late open-loop worker may go on sending what was scheduled.
     */
    record Options(Mode mode, long ratePerS, int threads, long warmupNs, long durationNs, long maxOps, long drainNs)
    {
        Options
        {
            if (threads < 1 || threads > 1024)
            {
                throw new IllegalArgumentException("--threads " + threads + " must be in [1, 1024]");
            }
            if (mode == Mode.OPEN && (ratePerS < 1 || ratePerS > 10_000_000))
            {
                throw new IllegalArgumentException("--rate " + ratePerS + " must be in [1, 10000000] for an open loop");
            }
            if (durationNs <= 0 || warmupNs < 0 || maxOps < 1 || drainNs < 0)
            {
                throw new IllegalArgumentException("duration, warm-up, max-ops and drain must be positive");
            }
        }

        /** Nanoseconds between two requests of one worker (open loop). */
        long workerIntervalNs()
        {
            return Math.max(1, TimeUnit.SECONDS.toNanos(threads) / ratePerS);
        }

        /** How far worker {@code index}'s schedule is shifted, so that workers do not all send at once. */
        long workerOffsetNs(final int index)
        {
            return mode == Mode.OPEN ? index * (TimeUnit.SECONDS.toNanos(1) / ratePerS) : 0;
        }
    }

    /** One request, executed synchronously by one worker thread; throws when it failed. */
    @FunctionalInterface
    interface Operation
    {
        void execute(long sequence) throws Exception;
    }

    /** Creates one worker's operation on the worker's own thread (clients are single-threaded). */
    @FunctionalInterface
    interface OperationFactory
    {
        Operation create(int workerIndex) throws Exception;
    }

    /** Time source and the way to wait for a scheduled time; a test passes a simulated one. */
    interface Clock
    {
        long nanoTime();

        void waitUntil(long deadlineNs);
    }

    /** The real clock: parks while far from the deadline, then spins briefly (no long busy-spin on 2 cores). */
    static final Clock SYSTEM_CLOCK = new Clock()
    {
        public long nanoTime()
        {
            return System.nanoTime();
        }

        public void waitUntil(final long deadlineNs)
        {
            long remainingNs;
            while ((remainingNs = deadlineNs - System.nanoTime()) > 0)
            {
                if (remainingNs > 80_000)
                {
                    LockSupport.parkNanos(remainingNs - 60_000);
                }
                else
                {
                    Thread.onSpinWait();
                }
            }
        }
    };

    /** Where workers record: thread-safe recorders and counters shared by all workers of a run. */
    static final class Sinks
    {
        final Recorder latency = new Recorder(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
        final Recorder service = new Recorder(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
        final AtomicLong measuredOps = new AtomicLong();
        final AtomicLong warmupOps = new AtomicLong();
        final AtomicLong errors = new AtomicLong();
        final AtomicLong unsentOps = new AtomicLong();
        final AtomicLong clamped = new AtomicLong();
        final AtomicReference<Throwable> firstError = new AtomicReference<>();
        volatile boolean stop;
    }

    /** The outcome of a run. */
    record Result(
        Histogram latency, Histogram service, List<Histogram> intervals, long measuredOps, long warmupOps,
        long errors, long unsentOps, long clamped, double elapsedS, Throwable firstError)
    {
        double throughputPerS()
        {
            return elapsedS > 0 ? measuredOps / elapsedS : 0;
        }
    }

    private LoadRig()
    {
    }

    /**
     * One worker's loop; returns when its part of the run is over. Public to the package so that a test can drive it
     * with a simulated clock on its own thread.
     *
     * @param o       the run's options.
     * @param index   this worker's index, 0..threads-1.
     * @param startNs when the run (its warm-up) starts, on {@code clock}.
     * @param clock   time source.
     * @param op      this worker's operation.
     * @param sinks   where to record.
     */
    static void runWorker(
        final Options o, final int index, final long startNs, final Clock clock, final Operation op, final Sinks sinks)
    {
        final long measureFromNs = startNs + o.warmupNs();
        final long endNs = measureFromNs + o.durationNs();
        final long intervalNs = o.workerIntervalNs();
        long scheduledNs = startNs + o.workerOffsetNs(index);
        long sequence = index;
        while (!sinks.stop)
        {
            if (o.mode() == Mode.OPEN)
            {
                if (scheduledNs - endNs >= 0)
                {
                    return;
                }
                final long nowNs = clock.nanoTime();
                if (nowNs - (endNs + o.drainNs()) >= 0)
                {
                    // Behind schedule past the drain limit: what was never sent is reported, not hidden.
                    sinks.unsentOps.addAndGet((endNs - scheduledNs + intervalNs - 1) / intervalNs);
                    return;
                }
                if (scheduledNs - nowNs > 0)
                {
                    clock.waitUntil(scheduledNs);
                }
            }
            else
            {
                scheduledNs = clock.nanoTime();
                if (scheduledNs - endNs >= 0)
                {
                    return;
                }
            }
            final boolean measured = scheduledNs - measureFromNs >= 0;
            if (measured && sinks.measuredOps.getAndIncrement() >= o.maxOps())
            {
                sinks.measuredOps.decrementAndGet();
                sinks.stop = true;
                return;
            }
            final long sentNs = clock.nanoTime();
            try
            {
                op.execute(sequence);
            }
            catch (final Exception ex)
            {
                sinks.errors.incrementAndGet();
                sinks.firstError.compareAndSet(null, ex);
            }
            final long doneNs = clock.nanoTime();
            if (measured)
            {
                record(sinks.latency, doneNs - scheduledNs, sinks);
                record(sinks.service, doneNs - sentNs, sinks);
            }
            else
            {
                sinks.warmupOps.incrementAndGet();
            }
            sequence += o.threads();
            scheduledNs += intervalNs;
        }
    }

    private static void record(final Recorder recorder, final long valueNs, final Sinks sinks)
    {
        if (valueNs > HIGHEST_TRACKABLE_NS)
        {
            sinks.clamped.incrementAndGet();
        }
        recorder.recordValue(Math.max(0, Math.min(valueNs, HIGHEST_TRACKABLE_NS)));
    }

    /**
     * Runs the workers on their own threads, writes one interval histogram a second to {@code log} (may be null) and
     * prints progress to {@code progress}.
     */
    static Result run(
        final Options o, final OperationFactory factory, final HistogramLogWriter log, final PrintStream progress)
        throws InterruptedException
    {
        final Sinks sinks = new Sinks();
        final List<Thread> threads = new ArrayList<>();
        final List<Operation> ops = new ArrayList<>();
        final AtomicReference<Throwable> setupError = new AtomicReference<>();
        final java.util.concurrent.CountDownLatch ready = new java.util.concurrent.CountDownLatch(o.threads());
        final java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        final long[] startNs = new long[1];
        for (int i = 0; i < o.threads(); i++)
        {
            final int index = i;
            final Thread t = new Thread(() ->
            {
                final Operation op;
                try
                {
                    op = factory.create(index);
                }
                catch (final Throwable ex)
                {
                    setupError.compareAndSet(null, ex);
                    ready.countDown();
                    return;
                }
                ready.countDown();
                try
                {
                    go.await();
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
                if (null == setupError.get())
                {
                    runWorker(o, index, startNs[0], SYSTEM_CLOCK, op, sinks);
                }
                if (op instanceof AutoCloseable c)
                {
                    try
                    {
                        c.close();
                    }
                    catch (final Exception ignore)
                    {
                        // Closing after the measurement: nothing left to report.
                    }
                }
            }, "rig-worker-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        ready.await();
        if (null != setupError.get())
        {
            go.countDown();
            join(threads);
            throw new IllegalStateException("worker set-up failed: " + setupError.get(), setupError.get());
        }
        if (null != log)
        {
            log.outputLogFormatVersion();
            log.outputStartTime(System.currentTimeMillis());
            log.setBaseTime(System.currentTimeMillis());
            log.outputLegend();
        }
        startNs[0] = System.nanoTime();
        go.countDown();
        return report(o, sinks, threads, startNs[0], log, progress);
    }

    private static Result report(
        final Options o, final Sinks sinks, final List<Thread> threads, final long startNs,
        final HistogramLogWriter log, final PrintStream progress) throws InterruptedException
    {
        final Histogram total = new Histogram(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
        final Histogram service = new Histogram(HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS);
        final List<Histogram> intervals = new ArrayList<>();
        final long measureFromNs = startNs + o.warmupNs();
        final long hardEndNs = measureFromNs + o.durationNs() + o.drainNs() + TimeUnit.SECONDS.toNanos(15);
        long nextReportNs = startNs + TimeUnit.SECONDS.toNanos(1);
        boolean alive = true;
        while (alive)
        {
            final long waitMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(nextReportNs - System.nanoTime()));
            alive = false;
            for (final Thread t : threads)
            {
                t.join(waitMs);
                alive |= t.isAlive();
                if (alive)
                {
                    break;
                }
            }
            final long nowNs = System.nanoTime();
            if (!alive || nowNs - nextReportNs >= 0)
            {
                nextReportNs += TimeUnit.SECONDS.toNanos(1);
                final Histogram interval = sinks.latency.getIntervalHistogram();
                service.add(sinks.service.getIntervalHistogram());
                total.add(interval);
                if (nowNs - measureFromNs >= 0 || interval.getTotalCount() > 0)
                {
                    intervals.add(interval);
                    if (null != log)
                    {
                        log.outputIntervalHistogram(interval);
                    }
                }
                printProgress(progress, o, nowNs - startNs, measureFromNs - nowNs > 0, interval, sinks);
            }
            if (alive && nowNs - hardEndNs >= 0)
            {
                sinks.stop = true; // Bounded: a request hung beyond its own time-outs; report what was measured.
                progress.println("[rig] run over its hard time limit: stopping workers");
                join(threads);
                break;
            }
        }
        final double elapsedS = Math.max(1e-9,
            (Math.min(System.nanoTime(), measureFromNs + o.durationNs()) - measureFromNs) / 1e9);
        return new Result(total, service, intervals, sinks.measuredOps.get(), sinks.warmupOps.get(), sinks.errors.get(),
            sinks.unsentOps.get(), sinks.clamped.get(), elapsedS, sinks.firstError.get());
    }

    private static void printProgress(
        final PrintStream out, final Options o, final long sinceStartNs, final boolean warmingUp,
        final Histogram interval, final Sinks sinks)
    {
        if (null == out)
        {
            return;
        }
        if (warmingUp)
        {
            out.printf("[rig] %3d s  warm-up  %d requests%n", TimeUnit.NANOSECONDS.toSeconds(sinceStartNs),
                sinks.warmupOps.get());
            return;
        }
        out.printf("[rig] %3d s  %s  %7d ops in last interval  p50 %8.1f µs  p99 %8.1f µs  max %9.1f µs  total %d%s%n",
            TimeUnit.NANOSECONDS.toSeconds(sinceStartNs), o.mode() == Mode.OPEN ? "open" : "closed",
            interval.getTotalCount(), interval.getValueAtPercentile(50) / 1e3, interval.getValueAtPercentile(99) / 1e3,
            interval.getMaxValue() / 1e3, sinks.measuredOps.get(),
            sinks.errors.get() > 0 ? "  errors " + sinks.errors.get() : "");
    }

    private static void join(final List<Thread> threads) throws InterruptedException
    {
        for (final Thread t : threads)
        {
            t.join(TimeUnit.SECONDS.toMillis(30));
        }
    }
}
