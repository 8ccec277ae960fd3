package io.cairn.manager;

import io.cairn.sbe.manager.AllocateExtentRequestEncoder;
import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.DiskState;
import io.cairn.sbe.manager.ExtentDeletedRequestEncoder;
import io.cairn.sbe.manager.ExtentReconcileRequestEncoder;
import io.cairn.sbe.manager.ExtentReconcileResponseDecoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.NodeHeartbeatRequestEncoder;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.manager.OpenStreamRequestEncoder;
import io.cairn.sbe.manager.PunchHoleRequestEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import io.cairn.sbe.manager.TaskClaimRequestEncoder;
import io.cairn.sbe.manager.TaskClaimResponseDecoder;
import io.cairn.sbe.manager.TaskReleaseRequestEncoder;
import io.cairn.sbe.manager.TruncateStreamRequestEncoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The extent lifecycle in the state machine: TruncateStream and PunchHole drop references (stale owner and the tail
 * refused), a dropped extent becomes garbage with its replicas until each confirmed its delete, ExtentReconcile
 * answers which files a node must delete (never a live replica, never an id above the high-water mark), garbage
 * survives a snapshot, and TaskRelease frees a claim at once.
 */
class ExtentLifecycleTest
{
    private static final long SESSION = 21;
    private static final int HEADER = MessageHeaderEncoder.ENCODED_LENGTH;
    private static final int NODES = 4;

    private ManagerStateMachine sm = new ManagerStateMachine();
    private final UnsafeBuffer command = new UnsafeBuffer(new byte[8192]);
    private final UnsafeBuffer response = new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private long correlationId;
    private long timeMs = 1_000;

    private record Info(ManagerStatus status, long streamId, long ownerRevision, List<long[]> extents, String error)
    {
        long[] ids()
        {
            return extents.stream().mapToLong((e) -> e[0]).toArray();
        }
    }

    @Test
    void truncateAndPunchDropReferencesAndLeaveGarbageUntilEveryReplicaConfirms()
    {
        final Info stream = streamWithSealedExtents("s", 4); // e0..e3 sealed, e4 the tail
        final long[] ids = stream.ids();
        assertEquals(5, ids.length);
        final Info opened = open(stream.streamId());
        final long owner = opened.ownerRevision();

        // A stale owner is refused and changes nothing.
        final Info stale = truncate(stream.streamId(), owner - 1, ids[2]);
        assertEquals(ManagerStatus.LOCKED_BY_OTHER, stale.status());
        assertEquals(5, stale.extents().size());
        // The tail cannot be punched out; an extent of another stream is named in the error.
        final Info tail = punch(stream.streamId(), owner, ids[4]);
        assertEquals(ManagerStatus.BAD_REQUEST, tail.status());
        assertTrue(tail.error().contains("tail"), tail.error());
        final Info foreign = truncate(stream.streamId(), owner, 999_999);
        assertEquals(ManagerStatus.BAD_REQUEST, foreign.status());
        assertTrue(foreign.error().contains("firstExtentIdToKeep 999999"), foreign.error());
        assertEquals(0, sm.garbageCount());

        // Truncate to e2: e0 and e1 become garbage with their replicas.
        final Info truncated = truncate(stream.streamId(), owner, ids[2]);
        assertEquals(ManagerStatus.OK, truncated.status(), truncated.error());
        assertArrayEquals(new long[]{ ids[2], ids[3], ids[4] }, truncated.ids());
        assertEquals(2, sm.garbageCount());
        final int[] pending = sm.garbagePending(ids[0]);
        assertArrayEquals(replicas(stream, 0), pending);
        assertEquals(3, sm.extentCount());
        // Truncating to the first extent is a no-op; punching e3 (sealed, not the tail) drops it.
        assertEquals(ManagerStatus.OK, truncate(stream.streamId(), owner, ids[2]).status());
        final Info punched = punch(stream.streamId(), owner, ids[3]);
        assertEquals(ManagerStatus.OK, punched.status(), punched.error());
        assertArrayEquals(new long[]{ ids[2], ids[4] }, punched.ids());
        assertEquals(3, sm.garbageCount());

        // Each replica learns its deletes; a confirmation leaves only that node's entry.
        final int node = pending[0];
        final TreeSet<Long> toDelete = reconcile(node);
        assertTrue(toDelete.contains(ids[0]), "pending garbage listed: " + toDelete);
        deleted(node, ids[0]);
        final int[] after = sm.garbagePending(ids[0]);
        assertEquals(0, after[0]);
        assertTrue(!reconcile(node).contains(ids[0]), "confirmed: not listed again");
        deleted(node, ids[0]); // idempotent
        deleted(pending[1], ids[0]);
        deleted(pending[2], ids[0]);
        assertNull(sm.garbagePending(ids[0]), "every replica confirmed: tombstone removed");
        assertEquals(2, sm.garbageCount());
    }

    @Test
    void reconcileDeletesOnlyWhatTheManagerDoesNotPlaceOnTheNode()
    {
        final Info stream = streamWithSealedExtents("r", 2);
        final long[] ids = stream.ids();
        final int holder = (int)stream.extents().get(0)[1];
        int stranger = 0;
        for (int nodeId = 1; nodeId <= NODES && stranger == 0; nodeId++)
        {
            final int n = nodeId;
            stranger = java.util.Arrays.stream(replicas(stream, 0)).noneMatch((r) -> r == n) ? n : 0;
        }
        assertTrue(stranger > 0);
        final long highWater = sm.nextId();

        // A live replica is kept; the same extent on a node it is not placed on, an unknown id below the high-water
        // mark and a garbage id are deleted; an id at or above the high-water mark is kept (a create in flight).
        assertTrue(reconcile(holder, ids[0]).isEmpty(), "a live replica is never deleted");
        assertEquals(new TreeSet<>(List.of(ids[0])), reconcile(stranger, ids[0]));
        final long unknownBelow = highWater - 1;
        assertTrue(sm.garbagePending(unknownBelow) == null);
        final TreeSet<Long> fates = reconcile(holder, ids[0], highWater, highWater + 5);
        assertTrue(fates.isEmpty(), "ids at or above the high-water mark are kept: " + fates);

        // A node that was down when the delete happened learns it at its first reconcile.
        final Info opened = open(stream.streamId());
        truncate(stream.streamId(), opened.ownerRevision(), ids[1]);
        assertEquals(new TreeSet<>(List.of(ids[0])), reconcile(holder, ids[0]));
        assertEquals(new TreeSet<>(List.of(ids[0])), reconcile(holder), "pending garbage without the file list");

        // Unregistered nodes and oversized lists are refused, naming the problem.
        final ExtentReconcileRequestEncoder none = new ExtentReconcileRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).nodeId(77);
        none.extentsCount(0);
        apply(HEADER + none.encodedLength());
        assertEquals(ManagerStatus.NO_SUCH_NODE, reconcileStatus());
        final ExtentReconcileRequestEncoder big = new ExtentReconcileRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).nodeId(holder);
        final ExtentReconcileRequestEncoder.ExtentsEncoder group =
            big.extentsCount(ManagerStateMachine.MAX_RECONCILE_IDS + 1);
        for (int i = 0; i <= ManagerStateMachine.MAX_RECONCILE_IDS; i++)
        {
            group.next().extentId(i + 1);
        }
        apply(HEADER + big.encodedLength());
        assertEquals(ManagerStatus.BAD_REQUEST, reconcileStatus());
    }

    @Test
    void garbageSurvivesSnapshotAndRestore()
    {
        final Info stream = streamWithSealedExtents("g", 3);
        final long[] ids = stream.ids();
        final Info opened = open(stream.streamId());
        truncate(stream.streamId(), opened.ownerRevision(), ids[2]);
        final int[] pending = sm.garbagePending(ids[0]);
        deleted(pending[1], ids[0]);

        final List<byte[]> messages = new ArrayList<>();
        sm.takeSnapshot((buffer, offset, length) ->
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            messages.add(bytes);
        });
        final ManagerStateMachine restored = new ManagerStateMachine();
        restored.beginRestore();
        boolean done = false;
        for (final byte[] message : messages)
        {
            done = restored.onSnapshotMessage(new UnsafeBuffer(message), 0, message.length);
        }
        assertTrue(done);
        restored.verifyInvariants();
        assertEquals(2, restored.garbageCount());
        assertArrayEquals(sm.garbagePending(ids[0]), restored.garbagePending(ids[0]));
        assertEquals(0, restored.garbagePending(ids[0])[1]);
        assertArrayEquals(sm.garbagePending(ids[1]), restored.garbagePending(ids[1]));
        assertEquals(sm.nextId(), restored.nextId());
    }

    @Test
    void aFormatFourSnapshotWithoutGarbageStillLoads()
    {
        final Info stream = streamWithSealedExtents("v4", 1);
        final List<byte[]> messages = new ArrayList<>();
        sm.takeSnapshot((buffer, offset, length) ->
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            messages.add(bytes);
        });
        // The previous format: the same messages with formatVersion 4 (it had no garbage to write).
        final UnsafeBuffer begin = new UnsafeBuffer(messages.get(0));
        new io.cairn.sbe.manager.SnapshotBeginEncoder().wrap(begin, HEADER).formatVersion(4);
        final ManagerStateMachine restored = new ManagerStateMachine();
        restored.beginRestore();
        boolean done = false;
        for (final byte[] message : messages)
        {
            done = restored.onSnapshotMessage(new UnsafeBuffer(message), 0, message.length);
        }
        assertTrue(done);
        assertEquals(0, restored.garbageCount());
        assertEquals(sm.canonicalDump(), restored.canonicalDump());
        assertEquals(2, stream.extents().size());
    }

    @Test
    void droppingAnExtentVoidsItsTasksAndAReleasedClaimIsClaimableAtOnce()
    {
        final Info stream = streamWithSealedExtents("t", 3);
        final long[] ids = stream.ids();
        final int lost = (int)stream.extents().get(0)[1];
        for (int i = 0; i < 12; i++)
        {
            timeMs += 1_000;
            heartbeatAllBut(lost);
            sm.onTimer(timeMs);
        }
        assertEquals(NodeState.DEAD, sm.nodeState(lost));
        final int tasks = sm.taskCount();
        assertTrue(tasks >= 1);

        // A claimer releases its claim: another node claims the same task at once, with a newer epoch.
        int claimer = lost == 1 ? 2 : 1;
        long[] claim = claim(claimer, ManagerStateMachine.NULL_ID);
        assertEquals(ManagerStatus.OK.value(), claim[0]);
        final long taskId = claim[1];
        int other = 1;
        while (other == lost || other == claimer)
        {
            other++;
        }
        assertEquals(ManagerStatus.NO_SUCH_TASK.value(), claim(other, taskId)[0], "still claimed");
        assertEquals(ManagerStatus.CLAIM_LOST.value(), release(other, taskId, claim[2])[0], "only the claimer");
        assertEquals(ManagerStatus.OK.value(), release(claimer, taskId, claim[2])[0]);
        final long[] taken = claim(other, taskId);
        assertEquals(ManagerStatus.OK.value(), taken[0], "released: claimable before the lease ran out");
        assertEquals(claim[2] + 1, taken[2], "a new epoch fences the old claimer");

        // Truncating every sealed extent drops their tasks with them.
        final Info opened = open(stream.streamId());
        truncate(stream.streamId(), opened.ownerRevision(), ids[ids.length - 1]);
        assertTrue(sm.taskCount() < tasks, "tasks of dropped extents are void: " + sm.taskCount());
    }

    // ---------------------------------------------------------------------------------------------------------------

    private Info streamWithSealedExtents(final String name, final int sealed)
    {
        if (sm.nodeCount() == 0)
        {
            for (int nodeId = 1; nodeId <= NODES; nodeId++)
            {
                apply(HEADER + new RegisterNodeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                    .correlationId(++correlationId).nodeId(nodeId).diskCount(1).capacityBytes(1L << 40)
                    .endpoint("127.0.0.1:" + (9000 + nodeId)).encodedLength());
            }
            heartbeatAllBut(0);
        }
        apply(HEADER + new CreateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).name(name).encodedLength());
        Info info = decodeInfo();
        for (int e = 0; e < sealed; e++)
        {
            final long[] tail = info.extents().get(info.extents().size() - 1);
            apply(HEADER + new AllocateExtentRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).streamId(info.streamId()).tailExtentId(tail[0]).sealLength(4096 + e)
                .ownerRevision(0).encodedLength());
            info = decodeInfo();
        }
        return info;
    }

    private static int[] replicas(final Info info, final int index)
    {
        final long[] e = info.extents().get(index);
        return new int[]{ (int)e[1], (int)e[2], (int)e[3] };
    }

    private Info open(final long streamId)
    {
        apply(HEADER + new OpenStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).streamId(streamId).encodedLength());
        return decodeInfo();
    }

    private Info truncate(final long streamId, final long ownerRevision, final long keepFrom)
    {
        apply(HEADER + new TruncateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).streamId(streamId).ownerRevision(ownerRevision)
            .firstExtentIdToKeep(keepFrom).encodedLength());
        return decodeInfo();
    }

    private Info punch(final long streamId, final long ownerRevision, final long extentId)
    {
        apply(HEADER + new PunchHoleRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).streamId(streamId).ownerRevision(ownerRevision).extentId(extentId)
            .encodedLength());
        return decodeInfo();
    }

    private TreeSet<Long> reconcile(final int nodeId, final long... held)
    {
        final ExtentReconcileRequestEncoder encoder = new ExtentReconcileRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).nodeId(nodeId);
        final ExtentReconcileRequestEncoder.ExtentsEncoder group = encoder.extentsCount(held.length);
        for (final long id : held)
        {
            group.next().extentId(id);
        }
        apply(HEADER + encoder.encodedLength());
        final ExtentReconcileResponseDecoder d = new ExtentReconcileResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        d.correlationId();
        assertEquals(ManagerStatus.OK, d.status());
        assertEquals(sm.nextId(), d.nextId());
        final TreeSet<Long> ids = new TreeSet<>();
        for (final ExtentReconcileResponseDecoder.DeletesDecoder x : d.deletes())
        {
            ids.add(x.extentId());
        }
        return ids;
    }

    private ManagerStatus reconcileStatus()
    {
        final ExtentReconcileResponseDecoder d = new ExtentReconcileResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        d.correlationId();
        final ManagerStatus status = d.status();
        d.deletes().forEach((x) -> {});
        assertTrue(!d.errorMessage().isEmpty());
        return status;
    }

    private void deleted(final int nodeId, final long... ids)
    {
        final ExtentDeletedRequestEncoder encoder = new ExtentDeletedRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).nodeId(nodeId);
        final ExtentDeletedRequestEncoder.ExtentsEncoder group = encoder.extentsCount(ids.length);
        for (final long id : ids)
        {
            group.next().extentId(id);
        }
        apply(HEADER + encoder.encodedLength());
        final ExtentReconcileResponseDecoder d = new ExtentReconcileResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        d.correlationId();
        assertEquals(ManagerStatus.OK, d.status());
    }

    /** @return {status, taskId, claimEpoch}. */
    private long[] claim(final int nodeId, final long taskId)
    {
        apply(HEADER + new TaskClaimRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).nodeId(nodeId).taskId(taskId).leaseMs(60_000).encodedLength());
        return decodeClaim();
    }

    private long[] release(final int nodeId, final long taskId, final long epoch)
    {
        apply(HEADER + new TaskReleaseRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).nodeId(nodeId).taskId(taskId).claimEpoch(epoch).encodedLength());
        return decodeClaim();
    }

    private long[] decodeClaim()
    {
        final TaskClaimResponseDecoder d = new TaskClaimResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        d.correlationId();
        return new long[]{ d.status().value(), d.taskId(), d.claimEpoch() };
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

    private Info decodeInfo()
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(response, 0);
        assertEquals(StreamInfoResponseDecoder.TEMPLATE_ID, header.templateId());
        final StreamInfoResponseDecoder d = new StreamInfoResponseDecoder().wrapAndApplyHeader(response, 0, header);
        d.correlationId();
        final ManagerStatus status = d.status();
        final long streamId = d.streamId();
        final long ownerRevision = d.ownerRevision();
        final List<long[]> extents = new ArrayList<>();
        for (final StreamInfoResponseDecoder.ExtentsDecoder x : d.extents())
        {
            extents.add(new long[]{ x.extentId(), x.replica0(), x.replica1(), x.replica2() });
        }
        d.nodes().forEach((n) -> n.sbeSkip());
        d.name();
        return new Info(status, streamId, ownerRevision, extents, d.errorMessage());
    }

    private void apply(final int length)
    {
        final int answer = sm.onCommand(SESSION, command, 0, length, timeMs, response, 0);
        assertTrue(answer > HEADER);
        sm.verifyInvariants();
        assertNotNull(response);
    }
}
