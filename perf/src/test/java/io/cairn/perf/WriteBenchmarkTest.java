package io.cairn.perf;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WriteBenchmarkTest
{
    @Test
    void parsesOptionsWithinTheirLimits()
    {
        final WriteBenchmark.Options o = WriteBenchmark.parse(new String[]{
            "--duration-s", "5", "--warmup-s", "0", "--size-bytes", "65536", "--mixed-sizes", "--verify",
            "--max-ops", "1000", "--seed", "7", "--stream", "s1", "--managers", "0=127.0.0.1:1" });
        assertEquals(5, o.durationS());
        assertEquals(0, o.warmupS());
        assertEquals(65536, o.sizeBytes());
        assertTrue(o.mixedSizes());
        assertTrue(o.verify());
        assertEquals(1000, o.maxOps());
        assertEquals(7, o.seed());
        assertEquals("s1", o.stream());
    }

    @Test
    void rejectsOutOfLimitValuesNamingTheFlag()
    {
        assertMessage("--duration-s 0 must be in [1, 3600]", "--duration-s", "0");
        assertMessage("--size-bytes 2000000 must be in [1, 1048576]", "--size-bytes", "2000000");
        assertMessage("--max-ops 'x' is not a whole number", "--max-ops", "x");
        assertMessage("--seed needs a value", "--seed");
        assertMessage("unknown argument '--fast'", "--fast");
    }

    private static void assertMessage(final String expected, final String... args)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> WriteBenchmark.parse(args));
        assertTrue(ex.getMessage().contains(expected), ex.getMessage());
    }

    @Test
    void summaryReportsPercentilesFromTheHistogram()
    {
        final Histogram h = new Histogram(WriteBenchmark.HIGHEST_TRACKABLE_LATENCY_NS, 3);
        for (int i = 1; i <= 1000; i++)
        {
            h.recordValue(i * 1000L); // 1..1000 µs
        }
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final WriteBenchmark.Options o = WriteBenchmark.parse(new String[]{ "--size-bytes", "4096" });
        WriteBenchmark.printSummary(new PrintStream(bytes, true), o, h, 1000, 1000L * 4096, 2.0);
        final String out = bytes.toString();
        assertTrue(out.contains("throughput: 500 appends/s"), out);
        assertTrue(out.contains("p50 500.") || out.contains("p50 499."), out);
        assertTrue(out.contains("max 1000."), out);
    }
}
