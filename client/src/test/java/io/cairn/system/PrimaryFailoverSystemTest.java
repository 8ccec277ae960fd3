package io.cairn.system;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.client.CairnException;
import io.cairn.client.ReadResult;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the tail's primary in the middle of a stream: the client fences and seals the tail at the smallest
 * commit length of the replicas it still reaches, the manager allocates a new tail on the live nodes (a spare
 * fourth node makes that possible), and the client carries on there. Nothing acknowledged is lost: every
 * acknowledged block reads back, from a replica that is still up, at the offset it was acknowledged at.
 * <p>
 * Real processes on loopback, ports 24000+ (its own range).
 */
class PrimaryFailoverSystemTest
{
    static final int PORT_BASE = 24000;
    static final long EXTENT_SIZE_BYTES = 64L * 1024 * 1024;
    static final int MAX_PAYLOAD_BYTES = 12_000;
    static final int ACKED_BEFORE_KILL = 300;
    static final int ACKED_AFTER_KILL = 200;
    static final long SEED = 0xFA110FE2L;

    LocalCluster cluster;

    @AfterEach
    void stop()
    {
        if (null != cluster)
        {
            cluster.close();
        }
    }

    record Acked(int index, long extentId, long blockOffset, long nextOffset)
    {
    }

    static byte[] payload(final int index)
    {
        final Random random = new Random(SEED * 31 + index);
        final byte[] bytes = new byte[1 + random.nextInt(MAX_PAYLOAD_BYTES)];
        random.nextBytes(bytes);
        return bytes;
    }

    CairnClient.Context clientContext()
    {
        return new CairnClient.Context()
            .managers(cluster.managersString())
            .nodeTimeoutNs(TimeUnit.SECONDS.toNanos(2))
            .maxAppendAttempts(8);
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void clientContinuesOnANewExtentAfterKillMinus9OfThePrimary() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "primary-failover-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES).start();
        cluster.startSpareNode(4);

        final List<Acked> acked = new ArrayList<>();
        final AtomicInteger ackedCount = new AtomicInteger();
        final String[] failure = new String[1];
        final AtomicBoolean stop = new AtomicBoolean();
        final int victim;
        final int[] ackedAtKill = { 0 };
        final long streamId;
        final long firstExtent;
        try (CairnClient client = CairnClient.connect(clientContext()))
        {
            final StreamInfo stream = client.createStream("primary-failover-" + System.nanoTime());
            streamId = stream.streamId();
            victim = stream.tail().primary();
            firstExtent = stream.tail().extentId();
            final Thread appender = new Thread(() ->
            {
                final AppendResult result = new AppendResult();
                try
                {
                    for (int i = 0; !stop.get(); i++)
                    {
                        final byte[] p = payload(i);
                        client.append(streamId, new UnsafeBuffer(p), 0, p.length, result);
                        synchronized (acked)
                        {
                            acked.add(new Acked(i, result.extentId(), result.blockOffset(), result.nextOffset()));
                        }
                        ackedCount.incrementAndGet();
                    }
                }
                catch (final CairnException ex)
                {
                    failure[0] = ex.getMessage();
                }
            }, "appender");
            appender.start();
            awaitAcked(ackedCount, ACKED_BEFORE_KILL, appender, failure);
            cluster.killNode(victim);
            // Appends acknowledged before the kill completed legitimately landed on the first extent.
            ackedAtKill[0] = ackedCount.get();
            final long killedAtMs = System.currentTimeMillis();
            awaitAcked(ackedCount, ackedAtKill[0] + ACKED_AFTER_KILL, appender, failure);
            System.out.println("primary failover: appends resumed; " + ACKED_AFTER_KILL + " more acknowledged " +
                (System.currentTimeMillis() - killedAtMs) + " ms after the kill");
            stop.set(true);
            appender.join(60_000);
            assertTrue(!appender.isAlive(), "the appender stopped");
            assertEquals(null, failure[0], "the appender failed");
        }

        try (CairnClient reader = CairnClient.connect(clientContext()))
        {
            final StreamInfo info = reader.streamInfo(streamId);
            final Map<Long, ExtentInfo> extents = new HashMap<>();
            info.extents().forEach((e) -> extents.put(e.extentId(), e));
            final ExtentInfo first = extents.get(firstExtent);
            assertTrue(first.sealed(), "the first tail was sealed");
            final ExtentInfo tail = info.tail();
            for (final int nodeId : tail.replicas())
            {
                assertTrue(nodeId != victim, "the new tail avoids the killed node " + victim + ": " + tail);
            }
            final ReadResult result = new ReadResult();
            long movedOn = 0;
            for (final Acked a : acked)
            {
                final ExtentInfo extent = extents.get(a.extentId());
                if (extent.sealed())
                {
                    assertTrue(extent.sealedLength() >= a.nextOffset(), "extent " + a.extentId() + " sealed at " +
                        extent.sealedLength() + " below acknowledged end " + a.nextOffset());
                }
                // One response may have been in flight when the primary died; every later append must have moved.
                if (a.index() > ackedAtKill[0])
                {
                    assertTrue(a.extentId() != firstExtent, "block " + a.index() + " acknowledged after the kill " +
                        "(at " + ackedAtKill[0] + ") is on the killed primary's extent " + firstExtent);
                    movedOn++;
                }
                final NodeStatus status = reader.readAnyReplica(extent, a.blockOffset(), result);
                assertEquals(NodeStatus.OK, status, "block " + a.index() + " at extent " + a.extentId() + " offset " +
                    a.blockOffset());
                final byte[] actual = new byte[result.lengthBytes()];
                result.payload().getBytes(0, actual);
                assertArrayEquals(payload(a.index()), actual, "block " + a.index());
            }
            assertTrue(movedOn >= ACKED_AFTER_KILL - 1, "appends after the kill landed on a new extent: " + movedOn);
            System.out.println("primary failover: node " + victim + " killed; " + acked.size() + " acknowledged " +
                "blocks over " + info.extents().size() + " extents all read back; first extent sealed at " +
                first.sealedLength());
        }
    }

    private static void awaitAcked(
        final AtomicInteger ackedCount, final int target, final Thread appender, final String[] failure)
        throws InterruptedException
    {
        final long deadlineMs = System.currentTimeMillis() + 90_000;
        while (ackedCount.get() < target && appender.isAlive() && System.currentTimeMillis() < deadlineMs)
        {
            Thread.sleep(20);
        }
        assertTrue(ackedCount.get() >= target, "acknowledged " + ackedCount.get() + " of " + target +
            "; appender failure: " + failure[0]);
    }
}
