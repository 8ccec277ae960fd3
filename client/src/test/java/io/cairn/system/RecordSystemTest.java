package io.cairn.system;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.client.ReadResult;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Records of many blocks end to end, with real processes on loopback (3 managers, 3 extent nodes and a spare):
 * a 64 MiB record sent in chunks between 1-byte records reads back byte-identical, with its user metadata, from
 * every replica; and a record cut off half-way by a paused secondary is not visible after the seal, and the
 * client's retry lands it exactly once on the next extent.
 * <p>
 * Memory: one 64 MiB record (the client holds it and one read copy; the primary stages it off-heap).
 * Ports 28500+ (its own range).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RecordSystemTest
{
    static final int PORT_BASE = 28500;
    static final long EXTENT_SIZE_BYTES = 128L * 1024 * 1024;
    static final int CUT_RECORD_BYTES = 24 * 1024 * 1024 + 5;

    static LocalCluster cluster;
    static int paused = -1;

    @BeforeAll
    static void startCluster() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "records-" + System.currentTimeMillis()).toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES);
        try
        {
            cluster.start();
            cluster.startSpareNode(4);
        }
        catch (final Exception ex)
        {
            cluster.close();
            throw ex;
        }
    }

    @AfterAll
    static void stopCluster() throws Exception
    {
        if (null != cluster)
        {
            if (paused > 0)
            {
                cluster.resumeNode(paused);
            }
            cluster.close();
        }
    }

    static CairnClient.Context clientContext()
    {
        return new CairnClient.Context().managers(cluster.managersString())
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(3)).maxAppendAttempts(8);
    }

    static byte[] bytes(final long seed, final int length)
    {
        final byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    record Appended(byte[] payload, byte[] metadata, long extentId, long offset, long end)
    {
    }

    static Appended append(final CairnClient client, final long streamId, final byte[] payload, final byte[] metadata)
    {
        final AppendResult result = new AppendResult();
        client.append(streamId, new UnsafeBuffer(metadata), 0, metadata.length, new UnsafeBuffer(payload), 0,
            payload.length, result);
        return new Appended(payload, metadata, result.extentId(), result.blockOffset(), result.nextOffset());
    }

    static ExtentInfo find(final StreamInfo stream, final long extentId)
    {
        for (final ExtentInfo e : stream.extents())
        {
            if (e.extentId() == extentId)
            {
                return e;
            }
        }
        throw new AssertionError("extent " + extentId + " is not in stream " + stream.streamId() + ": " + stream.extents());
    }

    static void assertOnEveryReplica(final CairnClient client, final ExtentInfo extent, final Appended a)
    {
        final ReadResult result = new ReadResult();
        for (final int nodeId : extent.replicas())
        {
            assertEquals(NodeStatus.OK, client.readRecord(nodeId, a.extentId(), a.offset(), result),
                "record at " + a.offset() + " on node " + nodeId);
            assertEquals(a.payload().length, result.lengthBytes(), "record length on node " + nodeId);
            final byte[] actual = new byte[result.lengthBytes()];
            result.payload().getBytes(0, actual);
            assertArrayEquals(a.payload(), actual, "record at " + a.offset() + " on node " + nodeId);
            assertArrayEquals(a.metadata(), result.metadata(), "metadata on node " + nodeId);
            assertEquals(a.end(), result.nextOffset());
        }
    }

    @Test
    @Order(1)
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void largestRecordBetweenOneByteRecordsReadsBackFromEveryReplica()
    {
        try (CairnClient client = CairnClient.connect(clientContext()))
        {
            final StreamInfo stream = client.createStream("records-" + System.nanoTime());
            final List<Appended> appended = new ArrayList<>();
            appended.add(append(client, stream.streamId(), new byte[]{ 1 }, new byte[0]));
            appended.add(append(client, stream.streamId(), bytes(64, NodeProtocol.MAX_RECORD_BYTES),
                "kind=largest".getBytes()));
            appended.add(append(client, stream.streamId(), new byte[]{ 2 }, "m".getBytes()));
            appended.add(append(client, stream.streamId(), bytes(3, 3 * NodeProtocol.MAX_PAYLOAD_BYTES + 7),
                bytes(4, NodeProtocol.MAX_USER_METADATA_BYTES)));
            appended.add(append(client, stream.streamId(), new byte[]{ 3 }, new byte[0]));
            // A loaded host can make the tail fail under the large record (a secondary past the replicate time-out):
            // the client then seals it and the record lands at the start of the next extent. Inside one extent,
            // records are contiguous.
            for (int i = 1; i < appended.size(); i++)
            {
                final Appended previous = appended.get(i - 1);
                final Appended current = appended.get(i);
                if (previous.extentId() == current.extentId())
                {
                    assertEquals(previous.end(), current.offset(), "records are contiguous");
                }
                else
                {
                    assertEquals(NodeProtocol.FIRST_BLOCK_OFFSET, current.offset(), "a record starting a new extent");
                }
            }

            final StreamInfo written = client.streamInfo(stream.streamId());
            for (final Appended a : appended)
            {
                assertOnEveryReplica(client, find(written, a.extentId()), a);
            }
            final long[] records = { 0 };
            assertEquals(appended.size(), client.readStream(stream.streamId(), 2,
                (extentId, offset, payload, length) -> records[0]++));

            // The hedged any-replica read reassembles every record whole, with its metadata; it may hedge a record's
            // first block, never its following ones (they come from the replica that answered the first).
            final long hedgesBefore = client.hedgesSent();
            final List<Appended> read = new ArrayList<>();
            assertEquals(appended.size(), client.readStream(stream.streamId(), 0,
                (CairnClient.RecordHandler)(extentId, offset, record) ->
                {
                    final byte[] payload = new byte[record.lengthBytes()];
                    record.payload().getBytes(0, payload);
                    read.add(new Appended(payload, record.metadata(), extentId, offset, record.nextOffset()));
                }));
            for (int i = 0; i < appended.size(); i++)
            {
                assertArrayEquals(appended.get(i).payload(), read.get(i).payload(), "record " + i + " payload");
                assertArrayEquals(appended.get(i).metadata(), read.get(i).metadata(), "record " + i + " metadata");
                assertEquals(appended.get(i).offset(), read.get(i).offset(), "record " + i + " offset");
            }
            final long hedges = client.hedgesSent() - hedgesBefore;
            assertTrue(hedges <= 2L * appended.size(), hedges + " hedges for " + appended.size() +
                " records: a record's following blocks were hedged");
        }
    }

    @Test
    @Order(2)
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void recordCutOffByAPausedSecondaryIsNotVisibleAfterTheSealAndItsRetryLandsOnce() throws Exception
    {
        try (CairnClient client = CairnClient.connect(clientContext());
            CairnClient observer = CairnClient.connect(clientContext()))
        {
            final StreamInfo stream = client.createStream("records-cut-" + System.nanoTime());
            final long streamId = stream.streamId();
            final Appended before = append(client, streamId, bytes(7, 1000), new byte[0]);
            final ExtentInfo first = client.streamInfo(streamId).tail();

            // The secondary stops before the record: its window of blocks fills, the rest is never sent, the
            // primary fails the extent, and the client seals it and carries on on a new extent.
            paused = first.replicas()[1];
            cluster.pauseNode(paused);
            final byte[] record = bytes(8, CUT_RECORD_BYTES);
            final AtomicReference<Object> outcome = new AtomicReference<>();
            final Thread appender = new Thread(() ->
            {
                try
                {
                    outcome.set(append(client, streamId, record, "cut".getBytes()));
                }
                catch (final RuntimeException ex)
                {
                    outcome.set(ex);
                }
            }, "record-appender");
            appender.start();
            final long deadlineMs = System.currentTimeMillis() + 60_000;
            while (!observer.streamInfo(streamId).extents().get(0).sealed() && System.currentTimeMillis() < deadlineMs)
            {
                Thread.sleep(50);
            }
            cluster.resumeNode(paused);
            paused = -1;
            appender.join(120_000);
            assertTrue(outcome.get() instanceof Appended, "the append went through: " + outcome.get());
            final Appended landed = (Appended)outcome.get();

            final StreamInfo info = observer.streamInfo(streamId);
            final ExtentInfo sealed = info.extents().get(0);
            assertEquals(first.extentId(), sealed.extentId());
            assertTrue(sealed.sealed());
            assertEquals(before.end(), sealed.sealedLength(), "the cut record is not inside the sealed length");
            assertTrue(landed.extentId() != first.extentId(), "the retry landed on the next extent");
            final ReadResult result = new ReadResult();
            for (final int nodeId : sealed.replicas())
            {
                assertEquals(NodeStatus.END_OF_EXTENT, observer.readRecord(nodeId, sealed.extentId(), before.end(),
                    result), "nothing of the cut record on node " + nodeId);
            }
            final ExtentInfo next = info.extents().stream().filter(e -> e.extentId() == landed.extentId())
                .findFirst().orElseThrow();
            assertOnEveryReplica(observer, next, landed);
            final List<Integer> lengths = new ArrayList<>();
            observer.readStream(streamId, 0, (extentId, offset, payload, length) -> lengths.add(length));
            assertEquals(List.of(1000, CUT_RECORD_BYTES), lengths, "every record exactly once");
        }
    }
}
