package io.cairn.replication.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.agrona.CloseHelper;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The daemon's HTTP endpoint, off by default: {@code GET /metrics} (Prometheus text format 0.0.4) and
 * {@code GET /health} (200 {@code ok} or 503 with the reasons, see {@link HealthCheck}). It reads the daemon's own
 * CnC file mapped read-only, exactly as {@code cairn stat} and {@code cairn health} do, on one thread of its own: it is
 * never on the data path, and a scrape costs the agents nothing.
 */
public final class MetricsEndpoint implements AutoCloseable
{
    /** Requests waiting for the endpoint's one thread beyond this are refused by the kernel's backlog. */
    public static final int BACKLOG = 16;

    private final HttpServer server;
    private final ExecutorService executor;
    private final CncFile cnc;
    private final Supplier<List<Series>> extraSeries;
    private final long healthWindowMs;

    private MetricsEndpoint(
        final HttpServer server, final CncFile cnc, final Supplier<List<Series>> extraSeries, final long healthWindowMs)
    {
        this.server = server;
        this.cnc = cnc;
        this.extraSeries = extraSeries;
        this.healthWindowMs = healthWindowMs;
        executor = Executors.newSingleThreadExecutor(r ->
        {
            final Thread t = new Thread(r, "cairn-metrics-endpoint");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", this::onMetrics);
        server.createContext("/health", this::onHealth);
        server.start();
    }

    /**
     * @param address        where to listen, {@code host:port} (port 0: any free one).
     * @param aeronDir       the daemon's Aeron directory (its CnC file must exist: start after the driver).
     * @param extraSeries    series not stored as counters (the error log's totals); may return an empty list.
     * @param healthWindowMs sampling window of {@code /health}.
     * @return the running endpoint.
     * @throws IOException when the address cannot be bound.
     */
    public static MetricsEndpoint start(
        final InetSocketAddress address, final String aeronDir, final Supplier<List<Series>> extraSeries,
        final long healthWindowMs) throws IOException
    {
        final CncFile cnc = CncFile.map(aeronDir);
        try
        {
            return new MetricsEndpoint(HttpServer.create(address, BACKLOG), cnc, extraSeries, healthWindowMs);
        }
        catch (final IOException | RuntimeException ex)
        {
            cnc.close();
            throw ex;
        }
    }

    /**
     * @param flag  the flag's name, for the message.
     * @param value {@code host:port}.
     * @return the address (not resolved beyond what {@link InetSocketAddress} does).
     * @throws IllegalArgumentException naming the flag and value.
     */
    public static InetSocketAddress parseAddress(final String flag, final String value)
    {
        final int colon = null == value ? -1 : value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1)
        {
            throw new IllegalArgumentException(flag + " " + value + ": must be host:port");
        }
        try
        {
            final int port = Integer.parseInt(value.substring(colon + 1));
            if (port < 0 || port > 65535)
            {
                throw new IllegalArgumentException(flag + " " + value + ": port must be in [0, 65535]");
            }
            return new InetSocketAddress(value.substring(0, colon), port);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(flag + " " + value + ": port is not a number");
        }
    }

    /** @return the bound address (the port chosen when 0 was asked for). */
    public InetSocketAddress address()
    {
        return server.getAddress();
    }

    /**
     * @return the text {@code /metrics} answers now.
     */
    public String scrape()
    {
        final List<Series> series = new ArrayList<>(MetricsReader.read(cnc.counters()));
        series.addAll(extraSeries.get());
        final StringBuilder text = new StringBuilder(16 * 1024);
        PrometheusText.write(series, text);
        return text.toString();
    }

    private void onMetrics(final HttpExchange exchange) throws IOException
    {
        try (exchange)
        {
            if (!"GET".equals(exchange.getRequestMethod()))
            {
                respond(exchange, 405, "text/plain", "GET only\n");
                return;
            }
            respond(exchange, 200, PrometheusText.CONTENT_TYPE, scrape());
        }
    }

    private void onHealth(final HttpExchange exchange) throws IOException
    {
        try (exchange)
        {
            final HealthCheck.Result result;
            try
            {
                result = HealthCheck.check(cnc, healthWindowMs, Thread::sleep);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                respond(exchange, 503, "text/plain", "interrupted\n");
                return;
            }
            final StringBuilder body = new StringBuilder(result.healthy() ? "ok\n" : "unhealthy\n");
            for (final String problem : result.problems())
            {
                body.append("problem: ").append(problem).append('\n');
            }
            for (final String passed : result.checked())
            {
                body.append("ok: ").append(passed).append('\n');
            }
            respond(exchange, result.healthy() ? 200 : 503, "text/plain; charset=utf-8", body.toString());
        }
    }

    private static void respond(final HttpExchange exchange, final int status, final String type, final String body)
        throws IOException
    {
        final byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().put("Content-Type", List.of(type));
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody())
        {
            out.write(bytes);
        }
    }

    /**
     * @param metric a metric not stored as a counter.
     * @param labels its labels.
     * @param value  its value.
     * @return the series.
     */
    public static Series series(final Metric metric, final Map<String, String> labels, final long value)
    {
        return new Series(metric, labels, value, null, 0);
    }

    /** Stop serving and unmap. */
    public void close()
    {
        server.stop(0);
        executor.shutdownNow();
        CloseHelper.quietClose(cnc);
    }
}
