package io.cairn.sbe;

import io.cairn.sbe.manager.ManagerStatus;
import io.cairn.sbe.manager.StreamInfoResponseDecoder;
import io.cairn.sbe.manager.StreamInfoResponseEncoder;
import io.cairn.sbe.node.AppendRequestDecoder;
import io.cairn.sbe.node.AppendRequestEncoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.NodeStatus;
import io.cairn.sbe.node.OpenExtentRequestDecoder;
import io.cairn.sbe.node.OpenExtentRequestEncoder;
import io.cairn.sbe.node.ReadResponseDecoder;
import io.cairn.sbe.node.ReadResponseEncoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The generated codecs encode and decode every field, group and var-data as written, in the
 * little-endian layout the schemas declare. Runs with SBE precedence checks on (surefire sets
 * sbe.enable.precedence.checks), so out-of-order access would fail here too.
 */
class CodecRoundTripTest
{
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024));

    @Test
    void appendRequestCarriesPayloadBytesExactly()
    {
        final byte[] payload = new byte[5000];
        new Random(1).nextBytes(payload);
        final AppendRequestEncoder encoder = new AppendRequestEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .correlationId(42).clientId(-7).extentId(9).expectedOffset(-1)
            .putPayload(payload, 0, payload.length);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();

        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 0);
        assertEquals(100, header.schemaId());
        assertEquals(AppendRequestDecoder.TEMPLATE_ID, header.templateId());
        final AppendRequestDecoder decoder = new AppendRequestDecoder().wrapAndApplyHeader(buffer, 0, header);
        assertEquals(42, decoder.correlationId());
        assertEquals(-7, decoder.clientId());
        assertEquals(9, decoder.extentId());
        assertEquals(-1, decoder.expectedOffset());
        final byte[] decoded = new byte[decoder.payloadLength()];
        decoder.getPayload(decoded, 0, decoded.length);
        assertArrayEquals(payload, decoded);
        assertEquals(length, MessageHeaderDecoder.ENCODED_LENGTH + decoder.encodedLength());
        assertEquals(42L, buffer.getLong(MessageHeaderEncoder.ENCODED_LENGTH, java.nio.ByteOrder.LITTLE_ENDIAN),
            "little-endian on the wire");
    }

    @Test
    void openExtentRequestGroupOfReplicas()
    {
        final OpenExtentRequestEncoder encoder = new OpenExtentRequestEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .correlationId(1).clientId(2).extentId(3).streamId(4).forwarded((short)1);
        final OpenExtentRequestEncoder.ReplicasEncoder replicas = encoder.replicasCount(3);
        for (int i = 0; i < 3; i++)
        {
            replicas.next().nodeId(10 + i).endpoint("127.0.0.1:" + (20201 + i));
        }
        final OpenExtentRequestDecoder decoder =
            new OpenExtentRequestDecoder().wrapAndApplyHeader(buffer, 0, new MessageHeaderDecoder());
        assertEquals(3, decoder.extentId());
        assertEquals(4, decoder.streamId());
        assertEquals(1, decoder.forwarded());
        int i = 0;
        for (final OpenExtentRequestDecoder.ReplicasDecoder r : decoder.replicas())
        {
            assertEquals(10 + i, r.nodeId());
            assertEquals("127.0.0.1:" + (20201 + i), r.endpoint());
            i++;
        }
        assertEquals(3, i);
    }

    @Test
    void readResponseStatusPayloadAndMessage()
    {
        final ReadResponseEncoder encoder = new ReadResponseEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .correlationId(5).extentId(6).status(NodeStatus.CORRUPT).blockOffset(4096).nextOffset(8192).commitLength(8192)
            .putPayload(new byte[0], 0, 0)
            .errorMessage("crc mismatch");
        final ReadResponseDecoder decoder = new ReadResponseDecoder().wrapAndApplyHeader(buffer, 0, new MessageHeaderDecoder());
        assertEquals(NodeStatus.CORRUPT, decoder.status());
        assertEquals(4096, decoder.blockOffset());
        assertEquals(8192, decoder.nextOffset());
        assertEquals(0, decoder.payloadLength());
        decoder.skipPayload();
        assertEquals("crc mismatch", decoder.errorMessage());
    }

    @Test
    void streamInfoResponseNestedGroupsAndStrings()
    {
        final StreamInfoResponseEncoder encoder = new StreamInfoResponseEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new io.cairn.sbe.manager.MessageHeaderEncoder())
            .correlationId(77).status(ManagerStatus.OK).streamId(3);
        encoder.extentsCount(2)
            .next().extentId(10).sealedLength(8192).replica0(1).replica1(2).replica2(3)
            .next().extentId(11).sealedLength(-1).replica0(2).replica1(3).replica2(1);
        encoder.nodesCount(1).next().nodeId(1).endpoint("127.0.0.1:20201");
        encoder.name("orders").errorMessage("");

        final StreamInfoResponseDecoder decoder =
            new StreamInfoResponseDecoder().wrapAndApplyHeader(buffer, 0, new io.cairn.sbe.manager.MessageHeaderDecoder());
        assertEquals(200, decoder.sbeSchemaId());
        assertEquals(77, decoder.correlationId());
        assertEquals(ManagerStatus.OK, decoder.status());
        final StreamInfoResponseDecoder.ExtentsDecoder extents = decoder.extents();
        assertEquals(2, extents.count());
        extents.next();
        assertEquals(10, extents.extentId());
        assertEquals(8192, extents.sealedLength());
        extents.next();
        assertEquals(11, extents.extentId());
        assertEquals(-1, extents.sealedLength());
        assertEquals(2, extents.replica0());
        final StreamInfoResponseDecoder.NodesDecoder nodes = decoder.nodes();
        nodes.next();
        assertEquals("127.0.0.1:20201", nodes.endpoint());
        assertEquals("orders", decoder.name());
        assertEquals("", decoder.errorMessage());
    }
}
