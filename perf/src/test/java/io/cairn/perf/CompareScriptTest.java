package io.cairn.perf;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * perf/compare.sh's own arguments: a bad one is rejected before anything is installed, started or written, with an
 * error naming it. (The benchmark itself never runs in the test suite.)
 */
class CompareScriptTest
{
    private static final Path SCRIPT = Path.of("compare.sh").toAbsolutePath();

    private record Outcome(int exitCode, String output)
    {
    }

    private static Outcome run(final String... args) throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "compare.sh did not exit on a bad argument");
        return new Outcome(p.exitValue(), output);
    }

    @Test
    void rejectsAnUnknownSectionToSkipNamingIt() throws Exception
    {
        assertTrue(Files.isRegularFile(SCRIPT), SCRIPT.toString());
        final Outcome o = run("--skip", "disk,bookeeper");
        assertEquals(2, o.exitCode(), o.output());
        assertTrue(o.output().contains("--skip 'bookeeper' is not a section"), o.output());
    }

    @Test
    void rejectsSkipWithoutAValueAndUnknownArguments() throws Exception
    {
        final Outcome missing = run("--skip");
        assertEquals(2, missing.exitCode(), missing.output());
        assertTrue(missing.output().contains("--skip needs a value"), missing.output());

        final Outcome unknown = run("--quik");
        assertEquals(2, unknown.exitCode(), unknown.output());
        assertTrue(unknown.output().contains("unknown argument --quik"), unknown.output());
    }

    @Test
    void helpListsTheBookKeeperSection() throws Exception
    {
        final Outcome o = run("--help");
        assertEquals(0, o.exitCode(), o.output());
        assertTrue(o.output().contains("bookkeeper  Apache BookKeeper"), o.output());
        assertTrue(o.output().contains("--skip disk,network,cluster,bookkeeper,manager"), o.output());
    }
}
