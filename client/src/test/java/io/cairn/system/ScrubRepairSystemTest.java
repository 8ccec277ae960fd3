package io.cairn.system;

import io.cairn.client.CairnClient;
import io.cairn.client.ReadResult;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scrubber and repair against real processes: a block of a sealed extent is corrupted in one node's extent file while
 * the node runs; that node's scrubber (a fast --scrub-bytes-per-sec) finds it, its repair worker rewrites it from
 * another replica, and the block then reads intact from that very node. Bounded by a deadline, not timed.
 * <p>
 * Real processes on loopback, ports 29000+ (its own range).
 */
class ScrubRepairSystemTest
{
    static final int PORT_BASE = 29000;
    static final long EXTENT_SIZE_BYTES = 64L * 1024 * 1024;
    static final int BLOCKS = 6;
    static final long REPAIR_DEADLINE_MS = 60_000;

    LocalCluster cluster;

    @AfterEach
    void stop() throws Exception
    {
        if (null != cluster)
        {
            cluster.close();
        }
    }

    static byte[] block(final int i)
    {
        final byte[] bytes = new byte[5000 + i * 700];
        final byte[] tag = ("scrub-repair-block-" + i).getBytes(StandardCharsets.US_ASCII);
        for (int j = 0; j < bytes.length; j++)
        {
            bytes[j] = tag[j % tag.length];
        }
        return bytes;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aBlockCorruptedOnOneNodeIsRepairedByItsScrubberAndReadsIntactFromThatNode() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "scrub-repair-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES)
            .nodeArgs("--scrub-bytes-per-sec", "67108864", "--repair-blocks-per-sec", "100")
            .start();

        final long[] offsets = new long[BLOCKS];
        final ExtentInfo extent;
        try (CairnClient writer = CairnClient.connect(new CairnClient.Context().managers(cluster.managersString())))
        {
            final long streamId = writer.createStream("scrub-repair-" + System.nanoTime()).streamId();
            writer.openStream(streamId);
            final io.cairn.client.AppendResult result = new io.cairn.client.AppendResult();
            for (int i = 0; i < BLOCKS; i++)
            {
                final byte[] p = block(i);
                writer.append(streamId, new UnsafeBuffer(p), 0, p.length, result);
                offsets[i] = result.blockOffset();
            }
            final ExtentInfo written = writer.streamInfo(streamId).tail();
            final StreamInfo after = writer.sealTail(streamId);
            extent = find(after, written.extentId());
            assertTrue(extent.sealed(), "sealed: " + after.extents());
            for (final int nodeId : extent.replicas())
            {
                assertTrue(writer.replicaStatus(nodeId, extent.extentId()).sealed(), "sealed on node " + nodeId);
            }
        }

        final int victim = extent.replicas()[1];
        try (CairnClient reader = CairnClient.connect(new CairnClient.Context().managers(cluster.managersString())))
        {
            final ReadResult result = new ReadResult();
            assertEquals(NodeStatus.OK, reader.read(victim, extent.extentId(), offsets[3], result));
            flipPayloadByte(victim, extent.extentId(), offsets[3]);

            // The scrubber (or this read) finds it; the repair worker rewrites it from another replica.
            final long deadlineMs = System.currentTimeMillis() + REPAIR_DEADLINE_MS;
            NodeStatus status;
            while (NodeStatus.OK != (status = reader.read(victim, extent.extentId(), offsets[3], result)))
            {
                assertEquals(NodeStatus.CORRUPT, status);
                assertTrue(System.currentTimeMillis() < deadlineMs, "not repaired in time; node log:\n" + log(victim));
                Thread.sleep(50);
            }
            assertEquals(victim, result.nodeId());
            assertArrayEquals(block(3), result.payloadBytes());
            for (int i = 0; i < BLOCKS; i++)
            {
                assertEquals(NodeStatus.OK, reader.read(victim, extent.extentId(), offsets[i], result), "block " + i);
                assertArrayEquals(block(i), result.payloadBytes(), "block " + i);
            }
        }
        // The worker logs its outcome after the rewrite is read back, so a read can see the block intact first.
        final long logDeadlineMs = System.currentTimeMillis() + REPAIR_DEADLINE_MS;
        String log = log(victim);
        while (!log.contains("offset " + offsets[3] + " on disk 0: REPAIRED"))
        {
            assertTrue(System.currentTimeMillis() < logDeadlineMs, "no REPAIRED line in the node log:\n" + log);
            Thread.sleep(50);
            log = log(victim);
        }
        assertTrue(log.contains("scrub: BAD BLOCK") || log.contains("repair: extent " + extent.extentId()), log);
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
        throw new AssertionError("extent " + extentId + " not in " + stream.extents());
    }

    String log(final int nodeId) throws Exception
    {
        final Path path = cluster.log("node-" + nodeId);
        return Files.exists(path) ? Files.readString(path) : "(no log at " + path + ")";
    }

    /** Flips a payload byte of the block in the node's extent file, under the running node. */
    void flipPayloadByte(final int nodeId, final long extentId, final long blockOffset) throws Exception
    {
        final Path file = cluster.dir().resolve("node-" + nodeId).resolve("disk0").resolve("extents")
            .resolve(extentId + ".ext");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            final long at = blockOffset + BlockFormat.BLOCK_HEADER_LENGTH_BYTES + 100;
            raf.seek(at);
            final int b = raf.read();
            raf.seek(at);
            raf.write(b ^ 0xFF);
            raf.getFD().sync();
        }
    }
}
