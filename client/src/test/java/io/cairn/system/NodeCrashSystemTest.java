package io.cairn.system;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.client.CairnException;
import io.cairn.client.ReadResult;
import io.cairn.manager.StreamInfo;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of an extent node process in the middle of a write stream: every block the client had been
 * acknowledged must be present and intact on that node after it restarts on the same data directory (an
 * acknowledgement means durable on all three replicas, so the killed one too).
 * <p>
 * Real processes (3 manager members, 3 extent nodes) on loopback, ports 23000+ so that it never meets
 * {@link LocalClusterSystemTest}'s cluster. The victim is the primary of the stream's tail, killed while a
 * client thread appends without pause; it stops after the kill.
 */
class NodeCrashSystemTest
{
    static final int PORT_BASE = 23000;
    static final long EXTENT_SIZE_BYTES = 4L * 1024 * 1024;
    static final int MAX_PAYLOAD_BYTES = 12_000;
    /** Acknowledged appends before the kill: several extents' worth, so recovery sees more than one file. */
    static final int ACKED_BEFORE_KILL = 1500;
    static final long SEED = 0xC0FFEEL;

    LocalCluster cluster;

    @AfterEach
    void stop()
    {
        if (null != cluster)
        {
            cluster.close();
        }
    }

    record Acked(int index, long extentId, long blockOffset)
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
            .maxAppendAttempts(3);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void everyAcknowledgedBlockSurvivesKillMinus9OfItsNode() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "node-crash-" + System.currentTimeMillis()).toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES).start();

        final List<Acked> acked = new ArrayList<>();
        final AtomicInteger ackedCount = new AtomicInteger();
        final String[] failure = new String[1];
        final AtomicBoolean stop = new AtomicBoolean();
        final int victim;
        final long streamId;
        try (CairnClient client = CairnClient.connect(clientContext()))
        {
            final StreamInfo stream = client.createStream("node-crash-" + System.nanoTime());
            streamId = stream.streamId();
            // Only 3 nodes: every extent of the stream has a replica on the victim; it is the first tail's primary.
            victim = stream.tail().primary();
            final Thread appender = new Thread(() ->
            {
                final AppendResult result = new AppendResult();
                try
                {
                    for (int i = 0; !stop.get(); i++)
                    {
                        final byte[] p = payload(i);
                        client.append(streamId, new UnsafeBuffer(p), 0, p.length, result);
                        acked.add(new Acked(i, result.extentId(), result.blockOffset()));
                        ackedCount.incrementAndGet();
                    }
                }
                catch (final CairnException ex)
                {
                    failure[0] = ex.getMessage();
                }
            }, "appender");
            appender.start();
            final long deadlineMs = System.currentTimeMillis() + 60_000;
            while (ackedCount.get() < ACKED_BEFORE_KILL && appender.isAlive() && System.currentTimeMillis() < deadlineMs)
            {
                Thread.sleep(20);
            }
            assertTrue(appender.isAlive(), "the appender was still appending when the node was killed: " + failure[0]);
            assertTrue(ackedCount.get() >= ACKED_BEFORE_KILL, "acknowledged before the kill: " + ackedCount.get());
            cluster.killNode(victim);
            // The append in flight at the kill either was acknowledged before it or fails (time-outs, roll-overs).
            stop.set(true);
            appender.join(60_000);
            assertTrue(!appender.isAlive(), "the appender stopped after the kill");
        }
        final int total = acked.size();
        final long extents = acked.stream().mapToLong(Acked::extentId).distinct().count();
        assertTrue(extents >= 2, "acknowledged blocks span " + extents + " extents");

        cluster.restartNode(victim);
        final String log = Files.readString(cluster.log("node-" + victim));
        assertTrue(log.contains("recovered extent"), log);

        try (CairnClient reader = CairnClient.connect(clientContext()))
        {
            reader.streamInfo(streamId); // learns the nodes' endpoints
            final ReadResult result = new ReadResult();
            for (final Acked a : acked)
            {
                final NodeStatus status = reader.read(victim, a.extentId(), a.blockOffset(), result);
                assertEquals(NodeStatus.OK, status, "block " + a.index() + " at extent " + a.extentId() + " offset " +
                    a.blockOffset() + " on restarted node " + victim);
                final byte[] expected = payload(a.index());
                final byte[] actual = new byte[result.lengthBytes()];
                result.payload().getBytes(0, actual);
                assertArrayEquals(expected, actual, "block " + a.index());
            }
        }
        System.out.println("node crash test: node " + victim + " killed after " + total + " acknowledged appends over " +
            extents + " extents (appender stopped with: " + failure[0] + "); all read back intact after restart");
    }
}
