package io.cairn.client;

import io.cairn.sbe.node.ConnectResponseEncoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.NodeStatus;
import io.cairn.sbe.node.ReadResponseEncoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The response adapter's correlation: a hedged read's range of correlation ids, one answer per id, re-arming after a
 * failed answer, stale counting, and Connect answers routed to the session listener instead of the capture slot.
 */
class NodeResponseAdapterTest
{
    final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
    final MessageHeaderEncoder header = new MessageHeaderEncoder();
    final List<Long> connectAnswers = new ArrayList<>();
    long acceptedConnectId = -1;
    final NodeResponseAdapter adapter = new NodeResponseAdapter((correlationId, nodeId, status) ->
    {
        connectAnswers.add(correlationId);
        return correlationId == acceptedConnectId;
    });

    int readResponse(final long correlationId, final NodeStatus status, final long blockOffset, final String payload)
    {
        final byte[] bytes = payload.getBytes(StandardCharsets.US_ASCII);
        final ReadResponseEncoder encoder = new ReadResponseEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(correlationId)
            .extentId(7)
            .status(status)
            .blockOffset(blockOffset)
            .nextOffset(blockOffset + 4096)
            .commitLength(blockOffset + 4096)
            .recordFlags((short)io.cairn.replication.BlockFormat.RECORD_WHOLE)
            .putPayload(bytes, 0, bytes.length)
            .errorMessage("")
            .putMetadata(new byte[0], 0, 0);
        return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
    }

    void deliver(final int length)
    {
        adapter.onFragment(buffer, 0, length, null);
    }

    @Test
    void theFirstAnswerInTheRangeIsTakenOthersAfterReArmingAndRepeatsOrOutsidersAreStale()
    {
        final ReadResult result = new ReadResult();
        adapter.awaitAny(100, 3, result);

        deliver(readResponse(99, NodeStatus.OK, 4096, "before")); // an earlier read's late answer
        deliver(readResponse(103, NodeStatus.OK, 4096, "after"));
        assertFalse(adapter.received());
        assertEquals(2, adapter.staleResponses());

        deliver(readResponse(101, NodeStatus.CORRUPT, 4096, ""));
        assertTrue(adapter.received());
        assertEquals(1, adapter.answeredIndex());
        assertEquals(NodeStatus.CORRUPT, adapter.status());

        // The slot is full until the client looked at it and re-armed it.
        deliver(readResponse(102, NodeStatus.OK, 4096, "third"));
        assertEquals(3, adapter.staleResponses());

        adapter.awaitOthers();
        deliver(readResponse(101, NodeStatus.OK, 4096, "again")); // the same id twice: stale
        assertFalse(adapter.received());
        assertEquals(4, adapter.staleResponses());
        deliver(readResponse(100, NodeStatus.OK, 4096, "first"));
        assertTrue(adapter.received());
        assertEquals(0, adapter.answeredIndex());
        assertEquals(NodeStatus.OK, adapter.status());
        assertArrayEquals("first".getBytes(StandardCharsets.US_ASCII), result.payloadBytes());
        assertEquals(4096, result.blockOffset());

        adapter.await(200, result); // the next request: the whole previous range is stale now
        deliver(readResponse(102, NodeStatus.OK, 4096, "late"));
        assertFalse(adapter.received());
        assertEquals(5, adapter.staleResponses());
    }

    @Test
    void connectAnswersGoToTheListenerAndLeaveTheSlotAlone()
    {
        final ReadResult result = new ReadResult();
        adapter.await(10, result);
        acceptedConnectId = 11;
        final ConnectResponseEncoder connect = new ConnectResponseEncoder().wrapAndApplyHeader(buffer, 0, header)
            .correlationId(11).nodeId(2).status(NodeStatus.OK);
        deliver(MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength());
        assertEquals(List.of(11L), connectAnswers);
        assertFalse(adapter.received(), "a Connect answer never fills the read's slot");
        assertEquals(0, adapter.staleResponses());

        connect.wrapAndApplyHeader(buffer, 0, header).correlationId(12).nodeId(2).status(NodeStatus.OK);
        deliver(MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength());
        assertEquals(1, adapter.staleResponses(), "a Connect answer no session waits for");

        deliver(readResponse(10, NodeStatus.OK, 0, "x"));
        assertTrue(adapter.received());
    }

    @Test
    void aRangeIsBoundedByTheAnsweredMask()
    {
        final ReadResult result = new ReadResult();
        assertThrows(IllegalArgumentException.class, () -> adapter.awaitAny(1, 0, result));
        assertThrows(IllegalArgumentException.class,
            () -> adapter.awaitAny(1, NodeResponseAdapter.MAX_AWAITED_IDS + 1, result));
        adapter.awaitAny(1, NodeResponseAdapter.MAX_AWAITED_IDS, result);
        deliver(readResponse(NodeResponseAdapter.MAX_AWAITED_IDS, NodeStatus.OK, 0, "last"));
        assertEquals(NodeResponseAdapter.MAX_AWAITED_IDS - 1, adapter.answeredIndex());
    }
}
