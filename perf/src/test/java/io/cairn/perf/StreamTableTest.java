package io.cairn.perf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * perf/stream-bench.sh's table (limit = hops x echo RTT + local append; ratios replicated/limit) and its arguments,
 * and the disk benchmark's --payload-bytes checks; nothing here starts a cluster or measures anything.
 */
class StreamTableTest
{
    private static final double EPS = 1e-9;

    @TempDir
    Path dir;

    @Test
    void limitIsHopsTimesEchoPlusAppendPerPercentileAndTheBackToBackRate()
    {
        final StreamTable.Part echo = new StreamTable.Part(10_000, 50, 200, 800, 0, 0);
        final StreamTable.Part append = new StreamTable.Part(5_000, 190, 370, 2_600, 0, 0);
        final StreamTable.Part limit = StreamTable.limit(2, echo, append);
        assertEquals(2 * 50 + 190, limit.p50Us(), EPS);
        assertEquals(2 * 200 + 370, limit.p99Us(), EPS);
        assertEquals(2 * 800 + 2_600, limit.p999Us(), EPS);
        // 2 x 100 µs + 200 µs per op, back to back: 2500/s.
        assertEquals(2_500, limit.opsPerS(), 1e-6);
        assertEquals(50 + 190, StreamTable.limit(1, echo, append).p50Us(), EPS);
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> StreamTable.limit(0, echo, append));
        assertTrue(ex.getMessage().contains("hops 0"), ex.getMessage());
    }

    @Test
    void tablePrintsEveryPartTheLimitAndTheRatios()
    {
        final StreamTable.Part echo = new StreamTable.Part(10_000, 50, 200, 800, 0, 0);
        final StreamTable.Part append = new StreamTable.Part(5_000, 190, 370, 2_600, 0, 0);
        final StreamTable.Part closed = new StreamTable.Part(1_250, 580, 1_540, 8_400, 0, 0);
        final StreamTable.Part open = new StreamTable.Part(625, 290, 770, 4_200, 0, 3);
        final String t = StreamTable.table(65_536, 2, echo, append, closed, open, 625);
        assertTrue(t.contains("-- 64 KiB appends (65536-byte payload)"), t);
        final List<String> lines = t.lines().toList();
        final String limit = line(lines, "limit = 2 x echo RTT + local append");
        assertTrue(limit.matches(".*\\s2500\\s+290\\.0\\s+770\\.0\\s+4200\\.0$"), limit);
        final List<String> ratios = lines.stream().filter(l -> l.contains("ratio replicated/limit")).toList();
        assertEquals(2, ratios.size(), t);
        // closed: 2500/1250 on rate, then 580/290, 1540/770, 8400/4200
        assertTrue(ratios.get(0).matches(".*\\s2\\.00x\\s+2\\.00x\\s+2\\.00x\\s+2\\.00x$"), ratios.get(0));
        // open: its rate is the one asked for, so no rate ratio; latency exactly at the limit
        assertTrue(ratios.get(1).matches(".*\\s-\\s+1\\.00x\\s+1\\.00x\\s+1\\.00x$"), ratios.get(1));
        assertTrue(line(lines, "open loop at 625/s").contains("UNSENT 3"), t);
    }

    private static String line(final List<String> lines, final String containing)
    {
        return lines.stream().filter(l -> l.contains(containing)).findFirst()
            .orElseThrow(() -> new AssertionError("no line with '" + containing + "' in " + lines));
    }

    @Test
    void readsTheDiskLineAndRejectsAnIncompleteOne()
    {
        final StreamTable.Part p = StreamTable.diskLine("disk-4096 mode=write qd=1 ops=14442 iops=4814 mbps=39.4 " +
            "p50us=189.4 p99us=366.6 p999us=2601.0 fsyncs=14443 batches=14443\n", "d");
        assertEquals(4814, p.opsPerS(), EPS);
        assertEquals(189.4, p.p50Us(), EPS);
        assertEquals(366.6, p.p99Us(), EPS);
        assertEquals(2601.0, p.p999Us(), EPS);
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> StreamTable.diskLine("disk-4096 mode=write iops=4814 p50us=189.4 p99us=366.6", "disk-4096.txt"));
        assertTrue(ex.getMessage().contains("disk-4096.txt holds no complete"), ex.getMessage());
    }

    @Test
    void readsTheScheduledLatencyNotTheServiceTimeFromARunSummary() throws IOException
    {
        final Path run = dir.resolve("replicated-4096-open");
        Files.createDirectories(run);
        Files.writeString(run.resolve(RunResults.SUMMARY), """
            {
              "label": "replicated-4096-open",
              "targetRatePerS": 190,
              "errors": 0,
              "unsentOps": 2,
              "throughputPerS": 189.5,
              "latencyUs": {"p50": 2230.3, "p90": 3000, "p99": 19365.9, "p99.9": 24985.6, "p99.99": 30000, "max": 30000, "count": 760},
              "serviceTimeUs": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "p99.9": 4.0, "p99.99": 5.0, "max": 5.0, "count": 760}
            }
            """);
        final StreamTable.Part p = StreamTable.loadRun(run);
        assertEquals(189.5, p.opsPerS(), EPS);
        assertEquals(2230.3, p.p50Us(), EPS);
        assertEquals(19365.9, p.p99Us(), EPS);
        assertEquals(24985.6, p.p999Us(), EPS);
        assertEquals(2, p.unsentOps());
        final IOException missing = assertThrows(IOException.class, () -> StreamTable.loadRun(dir.resolve("nothing")));
        assertTrue(missing.getMessage().contains("holds no summary.json"), missing.getMessage());
    }

    @Test
    void endToEndFromFilesAsTheScriptCallsIt() throws IOException
    {
        for (final String name : List.of("echo", "closed"))
        {
            Files.createDirectories(dir.resolve(name));
            Files.writeString(dir.resolve(name).resolve(RunResults.SUMMARY), "{\"throughputPerS\": 1000, " +
                "\"errors\": 0, \"latencyUs\": {\"p50\": 100, \"p99\": 200, \"p99.9\": 300}}");
        }
        Files.writeString(dir.resolve("disk.txt"), "d mode=write qd=1 iops=1000 p50us=100 p99us=200 p999us=300\n");
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final int rc = StreamTable.main(new String[]{ "--size-bytes", "4096", "--echo", dir.resolve("echo").toString(),
            "--disk", dir.resolve("disk.txt").toString(), "--closed", dir.resolve("closed").toString() },
            new PrintStream(bytes, true, StandardCharsets.UTF_8));
        assertEquals(0, rc);
        final String t = bytes.toString(StandardCharsets.UTF_8);
        // limit 2 x 100 + 100 = 300 µs at p50, 333/s; replicated 100 µs => 0.33x; no open-loop row
        assertTrue(t.contains("-- 4 KiB appends"), t);
        assertTrue(line(t.lines().toList(), "limit =").matches(".*\\s333\\s+300\\.0\\s+600\\.0\\s+900\\.0$"), t);
        assertTrue(line(t.lines().toList(), "ratio").matches(".*\\s0\\.33x\\s+0\\.33x\\s+0\\.33x\\s+0\\.33x$"), t);
        assertTrue(!t.contains("open loop"), t);
    }

    @Test
    void rejectsBadArgumentsNamingThem()
    {
        assertEquals(StreamTable.DEFAULT_HOPS, StreamTable.parse(new String[]{ "--size-bytes", "4096", "--echo", "e",
            "--disk", "d", "--closed", "c" }).hops());
        assertMessage("--size-bytes is required", "--echo", "e", "--disk", "d", "--closed", "c");
        assertMessage("(no --disk)", "--size-bytes", "1", "--echo", "e", "--closed", "c");
        assertMessage("--hops 17 must be in [1, 16]", "--size-bytes", "1", "--hops", "17");
        assertMessage("--size-bytes 'x' is not a whole number", "--size-bytes", "x");
        assertMessage("--echo needs a value", "--echo");
        assertMessage("unknown argument '--size'", "--size", "4096");
    }

    private static void assertMessage(final String expected, final String... args)
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> StreamTable.parse(args));
        assertTrue(ex.getMessage().contains(expected), ex.getMessage());
    }

    @Test
    void aPartWithPercentilesOutOfOrderIsRejected()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> new StreamTable.Part(100, 300, 200, 400, 0, 0));
        assertTrue(ex.getMessage().contains("p50 300.0, p99 200.0"), ex.getMessage());
    }

    @Test
    void diskPayloadBytesIsCheckedBeforeAnythingRuns()
    {
        final IllegalArgumentException read = assertThrows(IllegalArgumentException.class,
            () -> DiskBenchmark.main(new String[]{ "--dir", dir.toString(), "--mode", "read", "--payload-bytes", "4096" }));
        assertTrue(read.getMessage().contains("--payload-bytes applies to --mode write only"), read.getMessage());
        final IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
            () -> DiskBenchmark.main(new String[]{ "--payload-bytes", "1048577" }));
        assertTrue(big.getMessage().contains("--payload-bytes 1048577 must be in [1, 1048576]"), big.getMessage());
    }

    /** perf/stream-bench.sh's own arguments: rejected before anything starts, naming the bad one. */
    @Test
    void scriptRejectsBadSizesAndUnknownArguments() throws Exception
    {
        final Path script = Path.of("stream-bench.sh").toAbsolutePath();
        assertTrue(Files.isRegularFile(script), script.toString());
        assertScript(script, "--sizes '4096x' is not a whole number of bytes in [1, 1048576]", "--sizes", "4096,4096x");
        assertScript(script, "--sizes '2000000' is not a whole number", "--sizes", "2000000");
        assertScript(script, "--sizes needs a value", "--sizes");
        assertScript(script, "unknown argument --quik", "--quik");
    }

    private static void assertScript(final Path script, final String expected, final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(List.of(args));
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "stream-bench.sh did not exit on a bad argument");
        assertEquals(2, p.exitValue(), output);
        assertTrue(output.contains(expected), output);
    }
}
