package io.cairn.daemon;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.ReplicationCounters.Counter;
import io.cairn.replication.TestClient;
import io.cairn.replication.metrics.Metric;
import io.cairn.sbe.node.ErrorResponseDecoder;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three extent nodes in one JVM on loopback (each with its own embedded media driver), no manager: the
 * client protocol end to end through Aeron, io_uring and O_DIRECT files.
 */
class ExtentNodeTest
{
    static final int PORT_BASE = 21500;
    static final long EXTENT = 1001;
    static final long WAIT_NS = TimeUnit.SECONDS.toNanos(20);
    static final int WINDOW = 6;

    final ExtentNode[] nodes = new ExtentNode[3];
    final Path[] dirs = new Path[3];
    final String[] endpoints = new String[3];
    final int[] nodeIds = { 1, 2, 3 };
    final ExclusivePublication[] publications = new ExclusivePublication[3];
    final TestClient client = new TestClient(new Random().nextLong() | 1, "aeron:udp?endpoint=127.0.0.1:" + (PORT_BASE + 10));
    Aeron aeron;
    Subscription subscription;
    FragmentAssembler assembler;

    @AfterEach
    void tearDown() throws IOException
    {
        CloseHelper.quietCloseAll(subscription, aeron);
        for (final ExtentNode node : nodes)
        {
            CloseHelper.quietClose(node);
        }
        for (final Path dir : dirs)
        {
            if (null != dir)
            {
                try (Stream<Path> files = Files.walk(dir))
                {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    void startNodes() throws IOException
    {
        for (int i = 0; i < 3; i++)
        {
            endpoints[i] = "127.0.0.1:" + (PORT_BASE + i);
            dirs[i] = Path.of("target", "test-data", "node-" + (i + 1) + "-" + System.nanoTime()).toAbsolutePath();
            Files.createDirectories(dirs[i]);
            final ExtentNode.Context ctx = new ExtentNode.Context();
            // This test is about the data path, not time-outs: a loaded 2-core CI machine must not fail it.
            ctx.replication().replicateTimeoutNs(TimeUnit.SECONDS.toNanos(30));
            nodes[i] = ExtentNode.launch(ctx
                .nodeId(nodeIds[i])
                .endpoint(endpoints[i])
                .dataDir(dirs[i])
                .formatIfEmpty(true)
                .extentSizeBytes(32L * 1024 * 1024)
                .ioBufferCount(8)
                .aeronDirectoryName(AeronDefaults.aeronDirectory("test-daemon-node-" + (i + 1)))
                .prometheusAddress(0 == i ? new java.net.InetSocketAddress("127.0.0.1", 0) : null)
                .log(new PrintStream(new ByteArrayOutputStream())));
        }
        // The test client shares node 1's media driver.
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(nodes[0].context().aeronDirectoryName()));
        subscription = aeron.addSubscription(client.responseChannel, NodeProtocol.RESPONSE_STREAM_ID);
        assembler = new FragmentAssembler((buffer, offset, length, header) -> client.onResponse(buffer, offset));
        for (int i = 0; i < 3; i++)
        {
            publications[i] = aeron.addExclusivePublication(NodeProtocol.channel(endpoints[i]), NodeProtocol.REQUEST_STREAM_ID);
        }
        awaitCondition(() -> Arrays.stream(publications).allMatch(ExclusivePublication::isConnected), "publications");
    }

    void awaitCondition(final BooleanSupplier condition, final String what)
    {
        final long deadlineNs = System.nanoTime() + WAIT_NS;
        while (!condition.getAsBoolean())
        {
            if (subscription.poll(assembler, 16) == 0)
            {
                Thread.yield();
            }
            assertTrue(System.nanoTime() - deadlineNs < 0, "timed out waiting for " + what);
        }
    }

    long send(final int node, final byte[] message)
    {
        final long correlationId = client.nextCorrelationId() - 1;
        final UnsafeBuffer buffer = new UnsafeBuffer(message);
        awaitCondition(() -> publications[node].offer(buffer, 0, message.length) > 0, "offer to node " + (node + 1));
        return correlationId;
    }

    TestClient.Response request(final int node, final byte[] message)
    {
        final long correlationId = send(node, message);
        awaitCondition(() -> null != client.find(correlationId), "response " + correlationId);
        return client.find(correlationId);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void threeReplicasAppendReadBackAndSurviveMalformedInput() throws IOException
    {
        startNodes();
        for (int i = 0; i < 3; i++)
        {
            assertEquals("OK", request(i, client.connect()).status());
        }
        final TestClient.Response open = request(0, client.openExtent(EXTENT, 3, nodeIds, endpoints));
        assertEquals("OK", open.status(), open.message());
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES, open.commitLength());

        final List<byte[]> payloads = appendMixed(300, new Random(11));
        final long commitLength = readBackFromEveryReplica(payloads);
        for (int i = 0; i < 3; i++)
        {
            assertEquals(commitLength, request(i, client.extentStatus(EXTENT)).commitLength());
        }

        sendMalformed();

        final TestClient.Response after = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[]{ 42 }));
        assertEquals("OK", after.status(), after.message());
        assertEquals(commitLength, after.blockOffset());
        for (int i = 0; i < 3; i++)
        {
            assertArrayEquals(new byte[]{ 42 }, request(i, client.read(EXTENT, commitLength)).payload());
            assertArrayEquals(payloads.get(0), request(i, client.read(EXTENT, BlockFormat.EXTENT_HEADER_LENGTH_BYTES)).payload());
            assertEquals(0, nodes[i].errorCount(), "agent errors on node " + (i + 1));
        }
        // The per-disk counters are readable from outside the node, through its CnC file.
        final ByteArrayOutputStream stat = new ByteArrayOutputStream();
        assertEquals(0, DiskStat.run(new String[]{ "--aeron-dir", nodes[1].context().aeronDirectoryName() },
            new PrintStream(stat)));
        final String line = stat.toString();
        assertTrue(line.contains("node=" + nodeIds[1] + " disk=0") && line.contains("disk_state=OK") &&
            !line.contains("blocks_written=0 ") && line.contains("fsyncs="), line);
        metricsMatchTheNodesCounters();
    }

    /** What `cairn stat` and the Prometheus endpoint read from outside equals what the agents counted inside. */
    void metricsMatchTheNodesCounters() throws IOException
    {
        try (io.cairn.replication.metrics.CncFile cnc =
            io.cairn.replication.metrics.CncFile.map(nodes[1].context().aeronDirectoryName()))
        {
            final List<io.cairn.replication.metrics.Series> series =
                io.cairn.replication.metrics.MetricsReader.read(cnc.counters());
            assertEquals(nodes[1].counters().get(Counter.REPLICATES_WRITTEN),
                io.cairn.replication.metrics.MetricsReader.sum(series, Metric.REPLICATION_REPLICATES_WRITTEN));
            final long blocks = io.cairn.replication.metrics.MetricsReader.sum(series, Metric.DISK_BLOCKS_WRITTEN);
            assertTrue(blocks >= 301, "blocks " + blocks);
            assertEquals(blocks, io.cairn.replication.metrics.MetricsReader.sum(series,
                Metric.DISK_WRITE_DURABLE_LATENCY), "one write latency per block written");
            assertEquals(io.cairn.replication.metrics.MetricsReader.sum(series, Metric.DISK_FDATASYNCS),
                io.cairn.replication.metrics.MetricsReader.sum(series, Metric.DISK_SYNC_LATENCY));
        }
        final String base = "http://" + nodes[0].metricsAddress().getHostString() + ":" +
            nodes[0].metricsAddress().getPort();
        final java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        try
        {
            final java.net.http.HttpResponse<String> metrics = http.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(base + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
            final long acked = nodes[0].counters().get(Counter.APPENDS_ACKED);
            assertEquals(301, acked);
            assertTrue(metrics.body().contains("\ncairn_replication_appends_acked_total{node=\"1\"} " + acked + "\n"),
                metrics.body());
            assertTrue(metrics.body().contains("\ncairn_replication_append_latency_seconds_count{node=\"1\"} " + acked +
                "\n"), metrics.body());
            assertTrue(metrics.body().contains("\ncairn_errors_total{node=\"1\"} 0\n"), metrics.body());
            final java.net.http.HttpResponse<String> health = http.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(base + "/health")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode(), health.body());
            assertTrue(health.body().startsWith("ok\n"), health.body());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
    }

    List<byte[]> appendMixed(final int count, final Random random)
    {
        final List<byte[]> payloads = new ArrayList<>();
        final ArrayDeque<Long> outstanding = new ArrayDeque<>();
        final List<Long> correlationIds = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final byte[] p = new byte[1 + random.nextInt(i % 10 == 0 ? 200_000 : 6000)];
            random.nextBytes(p);
            payloads.add(p);
            if (outstanding.size() == WINDOW)
            {
                final long oldest = outstanding.poll();
                awaitCondition(() -> null != client.find(oldest), "append " + oldest);
            }
            final long correlationId = send(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, p));
            outstanding.add(correlationId);
            correlationIds.add(correlationId);
        }
        final long last = correlationIds.get(count - 1);
        awaitCondition(() -> null != client.find(last), "last append");
        long expected = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        for (int i = 0; i < count; i++)
        {
            final TestClient.Response r = client.find(correlationIds.get(i));
            assertEquals("OK", r.status(), "append " + i + ": " + r.message());
            assertEquals(expected, r.blockOffset(), "append " + i);
            expected += BlockFormat.blockLengthBytes(payloads.get(i).length);
            assertEquals(expected, r.nextOffset());
        }
        return payloads;
    }

    long readBackFromEveryReplica(final List<byte[]> payloads)
    {
        long end = 0;
        for (int node = 0; node < 3; node++)
        {
            long offset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
            final ArrayDeque<long[]> outstanding = new ArrayDeque<>();
            for (int i = 0; i <= payloads.size(); i++)
            {
                if (outstanding.size() == WINDOW || (i == payloads.size() && !outstanding.isEmpty()))
                {
                    drainOne(outstanding, payloads);
                    i--;
                    continue;
                }
                if (i == payloads.size())
                {
                    break;
                }
                outstanding.add(new long[]{ send(node, client.read(EXTENT, offset)), i, offset });
                offset += BlockFormat.blockLengthBytes(payloads.get(i).length);
            }
            end = offset;
            assertEquals("END_OF_EXTENT", request(node, client.read(EXTENT, offset)).status());
        }
        return end;
    }

    void drainOne(final ArrayDeque<long[]> outstanding, final List<byte[]> payloads)
    {
        final long[] head = outstanding.poll();
        awaitCondition(() -> null != client.find(head[0]), "read " + head[0]);
        final TestClient.Response r = client.find(head[0]);
        assertEquals("OK", r.status(), "read at " + head[2] + ": " + r.message());
        assertEquals(head[2], r.blockOffset());
        assertArrayEquals(payloads.get((int)head[1]), r.payload(), "block " + head[1]);
    }

    void sendMalformed()
    {
        final long droppedBefore = nodes[1].counters().get(Counter.MALFORMED_DROPPED);
        final byte[] junk = new byte[100];
        new Random(5).nextBytes(junk);
        send(1, junk);
        final byte[] wrongSchema = client.read(EXTENT, 4096);
        wrongSchema[4] = 99;
        send(1, wrongSchema);
        awaitCondition(() -> nodes[1].counters().get(Counter.MALFORMED_DROPPED) >= droppedBefore + 2, "drops counted");

        final byte[] append = client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[5000]);
        final TestClient.Response truncated = request(0, Arrays.copyOf(append, 3000));
        assertEquals(ErrorResponseDecoder.TEMPLATE_ID, truncated.templateId());
        assertEquals("BAD_REQUEST", truncated.status());
        final TestClient.Response truncatedOpen =
            request(2, Arrays.copyOf(client.openExtent(EXTENT, 3, nodeIds, endpoints), 40));
        assertEquals("BAD_REQUEST", truncatedOpen.status());
    }
}
