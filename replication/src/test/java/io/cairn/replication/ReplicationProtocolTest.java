package io.cairn.replication;

import io.cairn.replication.ReplicationCounters.Counter;
import io.cairn.sbe.node.AppendResponseDecoder;
import io.cairn.sbe.node.ErrorResponseDecoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The replication protocol over three {@link ReplicationConductor}s with in-memory stores and a
 * deterministic simulated network, in one thread with a simulated clock.
 */
class ReplicationProtocolTest
{
    static final String[] ENDPOINTS = { "n1:1", "n2:2", "n3:3" };
    static final int[] NODE_IDS = { 1, 2, 3 };
    static final long EXTENT = 42;
    static final long STEP_NS = TimeUnit.MILLISECONDS.toNanos(1);
    static final long TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(500);

    final SimulatedNetwork net = new SimulatedNetwork();
    final ReplicationConductor[] nodes = new ReplicationConductor[3];
    final NodeRequestAdapter[] adapters = new NodeRequestAdapter[3];
    final MemoryReplicaStore[] stores = new MemoryReplicaStore[3];
    final TestClient client = new TestClient(7, "aeron:udp?endpoint=client:9");
    long nowNs = 1_000_000_000L;

    @BeforeEach
    void setUp()
    {
        for (int i = 0; i < 3; i++)
        {
            stores[i] = new MemoryReplicaStore(1024 * 1024, 256);
            startNode(i, 4);
        }
        net.register(client.responseChannel, NodeProtocol.RESPONSE_STREAM_ID, b -> client.onResponse(b, 0));
    }

    void startNode(final int i, final int maxInFlight)
    {
        final ReplicationConductor node = new ReplicationConductor(new ReplicationConductor.Context()
            .nodeId(NODE_IDS[i]).endpoint(ENDPOINTS[i]).store(stores[i]).transport(net)
            .replicateTimeoutNs(TIMEOUT_NS).openTimeoutNs(TIMEOUT_NS).maxInFlightAppends(maxInFlight)
            .clientId(1000 + i + nowNs));
        final NodeRequestAdapter adapter = new NodeRequestAdapter(node);
        final PeerResponseAdapter peerAdapter = new PeerResponseAdapter(node);
        net.register(NodeProtocol.channel(ENDPOINTS[i]), NodeProtocol.REQUEST_STREAM_ID,
            b -> adapter.onMessage(b, 0, b.capacity()));
        net.register(NodeProtocol.channel(ENDPOINTS[i]), NodeProtocol.RESPONSE_STREAM_ID,
            b -> peerAdapter.onMessage(b, 0, b.capacity()));
        nodes[i] = node;
        adapters[i] = adapter;
    }

    void step()
    {
        nowNs += STEP_NS;
        for (final ReplicationConductor node : nodes)
        {
            node.doWork(nowNs);
        }
        net.deliverAll();
    }

    void stepUntil(final BooleanSupplier condition, final int maxSteps)
    {
        for (int i = 0; i < maxSteps && !condition.getAsBoolean(); i++)
        {
            step();
        }
        assertTrue(condition.getAsBoolean(), "condition not met within " + maxSteps + " steps");
    }

    void send(final int node, final byte[] message)
    {
        adapters[node].onMessage(new UnsafeBuffer(message), 0, message.length);
    }

    TestClient.Response request(final int node, final byte[] message)
    {
        final long correlationId = client.nextCorrelationId() - 1;
        send(node, message);
        stepUntil(() -> null != client.find(correlationId), 50);
        return client.find(correlationId);
    }

    void connectAndOpen()
    {
        for (int i = 0; i < 3; i++)
        {
            assertEquals("OK", request(i, client.connect()).status());
        }
        final TestClient.Response open = request(0, client.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS));
        assertEquals("OK", open.status(), open.message());
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES, open.commitLength());
    }

    static byte[] payload(final Random random, final int length)
    {
        final byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    @Test
    void pipelinedAppendsGetContiguousOffsetsAndReadBackFromEveryReplica()
    {
        connectAndOpen();
        final Random random = new Random(1);
        final byte[][] payloads = new byte[20][];
        final long[] correlationIds = new long[payloads.length];
        for (int i = 0; i < payloads.length; i++)
        {
            payloads[i] = payload(random, 1 + random.nextInt(i % 3 == 0 ? 20_000 : 300));
            correlationIds[i] = client.nextCorrelationId();
            send(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, payloads[i]));
            if (i % 4 == 3)
            {
                step(); // at most 4 in flight: a round trip takes a few steps
                step();
                step();
            }
        }
        stepUntil(() -> null != client.find(correlationIds[payloads.length - 1]), 100);

        long expected = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        for (int i = 0; i < payloads.length; i++)
        {
            final TestClient.Response r = client.find(correlationIds[i]);
            assertEquals("OK", r.status(), r.message());
            assertEquals(expected, r.blockOffset());
            expected += BlockFormat.blockLengthBytes(payloads[i].length);
            assertEquals(expected, r.nextOffset());
        }
        long offset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        for (final byte[] p : payloads)
        {
            for (int node = 0; node < 3; node++)
            {
                final TestClient.Response read = request(node, client.read(EXTENT, offset));
                assertEquals("OK", read.status());
                assertArrayEquals(p, read.payload());
                assertEquals(expected, read.commitLength());
            }
            offset += BlockFormat.blockLengthBytes(p.length);
        }
        assertEquals("END_OF_EXTENT", request(1, client.read(EXTENT, expected)).status());
        assertEquals("OUT_OF_RANGE", request(1, client.read(EXTENT, BlockFormat.EXTENT_HEADER_LENGTH_BYTES + 1)).status());
        assertEquals("NO_SUCH_EXTENT", request(2, client.extentStatus(EXTENT + 1)).status());
        assertEquals(expected, request(2, client.extentStatus(EXTENT)).commitLength());
        assertArrayEquals(stores[0].image(EXTENT), stores[1].image(EXTENT));
        assertArrayEquals(stores[0].image(EXTENT), stores[2].image(EXTENT));
    }

    @Test
    void wrongExpectedOffsetIsRefused()
    {
        connectAndOpen();
        final TestClient.Response wrong = request(0, client.append(EXTENT, 8192, new byte[10]));
        assertEquals("WRONG_OFFSET", wrong.status());
        assertEquals(4096, wrong.nextOffset());
        final TestClient.Response right = request(0, client.append(EXTENT, 4096, new byte[10]));
        assertEquals("OK", right.status());
        assertEquals(8192, right.nextOffset());
        assertEquals("WRONG_OFFSET", request(0, client.append(EXTENT, 4096, new byte[10])).status());
    }

    @Test
    void appendIsAcknowledgedOnlyAfterAllThreeReplicasAreDurable()
    {
        connectAndOpen();
        for (final int slow : new int[]{ 2, 0, 1 })
        {
            stores[slow].holdCompletions(true);
            final long correlationId = client.nextCorrelationId();
            send(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[100]));
            for (int i = 0; i < 50; i++)
            {
                step();
            }
            assertNull(client.find(correlationId), "acknowledged while replica " + (slow + 1) + " was not durable");
            stores[slow].holdCompletions(false);
            stepUntil(() -> null != client.find(correlationId), 10);
            assertEquals("OK", client.find(correlationId).status());
        }
    }

    @Test
    void silentSecondaryFailsTheExtentAndLaterAppendsFailFast()
    {
        connectAndOpen();
        assertEquals("OK", request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10])).status());
        net.partition(NodeProtocol.channel(ENDPOINTS[2]), true);
        final long correlationId = client.nextCorrelationId();
        send(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        stepUntil(() -> null != client.find(correlationId), (int)(2 * TIMEOUT_NS / STEP_NS));
        final TestClient.Response failed = client.find(correlationId);
        assertEquals("REPLICA_FAILED", failed.status());
        assertTrue(failed.message().contains("node 3"), failed.message());

        net.partition(NodeProtocol.channel(ENDPOINTS[2]), false);
        final long writes = stores[0].writesSubmitted();
        final TestClient.Response fast = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        assertEquals("REPLICA_FAILED", fast.status());
        assertEquals(writes, stores[0].writesSubmitted(), "a failed extent must not write");
        assertEquals(1, nodes[0].counters().get(Counter.EXTENTS_FAILED));
    }

    @Test
    void secondaryRefusalFailsTheExtentNamingTheNode()
    {
        connectAndOpen();
        stores[1].failWrites(true);
        final TestClient.Response failed = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        assertEquals("REPLICA_FAILED", failed.status());
        assertTrue(failed.message().contains("node 2"), failed.message());
    }

    @Test
    void openTimesOutNamingTheSilentSecondary()
    {
        for (int i = 0; i < 3; i++)
        {
            assertEquals("OK", request(i, client.connect()).status());
        }
        net.partition(NodeProtocol.channel(ENDPOINTS[1]), true);
        final long correlationId = client.nextCorrelationId();
        send(0, client.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS));
        stepUntil(() -> null != client.find(correlationId), (int)(2 * TIMEOUT_NS / STEP_NS));
        assertEquals("REPLICA_FAILED", client.find(correlationId).status());
        assertTrue(client.find(correlationId).message().contains("node 2"), client.find(correlationId).message());
    }

    @Test
    void restartedPrimaryAnswersNotOpenUntilReopened()
    {
        connectAndOpen();
        final TestClient.Response first = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[5000]));
        assertEquals("OK", first.status());
        nodes[0].close();
        startNode(0, 4); // same store: the extent survives, the "open as primary" state does not
        assertEquals("OK", request(0, client.connect()).status());
        assertEquals("NOT_OPEN", request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10])).status());
        final TestClient.Response reopen = request(0, client.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS));
        assertEquals("OK", reopen.status(), reopen.message());
        assertEquals(first.nextOffset(), reopen.commitLength());
        final TestClient.Response next = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        assertEquals("OK", next.status(), next.message());
        assertEquals(first.nextOffset(), next.blockOffset());
    }

    @Test
    void tooManyAppendsInFlightAnswerBusy()
    {
        connectAndOpen();
        stores[0].holdCompletions(true);
        final long firstCorrelationId = client.nextCorrelationId();
        for (int i = 0; i < 6; i++)
        {
            send(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        }
        step();
        assertEquals("BUSY", client.find(firstCorrelationId + 4).status());
        assertEquals("BUSY", client.find(firstCorrelationId + 5).status());
        stores[0].holdCompletions(false);
        stepUntil(() -> null != client.find(firstCorrelationId + 3), 10);
        for (int i = 0; i < 4; i++)
        {
            assertEquals("OK", client.find(firstCorrelationId + i).status());
        }
    }

    @Test
    void payloadLimitsAndExtentFull()
    {
        connectAndOpen();
        final TestClient.Response empty = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[0]));
        assertEquals(ErrorResponseDecoder.TEMPLATE_ID, empty.templateId());
        assertEquals("BAD_REQUEST", empty.status());
        final TestClient.Response big =
            request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[NodeProtocol.MAX_PAYLOAD_BYTES + 1]));
        assertEquals("BAD_REQUEST", big.status());
        // 1 MiB extent: a max-size block (1 MiB + 4 KiB) does not fit after the header.
        final TestClient.Response full =
            request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[NodeProtocol.MAX_PAYLOAD_BYTES]));
        assertEquals(AppendResponseDecoder.TEMPLATE_ID, full.templateId());
        assertEquals("EXTENT_FULL", full.status());
        assertEquals("OK", request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[500_000])).status());
        assertEquals(0, stores[1].pendingCount());
    }

    @Test
    void unknownClientIsCountedAndDropped()
    {
        connectAndOpen();
        final TestClient stranger = new TestClient(99, "aeron:udp?endpoint=stranger:1");
        final long before = nodes[0].counters().get(Counter.UNKNOWN_CLIENT_DROPPED);
        send(0, stranger.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        send(0, stranger.read(EXTENT, 4096));
        step();
        assertEquals(before + 2, nodes[0].counters().get(Counter.UNKNOWN_CLIENT_DROPPED));
        assertEquals(4096, stores[0].commitLength(EXTENT));
    }

    @Test
    void seededFuzzOfMalformedMessagesNeverThrowsAndNeverTouchesTheStore()
    {
        connectAndOpen();
        final long seed = Long.getLong("cairn.fuzz.seed", System.nanoTime());
        final Random random = new Random(seed);
        final byte[][] valid = {
            client.connect(),
            client.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS),
            client.append(EXTENT, NodeProtocol.NULL_OFFSET, payload(random, 300)),
            client.read(EXTENT, 4096),
            client.extentStatus(EXTENT),
        };
        final byte[][] images = { stores[0].image(EXTENT), stores[1].image(EXTENT), stores[2].image(EXTENT) };
        final long writes = stores[0].writesSubmitted() + stores[1].writesSubmitted() + stores[2].writesSubmitted();

        for (int i = 0; i < 4000; i++)
        {
            final byte[] message = malformed(random, valid[random.nextInt(valid.length)]);
            final int node = random.nextInt(3);
            final long before = client.responses.size() + dropped(node);
            try
            {
                send(node, message);
                step();
            }
            catch (final RuntimeException ex)
            {
                throw new AssertionError("seed=" + seed + " case=" + i + " message=" + Arrays.toString(message), ex);
            }
            assertTrue(client.responses.size() + dropped(node) > before,
                "seed=" + seed + " case=" + i + ": neither answered nor counted " + Arrays.toString(message));
        }
        for (int i = 0; i < 3; i++)
        {
            assertArrayEquals(images[i], stores[i].image(EXTENT), "seed=" + seed + " store of node " + (i + 1));
        }
        assertEquals(writes, stores[0].writesSubmitted() + stores[1].writesSubmitted() + stores[2].writesSubmitted());
        final TestClient.Response after = request(0, client.append(EXTENT, NodeProtocol.NULL_OFFSET, new byte[10]));
        assertEquals("OK", after.status(), "seed=" + seed);
        assertNotNull(request(2, client.read(EXTENT, after.blockOffset())).payload());
    }

    long dropped(final int node)
    {
        final ReplicationCounters c = nodes[node].counters();
        return c.get(Counter.MALFORMED_DROPPED) + c.get(Counter.UNKNOWN_CLIENT_DROPPED);
    }

    /**
     * A message invalid by construction: junk, a strict prefix, a broken header, or an out-of-bounds length.
     */
    static byte[] malformed(final Random random, final byte[] valid)
    {
        final int kind = random.nextInt(4);
        if (kind == 0)
        {
            return payload(random, random.nextInt(200));
        }
        if (kind == 1)
        {
            return Arrays.copyOf(valid, random.nextInt(valid.length));
        }
        final byte[] copy = valid.clone();
        final UnsafeBuffer b = new UnsafeBuffer(copy);
        if (kind == 2)
        {
            switch (random.nextInt(3))
            {
                case 0 -> b.putShort(4, (short)(101 + random.nextInt(60_000))); // schemaId
                case 1 ->
                {
                    int template;
                    do
                    {
                        template = random.nextInt(65_536);
                    }
                    while (template == 1 || template == 3 || template == 5 || template == 7 || template == 9 ||
                        template == 12);
                    b.putShort(2, (short)template);
                }
                default -> b.putShort(0, (short)random.nextInt(16)); // blockLength too small
            }
            return copy;
        }
        // Out-of-bounds var length: the first var field after the fixed block (Connect, Open, Append).
        final int blockLength = b.getShort(0) & 0xFFFF;
        final int position = 8 + blockLength;
        if (position + 4 > copy.length)
        {
            return Arrays.copyOf(valid, position - 1);
        }
        final long bad = random.nextBoolean() ? copy.length - position - 3 + random.nextInt(1 << 20) :
            (random.nextLong() & 0xFFFF_FFFFL) | 0x8000_0000L;
        b.putInt(position, (int)bad, java.nio.ByteOrder.LITTLE_ENDIAN);
        if (copy[position] == valid[position] && copy[position + 1] == valid[position + 1] &&
            copy[position + 2] == valid[position + 2] && copy[position + 3] == valid[position + 3])
        {
            return Arrays.copyOf(valid, valid.length - 1);
        }
        return copy;
    }
}
