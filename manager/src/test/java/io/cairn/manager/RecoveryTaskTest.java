package io.cairn.manager;

import io.cairn.sbe.manager.AllocateExtentRequestEncoder;
import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.DiskState;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.NodeHeartbeatRequestEncoder;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import io.cairn.sbe.manager.TaskClaimRequestEncoder;
import io.cairn.sbe.manager.TaskClaimResponseDecoder;
import io.cairn.sbe.manager.TaskCompleteRequestEncoder;
import io.cairn.sbe.manager.TaskKind;
import io.cairn.sbe.manager.TaskProgressRequestEncoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The recovery task API of the state machine: claim by a healthy node with a lease, per-node throttle, takeover of
 * an abandoned claim (epoch fencing), progress, and completion that swaps the lost replica under owner-revision
 * checks; claims survive a snapshot and restore, and retries are answered as the first time.
 */
class RecoveryTaskTest
{
    private static final long SESSION = 11;
    private static final int HEADER = MessageHeaderEncoder.ENCODED_LENGTH;
    private static final int NODES = 5;

    private ManagerStateMachine sm = new ManagerStateMachine();
    private final UnsafeBuffer command = new UnsafeBuffer(new byte[4096]);
    private final UnsafeBuffer response = new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private long correlationId;
    private long timeMs = 1_000;

    private record Claim(ManagerStatus status, long taskId, TaskKind kind, long extentId, int lostNodeId,
        long sealedLength, long ownerRevision, long claimEpoch, long claimExpiresAtMs, long progressBytes)
    {
    }

    @Test
    void claimThrottleTakeoverProgressAndCompletion()
    {
        for (int nodeId = 1; nodeId <= NODES; nodeId++)
        {
            apply(HEADER + new RegisterNodeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).nodeId(nodeId).diskCount(1).capacityBytes(1L << 40)
                .endpoint("127.0.0.1:" + (9000 + nodeId)).encodedLength());
        }
        heartbeatAllBut(0);
        // Two streams of three sealed extents and an open tail each.
        final List<long[]> extents = new ArrayList<>(); // {extentId, r0, r1, r2}
        for (int s = 0; s < 2; s++)
        {
            apply(HEADER + new CreateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).name("s" + s).encodedLength());
            for (int e = 0; e < 3; e++)
            {
                final StreamInfoResponseDecoder info = new StreamInfoResponseDecoder()
                    .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
                final long streamId = info.streamId();
                long tail = 0;
                for (final StreamInfoResponseDecoder.ExtentsDecoder x : info.extents())
                {
                    tail = x.extentId();
                }
                apply(HEADER + new AllocateExtentRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                    .correlationId(++correlationId).streamId(streamId).tailExtentId(tail).sealLength(100 + e)
                    .encodedLength());
            }
            final StreamInfoResponseDecoder info = new StreamInfoResponseDecoder()
                .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
            for (final StreamInfoResponseDecoder.ExtentsDecoder x : info.extents())
            {
                extents.add(new long[]{ x.extentId(), x.replica0(), x.replica1(), x.replica2() });
            }
        }
        // Node 1 dies: everyone else keeps heart-beating past the dead timeout.
        final int lost = 1;
        for (int i = 0; i < 12; i++)
        {
            timeMs += 1_000;
            heartbeatAllBut(lost);
            sm.onTimer(timeMs);
        }
        assertEquals(NodeState.DEAD, sm.nodeState(lost));
        final int taskCount = sm.taskCount();
        assertTrue(taskCount >= 3, "tasks for node 1's replicas: " + taskCount);

        // Only an ALIVE node claims; a node holds at most MAX_TASK_CLAIMS_PER_NODE claims.
        assertEquals(ManagerStatus.NO_SUCH_NODE, claim(lost, ManagerStateMachine.NULL_ID, 5_000).status());
        final List<Claim> held = new ArrayList<>();
        for (int i = 0; i < ManagerStateMachine.MAX_TASK_CLAIMS_PER_NODE; i++)
        {
            final Claim c = claim(2, ManagerStateMachine.NULL_ID, 5_000);
            assertEquals(ManagerStatus.OK, c.status());
            assertEquals(1, c.claimEpoch());
            assertEquals(lost, c.lostNodeId());
            held.add(c);
        }
        assertNotEquals(held.get(0).taskId(), held.get(1).taskId(), "claim-any picks another task");
        assertEquals(ManagerStatus.TOO_MANY_CLAIMS, claim(2, ManagerStateMachine.NULL_ID, 5_000).status());
        final Claim abandoned = held.stream().filter((c) -> c.kind() == TaskKind.RECOVER).findFirst()
            .orElseGet(() -> held.get(0));
        assertEquals(ManagerStatus.NO_SUCH_TASK, claim(3, abandoned.taskId(), 5_000).status(), "claimed by node 2");

        // Node 2 abandons its claims: after the lease, node 3 takes one over with a new epoch and fences node 2.
        timeMs += 5_001;
        heartbeatAllBut(lost);
        final Claim takeover = claim(3, abandoned.taskId(), 5_000);
        assertEquals(ManagerStatus.OK, takeover.status());
        assertEquals(2, takeover.claimEpoch());
        assertEquals(ManagerStatus.CLAIM_LOST, progress(2, abandoned, 10).status());
        assertEquals(ManagerStatus.CLAIM_LOST, complete(2, abandoned, abandoned.ownerRevision(), 4).status());

        // Progress extends the claim; claims survive a snapshot and restore.
        timeMs += 4_000;
        final Claim progressed = progress(3, takeover, 4096);
        assertEquals(ManagerStatus.OK, progressed.status());
        assertEquals(4096, progressed.progressBytes());
        assertEquals(timeMs + 5_000, progressed.claimExpiresAtMs());
        final String before = sm.canonicalDump();
        final ManagerStateMachine restored = new ManagerStateMachine();
        final List<byte[]> snapshot = new ArrayList<>();
        sm.takeSnapshot((buffer, offset, length) ->
        {
            final byte[] copy = new byte[length];
            buffer.getBytes(offset, copy);
            snapshot.add(copy);
        });
        restored.beginRestore();
        for (final byte[] message : snapshot)
        {
            restored.onSnapshotMessage(new UnsafeBuffer(message), 0, message.length);
        }
        assertFalse(restored.isRestoring());
        assertEquals(before, restored.canonicalDump());
        sm = restored;
        timeMs += 2_000; // past the first lease, within the extended one
        assertEquals(ManagerStatus.NO_SUCH_TASK, claim(4, takeover.taskId(), 5_000).status(), "still claimed");

        assertEquals(TaskKind.RECOVER, takeover.kind(), "the oldest tasks are of node 1's sealed extents");
        final long[] extent = extents.stream().filter((x) -> x[0] == takeover.extentId()).findFirst().orElseThrow();
        int newNode = 0;
        int existing = 0;
        for (int n = 2; n <= NODES; n++)
        {
            final boolean replica = extent[1] == n || extent[2] == n || extent[3] == n;
            newNode = newNode == 0 && !replica ? n : newNode;
            existing = existing == 0 && replica ? n : existing;
        }
        assertEquals(ManagerStatus.STALE_EXTENT,
            complete(3, progressed, progressed.ownerRevision() - 1, newNode).status(), "copy of an older revision");
        assertEquals(ManagerStatus.BAD_REQUEST, complete(3, progressed, progressed.ownerRevision(), existing).status(),
            "new replica already holds it");
        final long revisionBefore = sm.revision();
        final int tasksBefore = sm.taskCount();
        final long completeId = ++correlationId;
        final Claim done = complete(completeId, 3, progressed, progressed.ownerRevision(), newNode);
        assertEquals(ManagerStatus.OK, done.status());
        assertEquals(revisionBefore + 1, done.ownerRevision(), "the swap is a new owner revision");
        assertEquals(tasksBefore - 1, sm.taskCount());
        sm.verifyInvariants();
        final byte[] firstAnswer = answerBytes();
        final Claim retried = complete(completeId, 3, progressed, progressed.ownerRevision(), newNode);
        assertEquals(ManagerStatus.OK, retried.status());
        assertArrayEquals(firstAnswer, answerBytes(), "a retry is answered as the first time");
        assertEquals(revisionBefore + 1, sm.revision(), "and not applied again");
        assertEquals(ManagerStatus.NO_SUCH_TASK, progress(3, progressed, 1).status());
    }

    @Test
    void aNodeWhoseEveryDiskFailedLeavesTasksOnceAndDyingAddsNoMore()
    {
        for (int nodeId = 1; nodeId <= NODES; nodeId++)
        {
            apply(HEADER + new RegisterNodeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).nodeId(nodeId).diskCount(1).capacityBytes(1L << 40)
                .endpoint("127.0.0.1:" + (9000 + nodeId)).encodedLength());
        }
        heartbeatAllBut(0);
        for (int s = 0; s < 4; s++)
        {
            apply(HEADER + new CreateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).name("d" + s).encodedLength());
        }
        final int broken = 2;
        assertEquals(0, sm.taskCount());
        for (int i = 0; i < 3; i++)
        {
            timeMs += 1_000;
            heartbeatAllBut(broken);
            heartbeat(broken, DiskState.FAILED);
            sm.onTimer(timeMs);
        }
        assertEquals(NodeState.ALIVE, sm.nodeState(broken), "a node with failed disks still heartbeats");
        final int tasks = sm.taskCount();
        assertTrue(tasks >= 1, "a task per replica on the failed disk: " + tasks);
        assertEquals(ManagerStatus.OK, claim(1, ManagerStateMachine.NULL_ID, 5_000).status(), "a healthy node claims one");

        // Its disks serve again (restarted): the tasks are void. Failed again: they are back.
        timeMs += 1_000;
        heartbeat(broken, DiskState.OK);
        assertEquals(0, sm.taskCount(), "disks back: tasks voided");
        heartbeat(broken, DiskState.FAILED);
        assertEquals(tasks, sm.taskCount(), "failed again: the same tasks again");

        // Then it dies: no second task for the same replicas.
        for (int i = 0; i < 12; i++)
        {
            timeMs += 1_000;
            heartbeatAllBut(broken);
            sm.onTimer(timeMs);
        }
        assertEquals(NodeState.DEAD, sm.nodeState(broken));
        assertEquals(tasks, sm.taskCount(), "no duplicate tasks when a node with failed disks dies");
        sm.verifyInvariants();
    }

    private void heartbeat(final int nodeId, final DiskState state)
    {
        final NodeHeartbeatRequestEncoder encoder = new NodeHeartbeatRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).nodeId(nodeId);
        encoder.disksCount(1).next().diskId(0).capacityBytes(1L << 40).freeBytes(1L << 39).state(state);
        apply(HEADER + encoder.encodedLength());
    }

    private void heartbeatAllBut(final int skipNodeId)
    {
        for (int nodeId = 1; nodeId <= NODES; nodeId++)
        {
            if (nodeId == skipNodeId)
            {
                continue;
            }
            final NodeHeartbeatRequestEncoder encoder = new NodeHeartbeatRequestEncoder()
                .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).nodeId(nodeId);
            encoder.disksCount(1).next().diskId(0).capacityBytes(1L << 40).freeBytes(1L << 39).state(DiskState.OK);
            apply(HEADER + encoder.encodedLength());
        }
    }

    private Claim claim(final int nodeId, final long taskId, final long leaseMs)
    {
        apply(HEADER + new TaskClaimRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).nodeId(nodeId).taskId(taskId).leaseMs(leaseMs).encodedLength());
        return decodeClaim();
    }

    private Claim progress(final int nodeId, final Claim claim, final long bytes)
    {
        apply(HEADER + new TaskProgressRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).nodeId(nodeId).taskId(claim.taskId()).claimEpoch(claim.claimEpoch())
            .progressBytes(bytes).leaseMs(5_000).encodedLength());
        return decodeClaim();
    }

    private Claim complete(final int nodeId, final Claim claim, final long ownerRevision, final int newNodeId)
    {
        return complete(++correlationId, nodeId, claim, ownerRevision, newNodeId);
    }

    private Claim complete(
        final long corr, final int nodeId, final Claim claim, final long ownerRevision, final int newNodeId)
    {
        apply(HEADER + new TaskCompleteRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).nodeId(nodeId).taskId(claim.taskId()).claimEpoch(claim.claimEpoch())
            .ownerRevision(ownerRevision).newNodeId(newNodeId).encodedLength());
        return decodeClaim();
    }

    private void apply(final int length)
    {
        final int answer = sm.onCommand(SESSION, command, 0, length, timeMs, response, 0);
        assertTrue(answer > HEADER);
        sm.verifyInvariants();
    }

    private byte[] answerBytes()
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(response, 0);
        final TaskClaimResponseDecoder d = new TaskClaimResponseDecoder().wrapAndApplyHeader(response, 0, header);
        d.sbeSkip();
        final byte[] bytes = new byte[HEADER + d.encodedLength()];
        response.getBytes(0, bytes);
        return bytes;
    }

    private Claim decodeClaim()
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(response, 0);
        assertEquals(TaskClaimResponseDecoder.TEMPLATE_ID, header.templateId());
        final TaskClaimResponseDecoder d = new TaskClaimResponseDecoder().wrapAndApplyHeader(response, 0, header);
        d.correlationId();
        return new Claim(d.status(), d.taskId(), d.kind(), d.extentId(), d.lostNodeId(), d.sealedLength(),
            d.ownerRevision(), d.claimEpoch(), d.claimExpiresAtMs(), d.progressBytes());
    }
}
