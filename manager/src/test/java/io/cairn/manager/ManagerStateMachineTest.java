package io.cairn.manager;

import io.cairn.sbe.manager.AllocateExtentRequestEncoder;
import io.cairn.sbe.manager.OpenStreamRequestEncoder;
import io.cairn.sbe.manager.ClusterStatusRequestEncoder;
import io.cairn.sbe.manager.ClusterStatusResponseDecoder;
import io.cairn.sbe.manager.CreateStreamRequestEncoder;
import io.cairn.sbe.manager.KvPutRequestEncoder;
import io.cairn.sbe.manager.KvRangeRequestEncoder;
import io.cairn.sbe.manager.ManagerErrorResponseDecoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestEncoder;
import io.cairn.sbe.manager.RegisterNodeResponseDecoder;
import io.cairn.sbe.manager.SnapshotBeginEncoder;
import io.cairn.sbe.manager.StreamInfoRequestEncoder;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManagerStateMachineTest
{
    private static final long SESSION = 7;
    private static final int HEADER = MessageHeaderEncoder.ENCODED_LENGTH;

    private final ManagerStateMachine sm = new ManagerStateMachine();
    private long lastOwnerRevision;
    private final UnsafeBuffer command = new UnsafeBuffer(new byte[4096]);
    private final UnsafeBuffer response = new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private long correlationId;
    private long timeMs = 1_000;

    /** The decoded parts of an answer that the tests look at. */
    record Answer(int templateId, long correlationId, ManagerStatus status, long streamId, String name,
        List<ExtentInfo> extents, Set<Integer> nodeIds, String message)
    {
    }

    // ----------------------------------------------------------------------------------------------------------
    // Registration and streams
    // ----------------------------------------------------------------------------------------------------------

    @Test
    void onlyRangesAreReadOnlyAndTheyChangeNothing()
    {
        final int put = MessageHeaderEncoder.ENCODED_LENGTH + new KvPutRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).leaseId(0).key("k")
            .putValue(new byte[]{ 1 }, 0, 1).encodedLength();
        assertFalse(ManagerStateMachine.isReadOnly(command, 0, put), "a put writes");
        sm.onCommand(SESSION, command, 0, put, timeMs, response, 0);

        final int range = MessageHeaderEncoder.ENCODED_LENGTH + new KvRangeRequestEncoder()
            .wrapAndApplyHeader(command, 0, headerEncoder).correlationId(++correlationId).maxCount(0)
            .prefix((short)1).key("").encodedLength();
        assertTrue(ManagerStateMachine.isReadOnly(command, 0, range));
        assertFalse(ManagerStateMachine.isReadOnly(command, 0, MessageHeaderEncoder.ENCODED_LENGTH - 1), "truncated");
        // What lets a follower skip a range: applying it leaves the whole state, sessions included, as it was.
        final String before = sm.canonicalDump();
        sm.onCommand(SESSION, command, 0, range, timeMs, response, 0);
        assertEquals(before, sm.canonicalDump());

        command.putShort(MessageHeaderEncoder.schemaIdEncodingOffset(), (short)(KvRangeRequestEncoder.SCHEMA_ID + 1),
            ByteOrder.LITTLE_ENDIAN);
        assertFalse(ManagerStateMachine.isReadOnly(command, 0, range), "another schema");
    }

    @Test
    void registersNodesIdempotentlyAndUpdatesEndpoint()
    {
        assertEquals(ManagerStatus.OK, registerNode(SESSION, ++correlationId, 1, "h:1").status());
        assertEquals(ManagerStatus.OK, registerNode(SESSION, ++correlationId, 1, "h:2").status());
        assertEquals(1, sm.nodeCount());
        assertTrue(sm.canonicalDump().contains("node 1 endpoint=h:2"), sm.canonicalDump());
        assertEquals(ManagerStatus.BAD_REQUEST, registerNode(SESSION, ++correlationId, 0, "h:3").status());
        assertEquals(ManagerStatus.BAD_REQUEST, registerNode(SESSION, ++correlationId, 2, "").status());
        assertEquals(1, sm.nodeCount());
    }

    @Test
    void createStreamNeedsThreeNodes()
    {
        registerNodes(2);
        final String before = sm.canonicalDump();
        final Answer answer = createStream(SESSION, ++correlationId, "s");
        assertEquals(ManagerStatus.NOT_ENOUGH_NODES, answer.status());
        assertTrue(answer.message().contains("need 3 alive nodes"), answer.message());
        assertEquals(before, sm.canonicalDump());

        registerNodes(3);
        final Answer created = createStream(SESSION, ++correlationId, "s");
        assertEquals(ManagerStatus.OK, created.status());
        assertEquals("s", created.name());
        assertEquals(1, created.extents().size());
        assertFalse(created.extents().get(0).sealed());
        assertEquals(Set.of(1, 2, 3), created.nodeIds(), "endpoints of every replica node");
    }

    @Test
    void duplicateNameIsRefused()
    {
        registerNodes(3);
        assertEquals(ManagerStatus.OK, createStream(SESSION, ++correlationId, "s").status());
        assertEquals(ManagerStatus.DUPLICATE_NAME, createStream(SESSION, ++correlationId, "s").status());
        assertEquals(1, sm.streamCount());
    }

    @Test
    void placesDistinctReplicasAndSpreadsLoad()
    {
        registerNodes(5);
        final Answer first = createStream(SESSION, ++correlationId, "s");
        long tail = first.extents().get(0).extentId();
        final Set<Integer> primaries = new HashSet<>();
        for (int i = 0; i < 30; i++)
        {
            final Answer next = allocateExtent(SESSION, ++correlationId, first.streamId(), tail, 100 + i);
            assertEquals(ManagerStatus.OK, next.status(), next.message());
            final ExtentInfo newTail = next.extents().get(next.extents().size() - 1);
            final int[] r = newTail.replicas();
            assertEquals(3, Set.of(r[0], r[1], r[2]).size(), "distinct replicas");
            primaries.add(newTail.primary());
            tail = newTail.extentId();
        }
        assertEquals(5, primaries.size(), "every node is a primary at some point");
        sm.verifyInvariants();
    }

    @Test
    void openStreamFencesTheOlderOwnerAndSurvivesASnapshot()
    {
        registerNodes(4);
        final Answer created = createStream(SESSION, ++correlationId, "owned");
        final long streamId = created.streamId();
        final long tail = created.extents().get(0).extentId();

        applyCommand(SESSION, encodeOpenStream(++correlationId, streamId));
        final Answer first = decode();
        assertEquals(ManagerStatus.OK, first.status());
        final long firstRevision = lastOwnerRevision;
        assertTrue(firstRevision > 0, "owner revision " + firstRevision);

        applyCommand(SESSION, encodeOpenStream(++correlationId, streamId));
        assertEquals(ManagerStatus.OK, decode().status());
        final long secondRevision = lastOwnerRevision;
        assertTrue(secondRevision > firstRevision, secondRevision + " > " + firstRevision);

        final String before = sm.canonicalDump();
        applyCommand(SESSION, encodeAllocateExtent(++correlationId, streamId, tail, 4096, firstRevision));
        final Answer stale = decode();
        assertEquals(ManagerStatus.LOCKED_BY_OTHER, stale.status(), stale.message());
        assertTrue(stale.message().contains("owner revision " + firstRevision), stale.message());
        applyCommand(SESSION, encodeAllocateExtent(++correlationId, streamId, tail, 4096, 0));
        assertEquals(ManagerStatus.LOCKED_BY_OTHER, decode().status());
        assertEquals(before, sm.canonicalDump());

        applyCommand(SESSION, encodeAllocateExtent(++correlationId, streamId, tail, 4096, secondRevision));
        final Answer allocated = decode();
        assertEquals(ManagerStatus.OK, allocated.status(), allocated.message());
        assertEquals(4096, allocated.extents().get(0).sealedLength());
        assertEquals(secondRevision, lastOwnerRevision);

        final ManagerStateMachine restored = new ManagerStateMachine();
        restore(restored, snapshot(sm));
        assertEquals(sm.canonicalDump(), restored.canonicalDump());
        assertTrue(restored.canonicalDump().contains("ownerRevision=" + secondRevision), restored.canonicalDump());

        applyCommand(SESSION, encodeOpenStream(++correlationId, 999));
        assertEquals(ManagerStatus.NO_SUCH_STREAM, decode().status());
        sm.verifyInvariants();
    }

    @Test
    void allocateExtentSealsTailAndAppends()
    {
        registerNodes(3);
        final Answer created = createStream(SESSION, ++correlationId, "s");
        final long firstTail = created.extents().get(0).extentId();

        final Answer allocated = allocateExtent(SESSION, ++correlationId, created.streamId(), firstTail, 4096);
        assertEquals(ManagerStatus.OK, allocated.status());
        assertEquals(2, allocated.extents().size());
        assertEquals(firstTail, allocated.extents().get(0).extentId());
        assertEquals(4096, allocated.extents().get(0).sealedLength());
        assertEquals(-1, allocated.extents().get(1).sealedLength());
        assertNotEquals(firstTail, allocated.extents().get(1).extentId());

        final Answer info = streamInfo(++correlationId, created.streamId());
        assertEquals(allocated.extents(), info.extents());
    }

    @Test
    void staleTailAndBadSealLengthChangeNothing()
    {
        registerNodes(3);
        final Answer created = createStream(SESSION, ++correlationId, "s");
        final long firstTail = created.extents().get(0).extentId();
        assertEquals(ManagerStatus.OK,
            allocateExtent(SESSION, ++correlationId, created.streamId(), firstTail, 10).status());
        final String before = sm.canonicalDump();

        final Answer stale = allocateExtent(SESSION, ++correlationId, created.streamId(), firstTail, 20);
        assertEquals(ManagerStatus.STALE_TAIL, stale.status());
        assertEquals(2, stale.extents().size(), "a stale tail answer carries the current extents");
        assertEquals(ManagerStatus.BAD_REQUEST, allocateExtent(SESSION, ++correlationId, created.streamId(),
            stale.extents().get(1).extentId(), -1).status());
        assertEquals(ManagerStatus.NO_SUCH_STREAM, allocateExtent(SESSION, ++correlationId, 999, 1, 0).status());
        assertEquals(ManagerStatus.NO_SUCH_STREAM, streamInfo(++correlationId, 999).status());
        assertEquals(before, sm.canonicalDump());
    }

    @Test
    void retriedCorrelationIdIsNotAppliedTwice()
    {
        registerNodes(3);
        final long createId = ++correlationId;
        final Answer created = createStream(SESSION, createId, "s");
        final Answer retried = createStream(SESSION, createId, "s");
        assertEquals(ManagerStatus.OK, retried.status(), "a retry is answered, not refused as a duplicate name");
        assertEquals(created.streamId(), retried.streamId());
        assertEquals(1, sm.streamCount());

        final long allocateId = ++correlationId;
        final long tail = created.extents().get(0).extentId();
        final Answer allocated = allocateExtent(SESSION, allocateId, created.streamId(), tail, 50);
        final Answer allocateRetry = allocateExtent(SESSION, allocateId, created.streamId(), tail, 50);
        assertEquals(ManagerStatus.OK, allocateRetry.status(), "not STALE_TAIL");
        assertEquals(allocated.extents(), allocateRetry.extents());
        assertEquals(2, sm.extentCount());

        final Answer otherSession = createStream(SESSION + 1, createId, "s");
        assertEquals(ManagerStatus.DUPLICATE_NAME, otherSession.status(), "de-dup is per session");

        sm.onSessionClose(SESSION);
        assertEquals(ManagerStatus.DUPLICATE_NAME, createStream(SESSION, createId, "s").status());
    }

    @Test
    void pipelinedKvWritesAreEachAnsweredAsTheFirstTimeWithinTheWindowAcrossARestore()
    {
        final int window = ManagerStateMachine.MAX_SESSION_ANSWERS;
        final List<byte[]> puts = new ArrayList<>();
        final List<byte[]> answers = new ArrayList<>();
        final long firstId = correlationId + 1;
        for (int i = 0; i < window + 3; i++)
        {
            final int length = HEADER + new KvPutRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
                .correlationId(++correlationId).leaseId(0).key("k" + i).putValue(new byte[]{ (byte)i }, 0, 1)
                .encodedLength();
            puts.add(bytes(length));
            answers.add(answerBytes(applyCommand(SESSION, length)));
        }
        final long revision = sm.revision();

        // A retry of any of the last MAX_SESSION_ANSWERS writes gets the first answer and changes nothing, also
        // after a snapshot and restore (a failover); older ones are STALE_REQUEST.
        final ManagerStateMachine restored = new ManagerStateMachine();
        restore(restored, snapshot(sm));
        assertEquals(sm.canonicalDump(), restored.canonicalDump());
        for (final ManagerStateMachine machine : List.of(sm, restored))
        {
            for (int i = puts.size() - 1; i >= 0; i--)
            {
                final byte[] put = puts.get(i);
                final int length = machine.onCommand(SESSION, new UnsafeBuffer(put), 0, put.length, timeMs, response, 0);
                if (i >= puts.size() - window)
                {
                    assertArrayEquals(answers.get(i), answerBytes(length), "retry of correlationId " + (firstId + i));
                }
                else
                {
                    assertEquals(ManagerStatus.STALE_REQUEST, new ManagerErrorResponseDecoder()
                        .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder()).status());
                }
            }
            assertEquals(revision, machine.revision(), "no retry applied again");
        }
    }

    private byte[] answerBytes(final int length)
    {
        final byte[] copy = new byte[length];
        response.getBytes(0, copy);
        return copy;
    }

    @Test
    void clusterStatusListsNodesAndCounts()
    {
        registerNodes(4);
        createStream(SESSION, ++correlationId, "a");
        createStream(SESSION, ++correlationId, "b");
        final int length = apply(SESSION, encodeClusterStatus(++correlationId));
        final ClusterStatusResponseDecoder decoder = new ClusterStatusResponseDecoder()
            .wrapAndApplyHeader(response, 0, new MessageHeaderDecoder());
        assertEquals(correlationId, decoder.correlationId());
        decoder.memberId();
        decoder.logPosition();
        assertEquals(2, decoder.streamCount());
        assertEquals(2, decoder.extentCount());
        final List<Integer> ids = new ArrayList<>();
        for (final ClusterStatusResponseDecoder.NodesDecoder node : decoder.nodes())
        {
            ids.add(node.nodeId());
            node.diskCount();
            node.capacityBytes();
            assertEquals(1_000, node.registeredAtMs());
            assertEquals("127.0.0.1:" + (9000 + node.nodeId()), node.endpoint());
        }
        assertEquals(List.of(1, 2, 3, 4), ids);
        assertTrue(length > HEADER);
    }

    @Test
    void nameLimits()
    {
        registerNodes(3);
        assertEquals(ManagerStatus.OK, createStream(SESSION, ++correlationId, "x".repeat(256)).status());
        final Answer tooLong = createStream(SESSION, ++correlationId, "y".repeat(257));
        assertEquals(ManagerStatus.BAD_REQUEST, tooLong.status());
        assertTrue(tooLong.message().contains("256"), tooLong.message());
        assertEquals(ManagerStatus.BAD_REQUEST, createStream(SESSION, ++correlationId, "").status());
        assertEquals(1, sm.streamCount());
    }

    // ----------------------------------------------------------------------------------------------------------
    // Malformed input
    // ----------------------------------------------------------------------------------------------------------

    @Test
    void everyTruncationOfEveryCommandIsRefusedWithoutStateChange()
    {
        registerNodes(3);
        final Answer created = createStream(SESSION, ++correlationId, "base");
        final List<byte[]> commands = List.of(
            bytes(encodeRegisterNode(++correlationId, 50, "host:1234")),
            bytes(encodeCreateStream(++correlationId, "another-stream")),
            bytes(encodeAllocateExtent(++correlationId, created.streamId(), created.extents().get(0).extentId(), 9)),
            bytes(encodeStreamInfo(++correlationId, created.streamId())),
            bytes(encodeClusterStatus(++correlationId)));
        final String before = sm.canonicalDump();
        for (final byte[] full : commands)
        {
            for (int length = 0; length < full.length; length++)
            {
                final Answer answer = applyBytes(SESSION + 1, full, length);
                assertEquals(ManagerStatus.BAD_REQUEST, answer.status(), "truncated to " + length);
                assertEquals(ManagerErrorResponseDecoder.TEMPLATE_ID, answer.templateId());
                assertEquals(before, sm.canonicalDump());
            }
        }
    }

    @Test
    void wrongSchemaUnknownTemplateAndShortBlockAreRefused()
    {
        final byte[] cmd = bytes(encodeStreamInfo(1, 1));
        final UnsafeBuffer view = new UnsafeBuffer(cmd);

        view.putShort(4, (short)999, ByteOrder.LITTLE_ENDIAN); // schemaId
        assertTrue(applyBytes(SESSION, cmd, cmd.length).message().contains("schemaId"));

        view.putShort(4, (short)MessageHeaderDecoder.SCHEMA_ID, ByteOrder.LITTLE_ENDIAN);
        view.putShort(2, (short)77, ByteOrder.LITTLE_ENDIAN); // templateId
        final Answer unknown = applyBytes(SESSION, cmd, cmd.length);
        assertTrue(unknown.message().contains("templateId 77"), unknown.message());
        assertEquals(1, unknown.correlationId(), "correlationId read when present");

        view.putShort(2, (short)StreamInfoRequestEncoder.TEMPLATE_ID, ByteOrder.LITTLE_ENDIAN);
        view.putShort(0, (short)8, ByteOrder.LITTLE_ENDIAN); // blockLength too small
        assertTrue(applyBytes(SESSION, cmd, cmd.length).message().contains("blockLength"));

        final byte[] create = bytes(encodeCreateStream(5, "abc"));
        new UnsafeBuffer(create).putInt(HEADER + CreateStreamRequestEncoder.BLOCK_LENGTH, -1, ByteOrder.LITTLE_ENDIAN);
        final Answer huge = applyBytes(SESSION, create, create.length);
        assertEquals(ManagerStatus.BAD_REQUEST, huge.status());
        assertTrue(huge.message().contains("limit"), huge.message());

        final byte[] badUtf8 = bytes(encodeCreateStream(6, "abc"));
        badUtf8[HEADER + CreateStreamRequestEncoder.BLOCK_LENGTH + 4] = (byte)0xC3; // start of a 2-byte sequence
        badUtf8[HEADER + CreateStreamRequestEncoder.BLOCK_LENGTH + 5] = (byte)0x41;
        registerNodes(3);
        assertEquals(ManagerStatus.BAD_REQUEST, applyBytes(SESSION, badUtf8, badUtf8.length).status());
        assertEquals(0, sm.streamCount());
    }

    @Test
    void randomJunkIsRefusedWithoutStateChange()
    {
        final long seed = 0xCA1A;
        final Random random = new Random(seed);
        registerNodes(3);
        createStream(SESSION, ++correlationId, "s");
        final String before = sm.canonicalDump();
        for (int i = 0; i < 5_000; i++)
        {
            final byte[] junk = new byte[random.nextInt(200)];
            random.nextBytes(junk);
            final Answer answer = applyBytes(SESSION, junk, junk.length);
            assertEquals(ManagerStatus.BAD_REQUEST, answer.status(), "seed " + seed + " case " + i);
        }
        assertEquals(before, sm.canonicalDump(), "seed " + seed);
    }

    @Test
    void structuredFuzzNeverThrowsAndKeepsInvariants()
    {
        final long seed = 0xF022;
        final Random random = new Random(seed);
        registerNodes(4);
        final Answer created = createStream(SESSION, ++correlationId, "s");
        final List<byte[]> valid = List.of(
            bytes(encodeRegisterNode(1, 9, "h:9")),
            bytes(encodeCreateStream(2, "t")),
            bytes(encodeAllocateExtent(3, created.streamId(), created.extents().get(0).extentId(), 1)),
            bytes(encodeStreamInfo(4, created.streamId())),
            bytes(encodeClusterStatus(5)));
        for (int i = 0; i < 5_000; i++)
        {
            final byte[] cmd = valid.get(random.nextInt(valid.size())).clone();
            final int flips = 1 + random.nextInt(4);
            for (int f = 0; f < flips; f++)
            {
                final int index = random.nextInt(cmd.length);
                cmd[index] = (byte)(cmd[index] ^ (1 << random.nextInt(8)));
            }
            final int length = random.nextInt(4) == 0 ? random.nextInt(cmd.length + 1) : cmd.length;
            applyBytes(random.nextInt(3), cmd, length);
        }
        sm.verifyInvariants();
    }

    // ----------------------------------------------------------------------------------------------------------
    // Snapshots
    // ----------------------------------------------------------------------------------------------------------

    @Test
    void snapshotRoundTripOfRandomHistories()
    {
        for (long seed = 1; seed <= 25; seed++)
        {
            final ManagerStateMachineTest history = new ManagerStateMachineTest();
            history.runRandomHistory(new Random(seed), 200);
            history.sm.verifyInvariants();

            final ManagerStateMachine restored = new ManagerStateMachine();
            final List<byte[]> messages = snapshot(history.sm);
            restore(restored, messages);
            assertEquals(history.sm.canonicalDump(), restored.canonicalDump(), "seed " + seed);

            // The restored machine must also behave the same from here on.
            final Random next = new Random(seed * 31);
            final ManagerStateMachineTest continued = new ManagerStateMachineTest();
            restore(continued.sm, messages);
            continued.correlationId = 1_000_000;
            continued.timeMs = history.timeMs;
            history.correlationId = 1_000_000;
            history.runRandomHistory(new Random(seed * 31), 50);
            continued.runRandomHistory(next, 50);
            assertEquals(history.sm.canonicalDump(), continued.sm.canonicalDump(), "seed " + seed + " continued");
        }
    }

    @Test
    void snapshotOfUnknownFormatVersionIsRejected()
    {
        registerNodes(3);
        final List<byte[]> messages = snapshot(sm);
        final byte[] begin = messages.get(0);
        new SnapshotBeginEncoder().wrap(new UnsafeBuffer(begin), HEADER).formatVersion(99);
        final ManagerStateMachine restored = new ManagerStateMachine();
        restored.beginRestore();
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> restored.onSnapshotMessage(new UnsafeBuffer(begin), 0, begin.length));
        assertTrue(ex.getMessage().contains("formatVersion 99"), ex.getMessage());
    }

    @Test
    void snapshotWithMissingEntryIsRejected()
    {
        registerNodes(3);
        createStream(SESSION, ++correlationId, "s");
        final List<byte[]> messages = new ArrayList<>(snapshot(sm));
        messages.remove(1); // a node entry: the extent then names an unregistered node
        assertThrows(IllegalStateException.class, () -> restore(new ManagerStateMachine(), messages));
    }

    private void runRandomHistory(final Random random, final int commands)
    {
        final List<Long> streamIds = new ArrayList<>();
        for (int i = 0; i < commands; i++)
        {
            timeMs += random.nextInt(100);
            final long session = random.nextInt(3);
            final int kind = random.nextInt(10);
            if (kind < 2)
            {
                registerNode(session, ++correlationId, 1 + random.nextInt(6), "h:" + random.nextInt(50));
            }
            else if (kind < 4)
            {
                final Answer a = createStream(session, ++correlationId, "s" + random.nextInt(30));
                if (a.status() == ManagerStatus.OK)
                {
                    streamIds.add(a.streamId());
                }
            }
            else if (kind < 8 && !streamIds.isEmpty())
            {
                final long streamId = streamIds.get(random.nextInt(streamIds.size()));
                final Answer info = streamInfo(++correlationId, streamId);
                final long tail = info.extents().get(info.extents().size() - 1).extentId();
                allocateExtent(session, ++correlationId, streamId, random.nextInt(5) == 0 ? tail - 1 : tail,
                    random.nextInt(1 << 20));
            }
            else if (kind == 8 && correlationId > 2)
            {
                createStream(session, correlationId - random.nextInt(2), "retry"); // a retry or a stale id
            }
            else
            {
                sm.onSessionClose(random.nextInt(3));
            }
        }
    }

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

    private static void restore(final ManagerStateMachine machine, final List<byte[]> messages)
    {
        machine.beginRestore();
        for (int i = 0; i < messages.size(); i++)
        {
            final byte[] message = messages.get(i);
            final boolean done = machine.onSnapshotMessage(new UnsafeBuffer(message), 0, message.length);
            assertEquals(i == messages.size() - 1, done);
        }
        assertFalse(machine.isRestoring());
    }

    // ----------------------------------------------------------------------------------------------------------
    // Encoding helpers
    // ----------------------------------------------------------------------------------------------------------

    private void registerNodes(final int count)
    {
        for (int nodeId = 1; nodeId <= count; nodeId++)
        {
            assertEquals(ManagerStatus.OK,
                registerNode(SESSION, ++correlationId, nodeId, "127.0.0.1:" + (9000 + nodeId)).status());
        }
    }

    private Answer registerNode(final long session, final long corr, final int nodeId, final String endpoint)
    {
        applyCommand(session, encodeRegisterNode(corr, nodeId, endpoint));
        return decode();
    }

    private Answer createStream(final long session, final long corr, final String name)
    {
        applyCommand(session, encodeCreateStream(corr, name));
        return decode();
    }

    private Answer allocateExtent(
        final long session, final long corr, final long streamId, final long tail, final long sealLength)
    {
        applyCommand(session, encodeAllocateExtent(corr, streamId, tail, sealLength));
        return decode();
    }

    private Answer streamInfo(final long corr, final long streamId)
    {
        applyCommand(SESSION, encodeStreamInfo(corr, streamId));
        return decode();
    }

    private int encodeRegisterNode(final long corr, final int nodeId, final String endpoint)
    {
        return HEADER + new RegisterNodeRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).nodeId(nodeId).diskCount(2).capacityBytes(1L << 30).endpoint(endpoint)
            .encodedLength();
    }

    private int encodeCreateStream(final long corr, final String name)
    {
        return HEADER + new CreateStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).name(name).encodedLength();
    }

    private int encodeAllocateExtent(final long corr, final long streamId, final long tail, final long sealLength)
    {
        return HEADER + new AllocateExtentRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).streamId(streamId).tailExtentId(tail).sealLength(sealLength).encodedLength();
    }

    private int encodeAllocateExtent(
        final long corr, final long streamId, final long tail, final long sealLength, final long ownerRevision)
    {
        return HEADER + new AllocateExtentRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).streamId(streamId).tailExtentId(tail).sealLength(sealLength)
            .ownerRevision(ownerRevision).encodedLength();
    }

    private int encodeOpenStream(final long corr, final long streamId)
    {
        return HEADER + new OpenStreamRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).streamId(streamId).encodedLength();
    }

    private int encodeStreamInfo(final long corr, final long streamId)
    {
        return HEADER + new StreamInfoRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).streamId(streamId).encodedLength();
    }

    private int encodeClusterStatus(final long corr)
    {
        return HEADER + new ClusterStatusRequestEncoder().wrapAndApplyHeader(command, 0, headerEncoder)
            .correlationId(corr).encodedLength();
    }

    private byte[] bytes(final int length)
    {
        final byte[] copy = new byte[length];
        command.getBytes(0, copy);
        return copy;
    }

    private int apply(final long session, final int length)
    {
        return applyCommand(session, length);
    }

    private int applyCommand(final long session, final int length)
    {
        final int answerLength = sm.onCommand(session, command, 0, length, timeMs, response, 0);
        assertTrue(answerLength > HEADER && answerLength <= response.capacity());
        return answerLength;
    }

    private Answer applyBytes(final long session, final byte[] bytes, final int length)
    {
        // An exact-size buffer, so a read past the command would fail loudly.
        final DirectBuffer exact = new UnsafeBuffer(bytes, 0, length);
        final int answerLength = sm.onCommand(session, exact, 0, length, timeMs, response, 0);
        assertTrue(answerLength > HEADER && answerLength <= response.capacity());
        return decode();
    }

    private Answer decode()
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(response, 0);
        final int templateId = header.templateId();
        switch (templateId)
        {
            case ManagerErrorResponseDecoder.TEMPLATE_ID ->
            {
                final ManagerErrorResponseDecoder d = new ManagerErrorResponseDecoder().wrapAndApplyHeader(
                    response, 0, header);
                return new Answer(templateId, d.correlationId(), d.status(), -1, "", List.of(), Set.of(),
                    d.errorMessage());
            }
            case RegisterNodeResponseDecoder.TEMPLATE_ID ->
            {
                final RegisterNodeResponseDecoder d = new RegisterNodeResponseDecoder().wrapAndApplyHeader(
                    response, 0, header);
                final long corr = d.correlationId();
                final ManagerStatus status = d.status();
                d.nodeId();
                return new Answer(templateId, corr, status, -1, "", List.of(), Set.of(), d.errorMessage());
            }
            case StreamInfoResponseDecoder.TEMPLATE_ID ->
            {
                final StreamInfoResponseDecoder d = new StreamInfoResponseDecoder().wrapAndApplyHeader(
                    response, 0, header);
                final long corr = d.correlationId();
                final ManagerStatus status = d.status();
                final long streamId = d.streamId();
                lastOwnerRevision = d.ownerRevision();
                final List<ExtentInfo> extents = new ArrayList<>();
                for (final StreamInfoResponseDecoder.ExtentsDecoder e : d.extents())
                {
                    extents.add(new ExtentInfo(e.extentId(), e.sealedLength(),
                        new int[]{ e.replica0(), e.replica1(), e.replica2() }));
                }
                final Set<Integer> nodeIds = new HashSet<>();
                for (final StreamInfoResponseDecoder.NodesDecoder n : d.nodes())
                {
                    nodeIds.add(n.nodeId());
                    assertFalse(n.endpoint().isEmpty());
                }
                final String name = d.name();
                return new Answer(templateId, corr, status, streamId, name, extents, nodeIds, d.errorMessage());
            }
            case ClusterStatusResponseDecoder.TEMPLATE_ID ->
            {
                final ClusterStatusResponseDecoder d = new ClusterStatusResponseDecoder().wrapAndApplyHeader(
                    response, 0, header);
                return new Answer(templateId, d.correlationId(), ManagerStatus.OK, -1, "", List.of(), Set.of(), "");
            }
            default ->
            {
                // Flipped bits may turn a command into one of the newer kinds: any answer of this schema will do.
                assertTrue(templateId >= 50, "unexpected answer templateId " + templateId);
                return new Answer(templateId, response.getLong(MessageHeaderDecoder.ENCODED_LENGTH,
                    java.nio.ByteOrder.LITTLE_ENDIAN), null, -1, "", List.of(), Set.of(), "");
            }
        }
    }
}
