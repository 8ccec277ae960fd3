package io.cairn.daemon;

import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerException;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.ManagerStateMachine;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.TaskKind;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The re-replication worker's logic against a fake manager and fake extent nodes, on a simulated clock: a clean
 * copy, a corrupt block on one source, unreachable sources, a claim lost mid-copy, a full disk, the seal of an
 * unsealed tail at the survivors' smallest commit length, and tasks this node must not take.
 */
class ExtentRecoveryAgentTest
{
    private static final int SELF = 4;
    private static final int LOST = 3;
    private static final long EXTENT = 100;
    private static final long STREAM = 7;
    private static final long TASK = 55;

    private final long[] nowNs = { 0 };
    private final FakeManager manager = new FakeManager();
    private final FakePeers peers = new FakePeers();
    private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();

    private ExtentRecoveryAgent agent()
    {
        return new ExtentRecoveryAgent(new ExtentRecoveryAgent.Context()
            .nodeId(SELF).endpoint("127.0.0.1:4").pollIntervalMs(100).claimLeaseMs(10_000).progressIntervalMs(5)
            .nodeTimeoutMs(100).retryBackoffMs(1_000).clock(() -> nowNs[0])
            .log(new PrintStream(logBytes, true, StandardCharsets.UTF_8)), manager, peers);
    }

    /** Two sources holding the same sealed extent of {@code blocks} blocks; the lost node is node 3. */
    private long sealedExtentOnSources(final int blocks)
    {
        final FakeNode one = peers.node(1);
        final FakeNode two = peers.node(2);
        long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
        for (int i = 0; i < blocks; i++)
        {
            final byte[] payload = ("block-" + i + "-" + "x".repeat(i * 37)).getBytes(StandardCharsets.UTF_8);
            one.append(EXTENT, offset, payload);
            two.append(EXTENT, offset, payload);
            offset += BlockFormat.blockLengthBytes(payload.length);
        }
        one.seal(EXTENT, offset);
        two.seal(EXTENT, offset);
        manager.addTask(TaskKind.RECOVER, offset, new int[]{ 1, 2, LOST });
        return offset;
    }

    @Test
    void copiesASealedExtentAndCompletesTheTask()
    {
        final long sealedLength = sealedExtentOnSources(5);
        final ExtentRecoveryAgent agent = agent();

        assertEquals(1, agent.doWork(nowNs[0]));

        assertEquals(1, agent.tasksCompleted());
        assertEquals(List.of(SELF), manager.completedWith);
        final FakeExtent copy = peers.node(SELF).extents.get(EXTENT);
        assertTrue(copy.sealed);
        assertEquals(sealedLength, copy.commitLength);
        assertSameBlocks(peers.node(1).extents.get(EXTENT), copy);
        assertTrue(manager.progressReports > 0, "progress reported while copying");
        assertEquals(sealedLength - NodeProtocol.FIRST_BLOCK_OFFSET, manager.lastProgressBytes);
        assertEquals(ExtentRecoveryAgent.State.IDLE, agent.state());
    }

    @Test
    void aCorruptBlockOnOneSourceIsReadFromTheOther()
    {
        final long sealedLength = sealedExtentOnSources(4);
        final FakeExtent first = peers.node(1).extents.get(EXTENT);
        final long secondBlock = first.blocks.higherKey(NodeProtocol.FIRST_BLOCK_OFFSET);
        first.corrupt.add(secondBlock);
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(1, agent.tasksCompleted());
        assertEquals(1, agent.sourceFailovers());
        final FakeExtent copy = peers.node(SELF).extents.get(EXTENT);
        assertEquals(sealedLength, copy.commitLength);
        assertSameBlocks(peers.node(2).extents.get(EXTENT), copy);
    }

    @Test
    void unreachableSourcesAbandonTheTaskAndLogTheCauseOnce()
    {
        sealedExtentOnSources(3);
        peers.node(1).reachable = false;
        peers.node(2).reachable = false;
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);
        assertEquals(1, agent.abandoned(ExtentRecoveryAgent.Cause.SOURCE_UNREACHABLE));
        assertTrue(manager.completedWith.isEmpty());
        assertFalse(peers.node(SELF).extents.containsKey(EXTENT), "nothing created before a source answered");
        assertEquals(1, manager.releases, "an abandoned claim is released at once, not left to expire");
        assertEquals(1, agent.claimsReleased());
        assertEquals(ManagerStateMachine.NULL_ID, agent.activeExtentId());

        // Not retried before the back-off; then retried, abandoned again, and still logged once.
        nowNs[0] += TimeUnit.MILLISECONDS.toNanos(200);
        agent.doWork(nowNs[0]);
        assertEquals(1, agent.abandoned(ExtentRecoveryAgent.Cause.SOURCE_UNREACHABLE));
        nowNs[0] += TimeUnit.SECONDS.toNanos(2);
        agent.doWork(nowNs[0]);
        assertEquals(2, agent.abandoned(ExtentRecoveryAgent.Cause.SOURCE_UNREACHABLE));
        final String log = logBytes.toString(StandardCharsets.UTF_8);
        assertEquals(1, log.split("SOURCE_UNREACHABLE", -1).length - 1, log);
    }

    @Test
    void aClaimLostMidCopyAbandonsAndAResumedCopyFinishes()
    {
        final long sealedLength = sealedExtentOnSources(20);
        manager.claimLostAfterReports = 2;
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(1, agent.abandoned(ExtentRecoveryAgent.Cause.CLAIM_LOST));
        assertTrue(manager.completedWith.isEmpty());
        assertEquals(0, manager.releases, "a lost claim is not this node's to release");
        final FakeExtent partial = peers.node(SELF).extents.get(EXTENT);
        assertFalse(partial.sealed);
        assertTrue(partial.commitLength > NodeProtocol.FIRST_BLOCK_OFFSET && partial.commitLength < sealedLength);

        // The claim comes back to this node: the copy resumes after its durable prefix and completes.
        manager.claimLostAfterReports = Integer.MAX_VALUE;
        final long copiedBefore = agent.bytesCopied();
        nowNs[0] += TimeUnit.SECONDS.toNanos(5);
        agent.doWork(nowNs[0]);
        assertEquals(1, agent.tasksCompleted());
        assertEquals(sealedLength - NodeProtocol.FIRST_BLOCK_OFFSET, agent.bytesCopied(),
            "the prefix was not written twice (copied " + copiedBefore + " before)");
        assertSameBlocks(peers.node(1).extents.get(EXTENT), partial);
    }

    @Test
    void aFullDiskAbandonsWithDiskFull()
    {
        sealedExtentOnSources(6);
        peers.node(SELF).fullAfterBlocks = 2;
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(1, agent.abandoned(ExtentRecoveryAgent.Cause.DISK_FULL));
        assertTrue(manager.completedWith.isEmpty());
        assertEquals(1, manager.releases);
        assertTrue(logBytes.toString(StandardCharsets.UTF_8).contains("DISK_FULL"));
    }

    @Test
    void aSealTaskSealsTheSurvivorsAtTheirSmallestCommitLengthThenCopies()
    {
        final FakeNode one = peers.node(1);
        final FakeNode two = peers.node(2);
        long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
        long shorter = 0;
        for (int i = 0; i < 4; i++)
        {
            final byte[] payload = ("tail-" + i).getBytes(StandardCharsets.UTF_8);
            one.append(EXTENT, offset, payload);
            if (i < 3)
            {
                two.append(EXTENT, offset, payload); // node 2 never got the last block: it was not acknowledged
            }
            offset += BlockFormat.blockLengthBytes(payload.length);
            shorter = i == 2 ? offset : shorter;
        }
        manager.ownerRevision = 9;
        manager.addTask(TaskKind.SEAL, ManagerStateMachine.UNSEALED, new int[]{ LOST, 1, 2 });
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(List.of(shorter), manager.recordedSeals);
        assertTrue(one.extents.get(EXTENT).sealed);
        assertEquals(shorter, one.extents.get(EXTENT).commitLength);
        assertEquals(9, one.extents.get(EXTENT).ownerRevision, "fenced with the stream's owner revision");
        assertEquals(1, agent.tasksCompleted());
        final FakeExtent copy = peers.node(SELF).extents.get(EXTENT);
        assertEquals(shorter, copy.commitLength);
        assertTrue(copy.sealed);
        assertSameBlocks(two.extents.get(EXTENT), copy);
    }

    @Test
    void anEmptyTailNeverCreatedOnItsReplicasIsSealedEmptyAndCopiedWithoutASource()
    {
        manager.addTask(TaskKind.SEAL, ManagerStateMachine.UNSEALED, new int[]{ 1, 2, LOST });
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(List.of(NodeProtocol.FIRST_BLOCK_OFFSET), manager.recordedSeals, "nothing was acknowledged");
        assertEquals(1, agent.tasksCompleted());
        final FakeExtent copy = peers.node(SELF).extents.get(EXTENT);
        assertTrue(copy.sealed);
        assertEquals(NodeProtocol.FIRST_BLOCK_OFFSET, copy.commitLength);
    }

    @Test
    void aTaskForAnExtentThisNodeHoldsIsNotClaimed()
    {
        sealedExtentOnSources(2);
        manager.replicas = new int[]{ 1, SELF, LOST };
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(0, manager.claims);
        assertEquals(0, agent.tasksCompleted());
    }

    @Test
    void aTaskThatVanishesMidCopyStops()
    {
        sealedExtentOnSources(20);
        manager.taskGoneAfterReports = 1; // the lost node came back: the manager voided its tasks
        final ExtentRecoveryAgent agent = agent();

        agent.doWork(nowNs[0]);

        assertEquals(1, agent.abandoned(ExtentRecoveryAgent.Cause.TASK_GONE));
        assertTrue(manager.completedWith.isEmpty());
    }

    @Test
    void badSettingsAreRefusedByName()
    {
        final IllegalArgumentException lease = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class, () -> new ExtentRecoveryAgent.Context().nodeId(1).endpoint("h:1")
                .claimLeaseMs(10).conclude());
        assertTrue(lease.getMessage().contains("--recovery-lease-ms 10"), lease.getMessage());
        final IllegalArgumentException progress = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class, () -> new ExtentRecoveryAgent.Context().nodeId(1).endpoint("h:1")
                .claimLeaseMs(1_000).progressIntervalMs(600).conclude());
        assertTrue(progress.getMessage().contains("half the lease"), progress.getMessage());
    }

    private static void assertSameBlocks(final FakeExtent expected, final FakeExtent actual)
    {
        final long end = Math.min(expected.commitLength, actual.commitLength);
        assertEquals(expected.blocks.headMap(end).keySet(), actual.blocks.headMap(end).keySet());
        for (final Map.Entry<Long, byte[]> e : actual.blocks.entrySet())
        {
            assertArrayEquals(expected.blocks.get(e.getKey()), e.getValue(), "block at " + e.getKey());
        }
    }

    // ---------------------------------------------------------------------------------------------------- fakes

    private final class FakeManager implements RecoveryManager
    {
        final List<ManagerListing.Task> tasks = new ArrayList<>();
        final List<Integer> completedWith = new ArrayList<>();
        final List<Long> recordedSeals = new ArrayList<>();
        int[] replicas;
        long sealedLength;
        long ownerRevision;
        long claimEpoch;
        int claims;
        int progressReports;
        long lastProgressBytes;
        int claimLostAfterReports = Integer.MAX_VALUE;
        int releases;
        int taskGoneAfterReports = Integer.MAX_VALUE;

        void addTask(final TaskKind kind, final long sealedLength, final int[] replicas)
        {
            this.sealedLength = sealedLength;
            this.replicas = replicas;
            tasks.add(new ManagerListing.Task(TASK, kind, EXTENT, STREAM, LOST, 0, sealedLength));
        }

        public List<ManagerListing.Task> listTasks()
        {
            return List.copyOf(tasks);
        }

        public StreamInfo streamInfo(final long streamId)
        {
            final Map<Integer, String> endpoints = new HashMap<>();
            for (final int r : replicas)
            {
                endpoints.put(r, "127.0.0.1:" + r);
            }
            return new StreamInfo(streamId, "s", List.of(new ExtentInfo(EXTENT, sealedLength, replicas)), endpoints,
                ownerRevision);
        }

        private ManagerListing.TaskClaim claim(final long progressBytes)
        {
            return new ManagerListing.TaskClaim(TASK, tasks.get(0).kind(), EXTENT, STREAM, LOST, sealedLength, 1,
                claimEpoch, 0, progressBytes);
        }

        public ManagerListing.TaskClaim claim(final int nodeId, final long taskId, final long leaseMs)
        {
            assertEquals(SELF, nodeId);
            assertEquals(TASK, taskId);
            claims++;
            claimEpoch++;
            return claim(0);
        }

        public ManagerListing.TaskClaim progress(
            final int nodeId, final ManagerListing.TaskClaim claim, final long progressBytes, final long leaseMs)
        {
            if (progressReports >= taskGoneAfterReports)
            {
                throw new ManagerException(ManagerStatus.NO_SUCH_TASK, "task gone");
            }
            if (progressReports >= claimLostAfterReports)
            {
                throw new ManagerException(ManagerStatus.CLAIM_LOST, "claimed by node 9");
            }
            assertEquals(claimEpoch, claim.claimEpoch());
            progressReports++;
            lastProgressBytes = progressBytes;
            return claim(progressBytes);
        }

        public ManagerListing.TaskClaim complete(final int nodeId, final ManagerListing.TaskClaim claim, final int newNodeId)
        {
            assertEquals(claimEpoch, claim.claimEpoch());
            completedWith.add(newNodeId);
            tasks.clear();
            return claim;
        }

        public ManagerListing.TaskClaim release(final int nodeId, final ManagerListing.TaskClaim claim)
        {
            assertEquals(SELF, nodeId);
            releases++;
            return claim(0);
        }

        public void recordSeal(final long streamId, final long tailExtentId, final long sealLength, final long revision)
        {
            assertEquals(ownerRevision, revision);
            recordedSeals.add(sealLength);
            sealedLength = sealLength;
        }

        public void close()
        {
        }
    }

    private static final class FakeExtent
    {
        final TreeMap<Long, byte[]> blocks = new TreeMap<>();
        final Set<Long> corrupt = new HashSet<>();
        long commitLength = NodeProtocol.FIRST_BLOCK_OFFSET;
        boolean sealed;
        long ownerRevision;
    }

    private static final class FakeNode
    {
        final Map<Long, FakeExtent> extents = new HashMap<>();
        boolean reachable = true;
        int fullAfterBlocks = Integer.MAX_VALUE;
        int written;

        void append(final long extentId, final long offset, final byte[] payload)
        {
            final FakeExtent e = extents.computeIfAbsent(extentId, id -> new FakeExtent());
            assertEquals(e.commitLength, offset);
            e.blocks.put(offset, payload);
            e.commitLength = offset + BlockFormat.blockLengthBytes(payload.length);
        }

        void seal(final long extentId, final long length)
        {
            final FakeExtent e = extents.get(extentId);
            e.blocks.tailMap(length).clear();
            e.commitLength = length;
            e.sealed = true;
        }
    }

    private final class FakePeers implements RecoveryPeers
    {
        final Map<Integer, FakeNode> nodes = new HashMap<>();
        long commitLength;
        boolean sealed;
        long ownerRevision;
        long nextOffset;
        int payloadLengthBytes;

        FakeNode node(final int nodeId)
        {
            return nodes.computeIfAbsent(nodeId, id -> new FakeNode());
        }

        /** @return the node when it answers; every call moves the simulated clock by 1 ms. */
        private FakeNode answering(final int nodeId, final String endpoint)
        {
            assertEquals("127.0.0.1:" + nodeId, endpoint);
            nowNs[0] += TimeUnit.MILLISECONDS.toNanos(1);
            final FakeNode node = node(nodeId);
            if (!node.reachable)
            {
                nowNs[0] += TimeUnit.MILLISECONDS.toNanos(100); // the time-out
                return null;
            }
            return node;
        }

        public NodeStatus extentStatus(final int nodeId, final String endpoint, final long extentId)
        {
            final FakeNode node = answering(nodeId, endpoint);
            if (null == node)
            {
                return null;
            }
            final FakeExtent e = node.extents.get(extentId);
            if (null == e)
            {
                sealed = false;
                return NodeStatus.NO_SUCH_EXTENT;
            }
            commitLength = e.commitLength;
            sealed = e.sealed;
            ownerRevision = e.ownerRevision;
            return NodeStatus.OK;
        }

        public NodeStatus seal(
            final int nodeId, final String endpoint, final long extentId, final long revision, final long sealLength)
        {
            final FakeNode node = answering(nodeId, endpoint);
            if (null == node)
            {
                return null;
            }
            final FakeExtent e = node.extents.get(extentId);
            if (null == e)
            {
                return NodeStatus.NO_SUCH_EXTENT;
            }
            if (revision < e.ownerRevision)
            {
                return NodeStatus.LOCKED_BY_OTHER;
            }
            e.ownerRevision = revision;
            if (sealLength != NodeProtocol.NULL_OFFSET && !e.sealed)
            {
                assertTrue(sealLength <= e.commitLength);
                node.seal(extentId, sealLength);
            }
            commitLength = e.commitLength;
            sealed = e.sealed;
            return NodeStatus.OK;
        }

        public NodeStatus read(
            final int nodeId, final String endpoint, final long extentId, final long blockOffset,
            final MutableDirectBuffer payload)
        {
            final FakeNode node = answering(nodeId, endpoint);
            if (null == node)
            {
                return null;
            }
            final FakeExtent e = node.extents.get(extentId);
            if (null == e)
            {
                return NodeStatus.NO_SUCH_EXTENT;
            }
            final byte[] block = e.blocks.get(blockOffset);
            if (null == block)
            {
                return blockOffset == e.commitLength ? NodeStatus.END_OF_EXTENT : NodeStatus.OUT_OF_RANGE;
            }
            if (e.corrupt.contains(blockOffset))
            {
                return NodeStatus.CORRUPT;
            }
            payload.putBytes(0, block);
            payloadLengthBytes = block.length;
            nextOffset = blockOffset + BlockFormat.blockLengthBytes(block.length);
            commitLength = e.commitLength;
            return NodeStatus.OK;
        }

        public NodeStatus openSecondary(
            final int nodeId, final String endpoint, final long extentId, final long streamId, final long revision,
            final int[] replicas, final String[] endpoints)
        {
            final FakeNode node = answering(nodeId, endpoint);
            if (null == node)
            {
                return null;
            }
            assertEquals(3, replicas.length);
            assertTrue(replicas[1] == nodeId || replicas[2] == nodeId, "opened as a secondary");
            for (final int r : replicas)
            {
                assertFalse(r == LOST, "the lost node is replaced");
            }
            node.extents.computeIfAbsent(extentId, id -> new FakeExtent()).ownerRevision = revision;
            commitLength = node.extents.get(extentId).commitLength;
            return NodeStatus.OK;
        }

        public NodeStatus replicate(
            final int nodeId, final String endpoint, final long extentId, final long blockOffset, final long revision,
            final DirectBuffer payload, final int lengthBytes)
        {
            final FakeNode node = answering(nodeId, endpoint);
            if (null == node)
            {
                return null;
            }
            final FakeExtent e = node.extents.get(extentId);
            if (null == e)
            {
                return NodeStatus.NO_SUCH_EXTENT;
            }
            if (e.sealed)
            {
                return NodeStatus.SEALED;
            }
            if (blockOffset != e.commitLength)
            {
                return NodeStatus.WRONG_OFFSET;
            }
            if (node.written >= node.fullAfterBlocks)
            {
                return NodeStatus.EXTENT_FULL;
            }
            node.written++;
            final byte[] bytes = new byte[lengthBytes];
            payload.getBytes(0, bytes);
            node.append(extentId, blockOffset, bytes);
            commitLength = e.commitLength;
            return NodeStatus.OK;
        }

        public long commitLength()
        {
            return commitLength;
        }

        public boolean sealed()
        {
            return sealed;
        }

        public long ownerRevision()
        {
            return ownerRevision;
        }

        public long nextOffset()
        {
            return nextOffset;
        }

        public int payloadLengthBytes()
        {
            return payloadLengthBytes;
        }

        public String errorMessage()
        {
            return "";
        }

        public void close()
        {
        }
    }
}
