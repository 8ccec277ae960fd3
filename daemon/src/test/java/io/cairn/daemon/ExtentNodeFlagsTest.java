package io.cairn.daemon;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExtentNodeFlagsTest
{
    static String error(final String... args)
    {
        return assertThrows(IllegalArgumentException.class, () -> ExtentNode.parse(args).conclude()).getMessage();
    }

    @Test
    void validFlagsParse()
    {
        final ExtentNode.Context ctx = ExtentNode.parse(new String[]{ "--node-id", "4", "--endpoint", "127.0.0.1:21600",
            "--data-dir", "/tmp/a", "--data-dir", "/tmp/b", "--managers", "0=127.0.0.1:20110,1=127.0.0.1:20111",
            "--extent-size-bytes", "16777216", "--threading", "DEDICATED" }).conclude();
        assertEquals(4, ctx.nodeId());
        assertEquals(2, ctx.dataDirs().size());
        assertEquals(Path.of("/tmp/b"), ctx.dataDirs().get(1));
        assertEquals(16L * 1024 * 1024, ctx.extentSizeBytes());
        assertEquals(ExtentNode.Threading.DEDICATED, ctx.threading());
    }

    @Test
    void badFlagsNameTheFlagAndTheAllowedRange()
    {
        final String[] base = { "--endpoint", "127.0.0.1:1", "--data-dir", "/tmp/a" };
        assertTrue(error(base).contains("--node-id 0"));
        assertTrue(error("--node-id", "x").contains("--node-id x"));
        assertTrue(error("--node-id", "1", "--endpoint", "nohost", "--data-dir", "/tmp/a").contains("--endpoint nohost"));
        assertTrue(error("--node-id", "1", "--endpoint", "127.0.0.1:1").contains("--data-dir"));
        assertTrue(error("--node-id", "1", "--endpoint", "127.0.0.1:1", "--data-dir", "/a", "--extent-size-bytes", "5000")
            .contains("multiple of 4096"));
        assertTrue(error("--node-id", "1", "--endpoint", "127.0.0.1:1", "--data-dir", "/a", "--managers", "bogus")
            .contains("--managers bogus"));
        assertTrue(error("--node-id", "1", "--bogus", "1").contains("unknown flag --bogus"));
        assertTrue(error("--node-id").contains("needs a value"));
    }
}
