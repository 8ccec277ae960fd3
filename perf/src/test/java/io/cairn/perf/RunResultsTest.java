package io.cairn.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run folder is written completely, read back the same, and compared with ratios to the first run. */
class RunResultsTest
{
    @TempDir
    Path dir;

    /** Writes a run as the rig does: .hlog interval by interval, then the rest; latencies of {@code baseUs} µs. */
    private Path writeRun(final String label, final LoadRig.Mode mode, final long baseUs) throws Exception
    {
        final Path run = dir.resolve(label);
        Files.createDirectories(run);
        final Histogram total = new Histogram(LoadRig.HIGHEST_TRACKABLE_NS, 3);
        final List<Histogram> intervals = new java.util.ArrayList<>();
        try (PrintStream ps = new PrintStream(Files.newOutputStream(run.resolve(RunResults.HLOG)), true,
            StandardCharsets.UTF_8))
        {
            final HistogramLogWriter w = new HistogramLogWriter(ps);
            w.outputLogFormatVersion();
            w.outputLegend();
            for (int s = 0; s < 3; s++)
            {
                final Histogram h = new Histogram(LoadRig.HIGHEST_TRACKABLE_NS, 3);
                h.setStartTimeStamp(1_000_000 + s * 1000L);
                h.setEndTimeStamp(1_000_000 + (s + 1) * 1000L);
                for (int i = 1; i <= 100; i++)
                {
                    h.recordValue(TimeUnit.MICROSECONDS.toNanos(baseUs * i / 100));
                }
                w.outputIntervalHistogram(h);
                intervals.add(h);
                total.add(h);
            }
        }
        final LoadRig.Options o = new LoadRig.Options(mode, 100, 1, 0, TimeUnit.SECONDS.toNanos(3), 1000, 0);
        final LoadRig.Result r = new LoadRig.Result(total, total, intervals, 300, 5, 0, 0, 0, 3.0, null);
        RunResults.write(run, label, o, r, Map.of("target", "echo", "sizeBytes", 4096));
        return run;
    }

    @Test
    void writesEveryFileAndReadsTheRunBack() throws Exception
    {
        final Path run = writeRun("a \"quoted\" run", LoadRig.Mode.OPEN, 1000);
        for (final String f : List.of("latency.hlog", "latency.hgrm", "service.hgrm", "summary.json", "latency.png",
            "throughput.png"))
        {
            assertTrue(Files.size(run.resolve(f)) > 0, f);
        }
        final String json = Files.readString(run.resolve("summary.json"));
        assertEquals(100.0, RunResults.jsonNumber(json, "throughputPerS", 0));
        assertEquals(300.0, RunResults.jsonNumber(json, "measuredOps", 0));
        assertEquals("open", RunResults.jsonString(json, "mode", ""));
        final RunResults.Run read = RunResults.read(run);
        assertEquals("a \"quoted\" run", read.label());
        assertEquals(300, read.latency().getTotalCount());
        assertEquals(3, read.intervals().size());
        assertEquals(1000.0, read.latency().getMaxValue() / 1e3, 1.0);
        assertTrue(Files.readString(run.resolve("latency.hgrm")).contains("#[Mean"));
    }

    @Test
    void compareTabulatesRatiosToTheFirstRunAndDrawsTheOverlay() throws Exception
    {
        final Path base = writeRun("base", LoadRig.Mode.CLOSED, 1000);
        writeRun("slower", LoadRig.Mode.CLOSED, 2000);
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final Path out = dir.resolve("cmp");
        CompareRuns.main(new String[]{ "--out", out.toString(), base.toString(), dir.resolve("slower").toString() },
            new PrintStream(bytes, true));
        final String table = bytes.toString();
        assertTrue(table.contains("ratio to base"), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("slower") && l.contains("1.00x 2.00x 2.00x 2.00x")), table);
        assertTrue(Files.size(out.resolve("compare-latency.png")) > 0);
        assertTrue(Files.size(out.resolve("compare-throughput.png")) > 0);
        assertEquals(table.lines().filter(l -> l.startsWith("plots:")).count(), 1);
    }

    @Test
    void compareFindsRunFoldersBelowAFolderAndRejectsOthers() throws Exception
    {
        writeRun("r1", LoadRig.Mode.CLOSED, 100);
        writeRun("r2", LoadRig.Mode.CLOSED, 100);
        assertEquals(2, RunResults.findRuns(dir).size());
        assertThrows(IllegalArgumentException.class,
            () -> CompareRuns.main(new String[]{ dir.resolve("nope").toString() }, System.out));
    }

    @Test
    void percentileCurveIsMonotoneAndEndsAtFiveNines()
    {
        final Histogram h = new Histogram(LoadRig.HIGHEST_TRACKABLE_NS, 3);
        for (int i = 1; i <= 100_000; i++)
        {
            h.recordValue(i * 1000L);
        }
        final double[][] xy = Plots.percentileCurve(h);
        for (int i = 1; i < xy[0].length; i++)
        {
            assertTrue(xy[0][i] >= xy[0][i - 1] && xy[1][i] >= xy[1][i - 1], "point " + i);
        }
        assertEquals(5.0, xy[0][xy[0].length - 1], 1e-6);
        assertEquals(100_000.0, xy[1][xy[1].length - 1], 100.0);
        assertEquals(2.0, Plots.nines(99), 1e-9);
    }

    @Test
    void escapesJsonStrings()
    {
        assertEquals("a\\\"b\\\\c\\nd", RunResults.escape("a\"b\\c\nd"));
        assertEquals("1.5", RunResults.fmt(1.5));
        assertEquals("3", RunResults.fmt(3.0));
    }
}
