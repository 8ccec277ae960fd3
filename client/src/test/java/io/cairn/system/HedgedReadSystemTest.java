package io.cairn.system;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnException;
import io.cairn.client.CairnClient;
import io.cairn.client.ReadResult;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hedged reads against real processes: with one replica stopped (SIGSTOP) the read is answered by a replica the
 * client never talked to before (its session opened without blocking when the read started) once the hedge delay
 * passes, long before the node time-out; the stopped replica's late answer, after SIGCONT, is dropped as stale and
 * does not disturb the following reads; with hedging off the read waits out the node time-out and then moves on as
 * before; a block corrupted on one replica is answered intact by another; with the first replica stopped and the
 * second corrupt, the third answers; readStream reads around a stopped first replica; idle sessions are closed and
 * the session limit holds.
 * <p>
 * Real processes on loopback, ports 28000+ (its own range).
 */
class HedgedReadSystemTest
{
    static final int PORT_BASE = 28000;
    static final long EXTENT_SIZE_BYTES = 64L * 1024 * 1024;
    static final int BLOCKS = 4;

    LocalCluster cluster;
    int paused = -1;

    @AfterEach
    void stop() throws Exception
    {
        if (null != cluster)
        {
            if (paused > 0)
            {
                cluster.resumeNode(paused); // a stopped process does not act on SIGTERM
            }
            cluster.close();
        }
    }

    CairnClient.Context clientContext()
    {
        return new CairnClient.Context().managers(cluster.managersString());
    }

    static byte[] block(final int i)
    {
        return ("hedged-block-" + i).getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void hedgesReachNewReplicasSkipStoppedAndCorruptOnesReadStreamsAroundThemAndSessionsStayBounded() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "hedged-read-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES).start();

        final long[] offsets = new long[BLOCKS];
        final long streamId;
        final ExtentInfo extent;
        try (CairnClient writer = CairnClient.connect(clientContext()))
        {
            final StreamInfo created = writer.createStream("hedged-read-" + System.nanoTime());
            for (int i = 0; i < BLOCKS; i++)
            {
                final AppendResult appended = writer.append(created.streamId(), block(i));
                offsets[i] = appended.blockOffset();
            }
            streamId = created.streamId();
            extent = writer.streamInfo(streamId).tail();
        }
        final int first = extent.replicas()[0];
        final int second = extent.replicas()[1];

        // A node time-out far above the hedge delay: only the hedge can answer before it. The delay is long enough
        // for the second replica's new session to be up and answer before the third replica's turn comes.
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .hedgeDelayNs(TimeUnit.SECONDS.toNanos(1))))
        {
            final ReadResult result = new ReadResult();
            // A session with the first replica only: the others are never talked to before the hedged read.
            assertEquals(NodeStatus.OK, reader.read(first, extent.extentId(), offsets[0], result));
            assertEquals(first, result.nodeId());
            assertEquals(1, reader.nodeSessions());

            cluster.pauseNode(first);
            paused = first;
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[1], result));
            assertEquals(second, result.nodeId(), "the hedge replica, never talked to before, answered");
            assertEquals(offsets[1], result.blockOffset());
            assertArrayEquals(block(1), result.payloadBytes());
            assertEquals(3, reader.nodeSessionsOpened(), "the read opened sessions with the other two replicas");
            assertEquals(1, reader.hedgesSent());
            assertEquals(1, reader.hedgeWins());

            final long staleBefore = reader.staleResponses();
            cluster.resumeNode(first);
            paused = -1;
            // The resumed node answers the abandoned read late: it is counted as stale, never taken for a later read.
            final long deadlineMs = System.currentTimeMillis() + 30_000;
            int reads = 0;
            while (reader.staleResponses() == staleBefore || reads < BLOCKS)
            {
                assertTrue(System.currentTimeMillis() < deadlineMs, "no late answer from the resumed node");
                final int i = reads++ % BLOCKS;
                assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[i], result));
                assertEquals(offsets[i], result.blockOffset());
                assertArrayEquals(block(i), result.payloadBytes());
                Thread.sleep(1);
            }
            assertTrue(reader.staleResponses() > staleBefore);
        }

        // Hedging off: today's behaviour, the stopped replica is waited out to the node time-out, then the next one.
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.MILLISECONDS.toNanos(500))
            .hedgeDelayNs(0)))
        {
            final ReadResult result = new ReadResult();
            for (final int nodeId : extent.replicas())
            {
                assertEquals(NodeStatus.OK, reader.read(nodeId, extent.extentId(), offsets[0], result));
            }
            cluster.pauseNode(first);
            paused = first;
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[2], result));
            assertEquals(second, result.nodeId());
            assertArrayEquals(block(2), result.payloadBytes());
            assertEquals(0, reader.hedgesSent());
            cluster.resumeNode(first);
            paused = -1;
        }

        // A corrupt copy on one replica is never returned: the read is answered intact by another one.
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .hedgeDelayNs(TimeUnit.MILLISECONDS.toNanos(2))))
        {
            final ReadResult result = new ReadResult();
            for (final int nodeId : extent.replicas())
            {
                assertEquals(NodeStatus.OK, reader.read(nodeId, extent.extentId(), offsets[0], result));
            }
            flipPayloadByte(first, extent.extentId(), offsets[3]);
            assertEquals(NodeStatus.CORRUPT, reader.read(first, extent.extentId(), offsets[3], result));
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[3], result));
            assertNotEquals(first, result.nodeId());
            assertEquals(offsets[3], result.blockOffset());
            assertArrayEquals(block(3), result.payloadBytes());
        }

        // Hedged, a fresh client: the first replica is stopped (its session cannot even open), the second holds a
        // corrupt copy. Its CORRUPT answer is not returned; the third replica is asked at once, while the first is
        // still out (not a hedge delay later: the delay is long so that only the failure can release it), and its
        // intact copy is the answer.
        flipPayloadByte(second, extent.extentId(), offsets[2]);
        cluster.pauseNode(first);
        paused = first;
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .hedgeDelayNs(TimeUnit.SECONDS.toNanos(1))))
        {
            final ReadResult result = new ReadResult();
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[2], result));
            assertEquals(extent.replicas()[2], result.nodeId(), "the third replica answered");
            assertEquals(offsets[2], result.blockOffset());
            assertArrayEquals(block(2), result.payloadBytes());
            assertEquals(2, reader.hedgesSent(), "second and third were asked while the first was out");
            assertEquals(1, reader.hedgeWins());
        }

        // readStream with the first replica still stopped: every block comes from the others, in order, intact
        // (block 2 is corrupt on the second replica, block 3 on the stopped first one).
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .hedgeDelayNs(TimeUnit.MILLISECONDS.toNanos(2))))
        {
            final int[] index = { 0 };
            final long blocks = reader.readStream(streamId, 0, (extentId, blockOffset, payload, lengthBytes) ->
            {
                final int i = index[0]++;
                assertTrue(i < BLOCKS, "more blocks than appended");
                assertEquals(extent.extentId(), extentId);
                assertEquals(offsets[i], blockOffset, "block " + i);
                final byte[] bytes = new byte[lengthBytes];
                payload.getBytes(0, bytes);
                assertArrayEquals(block(i), bytes, "block " + i);
            });
            assertEquals(BLOCKS, blocks);
            assertTrue(reader.hedgesSent() >= 1, "hedges " + reader.hedgesSent());
            assertTrue(reader.hedgeWins() >= 1, "hedge wins " + reader.hedgeWins());
            // The diagnostic form reads the named replica alone: its corrupt block is reported, not read around.
            final CairnException ex = assertThrows(CairnException.class, () ->
                reader.readStreamFromReplica(streamId, 1, (extentId, blockOffset, payload, lengthBytes) ->
                {
                }));
            assertEquals(NodeStatus.CORRUPT, ex.nodeStatus(), ex.getMessage());
        }
        cluster.resumeNode(first);
        paused = -1;

        // Sessions unused for the idle time-out are closed (the next read opens them again).
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(1))
            .sessionIdleTimeoutNs(TimeUnit.MILLISECONDS.toNanos(1500))))
        {
            final ReadResult result = new ReadResult();
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[0], result));
            assertEquals(3, reader.nodeSessions());
            Thread.sleep(2_000); // past the idle time-out
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[0], result));
            assertArrayEquals(block(0), result.payloadBytes());
            assertEquals(3, reader.nodeSessionsClosedIdle());
            assertEquals(3, reader.nodeSessions());
        }

        // At the session limit the least recently used session is closed to make room.
        cluster.startSpareNode(4);
        try (CairnClient reader = CairnClient.connect(clientContext().maxNodeSessions(3)))
        {
            final ReadResult result = new ReadResult();
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[0], result));
            assertEquals(3, reader.nodeSessions());
            assertEquals(NodeStatus.NO_SUCH_EXTENT, reader.read(4, extent.extentId(), offsets[0], result));
            assertEquals(3, reader.nodeSessions());
            assertEquals(1, reader.nodeSessionsEvicted());
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[1], result));
            assertArrayEquals(block(1), result.payloadBytes());
            assertEquals(3, reader.nodeSessions());
            assertTrue(reader.nodeSessionsEvicted() >= 1);

            // The hedged read path allocates nothing per read once its sessions are up: of a few windows of reads,
            // one allocates nothing (the JVM's own one-off work may show in one window, a per-read cost in all).
            for (int i = 0; i < 200; i++)
            {
                assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[i % 2], result));
            }
            long minAllocatedBytes = Long.MAX_VALUE;
            for (int window = 0; window < 3; window++)
            {
                final long before = THREADS.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 100; i++)
                {
                    reader.readAnyReplica(extent, offsets[i % 2], result);
                }
                minAllocatedBytes = Math.min(minAllocatedBytes, THREADS.getCurrentThreadAllocatedBytes() - before);
            }
            assertEquals(0, minAllocatedBytes, "bytes allocated by 100 hedged reads");
        }
    }

    static final com.sun.management.ThreadMXBean THREADS =
        (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();

    /** Flips the first payload byte of the block in the node's extent file, under the running node. */
    void flipPayloadByte(final int nodeId, final long extentId, final long blockOffset) throws Exception
    {
        final Path file = cluster.dir().resolve("node-" + nodeId).resolve("disk0").resolve("extents")
            .resolve(extentId + ".ext");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            final long at = blockOffset + BlockFormat.BLOCK_HEADER_LENGTH_BYTES;
            raf.seek(at);
            final int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0xFF);
            raf.getFD().sync();
        }
    }

    @Test
    void hedgeAndSessionSettingsAreValidated()
    {
        assertThrows(IllegalArgumentException.class, () -> new CairnClient.Context().hedgeDelayNs(-1).conclude());
        assertThrows(IllegalArgumentException.class, () -> new CairnClient.Context()
            .nodeTimeoutNs(1_000_000).hedgeDelayNs(1_000_000).conclude());
        assertEquals(0, new CairnClient.Context().hedgeDelayNs(0).conclude().hedgeDelayNs());
        final IllegalArgumentException tooFew = assertThrows(IllegalArgumentException.class, () ->
            new CairnClient.Context().maxNodeSessions(2).conclude());
        assertTrue(tooFew.getMessage().contains("maxNodeSessions=2"), tooFew.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CairnClient.Context()
            .maxNodeSessions(CairnClient.Context.MAX_NODE_SESSIONS_LIMIT + 1).conclude());
        final IllegalArgumentException idle = assertThrows(IllegalArgumentException.class, () ->
            new CairnClient.Context().nodeTimeoutNs(1_000_000).hedgeDelayNs(0).sessionIdleTimeoutNs(1_000_000).conclude());
        assertTrue(idle.getMessage().contains("sessionIdleTimeoutNs=1000000"), idle.getMessage());
        assertEquals(3, new CairnClient.Context().maxNodeSessions(3).conclude().maxNodeSessions());
    }
}
