package io.cairn.daemon;

import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.HealthCheck;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The extent node's metrics, health and error log flags: defaults, parsing, and errors naming the flag. */
class ObservabilityFlagsTest
{
    static final String[] BASE = { "--node-id", "3", "--endpoint", "127.0.0.1:1", "--data-dir", "/tmp/a" };

    static ExtentNode.Context parse(final String... extra)
    {
        return ExtentNode.parse(ExtentNodeFlagsTest.concat(BASE, extra)).conclude();
    }

    static String error(final String... extra)
    {
        return assertThrows(IllegalArgumentException.class, () -> parse(extra)).getMessage();
    }

    @Test
    void defaultsAreOffAndInTheAeronDirectory()
    {
        final ExtentNode.Context ctx = parse();
        assertNull(ctx.prometheusAddress(), "the endpoint is off by default");
        assertEquals(Path.of(ctx.aeronDirectoryName()), ctx.errorLogDir());
        assertEquals(ErrorLogFile.LENGTH_BYTES_DEFAULT, ctx.errorLogLengthBytes());
        assertEquals(HealthCheck.WINDOW_MS_DEFAULT, ctx.healthWindowMs());
    }

    @Test
    void flagsParse()
    {
        final ExtentNode.Context ctx = parse("--prometheus-address", "127.0.0.1:9101", "--error-log-dir", "/var/log/x",
            "--error-log-bytes", "131072", "--health-window-ms", "250");
        assertEquals(new InetSocketAddress("127.0.0.1", 9101), ctx.prometheusAddress());
        assertEquals(Path.of("/var/log/x"), ctx.errorLogDir());
        assertEquals(131072, ctx.errorLogLengthBytes());
        assertEquals(250, ctx.healthWindowMs());
    }

    @Test
    void badValuesNameTheFlag()
    {
        assertContains(error("--prometheus-address", "9101"), "--prometheus-address 9101: must be host:port");
        assertContains(error("--prometheus-address", "h:x"), "--prometheus-address h:x: must be host:port");
        assertContains(error("--prometheus-address", "h:70000"), "port must be in [0, 65535]");
        assertContains(error("--error-log-bytes", "1000"), "--error-log-bytes 1000: must be a multiple of 4096");
        assertContains(error("--error-log-bytes", "x"), "--error-log-bytes x: not an integer");
        assertContains(error("--health-window-ms", "0"), "--health-window-ms 0: must be in [1, 10000]");
    }

    static void assertContains(final String message, final String expected)
    {
        assertTrue(message.contains(expected), "'" + message + "' should contain '" + expected + "'");
    }
}
