package io.cairn.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.HdrHistogram.HistogramLogWriter;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rig's coordinated-omission correction, proved on a simulated clock: a server that answers in 100 µs but stalls
 * once for 1 s. Nothing here sleeps; the simulated clock jumps.
 */
class LoadRigTest
{
    private static final long SERVICE_NS = TimeUnit.MICROSECONDS.toNanos(100);
    private static final long STALL_NS = TimeUnit.SECONDS.toNanos(1);
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    /** A clock that only moves when the rig waits or the simulated server works. */
    static final class SimClock implements LoadRig.Clock
    {
        long nowNs = 1_000_000_000L;

        public long nanoTime()
        {
            return nowNs;
        }

        public void waitUntil(final long deadlineNs)
        {
            nowNs = Math.max(nowNs, deadlineNs);
        }
    }

    /** Answers in SERVICE_NS, except that the request sent first at or after stallAtNs takes STALL_NS more. */
    private static LoadRig.Operation stallingServer(final SimClock clock, final long stallAtNs)
    {
        final boolean[] stalled = { false };
        return sequence ->
        {
            clock.nowNs += SERVICE_NS;
            if (!stalled[0] && clock.nowNs >= stallAtNs)
            {
                stalled[0] = true;
                clock.nowNs += STALL_NS;
            }
        };
    }

    private static LoadRig.Sinks run(final LoadRig.Mode mode, final long warmupNs, final long durationNs,
        final long maxOps, final long stallAfterStartNs)
    {
        final SimClock clock = new SimClock();
        final LoadRig.Options o = new LoadRig.Options(mode, 1000, 1, warmupNs, durationNs, maxOps, 0);
        final LoadRig.Sinks sinks = new LoadRig.Sinks();
        final long startNs = clock.nowNs;
        LoadRig.runWorker(o, 0, startNs, clock, stallingServer(clock, startNs + stallAfterStartNs), sinks);
        return sinks;
    }

    @Test
    void openLoopCountsEveryRequestThatShouldHaveBeenSentDuringTheStall()
    {
        // 1000/s for 2 s; a 1 s stall at 0.5 s. The ~1000 requests scheduled during the stall wait for it.
        final LoadRig.Sinks sinks = run(LoadRig.Mode.OPEN, 0, 2 * STALL_NS, Long.MAX_VALUE, 500 * MS);
        final Histogram h = sinks.latency.getIntervalHistogram();
        assertEquals(2000, h.getTotalCount(), "one request per scheduled slot, none skipped");
        assertTrue(h.getMaxValue() >= STALL_NS, "max " + h.getMaxValue());
        // Requests scheduled 0.5 s..~1.6 s see latencies falling linearly from 1 s to 0: over a quarter above 500 ms.
        final long over500ms = h.getCountBetweenValues(500 * MS, Long.MAX_VALUE);
        assertTrue(over500ms > 500 && over500ms < 600, "requests over 500 ms: " + over500ms);
        assertTrue(h.getValueAtPercentile(90) > 700 * MS, "p90 " + h.getValueAtPercentile(90));
        // ~1111 of the 2000 requests were behind the stall; the 889 others saw the bare 100 µs.
        assertTrue(h.getValueAtPercentile(40) < MS, "p40 " + h.getValueAtPercentile(40));
        assertTrue(h.getValueAtPercentile(50) > 50 * MS, "p50 " + h.getValueAtPercentile(50));
        // Service time (from the actual send) shows only one slow request: that is what a closed loop reports.
        final Histogram service = sinks.service.getIntervalHistogram();
        assertEquals(1, service.getCountBetweenValues(STALL_NS, Long.MAX_VALUE));
        assertEquals(0, sinks.unsentOps.get());
    }

    @Test
    void closedLoopHidesTheSameStallInOneSample()
    {
        final LoadRig.Sinks sinks = run(LoadRig.Mode.CLOSED, 0, 2 * STALL_NS, Long.MAX_VALUE, 500 * MS);
        final Histogram h = sinks.latency.getIntervalHistogram();
        assertEquals(1, h.getCountBetweenValues(STALL_NS, Long.MAX_VALUE), "one request saw the stall");
        assertTrue(h.getValueAtPercentile(99.9) < MS, "p99.9 " + h.getValueAtPercentile(99.9));
        // Back to back at 100 µs for the 1 s without the stall: about 10,000 requests.
        assertTrue(h.getTotalCount() > 9_000 && h.getTotalCount() < 11_000, "count " + h.getTotalCount());
    }

    @Test
    void openLoopWithoutAStallMeasuresTheServiceTime()
    {
        final LoadRig.Sinks sinks = run(LoadRig.Mode.OPEN, 0, STALL_NS, Long.MAX_VALUE, Long.MAX_VALUE / 4);
        final Histogram h = sinks.latency.getIntervalHistogram();
        assertEquals(1000, h.getTotalCount());
        assertEquals(SERVICE_NS, h.getMaxValue(), SERVICE_NS / 500.0);
    }

    @Test
    void warmUpIsExcludedButItsStallStillDelaysLaterScheduledRequests()
    {
        // A stall at 0.1 s, inside a 0.5 s warm-up: requests scheduled 0.5..1.1 s are still behind it and count.
        final LoadRig.Sinks sinks = run(LoadRig.Mode.OPEN, 500 * MS, STALL_NS, Long.MAX_VALUE, 100 * MS);
        final Histogram h = sinks.latency.getIntervalHistogram();
        assertEquals(1000, h.getTotalCount(), "only the measured window's requests");
        assertEquals(500, sinks.warmupOps.get());
        assertTrue(h.getMaxValue() > 500 * MS && h.getMaxValue() < 700 * MS, "max " + h.getMaxValue());
    }

    @Test
    void stopsAtMaxOps()
    {
        final LoadRig.Sinks sinks = run(LoadRig.Mode.CLOSED, 0, STALL_NS, 123, Long.MAX_VALUE / 4);
        assertEquals(123, sinks.latency.getIntervalHistogram().getTotalCount());
        assertEquals(123, sinks.measuredOps.get());
    }

    @Test
    void openLoopBehindScheduleIsCutOffAfterTheDrainAndReportsWhatItNeverSent()
    {
        final SimClock clock = new SimClock();
        // 1000/s but the server takes 2 ms: the worker falls further behind; no drain allowed.
        final LoadRig.Options o = new LoadRig.Options(LoadRig.Mode.OPEN, 1000, 1, 0, STALL_NS, Long.MAX_VALUE, 0);
        final LoadRig.Sinks sinks = new LoadRig.Sinks();
        LoadRig.runWorker(o, 0, clock.nowNs, clock, sequence -> clock.nowNs += 2 * MS, sinks);
        final long sent = sinks.latency.getIntervalHistogram().getTotalCount();
        assertEquals(500, sent);
        assertEquals(1000, sent + sinks.unsentOps.get(), "sent + unsent = scheduled");
    }

    @Test
    void rejectsNonsenseOptions()
    {
        assertThrows(IllegalArgumentException.class,
            () -> new LoadRig.Options(LoadRig.Mode.OPEN, 0, 1, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class,
            () -> new LoadRig.Options(LoadRig.Mode.CLOSED, 0, 0, 0, 1, 1, 0));
    }

    @Test
    void realThreadsWriteAnIntervalLogAndCountErrors() throws Exception
    {
        final LoadRig.Options o = new LoadRig.Options(
            LoadRig.Mode.OPEN, 2000, 2, 100 * MS, 1200 * MS, Long.MAX_VALUE, 500 * MS);
        final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
        final ByteArrayOutputStream progress = new ByteArrayOutputStream();
        final LoadRig.Result r = LoadRig.run(o, index -> sequence ->
        {
            if (sequence % 100 == 7)
            {
                throw new IllegalStateException("simulated failure");
            }
        }, new HistogramLogWriter(new PrintStream(logBytes, true)), new PrintStream(progress, true));
        assertTrue(r.measuredOps() > 2000 && r.measuredOps() <= 2400, "ops " + r.measuredOps());
        assertTrue(r.errors() > 0);
        assertNotNull(r.firstError());
        assertTrue(progress.toString().contains("[rig]"), progress.toString());
        long logged = 0;
        final HistogramLogReader reader = new HistogramLogReader(new ByteArrayInputStream(logBytes.toByteArray()));
        Histogram h;
        while (null != (h = (Histogram)reader.nextIntervalHistogram()))
        {
            logged += h.getTotalCount();
        }
        assertEquals(r.measuredOps(), logged, "the .hlog holds every measured request");
        assertEquals(r.measuredOps(), r.latency().getTotalCount());
    }
}
