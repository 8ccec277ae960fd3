package io.cairn.system;

import io.cairn.client.AppendResult;
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
 * Hedged reads against real processes: with one replica stopped (SIGSTOP) the read is answered by the next replica
 * once the hedge delay passes, long before the node time-out; the stopped replica's late answer, after SIGCONT, is
 * dropped as stale and does not disturb the following reads; with hedging off the read waits out the node time-out
 * and then moves on as before; a block corrupted on one replica is answered intact by another.
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
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aStoppedReplicaIsHedgedAroundItsLateAnswerDroppedHedgeOffWaitsAsBeforeAndCorruptionIsNeverReturned() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "hedged-read-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES).start();

        final long[] offsets = new long[BLOCKS];
        final ExtentInfo extent;
        try (CairnClient writer = CairnClient.connect(clientContext()))
        {
            final StreamInfo created = writer.createStream("hedged-read-" + System.nanoTime());
            for (int i = 0; i < BLOCKS; i++)
            {
                final AppendResult appended = writer.append(created.streamId(), block(i));
                offsets[i] = appended.blockOffset();
            }
            extent = writer.streamInfo(created.streamId()).tail();
        }
        final int first = extent.replicas()[0];
        final int second = extent.replicas()[1];

        // A node time-out far above the hedge delay: only the hedge can answer quickly.
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .hedgeDelayNs(TimeUnit.MILLISECONDS.toNanos(2))))
        {
            final ReadResult result = new ReadResult();
            for (final int nodeId : extent.replicas())
            {
                // Sessions first: a hedge goes only to a replica the client has already connected to.
                assertEquals(NodeStatus.OK, reader.read(nodeId, extent.extentId(), offsets[0], result));
                assertEquals(nodeId, result.nodeId());
            }
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[0], result));
            final long hedgesBefore = reader.hedgesSent();
            final long winsBefore = reader.hedgeWins();

            cluster.pauseNode(first);
            paused = first;
            assertEquals(NodeStatus.OK, reader.readAnyReplica(extent, offsets[1], result));
            assertEquals(second, result.nodeId(), "the hedge replica answered");
            assertEquals(offsets[1], result.blockOffset());
            assertArrayEquals(block(1), result.payloadBytes());
            assertEquals(hedgesBefore + 1, reader.hedgesSent());
            assertEquals(winsBefore + 1, reader.hedgeWins());

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

        // Hedged: the first replica is stopped, the hedge replica holds a corrupt copy. Its CORRUPT answer is not
        // returned; the read waits for the first replica alone, which answers once it is continued.
        try (CairnClient reader = CairnClient.connect(clientContext()
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .hedgeDelayNs(TimeUnit.MILLISECONDS.toNanos(2))))
        {
            final ReadResult result = new ReadResult();
            for (final int nodeId : extent.replicas())
            {
                assertEquals(NodeStatus.OK, reader.read(nodeId, extent.extentId(), offsets[0], result));
            }
            flipPayloadByte(second, extent.extentId(), offsets[2]);
            cluster.pauseNode(first);
            paused = first;
            final Thread resumer = Thread.ofPlatform().start(() ->
            {
                try
                {
                    Thread.sleep(300);
                    cluster.resumeNode(first);
                }
                catch (final Exception ex)
                {
                    throw new IllegalStateException(ex);
                }
            });
            final NodeStatus status = reader.readAnyReplica(extent, offsets[2], result);
            resumer.join();
            paused = -1;
            assertEquals(NodeStatus.OK, status);
            assertEquals(first, result.nodeId());
            assertArrayEquals(block(2), result.payloadBytes());
            assertEquals(1, reader.hedgesSent());
            assertEquals(0, reader.hedgeWins());
        }
    }

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
    void hedgeDelayIsValidated()
    {
        assertThrows(IllegalArgumentException.class, () -> new CairnClient.Context().hedgeDelayNs(-1).conclude());
        assertThrows(IllegalArgumentException.class, () -> new CairnClient.Context()
            .nodeTimeoutNs(1_000_000).hedgeDelayNs(1_000_000).conclude());
        assertEquals(0, new CairnClient.Context().hedgeDelayNs(0).conclude().hedgeDelayNs());
    }
}
