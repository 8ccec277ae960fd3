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
        assertTrue(error("--prometheus-address", "9101").contains("--prometheus-address 9101: must be host:port"));
        assertTrue(error("--prometheus-address", "h:x").contains("--prometheus-address h:x: port is not a number"));
        assertTrue(error("--prometheus-address", "h:70000").contains("port must be in [0, 65535]"));
        assertTrue(error("--error-log-bytes", "1000").contains("--error-log-bytes 1000: must be a multiple of 4096"));
        assertTrue(error("--error-log-bytes", "x").contains("--error-log-bytes x: not an integer"));
        assertTrue(error("--health-window-ms", "0").contains("--health-window-ms 0: must be in [1, 10000]"));
    }
}
