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
        assertEquals(0, ctx.scrubBytesPerSecond());
        assertEquals(-1, ctx.diskConfig(0).cpu());
    }

    @Test
    void recoveryFlagsParseAndBadValuesAreNamed()
    {
        final String[] base = { "--node-id", "4", "--endpoint", "127.0.0.1:21600", "--data-dir", "/tmp/a" };
        final ExtentNode.Context defaults = ExtentNode.parse(base).conclude();
        assertEquals(ExtentRecoveryAgent.Context.POLL_INTERVAL_MS_DEFAULT, defaults.recoveryPollMs());
        assertEquals(ExtentRecoveryAgent.Context.CLAIM_LEASE_MS_DEFAULT, defaults.recoveryLeaseMs());
        final ExtentNode.Context ctx = ExtentNode.parse(concat(base, "--recovery-poll-ms", "200",
            "--recovery-lease-ms", "5000")).conclude();
        assertEquals(200, ctx.recoveryPollMs());
        assertEquals(5_000, ctx.recoveryLeaseMs());
        assertTrue(error(concat(base, "--recovery-poll-ms", "5")).contains("--recovery-poll-ms 5"));
        assertTrue(error(concat(base, "--recovery-lease-ms", "999")).contains("--recovery-lease-ms 999"));
        assertTrue(error(concat(base, "--recovery-lease-ms", "soon")).contains("--recovery-lease-ms soon"));
    }

    @Test
    void diskFlagsParseAndPinningNeedsDedicatedThreads()
    {
        final String[] base = { "--node-id", "4", "--endpoint", "127.0.0.1:21600", "--data-dir", "/tmp/a",
            "--scrub-bytes-per-sec", "1048576", "--fixed-buffers", "--sqpoll" };
        final ExtentNode.Context ctx = ExtentNode.parse(concat(base, "--threading", "DEDICATED", "--disk-cpus", "0"))
            .conclude();
        final DiskIoAgent.Config config = ctx.diskConfig(0);
        assertEquals(1L << 20, config.scrubBytesPerSecond());
        assertTrue(config.fixedBuffers() && config.sqPoll());
        assertEquals(0, config.cpu());
        assertTrue(error(concat(base, "--disk-cpus", "0")).contains("needs --threading DEDICATED"));
        assertTrue(error(concat(base, "--threading", "DEDICATED", "--disk-cpus", "0,1")).contains("one CPU per --data-dir"));
        assertTrue(error(concat(base, "--threading", "DEDICATED", "--disk-cpus", "100000")).contains("CPU 100000"));
        assertTrue(error(concat(base, "--scrub-bytes-per-sec", "-1")).contains("--scrub-bytes-per-sec -1"));
    }

    static String[] concat(final String[] a, final String... b)
    {
        final String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
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
