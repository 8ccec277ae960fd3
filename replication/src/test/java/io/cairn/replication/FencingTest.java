package io.cairn.replication;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Owner revisions, SealExtent and de-duplication on three nodes in one thread (simulated network and clock).
 * <p>
 * The central case is BookKeeper's lesson: fencing only the read of the last confirmed entry did not stop an
 * add already in flight from being acknowledged afterwards. Here an old owner's appends are in flight (written on
 * the primary and one secondary, held on the other's disk) when a new owner fences and seals; none of them may be
 * acknowledged, and the sealed length covers everything that was.
 */
class FencingTest
{
    static final String[] ENDPOINTS = { "n1:1", "n2:2", "n3:3" };
    static final int[] NODE_IDS = { 1, 2, 3 };
    static final long EXTENT = 77;
    static final long OLD = 5;
    static final long NEW = 6;

    final SimulatedNetwork net = new SimulatedNetwork();
    final ReplicationConductor[] nodes = new ReplicationConductor[3];
    final NodeRequestAdapter[] adapters = new NodeRequestAdapter[3];
    final MemoryReplicaStore[] stores = new MemoryReplicaStore[3];
    final TestClient oldOwner = new TestClient(7, "aeron:udp?endpoint=old:9");
    final TestClient newOwner = new TestClient(8, "aeron:udp?endpoint=new:9");
    long nowNs = 1_000_000_000L;

    @BeforeEach
    void setUp()
    {
        for (int i = 0; i < 3; i++)
        {
            stores[i] = new MemoryReplicaStore(1024 * 1024, 256);
            startNode(i);
        }
        net.register(oldOwner.responseChannel, NodeProtocol.RESPONSE_STREAM_ID, b -> oldOwner.onResponse(b, 0));
        net.register(newOwner.responseChannel, NodeProtocol.RESPONSE_STREAM_ID, b -> newOwner.onResponse(b, 0));
        for (int i = 0; i < 3; i++)
        {
            assertEquals("OK", request(oldOwner, i, oldOwner.connect()).status());
            assertEquals("OK", request(newOwner, i, newOwner.connect()).status());
        }
    }

    void startNode(final int i)
    {
        final ReplicationConductor node = new ReplicationConductor(new ReplicationConductor.Context()
            .nodeId(NODE_IDS[i]).endpoint(ENDPOINTS[i]).store(stores[i]).transport(net)
            .replicateTimeoutNs(TimeUnit.SECONDS.toNanos(5)).openTimeoutNs(TimeUnit.SECONDS.toNanos(5))
            .maxInFlightAppends(8).clientId(1000 + i + nowNs));
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
        nowNs += TimeUnit.MILLISECONDS.toNanos(1);
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

    TestClient.Response request(final TestClient client, final int node, final byte[] message)
    {
        final long correlationId = client.nextCorrelationId() - 1;
        send(node, message);
        stepUntil(() -> null != client.find(correlationId), 100);
        return client.find(correlationId);
    }

    static byte[] block(final int i)
    {
        final byte[] bytes = new byte[100 + i];
        bytes[0] = (byte)i;
        return bytes;
    }

    void openAndAppend(final int acked)
    {
        final TestClient.Response open = request(oldOwner, 0, oldOwner.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS, OLD));
        assertEquals("OK", open.status(), open.message());
        for (int i = 0; i < acked; i++)
        {
            assertEquals("OK", request(oldOwner, 0, oldOwner.append(EXTENT, -1, block(i), OLD, i + 1)).status());
        }
    }

    @Test
    void inFlightAppendOfTheOldOwnerIsNeverAcknowledgedAfterTheNewOwnersSeal()
    {
        openAndAppend(3);
        // Three more appends in flight: written on the primary and node 2, held on node 3's disk.
        stores[2].holdCompletions(true);
        final List<Long> inFlight = new ArrayList<>();
        for (int i = 3; i < 6; i++)
        {
            inFlight.add(oldOwner.nextCorrelationId());
            send(0, oldOwner.append(EXTENT, -1, block(i), OLD, i + 1));
        }
        for (int i = 0; i < 5; i++)
        {
            step();
        }
        inFlight.forEach((c) -> assertEquals(null, oldOwner.find(c), "acknowledged before its replica was durable"));

        // The new owner fences all three replicas. Node 3 answers only after its held writes are durable.
        final long[] fence = new long[3];
        for (int i = 0; i < 3; i++)
        {
            fence[i] = newOwner.nextCorrelationId();
            send(i, newOwner.seal(EXTENT, NEW, NodeProtocol.NULL_OFFSET));
        }
        for (int i = 0; i < 5; i++)
        {
            step();
        }
        assertEquals(null, newOwner.find(fence[2]), "node 3 answered the fence before its accepted writes were durable");
        stores[2].holdCompletions(false); // the in-flight writes now complete on node 3: too late to be acknowledged
        stepUntil(() -> null != newOwner.find(fence[0]) && null != newOwner.find(fence[1]) &&
            null != newOwner.find(fence[2]), 100);
        long min = Long.MAX_VALUE;
        for (final long c : fence)
        {
            assertEquals("OK", newOwner.find(c).status(), newOwner.find(c).message());
            min = Math.min(min, newOwner.find(c).commitLength());
        }
        for (int i = 0; i < 3; i++)
        {
            final TestClient.Response sealed = request(newOwner, i, newOwner.seal(EXTENT, NEW, min));
            assertEquals("OK", sealed.status(), sealed.message());
            assertEquals(min, sealed.commitLength());
        }
        for (int i = 0; i < 50; i++)
        {
            step();
        }

        // Not one in-flight append was acknowledged, and every acknowledged one lies below the seal.
        long ackedEnd = 0;
        for (final TestClient.Response r : oldOwner.responses)
        {
            if (r.templateId() == io.cairn.sbe.node.AppendResponseDecoder.TEMPLATE_ID && "OK".equals(r.status()))
            {
                assertTrue(!inFlight.contains(r.correlationId()), "in-flight append acknowledged after the fence");
                ackedEnd = Math.max(ackedEnd, r.nextOffset());
            }
        }
        for (final long c : inFlight)
        {
            assertNotNull(oldOwner.find(c), "in-flight append never answered");
            assertEquals("LOCKED_BY_OTHER", oldOwner.find(c).status(), oldOwner.find(c).message());
        }
        assertTrue(min >= ackedEnd, "sealed at " + min + " below acknowledged end " + ackedEnd);
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES + 3 * 4096L + 3 * 4096L, min,
            "all replicas held the in-flight blocks durably, so the seal keeps them (unacknowledged but complete)");
        for (int i = 0; i < 3; i++)
        {
            assertTrue(stores[i].isSealed(EXTENT));
            assertEquals(min, stores[i].commitLength(EXTENT));
            assertEquals(NEW, stores[i].ownerRevision(EXTENT));
        }

        // The old owner can do nothing more: append, re-open and seal are refused.
        assertEquals("LOCKED_BY_OTHER", request(oldOwner, 0, oldOwner.append(EXTENT, -1, block(9), OLD, 99)).status());
        assertEquals("LOCKED_BY_OTHER",
            request(oldOwner, 0, oldOwner.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS, OLD)).status());
        assertEquals("LOCKED_BY_OTHER", request(oldOwner, 1, oldOwner.seal(EXTENT, OLD, min)).status());
        assertEquals("END_OF_EXTENT", request(newOwner, 1, newOwner.read(EXTENT, min)).status());
    }

    @Test
    void fencedSecondaryRefusesTheOldOwnersBlockSoItIsNeverAcknowledged()
    {
        openAndAppend(2);
        // The new owner reaches only the secondaries; the old owner still reaches the primary.
        assertEquals("OK", request(newOwner, 1, newOwner.seal(EXTENT, NEW, NodeProtocol.NULL_OFFSET)).status());
        final TestClient.Response late = request(oldOwner, 0, oldOwner.append(EXTENT, -1, block(2), OLD, 3));
        assertEquals("REPLICA_FAILED", late.status());
        assertTrue(late.message().contains("LOCKED_BY_OTHER"), late.message());
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES + 2 * 4096L, stores[1].commitLength(EXTENT));
        assertTrue(nodes[1].counters().get(ReplicationCounters.Counter.FENCED_REFUSALS) > 0);
    }

    @Test
    void fenceOfAnExtentNotCreatedYetStillRefusesTheOldOwnersOpen()
    {
        final TestClient.Response fenced = request(newOwner, 2, newOwner.seal(EXTENT, NEW, NodeProtocol.NULL_OFFSET));
        assertEquals("NO_SUCH_EXTENT", fenced.status());
        final TestClient.Response open = request(oldOwner, 0, oldOwner.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS, OLD));
        assertEquals("REPLICA_FAILED", open.status());
        assertTrue(open.message().contains("LOCKED_BY_OTHER"), open.message());
    }

    @Test
    void retriedAppendIsAnsweredFromTheWindowNotWrittenAgain()
    {
        openAndAppend(0);
        final TestClient.Response first = request(oldOwner, 0, oldOwner.append(EXTENT, -1, block(1), OLD, 42));
        assertEquals("OK", first.status());
        final long writes = stores[0].writesSubmitted();
        final TestClient.Response retry = request(oldOwner, 0, oldOwner.append(EXTENT, -1, block(1), OLD, 42));
        assertEquals("OK", retry.status());
        assertEquals(first.blockOffset(), retry.blockOffset());
        assertEquals(first.nextOffset(), retry.nextOffset());
        assertEquals(writes, stores[0].writesSubmitted(), "a retried request was written again");

        // Retried while still in flight: the one write's answer goes to the retry.
        stores[1].holdCompletions(true);
        final long c1 = oldOwner.nextCorrelationId();
        send(0, oldOwner.append(EXTENT, -1, block(2), OLD, 43));
        step();
        final long c2 = oldOwner.nextCorrelationId();
        send(0, oldOwner.append(EXTENT, -1, block(2), OLD, 43));
        stores[1].holdCompletions(false);
        stepUntil(() -> null != oldOwner.find(c2), 50);
        assertEquals("OK", oldOwner.find(c2).status());
        assertEquals(first.nextOffset(), oldOwner.find(c2).blockOffset());
        assertEquals(writes + 1, stores[0].writesSubmitted());
        assertEquals(null, oldOwner.find(c1));
        assertEquals(2, nodes[0].counters().get(ReplicationCounters.Counter.APPENDS_DEDUPLICATED));
    }

    @Test
    void sealIsDurableAcrossARestartAndIdempotent()
    {
        openAndAppend(2);
        final long end = stores[0].commitLength(EXTENT);
        assertEquals("OK", request(newOwner, 0, newOwner.seal(EXTENT, NEW, end - 4096)).status());
        assertEquals("OK", request(newOwner, 0, newOwner.seal(EXTENT, NEW, end - 4096)).status());
        final TestClient.Response other = request(newOwner, 0, newOwner.seal(EXTENT, NEW, end));
        assertEquals("SEALED", other.status());
        assertTrue(other.message().contains("already sealed at " + (end - 4096)), other.message());
        assertEquals("BAD_REQUEST", request(newOwner, 1, newOwner.seal(EXTENT, NEW, end + 4096)).status());

        nodes[0].close();
        startNode(0); // same store: the seal and the revision survive
        assertEquals("OK", request(newOwner, 0, newOwner.connect()).status());
        assertEquals("OK", request(oldOwner, 0, oldOwner.connect()).status());
        assertEquals("LOCKED_BY_OTHER",
            request(oldOwner, 0, oldOwner.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS, OLD)).status());
        final TestClient.Response reopen = request(newOwner, 0, newOwner.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS, NEW));
        assertEquals("SEALED", reopen.status());
        assertEquals(end - 4096, reopen.commitLength());
        assertNotEquals("OK", request(newOwner, 0, newOwner.read(EXTENT, end - 4096)).status());
    }
}
