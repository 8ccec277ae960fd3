package io.cairn.replication;

import io.cairn.sbe.node.NodeStatus;

/**
 * An extent open on this node as primary: the open handshake and the ring of appends in flight.
 * <p>
 * Appends are acknowledged strictly in offset order (from the head of the ring), so an OK for a block
 * implies every earlier block is durable on all three replicas.
 */
final class PrimaryExtent
{
    /** Lifecycle of an extent on its primary. */
    enum State
    {
        /** Local create and forwarded opens in progress. */
        OPENING,
        /** Taking appends. */
        OPEN,
        /** A replica failed; every append fails fast until the extent is opened again. */
        FAILED
    }

    static final int LOCAL_DONE = 1;
    static final int PEER0_DONE = 2;
    static final int PEER1_DONE = 4;
    static final int ALL_DONE = LOCAL_DONE | PEER0_DONE | PEER1_DONE;

    /** Acknowledged appends remembered per extent for de-duplicating retried client requests. */
    static final int ACKED_WINDOW = 256;

    long extentId;
    long streamId;
    long ownerRevision;
    State state;
    final int[] nodeIds = new int[NodeProtocol.REPLICA_COUNT];
    final byte[][] endpoints = new byte[NodeProtocol.REPLICA_COUNT][];
    final PeerLink[] peers = new PeerLink[NodeProtocol.REPLICA_COUNT - 1];
    int storeWritesPending;
    NodeStatus failStatus;
    String failMessage;

    // Open handshake.
    long openClientId;
    long openCorrelationId;
    long openDeadlineNs;
    NodeStatus localOpenStatus;
    long localCommitLength;
    final boolean[] peerOpenSent = new boolean[2];
    final long[] peerOpenCorrelationId = new long[2];
    final NodeStatus[] peerOpenStatus = new NodeStatus[2];
    final long[] peerCommitLength = new long[2];
    final String[] peerOpenMessage = new String[2];

    // The record being written block by block (its chunks all staged); null when none.
    RecordStaging.Record record;

    // Blocks in flight, a ring in offset order; a record's blocks are answered once, at its LAST block.
    final long[] blockOffset;
    final long[] recordOffset;
    final int[] recordFlags;
    final long[] nextOffset;
    final long[] clientId;
    final long[] correlationId;
    final long[] startNs;
    final int[] doneMask;
    final long[] requestId;
    int head;
    int count;
    long inFlightBytes;

    // Recently acknowledged (clientId, requestId) -> where the block landed; a bounded ring.
    final long[] ackedClientId = new long[ACKED_WINDOW];
    final long[] ackedRequestId = new long[ACKED_WINDOW];
    final long[] ackedBlockOffset = new long[ACKED_WINDOW];
    final long[] ackedNextOffset = new long[ACKED_WINDOW];
    int ackedNext;
    int ackedCount;

    PrimaryExtent(final int maxInFlight)
    {
        blockOffset = new long[maxInFlight];
        recordOffset = new long[maxInFlight];
        recordFlags = new int[maxInFlight];
        nextOffset = new long[maxInFlight];
        clientId = new long[maxInFlight];
        correlationId = new long[maxInFlight];
        startNs = new long[maxInFlight];
        doneMask = new int[maxInFlight];
        requestId = new long[maxInFlight];
    }

    void beginOpen(final long requesterClientId, final long requestCorrelationId, final long deadlineNs)
    {
        state = State.OPENING;
        openClientId = requesterClientId;
        openCorrelationId = requestCorrelationId;
        openDeadlineNs = deadlineNs;
        localOpenStatus = null;
        failStatus = null;
        failMessage = null;
        for (int i = 0; i < 2; i++)
        {
            peerOpenSent[i] = false;
            peerOpenStatus[i] = null;
            peerOpenMessage[i] = null;
        }
    }

    int peerIndex(final int nodeId)
    {
        return nodeId == nodeIds[1] ? 0 : nodeId == nodeIds[2] ? 1 : -1;
    }

    boolean isFull(final int blockLength, final long maxInFlightBytes)
    {
        return count == blockOffset.length || inFlightBytes + blockLength > maxInFlightBytes;
    }

    void push(
        final long offset, final long next, final long client, final long correlation, final long request, final long nowNs)
    {
        push(offset, next, client, correlation, request, nowNs, offset, BlockFormat.RECORD_WHOLE);
    }

    void push(
        final long offset,
        final long next,
        final long client,
        final long correlation,
        final long request,
        final long nowNs,
        final long startOfRecord,
        final int flags)
    {
        final int i = (head + count) % blockOffset.length;
        recordOffset[i] = startOfRecord;
        recordFlags[i] = flags;
        requestId[i] = request;
        blockOffset[i] = offset;
        nextOffset[i] = next;
        clientId[i] = client;
        correlationId[i] = correlation;
        startNs[i] = nowNs;
        doneMask[i] = 0;
        count++;
        inFlightBytes += next - offset;
    }

    /**
     * @return ring index of the in-flight block at that offset, or -1.
     */
    int find(final long offset)
    {
        for (int n = 0; n < count; n++)
        {
            final int i = (head + n) % blockOffset.length;
            if (blockOffset[i] == offset)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @return ring index of the in-flight append carrying that client request id, or -1 (request id 0: none).
     */
    int findRequest(final long client, final long request)
    {
        for (int n = 0; 0 != request && n < count; n++)
        {
            final int i = (head + n) % blockOffset.length;
            if (requestId[i] == request && clientId[i] == client)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * Send the answer of an in-flight request (every block of its record) to a retry's correlation id.
     */
    void redirect(final long client, final long request, final long correlation)
    {
        for (int n = 0; n < count; n++)
        {
            final int i = (head + n) % blockOffset.length;
            if (requestId[i] == request && clientId[i] == client)
            {
                correlationId[i] = correlation;
            }
        }
        if (null != record && record.requestId == request && record.clientId == client)
        {
            record.correlationId = correlation;
        }
    }

    /**
     * @return index in the acknowledged window of that client request, or -1.
     */
    int findAcked(final long client, final long request)
    {
        for (int n = 0; 0 != request && n < ackedCount; n++)
        {
            if (ackedRequestId[n] == request && ackedClientId[n] == client)
            {
                return n;
            }
        }
        return -1;
    }

    void rememberAcked(final int ringIndex)
    {
        if (0 == requestId[ringIndex])
        {
            return;
        }
        ackedClientId[ackedNext] = clientId[ringIndex];
        ackedRequestId[ackedNext] = requestId[ringIndex];
        ackedBlockOffset[ackedNext] = recordOffset[ringIndex];
        ackedNextOffset[ackedNext] = nextOffset[ringIndex];
        ackedNext = (ackedNext + 1) % ACKED_WINDOW;
        ackedCount = Math.min(ACKED_WINDOW, ackedCount + 1);
    }

    void clearAcked()
    {
        ackedNext = 0;
        ackedCount = 0;
    }

    void popHead()
    {
        inFlightBytes -= nextOffset[head] - blockOffset[head];
        head = (head + 1) % blockOffset.length;
        count--;
    }

    void clearInFlight()
    {
        head = 0;
        count = 0;
        inFlightBytes = 0;
    }
}
