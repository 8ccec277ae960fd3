package io.cairn.manager;

import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.HealthCheck;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.InetSocketAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The member's metrics, health and error log flags: defaults, parsing, and errors naming the flag. */
class ManagerObservabilityFlagsTest
{
    static ManagerMember.Context parse(final String... extra)
    {
        final String[] base = { "--member-id", "1", "--managers", "0=h:100,1=h:200,2=h:300", "--dir", "/tmp/x" };
        final String[] all = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return ManagerMember.parseArgs(all).conclude();
    }

    static String error(final String... extra)
    {
        return assertThrows(IllegalArgumentException.class, () -> parse(extra)).getMessage();
    }

    @Test
    void defaultsAreOffAndTheErrorLogInDir()
    {
        final ManagerMember.Context ctx = parse();
        assertNull(ctx.prometheusAddress());
        assertEquals(new File("/tmp/x"), ctx.errorLogDir());
        assertEquals(ErrorLogFile.LENGTH_BYTES_DEFAULT, ctx.errorLogLengthBytes());
        assertEquals(HealthCheck.WINDOW_MS_DEFAULT, ctx.healthWindowMs());
    }

    @Test
    void flagsParseAndBadValuesNameTheFlag()
    {
        final ManagerMember.Context ctx = parse("--prometheus-address", "127.0.0.1:9201", "--error-log-dir", "/var/e",
            "--error-log-bytes", "65536", "--health-window-ms", "100");
        assertEquals(new InetSocketAddress("127.0.0.1", 9201), ctx.prometheusAddress());
        assertEquals(new File("/var/e"), ctx.errorLogDir());
        assertEquals(65536, ctx.errorLogLengthBytes());
        assertEquals(100, ctx.healthWindowMs());
        assertTrue(error("--prometheus-address", "nowhere").contains("--prometheus-address nowhere: must be host:port"));
        assertTrue(error("--error-log-bytes", "4097").contains("--error-log-bytes 4097: must be a multiple of 4096"));
        assertTrue(error("--health-window-ms", "20000").contains("--health-window-ms 20000: must be in [1, 10000]"));
        final String negative = error("--error-log-bytes", "-1");
        assertTrue(negative.contains("--error-log-bytes -1: must be a multiple of 4096 in [65536, 67108864]"), negative);
    }
}
