package io.cairn.perf.jmh;

import io.cairn.sbe.node.AppendRequestDecoder;
import io.cairn.sbe.node.AppendRequestEncoder;
import io.cairn.sbe.node.MessageHeaderDecoder;
import io.cairn.sbe.node.MessageHeaderEncoder;
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
import java.util.concurrent.TimeUnit;

/** SBE encode and decode of the append request, the message every append sends, payload included. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SbeCodecBenchmark
{
    @Param({ "64", "4096" })
    public int payloadBytes;

    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final AppendRequestEncoder encoder = new AppendRequestEncoder();
    private final AppendRequestDecoder decoder = new AppendRequestDecoder();
    private UnsafeBuffer payload;
    private UnsafeBuffer message;
    private UnsafeBuffer decoded;
    private long sequence;

    @Setup
    public void setup()
    {
        payload = new UnsafeBuffer(ByteBuffer.allocateDirect(payloadBytes));
        message = new UnsafeBuffer(ByteBuffer.allocateDirect(payloadBytes + 256));
        decoded = new UnsafeBuffer(ByteBuffer.allocateDirect(payloadBytes));
        encode();
    }

    @Benchmark
    public int encode()
    {
        encoder.wrapAndApplyHeader(message, 0, headerEncoder)
            .correlationId(++sequence)
            .clientId(42)
            .extentId(7)
            .expectedOffset(-1)
            .ownerRevision(3)
            .requestId(sequence)
            .recordLengthBytes(payloadBytes)
            .chunkOffset(0)
            .putPayload(payload, 0, payloadBytes);
        return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
    }

    @Benchmark
    public long decode()
    {
        headerDecoder.wrap(message, 0);
        decoder.wrapAndApplyHeader(message, 0, headerDecoder);
        final long sum = decoder.correlationId() + decoder.clientId() + decoder.extentId() + decoder.expectedOffset() +
            decoder.ownerRevision() + decoder.requestId();
        return sum + decoder.getPayload(decoded, 0, decoder.payloadLength());
    }
}
