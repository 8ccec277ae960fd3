package io.cairn.system;

import io.cairn.client.CairnCli;
import io.cairn.client.CairnClient;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.StreamInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The extent lifecycle against real processes: a stream with several sealed extents is truncated and the dropped
 * extents' files disappear on all 3 nodes (and their garbage tombstones once every node confirmed); a node that is
 * down during a second truncation (done through {@code cairn stream truncate}) deletes those files when it comes
 * back (reconciliation at start), together with an orphan file planted under an unknown id below the manager's id
 * high-water mark; a file above the high-water mark and every live extent are left alone.
 * <p>
 * Real processes on loopback, ports 28500+ (its own range).
 */
class ExtentLifecycleSystemTest
{
    static final int PORT_BASE = 28500;
    static final long EXTENT_SIZE_BYTES = 16L * 1024 * 1024;
    static final int SEALED = 5;
    static final long WAIT_MS = 30_000;

    LocalCluster cluster;

    @AfterEach
    void stop()
    {
        if (null != cluster)
        {
            cluster.close();
        }
    }

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void truncatedExtentsAreDeletedOnEveryNodeIncludingOneThatWasDownAndOrphansBelowTheHighWaterMark()
        throws Exception
    {
        final Path dir = Path.of("target", "system-test", "extent-lifecycle-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES).start();

        try (CairnClient client = CairnClient.connect(new CairnClient.Context().managers(cluster.managersString())))
        {
            final StreamInfo created = client.createStream("lifecycle-" + System.nanoTime());
            final long streamId = created.streamId();
            for (int i = 0; i < SEALED; i++)
            {
                client.append(streamId, ("block-" + i).getBytes(StandardCharsets.US_ASCII));
                client.sealTail(streamId);
            }
            client.append(streamId, "tail".getBytes(StandardCharsets.US_ASCII));
            final List<ExtentInfo> extents = client.streamInfo(streamId).extents();
            assertEquals(SEALED + 1, extents.size());
            for (final ExtentInfo extent : extents)
            {
                for (int node = 1; node <= 3; node++)
                {
                    final int n = node;
                    await("extent " + extent.extentId() + " file on node " + n, () -> exists(n, extent.extentId()));
                }
            }

            // 1. Truncate to the third extent: the first two go on all three nodes; the rest stays.
            final long owner = client.manager().streamInfo(streamId).ownerRevision();
            client.manager().truncateStream(streamId, owner, extents.get(2).extentId());
            for (int i = 0; i < 2; i++)
            {
                final long id = extents.get(i).extentId();
                for (int node = 1; node <= 3; node++)
                {
                    final int n = node;
                    await("extent " + id + " deleted on node " + n, () -> !exists(n, id));
                }
            }
            await("garbage tombstones confirmed by every node", () -> client.manager().listGarbage().isEmpty());
            assertLive(extents.subList(2, extents.size()), 1, 2, 3);

            // 2. Node 3 is down while the next two extents are dropped (through the CLI, which acts for the owner).
            cluster.killNode(3);
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final int code = new CairnCli(new PrintStream(out, true), new PrintStream(err, true)).run(new String[]{
                "--managers", cluster.managersString(), "--json", "stream", "truncate", "--stream",
                Long.toString(streamId), "--keep-from", Long.toString(extents.get(4).extentId()) });
            assertEquals(0, code, err::toString);
            assertTrue(out.toString().contains("\"dropped\":2"), out.toString());
            for (int i = 2; i < 4; i++)
            {
                final long id = extents.get(i).extentId();
                for (int node = 1; node <= 2; node++)
                {
                    final int n = node;
                    await("extent " + id + " deleted on node " + n, () -> !exists(n, id));
                }
                assertTrue(exists(3, id), "node 3 is down: its file stays for now");
            }
            // The tombstones wait for node 3, and `cairn extents` shows them as garbage pending on node 3.
            await("tombstones pending only on node 3", () -> client.manager().listGarbage().stream()
                .allMatch((g) -> pendingOnly(g, 3)) && client.manager().listGarbage().size() == 2);
            out.reset();
            assertEquals(0, new CairnCli(new PrintStream(out, true), new PrintStream(err, true)).run(new String[]{
                "--managers", cluster.managersString(), "--json", "extents" }), err::toString);
            assertTrue(out.toString().contains("\"extentId\":" + extents.get(2).extentId() + ",\"streamId\":" +
                streamId + ",\"state\":\"garbage\""), out.toString());

            // Plant an orphan below the id high-water mark (the stream's own id: never an extent) and a file above it.
            final long orphan = streamId;
            final long aboveHighWater = 1_000_000_000L;
            Files.write(file(3, orphan), new byte[8192]);
            Files.write(file(3, aboveHighWater), new byte[8192]);

            // 3. Node 3 comes back: reconciliation at start deletes the dropped extents and the orphan.
            cluster.restartNode(3);
            for (int i = 2; i < 4; i++)
            {
                final long id = extents.get(i).extentId();
                await("extent " + id + " deleted on node 3 after its restart", () -> !exists(3, id));
            }
            await("orphan below the high-water mark deleted", () -> !exists(3, orphan));
            await("garbage tombstones confirmed by node 3", () -> client.manager().listGarbage().isEmpty());
            assertTrue(exists(3, aboveHighWater), "an id above the high-water mark may be a create in flight: kept");
            assertLive(extents.subList(4, extents.size()), 1, 2, 3);
            assertTrue(Files.readString(cluster.log("node-3")).contains("deleted extent " + orphan),
                "the node logs each delete");
            // The stream still reads from its first kept extent.
            assertFalse(client.streamInfo(streamId).extents().isEmpty());
            assertEquals(extents.get(4).extentId(), client.streamInfo(streamId).extents().get(0).extentId());
        }
    }

    private static boolean pendingOnly(final ManagerListing.Extent garbage, final int nodeId)
    {
        for (final int pending : garbage.replicas())
        {
            if (pending != 0 && pending != nodeId)
            {
                return false;
            }
        }
        return true;
    }

    private void assertLive(final List<ExtentInfo> live, final int... nodes)
    {
        for (final ExtentInfo extent : live)
        {
            for (final int node : nodes)
            {
                assertTrue(exists(node, extent.extentId()), "live extent " + extent.extentId() + " kept on " + node);
            }
        }
    }

    private Path file(final int nodeId, final long extentId)
    {
        return cluster.dir().resolve("node-" + nodeId).resolve("disk0").resolve("extents").resolve(extentId + ".ext");
    }

    private boolean exists(final int nodeId, final long extentId)
    {
        return Files.exists(file(nodeId, extentId));
    }

    private static void await(final String what, final BooleanSupplier condition) throws InterruptedException
    {
        final long deadlineMs = System.currentTimeMillis() + WAIT_MS;
        while (!condition.getAsBoolean())
        {
            assertTrue(System.currentTimeMillis() < deadlineMs, "timed out waiting for: " + what);
            Thread.sleep(50);
        }
    }
}
