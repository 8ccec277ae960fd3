package io.cairn.manager;

import io.cairn.replication.Verify;
import io.cairn.sbe.manager.AllocateExtentRequestDecoder;
import io.cairn.sbe.manager.ClusterStatusRequestDecoder;
import io.cairn.sbe.manager.ClusterStatusResponseEncoder;
import io.cairn.sbe.manager.CreateStreamRequestDecoder;
import io.cairn.sbe.manager.ExtentEntryDecoder;
import io.cairn.sbe.manager.ExtentEntryEncoder;
import io.cairn.sbe.manager.ManagerErrorResponseEncoder;
import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import io.cairn.sbe.manager.MessageHeaderEncoder;
import io.cairn.sbe.manager.NodeEntryDecoder;
import io.cairn.sbe.manager.NodeEntryEncoder;
import io.cairn.sbe.manager.RegisterNodeRequestDecoder;
import io.cairn.sbe.manager.RegisterNodeResponseEncoder;
import io.cairn.sbe.manager.SessionEntryDecoder;
import io.cairn.sbe.manager.SessionEntryEncoder;
import io.cairn.sbe.manager.SnapshotBeginDecoder;
import io.cairn.sbe.manager.SnapshotBeginEncoder;
import io.cairn.sbe.manager.SnapshotEndDecoder;
import io.cairn.sbe.manager.SnapshotEndEncoder;
import io.cairn.sbe.manager.StreamEntryDecoder;
import io.cairn.sbe.manager.StreamEntryEncoder;
import io.cairn.sbe.manager.StreamInfoRequestDecoder;
import io.cairn.sbe.manager.StreamInfoResponseEncoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The manager's replicated metadata: registered extent nodes, streams and their ordered extents, and per-session
 * de-duplication state.
 * <p>
 * Pure and deterministic: no Aeron types, no clock (cluster time is passed in), no I/O, no randomness. Every
 * cluster member applies the same commands in the same order and reaches the same state. A command is SBE bytes
 * from the cluster log; the answer is written into the caller's buffer. A malformed command is answered with
 * {@link ManagerStatus#BAD_REQUEST} and changes nothing; only a broken invariant throws.
 * <p>
 * De-duplication: write commands (RegisterNode, CreateStream, AllocateExtent) that were applied record their
 * correlationId per session. A later command of that session whose correlationId is not greater is answered from
 * the current state and not applied again, which makes a client's retry across a leader change safe. Commands that
 * failed changed nothing and are not recorded, so their retry is evaluated again.
 * <p>
 * Not thread-safe: owned by the clustered service thread.
 */
public final class ManagerStateMachine
{
    /** Version of the snapshot layout written by {@link #takeSnapshot(SnapshotSink)}. */
    public static final int SNAPSHOT_FORMAT_VERSION = 1;
    /** Longest stream name, in UTF-8 bytes. */
    public static final int MAX_NAME_LENGTH_BYTES = 256;
    /** Longest node endpoint, in UTF-8 bytes. */
    public static final int MAX_ENDPOINT_LENGTH_BYTES = 256;
    /** Most nodes that may register: bounds placement work and the ClusterStatus answer. */
    public static final int MAX_NODES = 128;
    /** A StreamInfo answer carries at most this many extents, the most recent ones (tail included). */
    public static final int MAX_EXTENTS_PER_RESPONSE = 512;
    /** Answers are at most this long, so the caller's buffer must be at least this long. */
    public static final int RESPONSE_BUFFER_LENGTH_MIN = 64 * 1024;
    /** Value of an id or correlationId that is absent. */
    public static final long NULL_ID = -1;
    /** sealedLength of an extent that is not sealed. */
    public static final long UNSEALED = -1;

    private static final int MAX_ERROR_MESSAGE_LENGTH_BYTES = 512;
    private static final int HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;
    private static final int VAR_LENGTH_FIELD_BYTES = 4;

    /** Sink for snapshot messages; each call is one complete SBE message. */
    @FunctionalInterface
    public interface SnapshotSink
    {
        /**
         * @param buffer holding the message.
         * @param offset of the message header.
         * @param length of the message.
         */
        void write(DirectBuffer buffer, int offset, int length);
    }

    private static final class Node
    {
        final int nodeId;
        String endpoint;
        byte[] endpointBytes;
        int diskCount;
        long capacityBytes;
        long registeredAtMs;
        int extentCount;

        Node(final int nodeId)
        {
            this.nodeId = nodeId;
        }
    }

    private static final class Extent
    {
        final long extentId;
        final long streamId;
        final int[] replicas;
        long sealedLength = UNSEALED;

        Extent(final long extentId, final long streamId, final int[] replicas)
        {
            this.extentId = extentId;
            this.streamId = streamId;
            this.replicas = replicas;
        }
    }

    private static final class Stream
    {
        final long streamId;
        final String name;
        final byte[] nameBytes;
        final ArrayList<Extent> extents = new ArrayList<>();

        Stream(final long streamId, final String name, final byte[] nameBytes)
        {
            this.streamId = streamId;
            this.name = name;
            this.nameBytes = nameBytes;
        }

        Extent tail()
        {
            return extents.get(extents.size() - 1);
        }
    }

    private static final class Session
    {
        long lastCorrelationId = NULL_ID;
        long lastStreamId = NULL_ID;
    }

    // Ordered maps: snapshots and answers list entries in id order, independent of insertion history.
    private final TreeMap<Integer, Node> nodes = new TreeMap<>();
    private final TreeMap<Long, Stream> streams = new TreeMap<>();
    private final HashMap<String, Stream> streamsByName = new HashMap<>();
    private final TreeMap<Long, Session> sessions = new TreeMap<>();
    private long nextId = 1;
    private int extentCount;

    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RegisterNodeRequestDecoder registerNodeDecoder = new RegisterNodeRequestDecoder();
    private final CreateStreamRequestDecoder createStreamDecoder = new CreateStreamRequestDecoder();
    private final AllocateExtentRequestDecoder allocateExtentDecoder = new AllocateExtentRequestDecoder();
    private final StreamInfoRequestDecoder streamInfoDecoder = new StreamInfoRequestDecoder();
    private final ClusterStatusRequestDecoder clusterStatusDecoder = new ClusterStatusRequestDecoder();
    private final RegisterNodeResponseEncoder registerNodeResponseEncoder = new RegisterNodeResponseEncoder();
    private final StreamInfoResponseEncoder streamInfoResponseEncoder = new StreamInfoResponseEncoder();
    private final ClusterStatusResponseEncoder clusterStatusResponseEncoder = new ClusterStatusResponseEncoder();
    private final ManagerErrorResponseEncoder errorResponseEncoder = new ManagerErrorResponseEncoder();

    private final SnapshotBeginEncoder snapshotBeginEncoder = new SnapshotBeginEncoder();
    private final NodeEntryEncoder nodeEntryEncoder = new NodeEntryEncoder();
    private final StreamEntryEncoder streamEntryEncoder = new StreamEntryEncoder();
    private final ExtentEntryEncoder extentEntryEncoder = new ExtentEntryEncoder();
    private final SessionEntryEncoder sessionEntryEncoder = new SessionEntryEncoder();
    private final SnapshotEndEncoder snapshotEndEncoder = new SnapshotEndEncoder();
    private final SnapshotBeginDecoder snapshotBeginDecoder = new SnapshotBeginDecoder();
    private final NodeEntryDecoder nodeEntryDecoder = new NodeEntryDecoder();
    private final StreamEntryDecoder streamEntryDecoder = new StreamEntryDecoder();
    private final ExtentEntryDecoder extentEntryDecoder = new ExtentEntryDecoder();
    private final SessionEntryDecoder sessionEntryDecoder = new SessionEntryDecoder();
    private final SnapshotEndDecoder snapshotEndDecoder = new SnapshotEndDecoder();
    private final UnsafeBuffer snapshotBuffer = new UnsafeBuffer(new byte[1024]);

    private final byte[] varBytes = new byte[Math.max(MAX_NAME_LENGTH_BYTES, MAX_ENDPOINT_LENGTH_BYTES)];
    private final CharsetDecoder utf8Decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final int[] placementNodeIds = new int[MAX_NODES];
    private final int[] placementCounts = new int[MAX_NODES];
    private final int[] placementOut = new int[Placement.REPLICA_COUNT];

    // Snapshot restore progress.
    private boolean restoring;
    private Stream restoringStream;
    private int restoredEntryCount;

    /**
     * Applies one command and writes its answer.
     *
     * @param sessionId     cluster session that sent the command; scope of de-duplication.
     * @param buffer        holding the command.
     * @param offset        of the command's message header.
     * @param length        of the command in bytes.
     * @param clusterTimeMs cluster time at which the command is applied.
     * @param out           receives the answer at {@code outOffset}; at least {@link #RESPONSE_BUFFER_LENGTH_MIN}
     *                      bytes from there.
     * @param outOffset     where the answer starts.
     * @return length of the answer in bytes.
     */
    public int onCommand(
        final long sessionId,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        Verify.verify(out.capacity() - outOffset >= RESPONSE_BUFFER_LENGTH_MIN, "response buffer too small");
        Verify.verify(!restoring, "command while a snapshot restore is incomplete");
        if (length < HEADER_LENGTH || offset < 0 || offset + length > buffer.capacity())
        {
            return writeError(out, outOffset, NULL_ID, "truncated: " + length + " bytes is shorter than a header");
        }

        headerDecoder.wrap(buffer, offset);
        final int schemaId = headerDecoder.schemaId();
        final int templateId = headerDecoder.templateId();
        final int blockLength = headerDecoder.blockLength();
        final int version = headerDecoder.version();
        final int bodyOffset = offset + HEADER_LENGTH;
        final int end = offset + length;
        final long correlationId = blockLength >= Long.BYTES && bodyOffset + Long.BYTES <= end ?
            buffer.getLong(bodyOffset, ByteOrder.LITTLE_ENDIAN) : NULL_ID;

        if (schemaId != MessageHeaderDecoder.SCHEMA_ID)
        {
            return writeError(out, outOffset, NULL_ID,
                "wrong schemaId " + schemaId + ", expected " + MessageHeaderDecoder.SCHEMA_ID);
        }
        if (bodyOffset + blockLength > end)
        {
            return writeError(out, outOffset, NULL_ID,
                "truncated: blockLength " + blockLength + " exceeds the " + length + " byte message");
        }
        final int minBlockLength = minBlockLength(templateId);
        if (minBlockLength < 0)
        {
            return writeError(out, outOffset, correlationId, "unknown templateId " + templateId);
        }
        if (blockLength < minBlockLength)
        {
            return writeError(out, outOffset, correlationId,
                "blockLength " + blockLength + " < " + minBlockLength + " for templateId " + templateId);
        }

        return switch (templateId)
        {
            case RegisterNodeRequestDecoder.TEMPLATE_ID -> onRegisterNode(
                sessionId, buffer, bodyOffset, blockLength, version, end, clusterTimeMs, out, outOffset);
            case CreateStreamRequestDecoder.TEMPLATE_ID -> onCreateStream(
                sessionId, buffer, bodyOffset, blockLength, version, end, out, outOffset);
            case AllocateExtentRequestDecoder.TEMPLATE_ID -> onAllocateExtent(
                sessionId, buffer, bodyOffset, blockLength, version, out, outOffset);
            case StreamInfoRequestDecoder.TEMPLATE_ID -> onStreamInfo(
                buffer, bodyOffset, blockLength, version, out, outOffset);
            default -> onClusterStatus(buffer, bodyOffset, blockLength, version, out, outOffset);
        };
    }

    /**
     * Forgets a closed session's de-duplication state: a closed session cannot retry.
     *
     * @param sessionId of the closed cluster session.
     */
    public void onSessionClose(final long sessionId)
    {
        sessions.remove(sessionId);
    }

    private static int minBlockLength(final int templateId)
    {
        return switch (templateId)
        {
            case RegisterNodeRequestDecoder.TEMPLATE_ID -> RegisterNodeRequestDecoder.BLOCK_LENGTH;
            case CreateStreamRequestDecoder.TEMPLATE_ID -> CreateStreamRequestDecoder.BLOCK_LENGTH;
            case AllocateExtentRequestDecoder.TEMPLATE_ID -> AllocateExtentRequestDecoder.BLOCK_LENGTH;
            case StreamInfoRequestDecoder.TEMPLATE_ID -> StreamInfoRequestDecoder.BLOCK_LENGTH;
            case ClusterStatusRequestDecoder.TEMPLATE_ID -> ClusterStatusRequestDecoder.BLOCK_LENGTH;
            default -> -1;
        };
    }

    private int onRegisterNode(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final long clusterTimeMs,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final RegisterNodeRequestDecoder decoder = registerNodeDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final int nodeId = decoder.nodeId();
        final int diskCount = decoder.diskCount();
        final long capacityBytes = decoder.capacityBytes();
        final int endpointLength = varLength(buffer, decoder.limit(), end, MAX_ENDPOINT_LENGTH_BYTES);
        if (endpointLength < 0)
        {
            return writeError(out, outOffset, correlationId, varLengthError("endpoint", endpointLength,
                MAX_ENDPOINT_LENGTH_BYTES));
        }
        decoder.getEndpoint(varBytes, 0, endpointLength);

        if (isDuplicate(sessionId, correlationId))
        {
            return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.OK, nodeId, "");
        }
        final String endpoint = decodeUtf8(varBytes, endpointLength);
        final String invalid = nodeId <= 0 ? "nodeId must be > 0, was " + nodeId :
            diskCount <= 0 ? "diskCount must be > 0, was " + diskCount :
            capacityBytes < 0 ? "capacityBytes must be >= 0, was " + capacityBytes :
            endpoint == null ? "endpoint is not valid UTF-8" :
            endpoint.isEmpty() ? "endpoint is empty" : null;
        if (invalid != null)
        {
            return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, nodeId, invalid);
        }

        Node node = nodes.get(nodeId);
        if (node == null)
        {
            if (nodes.size() >= MAX_NODES)
            {
                return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, nodeId,
                    "node limit of " + MAX_NODES + " reached");
            }
            node = new Node(nodeId);
            nodes.put(nodeId, node);
        }
        node.endpoint = endpoint;
        node.endpointBytes = endpoint.getBytes(StandardCharsets.UTF_8);
        node.diskCount = diskCount;
        node.capacityBytes = capacityBytes;
        node.registeredAtMs = clusterTimeMs;
        recordApplied(sessionId, correlationId, NULL_ID, false);

        return writeRegisterNodeResponse(out, outOffset, correlationId, ManagerStatus.OK, nodeId, "");
    }

    private int onCreateStream(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final int end,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final CreateStreamRequestDecoder decoder = createStreamDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final int nameLength = varLength(buffer, decoder.limit(), end, MAX_NAME_LENGTH_BYTES);
        if (nameLength < 0)
        {
            return writeError(out, outOffset, correlationId, varLengthError("name", nameLength, MAX_NAME_LENGTH_BYTES));
        }
        decoder.getName(varBytes, 0, nameLength);

        if (isDuplicate(sessionId, correlationId))
        {
            return writeDuplicateAnswer(sessionId, correlationId, out, outOffset);
        }
        final String name = decodeUtf8(varBytes, nameLength);
        if (name == null || name.isEmpty())
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, NULL_ID,
                name == null ? "stream name is not valid UTF-8" : "stream name is empty");
        }
        if (streamsByName.containsKey(name))
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.DUPLICATE_NAME,
                streamsByName.get(name).streamId, "a stream named '" + name + "' already exists");
        }
        if (!placeReplicas(nextId + 1))
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NOT_ENOUGH_NODES, NULL_ID,
                notEnoughNodesMessage());
        }

        final Stream stream = new Stream(nextId++, name, name.getBytes(StandardCharsets.UTF_8));
        streams.put(stream.streamId, stream);
        streamsByName.put(name, stream);
        appendExtent(stream);
        recordApplied(sessionId, correlationId, stream.streamId, true);
        verifyStream(stream);

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private int onAllocateExtent(
        final long sessionId,
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final AllocateExtentRequestDecoder decoder =
            allocateExtentDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final long streamId = decoder.streamId();
        final long tailExtentId = decoder.tailExtentId();
        final long sealLength = decoder.sealLength();

        if (isDuplicate(sessionId, correlationId))
        {
            return writeDuplicateAnswer(sessionId, correlationId, out, outOffset);
        }
        final Stream stream = streams.get(streamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_STREAM, streamId,
                "no stream with id " + streamId);
        }
        if (sealLength < 0)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, streamId,
                "sealLength must be >= 0, was " + sealLength);
        }
        final Extent tail = stream.tail();
        if (tail.extentId != tailExtentId)
        {
            return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.STALE_TAIL, stream,
                "extent " + tailExtentId + " is not the tail of stream " + streamId + "; the tail is " +
                tail.extentId);
        }
        if (!placeReplicas(nextId))
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NOT_ENOUGH_NODES, streamId,
                notEnoughNodesMessage());
        }

        tail.sealedLength = sealLength;
        appendExtent(stream);
        recordApplied(sessionId, correlationId, streamId, true);
        verifyStream(stream);

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private int onStreamInfo(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final StreamInfoRequestDecoder decoder = streamInfoDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();
        final long streamId = decoder.streamId();
        final Stream stream = streams.get(streamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.NO_SUCH_STREAM, streamId,
                "no stream with id " + streamId);
        }

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private int onClusterStatus(
        final DirectBuffer buffer,
        final int bodyOffset,
        final int blockLength,
        final int version,
        final MutableDirectBuffer out,
        final int outOffset)
    {
        final ClusterStatusRequestDecoder decoder =
            clusterStatusDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long correlationId = decoder.correlationId();

        final ClusterStatusResponseEncoder encoder = clusterStatusResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .memberId(-1)
            .logPosition(-1)
            .streamCount(streams.size())
            .extentCount(extentCount);
        final ClusterStatusResponseEncoder.NodesEncoder nodesEncoder = encoder.nodesCount(nodes.size());
        for (final Node node : nodes.values())
        {
            nodesEncoder.next()
                .nodeId(node.nodeId)
                .diskCount(node.diskCount)
                .capacityBytes(node.capacityBytes)
                .registeredAtMs(node.registeredAtMs)
                .putEndpoint(node.endpointBytes, 0, node.endpointBytes.length);
        }

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private boolean isDuplicate(final long sessionId, final long correlationId)
    {
        final Session session = sessions.get(sessionId);
        return session != null && correlationId <= session.lastCorrelationId;
    }

    private void recordApplied(
        final long sessionId, final long correlationId, final long streamId, final boolean updatesStream)
    {
        Session session = sessions.get(sessionId);
        if (session == null)
        {
            session = new Session();
            sessions.put(sessionId, session);
        }
        session.lastCorrelationId = correlationId;
        if (updatesStream)
        {
            session.lastStreamId = streamId;
        }
    }

    private int writeDuplicateAnswer(
        final long sessionId, final long correlationId, final MutableDirectBuffer out, final int outOffset)
    {
        final Session session = sessions.get(sessionId);
        final Stream stream = streams.get(session.lastStreamId);
        if (stream == null)
        {
            return writeStreamError(out, outOffset, correlationId, ManagerStatus.BAD_REQUEST, NULL_ID,
                "correlationId " + correlationId + " is not above the last applied " + session.lastCorrelationId +
                " and that command named no stream");
        }

        return writeStreamInfo(out, outOffset, correlationId, stream);
    }

    private boolean placeReplicas(final long newExtentId)
    {
        int count = 0;
        for (final Node node : nodes.values())
        {
            placementNodeIds[count] = node.nodeId;
            placementCounts[count] = node.extentCount;
            count++;
        }

        return Placement.place(placementNodeIds, placementCounts, count, newExtentId, placementOut);
    }

    /** Appends an extent placed by the preceding successful {@link #placeReplicas(long)}. */
    private void appendExtent(final Stream stream)
    {
        final Extent extent = new Extent(nextId++, stream.streamId, placementOut.clone());
        for (final int nodeId : extent.replicas)
        {
            nodes.get(nodeId).extentCount++;
        }
        stream.extents.add(extent);
        extentCount++;
    }

    private String notEnoughNodesMessage()
    {
        return "need " + Placement.REPLICA_COUNT + " registered nodes to place an extent, have " + nodes.size();
    }

    private void verifyStream(final Stream stream)
    {
        final List<Extent> extents = stream.extents;
        Verify.verify(!extents.isEmpty(), "stream has an extent", stream.streamId);
        for (int i = 0, last = extents.size() - 1; i <= last; i++)
        {
            final Extent extent = extents.get(i);
            Verify.verify(extent.streamId == stream.streamId, "extent belongs to its stream", extent.extentId);
            Verify.verify(i == last ? extent.sealedLength == UNSEALED : extent.sealedLength >= 0,
                "only the tail of a stream is unsealed; extent", extent.extentId);
            final int[] r = extent.replicas;
            Verify.verify(r.length == Placement.REPLICA_COUNT && r[0] != r[1] && r[0] != r[2] && r[1] != r[2],
                "replicas of extent are distinct", extent.extentId);
            for (final int nodeId : r)
            {
                Verify.verify(nodes.containsKey(nodeId), "replica node is registered", nodeId);
            }
            Verify.verify(extent.extentId < nextId, "extent id was allocated", extent.extentId);
        }
    }

    /**
     * Checks every invariant of the whole state; cheap enough for tests and after a snapshot restore.
     *
     * @throws IllegalStateException naming the first invariant that does not hold.
     */
    public void verifyInvariants()
    {
        int extents = 0;
        final Map<Integer, Integer> countsByNode = new HashMap<>();
        final TreeSet<Long> ids = new TreeSet<>();
        for (final Stream stream : streams.values())
        {
            verifyStream(stream);
            Verify.verify(streamsByName.get(stream.name) == stream, "stream is indexed by name", stream.streamId);
            Verify.verify(stream.streamId < nextId && ids.add(stream.streamId), "stream id unique", stream.streamId);
            for (final Extent extent : stream.extents)
            {
                Verify.verify(ids.add(extent.extentId), "extent id unique", extent.extentId);
                for (final int nodeId : extent.replicas)
                {
                    countsByNode.merge(nodeId, 1, Integer::sum);
                }
            }
            extents += stream.extents.size();
        }
        Verify.verify(streamsByName.size() == streams.size(), "name index size", streamsByName.size());
        Verify.verify(extents == extentCount, "extentCount matches the streams", extentCount);
        for (final Node node : nodes.values())
        {
            Verify.verify(node.extentCount == countsByNode.getOrDefault(node.nodeId, 0),
                "extent count of node matches its extents", node.nodeId);
        }
    }

    private static int varLength(final DirectBuffer buffer, final int limit, final int end, final int maxLength)
    {
        if (limit + VAR_LENGTH_FIELD_BYTES > end)
        {
            return -1;
        }
        final long length = buffer.getInt(limit, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        if (length > maxLength)
        {
            return -2;
        }
        if (limit + VAR_LENGTH_FIELD_BYTES + length > end)
        {
            return -3;
        }

        return (int)length;
    }

    private static String varLengthError(final String field, final int code, final int maxLength)
    {
        return switch (code)
        {
            case -1 -> "truncated: no length for " + field;
            case -2 -> field + " longer than the limit of " + maxLength + " bytes";
            default -> "truncated: " + field + " extends beyond the message";
        };
    }

    private String decodeUtf8(final byte[] bytes, final int length)
    {
        try
        {
            return utf8Decoder.reset().decode(ByteBuffer.wrap(bytes, 0, length)).toString();
        }
        catch (final CharacterCodingException ex)
        {
            return null;
        }
    }

    private int writeError(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final String message)
    {
        final ManagerErrorResponseEncoder encoder = errorResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(ManagerStatus.BAD_REQUEST);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeRegisterNodeResponse(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final int nodeId,
        final String message)
    {
        final RegisterNodeResponseEncoder encoder = registerNodeResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .nodeId(nodeId);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeStreamError(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final long streamId,
        final String message)
    {
        final StreamInfoResponseEncoder encoder = streamInfoResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .streamId(streamId);
        encoder.extentsCount(0);
        encoder.nodesCount(0);
        encoder.putName(varBytes, 0, 0);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    private int writeStreamInfo(
        final MutableDirectBuffer out, final int outOffset, final long correlationId, final Stream stream)
    {
        return writeStreamInfo(out, outOffset, correlationId, ManagerStatus.OK, stream, "");
    }

    private int writeStreamInfo(
        final MutableDirectBuffer out,
        final int outOffset,
        final long correlationId,
        final ManagerStatus status,
        final Stream stream,
        final String message)
    {
        final StreamInfoResponseEncoder encoder = streamInfoResponseEncoder
            .wrapAndApplyHeader(out, outOffset, headerEncoder)
            .correlationId(correlationId)
            .status(status)
            .streamId(stream.streamId);

        final ArrayList<Extent> extents = stream.extents;
        final int first = Math.max(0, extents.size() - MAX_EXTENTS_PER_RESPONSE);
        final StreamInfoResponseEncoder.ExtentsEncoder extentsEncoder = encoder.extentsCount(extents.size() - first);
        final TreeSet<Integer> nodeIds = new TreeSet<>();
        for (int i = first; i < extents.size(); i++)
        {
            final Extent extent = extents.get(i);
            extentsEncoder.next()
                .extentId(extent.extentId)
                .sealedLength(extent.sealedLength)
                .replica0(extent.replicas[0])
                .replica1(extent.replicas[1])
                .replica2(extent.replicas[2]);
            for (final int nodeId : extent.replicas)
            {
                nodeIds.add(nodeId);
            }
        }

        final StreamInfoResponseEncoder.NodesEncoder nodesEncoder = encoder.nodesCount(nodeIds.size());
        for (final int nodeId : nodeIds)
        {
            final Node node = nodes.get(nodeId);
            nodesEncoder.next().nodeId(nodeId).putEndpoint(node.endpointBytes, 0, node.endpointBytes.length);
        }
        encoder.putName(stream.nameBytes, 0, stream.nameBytes.length);
        putBounded(message, (bytes, length) -> encoder.putErrorMessage(bytes, 0, length));

        return HEADER_LENGTH + encoder.encodedLength();
    }

    @FunctionalInterface
    private interface BytesConsumer
    {
        void accept(byte[] bytes, int length);
    }

    private static void putBounded(final String message, final BytesConsumer consumer)
    {
        // Error messages quote client input, so bound them to keep every answer within its buffer.
        final byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        consumer.accept(bytes, Math.min(bytes.length, MAX_ERROR_MESSAGE_LENGTH_BYTES));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Snapshots
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * Writes the whole state as SBE messages: SnapshotBegin, NodeEntry*, (StreamEntry, ExtentEntry*)*,
     * SessionEntry*, SnapshotEnd.
     *
     * @param sink receives each message in order.
     */
    public void takeSnapshot(final SnapshotSink sink)
    {
        Verify.verify(!restoring, "snapshot while a restore is incomplete");
        int entryCount = 0;
        snapshotBeginEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
            .formatVersion(SNAPSHOT_FORMAT_VERSION)
            .nextStreamId(nextId)
            .nextExtentId(nextId);
        sink.write(snapshotBuffer, 0, HEADER_LENGTH + snapshotBeginEncoder.encodedLength());

        for (final Node node : nodes.values())
        {
            nodeEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .nodeId(node.nodeId)
                .diskCount(node.diskCount)
                .capacityBytes(node.capacityBytes)
                .registeredAtMs(node.registeredAtMs)
                .putEndpoint(node.endpointBytes, 0, node.endpointBytes.length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + nodeEntryEncoder.encodedLength());
            entryCount++;
        }

        for (final Stream stream : streams.values())
        {
            streamEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .streamId(stream.streamId)
                .putName(stream.nameBytes, 0, stream.nameBytes.length);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + streamEntryEncoder.encodedLength());
            entryCount++;
            for (final Extent extent : stream.extents)
            {
                extentEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                    .extentId(extent.extentId)
                    .streamId(extent.streamId)
                    .sealedLength(extent.sealedLength)
                    .replica0(extent.replicas[0])
                    .replica1(extent.replicas[1])
                    .replica2(extent.replicas[2]);
                sink.write(snapshotBuffer, 0, HEADER_LENGTH + extentEntryEncoder.encodedLength());
                entryCount++;
            }
        }

        for (final Map.Entry<Long, Session> entry : sessions.entrySet())
        {
            sessionEntryEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder)
                .clusterSessionId(entry.getKey())
                .lastCorrelationId(entry.getValue().lastCorrelationId)
                .lastStreamId(entry.getValue().lastStreamId);
            sink.write(snapshotBuffer, 0, HEADER_LENGTH + sessionEntryEncoder.encodedLength());
            entryCount++;
        }

        snapshotEndEncoder.wrapAndApplyHeader(snapshotBuffer, 0, headerEncoder).entryCount(entryCount);
        sink.write(snapshotBuffer, 0, HEADER_LENGTH + snapshotEndEncoder.encodedLength());
    }

    /**
     * Starts restoring from a snapshot: clears the state; feed each message to {@link #onSnapshotMessage}.
     */
    public void beginRestore()
    {
        nodes.clear();
        streams.clear();
        streamsByName.clear();
        sessions.clear();
        nextId = 1;
        extentCount = 0;
        restoring = true;
        restoringStream = null;
        restoredEntryCount = -1;
    }

    /**
     * Applies one snapshot message during a restore.
     *
     * @param buffer holding the message.
     * @param offset of its header.
     * @param length of the message.
     * @return true once SnapshotEnd was applied and the restore is complete.
     * @throws IllegalStateException when the snapshot is malformed, of an unknown format version, or out of order.
     */
    public boolean onSnapshotMessage(final DirectBuffer buffer, final int offset, final int length)
    {
        Verify.verify(restoring, "snapshot message outside a restore");
        if (length < HEADER_LENGTH)
        {
            throw new IllegalStateException("snapshot message of " + length + " bytes is shorter than a header");
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            throw new IllegalStateException("snapshot message has schemaId " + headerDecoder.schemaId() +
                ", expected " + MessageHeaderDecoder.SCHEMA_ID);
        }
        final int templateId = headerDecoder.templateId();
        final int bodyOffset = offset + HEADER_LENGTH;
        final int blockLength = headerDecoder.blockLength();
        final int version = headerDecoder.version();
        final boolean begun = restoredEntryCount >= 0;
        if (templateId != SnapshotBeginDecoder.TEMPLATE_ID && !begun)
        {
            throw new IllegalStateException("snapshot does not start with SnapshotBegin: templateId " + templateId);
        }

        switch (templateId)
        {
            case SnapshotBeginDecoder.TEMPLATE_ID -> restoreBegin(buffer, bodyOffset, blockLength, version, begun);
            case NodeEntryDecoder.TEMPLATE_ID -> restoreNode(buffer, bodyOffset, blockLength, version);
            case StreamEntryDecoder.TEMPLATE_ID -> restoreStream(buffer, bodyOffset, blockLength, version);
            case ExtentEntryDecoder.TEMPLATE_ID -> restoreExtent(buffer, bodyOffset, blockLength, version);
            case SessionEntryDecoder.TEMPLATE_ID -> restoreSession(buffer, bodyOffset, blockLength, version);
            case SnapshotEndDecoder.TEMPLATE_ID ->
            {
                final int expected = snapshotEndDecoder.wrap(buffer, bodyOffset, blockLength, version).entryCount();
                if (expected != restoredEntryCount)
                {
                    throw new IllegalStateException("snapshot has " + restoredEntryCount + " entries, SnapshotEnd says " +
                        expected);
                }
                restoring = false;
                restoringStream = null;
                verifyInvariants();
                return true;
            }
            default -> throw new IllegalStateException("unknown snapshot templateId " + templateId);
        }
        if (templateId != SnapshotBeginDecoder.TEMPLATE_ID)
        {
            restoredEntryCount++;
        }

        return false;
    }

    /**
     * @return true while a restore started by {@link #beginRestore()} has not seen its SnapshotEnd.
     */
    public boolean isRestoring()
    {
        return restoring;
    }

    private void restoreBegin(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version, final boolean begun)
    {
        if (begun)
        {
            throw new IllegalStateException("second SnapshotBegin in one snapshot");
        }
        final SnapshotBeginDecoder decoder = snapshotBeginDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final int formatVersion = decoder.formatVersion();
        if (formatVersion != SNAPSHOT_FORMAT_VERSION)
        {
            throw new IllegalStateException("unknown manager snapshot formatVersion " + formatVersion +
                "; this build reads only version " + SNAPSHOT_FORMAT_VERSION);
        }
        nextId = Math.max(decoder.nextStreamId(), decoder.nextExtentId());
        restoredEntryCount = 0;
    }

    private void restoreNode(final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final NodeEntryDecoder decoder = nodeEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Node node = new Node(decoder.nodeId());
        node.diskCount = decoder.diskCount();
        node.capacityBytes = decoder.capacityBytes();
        node.registeredAtMs = decoder.registeredAtMs();
        node.endpoint = decoder.endpoint();
        node.endpointBytes = node.endpoint.getBytes(StandardCharsets.UTF_8);
        Verify.verify(nodes.put(node.nodeId, node) == null, "snapshot node is unique", node.nodeId);
        Verify.verify(nodes.size() <= MAX_NODES, "snapshot node count within limit", nodes.size());
    }

    private void restoreStream(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final StreamEntryDecoder decoder = streamEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long streamId = decoder.streamId();
        final String name = decoder.name();
        final Stream stream = new Stream(streamId, name, name.getBytes(StandardCharsets.UTF_8));
        Verify.verify(streams.put(streamId, stream) == null, "snapshot stream is unique", streamId);
        Verify.verify(streamsByName.put(name, stream) == null, "snapshot stream name of is unique", streamId);
        restoringStream = stream;
    }

    private void restoreExtent(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        final ExtentEntryDecoder decoder = extentEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final long extentId = decoder.extentId();
        final long streamId = decoder.streamId();
        Verify.verify(restoringStream != null && restoringStream.streamId == streamId,
            "snapshot extent follows its stream", extentId);
        final Extent extent = new Extent(
            extentId, streamId, new int[]{ decoder.replica0(), decoder.replica1(), decoder.replica2() });
        extent.sealedLength = decoder.sealedLength();
        for (final int nodeId : extent.replicas)
        {
            final Node node = nodes.get(nodeId);
            Verify.verify(node != null, "snapshot replica node is registered", nodeId);
            node.extentCount++;
        }
        restoringStream.extents.add(extent);
        extentCount++;
    }

    private void restoreSession(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int version)
    {
        finishRestoringStream();
        final SessionEntryDecoder decoder = sessionEntryDecoder.wrap(buffer, bodyOffset, blockLength, version);
        final Session session = new Session();
        final long sessionId = decoder.clusterSessionId();
        session.lastCorrelationId = decoder.lastCorrelationId();
        session.lastStreamId = decoder.lastStreamId();
        Verify.verify(sessions.put(sessionId, session) == null, "snapshot session is unique", sessionId);
    }

    private void finishRestoringStream()
    {
        if (restoringStream != null)
        {
            verifyStream(restoringStream);
            restoringStream = null;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Inspection
    // ---------------------------------------------------------------------------------------------------------------

    /**
     * @return number of registered nodes.
     */
    public int nodeCount()
    {
        return nodes.size();
    }

    /**
     * @return number of streams.
     */
    public int streamCount()
    {
        return streams.size();
    }

    /**
     * @return number of extents over all streams.
     */
    public int extentCount()
    {
        return extentCount;
    }

    /**
     * A canonical, human-readable text of the whole state: two state machines with equal dumps are equal.
     *
     * @return the dump; allocates, for tests and diagnostics only.
     */
    public String canonicalDump()
    {
        final StringBuilder sb = new StringBuilder(256);
        sb.append("nextId=").append(nextId).append(" extentCount=").append(extentCount).append('\n');
        for (final Node node : nodes.values())
        {
            sb.append("node ").append(node.nodeId).append(" endpoint=").append(node.endpoint)
                .append(" disks=").append(node.diskCount).append(" capacity=").append(node.capacityBytes)
                .append(" registeredAtMs=").append(node.registeredAtMs).append(" extents=").append(node.extentCount)
                .append('\n');
        }
        for (final Stream stream : streams.values())
        {
            sb.append("stream ").append(stream.streamId).append(" name=").append(stream.name).append('\n');
            for (final Extent extent : stream.extents)
            {
                sb.append("  extent ").append(extent.extentId).append(" sealed=").append(extent.sealedLength)
                    .append(" replicas=").append(extent.replicas[0]).append(',').append(extent.replicas[1])
                    .append(',').append(extent.replicas[2]).append('\n');
            }
        }
        for (final Map.Entry<Long, Session> entry : sessions.entrySet())
        {
            sb.append("session ").append(entry.getKey()).append(" lastCorrelationId=")
                .append(entry.getValue().lastCorrelationId).append(" lastStreamId=")
                .append(entry.getValue().lastStreamId).append('\n');
        }

        return sb.toString();
    }
}
