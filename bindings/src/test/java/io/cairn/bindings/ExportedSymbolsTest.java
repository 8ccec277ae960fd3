package io.cairn.bindings;

import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The packaged shim exports its cairn_* API and nothing else (liburing stays hidden). */
class ExportedSymbolsTest
{
    @Test
    void packagedShimExportsOnlyCairnSymbols() throws Exception
    {
        final Path library = TestDirectories.newTestDirectory("symbols").resolve("libcairn_shim.so");
        try (InputStream in = CairnShim.class.getResourceAsStream(CairnShim.LIBRARY_RESOURCE))
        {
            assertNotNull(in, CairnShim.LIBRARY_RESOURCE + " is not on the class path");
            Files.copy(in, library, StandardCopyOption.REPLACE_EXISTING);
        }

        final Process nm = new ProcessBuilder("nm", "-D", "--defined-only", library.toString())
            .redirectErrorStream(true)
            .start();
        final String output = new String(nm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(nm.waitFor(30, TimeUnit.SECONDS), "nm did not finish");
        assertEquals(0, nm.exitValue(), output);

        final List<String> symbols = output.lines()
            .map(line -> line.substring(line.lastIndexOf(' ') + 1))
            .toList();
        assertTrue(symbols.contains("cairn_ring_submit"), output);
        assertTrue(symbols.contains("cairn_ring_reap"), output);
        final List<String> foreign = symbols.stream().filter(s -> !s.startsWith("cairn_")).toList();
        assertTrue(foreign.isEmpty(), "the shim exports symbols outside the cairn_ API: " + foreign);
    }
}
