package io.cairn.manager;

import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.LeaseGrantRequestEncoder;
import io.cairn.sbe.manager.LeaseKeepAliveRequestEncoder;
import io.cairn.sbe.manager.LeaseResponseDecoder;
import io.cairn.sbe.manager.LeaseRevokeRequestEncoder;
import io.cairn.sbe.manager.ListKind;
import io.cairn.sbe.manager.ListRequestEncoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.PartitionAssignRequestEncoder;
import io.cairn.sbe.manager.PartitionCreateRequestEncoder;
import io.cairn.sbe.manager.PartitionListResponseDecoder;
import io.cairn.sbe.manager.PartitionMergeRequestEncoder;
import io.cairn.sbe.manager.PartitionResponseDecoder;
import io.cairn.sbe.manager.PartitionSplitRequestEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.SessionEntryDecoder;
import io.cairn.sbe.manager.SessionRole;
import io.cairn.sbe.manager.SnapshotBeginDecoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The partition table in the state machine: create without overlap, split, merge and assign under compare-and-swap
 * on the version, the admin role required for every change (the role captured at session open), retries answered
 * as the first time, snapshot and restore (and reading a format-3 snapshot, whose sessions become clients).
 */
class PartitionTableTest
{
    private static final long ADMIN = 21;
    private static final long CLIENT = 22;
    private static final int HEADER = MessageHeaderEncoder.ENCODED_LENGTH;

    private final ManagerStateMachine sm = new ManagerStateMachine();
    private final UnsafeBuffer command = new UnsafeBuffer(new byte[4096]);
    private final UnsafeBuffer response = new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private long correlationId;

    private record Change(ManagerStatus status, long partitionId, long version, long newPartitionId, String message)
    {
    }

    PartitionTableTest()
    {
        sm.onSessionOpen(ADMIN, "admin".getBytes(StandardCharsets.UTF_8));
        sm.onSessionOpen(CLIENT, "client".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void createSplitMergeAssignWithVersionChecks()
    {
        final Change a = create(ADMIN, "", "m");
        assertEquals(ManagerStatus.OK, a.status(), a.message());
        final Change b = create(ADMIN, "m", "");
        assertEquals(ManagerStatus.OK, b.status(), b.message());
        assertEquals(ManagerStatus.RANGE_CONFLICT, create(ADMIN, "a", "b").status(), "inside [,m)");
        assertEquals(ManagerStatus.RANGE_CONFLICT, create(ADMIN, "z", "").status(), "inside [m,+inf)");
        assertEquals(ManagerStatus.RANGE_CONFLICT, create(ADMIN, "b", "a").status(), "empty range");
        assertEquals(2, sm.partitions().size());
        assertTrue(b.version() > a.version(), "versions are revisions");

        // Split [m, +inf) at t: CAS on the version.
        assertEquals(ManagerStatus.VERSION_MISMATCH, split(b.partitionId(), b.version() - 1, "t").status());
        assertEquals(ManagerStatus.RANGE_CONFLICT, split(b.partitionId(), b.version(), "m").status(), "at start");
        assertEquals(ManagerStatus.RANGE_CONFLICT, split(b.partitionId(), b.version(), "a").status(), "outside");
        final Change s = split(b.partitionId(), b.version(), "t");
        assertEquals(ManagerStatus.OK, s.status(), s.message());
        assertTrue(s.version() > b.version());
        final PartitionTable.Partition right = sm.partitions().get(s.newPartitionId());
        assertArrayEquals(bytes("t"), right.startKey());
        assertEquals(0, right.endKey().length);
        assertEquals(b.partitionId(), sm.partitions().lookup(bytes("n")).partitionId());
        assertEquals(s.newPartitionId(), sm.partitions().lookup(bytes("zzz")).partitionId());

        // Assign the left part to server 5 under an existing lease; a missing lease or stale version is refused.
        final long leaseId = grantLease();
        assertEquals(ManagerStatus.NO_SUCH_LEASE, assign(b.partitionId(), s.version(), 5, leaseId + 1000).status());
        assertEquals(ManagerStatus.BAD_REQUEST, assign(b.partitionId(), s.version(), 0, leaseId).status());
        final Change assigned = assign(b.partitionId(), s.version(), 5, leaseId);
        assertEquals(ManagerStatus.OK, assigned.status(), assigned.message());
        assertEquals(ManagerStatus.VERSION_MISMATCH, assign(b.partitionId(), s.version(), 6, leaseId).status(),
            "the assignment moved the version");
        assertEquals(5, sm.partitions().get(b.partitionId()).ownerId());

        // Merge: only adjacent partitions, left to right, both at their versions.
        final long rightVersion = right.version();
        assertEquals(ManagerStatus.RANGE_CONFLICT,
            merge(s.newPartitionId(), rightVersion, b.partitionId(), assigned.version()).status(), "wrong order");
        assertEquals(ManagerStatus.RANGE_CONFLICT,
            merge(a.partitionId(), a.version(), s.newPartitionId(), rightVersion).status(), "not adjacent");
        assertEquals(ManagerStatus.VERSION_MISMATCH,
            merge(b.partitionId(), s.version(), s.newPartitionId(), rightVersion).status());
        final Change merged = merge(b.partitionId(), assigned.version(), s.newPartitionId(), rightVersion);
        assertEquals(ManagerStatus.OK, merged.status(), merged.message());
        assertNull(sm.partitions().get(s.newPartitionId()));
        assertEquals(0, sm.partitions().get(b.partitionId()).endKey().length, "back to +inf");
        assertEquals(ManagerStatus.NO_SUCH_PARTITION,
            assign(s.newPartitionId(), rightVersion, 1, 0).status());
        sm.verifyInvariants();

        final List<String> listed = list();
        assertEquals(List.of(a.partitionId() + " [,m)", b.partitionId() + " [m,)"), listed);
    }

    @Test
    void anEndedOwnerLeaseUnassignsItsPartitions()
    {
        final Change left = create(ADMIN, "", "m");
        final Change right = create(ADMIN, "m", "");
        final long expiring = grantLease(); // granted at 1 s for 60 s
        final long kept = grantLease();
        final Change leftAssigned = assign(left.partitionId(), left.version(), 5, expiring);
        final Change rightAssigned = assign(right.partitionId(), right.version(), 6, kept);
        assertEquals(ManagerStatus.OK, leftAssigned.status(), leftAssigned.message());
        assertEquals(ManagerStatus.OK, rightAssigned.status(), rightAssigned.message());
        // Keep the second lease alive past the first one's expiry.
        apply(ADMIN, HEADER + new LeaseKeepAliveRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).leaseId(kept).encodedLength(), 30_000);
        final long before = sm.revision();

        sm.onTimer(61_000);

        final PartitionTable.Partition released = sm.partitions().get(left.partitionId());
        assertEquals(0, released.ownerId(), "the expired lease's partition is unassigned");
        assertEquals(0, released.ownerLeaseId());
        assertTrue(released.version() > before && released.version() <= sm.revision(), "a new version");
        assertEquals(ManagerStatus.VERSION_MISMATCH,
            assign(left.partitionId(), leftAssigned.version(), 5, kept).status(), "the old owner's CAS fails");
        final PartitionTable.Partition stillOwned = sm.partitions().get(right.partitionId());
        assertEquals(6, stillOwned.ownerId(), "a partition under a live lease keeps its owner");
        assertEquals(rightAssigned.version(), stillOwned.version());
        sm.verifyInvariants();

        // An explicit revoke releases too.
        apply(ADMIN, HEADER + new LeaseRevokeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).leaseId(kept).encodedLength(), 61_001);
        assertEquals(0, sm.partitions().get(right.partitionId()).ownerId(), "revoked lease's partition unassigned");
        assertTrue(sm.partitions().get(right.partitionId()).version() > rightAssigned.version());
        sm.verifyInvariants();
    }

    @Test
    void streamsMustExist()
    {
        for (int nodeId = 1; nodeId <= 3; nodeId++)
        {
            apply(ADMIN, HEADER + new RegisterNodeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).nodeId(nodeId).diskCount(1).capacityBytes(1L << 40)
                .endpoint("127.0.0.1:" + (9000 + nodeId)).encodedLength());
        }
        apply(ADMIN, HEADER + new CreateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).name("p-log").encodedLength());
        final long streamId = new StreamInfoResponseDecoder().wrapAndApplyHeader(response, 0, new MessageHeaderDecoder())
            .streamId();
        final int length = HEADER + new PartitionCreateRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).logStreamId(streamId).tableStreamId(streamId + 1000).metaStreamId(0)
            .startKey("").endKey("").encodedLength();
        assertEquals(ManagerStatus.NO_SUCH_STREAM, change(apply(ADMIN, length)).status());
        final int ok = HEADER + new PartitionCreateRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).logStreamId(streamId).tableStreamId(0).metaStreamId(0)
            .startKey("").endKey("").encodedLength();
        assertEquals(ManagerStatus.OK, change(apply(ADMIN, ok)).status());
        sm.verifyInvariants();
    }

    @Test
    void clientRoleIsRefusedAndRetriesAreAnsweredAsTheFirstTime()
    {
        final String before = sm.canonicalDump();
        final Change refused = create(CLIENT, "", "");
        assertEquals(ManagerStatus.UNAUTHORISED, refused.status());
        assertTrue(refused.message().contains("admin"), refused.message());
        assertEquals(ManagerStatus.UNAUTHORISED, create(99, "", "").status(), "a session never seen opening");
        assertEquals(before, sm.canonicalDump(), "refusals change nothing");
        assertEquals(SessionRole.ADMIN, sm.sessionRole(ADMIN));
        assertEquals(SessionRole.CLIENT, sm.sessionRole(CLIENT));

        // The client role still reads the table.
        final Change created = create(ADMIN, "k", "");
        assertEquals(ManagerStatus.OK, created.status());
        final long createdWith = correlationId;
        apply(CLIENT, HEADER + new ListRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).kind(ListKind.PARTITIONS).fromId(0).maxCount(0).encodedLength());
        assertEquals(PartitionListResponseDecoder.TEMPLATE_ID, new MessageHeaderDecoder().wrap(response, 0).templateId());

        // A retry of the create (same correlationId) is answered byte for byte and not applied again.
        final long revision = sm.revision();
        final int length = HEADER + new PartitionCreateRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(createdWith).logStreamId(0).tableStreamId(0).metaStreamId(0).startKey("k").endKey("")
            .encodedLength();
        final Change retried = change(apply(ADMIN, length));
        assertEquals(created, retried);
        assertEquals(revision, sm.revision());
        assertEquals(1, sm.partitions().size());
    }

    @Test
    void snapshotRestoresPartitionsAndRoles()
    {
        final Change a = create(ADMIN, "", "g");
        create(ADMIN, "g", "");
        split(a.partitionId(), a.version(), "c");
        final ManagerStateMachine restored = restore(snapshot(sm), false);
        assertEquals(sm.canonicalDump(), restored.canonicalDump());
        assertEquals(SessionRole.ADMIN, restored.sessionRole(ADMIN));
        assertEquals(SessionRole.CLIENT, restored.sessionRole(CLIENT));
        assertEquals(3, restored.partitions().size());
    }

    @Test
    void formatThreeSnapshotIsReadWithSessionsAsClients()
    {
        // Format 3 had no partitions and no session role: rewrite this state's SessionEntry to its version-3 layout.
        final List<byte[]> messages = snapshot(sm);
        final ManagerStateMachine restored = restore(messages, true);
        assertEquals(SessionRole.CLIENT, restored.sessionRole(ADMIN), "no role before format 4: least privilege");
        assertEquals(0, restored.partitions().size());
        restored.verifyInvariants();
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static List<byte[]> snapshot(final ManagerStateMachine machine)
    {
        final List<byte[]> messages = new ArrayList<>();
        machine.takeSnapshot((buffer, offset, length) ->
        {
            final byte[] copy = new byte[length];
            buffer.getBytes(offset, copy);
            messages.add(copy);
        });
        return messages;
    }

    private static ManagerStateMachine restore(final List<byte[]> messages, final boolean asFormatThree)
    {
        final ManagerStateMachine restored = new ManagerStateMachine();
        restored.beginRestore();
        boolean done = false;
        for (final byte[] original : messages)
        {
            byte[] message = original;
            final UnsafeBuffer buffer = new UnsafeBuffer(message);
            final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 0);
            if (asFormatThree && header.templateId() == SnapshotBeginDecoder.TEMPLATE_ID)
            {
                buffer.putInt(HEADER, 3); // formatVersion is the first field
            }
            if (asFormatThree && header.templateId() == SessionEntryDecoder.TEMPLATE_ID)
            {
                final int oldBlockLength = 24; // clusterSessionId, lastCorrelationId, lastStreamId
                message = Arrays.copyOf(original, HEADER + oldBlockLength);
                new io.cairn.sbe.manager.MessageHeaderEncoder().wrap(new UnsafeBuffer(message), 0)
                    .blockLength(oldBlockLength).templateId(SessionEntryDecoder.TEMPLATE_ID)
                    .schemaId(SessionEntryDecoder.SCHEMA_ID).version(3);
            }
            done = restored.onSnapshotMessage(new UnsafeBuffer(message), 0, message.length);
        }
        assertTrue(done, "SnapshotEnd reached");
        return restored;
    }

    private static byte[] bytes(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private int apply(final long sessionId, final int length)
    {
        return apply(sessionId, length, 1_000);
    }

    private int apply(final long sessionId, final int length, final long clusterTimeMs)
    {
        final int answer = sm.onCommand(sessionId, command, 0, length, clusterTimeMs, response, 0);
        sm.verifyInvariants();
        return answer;
    }

    private Change change(final int length)
    {
        final PartitionResponseDecoder d = new PartitionResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        return new Change(d.status(), d.partitionId(), d.version(), d.newPartitionId(), d.errorMessage());
    }

    private Change create(final long sessionId, final String startKey, final String endKey)
    {
        return change(apply(sessionId, HEADER + new PartitionCreateRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).logStreamId(0)
            .tableStreamId(0).metaStreamId(0).startKey(startKey).endKey(endKey).encodedLength()));
    }

    private Change split(final long partitionId, final long expectedVersion, final String splitKey)
    {
        return change(apply(ADMIN, HEADER + new PartitionSplitRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).partitionId(partitionId)
            .expectedVersion(expectedVersion).logStreamId(0).tableStreamId(0).metaStreamId(0).splitKey(splitKey)
            .encodedLength()));
    }

    private Change merge(final long left, final long leftVersion, final long right, final long rightVersion)
    {
        return change(apply(ADMIN, HEADER + new PartitionMergeRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).leftPartitionId(left)
            .leftExpectedVersion(leftVersion).rightPartitionId(right).rightExpectedVersion(rightVersion)
            .encodedLength()));
    }

    private Change assign(final long partitionId, final long expectedVersion, final int ownerId, final long leaseId)
    {
        return change(apply(ADMIN, HEADER + new PartitionAssignRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).partitionId(partitionId)
            .expectedVersion(expectedVersion).ownerId(ownerId).ownerLeaseId(leaseId).encodedLength()));
    }

    private long grantLease()
    {
        apply(ADMIN, HEADER + new LeaseGrantRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).ttlMs(60_000).encodedLength());
        final LeaseResponseDecoder d = new LeaseResponseDecoder().wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        assertEquals(ManagerStatus.OK, d.status());
        return d.leaseId();
    }

    private List<String> list()
    {
        apply(CLIENT, HEADER + new ListRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(++correlationId).kind(ListKind.PARTITIONS).fromId(0).maxCount(0).encodedLength());
        final PartitionListResponseDecoder d = new PartitionListResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        d.correlationId();
        assertEquals(-1, d.nextFromId());
        final List<String> out = new ArrayList<>();
        for (final PartitionListResponseDecoder.PartitionsDecoder p : d.partitions())
        {
            final long id = p.partitionId();
            out.add(id + " [" + p.startKey() + "," + p.endKey() + ")");
        }
        return out;
    }
}
