package io.cairn.bindings;

import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generated bindings were produced from the current cairn_shim.h. */
class BindingsUpToDateTest
{
    private static final Path HEADER = Path.of("..", "native", "src", "main", "c", "cairn_shim.h");
    private static final String RECORDED_HASH = "/io/cairn/bindings/cairn_shim.h.sha256";

    @Test
    void generatedBindingsMatchTheHeader() throws Exception
    {
        assertTrue(Files.isRegularFile(HEADER), "header not found at " + HEADER.toAbsolutePath());
        final String actual = HexFormat.of().formatHex(
            MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(HEADER)));

        final String recorded;
        try (InputStream in = BindingsUpToDateTest.class.getResourceAsStream(RECORDED_HASH))
        {
            assertNotNull(in, RECORDED_HASH + " is missing: run bindings/regen.sh");
            recorded = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
        }

        assertEquals(recorded, actual,
            "native/src/main/c/cairn_shim.h changed since the bindings were generated: " +
            "run bindings/regen.sh (needs jextract on PATH) and keep the regenerated sources");
    }
}
