package io.cairn.system;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.NodeProtocol;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The walking skeleton end to end, with real processes on loopback: 3 manager members and 3 extent nodes.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalClusterSystemTest
{
    static final int PORT_BASE = 22000;
    static final int BLOCK_COUNT = 10_000;
    static final int MAX_BLOCK_BYTES = 12_000;
    /** Small extents so the stream rolls over to new extents, through the manager, before and after the kill. */
    static final long EXTENT_SIZE_BYTES = 4L * 1024 * 1024;
    static final long SEED = 0x5EEDL;

    static LocalCluster cluster;

    @BeforeAll
    static void startCluster() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "cluster-" + System.currentTimeMillis()).toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES);
        try
        {
            cluster.start();
        }
        catch (final Exception ex)
        {
            cluster.close();
            throw ex;
        }
    }

    @AfterAll
    static void stopCluster()
    {
        if (null != cluster)
        {
            cluster.close();
        }
    }

    static byte[] payload(final int index, final int length)
    {
        final byte[] bytes = new byte[length];
        new Random(SEED * 31 + index).nextBytes(bytes);
        return bytes;
    }

    @Test
    @Order(1)
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void tenThousandMixedAppendsSurviveLeaderKillAndReadBackIdenticallyFromEveryReplica() throws Exception
    {
        final Random random = new Random(SEED);
        final int[] lengths = new int[BLOCK_COUNT];
        for (int i = 0; i < BLOCK_COUNT; i++)
        {
            lengths[i] = 1 + random.nextInt(MAX_BLOCK_BYTES);
        }
        final long[] extentIds = new long[BLOCK_COUNT];
        final long[] offsets = new long[BLOCK_COUNT];
        final long[] nextOffsets = new long[BLOCK_COUNT];
        int killedLeader = -1;

        try (CairnClient client = CairnClient.connect(new CairnClient.Context().managers(cluster.managersString())))
        {
            final StreamInfo created = client.createStream("e2e-" + System.nanoTime());
            final long streamId = created.streamId();
            assertEquals(3, Arrays.stream(created.tail().replicas()).distinct().count(), "3 distinct replicas");

            final AppendResult result = new AppendResult();
            for (int i = 0; i < BLOCK_COUNT; i++)
            {
                if (i == BLOCK_COUNT / 2)
                {
                    killedLeader = client.manager().leaderMemberId();
                    cluster.killManager(killedLeader);
                }
                final byte[] payload = payload(i, lengths[i]);
                client.append(streamId, new UnsafeBuffer(payload), 0, payload.length, result);
                extentIds[i] = result.extentId();
                offsets[i] = result.blockOffset();
                nextOffsets[i] = result.nextOffset();
                if (i > 0 && extentIds[i] == extentIds[i - 1])
                {
                    assertEquals(nextOffsets[i - 1], offsets[i], "blocks are contiguous within an extent");
                }
            }

            assertNotEquals(killedLeader, client.manager().leaderMemberId(), "a new leader was elected");
            assertNotEquals(extentIds[BLOCK_COUNT / 2], extentIds[BLOCK_COUNT - 1],
                "the stream rolled over to a new extent after the leader was killed");

            // Every sealed extent is sealed exactly at the end of its last acknowledged block.
            final StreamInfo info = client.streamInfo(streamId);
            final Map<Long, Long> lastEnd = new HashMap<>();
            for (int i = 0; i < BLOCK_COUNT; i++)
            {
                lastEnd.put(extentIds[i], nextOffsets[i]);
            }
            for (final ExtentInfo extent : info.extents())
            {
                assertEquals(3, Arrays.stream(extent.replicas()).distinct().count());
                if (extent.sealed())
                {
                    assertEquals(lastEnd.getOrDefault(extent.extentId(), NodeProtocol.FIRST_BLOCK_OFFSET),
                        extent.sealedLength(), "sealed length of extent " + extent.extentId());
                }
            }

            for (int replica = 0; replica < NodeProtocol.REPLICA_COUNT; replica++)
            {
                final int[] index = { 0 };
                final int replicaIndex = replica;
                final long blocks = client.readStreamFromReplica(streamId, replica, (extentId, blockOffset, data, length) ->
                {
                    final int i = index[0]++;
                    final String where = "replica " + replicaIndex + " block " + i;
                    assertTrue(i < BLOCK_COUNT, where + ": more blocks than appended");
                    assertEquals(extentIds[i], extentId, where + " extent");
                    assertEquals(offsets[i], blockOffset, where + " offset");
                    assertEquals(lengths[i], length, where + " length");
                    final byte[] actual = new byte[length];
                    data.getBytes(0, actual);
                    assertArrayEquals(payload(i, lengths[i]), actual, where + " content");
                });
                assertEquals(BLOCK_COUNT, blocks, "blocks read from replica " + replica);
            }
        }

        // The killed member comes back on its own directories and rejoins.
        cluster.startManager(killedLeader);
        cluster.awaitManagerReady(killedLeader);
        assertTrue(cluster.managerAlive(killedLeader));
    }

    @Test
    @Order(2)
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void adminCliCreatesAppendsReadsAndReportsStatus() throws Exception
    {
        final String managers = cluster.managersString();
        final Cli status = Cli.run("--managers", managers, "status");
        assertEquals(0, status.exitCode, status.err);
        assertTrue(status.out.contains("(leader)"), status.out);
        for (int nodeId = 1; nodeId <= 3; nodeId++)
        {
            assertTrue(status.out.contains(cluster.nodeEndpoint(nodeId)), status.out);
        }

        final Cli create = Cli.run("--managers", managers, "stream", "create", "cli-" + System.nanoTime());
        assertEquals(0, create.exitCode, create.err);
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile("created stream (\\d+)").matcher(create.out);
        assertTrue(m.find(), create.out);
        final String streamId = m.group(1);

        final Cli append = Cli.run("--managers", managers, "stream", "append", streamId, "--data", "hello cairn", "--count", "3",
            "--meta", "k=v");
        assertEquals(0, append.exitCode, append.err);
        assertTrue(append.out.contains("(3/3)"), append.out);

        final Path out = cluster.dir().resolve("cli-read.bin");
        for (int replica = 0; replica < 3; replica++)
        {
            final Cli read = Cli.run("--managers", managers, "stream", "read", streamId,
                "--replica", Integer.toString(replica), "--out", out.toString());
            assertEquals(0, read.exitCode, read.err);
            assertTrue(read.out.contains("read 3 records, 33 bytes"), read.out);
            assertTrue(read.out.contains("length=11 crc32c=") && read.out.contains(" meta=\"k=v\""), read.out);
            assertEquals("hello cairnhello cairnhello cairn", java.nio.file.Files.readString(out));
        }

        // Seal: a new owner fences the replicas and seals the tail at the common commit length (3 blocks).
        final Cli seal = Cli.run("--managers", managers, "stream", "seal", streamId);
        assertEquals(0, seal.exitCode, seal.err);
        final java.util.regex.Matcher sealed =
            java.util.regex.Pattern.compile("sealed extent (\\d+) of stream \\d+ at (\\d+)").matcher(seal.out);
        assertTrue(sealed.find(), seal.out);
        assertEquals(4 * 4096L, Long.parseLong(sealed.group(2)), seal.out);
        final Cli extentInfo = Cli.run("--managers", managers, "extent", "info", sealed.group(1));
        assertEquals(0, extentInfo.exitCode, extentInfo.err + extentInfo.out);
        assertTrue(extentInfo.out.contains("sealed at 16384"), extentInfo.out);
        assertEquals(3, extentInfo.out.split("16384 +yes", -1).length - 1, extentInfo.out);
        final Cli appendAfterSeal = Cli.run("--managers", managers, "stream", "append", streamId, "--data", "!");
        assertEquals(0, appendAfterSeal.exitCode, appendAfterSeal.err);
        assertTrue(!appendAfterSeal.out.contains("extent=" + sealed.group(1) + " "), appendAfterSeal.out);
        final Cli readAll = Cli.run("--managers", managers, "stream", "read", streamId, "--out", out.toString());
        assertEquals(0, readAll.exitCode, readAll.err);
        assertEquals("hello cairnhello cairnhello cairn!", java.nio.file.Files.readString(out));

        final Cli missing = Cli.run("--managers", managers, "stream", "info", "999999");
        assertEquals(1, missing.exitCode, missing.out);
        assertTrue(missing.err.contains("NO_SUCH_STREAM") || missing.err.contains("999999"), missing.err);
    }

    /** Runs the CLI in this JVM and captures its output. */
    record Cli(int exitCode, String out, String err)
    {
        static Cli run(final String... args)
        {
            final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            final java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            final int code = new io.cairn.client.CairnCli(
                new java.io.PrintStream(out, true), new java.io.PrintStream(err, true)).run(args);
            return new Cli(code, out.toString(), err.toString());
        }
    }
}
