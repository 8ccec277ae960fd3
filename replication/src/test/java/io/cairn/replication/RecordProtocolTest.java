package io.cairn.replication;

import io.cairn.sbe.node.ErrorResponseDecoder;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Records of several blocks, sent in chunks, over three {@link ReplicationConductor}s with in-memory stores and
 * a simulated network: atomic visibility, framing on every replica, chunk errors, staging bounds, idempotent retry.
 */
class RecordProtocolTest
{
    static final String[] ENDPOINTS = { "n1:1", "n2:2", "n3:3" };
    static final int[] NODE_IDS = { 1, 2, 3 };
    static final long EXTENT = 42;
    static final int CHUNK = NodeProtocol.MAX_PAYLOAD_BYTES;
    static final long STEP_NS = TimeUnit.MILLISECONDS.toNanos(1);
    static final long TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(500);

    final SimulatedNetwork net = new SimulatedNetwork();
    final ReplicationConductor[] nodes = new ReplicationConductor[3];
    final NodeRequestAdapter[] adapters = new NodeRequestAdapter[3];
    final MemoryReplicaStore[] stores = new MemoryReplicaStore[3];
    final TestClient client = new TestClient(7, "aeron:udp?endpoint=client:9");
    final boolean[] stopped = new boolean[3];
    long nowNs = 1_000_000_000L;

    @BeforeEach
    void setUp()
    {
        net.register(client.responseChannel, NodeProtocol.RESPONSE_STREAM_ID, b -> client.onResponse(b, 0));
    }

    void start(final long maxInFlightBytes)
    {
        for (int i = 0; i < 3; i++)
        {
            stores[i] = new MemoryReplicaStore(8L * 1024 * 1024, 256);
            final ReplicationConductor node = new ReplicationConductor(new ReplicationConductor.Context()
                .nodeId(NODE_IDS[i]).endpoint(ENDPOINTS[i]).store(stores[i]).transport(net)
                .replicateTimeoutNs(TIMEOUT_NS).openTimeoutNs(TIMEOUT_NS).maxInFlightBytes(maxInFlightBytes)
                .maxStagingBytes(NodeProtocol.MAX_RECORD_BYTES).clientId(1000 + i));
            final NodeRequestAdapter adapter = new NodeRequestAdapter(node);
            final PeerResponseAdapter peerAdapter = new PeerResponseAdapter(node);
            final int n = i;
            net.register(NodeProtocol.channel(ENDPOINTS[i]), NodeProtocol.REQUEST_STREAM_ID,
                b -> deliver(n, () -> adapter.onMessage(b, 0, b.capacity())));
            net.register(NodeProtocol.channel(ENDPOINTS[i]), NodeProtocol.RESPONSE_STREAM_ID,
                b -> deliver(n, () -> peerAdapter.onMessage(b, 0, b.capacity())));
            nodes[i] = node;
            adapters[i] = adapter;
        }
        register(client);
        for (int i = 0; i < 3; i++)
        {
            assertEquals("OK", request(i, client.connect()).status());
        }
        final TestClient.Response open = request(0, client.openExtent(EXTENT, 9, NODE_IDS, ENDPOINTS));
        assertEquals("OK", open.status(), open.message());
    }

    void register(final TestClient c)
    {
        if (c != client)
        {
            net.register(c.responseChannel, NodeProtocol.RESPONSE_STREAM_ID, b -> c.onResponse(b, 0));
        }
    }

    void deliver(final int node, final Runnable action)
    {
        if (!stopped[node])
        {
            action.run();
        }
    }

    void step()
    {
        nowNs += STEP_NS;
        for (int i = 0; i < 3; i++)
        {
            if (!stopped[i])
            {
                nodes[i].doWork(nowNs);
            }
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
        stepUntil(() -> null != client.find(correlationId), 200);
        return client.find(correlationId);
    }

    /** Send every chunk of a record to the primary; returns the record's correlation id. */
    long sendRecord(final TestClient c, final long requestId, final byte[] record, final byte[] metadata)
    {
        final long correlationId = c.takeCorrelationId();
        for (int at = 0; at < record.length; at += CHUNK)
        {
            send(0, c.appendChunk(correlationId, EXTENT, requestId, record.length, at, record, at,
                Math.min(CHUNK, record.length - at), 0 == at ? metadata : null));
        }
        return correlationId;
    }

    TestClient.Response appendRecord(final long requestId, final byte[] record, final byte[] metadata)
    {
        final long correlationId = sendRecord(client, requestId, record, metadata);
        stepUntil(() -> null != client.find(correlationId), 500);
        return client.find(correlationId);
    }

    /** Read a record block by block from one replica, checking its framing; returns its payload. */
    byte[] readRecord(final int node, final long offset, final byte[] expectedMetadata)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        long at = offset;
        boolean first = true;
        while (true)
        {
            final TestClient.Response r = request(node, client.read(EXTENT, at));
            assertEquals("OK", r.status(), r.message());
            assertEquals(first, (r.recordFlags() & BlockFormat.RECORD_FIRST) != 0, "FIRST flag of block at " + at);
            assertArrayEquals(first ? expectedMetadata : new byte[0], r.metadata());
            out.writeBytes(r.payload());
            at = r.nextOffset();
            first = false;
            if ((r.recordFlags() & BlockFormat.RECORD_LAST) != 0)
            {
                return out.toByteArray();
            }
        }
    }

    static byte[] bytes(final long seed, final int length)
    {
        final byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void multiBlockRecordIsAnsweredOnceAtItsEndAndReadsBackWholeFromEveryReplica()
    {
        start(ReplicationConductor.Context.MAX_IN_FLIGHT_BYTES_DEFAULT);
        final byte[] big = bytes(1, 2 * CHUNK + 12_345);
        final byte[] metadata = "content-type=blob".getBytes();
        final TestClient.Response first = appendRecord(11, big, metadata);
        assertEquals("OK", first.status(), first.message());
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES, first.blockOffset());
        final long end = first.blockOffset() + 2L * BlockFormat.blockLengthBytes(CHUNK) +
            BlockFormat.blockLengthBytes(12_345);
        assertEquals(end, first.nextOffset());
        assertEquals(1, client.responses.stream().filter(r -> r.correlationId() == first.correlationId()).count(),
            "a record is answered once");

        final byte[] tiny = { 42 };
        final TestClient.Response second = appendRecord(12, tiny, null);
        assertEquals("OK", second.status(), second.message());
        assertEquals(end, second.blockOffset());

        for (int i = 0; i < 3; i++)
        {
            assertEquals(second.nextOffset(), stores[i].commitLength(EXTENT), "commit length of node " + NODE_IDS[i]);
            assertArrayEquals(big, readRecord(i, first.blockOffset(), metadata), "record on node " + NODE_IDS[i]);
            assertArrayEquals(tiny, readRecord(i, second.blockOffset(), new byte[0]));
        }
    }

    @Test
    void retriedRecordLandsOnce()
    {
        start(ReplicationConductor.Context.MAX_IN_FLIGHT_BYTES_DEFAULT);
        final byte[] big = bytes(2, CHUNK + 1);
        final TestClient.Response first = appendRecord(21, big, null);
        assertEquals("OK", first.status(), first.message());
        final TestClient.Response retry = appendRecord(21, big, null);
        assertEquals("OK", retry.status(), retry.message());
        assertEquals(first.blockOffset(), retry.blockOffset());
        assertEquals(first.nextOffset(), retry.nextOffset());
        for (int i = 0; i < 3; i++)
        {
            assertEquals(first.nextOffset(), stores[i].commitLength(EXTENT));
        }
    }

    @Test
    void primaryStoppedMidRecordLeavesNoneOfItVisibleAfterSeal()
    {
        // One block in flight at a time, so the record is written out over several round trips.
        start(BlockFormat.MAX_BLOCK_LENGTH_BYTES);
        final byte[] before = bytes(3, 100);
        final TestClient.Response acked = appendRecord(31, before, null);
        assertEquals("OK", acked.status());
        final long correlationId = sendRecord(client, 32, bytes(4, 3 * CHUNK), null);
        stepUntil(() -> stores[1].endOffset(EXTENT) > acked.nextOffset() &&
            stores[1].endOffset(EXTENT) == stores[2].endOffset(EXTENT), 200);
        step();
        stopped[0] = true; // the primary dies with the record half replicated
        for (int i = 0; i < 20; i++)
        {
            step();
        }
        assertNull(client.find(correlationId));
        for (int i = 1; i < 3; i++)
        {
            assertTrue(stores[i].endOffset(EXTENT) > acked.nextOffset(), "a block of the record reached node " + NODE_IDS[i]);
            assertEquals(acked.nextOffset(), stores[i].commitLength(EXTENT), "the partial record is not committed");
            final TestClient.Response fence = request(i, client.seal(EXTENT, 5, NodeProtocol.NULL_OFFSET));
            assertEquals("OK", fence.status(), fence.message());
            assertEquals(acked.nextOffset(), fence.commitLength());
            final TestClient.Response seal = request(i, client.seal(EXTENT, 5, fence.commitLength()));
            assertEquals("OK", seal.status(), seal.message());
            assertEquals("END_OF_EXTENT", request(i, client.read(EXTENT, acked.nextOffset())).status());
            assertArrayEquals(before, readRecord(i, acked.blockOffset(), new byte[0]));
        }
    }

    @Test
    void badChunkSequencesGetPreciseErrors()
    {
        start(ReplicationConductor.Context.MAX_IN_FLIGHT_BYTES_DEFAULT);
        final byte[] record = bytes(5, 3 * CHUNK);

        long c = client.takeCorrelationId();
        send(0, client.appendChunk(c, EXTENT, 1, record.length, 0, record, 0, CHUNK, null));
        TestClient.Response r = request(0, client.appendChunk(c, EXTENT, 1, record.length, 2 * CHUNK, record, 0, CHUNK, null));
        assertEquals("BAD_REQUEST", r.status());
        assertTrue(r.message().startsWith("gap: chunk at " + 2 * CHUNK + ", expected the one at " + CHUNK), r.message());

        c = client.takeCorrelationId();
        send(0, client.appendChunk(c, EXTENT, 2, record.length, 0, record, 0, CHUNK, null));
        send(0, client.appendChunk(c, EXTENT, 2, record.length, CHUNK, record, 0, CHUNK, null));
        r = request(0, client.appendChunk(c, EXTENT, 2, record.length, CHUNK, record, 0, CHUNK, null));
        assertEquals("BAD_REQUEST", r.status());
        assertTrue(r.message().startsWith("duplicate chunk at " + CHUNK), r.message());

        c = client.takeCorrelationId();
        r = request(0, client.appendChunk(c, EXTENT, 3, record.length, 0, record, 0, CHUNK - 1, null));
        assertEquals("BAD_REQUEST", r.status());
        assertTrue(r.message().contains("carries " + (CHUNK - 1) + " bytes; expected " + CHUNK), r.message());

        c = client.takeCorrelationId();
        r = request(0, client.appendChunk(c, EXTENT, 4, record.length, CHUNK, record, 0, CHUNK, null));
        assertEquals("BAD_REQUEST", r.status());
        assertTrue(r.message().contains("with no first chunk"), r.message());

        c = client.takeCorrelationId();
        send(0, client.appendChunk(c, EXTENT, 5, record.length, 0, record, 0, CHUNK, null));
        r = request(0, client.appendChunk(c, EXTENT, 5, record.length, CHUNK, record, 0, CHUNK, new byte[3]));
        assertEquals("BAD_REQUEST", r.status());
        assertTrue(r.message().contains("carries metadata: only the first chunk may"), r.message());

        c = client.takeCorrelationId();
        r = request(0, client.appendChunk(c, EXTENT, 6, NodeProtocol.MAX_RECORD_BYTES + 1, 0, record, 0, CHUNK, null));
        assertEquals(ErrorResponseDecoder.TEMPLATE_ID, r.templateId());
        assertEquals("BAD_REQUEST", r.status());
        assertTrue(r.message().contains("recordLengthBytes " + (NodeProtocol.MAX_RECORD_BYTES + 1)), r.message());

        // Nothing of any refused record was written, and a good record still goes through.
        for (int i = 0; i < 3; i++)
        {
            assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES, stores[i].endOffset(EXTENT));
        }
        assertEquals("OK", appendRecord(7, record, null).status());
    }

    @Test
    void stagingBeyondItsBoundIsRefusedBusy()
    {
        start(ReplicationConductor.Context.MAX_IN_FLIGHT_BYTES_DEFAULT);
        final byte[] chunk = bytes(6, CHUNK);
        final long c = client.takeCorrelationId();
        // The first chunk of a largest record reserves the whole staging area of this node.
        send(0, client.appendChunk(c, EXTENT, 1, NodeProtocol.MAX_RECORD_BYTES, 0, chunk, 0, CHUNK, null));
        final TestClient other = new TestClient(8, "aeron:udp?endpoint=client:10");
        register(other);
        send(0, other.connect());
        step();
        final long otherC = other.takeCorrelationId();
        send(0, other.appendChunk(otherC, EXTENT, 1, 2 * CHUNK, 0, chunk, 0, CHUNK, null));
        stepUntil(() -> null != other.find(otherC), 50);
        final TestClient.Response r = other.find(otherC);
        assertEquals("BUSY", r.status());
        assertTrue(r.message().startsWith("staging full: " + NodeProtocol.MAX_RECORD_BYTES + " of " +
            NodeProtocol.MAX_RECORD_BYTES + " bytes in reassembly on node 1"), r.message());
    }

    @Test
    void storeCommitsOnlyWholeRecordsAndCrashDropsAPartialOne()
    {
        final MemoryReplicaStore store = new MemoryReplicaStore(1024 * 1024, 16);
        final ReplicaStore.Listener ignore = new ReplicaStore.Listener()
        {
            public void onCreated(final long token, final long extentId, final NodeStatus status, final long commit)
            {
            }

            public void onWritten(final long token, final long extentId, final long blockOffset,
                final NodeStatus status, final long nextOffset, final long commitLength)
            {
            }

            public void onRead(final long token, final long extentId, final long blockOffset, final NodeStatus status,
                final org.agrona.DirectBuffer payload, final int payloadOffset, final int payloadLengthBytes,
                final long nextOffset, final long commitLength)
            {
            }
        };
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[100]);
        assertEquals(NodeStatus.OK, store.submitCreate(1, 1, 0));
        store.poll(ignore, 10);
        final long start = store.endOffset(1);
        assertEquals(NodeStatus.OK, store.submitWrite(1, start, BlockFormat.RECORD_FIRST, null, 0, 0, payload, 0, 100, 1));
        final long second = store.endOffset(1);
        assertEquals(NodeStatus.OK, store.submitWrite(1, second, 0, null, 0, 0, payload, 0, 100, 2));
        store.poll(ignore, 10);
        assertEquals(start, store.commitLength(1), "no LAST block yet: nothing committed");
        assertEquals(NodeStatus.BAD_REQUEST, store.submitWrite(1, store.endOffset(1), 0, null, 0, 1, payload, 0, 100, 3),
            "metadata only on a FIRST block");
        store.crash();
        assertEquals(start, store.endOffset(1), "a crash drops the partial record");
        assertEquals(NodeStatus.OK, store.submitWrite(1, start, BlockFormat.RECORD_FIRST, null, 0, 0, payload, 0, 100, 4));
        assertEquals(NodeStatus.OK, store.submitWrite(1, second, BlockFormat.RECORD_LAST, null, 0, 0, payload, 0, 100, 5));
        store.poll(ignore, 10);
        assertEquals(second + BlockFormat.blockLengthBytes(100), store.commitLength(1));
    }
}
