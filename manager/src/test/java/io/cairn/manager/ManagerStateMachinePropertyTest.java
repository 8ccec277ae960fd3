package io.cairn.manager;

import io.cairn.sbe.manager.TruncateStreamRequestEncoder;
import io.cairn.sbe.manager.PunchHoleRequestEncoder;
import io.cairn.sbe.manager.ExtentReconcileRequestEncoder;
import io.cairn.sbe.manager.ExtentReconcileResponseDecoder;
import io.cairn.sbe.manager.ExtentDeletedRequestEncoder;
import io.cairn.sbe.manager.AllocateExtentRequestEncoder;
import io.cairn.sbe.manager.CompareResult;
import io.cairn.sbe.manager.CompareTarget;
import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.DiskState;
import io.cairn.sbe.manager.KvDeleteRequestEncoder;
import io.cairn.sbe.manager.KvOpType;
import io.cairn.sbe.manager.KvPutRequestEncoder;
import io.cairn.sbe.manager.KvRangeRequestEncoder;
import io.cairn.sbe.manager.KvResponseDecoder;
import io.cairn.sbe.manager.KvTxnRequestEncoder;
import io.cairn.sbe.manager.LeaseGrantRequestEncoder;
import io.cairn.sbe.manager.LeaseKeepAliveRequestEncoder;
import io.cairn.sbe.manager.LeaseResponseDecoder;
import io.cairn.sbe.manager.LeaseRevokeRequestEncoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.NodeHeartbeatRequestEncoder;
import io.cairn.sbe.manager.NodeState;
import io.cairn.sbe.manager.PartitionAssignRequestEncoder;
import io.cairn.sbe.manager.PartitionCreateRequestEncoder;
import io.cairn.sbe.manager.PartitionMergeRequestEncoder;
import io.cairn.sbe.manager.PartitionResponseDecoder;
import io.cairn.sbe.manager.PartitionSplitRequestEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import io.cairn.sbe.manager.WatchCreateRequestEncoder;
import io.cairn.sbe.manager.WatchEventDecoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The state machine driven directly (no Aeron) by a seeded generator of every kind of command, timer events and
 * retries. After every step: all invariants ({@link ManagerStateMachine#verifyInvariants()}: distinct replicas,
 * refcounts, lease/key cross references, ...), the key/value space equals a simple model, revisions only grow and
 * every write's revision is strictly above the previous one, no key outlives its lease, new replicas are only on
 * alive nodes in distinct failure domains when enough exist, and a watch on everything saw every change in order.
 * Every few hundred steps the state is snapshotted and restored into a fresh machine, which must dump identically
 * and then behave identically on the rest of the history. Partition table commands (create, split, merge, assign)
 * from two admin sessions and one client session are decided as a model of the table says (overlaps, adjacency,
 * compare-and-swap on versions, the client role refused); the table then equals the model, its ranges are disjoint
 * and every change's version is strictly above every earlier revision; when an owner lease ends (revoke or expiry)
 * its partitions become unassigned at one new revision. A failure names its seed.
 */
class ManagerStateMachinePropertyTest
{
    private static final int HEADER = MessageHeaderEncoder.ENCODED_LENGTH;
    private static final int STEPS = 4_000;
    private static final String[] KEYS = { "a", "a/1", "a/2", "b", "b/x", "c" };
    private static final String[] DOMAINS = { "rack-1", "rack-1", "rack-2", "rack-2", "rack-3", "" };
    private static final long WATCH_SESSION = 99;
    /** Sessions 1 and 2 are admins, 3 a client: partition table changes from 3 are refused. */
    private static final long CLIENT_SESSION = 3;
    private static final String[] PARTITION_KEYS = { "b", "d", "f", "h", "k", "m", "p", "t" };

    private final UnsafeBuffer command = new UnsafeBuffer(new byte[64 * 1024]);
    private final UnsafeBuffer response = new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();

    @Test
    void randomHistoriesKeepInvariantsAndRestoreIdentically()
    {
        for (final long seed : new long[]{ 1, 2, 3, 0xCA1FL, 0xBEEFL })
        {
            try
            {
                run(seed);
            }
            catch (final AssertionError | RuntimeException ex)
            {
                throw new AssertionError("seed " + seed + ": " + ex.getMessage(), ex);
            }
        }
    }

    /** What the test believes the key/value space holds. */
    private static final class Model
    {
        final TreeMap<String, byte[]> values = new TreeMap<>();
        final Map<String, Long> leaseOf = new HashMap<>();
        final TreeMap<Long, Long> leaseExpiry = new TreeMap<>();
        final Map<String, Long> versions = new HashMap<>();

        void put(final String key, final byte[] value, final long leaseId)
        {
            values.put(key, value);
            leaseOf.put(key, leaseId);
            versions.merge(key, 1L, Long::sum);
        }

        void delete(final String key)
        {
            values.remove(key);
            leaseOf.remove(key);
            versions.remove(key);
        }

        void deletePrefix(final String prefix)
        {
            for (final String key : new ArrayList<>(values.keySet()))
            {
                if (key.startsWith(prefix))
                {
                    delete(key);
                }
            }
        }

        void revoke(final long leaseId)
        {
            leaseExpiry.remove(leaseId);
            for (final String key : new ArrayList<>(values.keySet()))
            {
                if (leaseOf.get(key) == leaseId)
                {
                    delete(key);
                }
            }
        }
    }

    private ManagerStateMachine sm;
    private ManagerStateMachine restored;
    private Model model;
    private long timeMs;
    private long lastRevision;
    private long watchedRevision;
    private final List<String> watchedKeys = new ArrayList<>();
    private final Map<Long, Long> correlationBySession = new HashMap<>();
    private final Set<Long> streams = new HashSet<>();
    private int expiredLeases;
    private int releasedPartitions;
    private int maxTasks;
    private int maxGarbage;
    private int garbageCleared;
    private int lastGarbageCount;
    private int placements;
    private int casSucceeded;
    private int casFailed;

    /** A partition as the model believes it: [start, end), end "" = +infinity. */
    private record ModelPartition(long id, String start, String end, long version, int owner, long lease)
    {
        boolean contains(final String key)
        {
            return key.compareTo(start) >= 0 && (end.isEmpty() || key.compareTo(end) < 0);
        }
    }

    private final TreeMap<Long, ModelPartition> partitionModel = new TreeMap<>();
    private final Map<ManagerStatus, Integer> partitionOutcomes = new HashMap<>();

    private void run(final long seed)
    {
        final Random random = new Random(seed);
        sm = new ManagerStateMachine(300, 900);
        restored = null;
        model = new Model();
        timeMs = 1_000;
        lastRevision = 0;
        watchedRevision = 0;
        watchedKeys.clear();
        correlationBySession.clear();
        streams.clear();
        lastCommand = null;
        expiredLeases = 0;
        releasedPartitions = 0;
        maxTasks = 0;
        maxGarbage = 0;
        garbageCleared = 0;
        lastGarbageCount = 0;
        placements = 0;
        casSucceeded = 0;
        casFailed = 0;
        partitionModel.clear();
        partitionOutcomes.clear();
        sm.onSessionOpen(1, "admin".getBytes(StandardCharsets.UTF_8));
        sm.onSessionOpen(2, "admin".getBytes(StandardCharsets.UTF_8));
        sm.onSessionOpen(CLIENT_SESSION, "client".getBytes(StandardCharsets.UTF_8));
        sm.watchSink((sessionId, buffer, offset, length) -> onWatchEvent(sessionId, buffer, offset));
        createWatch();

        for (int step = 0; step < STEPS; step++)
        {
            timeMs += random.nextInt(40);
            fireTimerIfDue();
            final long session = 1 + random.nextInt(3);
            final int kind = random.nextInt(100);
            if (kind < 25)
            {
                put(session, random);
            }
            else if (kind < 33)
            {
                delete(session, random);
            }
            else if (kind < 43)
            {
                txn(session, random);
            }
            else if (kind < 50)
            {
                range(session, random);
            }
            else if (kind < 58)
            {
                leaseCommand(session, random);
            }
            else if (kind < 75)
            {
                nodeCommand(session, random);
            }
            else if (kind < 85)
            {
                streamCommand(session, random);
            }
            else if (kind < 92)
            {
                retryLast(session);
            }
            else
            {
                timeMs += random.nextInt(1_500); // long pauses let leases expire and nodes go suspect or dead
                fireTimerIfDue();
            }
            if (random.nextInt(20) == 0)
            {
                partitionCommand(1 + random.nextInt(3), random);
            }
            check();
            if (step % 500 == 250)
            {
                snapshotAndRestore();
            }
            maxTasks = Math.max(maxTasks, sm.taskCount());
            final int garbage = sm.garbageCount();
            garbageCleared += garbage < lastGarbageCount ? 1 : 0;
            lastGarbageCount = garbage;
            maxGarbage = Math.max(maxGarbage, garbage);
        }
        // The generator must reach the interesting paths, or the checks above prove little.
        assertTrue(expiredLeases > 0, "some leases expired: " + expiredLeases);
        assertTrue(releasedPartitions > 0, "some owner leases ended holding partitions: " + releasedPartitions);
        assertTrue(maxTasks > 0, "some node died holding replicas: " + maxTasks);
        assertTrue(maxGarbage > 0 && garbageCleared > 0, "extents dropped and their tombstones confirmed: " +
            maxGarbage + "/" + garbageCleared);
        assertTrue(placements > 10, "extents were placed: " + placements);
        assertTrue(casSucceeded > 0 && casFailed > 0, "CAS both ways: " + casSucceeded + "/" + casFailed);
        for (final ManagerStatus status : new ManagerStatus[]{ ManagerStatus.OK, ManagerStatus.UNAUTHORISED,
            ManagerStatus.VERSION_MISMATCH, ManagerStatus.RANGE_CONFLICT, ManagerStatus.NO_SUCH_PARTITION })
        {
            assertTrue(partitionOutcomes.getOrDefault(status, 0) > 0, "partition outcomes " + partitionOutcomes);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Commands
    // ---------------------------------------------------------------------------------------------------------------

    private long nextCorrelation(final long session)
    {
        return correlationBySession.merge(session, 1L, Long::sum);
    }

    private byte[] lastCommand;
    private byte[] lastAnswer;
    private long lastSession;

    private int apply(final long session, final int length)
    {
        lastCommand = new byte[length];
        command.getBytes(0, lastCommand);
        lastSession = session;
        final int answer = sm.onCommand(session, command, 0, length, timeMs, response, 0);
        if (restored != null)
        {
            final UnsafeBuffer other = new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
            final int otherLength = restored.onCommand(session, command, 0, length, timeMs, other, 0);
            assertEquals(answer, otherLength, "restored machine answers alike");
            assertTrue(response.compareTo(other) == 0 || bytesEqual(response, other, answer),
                "restored machine answers the same bytes");
        }
        headerDecoder.wrap(response, 0);
        lastAnswer = new byte[answer];
        response.getBytes(0, lastAnswer);
        return answer;
    }

    private static boolean bytesEqual(final UnsafeBuffer a, final UnsafeBuffer b, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            if (a.getByte(i) != b.getByte(i))
            {
                return false;
            }
        }
        return true;
    }

    private void put(final long session, final Random random)
    {
        final String key = KEYS[random.nextInt(KEYS.length)];
        final byte[] value = ("v" + random.nextInt(1000)).getBytes(StandardCharsets.UTF_8);
        long leaseId = 0;
        if (random.nextInt(3) == 0 && !model.leaseExpiry.isEmpty())
        {
            leaseId = random.nextInt(4) == 0 ? 123_456_789 : model.leaseExpiry.firstKey();
        }
        final int length = HEADER + new KvPutRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(nextCorrelation(session)).leaseId(leaseId).key(key).putValue(value, 0, value.length)
            .encodedLength();
        apply(session, length);
        final KvResponseDecoder answer = kvAnswer();
        if (leaseId != 0 && !model.leaseExpiry.containsKey(leaseId))
        {
            assertEquals(ManagerStatus.NO_SUCH_LEASE, answer.status());
            return;
        }
        assertEquals(ManagerStatus.OK, answer.status());
        assertTrue(answer.revision() > lastRevision, "a put's revision is strictly above every earlier one");
        lastRevision = answer.revision();
        model.put(key, value, leaseId);
        watchedKeys.add("PUT " + key);
    }

    private void delete(final long session, final Random random)
    {
        final boolean prefix = random.nextBoolean();
        final String key = prefix ? KEYS[random.nextInt(KEYS.length)].substring(0, 1) : KEYS[random.nextInt(KEYS.length)];
        final int length = HEADER + new KvDeleteRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(nextCorrelation(session)).prefix((short)(prefix ? 1 : 0)).key(key).encodedLength();
        final List<String> doomed = new ArrayList<>();
        for (final String k : model.values.keySet())
        {
            if (prefix ? k.startsWith(key) : k.equals(key))
            {
                doomed.add(k);
            }
        }
        apply(session, length);
        final KvResponseDecoder answer = kvAnswer();
        assertEquals(ManagerStatus.OK, answer.status());
        assertEquals(doomed.size(), answer.deleted());
        if (!doomed.isEmpty())
        {
            assertTrue(answer.revision() > lastRevision);
            lastRevision = answer.revision();
        }
        for (final String k : doomed)
        {
            model.delete(k);
            watchedKeys.add("DELETE " + k);
        }
    }

    private void txn(final long session, final Random random)
    {
        final String key = KEYS[random.nextInt(KEYS.length)];
        final long expectedVersion = random.nextInt(3);
        final byte[] value = ("t" + random.nextInt(100)).getBytes(StandardCharsets.UTF_8);
        final KvTxnRequestEncoder encoder = new KvTxnRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(nextCorrelation(session));
        encoder.comparesCount(1).next().target(CompareTarget.VERSION).result(CompareResult.EQUAL)
            .operand(expectedVersion).key(key).putValue(new byte[0], 0, 0);
        final KvTxnRequestEncoder.OpsEncoder ops = encoder.opsCount(2);
        ops.next().branch((short)0).opType(KvOpType.PUT).prefix((short)0).leaseId(0).maxCount(0).key(key)
            .putValue(value, 0, value.length);
        ops.next().branch((short)1).opType(KvOpType.RANGE).prefix((short)0).leaseId(0).maxCount(0).key(key)
            .putValue(new byte[0], 0, 0);
        apply(session, HEADER + encoder.encodedLength());
        final boolean expected = model.versions.getOrDefault(key, 0L) == expectedVersion;
        final KvResponseDecoder answer = kvAnswer();
        assertEquals(ManagerStatus.OK, answer.status());
        final long revision = answer.revision();
        assertEquals(expected, answer.succeeded() != 0, "compare-and-swap decided as the model says");
        answer.deleted();
        answer.more();
        int read = 0;
        for (final KvResponseDecoder.KvsDecoder kv : answer.kvs())
        {
            read++;
            kv.skipKey();
            kv.skipValue();
        }
        casSucceeded += expected ? 1 : 0;
        casFailed += expected ? 0 : 1;
        if (expected)
        {
            assertTrue(revision > lastRevision);
            lastRevision = revision;
            model.put(key, value, 0);
            watchedKeys.add("PUT " + key);
        }
        else
        {
            assertEquals(model.values.containsKey(key) ? 1 : 0, read, "failure branch read the key");
        }
    }

    private void range(final long session, final Random random)
    {
        final String prefix = random.nextBoolean() ? "" : KEYS[random.nextInt(KEYS.length)];
        final int length = HEADER + new KvRangeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(nextCorrelation(session)).maxCount(0).prefix((short)1).key(prefix).encodedLength();
        apply(session, length);
        final KvResponseDecoder answer = kvAnswer();
        assertEquals(ManagerStatus.OK, answer.status());
        final List<String> got = new ArrayList<>();
        for (final KvResponseDecoder.KvsDecoder kv : answer.kvs())
        {
            kv.createRevision();
            kv.modRevision();
            kv.version();
            kv.leaseId();
            got.add(kv.key());
            kv.skipValue();
        }
        final List<String> expected = new ArrayList<>();
        for (final String key : model.values.keySet())
        {
            if (key.startsWith(prefix))
            {
                expected.add(key);
            }
        }
        assertEquals(expected, got, "range by prefix '" + prefix + "'");
    }

    private void leaseCommand(final long session, final Random random)
    {
        final int which = random.nextInt(3);
        final int length;
        final long leaseId = model.leaseExpiry.isEmpty() ? 42 : model.leaseExpiry.lastKey();
        final long revisionBefore = sm.revision();
        if (which == 0 || model.leaseExpiry.isEmpty())
        {
            length = HEADER + new LeaseGrantRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).ttlMs(100 + random.nextInt(1_500)).encodedLength();
        }
        else if (which == 1)
        {
            length = HEADER + new LeaseKeepAliveRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).leaseId(leaseId).encodedLength();
        }
        else
        {
            length = HEADER + new LeaseRevokeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).leaseId(leaseId).encodedLength();
        }
        apply(session, length);
        assertEquals(LeaseResponseDecoder.TEMPLATE_ID, headerDecoder.templateId());
        final LeaseResponseDecoder answer = new LeaseResponseDecoder().wrap(
            response, HEADER, headerDecoder.blockLength(), headerDecoder.version());
        answer.correlationId();
        assertEquals(ManagerStatus.OK, answer.status());
        final long id = answer.leaseId();
        answer.ttlMs();
        final long expiresAtMs = answer.expiresAtMs();
        final long revision = answer.revision();
        if (which == 0 || model.leaseExpiry.isEmpty())
        {
            model.leaseExpiry.put(id, expiresAtMs);
        }
        else if (which == 1)
        {
            model.leaseExpiry.put(id, expiresAtMs);
        }
        else
        {
            for (final String key : model.values.keySet())
            {
                if (model.leaseOf.get(key) == id)
                {
                    watchedKeys.add("DELETE " + key);
                }
            }
            model.revoke(id);
            lastRevision = Math.max(lastRevision, revision);
            unassignModelPartitions(List.of(id), revisionBefore);
        }
    }

    /**
     * The state machine unassigns every partition of an owner lease that ended (revoke or expiry), all of them at one
     * new revision per lease, which becomes their version: check that, then let the model follow.
     */
    private void unassignModelPartitions(final List<Long> endedLeases, final long revisionBefore)
    {
        final Set<Long> leaseVersions = new HashSet<>();
        for (final long leaseId : endedLeases)
        {
            long leaseVersion = 0;
            for (final ModelPartition p : new ArrayList<>(partitionModel.values()))
            {
                if (p.lease() != leaseId)
                {
                    continue;
                }
                final PartitionTable.Partition actual = sm.partitions().get(p.id());
                assertEquals(0, actual.ownerId(), "partition " + p.id() + " unassigned when lease " + leaseId + " ended");
                assertEquals(0, actual.ownerLeaseId());
                assertTrue(actual.version() > revisionBefore && actual.version() <= sm.revision(),
                    "the unassignment is a new revision");
                if (leaseVersion == 0)
                {
                    leaseVersion = actual.version();
                    assertTrue(leaseVersions.add(leaseVersion), "one revision per ended lease");
                }
                assertEquals(leaseVersion, actual.version(), "one lease's partitions unassigned at one revision");
                partitionModel.put(p.id(), new ModelPartition(p.id(), p.start(), p.end(), actual.version(), 0, 0));
                releasedPartitions++;
            }
        }
    }

    private void nodeCommand(final long session, final Random random)
    {
        final int nodeId = 1 + random.nextInt(6);
        if (random.nextInt(5) == 0)
        {
            collectGarbage(session, nodeId, random);
            return;
        }
        if (random.nextInt(4) == 0)
        {
            final int length = HEADER + new RegisterNodeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).nodeId(nodeId).diskCount(2).capacityBytes(8L << 30)
                .endpoint("h:" + nodeId).failureDomain(DOMAINS[nodeId - 1]).encodedLength();
            apply(session, length);
            return;
        }
        final NodeHeartbeatRequestEncoder encoder = new NodeHeartbeatRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(nextCorrelation(session)).nodeId(nodeId);
        final NodeHeartbeatRequestEncoder.DisksEncoder disks = encoder.disksCount(2);
        for (int d = 0; d < 2; d++)
        {
            disks.next().diskId(d).capacityBytes(4L << 30).freeBytes((long)random.nextInt(4) << 30).state(DiskState.OK);
        }
        apply(session, HEADER + encoder.encodedLength());
        if (sm.nodeState(nodeId) != null)
        {
            assertEquals(NodeState.ALIVE, sm.nodeState(nodeId), "a heartbeat makes a node alive");
        }
    }

    private void streamCommand(final long session, final Random random)
    {
        final int length;
        boolean places = true;
        if (streams.isEmpty() || random.nextInt(3) == 0)
        {
            length = HEADER + new CreateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).name("s" + random.nextInt(30)).encodedLength();
        }
        else if (random.nextInt(3) == 0)
        {
            // Drop extents: truncate to, or punch out, a random extent of the stream (the tail is refused by punch).
            final long streamId = streams.iterator().next();
            final List<Long> ids = extentIdsOf(streamId);
            final long extentId = ids.get(random.nextInt(ids.size()));
            places = false; // the answer's tail was placed earlier, when its nodes were alive
            length = random.nextBoolean() ?
                HEADER + new TruncateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                    .correlationId(nextCorrelation(session)).streamId(streamId).ownerRevision(0)
                    .firstExtentIdToKeep(extentId).encodedLength() :
                HEADER + new PunchHoleRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                    .correlationId(nextCorrelation(session)).streamId(streamId).ownerRevision(0)
                    .extentId(extentId).encodedLength();
        }
        else
        {
            final long streamId = streams.iterator().next();
            final ManagerListing.Extent tail = lastExtentOf(streamId);
            length = HEADER + new AllocateExtentRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).streamId(streamId).tailExtentId(tail.extentId())
                .sealLength(random.nextInt(10_000)).encodedLength();
        }
        apply(session, length);
        assertEquals(StreamInfoResponseDecoder.TEMPLATE_ID, headerDecoder.templateId());
        final StreamInfoResponseDecoder answer = new StreamInfoResponseDecoder().wrap(
            response, HEADER, headerDecoder.blockLength(), headerDecoder.version());
        answer.correlationId();
        final ManagerStatus status = answer.status();
        final long streamId = answer.streamId();
        int[] tail = null;
        for (final StreamInfoResponseDecoder.ExtentsDecoder e : answer.extents())
        {
            e.extentId();
            e.sealedLength();
            tail = new int[]{ e.replica0(), e.replica1(), e.replica2() };
        }
        for (final StreamInfoResponseDecoder.NodesDecoder n : answer.nodes())
        {
            n.nodeId();
            n.skipEndpoint();
        }
        if (status == ManagerStatus.OK && tail != null && places)
        {
            streams.add(streamId);
            checkPlacement(tail);
            placements++;
        }
    }

    private void checkPlacement(final int[] replicas)
    {
        final Set<String> aliveDomains = new HashSet<>();
        for (int nodeId = 1; nodeId <= 6; nodeId++)
        {
            if (sm.nodeState(nodeId) == NodeState.ALIVE)
            {
                aliveDomains.add(DOMAINS[nodeId - 1].isEmpty() ? "own-" + nodeId : DOMAINS[nodeId - 1]);
            }
        }
        final Set<String> used = new HashSet<>();
        for (final int nodeId : replicas)
        {
            assertEquals(NodeState.ALIVE, sm.nodeState(nodeId), "new replica on a non-alive node " + nodeId);
            used.add(DOMAINS[nodeId - 1].isEmpty() ? "own-" + nodeId : DOMAINS[nodeId - 1]);
        }
        if (aliveDomains.size() >= Placement.REPLICA_COUNT)
        {
            assertEquals(Placement.REPLICA_COUNT, used.size(), "replicas in distinct failure domains");
        }
    }

    /** A node's collection: what must it delete (it holds every extent id so far), then it confirms them all. */
    private void collectGarbage(final long session, final int nodeId, final Random random)
    {
        final ExtentReconcileRequestEncoder encoder = new ExtentReconcileRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(nextCorrelation(session)).nodeId(nodeId);
        final int held = random.nextInt(8);
        final ExtentReconcileRequestEncoder.ExtentsEncoder group = encoder.extentsCount(held);
        for (int i = 0; i < held; i++)
        {
            group.next().extentId(1 + random.nextInt((int)Math.min(Integer.MAX_VALUE, sm.nextId() + 5)));
        }
        apply(session, HEADER + encoder.encodedLength());
        assertEquals(ExtentReconcileResponseDecoder.TEMPLATE_ID, headerDecoder.templateId());
        final ExtentReconcileResponseDecoder answer = new ExtentReconcileResponseDecoder().wrap(
            response, HEADER, headerDecoder.blockLength(), headerDecoder.version());
        answer.correlationId();
        if (answer.status() != ManagerStatus.OK)
        {
            return; // an unregistered node
        }
        final List<Long> deletes = new ArrayList<>();
        for (final ExtentReconcileResponseDecoder.DeletesDecoder d : answer.deletes())
        {
            deletes.add(d.extentId());
            assertTrue(d.extentId() < answer.nextId(), "never an id at or above the high-water mark");
        }
        final String dump = sm.canonicalDump();
        for (final long id : deletes)
        {
            for (final String line : dump.split("\n"))
            {
                if (line.startsWith("  extent " + id + " "))
                {
                    final String replicas = line.substring(line.indexOf("replicas=") + "replicas=".length(),
                        line.indexOf(" refCount"));
                    assertFalse(java.util.Arrays.asList(replicas.split(",")).contains(Integer.toString(nodeId)),
                        "a live replica of node " + nodeId + " is never to be deleted: " + line);
                }
            }
        }
        final ExtentDeletedRequestEncoder confirm = new ExtentDeletedRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(nextCorrelation(session)).nodeId(nodeId);
        final ExtentDeletedRequestEncoder.ExtentsEncoder confirmed = confirm.extentsCount(deletes.size());
        for (final long id : deletes)
        {
            confirmed.next().extentId(id);
        }
        apply(session, HEADER + confirm.encodedLength());
        for (final long id : deletes)
        {
            final int[] pending = sm.garbagePending(id);
            if (pending != null)
            {
                for (final int p : pending)
                {
                    assertNotEquals(nodeId, p, "a confirmed delete leaves the tombstone's pending nodes");
                }
            }
        }
    }

    private List<Long> extentIdsOf(final long streamId)
    {
        final List<Long> ids = new ArrayList<>();
        boolean inStream = false;
        for (final String line : sm.canonicalDump().split("\n"))
        {
            if (line.startsWith("stream "))
            {
                inStream = line.startsWith("stream " + streamId + " ");
            }
            else if (inStream && line.startsWith("  extent "))
            {
                ids.add(Long.parseLong(line.substring("  extent ".length(), line.indexOf(" sealed"))));
            }
        }
        return ids;
    }

    private ManagerListing.Extent lastExtentOf(final long streamId)
    {
        // Read the tail through the state machine's own listing, as a client would.
        final ManagerStateMachine probe = sm;
        final String dump = probe.canonicalDump();
        long tail = -1;
        boolean inStream = false;
        for (final String line : dump.split("\n"))
        {
            if (line.startsWith("stream "))
            {
                inStream = line.startsWith("stream " + streamId + " ");
            }
            else if (inStream && line.startsWith("  extent "))
            {
                tail = Long.parseLong(line.substring("  extent ".length(), line.indexOf(" sealed")));
            }
        }
        return new ManagerListing.Extent(tail, streamId, -1, new int[3], 1, 0);
    }

    private void retryLast(final long session)
    {
        if (lastCommand == null)
        {
            return;
        }
        // A retry of the same correlationId, as a client does across a leader change: nothing changes and, for a
        // key/value write, the answer is byte for byte the first one.
        final String before = sm.canonicalDump();
        final byte[] firstAnswer = lastAnswer;
        command.putBytes(0, lastCommand);
        headerDecoder.wrap(command, 0);
        final int templateId = headerDecoder.templateId();
        apply(lastSession, lastCommand.length);
        if (templateId == NodeHeartbeatRequestEncoder.TEMPLATE_ID || templateId == KvRangeRequestEncoder.TEMPLATE_ID)
        {
            return; // not de-duplicated: a heartbeat is applied again, a read reads again
        }
        assertEquals(before, sm.canonicalDump(), "a retried command changes nothing");
        headerDecoder.wrap(response, 0);
        final boolean firstApplied = firstAnswer[HEADER + Long.BYTES] == ManagerStatus.OK.value(); // status follows
        if (firstApplied && (headerDecoder.templateId() == KvResponseDecoder.TEMPLATE_ID ||
            headerDecoder.templateId() == LeaseResponseDecoder.TEMPLATE_ID ||
            headerDecoder.templateId() == PartitionResponseDecoder.TEMPLATE_ID))
        {
            assertArrayEquals(firstAnswer, lastAnswer, "a retried key/value write is answered as the first time");
        }
    }

    private void partitionCommand(final long session, final Random random)
    {
        final List<ModelPartition> existing = new ArrayList<>(partitionModel.values());
        final ModelPartition some = existing.isEmpty() ? null : existing.get(random.nextInt(existing.size()));
        final long someId = some == null || random.nextInt(8) == 0 ? 1_000_000 + random.nextInt(3) : some.id();
        final long someVersion = some == null ? 0 : random.nextInt(4) == 0 ? some.version() - 1 : some.version();
        final int op = random.nextInt(4);
        final int length;
        final ManagerStatus expected;
        String start = "";
        String end = "";
        int owner = 0;
        long lease = 0;
        ModelPartition right = null;
        if (op == 0 || existing.isEmpty())
        {
            start = random.nextInt(4) == 0 ? "" : PARTITION_KEYS[random.nextInt(PARTITION_KEYS.length)];
            end = random.nextInt(4) == 0 ? "" : PARTITION_KEYS[random.nextInt(PARTITION_KEYS.length)];
            length = HEADER + new PartitionCreateRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).logStreamId(0).tableStreamId(0).metaStreamId(0)
                .startKey(start).endKey(end).encodedLength();
            expected = createOutcome(start, end);
        }
        else if (op == 1)
        {
            start = PARTITION_KEYS[random.nextInt(PARTITION_KEYS.length)]; // the split key
            length = HEADER + new PartitionSplitRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).partitionId(someId).expectedVersion(someVersion)
                .logStreamId(0).tableStreamId(0).metaStreamId(0).splitKey(start).encodedLength();
            final ModelPartition p = partitionModel.get(someId);
            expected = p == null ? ManagerStatus.NO_SUCH_PARTITION : p.version() != someVersion ?
                ManagerStatus.VERSION_MISMATCH : start.compareTo(p.start()) > 0 && p.contains(start) ?
                ManagerStatus.OK : ManagerStatus.RANGE_CONFLICT;
        }
        else if (op == 2)
        {
            // Usually the partition that starts where the chosen one ends, sometimes any.
            right = existing.get(random.nextInt(existing.size()));
            for (final ModelPartition p : existing)
            {
                if (some != null && !some.end().isEmpty() && p.start().equals(some.end()) && random.nextInt(3) > 0)
                {
                    right = p;
                }
            }
            length = HEADER + new PartitionMergeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).leftPartitionId(someId).leftExpectedVersion(someVersion)
                .rightPartitionId(right.id()).rightExpectedVersion(right.version()).encodedLength();
            final ModelPartition left = partitionModel.get(someId);
            expected = left == null ? ManagerStatus.NO_SUCH_PARTITION : left.version() != someVersion ?
                ManagerStatus.VERSION_MISMATCH : left != right && !left.end().isEmpty() &&
                left.end().equals(right.start()) ? ManagerStatus.OK : ManagerStatus.RANGE_CONFLICT;
        }
        else
        {
            owner = random.nextInt(4);
            lease = owner == 0 || model.leaseExpiry.isEmpty() ? 0 : random.nextInt(5) == 0 ? 987_654 :
                model.leaseExpiry.firstKey();
            length = HEADER + new PartitionAssignRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(nextCorrelation(session)).partitionId(someId).expectedVersion(someVersion)
                .ownerId(owner).ownerLeaseId(lease).encodedLength();
            final ModelPartition p = partitionModel.get(someId);
            expected = p == null ? ManagerStatus.NO_SUCH_PARTITION : p.version() != someVersion ?
                ManagerStatus.VERSION_MISMATCH : lease != 0 && !model.leaseExpiry.containsKey(lease) ?
                ManagerStatus.NO_SUCH_LEASE : ManagerStatus.OK;
        }
        apply(session, length);
        assertEquals(PartitionResponseDecoder.TEMPLATE_ID, headerDecoder.templateId());
        final PartitionResponseDecoder answer = new PartitionResponseDecoder().wrap(
            response, HEADER, headerDecoder.blockLength(), headerDecoder.version());
        answer.correlationId();
        final ManagerStatus status = answer.status();
        final ManagerStatus want = session == CLIENT_SESSION ? ManagerStatus.UNAUTHORISED : expected;
        assertEquals(want, status, "partition command " + op + " decided as the model says");
        partitionOutcomes.merge(status, 1, Integer::sum);
        if (status != ManagerStatus.OK)
        {
            return;
        }
        final long partitionId = answer.partitionId();
        final long version = answer.version();
        final long newPartitionId = answer.newPartitionId();
        assertTrue(version > lastRevision, "a partition change's version is above every earlier revision");
        assertEquals(sm.revision(), version);
        lastRevision = version;
        if (op == 0 || existing.isEmpty())
        {
            partitionModel.put(partitionId, new ModelPartition(partitionId, start, end, version, 0, 0));
        }
        else if (op == 1)
        {
            final ModelPartition p = partitionModel.get(partitionId);
            partitionModel.put(partitionId, new ModelPartition(p.id(), p.start(), start, version, p.owner(), p.lease()));
            partitionModel.put(newPartitionId, new ModelPartition(newPartitionId, start, p.end(), version, p.owner(),
                p.lease()));
        }
        else if (op == 2)
        {
            final ModelPartition p = partitionModel.get(partitionId);
            partitionModel.remove(right.id());
            partitionModel.put(partitionId, new ModelPartition(p.id(), p.start(), right.end(), version, p.owner(),
                p.lease()));
        }
        else
        {
            final ModelPartition p = partitionModel.get(partitionId);
            partitionModel.put(partitionId, new ModelPartition(p.id(), p.start(), p.end(), version, owner, lease));
        }
    }

    private ManagerStatus createOutcome(final String start, final String end)
    {
        if (!end.isEmpty() && start.compareTo(end) >= 0)
        {
            return ManagerStatus.RANGE_CONFLICT;
        }
        for (final ModelPartition p : partitionModel.values())
        {
            final boolean startsBeforeItEnds = p.end().isEmpty() || start.compareTo(p.end()) < 0;
            final boolean endsAfterItStarts = end.isEmpty() || end.compareTo(p.start()) > 0;
            if (startsBeforeItEnds && endsAfterItStarts)
            {
                return ManagerStatus.RANGE_CONFLICT;
            }
        }
        return ManagerStatus.OK;
    }

    private void fireTimerIfDue()
    {
        if (sm.nextDeadlineMs() <= timeMs)
        {
            final long revisionBefore = sm.revision();
            final List<Long> ended = new ArrayList<>();
            final List<Map.Entry<Long, Long>> byExpiry = new ArrayList<>(model.leaseExpiry.entrySet());
            byExpiry.sort(Map.Entry.<Long, Long>comparingByValue().thenComparing(Map.Entry.comparingByKey()));
            for (final Map.Entry<Long, Long> lease : byExpiry)
            {
                if (lease.getValue() <= timeMs)
                {
                    for (final String key : model.values.keySet())
                    {
                        if (model.leaseOf.get(key).equals(lease.getKey()))
                        {
                            watchedKeys.add("DELETE " + key);
                        }
                    }
                    model.revoke(lease.getKey());
                    ended.add(lease.getKey());
                    expiredLeases++;
                }
            }
            sm.onTimer(timeMs);
            if (restored != null)
            {
                restored.onTimer(timeMs);
            }
            unassignModelPartitions(ended, revisionBefore);
            assertTrue(sm.revision() >= lastRevision);
            lastRevision = sm.revision();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Checks
    // ---------------------------------------------------------------------------------------------------------------

    private KvResponseDecoder kvAnswer()
    {
        assertEquals(KvResponseDecoder.TEMPLATE_ID, headerDecoder.templateId());
        final KvResponseDecoder decoder = new KvResponseDecoder().wrap(
            response, HEADER, headerDecoder.blockLength(), headerDecoder.version());
        decoder.correlationId();
        return decoder;
    }

    private void check()
    {
        sm.verifyInvariants();
        assertTrue(sm.revision() >= lastRevision, "revision never goes back");
        lastRevision = Math.max(lastRevision, sm.revision());
        final List<KvStore.KeyValue> all = new ArrayList<>();
        sm.kv().range("", true, Integer.MAX_VALUE, all);
        assertEquals(model.values.keySet(), keysOf(all), "keys match the model");
        for (final KvStore.KeyValue kv : all)
        {
            assertArrayEquals(model.values.get(kv.key()), kv.value(), "value of " + kv.key());
            assertEquals(model.versions.get(kv.key()), kv.version(), "version of " + kv.key());
            if (kv.leaseId() != 0)
            {
                final KvStore.Lease lease = sm.kv().lease(kv.leaseId());
                assertNotNull(lease, "key " + kv.key() + " outlived its lease");
                assertTrue(lease.expiresAtMs() > timeMs || sm.nextDeadlineMs() <= timeMs,
                    "a lease-bound key is gone at its lease's expiry");
            }
        }
        assertEquals(model.leaseExpiry.size(), sm.kv().leaseCount(), "leases match the model");
        assertEquals(watchedKeys, watchedEvents, "the watch on everything saw every change, in order");
        final List<ModelPartition> actual = new ArrayList<>();
        for (final PartitionTable.Partition p : sm.partitions().byId())
        {
            actual.add(new ModelPartition(p.partitionId(), new String(p.startKey(), StandardCharsets.UTF_8),
                new String(p.endKey(), StandardCharsets.UTF_8), p.version(), p.ownerId(), p.ownerLeaseId()));
        }
        assertEquals(new ArrayList<>(partitionModel.values()), actual, "partition table matches the model");
        if (restored != null)
        {
            assertEquals(sm.canonicalDump(), restored.canonicalDump(), "restored machine stays identical");
        }
    }

    private static Set<String> keysOf(final List<KvStore.KeyValue> kvs)
    {
        final Set<String> keys = new java.util.TreeSet<>();
        for (final KvStore.KeyValue kv : kvs)
        {
            keys.add(kv.key());
        }
        return keys;
    }

    private final List<String> watchedEvents = new ArrayList<>();

    private void createWatch()
    {
        watchedEvents.clear();
        final int length = HEADER + new WatchCreateRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(1).watchId(7).startRevision(0).prefix((short)1).key("").encodedLength();
        sm.onCommand(WATCH_SESSION, command, 0, length, timeMs, response, 0);
    }

    private void onWatchEvent(final long sessionId, final org.agrona.DirectBuffer buffer, final int offset)
    {
        assertEquals(WATCH_SESSION, sessionId);
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, offset);
        assertEquals(WatchEventDecoder.TEMPLATE_ID, header.templateId());
        final WatchEventDecoder event = new WatchEventDecoder().wrap(
            buffer, offset + HEADER, header.blockLength(), header.version());
        event.correlationId();
        assertEquals(7, event.watchId());
        final boolean delete = event.eventType() == io.cairn.sbe.manager.EventType.DELETE;
        final long revision = event.revision();
        assertTrue(revision >= watchedRevision, "watch events in revision order");
        watchedRevision = revision;
        event.createRevision();
        event.version();
        event.leaseId();
        watchedEvents.add((delete ? "DELETE " : "PUT ") + event.key());
        event.skipValue();
    }

    private void snapshotAndRestore()
    {
        final List<byte[]> messages = new ArrayList<>();
        sm.takeSnapshot((buffer, offset, length) ->
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            messages.add(bytes);
        });
        restored = new ManagerStateMachine(300, 900);
        restored.beginRestore();
        boolean done = false;
        for (final byte[] message : messages)
        {
            done = restored.onSnapshotMessage(new UnsafeBuffer(message), 0, message.length);
        }
        assertTrue(done, "restore completes at SnapshotEnd");
        assertEquals(sm.canonicalDump(), restored.canonicalDump(), "snapshot then restore gives the same state");
        assertEquals(sm.nextDeadlineMs(), restored.nextDeadlineMs(), "same deadlines after restore");
    }
}
