package io.cairn.manager;

import io.aeron.driver.MediaDriver;
import io.cairn.replication.metrics.CncFile;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.HealthCheck;
import io.cairn.replication.metrics.Metric;
import io.cairn.replication.metrics.MetricsReader;
import io.cairn.replication.metrics.Series;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three members in this JVM, each with its Prometheus endpoint on: the command counter and apply latency, the
 * Aeron Cluster role, {@code /health}, the CnC reader {@code cairn stat} uses, and the error log file in {@code --dir}.
 */
class ManagerMetricsTest
{
    static final int BASE_PORT = 25100;
    static final int MEMBERS = 3;
    static final int COMMANDS = 20;

    final Path baseDir = Path.of("target", "manager-metrics-test-" + System.nanoTime()).toAbsolutePath();
    final ManagerMember[] members = new ManagerMember[MEMBERS];
    final HttpClient http = HttpClient.newHttpClient();
    MediaDriver clientDriver;
    ManagerClient client;

    @AfterEach
    void tearDown() throws IOException
    {
        CloseHelper.quietCloseAll(client, clientDriver);
        for (final ManagerMember member : members)
        {
            CloseHelper.quietClose(member);
        }
        try (Stream<Path> files = Files.walk(baseDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    String managers()
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < MEMBERS; i++)
        {
            sb.append(i == 0 ? "" : ",").append(i).append("=127.0.0.1:").append(BASE_PORT + 10 * i);
        }
        return sb.toString();
    }

    HttpResponse<String> get(final int member, final String path) throws IOException, InterruptedException
    {
        final InetSocketAddress address = members[member].metricsAddress();
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + address.getPort() + path)).build(),
            HttpResponse.BodyHandlers.ofString());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void membersExportCommandsRoleAndHealth() throws Exception
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            members[i] = ManagerMember.launch(new ManagerMember.Context()
                .memberId(i)
                .managers(managers())
                .dir(baseDir.resolve("member-" + i).toFile())
                .prometheusAddress(new InetSocketAddress("127.0.0.1", 0)));
        }
        clientDriver = ClientDriver.launch("manager-metrics-test");
        client = ManagerClient.connect(new ManagerClient.Context()
            .managers(managers())
            .aeronDirectoryName(clientDriver.aeronDirectoryName())
            .responseTimeoutNs(TimeUnit.SECONDS.toNanos(30)));
        for (int i = 0; i < COMMANDS; i++)
        {
            client.kvPut("metrics/k" + i, new byte[]{ (byte)i }, 0);
        }
        final int leader = client.leaderMemberId();

        long leaders = 0;
        for (int i = 0; i < MEMBERS; i++)
        {
            // Every member applies every command from the log; the client's session open is not a command.
            final long applied = awaitCommands(i, COMMANDS);
            final HttpResponse<String> metrics = get(i, "/metrics");
            assertEquals(200, metrics.statusCode());
            final String body = metrics.body();
            assertTrue(body.contains("\ncairn_manager_commands_total{member=\"" + i + "\"} " + applied + "\n"), body);
            assertTrue(body.contains("\ncairn_manager_command_apply_latency_seconds_count{member=\"" + i + "\"} " +
                applied + "\n"), body);
            assertTrue(body.contains("\ncairn_errors_total{member=\"" + i + "\"} 0\n"), body);
            final boolean isLeader = body.contains("\ncairn_cluster_role 2\n");
            leaders += isLeader ? 1 : 0;
            assertEquals(i == leader, isLeader, body);

            final HttpResponse<String> health = get(i, "/health");
            assertEquals(200, health.statusCode(), health.body());
            assertTrue(health.body().contains("ok: leader known"), health.body());
            assertTrue(Files.exists(baseDir.resolve("member-" + i).resolve(ErrorLogFile.FILE_NAME)),
                "error log in --dir");
        }
        assertEquals(1, leaders);

        final String deadDir = members[2].context().aeronDirectoryName();
        members[2].close();
        members[2] = null;
        final IllegalStateException gone = assertThrows(IllegalStateException.class, () -> CncFile.map(deadDir));
        assertTrue(gone.getMessage().contains("not found"), gone.getMessage());
    }

    long awaitCommands(final int member, final long atLeast) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (CncFile cnc = CncFile.map(members[member].context().aeronDirectoryName()))
        {
            while (true)
            {
                final List<Series> series = MetricsReader.read(cnc.counters());
                final long applied = MetricsReader.sum(series, Metric.MANAGER_COMMANDS);
                final HealthCheck.Result health = HealthCheck.evaluate(cnc.pid(), true, 0, 1, 1, series, series);
                if (applied >= atLeast)
                {
                    assertTrue(health.checked().stream().anyMatch(c -> c.startsWith("consensus module ACTIVE")),
                        health.toString());
                    return applied;
                }
                assertTrue(System.nanoTime() - deadlineNs < 0, "member " + member + " applied " + applied);
                Thread.sleep(10);
            }
        }
    }
}
