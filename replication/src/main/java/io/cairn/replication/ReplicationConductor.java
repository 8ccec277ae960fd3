package io.cairn.replication;

import io.cairn.replication.ReplicationCounters.Counter;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The extent node's replication protocol: client sessions, extents open as primary, the forwarding of
 * opens and blocks to the two secondaries, and the secondary side of both.
 * <p>
 * Single-threaded and free of I/O and clocks of its own: requests arrive decoded from
 * {@link NodeRequestAdapter} and {@link PeerResponseAdapter}, storage is a {@link ReplicaStore}, messages
 * leave through {@link MessageSink}s from a {@link MessageTransport}, and time is passed to
 * {@link #doWork(long)}. That is what lets tests run three nodes deterministically in one thread.
 * <p>
 * An append is acknowledged OK only once the primary's own write is durable and both secondaries answered
 * OK, and only in offset order. Any secondary refusal or timeout fails the extent on this primary: every
 * append in flight and every later one answers REPLICA_FAILED until the extent is opened again.
 * <p>
 * Fencing: every replica keeps the highest stream owner revision presented for each extent (Open, Append,
 * Replicate, Seal) and refuses older ones with LOCKED_BY_OTHER. A SealExtent first raises that revision, then
 * waits until every write accepted before it is durable, and only then answers its commit length (or seals):
 * so an append of an older owner is either inside every fenced replica's answer or refused by at least one
 * replica and therefore never acknowledged. A retried append (same clientId and requestId) is answered from
 * the primary's window of recent appends instead of written again.
 */
public final class ReplicationConductor implements ReplicaStore.Listener, AutoCloseable
{
    private final Context ctx;
    private final int nodeId;
    private final ReplicaStore store;
    private final MessageTransport transport;
    private final ReplicationCounters counters;
    private final NodeResponsePublisher responses;
    private final PeerRequestPublisher peerRequests;
    private final PendingOps pendingOps;
    private final byte[] responseChannelBytes;

    private final Long2ObjectHashMap<ClientSession> sessionByClientId = new Long2ObjectHashMap<>();
    private final ClientSession[] sessions;
    private int sessionCount;
    private final Int2ObjectHashMap<PeerLink> peerByNodeId = new Int2ObjectHashMap<>();
    private final PeerLink[] peers;
    private int peerCount;
    private final Long2ObjectHashMap<PrimaryExtent> primaryByExtentId = new Long2ObjectHashMap<>();
    private final PrimaryExtent[] primaries;
    private int primaryCount;
    private final PrimaryExtent[] freePrimaries;
    private int freePrimaryCount;

    private final Long2LongHashMap revisionByExtent = new Long2LongHashMap(0);
    private final PendingSeal[] seals;
    private int sealCount;

    private final RecordStaging staging;
    private final Long2ObjectHashMap<RecordStaging.Record> stagingByClientId = new Long2ObjectHashMap<>();
    private final RecordStaging.Record[] freeRecords;
    private int freeRecordCount;

    private long nowNs;
    private long nextCorrelationId = 1;

    /**
     * @param ctx concluded (or concluded here) configuration.
     */
    public ReplicationConductor(final Context ctx)
    {
        this.ctx = ctx.conclude();
        nodeId = ctx.nodeId();
        store = ctx.store();
        transport = ctx.transport();
        counters = ctx.counters();
        responses = new NodeResponsePublisher(ctx.offerRetries());
        peerRequests = new PeerRequestPublisher(ctx.offerRetries());
        pendingOps = new PendingOps(ctx.maxPendingStoreOps());
        responseChannelBytes = ctx.responseChannel().getBytes(StandardCharsets.US_ASCII);
        sessions = new ClientSession[ctx.maxClients()];
        for (int i = 0; i < sessions.length; i++)
        {
            sessions[i] = new ClientSession();
        }
        peers = new PeerLink[ctx.maxPeers()];
        primaries = new PrimaryExtent[ctx.maxOpenExtents()];
        freePrimaries = new PrimaryExtent[ctx.maxOpenExtents()];
        for (int i = 0; i < freePrimaries.length; i++)
        {
            freePrimaries[i] = new PrimaryExtent(ctx.maxInFlightAppends());
        }
        freePrimaryCount = freePrimaries.length;
        staging = new RecordStaging(ctx.maxStagingBytes());
        // One record in reassembly per client plus one being written per open extent.
        freeRecords = new RecordStaging.Record[ctx.maxClients() + ctx.maxOpenExtents()];
        for (int i = 0; i < freeRecords.length; i++)
        {
            freeRecords[i] = new RecordStaging.Record();
        }
        freeRecordCount = freeRecords.length;
        seals = new PendingSeal[ctx.maxPendingSeals()];
        for (int i = 0; i < seals.length; i++)
        {
            seals[i] = new PendingSeal();
        }
    }

    /**
     * @return the configuration.
     */
    public Context context()
    {
        return ctx;
    }

    /**
     * @return this node's counters.
     */
    public ReplicationCounters counters()
    {
        return counters;
    }

    /**
     * One duty cycle: deliver store completions, answer pending Connects, drive peer links, opens and
     * timeouts. Requests decoded by the adapters after this call see the same {@code nowNs}.
     *
     * @param nowNs the current time, from the caller's clock.
     * @return work done.
     */
    public int doWork(final long nowNs)
    {
        this.nowNs = nowNs;
        int work = store.poll(this, ctx.storePollLimit());
        work += checkSessions();
        work += checkPeers();
        work += checkPrimaries();
        work += checkSeals();
        return work;
    }

    /** {@inheritDoc} */
    public void close()
    {
        for (int i = 0; i < sessionCount; i++)
        {
            sessions[i].close();
        }
        for (int i = 0; i < peerCount; i++)
        {
            peers[i].close();
        }
        sessionCount = 0;
        peerCount = 0;
    }

    // ---------------------------------------------------------------- inbound requests

    void onUndecodable()
    {
        counters.increment(Counter.MALFORMED_DROPPED);
    }

    void onMalformed(final long clientId, final long correlationId, final String reason)
    {
        final ClientSession session = sessionByClientId.get(clientId);
        if (null == session)
        {
            counters.increment(Counter.MALFORMED_DROPPED);
            return;
        }
        counters.increment(Counter.MALFORMED_ANSWERED);
        if (!responses.errorResponse(session.sink, correlationId, NodeStatus.BAD_REQUEST, reason))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    void onConnect(final long correlationId, final long clientId, final int responseStreamId, final String channel)
    {
        ClientSession session = sessionByClientId.get(clientId);
        if (null != session && !(channel.equals(session.responseChannel) && responseStreamId == session.responseStreamId))
        {
            removeSession(session);
            session = null;
        }
        if (null == session)
        {
            session = addSession(clientId, responseStreamId, channel);
            if (null == session)
            {
                counters.increment(Counter.CONNECT_REFUSED);
                return;
            }
        }
        session.connectAnswered = false;
        session.connectCorrelationId = correlationId;
        session.connectDeadlineNs = nowNs + ctx.clientConnectTimeoutNs();
        answerConnect(session);
    }

    void onOpenExtent(
        final long correlationId,
        final long clientId,
        final long extentId,
        final long streamId,
        final long ownerRevision,
        final boolean forwarded,
        final int[] nodeIds,
        final String[] endpoints)
    {
        final ClientSession session = knownSession(clientId);
        if (null == session)
        {
            return;
        }
        final String error = validateReplicas(forwarded, nodeIds);
        if (null != error)
        {
            sendOpenResponse(session.sink, correlationId, extentId, NodeStatus.BAD_REQUEST, -1, error);
            return;
        }
        if (!admitRevision(extentId, ownerRevision))
        {
            counters.increment(Counter.FENCED_REFUSALS);
            sendOpenResponse(session.sink, correlationId, extentId, NodeStatus.LOCKED_BY_OTHER, -1,
                lockedMessage(extentId, ownerRevision));
            return;
        }
        if (forwarded)
        {
            openAsSecondary(session, correlationId, extentId, streamId);
        }
        else
        {
            openAsPrimary(session, correlationId, extentId, streamId, ownerRevision, nodeIds, endpoints);
        }
    }

    void onAppend(
        final long correlationId,
        final long clientId,
        final long extentId,
        final long expectedOffset,
        final long ownerRevision,
        final long requestId,
        final int recordLength,
        final int chunkOffset,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer buffer,
        final int payloadOffset,
        final int payloadLength)
    {
        final ClientSession session = knownSession(clientId);
        if (null == session)
        {
            return;
        }
        if (recordLength != payloadLength || 0 != chunkOffset || stagingByClientId.containsKey(clientId))
        {
            onChunk(session, correlationId, extentId, expectedOffset, ownerRevision, requestId, recordLength,
                chunkOffset, metadata, metadataOffset, metadataLength, buffer, payloadOffset, payloadLength);
            return;
        }
        final PrimaryExtent primary = primaryByExtentId.get(extentId);
        if (null != primary && answerRetriedAppend(session, primary, correlationId, requestId))
        {
            return;
        }
        final String message = refuseAppend(primary, ownerRevision);
        if (null != message)
        {
            sendAppendResponse(session.sink, correlationId, extentId, refusalStatus, -1, -1, message);
            return;
        }
        final long end = store.endOffset(extentId);
        final int blockLength = BlockFormat.blockLengthBytes(payloadLength);
        final NodeStatus status = expectedOffset != NodeProtocol.NULL_OFFSET && expectedOffset != end ?
            NodeStatus.WRONG_OFFSET : end + blockLength > store.extentSizeBytes() ?
            NodeStatus.EXTENT_FULL : null != primary.record || primary.isFull(blockLength, ctx.maxInFlightBytes()) ?
            NodeStatus.BUSY : submitPrimaryWrite(clientId, correlationId, extentId, end, BlockFormat.RECORD_WHOLE,
            metadata, metadataOffset, metadataLength, buffer, payloadOffset, payloadLength);
        if (status != NodeStatus.OK)
        {
            if (status == NodeStatus.BUSY)
            {
                counters.increment(Counter.APPENDS_BUSY);
            }
            sendAppendResponse(session.sink, correlationId, extentId, status, -1, end, null);
            if (status == NodeStatus.IO_ERROR)
            {
                failExtent(primary, NodeStatus.IO_ERROR, "local write failed on node " + nodeId);
            }
            return;
        }
        primary.push(end, end + blockLength, clientId, correlationId, requestId, nowNs);
        primary.storeWritesPending++;
        forwardBlock(primary, end, BlockFormat.RECORD_WHOLE, metadata, metadataOffset, metadataLength, buffer,
            payloadOffset, payloadLength);
    }

    /** Set by {@link #refuseAppend} with the status to answer. */
    private NodeStatus refusalStatus;

    /**
     * @return null when the extent takes appends from that owner revision, else why not ({@link #refusalStatus}
     * holds the status).
     */
    private String refuseAppend(final PrimaryExtent primary, final long ownerRevision)
    {
        refusalStatus = checkAppendable(primary);
        if (null != refusalStatus)
        {
            return refusalStatus == NodeStatus.NOT_OPEN ? "extent not open on this primary" : primary.failMessage;
        }
        if (ownerRevision != primary.ownerRevision)
        {
            refusalStatus = ownerRevision < primary.ownerRevision ? NodeStatus.LOCKED_BY_OTHER : NodeStatus.NOT_OPEN;
            return "append with owner revision " + ownerRevision + " to extent opened with revision " +
                primary.ownerRevision;
        }
        return null;
    }

    /**
     * One chunk of a record: checked against the client's record in reassembly (chunks arrive in order on one
     * Aeron stream, so any gap or repeat is an error, not a reordering), copied into staging, and once the last
     * chunk is in, the record starts being written.
     */
    private void onChunk(
        final ClientSession session,
        final long correlationId,
        final long extentId,
        final long expectedOffset,
        final long ownerRevision,
        final long requestId,
        final int recordLength,
        final int chunkOffset,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer buffer,
        final int payloadOffset,
        final int payloadLength)
    {
        RecordStaging.Record record = stagingByClientId.get(session.clientId);
        if (0 == chunkOffset)
        {
            if (null != record)
            {
                // A new record (or a retry) from the same client abandons the one it had not finished sending.
                dropStaged(record);
            }
            final String refusal = checkFirstChunk(recordLength, payloadLength, metadataLength);
            if (null != refusal)
            {
                final boolean busy = refusal.startsWith("staging full");
                if (busy)
                {
                    counters.increment(Counter.APPENDS_BUSY);
                }
                sendAppendResponse(session.sink, correlationId, extentId,
                    busy ? NodeStatus.BUSY : NodeStatus.BAD_REQUEST, -1, -1, refusal);
                return;
            }
            record = freeRecords[--freeRecordCount];
            record.begin(session.clientId, correlationId, requestId, extentId, expectedOffset, ownerRevision,
                recordLength, metadata, metadataOffset, metadataLength);
            // Reserve the whole record now, so a record once started can always be staged to its end.
            while (record.slabCount < record.blockCount)
            {
                record.slab[record.slabCount++] = staging.acquire();
            }
            stagingByClientId.put(session.clientId, record);
        }
        else
        {
            final String error = null == record ? "chunk at " + chunkOffset + " of a record with no first chunk " +
                "(a gap, or the record was dropped)" : checkNextChunk(record, correlationId, extentId, requestId,
                recordLength, chunkOffset, payloadLength, metadataLength);
            if (null != error)
            {
                if (null != record)
                {
                    dropStaged(record);
                }
                sendAppendResponse(session.sink, correlationId, extentId, NodeStatus.BAD_REQUEST, -1, -1, error);
                return;
            }
        }
        buffer.getBytes(payloadOffset, staging.slab(record.slab[chunkOffset / NodeProtocol.MAX_PAYLOAD_BYTES]), 0,
            payloadLength);
        record.stagedBytes += payloadLength;
        if (record.isComplete())
        {
            stagingByClientId.remove(session.clientId);
            startRecord(session, record);
        }
    }

    private String checkFirstChunk(final int recordLength, final int payloadLength, final int metadataLength)
    {
        if (recordLength < 1 || recordLength > NodeProtocol.MAX_RECORD_BYTES)
        {
            return "record length " + recordLength + " must be 1.." + NodeProtocol.MAX_RECORD_BYTES;
        }
        final int expected = Math.min(recordLength, NodeProtocol.MAX_PAYLOAD_BYTES);
        if (payloadLength != expected)
        {
            return "chunk at 0 of a " + recordLength + "-byte record carries " + payloadLength +
                " bytes; expected " + expected;
        }
        if (!staging.canAcquire(NodeProtocol.recordBlocks(recordLength)) || 0 == freeRecordCount)
        {
            return "staging full: " + staging.bytesInUse() + " of " + staging.capacityBytes() +
                " bytes in reassembly on node " + nodeId + "; a " + recordLength + "-byte record does not fit";
        }
        return null;
    }

    private static String checkNextChunk(
        final RecordStaging.Record record,
        final long correlationId,
        final long extentId,
        final long requestId,
        final int recordLength,
        final int chunkOffset,
        final int payloadLength,
        final int metadataLength)
    {
        if (correlationId != record.correlationId || requestId != record.requestId || extentId != record.extentId ||
            recordLength != record.recordLengthBytes)
        {
            return "chunk at " + chunkOffset + " belongs to another record (request " + requestId + ", " +
                recordLength + " bytes) than the one in reassembly (request " + record.requestId + ", " +
                record.recordLengthBytes + " bytes)";
        }
        if (chunkOffset < record.stagedBytes)
        {
            return "duplicate chunk at " + chunkOffset + ": " + record.stagedBytes + " bytes of the record already staged";
        }
        if (chunkOffset > record.stagedBytes)
        {
            return "gap: chunk at " + chunkOffset + ", expected the one at " + record.stagedBytes;
        }
        final int expected = Math.min(recordLength - chunkOffset, NodeProtocol.MAX_PAYLOAD_BYTES);
        if (payloadLength != expected)
        {
            return "chunk at " + chunkOffset + " of a " + recordLength + "-byte record carries " + payloadLength +
                " bytes; expected " + expected;
        }
        if (metadataLength != 0)
        {
            return "chunk at " + chunkOffset + " carries metadata: only the first chunk may";
        }
        return null;
    }

    private void dropStaged(final RecordStaging.Record record)
    {
        if (stagingByClientId.get(record.clientId) == record)
        {
            stagingByClientId.remove(record.clientId);
        }
        releaseSlabs(record, record.released, record.slabCount);
        freeRecords[freeRecordCount++] = record;
    }

    private void releaseSlabs(final RecordStaging.Record record, final int from, final int to)
    {
        for (int b = from; b < to; b++)
        {
            staging.release(record.slab[b]);
        }
        record.released = Math.max(record.released, to);
    }

    /** The whole record is staged: check it against the extent, then write it out block by block. */
    private void startRecord(final ClientSession session, final RecordStaging.Record record)
    {
        final PrimaryExtent primary = primaryByExtentId.get(record.extentId);
        if (null != primary && answerRetriedAppend(session, primary, record.correlationId, record.requestId))
        {
            dropStaged(record);
            return;
        }
        String message = refuseAppend(primary, record.ownerRevision);
        NodeStatus status = refusalStatus;
        if (null == message)
        {
            final long end = store.endOffset(record.extentId);
            status = record.expectedOffset != NodeProtocol.NULL_OFFSET && record.expectedOffset != end ?
                NodeStatus.WRONG_OFFSET : end + record.lengthOnDiskBytes() > store.extentSizeBytes() ?
                NodeStatus.EXTENT_FULL : null != primary.record ? NodeStatus.BUSY : null;
            message = null == status ? null : status + ": record of " + record.recordLengthBytes +
                " bytes at extent end " + end;
            if (status == NodeStatus.BUSY)
            {
                counters.increment(Counter.APPENDS_BUSY);
            }
        }
        if (null != message)
        {
            sendAppendResponse(session.sink, record.correlationId, record.extentId, status, -1, -1, message);
            dropStaged(record);
            return;
        }
        record.recordOffset = store.endOffset(record.extentId);
        primary.record = record;
        writeRecord(primary);
    }

    /**
     * Submit and forward as many blocks of the extent's record as the in-flight bounds, the local store and the
     * secondaries' publications take now; the rest go on a later duty cycle.
     *
     * @return blocks moved on.
     */
    private int writeRecord(final PrimaryExtent primary)
    {
        final RecordStaging.Record record = primary.record;
        int work = 0;
        while (record.localNext < record.blockCount)
        {
            final int b = record.localNext;
            final int payloadBytes = record.blockPayloadBytes(b);
            final int blockLength = BlockFormat.blockLengthBytes(payloadBytes);
            if (primary.isFull(blockLength, ctx.maxInFlightBytes()))
            {
                break;
            }
            final long offset = store.endOffset(record.extentId);
            Verify.verify(offset == record.blockOffset(b), "record block out of place", offset, record.blockOffset(b));
            final NodeStatus status = submitPrimaryWrite(record.clientId, record.correlationId, record.extentId,
                offset, record.blockFlags(b), record.metadata, 0, b == 0 ? record.metadataLengthBytes : 0,
                staging.slab(record.slab[b]), 0, payloadBytes);
            if (status == NodeStatus.BUSY)
            {
                break;
            }
            if (status != NodeStatus.OK)
            {
                failExtent(primary, NodeStatus.IO_ERROR, "local write of record block at " + offset + " failed on node " +
                    nodeId + ": " + status);
                return work + 1;
            }
            primary.push(offset, offset + blockLength, record.clientId, record.correlationId, record.requestId, nowNs,
                record.recordOffset, record.blockFlags(b));
            primary.storeWritesPending++;
            record.localNext++;
            work++;
        }
        for (int i = 0; i < 2; i++)
        {
            final PeerLink link = primary.peers[i];
            while (record.peerNext[i] < record.localNext)
            {
                final int b = record.peerNext[i];
                final long offset = record.blockOffset(b);
                if (link.state != PeerLink.State.CONNECTED)
                {
                    counters.increment(Counter.PEER_SENDS_FAILED);
                    failExtent(primary, NodeStatus.REPLICA_FAILED, "could not send record block at " + offset +
                        " to node " + link.nodeId + ": not connected");
                    return work + 1;
                }
                // Back-pressure is expected with a large record: try again next duty cycle (the replicate
                // time-out bounds how long a secondary may lag).
                if (!peerRequests.replicateRequest(link.sink, nextCorrelationId++, ctx.clientId(), primary.extentId,
                    offset, primary.ownerRevision, record.blockFlags(b), record.metadata, 0,
                    b == 0 ? record.metadataLengthBytes : 0, staging.slab(record.slab[b]), 0,
                    record.blockPayloadBytes(b), 0))
                {
                    break;
                }
                record.peerNext[i]++;
                work++;
            }
        }
        releaseSlabs(record, record.released, Math.min(record.localNext, Math.min(record.peerNext[0], record.peerNext[1])));
        if (record.released == record.blockCount)
        {
            primary.record = null;
            freeRecords[freeRecordCount++] = record;
        }
        return work;
    }

    void onReplicate(
        final long correlationId,
        final long clientId,
        final long extentId,
        final long blockOffset,
        final long ownerRevision,
        final int recordFlags,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer buffer,
        final int payloadOffset,
        final int payloadLength)
    {
        final ClientSession session = knownSession(clientId);
        if (null == session)
        {
            return;
        }
        final long end = store.endOffset(extentId);
        NodeStatus status = end == ReplicaStore.NO_EXTENT ? NodeStatus.NO_SUCH_EXTENT :
            ownerRevision < highestRevision(extentId) ? NodeStatus.LOCKED_BY_OTHER :
            store.isSealed(extentId) ? NodeStatus.SEALED :
            blockOffset != end ? NodeStatus.WRONG_OFFSET : NodeStatus.OK;
        if (status == NodeStatus.LOCKED_BY_OTHER)
        {
            counters.increment(Counter.FENCED_REFUSALS);
        }
        if (status == NodeStatus.OK)
        {
            final long token = pendingOps.acquire(PendingOps.WRITE_SECONDARY, clientId, correlationId);
            status = token < 0 ? NodeStatus.BUSY :
                store.submitWrite(extentId, blockOffset, recordFlags, metadata, metadataOffset, metadataLength, buffer,
                    payloadOffset, payloadLength, token);
            if (status != NodeStatus.OK && token >= 0)
            {
                pendingOps.release(pendingOps.slot(token));
            }
        }
        if (status != NodeStatus.OK &&
            !responses.replicateResponse(session.sink, correlationId, nodeId, extentId, status, blockOffset,
                store.commitLength(extentId)))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    void onRead(final long correlationId, final long clientId, final long extentId, final long blockOffset)
    {
        final ClientSession session = knownSession(clientId);
        if (null == session)
        {
            return;
        }
        final long token = pendingOps.acquire(PendingOps.READ, clientId, correlationId);
        final NodeStatus status = token < 0 ? NodeStatus.BUSY : store.submitRead(extentId, blockOffset, token);
        if (status != NodeStatus.OK)
        {
            if (token >= 0)
            {
                pendingOps.release(pendingOps.slot(token));
            }
            if (!responses.readResponse(session.sink, correlationId, extentId, status, blockOffset, -1,
                store.commitLength(extentId), null, 0, 0, null))
            {
                counters.increment(Counter.RESPONSES_DROPPED);
            }
        }
    }

    void onExtentStatus(final long correlationId, final long clientId, final long extentId)
    {
        final ClientSession session = knownSession(clientId);
        if (null == session)
        {
            return;
        }
        final long commitLength = store.commitLength(extentId);
        final NodeStatus status = commitLength == ReplicaStore.NO_EXTENT ? NodeStatus.NO_SUCH_EXTENT : NodeStatus.OK;
        if (!responses.extentStatusResponse(session.sink, correlationId, nodeId, extentId, status, commitLength,
            store.isSealed(extentId), highestRevision(extentId)))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    void onSealExtent(
        final long correlationId, final long clientId, final long extentId, final long ownerRevision, final long sealLength)
    {
        final ClientSession session = knownSession(clientId);
        if (null == session)
        {
            return;
        }
        if (sealLength != NodeProtocol.NULL_OFFSET && sealLength < BlockFormat.EXTENT_HEADER_LENGTH_BYTES)
        {
            sendSealResponse(session.sink, correlationId, extentId, NodeStatus.BAD_REQUEST, store.commitLength(extentId),
                "sealLength " + sealLength + " is neither -1 (fence only) nor a block boundary");
            return;
        }
        if (!admitRevision(extentId, ownerRevision))
        {
            counters.increment(Counter.FENCED_REFUSALS);
            sendSealResponse(session.sink, correlationId, extentId, NodeStatus.LOCKED_BY_OTHER,
                store.commitLength(extentId), lockedMessage(extentId, ownerRevision));
            return;
        }
        if (store.commitLength(extentId) == ReplicaStore.NO_EXTENT)
        {
            // Fenced all the same: an older owner's Open arriving later must not create the extent here and have
            // an append acknowledged that the sealer, told "no such extent", counted as absent.
            sendSealResponse(session.sink, correlationId, extentId, NodeStatus.NO_SUCH_EXTENT, -1, "no such extent");
            return;
        }
        final PrimaryExtent primary = primaryByExtentId.get(extentId);
        if (null != primary && primary.ownerRevision < ownerRevision && primary.state != PrimaryExtent.State.FAILED)
        {
            // Fenced: no append of the older owner is acknowledged from now on.
            failExtent(primary, NodeStatus.LOCKED_BY_OTHER, "extent " + extentId + " fenced by owner revision " +
                ownerRevision + " (was opened with " + primary.ownerRevision + ")");
        }
        if (sealCount == seals.length)
        {
            sendSealResponse(session.sink, correlationId, extentId, NodeStatus.BUSY, store.commitLength(extentId),
                "too many seals in progress");
            return;
        }
        final PendingSeal seal = seals[sealCount++];
        seal.clientId = clientId;
        seal.correlationId = correlationId;
        seal.extentId = extentId;
        seal.sealLength = sealLength;
        seal.deadlineNs = nowNs + ctx.openTimeoutNs();
        seal.token = -1;
        if (progressSeal(seal))
        {
            removeSeal(sealCount - 1);
        }
    }

    // ---------------------------------------------------------------- inbound responses from secondaries

    void onPeerConnectResponse(final long correlationId, final int peerNodeId, final NodeStatus status)
    {
        final PeerLink link = peerByNodeId.get(peerNodeId);
        if (null == link || link.state != PeerLink.State.AWAITING_CONNECT_RESPONSE ||
            link.connectCorrelationId != correlationId || status != NodeStatus.OK)
        {
            counters.increment(Counter.PEER_RESPONSES_UNMATCHED);
            return;
        }
        link.state = PeerLink.State.CONNECTED;
    }

    void onPeerOpenExtentResponse(
        final long correlationId, final long extentId, final NodeStatus status, final long commitLength, final String message)
    {
        final PrimaryExtent primary = primaryByExtentId.get(extentId);
        final int i = null == primary || primary.state != PrimaryExtent.State.OPENING ? -1 :
            primary.peerOpenCorrelationId[0] == correlationId ? 0 :
            primary.peerOpenCorrelationId[1] == correlationId ? 1 : -1;
        if (i < 0 || !primary.peerOpenSent[i] || null != primary.peerOpenStatus[i])
        {
            counters.increment(Counter.PEER_RESPONSES_UNMATCHED);
            return;
        }
        primary.peerOpenStatus[i] = status;
        primary.peerCommitLength[i] = commitLength;
        primary.peerOpenMessage[i] = message;
        checkOpenComplete(primary);
    }

    void onPeerReplicateResponse(
        final long correlationId,
        final int peerNodeId,
        final long extentId,
        final NodeStatus status,
        final long blockOffset,
        final long commitLength)
    {
        final PrimaryExtent primary = primaryByExtentId.get(extentId);
        final int peer = null == primary || primary.state != PrimaryExtent.State.OPEN ? -1 : primary.peerIndex(peerNodeId);
        final int entry = peer < 0 ? -1 : primary.find(blockOffset);
        if (entry < 0)
        {
            counters.increment(Counter.PEER_RESPONSES_UNMATCHED);
            return;
        }
        if (status != NodeStatus.OK)
        {
            failExtent(primary, NodeStatus.REPLICA_FAILED, "node " + peerNodeId + " answered " + status +
                " for block at " + blockOffset + " (its commitLength " + commitLength + ")");
            return;
        }
        primary.doneMask[entry] |= peer == 0 ? PrimaryExtent.PEER0_DONE : PrimaryExtent.PEER1_DONE;
        ackCompleted(primary);
    }

    void onPeerErrorResponse(final long correlationId, final NodeStatus status)
    {
        // Matched by timeout instead: the request it refers to will not be answered otherwise.
        counters.increment(Counter.PEER_RESPONSES_UNMATCHED);
    }

    // ---------------------------------------------------------------- store completions

    /** {@inheritDoc} */
    public void onCreated(final long token, final long extentId, final NodeStatus status, final long commitLength)
    {
        final int slot = pendingOps.slot(token);
        final int kind = pendingOps.kind[slot];
        final long clientId = pendingOps.clientId[slot];
        final long correlationId = pendingOps.correlationId[slot];
        pendingOps.release(slot);
        final long revision = revisionByExtent.get(extentId);
        if (status == NodeStatus.OK && revision > store.ownerRevision(extentId))
        {
            store.recordOwnerRevision(extentId, revision);
        }
        if (kind == PendingOps.CREATE_SECONDARY)
        {
            final ClientSession session = sessionByClientId.get(clientId);
            if (null != session)
            {
                sendOpenResponse(session.sink, correlationId, extentId, status, commitLength, null);
            }
            return;
        }
        Verify.verify(kind == PendingOps.CREATE_PRIMARY, "create completion of wrong kind", kind);
        final PrimaryExtent primary = primaryByExtentId.get(extentId);
        if (null != primary && primary.state == PrimaryExtent.State.OPENING && null == primary.localOpenStatus)
        {
            primary.localOpenStatus = status;
            primary.localCommitLength = commitLength;
            checkOpenComplete(primary);
        }
    }

    /** {@inheritDoc} */
    public void onWritten(
        final long token,
        final long extentId,
        final long blockOffset,
        final NodeStatus status,
        final long nextOffset,
        final long commitLength)
    {
        final int slot = pendingOps.slot(token);
        final int kind = pendingOps.kind[slot];
        final long clientId = pendingOps.clientId[slot];
        final long correlationId = pendingOps.correlationId[slot];
        pendingOps.release(slot);
        if (kind == PendingOps.WRITE_SECONDARY)
        {
            final ClientSession session = sessionByClientId.get(clientId);
            counters.increment(Counter.REPLICATES_WRITTEN);
            if (null == session ||
                !responses.replicateResponse(session.sink, correlationId, nodeId, extentId, status, blockOffset, commitLength))
            {
                counters.increment(Counter.RESPONSES_DROPPED);
            }
            return;
        }
        Verify.verify(kind == PendingOps.WRITE_PRIMARY, "write completion of wrong kind", kind);
        final PrimaryExtent primary = primaryByExtentId.get(extentId);
        Verify.verify(null != primary && primary.storeWritesPending > 0, "primary write completed for unknown extent",
            extentId);
        primary.storeWritesPending--;
        final int entry = primary.state == PrimaryExtent.State.OPEN ? primary.find(blockOffset) : -1;
        if (entry < 0)
        {
            return;
        }
        if (status != NodeStatus.OK)
        {
            failExtent(primary, NodeStatus.IO_ERROR, "local write failed on node " + nodeId + ": " + status);
            return;
        }
        primary.doneMask[entry] |= PrimaryExtent.LOCAL_DONE;
        ackCompleted(primary);
    }

    /** {@inheritDoc} */
    public void onRead(
        final long token,
        final long extentId,
        final long blockOffset,
        final NodeStatus status,
        final DirectBuffer payload,
        final int payloadOffset,
        final int payloadLengthBytes,
        final long nextOffset,
        final long commitLength)
    {
        final int slot = pendingOps.slot(token);
        final long clientId = pendingOps.clientId[slot];
        final long correlationId = pendingOps.correlationId[slot];
        pendingOps.release(slot);
        counters.increment(status == NodeStatus.OK ? Counter.READS_OK : Counter.READS_CORRUPT);
        final ClientSession session = sessionByClientId.get(clientId);
        final String message = status == NodeStatus.CORRUPT ? "block at " + blockOffset + " failed its CRC32C check" :
            null;
        if (null == session || !responses.readResponse(session.sink, correlationId, extentId, status, blockOffset,
            nextOffset, commitLength, payload, payloadOffset, status == NodeStatus.OK ? payloadLengthBytes : 0, message))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    /** {@inheritDoc} */
    public void onSealed(final long token, final long extentId, final NodeStatus status, final long commitLength)
    {
        final int slot = pendingOps.slot(token);
        Verify.verify(pendingOps.kind[slot] == PendingOps.SEAL, "seal completion of wrong kind", pendingOps.kind[slot]);
        pendingOps.release(slot);
        for (int i = 0; i < sealCount; i++)
        {
            if (seals[i].token == token)
            {
                final PendingSeal seal = seals[i];
                counters.increment(Counter.SEALS);
                final ClientSession session = sessionByClientId.get(seal.clientId);
                if (null != session)
                {
                    sendSealResponse(session.sink, seal.correlationId, extentId, status, commitLength,
                        status == NodeStatus.OK ? null : "seal failed on node " + nodeId);
                }
                removeSeal(i);
                return;
            }
        }
    }

    // ---------------------------------------------------------------- fencing and seals

    private long highestRevision(final long extentId)
    {
        final long known = revisionByExtent.get(extentId);
        final long stored = store.ownerRevision(extentId);
        if (stored > known)
        {
            revisionByExtent.put(extentId, stored);
            return stored;
        }
        return known;
    }

    /**
     * @return false when a newer owner was seen for the extent; else records the revision (persisting a higher one).
     */
    private boolean admitRevision(final long extentId, final long ownerRevision)
    {
        final long highest = highestRevision(extentId);
        if (ownerRevision < highest)
        {
            return false;
        }
        if (ownerRevision > highest)
        {
            revisionByExtent.put(extentId, ownerRevision);
            store.recordOwnerRevision(extentId, ownerRevision);
        }
        return true;
    }

    private String lockedMessage(final long extentId, final long ownerRevision)
    {
        return "owner revision " + ownerRevision + " is older than revision " + highestRevision(extentId) +
            " seen for extent " + extentId + " on node " + nodeId;
    }

    /**
     * @return true when the append was a retry of one this primary holds (in flight or acknowledged) and is answered.
     */
    private boolean answerRetriedAppend(
        final ClientSession session, final PrimaryExtent primary, final long correlationId, final long requestId)
    {
        final int inFlight = primary.findRequest(session.clientId, requestId);
        if (inFlight >= 0 || (0 != requestId && null != primary.record && primary.record.requestId == requestId &&
            primary.record.clientId == session.clientId))
        {
            // The first attempt's answer goes to the retry instead.
            primary.redirect(session.clientId, requestId, correlationId);
            counters.increment(Counter.APPENDS_DEDUPLICATED);
            return true;
        }
        final int acked = primary.findAcked(session.clientId, requestId);
        if (acked >= 0)
        {
            counters.increment(Counter.APPENDS_DEDUPLICATED);
            sendAppendResponse(session.sink, correlationId, primary.extentId, NodeStatus.OK,
                primary.ackedBlockOffset[acked], primary.ackedNextOffset[acked], null);
            return true;
        }
        return false;
    }

    private int checkSeals()
    {
        int work = 0;
        for (int i = sealCount - 1; i >= 0; i--)
        {
            final PendingSeal seal = seals[i];
            if (seal.token < 0 && progressSeal(seal))
            {
                removeSeal(i);
                work++;
            }
        }
        return work;
    }

    /**
     * Drives a seal: waits for the writes accepted before the fence to be durable, then answers or seals.
     *
     * @return true when it was answered (remove it); false while it waits or its store seal is in flight.
     */
    private boolean progressSeal(final PendingSeal seal)
    {
        final long extentId = seal.extentId;
        final ClientSession session = sessionByClientId.get(seal.clientId);
        if (null == session)
        {
            return true;
        }
        final long commitLength = store.commitLength(extentId);
        if (store.isSealed(extentId))
        {
            final boolean same = seal.sealLength == NodeProtocol.NULL_OFFSET || seal.sealLength == commitLength;
            sendSealResponse(session.sink, seal.correlationId, extentId, same ? NodeStatus.OK : NodeStatus.SEALED,
                commitLength, same ? null : "already sealed at " + commitLength);
            return true;
        }
        if (store.endOffset(extentId) != store.durableEnd(extentId))
        {
            if (nowNs - seal.deadlineNs > 0)
            {
                sendSealResponse(session.sink, seal.correlationId, extentId, NodeStatus.IO_ERROR, commitLength,
                    "writes to extent " + extentId + " did not become durable within the seal timeout");
                return true;
            }
            return false;
        }
        if (seal.sealLength == NodeProtocol.NULL_OFFSET)
        {
            sendSealResponse(session.sink, seal.correlationId, extentId, NodeStatus.OK, commitLength, null);
            return true;
        }
        if (seal.sealLength > commitLength)
        {
            sendSealResponse(session.sink, seal.correlationId, extentId, NodeStatus.BAD_REQUEST, commitLength,
                "sealLength " + seal.sealLength + " is beyond the commit length " + commitLength + " on node " + nodeId);
            return true;
        }
        final long token = pendingOps.acquire(PendingOps.SEAL, seal.clientId, seal.correlationId);
        final NodeStatus status = token < 0 ? NodeStatus.BUSY : store.submitSeal(extentId, seal.sealLength, token);
        if (status == NodeStatus.OK)
        {
            seal.token = token;
            return false;
        }
        if (token >= 0)
        {
            pendingOps.release(pendingOps.slot(token));
        }
        if (status == NodeStatus.BUSY && nowNs - seal.deadlineNs <= 0)
        {
            return false;
        }
        sendSealResponse(session.sink, seal.correlationId, extentId, status, commitLength,
            "seal at " + seal.sealLength + " refused on node " + nodeId);
        return true;
    }

    private void removeSeal(final int i)
    {
        final PendingSeal removed = seals[i];
        seals[i] = seals[sealCount - 1];
        seals[sealCount - 1] = removed;
        sealCount--;
    }

    private void sendSealResponse(
        final MessageSink sink,
        final long correlationId,
        final long extentId,
        final NodeStatus status,
        final long commitLength,
        final String message)
    {
        if (!responses.sealExtentResponse(sink, correlationId, nodeId, extentId, status, commitLength,
            store.isSealed(extentId), message))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    /** A SealExtent waiting for writes to drain or for its store seal. */
    private static final class PendingSeal
    {
        long clientId;
        long correlationId;
        long extentId;
        long sealLength;
        long deadlineNs;
        long token;
    }

    // ---------------------------------------------------------------- sessions

    private ClientSession knownSession(final long clientId)
    {
        final ClientSession session = sessionByClientId.get(clientId);
        if (null == session)
        {
            counters.increment(Counter.UNKNOWN_CLIENT_DROPPED);
        }
        return session;
    }

    private ClientSession addSession(final long clientId, final int responseStreamId, final String channel)
    {
        if (sessionCount == sessions.length && !evictDisconnectedSession())
        {
            return null;
        }
        final ClientSession session = sessions[sessionCount];
        try
        {
            session.sink = transport.open(channel, responseStreamId);
        }
        catch (final RuntimeException ex)
        {
            return null;
        }
        session.clientId = clientId;
        session.responseChannel = channel;
        session.responseStreamId = responseStreamId;
        sessionCount++;
        sessionByClientId.put(clientId, session);
        return session;
    }

    private boolean evictDisconnectedSession()
    {
        for (int i = 0; i < sessionCount; i++)
        {
            if (sessions[i].connectAnswered && !sessions[i].sink.isConnected())
            {
                removeSession(sessions[i]);
                return true;
            }
        }
        return false;
    }

    private void removeSession(final ClientSession session)
    {
        final RecordStaging.Record staged = stagingByClientId.get(session.clientId);
        if (null != staged)
        {
            dropStaged(staged);
        }
        sessionByClientId.remove(session.clientId);
        session.close();
        for (int i = 0; i < sessionCount; i++)
        {
            if (sessions[i] == session)
            {
                sessions[i] = sessions[sessionCount - 1];
                sessions[sessionCount - 1] = session;
                sessionCount--;
                return;
            }
        }
    }

    private void answerConnect(final ClientSession session)
    {
        if (session.sink.isConnected())
        {
            session.connectAnswered = true;
            if (!responses.connectResponse(session.sink, session.connectCorrelationId, nodeId, NodeStatus.OK))
            {
                counters.increment(Counter.RESPONSES_DROPPED);
            }
        }
    }

    private int checkSessions()
    {
        int work = 0;
        for (int i = sessionCount - 1; i >= 0; i--)
        {
            final ClientSession session = sessions[i];
            if (!session.connectAnswered)
            {
                answerConnect(session);
                if (!session.connectAnswered && nowNs - session.connectDeadlineNs > 0)
                {
                    counters.increment(Counter.CONNECT_REFUSED);
                    removeSession(session);
                }
                work++;
            }
        }
        return work;
    }

    // ---------------------------------------------------------------- peers

    private PeerLink peerLink(final int peerNodeId, final String endpoint)
    {
        PeerLink link = peerByNodeId.get(peerNodeId);
        if (null != link && !link.endpoint.equals(endpoint))
        {
            link.close();
            link.endpoint = endpoint;
            link.sink = transport.open(NodeProtocol.channel(endpoint), NodeProtocol.REQUEST_STREAM_ID);
            link.reset();
        }
        if (null == link && peerCount < peers.length)
        {
            link = new PeerLink();
            link.nodeId = peerNodeId;
            link.endpoint = endpoint;
            link.sink = transport.open(NodeProtocol.channel(endpoint), NodeProtocol.REQUEST_STREAM_ID);
            peers[peerCount++] = link;
            peerByNodeId.put(peerNodeId, link);
        }
        return link;
    }

    private int checkPeers()
    {
        int work = 0;
        for (int i = 0; i < peerCount; i++)
        {
            final PeerLink link = peers[i];
            if (link.state == PeerLink.State.CONNECTED && !link.sink.isConnected())
            {
                link.reset();
            }
            if (link.state != PeerLink.State.CONNECTED && link.sink.isConnected() && nowNs - link.nextConnectNs >= 0)
            {
                link.connectCorrelationId = nextCorrelationId++;
                link.nextConnectNs = nowNs + ctx.connectRetryIntervalNs();
                link.state = PeerLink.State.AWAITING_CONNECT_RESPONSE;
                if (!peerRequests.connectRequest(link.sink, link.connectCorrelationId, ctx.clientId(),
                    NodeProtocol.RESPONSE_STREAM_ID, responseChannelBytes))
                {
                    counters.increment(Counter.PEER_SENDS_FAILED);
                }
                work++;
            }
        }
        return work;
    }

    // ---------------------------------------------------------------- primary side

    private String validateReplicas(final boolean forwarded, final int[] nodeIds)
    {
        if (nodeIds[0] <= 0 || nodeIds[1] <= 0 || nodeIds[2] <= 0 ||
            nodeIds[0] == nodeIds[1] || nodeIds[0] == nodeIds[2] || nodeIds[1] == nodeIds[2])
        {
            return "replicas must be 3 distinct positive node ids";
        }
        if (!forwarded && nodeIds[0] != nodeId)
        {
            return "node " + nodeId + " is not the primary replicas[0]=" + nodeIds[0];
        }
        if (forwarded && nodeIds[1] != nodeId && nodeIds[2] != nodeId)
        {
            return "node " + nodeId + " is not a secondary of this extent";
        }
        return null;
    }

    private void openAsSecondary(
        final ClientSession session, final long correlationId, final long extentId, final long streamId)
    {
        final long token = pendingOps.acquire(PendingOps.CREATE_SECONDARY, session.clientId, correlationId);
        final NodeStatus status = token < 0 ? NodeStatus.BUSY : store.submitCreate(extentId, streamId, token);
        if (status != NodeStatus.OK)
        {
            if (token >= 0)
            {
                pendingOps.release(pendingOps.slot(token));
            }
            sendOpenResponse(session.sink, correlationId, extentId, status, store.commitLength(extentId), null);
        }
    }

    private void openAsPrimary(
        final ClientSession session,
        final long correlationId,
        final long extentId,
        final long streamId,
        final long ownerRevision,
        final int[] nodeIds,
        final String[] endpoints)
    {
        PrimaryExtent primary = primaryByExtentId.get(extentId);
        if (store.isSealed(extentId))
        {
            sendOpenResponse(session.sink, correlationId, extentId, NodeStatus.SEALED, store.commitLength(extentId),
                "extent " + extentId + " is sealed");
            return;
        }
        if (null != primary && primary.ownerRevision < ownerRevision && primary.state != PrimaryExtent.State.FAILED &&
            primary.state != PrimaryExtent.State.OPENING)
        {
            // A newer owner opens the extent: the older owner's appends in flight are never acknowledged.
            failExtent(primary, NodeStatus.LOCKED_BY_OTHER, "extent " + extentId + " reopened by owner revision " +
                ownerRevision);
        }
        if (null != primary && primary.state == PrimaryExtent.State.OPENING && primary.ownerRevision == ownerRevision)
        {
            // A retried open: the latest requester gets the answer.
            primary.openClientId = session.clientId;
            primary.openCorrelationId = correlationId;
            return;
        }
        if (null != primary && (primary.count > 0 || primary.storeWritesPending > 0))
        {
            sendOpenResponse(session.sink, correlationId, extentId, NodeStatus.BUSY, -1, "appends in flight");
            return;
        }
        if (null == primary && null == (primary = allocatePrimary(extentId)))
        {
            sendOpenResponse(session.sink, correlationId, extentId, NodeStatus.BUSY, -1, "too many open extents");
            return;
        }
        primary.streamId = streamId;
        primary.ownerRevision = ownerRevision;
        primary.clearAcked();
        for (int i = 0; i < NodeProtocol.REPLICA_COUNT; i++)
        {
            primary.nodeIds[i] = nodeIds[i];
            primary.endpoints[i] = endpoints[i].getBytes(StandardCharsets.US_ASCII);
        }
        primary.beginOpen(session.clientId, correlationId, nowNs + ctx.openTimeoutNs());
        primary.peers[0] = peerLink(nodeIds[1], endpoints[1]);
        primary.peers[1] = peerLink(nodeIds[2], endpoints[2]);
        if (null == primary.peers[0] || null == primary.peers[1])
        {
            finishOpen(primary, NodeStatus.REPLICA_FAILED, -1, "too many peer nodes");
            return;
        }
        final long token = pendingOps.acquire(PendingOps.CREATE_PRIMARY, session.clientId, correlationId);
        final NodeStatus status = token < 0 ? NodeStatus.BUSY : store.submitCreate(extentId, streamId, token);
        if (status != NodeStatus.OK)
        {
            if (token >= 0)
            {
                pendingOps.release(pendingOps.slot(token));
            }
            finishOpen(primary, status, -1, "local create failed");
            return;
        }
        progressOpen(primary);
    }

    private PrimaryExtent allocatePrimary(final long extentId)
    {
        if (freePrimaryCount == 0)
        {
            return null;
        }
        final PrimaryExtent primary = freePrimaries[--freePrimaryCount];
        primary.extentId = extentId;
        primary.clearInFlight();
        primary.storeWritesPending = 0;
        primaries[primaryCount++] = primary;
        primaryByExtentId.put(extentId, primary);
        return primary;
    }

    private void progressOpen(final PrimaryExtent primary)
    {
        for (int i = 0; i < 2; i++)
        {
            final PeerLink link = primary.peers[i];
            if (!primary.peerOpenSent[i] && link.state == PeerLink.State.CONNECTED)
            {
                primary.peerOpenSent[i] = true;
                primary.peerOpenCorrelationId[i] = nextCorrelationId++;
                if (!peerRequests.openExtentRequest(link.sink, primary.peerOpenCorrelationId[i], ctx.clientId(),
                    primary.extentId, primary.streamId, primary.ownerRevision, primary.nodeIds, primary.endpoints))
                {
                    counters.increment(Counter.PEER_SENDS_FAILED);
                    link.reset();
                    finishOpen(primary, NodeStatus.REPLICA_FAILED, -1, "could not send OpenExtent to node " + link.nodeId);
                    return;
                }
            }
        }
    }

    private void checkOpenComplete(final PrimaryExtent primary)
    {
        if (null != primary.localOpenStatus && primary.localOpenStatus != NodeStatus.OK)
        {
            finishOpen(primary, primary.localOpenStatus, -1, "local create failed on node " + nodeId);
            return;
        }
        for (int i = 0; i < 2; i++)
        {
            final NodeStatus status = primary.peerOpenStatus[i];
            if (null != status && status != NodeStatus.OK)
            {
                finishOpen(primary, NodeStatus.REPLICA_FAILED, -1, "node " + primary.peers[i].nodeId + " answered " +
                    status + ": " + primary.peerOpenMessage[i]);
                return;
            }
        }
        if (null == primary.localOpenStatus || null == primary.peerOpenStatus[0] || null == primary.peerOpenStatus[1])
        {
            return;
        }
        final long local = primary.localCommitLength;
        final long min = Math.min(local, Math.min(primary.peerCommitLength[0], primary.peerCommitLength[1]));
        finishOpen(primary, NodeStatus.OK, min, null);
        if (primary.peerCommitLength[0] != local || primary.peerCommitLength[1] != local)
        {
            // Diverged replicas cannot take appends at one offset: the client seals at the min instead.
            primary.state = PrimaryExtent.State.FAILED;
            primary.failStatus = NodeStatus.REPLICA_FAILED;
            primary.failMessage = "replica lengths differ (" + local + ", " + primary.peerCommitLength[0] + ", " +
                primary.peerCommitLength[1] + "): seal at " + min;
        }
    }

    private void finishOpen(final PrimaryExtent primary, final NodeStatus status, final long commitLength, final String message)
    {
        if (status == NodeStatus.OK)
        {
            primary.state = PrimaryExtent.State.OPEN;
        }
        else
        {
            primary.state = PrimaryExtent.State.FAILED;
            primary.failStatus = NodeStatus.REPLICA_FAILED;
            primary.failMessage = message;
        }
        final ClientSession session = sessionByClientId.get(primary.openClientId);
        if (null != session)
        {
            sendOpenResponse(session.sink, primary.openCorrelationId, primary.extentId, status, commitLength, message);
        }
    }

    private int checkPrimaries()
    {
        int work = 0;
        for (int i = 0; i < primaryCount; i++)
        {
            final PrimaryExtent primary = primaries[i];
            if (primary.state == PrimaryExtent.State.OPENING)
            {
                progressOpen(primary);
                if (primary.state == PrimaryExtent.State.OPENING && nowNs - primary.openDeadlineNs > 0)
                {
                    work++;
                    openTimedOut(primary);
                }
            }
            else if (primary.state == PrimaryExtent.State.OPEN && primary.count > 0 &&
                nowNs - primary.startNs[primary.head] > ctx.replicateTimeoutNs())
            {
                work++;
                replicateTimedOut(primary);
            }
            if (primary.state == PrimaryExtent.State.OPEN && null != primary.record)
            {
                work += writeRecord(primary);
            }
        }
        return work;
    }

    private void openTimedOut(final PrimaryExtent primary)
    {
        final StringBuilder missing = new StringBuilder();
        for (int i = 0; i < 2; i++)
        {
            if (null == primary.peerOpenStatus[i])
            {
                missing.append(missing.isEmpty() ? "" : ", ").append("node ").append(primary.peers[i].nodeId);
                primary.peers[i].reset();
            }
        }
        if (null == primary.localOpenStatus)
        {
            missing.append(missing.isEmpty() ? "" : ", ").append("local store of node ").append(nodeId);
        }
        finishOpen(primary, NodeStatus.REPLICA_FAILED, -1, missing + " did not answer OpenExtent within " +
            TimeUnit.NANOSECONDS.toMillis(ctx.openTimeoutNs()) + " ms");
    }

    private void replicateTimedOut(final PrimaryExtent primary)
    {
        final int head = primary.head;
        final StringBuilder missing = new StringBuilder();
        for (int i = 0; i < 2; i++)
        {
            if ((primary.doneMask[head] & (i == 0 ? PrimaryExtent.PEER0_DONE : PrimaryExtent.PEER1_DONE)) == 0)
            {
                missing.append(missing.isEmpty() ? "" : ", ").append("node ").append(primary.peers[i].nodeId);
                primary.peers[i].reset();
            }
        }
        if (missing.isEmpty())
        {
            return; // only the local disk is slow: it will complete, and a local failure fails the extent itself
        }
        failExtent(primary, NodeStatus.REPLICA_FAILED, missing + " did not acknowledge block at " +
            primary.blockOffset[head] + " within " + TimeUnit.NANOSECONDS.toMillis(ctx.replicateTimeoutNs()) + " ms");
    }

    private NodeStatus checkAppendable(final PrimaryExtent primary)
    {
        if (null == primary || primary.state == PrimaryExtent.State.OPENING)
        {
            return NodeStatus.NOT_OPEN;
        }
        return primary.state == PrimaryExtent.State.FAILED ? primary.failStatus : null;
    }

    private NodeStatus submitPrimaryWrite(
        final long clientId,
        final long correlationId,
        final long extentId,
        final long blockOffset,
        final int recordFlags,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer buffer,
        final int payloadOffset,
        final int payloadLength)
    {
        final long token = pendingOps.acquire(PendingOps.WRITE_PRIMARY, clientId, correlationId);
        if (token < 0)
        {
            return NodeStatus.BUSY;
        }
        final NodeStatus status = store.submitWrite(extentId, blockOffset, recordFlags, metadata, metadataOffset,
            metadataLength, buffer, payloadOffset, payloadLength, token);
        if (status != NodeStatus.OK)
        {
            pendingOps.release(pendingOps.slot(token));
        }
        return status;
    }

    private void forwardBlock(
        final PrimaryExtent primary,
        final long blockOffset,
        final int recordFlags,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength,
        final DirectBuffer buffer,
        final int offset,
        final int length)
    {
        for (int i = 0; i < 2; i++)
        {
            final PeerLink link = primary.peers[i];
            if (link.state != PeerLink.State.CONNECTED || !peerRequests.replicateRequest(
                link.sink, nextCorrelationId++, ctx.clientId(), primary.extentId, blockOffset, primary.ownerRevision,
                recordFlags, metadata, metadataOffset, metadataLength, buffer, offset, length, peerRequests.retries()))
            {
                counters.increment(Counter.PEER_SENDS_FAILED);
                link.reset();
                failExtent(primary, NodeStatus.REPLICA_FAILED, "could not send block at " + blockOffset +
                    " to node " + link.nodeId);
                return;
            }
        }
    }

    private void ackCompleted(final PrimaryExtent primary)
    {
        while (primary.count > 0 && primary.doneMask[primary.head] == PrimaryExtent.ALL_DONE)
        {
            final int head = primary.head;
            if ((primary.recordFlags[head] & BlockFormat.RECORD_LAST) == 0)
            {
                primary.popHead(); // a record is answered once, when its last block is durable everywhere
                continue;
            }
            final ClientSession session = sessionByClientId.get(primary.clientId[head]);
            counters.increment(Counter.APPENDS_ACKED);
            counters.appendLatency().record(nowNs - primary.startNs[head]);
            primary.rememberAcked(head);
            if (null != session)
            {
                sendAppendResponse(session.sink, primary.correlationId[head], primary.extentId, NodeStatus.OK,
                    primary.recordOffset[head], primary.nextOffset[head], null);
            }
            else
            {
                counters.increment(Counter.RESPONSES_DROPPED);
            }
            primary.popHead();
        }
    }

    private void failExtent(final PrimaryExtent primary, final NodeStatus status, final String message)
    {
        primary.state = PrimaryExtent.State.FAILED;
        primary.failStatus = status;
        primary.failMessage = message;
        counters.increment(Counter.EXTENTS_FAILED);
        final RecordStaging.Record record = primary.record;
        boolean recordAnswered = null == record;
        while (primary.count > 0)
        {
            final int head = primary.head;
            final ClientSession session = sessionByClientId.get(primary.clientId[head]);
            if (null != session && (primary.recordFlags[head] & BlockFormat.RECORD_LAST) != 0)
            {
                recordAnswered |= null != record && primary.recordOffset[head] == record.recordOffset;
                sendAppendResponse(session.sink, primary.correlationId[head], primary.extentId, status,
                    primary.recordOffset[head], primary.nextOffset[head], message);
            }
            primary.popHead();
        }
        if (null != record)
        {
            final ClientSession session = sessionByClientId.get(record.clientId);
            if (!recordAnswered && null != session)
            {
                sendAppendResponse(session.sink, record.correlationId, primary.extentId, status, record.recordOffset,
                    -1, message);
            }
            primary.record = null;
            dropStaged(record);
        }
    }

    private void sendOpenResponse(
        final MessageSink sink,
        final long correlationId,
        final long extentId,
        final NodeStatus status,
        final long commitLength,
        final String message)
    {
        if (!responses.openExtentResponse(sink, correlationId, extentId, status, commitLength, message))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    private void sendAppendResponse(
        final MessageSink sink,
        final long correlationId,
        final long extentId,
        final NodeStatus status,
        final long blockOffset,
        final long nextOffset,
        final String message)
    {
        if (!responses.appendResponse(sink, correlationId, extentId, status, blockOffset, nextOffset, message))
        {
            counters.increment(Counter.RESPONSES_DROPPED);
        }
    }

    /**
     * Configuration of a {@link ReplicationConductor}: named defaults, fluent setters, one {@link #conclude()}.
     */
    public static final class Context
    {
        /** Default most connected clients (primaries of other nodes count as clients). */
        public static final int MAX_CLIENTS_DEFAULT = 64;
        /** Default most secondaries a primary keeps links to. */
        public static final int MAX_PEERS_DEFAULT = 64;
        /** Default most extents open as primary at once. */
        public static final int MAX_OPEN_EXTENTS_DEFAULT = 256;
        /** Default appends in flight per extent before BUSY. */
        public static final int MAX_IN_FLIGHT_APPENDS_DEFAULT = 64;
        /** Default bytes of blocks in flight per extent before BUSY. */
        public static final long MAX_IN_FLIGHT_BYTES_DEFAULT = 16L * 1024 * 1024;
        /** Default store operations in flight on this node before BUSY. */
        public static final int MAX_PENDING_STORE_OPS_DEFAULT = 1024;
        /** Default time a secondary has to acknowledge a block. */
        public static final long REPLICATE_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(2);
        /** Default time for a primary to open an extent on all three replicas. */
        public static final long OPEN_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(5);
        /** Default time a new client's response publication has to connect. */
        public static final long CLIENT_CONNECT_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(5);
        /** Default interval between Connect attempts to a secondary. */
        public static final long CONNECT_RETRY_INTERVAL_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(200);
        /** Default retries of an offer that met back pressure. */
        public static final int OFFER_RETRIES_DEFAULT = 1_000;
        /** Default completions taken from the store per duty cycle. */
        public static final int STORE_POLL_LIMIT_DEFAULT = 64;
        /** Default SealExtent requests in progress at once before BUSY. */
        public static final int MAX_PENDING_SEALS_DEFAULT = 64;
        /** Default bound on record bytes in reassembly (and staged, not yet written) per node: two largest records. */
        public static final long MAX_STAGING_BYTES_DEFAULT = 2L * NodeProtocol.MAX_RECORD_BYTES;

        private boolean concluded;
        private int nodeId;
        private String endpoint;
        private String responseChannel;
        private long clientId;
        private ReplicaStore store;
        private MessageTransport transport;
        private ReplicationCounters counters;
        private int maxClients = MAX_CLIENTS_DEFAULT;
        private int maxPeers = MAX_PEERS_DEFAULT;
        private int maxOpenExtents = MAX_OPEN_EXTENTS_DEFAULT;
        private int maxInFlightAppends = MAX_IN_FLIGHT_APPENDS_DEFAULT;
        private long maxInFlightBytes = MAX_IN_FLIGHT_BYTES_DEFAULT;
        private int maxPendingStoreOps = MAX_PENDING_STORE_OPS_DEFAULT;
        private long replicateTimeoutNs = REPLICATE_TIMEOUT_NS_DEFAULT;
        private long openTimeoutNs = OPEN_TIMEOUT_NS_DEFAULT;
        private long clientConnectTimeoutNs = CLIENT_CONNECT_TIMEOUT_NS_DEFAULT;
        private long connectRetryIntervalNs = CONNECT_RETRY_INTERVAL_NS_DEFAULT;
        private int offerRetries = OFFER_RETRIES_DEFAULT;
        private int storePollLimit = STORE_POLL_LIMIT_DEFAULT;
        private int maxPendingSeals = MAX_PENDING_SEALS_DEFAULT;
        private long maxStagingBytes = MAX_STAGING_BYTES_DEFAULT;

        /**
         * Validate every value and fill in derived defaults; idempotent.
         *
         * @return this.
         * @throws IllegalArgumentException naming the setting, its value and the allowed range.
         */
        public Context conclude()
        {
            if (concluded)
            {
                return this;
            }
            require(nodeId > 0, "nodeId", nodeId, "> 0");
            require(null != endpoint && endpoint.indexOf(':') > 0, "endpoint", endpoint, "host:port");
            Objects.requireNonNull(store, "store");
            Objects.requireNonNull(transport, "transport");
            if (null == responseChannel)
            {
                responseChannel = NodeProtocol.channel(endpoint);
            }
            require(responseChannel.length() <= NodeRequestAdapter.MAX_CHANNEL_BYTES, "responseChannel",
                responseChannel, "at most " + NodeRequestAdapter.MAX_CHANNEL_BYTES + " characters");
            if (0 == clientId)
            {
                // Distinct per process instance: a restarted primary must not be taken for its predecessor.
                clientId = ((long)nodeId << 32) | (ThreadLocalRandom.current().nextInt() & 0xFFFF_FFFFL);
            }
            if (null == counters)
            {
                counters = new ReplicationCounters();
            }
            require(maxClients >= 1 && maxClients <= 65_536, "maxClients", maxClients, "[1, 65536]");
            require(maxPeers >= 2 && maxPeers <= 4096, "maxPeers", maxPeers, "[2, 4096]");
            require(maxOpenExtents >= 1 && maxOpenExtents <= 1 << 20, "maxOpenExtents", maxOpenExtents, "[1, 1048576]");
            require(maxInFlightAppends >= 1 && maxInFlightAppends <= 65_536, "maxInFlightAppends",
                maxInFlightAppends, "[1, 65536]");
            require(maxInFlightBytes >= BlockFormat.MAX_BLOCK_LENGTH_BYTES, "maxInFlightBytes", maxInFlightBytes,
                ">= " + BlockFormat.MAX_BLOCK_LENGTH_BYTES + " (one largest block)");
            require(maxPendingStoreOps >= 1 && maxPendingStoreOps <= 1 << 20, "maxPendingStoreOps",
                maxPendingStoreOps, "[1, 1048576]");
            require(replicateTimeoutNs > 0, "replicateTimeoutNs", replicateTimeoutNs, "> 0");
            require(openTimeoutNs > 0, "openTimeoutNs", openTimeoutNs, "> 0");
            require(clientConnectTimeoutNs > 0, "clientConnectTimeoutNs", clientConnectTimeoutNs, "> 0");
            require(connectRetryIntervalNs > 0, "connectRetryIntervalNs", connectRetryIntervalNs, "> 0");
            require(offerRetries >= 0, "offerRetries", offerRetries, ">= 0");
            require(storePollLimit >= 1, "storePollLimit", storePollLimit, ">= 1");
            require(maxPendingSeals >= 1 && maxPendingSeals <= 65_536, "maxPendingSeals", maxPendingSeals, "[1, 65536]");
            require(maxStagingBytes >= NodeProtocol.MAX_RECORD_BYTES && maxStagingBytes <= 1L << 40, "maxStagingBytes",
                maxStagingBytes, "[" + NodeProtocol.MAX_RECORD_BYTES + " (one largest record), 2^40]");
            concluded = true;
            return this;
        }

        private static void require(final boolean ok, final String name, final Object value, final String allowed)
        {
            if (!ok)
            {
                throw new IllegalArgumentException(name + "=" + value + " is invalid: must be " + allowed);
            }
        }

        /**
         * @param maxStagingBytes bound on bytes of records in reassembly from chunks, and staged until written, on
         *                        this node; a first chunk beyond it is answered BUSY. @return this.
         */
        public Context maxStagingBytes(final long maxStagingBytes)
        {
            this.maxStagingBytes = maxStagingBytes;
            return this;
        }

        /** @return bound on record bytes in reassembly on this node. */
        public long maxStagingBytes()
        {
            return maxStagingBytes;
        }

        /** @param nodeId this node's id, &gt; 0. @return this. */
        public Context nodeId(final int nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /** @return this node's id. */
        public int nodeId()
        {
            return nodeId;
        }

        /** @param endpoint host:port this node receives requests on. @return this. */
        public Context endpoint(final String endpoint)
        {
            this.endpoint = endpoint;
            return this;
        }

        /** @return host:port this node receives requests on. */
        public String endpoint()
        {
            return endpoint;
        }

        /**
         * @param responseChannel where secondaries answer this node acting as primary (stream
         *                        {@link NodeProtocol#RESPONSE_STREAM_ID}); default: this node's own channel.
         * @return this.
         */
        public Context responseChannel(final String responseChannel)
        {
            this.responseChannel = responseChannel;
            return this;
        }

        /** @return the channel secondaries answer on. */
        public String responseChannel()
        {
            return responseChannel;
        }

        /** @param clientId this node's clientId at its secondaries; 0 picks a random one. @return this. */
        public Context clientId(final long clientId)
        {
            this.clientId = clientId;
            return this;
        }

        /** @return this node's clientId at its secondaries. */
        public long clientId()
        {
            return clientId;
        }

        /** @param store the storage engine. @return this. */
        public Context store(final ReplicaStore store)
        {
            this.store = store;
            return this;
        }

        /** @return the storage engine. */
        public ReplicaStore store()
        {
            return store;
        }

        /** @param transport opens publications to clients and peers. @return this. */
        public Context transport(final MessageTransport transport)
        {
            this.transport = transport;
            return this;
        }

        /** @return opens publications to clients and peers. */
        public MessageTransport transport()
        {
            return transport;
        }

        /** @param counters where to count; default a new set. @return this. */
        public Context counters(final ReplicationCounters counters)
        {
            this.counters = counters;
            return this;
        }

        /** @return the counters. */
        public ReplicationCounters counters()
        {
            return counters;
        }

        /** @param maxClients most connected clients. @return this. */
        public Context maxClients(final int maxClients)
        {
            this.maxClients = maxClients;
            return this;
        }

        /** @return most connected clients. */
        public int maxClients()
        {
            return maxClients;
        }

        /** @param maxPeers most secondaries linked. @return this. */
        public Context maxPeers(final int maxPeers)
        {
            this.maxPeers = maxPeers;
            return this;
        }

        /** @return most secondaries linked. */
        public int maxPeers()
        {
            return maxPeers;
        }

        /** @param maxOpenExtents most extents open as primary. @return this. */
        public Context maxOpenExtents(final int maxOpenExtents)
        {
            this.maxOpenExtents = maxOpenExtents;
            return this;
        }

        /** @return most extents open as primary. */
        public int maxOpenExtents()
        {
            return maxOpenExtents;
        }

        /** @param maxInFlightAppends appends in flight per extent before BUSY. @return this. */
        public Context maxInFlightAppends(final int maxInFlightAppends)
        {
            this.maxInFlightAppends = maxInFlightAppends;
            return this;
        }

        /** @return appends in flight per extent before BUSY. */
        public int maxInFlightAppends()
        {
            return maxInFlightAppends;
        }

        /** @param maxInFlightBytes block bytes in flight per extent before BUSY. @return this. */
        public Context maxInFlightBytes(final long maxInFlightBytes)
        {
            this.maxInFlightBytes = maxInFlightBytes;
            return this;
        }

        /** @return block bytes in flight per extent before BUSY. */
        public long maxInFlightBytes()
        {
            return maxInFlightBytes;
        }

        /** @param maxPendingStoreOps store operations in flight before BUSY. @return this. */
        public Context maxPendingStoreOps(final int maxPendingStoreOps)
        {
            this.maxPendingStoreOps = maxPendingStoreOps;
            return this;
        }

        /** @return store operations in flight before BUSY. */
        public int maxPendingStoreOps()
        {
            return maxPendingStoreOps;
        }

        /** @param replicateTimeoutNs time a secondary has to acknowledge a block. @return this. */
        public Context replicateTimeoutNs(final long replicateTimeoutNs)
        {
            this.replicateTimeoutNs = replicateTimeoutNs;
            return this;
        }

        /** @return time a secondary has to acknowledge a block. */
        public long replicateTimeoutNs()
        {
            return replicateTimeoutNs;
        }

        /** @param openTimeoutNs time to open an extent on all replicas. @return this. */
        public Context openTimeoutNs(final long openTimeoutNs)
        {
            this.openTimeoutNs = openTimeoutNs;
            return this;
        }

        /** @return time to open an extent on all replicas. */
        public long openTimeoutNs()
        {
            return openTimeoutNs;
        }

        /** @param clientConnectTimeoutNs time a client's response publication has to connect. @return this. */
        public Context clientConnectTimeoutNs(final long clientConnectTimeoutNs)
        {
            this.clientConnectTimeoutNs = clientConnectTimeoutNs;
            return this;
        }

        /** @return time a client's response publication has to connect. */
        public long clientConnectTimeoutNs()
        {
            return clientConnectTimeoutNs;
        }

        /** @param connectRetryIntervalNs interval between Connect attempts to a secondary. @return this. */
        public Context connectRetryIntervalNs(final long connectRetryIntervalNs)
        {
            this.connectRetryIntervalNs = connectRetryIntervalNs;
            return this;
        }

        /** @return interval between Connect attempts to a secondary. */
        public long connectRetryIntervalNs()
        {
            return connectRetryIntervalNs;
        }

        /** @param offerRetries retries of a back-pressured offer before it counts as failed. @return this. */
        public Context offerRetries(final int offerRetries)
        {
            this.offerRetries = offerRetries;
            return this;
        }

        /** @return retries of a back-pressured offer. */
        public int offerRetries()
        {
            return offerRetries;
        }

        /** @param storePollLimit store completions taken per duty cycle. @return this. */
        public Context storePollLimit(final int storePollLimit)
        {
            this.storePollLimit = storePollLimit;
            return this;
        }

        /** @return store completions taken per duty cycle. */
        public int storePollLimit()
        {
            return storePollLimit;
        }

        /** @param maxPendingSeals SealExtent requests in progress before BUSY. @return this. */
        public Context maxPendingSeals(final int maxPendingSeals)
        {
            this.maxPendingSeals = maxPendingSeals;
            return this;
        }

        /** @return SealExtent requests in progress before BUSY. */
        public int maxPendingSeals()
        {
            return maxPendingSeals;
        }
    }
}
