package io.cairn.perf.jmh;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/** CRC32C of a block (the JDK intrinsic, on a direct buffer as the block store uses it). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class Crc32cBenchmark
{
    @Param({ "4096", "65536" })
    public int lengthBytes;

    private final CRC32C crc = new CRC32C();
    private ByteBuffer buffer;

    @Setup
    public void setup()
    {
        buffer = ByteBuffer.allocateDirect(lengthBytes);
        final byte[] bytes = new byte[lengthBytes];
        ThreadLocalRandom.current().nextBytes(bytes);
        buffer.put(bytes).flip();
    }

    @Benchmark
    public long crc32c()
    {
        crc.reset();
        crc.update(buffer.clear());
        return crc.getValue();
    }
}
