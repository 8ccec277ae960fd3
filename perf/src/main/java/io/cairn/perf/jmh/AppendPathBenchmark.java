package io.cairn.perf.jmh;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.AppendRequestDecoder;
import io.cairn.sbe.node.AppendRequestEncoder;
import io.cairn.sbe.node.AppendResponseDecoder;
import io.cairn.sbe.node.AppendResponseEncoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The CPU work of one append without network or disk: the client encodes the request (SBE, payload copied in), the
 * primary decodes it and lays the block out for the disk (header, payload copied once, CRC32C, padding to 4 KiB), then
 * encodes the response, which the client decodes. Run with {@code -prof gc}: it must allocate 0 B/op. (The
 * replication conductor's bookkeeping and the transports are not in this loop.)
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AppendPathBenchmark
{
    @Param({ "4064" })
    public int payloadBytes;

    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final AppendRequestEncoder requestEncoder = new AppendRequestEncoder();
    private final AppendRequestDecoder requestDecoder = new AppendRequestDecoder();
    private final AppendResponseEncoder responseEncoder = new AppendResponseEncoder();
    private final AppendResponseDecoder responseDecoder = new AppendResponseDecoder();
    private final CRC32C crc = new CRC32C();
    private UnsafeBuffer payload;
    private UnsafeBuffer request;
    private UnsafeBuffer response;
    private ByteBuffer block;
    private UnsafeBuffer blockView;
    private UnsafeBuffer payloadView;
    private long sequence;
    private long offset = NodeProtocol.FIRST_BLOCK_OFFSET;

    @Setup
    public void setup()
    {
        payload = new UnsafeBuffer(ByteBuffer.allocateDirect(payloadBytes));
        request = new UnsafeBuffer(ByteBuffer.allocateDirect(payloadBytes + 256));
        response = new UnsafeBuffer(ByteBuffer.allocateDirect(256));
        block = ByteBuffer.allocateDirect(BlockFormat.blockLengthBytes(payloadBytes)).order(ByteOrder.LITTLE_ENDIAN);
        blockView = new UnsafeBuffer(block);
        payloadView = new UnsafeBuffer(0, 0);
    }

    @Benchmark
    public long append()
    {
        final long correlationId = ++sequence;
        requestEncoder.wrapAndApplyHeader(request, 0, headerEncoder)
            .correlationId(correlationId).clientId(42).extentId(7).expectedOffset(-1).ownerRevision(1)
            .requestId(correlationId).recordLengthBytes(payloadBytes).chunkOffset(0).putPayload(payload, 0, payloadBytes);

        headerDecoder.wrap(request, 0);
        requestDecoder.wrapAndApplyHeader(request, 0, headerDecoder);
        final long extentId = requestDecoder.extentId();
        final int length = requestDecoder.payloadLength();
        final int payloadOffset = requestDecoder.limit() + AppendRequestDecoder.payloadHeaderLength();
        payloadView.wrap(request, payloadOffset, length);
        final int blockLength = BlockFormat.encodeBlock(block, blockView, crc, extentId, offset, payloadView, 0, length);
        final long blockOffset = offset;
        offset += blockLength;
        if (offset > (1L << 30))
        {
            offset = NodeProtocol.FIRST_BLOCK_OFFSET;
        }

        responseEncoder.wrapAndApplyHeader(response, 0, headerEncoder)
            .correlationId(requestDecoder.correlationId()).extentId(extentId).status(NodeStatus.OK)
            .blockOffset(blockOffset).nextOffset(offset).putErrorMessage(payload, 0, 0);
        headerDecoder.wrap(response, 0);
        responseDecoder.wrapAndApplyHeader(response, 0, headerDecoder);
        return responseDecoder.nextOffset() + responseDecoder.blockOffset();
    }
}
