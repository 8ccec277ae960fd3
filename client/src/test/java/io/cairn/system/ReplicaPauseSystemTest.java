package io.cairn.system;

import io.cairn.client.CairnClient;
import io.cairn.client.CairnException;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.StreamInfo;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.node.NodeStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGSTOP of a replica longer than the client's node timeout while a writer appends, first a secondary of the tail,
 * then the primary of the tail that replaced it. Each time the client fences and seals the tail at the smallest
 * commit length of the replicas it still reaches and carries on, on a new extent placed on running nodes (a spare
 * fourth node makes that possible). After SIGCONT the node heartbeats again and the manager has it ALIVE; then a
 * second client takes the stream over (a newer owner revision) and the resumed node, as a replica of the tail, holds
 * that revision and turns down the former owner with LOCKED_BY_OTHER. Every acknowledged block reads back with its
 * content from every replica of its extent, and no two replicas hold different blocks at one offset.
 * <p>
 * Real processes on loopback, ports 27000+ (its own range).
 */
class ReplicaPauseSystemTest
{
    static final int PORT_BASE = 27000;
    static final long EXTENT_SIZE_BYTES = 64L * 1024 * 1024;
    static final long NODE_TIMEOUT_MS = 1_000;
    /** Longer than the client's node timeout and than the manager's suspect timeout (3 s by default). */
    static final long PAUSE_MS = 4_000;
    static final int APPENDS_BETWEEN_FAULTS = 150;
    static final long SEED = 0x5157095L;

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
        return clientContext(cluster);
    }

    static CairnClient.Context clientContext(final LocalCluster cluster)
    {
        return new CairnClient.Context()
            .managers(cluster.managersString())
            .nodeTimeoutNs(TimeUnit.MILLISECONDS.toNanos(NODE_TIMEOUT_MS))
            .maxAppendAttempts(8);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void writerFailsOverPastAPausedSecondaryThenPrimaryAndTheResumedNodeIsFenced() throws Exception
    {
        final Path dir = Path.of("target", "system-test", "replica-pause-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES).start();
        cluster.startSpareNode(4);

        try (CairnClient owner = CairnClient.connect(clientContext()))
        {
            final StreamInfo created = owner.createStream("replica-pause-" + System.nanoTime());
            final long streamId = created.streamId();
            final StreamWriter writer = new StreamWriter(owner, streamId, SEED).start();
            writer.awaitMore(APPENDS_BETWEEN_FAULTS);

            final ExtentInfo firstTail = created.tail();
            final int secondary = firstTail.replicas()[1];
            pauseAcrossAppends(writer, owner, streamId, secondary, firstTail);

            final ExtentInfo secondTail = owner.streamInfo(streamId).tail();
            assertNotEquals(firstTail.extentId(), secondTail.extentId(), "the writer moved to a new tail");
            pauseAcrossAppends(writer, owner, streamId, secondTail.primary(), secondTail);
            writer.stop();

            try (CairnClient reader = CairnClient.connect(clientContext()))
            {
                final StreamInfo info = writer.verify(reader);
                System.out.println("replica pause: node " + secondary + " (secondary) then node " +
                    secondTail.primary() + " (primary) paused " + PAUSE_MS + " ms; " + writer.ackedCount() +
                    " acknowledged blocks over " + info.extents().size() + " extents read back from every replica");
            }
            checkFencing(clientContext(), owner, streamId, secondTail.primary(), writer);
        }
    }

    /**
     * Pauses a replica of the writer's current tail past the node timeout, requires appends to go on meanwhile, on
     * a tail without it, then resumes it and waits until the manager has it ALIVE again.
     */
    private void pauseAcrossAppends(
        final StreamWriter writer, final CairnClient client, final long streamId, final int victim,
        final ExtentInfo tail) throws Exception
    {
        cluster.pauseNode(victim);
        paused = victim;
        final long pausedAtMs = System.currentTimeMillis();
        writer.awaitMore(APPENDS_BETWEEN_FAULTS);
        final ExtentInfo now = client.streamInfo(streamId).tail();
        assertNotEquals(tail.extentId(), now.extentId(), "appends moved off extent " + tail.extentId() +
            " while node " + victim + " was paused");
        final ExtentInfo sealed = client.streamInfo(streamId).extents().stream()
            .filter((e) -> e.extentId() == tail.extentId()).findFirst().orElseThrow();
        assertTrue(sealed.sealed(), "extent " + tail.extentId() + " was sealed: " + sealed);
        final long leftMs = PAUSE_MS - (System.currentTimeMillis() - pausedAtMs);
        if (leftMs > 0)
        {
            Thread.sleep(leftMs); // the manager's suspect timeout passes too
        }
        writer.awaitMore(10); // still appending with the node paused
        cluster.resumeNode(victim);
        paused = -1;
        awaitAlive(client, victim);
        writer.awaitMore(APPENDS_BETWEEN_FAULTS / 3);
    }

    static void awaitAlive(final CairnClient client, final int nodeId) throws InterruptedException
    {
        final long deadlineMs = System.currentTimeMillis() + StreamWriter.PROGRESS_TIMEOUT_MS;
        NodeState state = null;
        while (System.currentTimeMillis() < deadlineMs)
        {
            for (final ManagerListing.Node node : client.manager().listNodes())
            {
                if (node.nodeId() == nodeId)
                {
                    state = node.state();
                }
            }
            if (NodeState.ALIVE == state)
            {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("node " + nodeId + " not ALIVE again after SIGCONT: " + state);
    }

    /**
     * A second client takes the stream over (open: a newer owner revision) and rolls the tail until the resumed node
     * is one of its replicas; that node then holds the new revision, and the former owner's append is refused with
     * LOCKED_BY_OTHER. The new owner keeps appending.
     */
    static void checkFencing(
        final CairnClient.Context newOwnerContext,
        final CairnClient formerOwner, final long streamId, final int resumed, final StreamWriter writer)
    {
        try (CairnClient newOwner = CairnClient.connect(newOwnerContext))
        {
            final StreamInfo opened = newOwner.openStream(streamId);
            assertTrue(opened.ownerRevision() > 0, "owner revision " + opened.ownerRevision());
            ExtentInfo tail = opened.tail();
            for (int roll = 0; roll < 10 && !contains(tail.replicas(), resumed); roll++)
            {
                tail = newOwner.sealTail(streamId).tail();
            }
            assertTrue(contains(tail.replicas(), resumed), "no tail placed on resumed node " + resumed + ": " + tail);
            newOwner.append(streamId, writer.payload(-1));
            final ExtentInfo usedTail = newOwner.streamInfo(streamId).tail();
            final CairnClient.ReplicaStatus status = newOwner.replicaStatus(resumed, usedTail.extentId());
            assertEquals(opened.ownerRevision(), status.ownerRevision(), "resumed node " + resumed +
                " holds the new owner's revision for extent " + usedTail.extentId());

            final CairnException refused = assertThrows(CairnException.class,
                () -> formerOwner.append(streamId, writer.payload(-2)), "the former owner's append is refused");
            assertEquals(NodeStatus.LOCKED_BY_OTHER, refused.nodeStatus(), refused.getMessage());
            // The resumed replica itself refuses a fence from the former owner's revision.
            final CairnException fence = assertThrows(CairnException.class,
                () -> formerOwner.sealReplicas(streamId, new ExtentInfo(usedTail.extentId(), usedTail.sealedLength(),
                    new int[]{ resumed }), opened.ownerRevision() - 1));
            assertEquals(NodeStatus.LOCKED_BY_OTHER, fence.nodeStatus(), fence.getMessage());

            for (int i = 0; i < 20; i++)
            {
                newOwner.append(streamId, writer.payload(-3 - i));
            }
        }
    }

    private static boolean contains(final int[] replicas, final int nodeId)
    {
        return Arrays.stream(replicas).anyMatch((r) -> r == nodeId);
    }
}
