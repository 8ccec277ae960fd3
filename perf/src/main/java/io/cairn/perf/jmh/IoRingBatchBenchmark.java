package io.cairn.perf.jmh;

import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIo;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * One io_uring batch: 32 O_DIRECT 4 KiB writes prepared, submitted in one call and reaped in one call (no fdatasync),
 * overwriting a preallocated, already written 8 MiB file in {@code -Dcairn.jmh.dir} (default ./data/jmh; must not be
 * tmpfs). Time is per write. This includes the device: it is the floor of the disk agent's batch, not a pure CPU cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class IoRingBatchBenchmark
{
    static final int BATCH = 32;
    static final int BLOCK = 4096;
    static final long FILE_BYTES = 8L * 1024 * 1024;

    private IoRing ring;
    private Arena arena;
    private long address;
    private int fd;
    private Path file;
    private long fileOffset;
    private long reaped;
    private final IoRing.CompletionHandler onCompletion = (userData, result) ->
    {
        if (result != BLOCK)
        {
            throw new IllegalStateException("write " + userData + " returned " + result);
        }
        reaped++;
    };

    @Setup(Level.Trial)
    public void setup() throws Exception
    {
        final Path dir = Path.of(System.getProperty("cairn.jmh.dir", "data/jmh"));
        Files.createDirectories(dir);
        file = dir.resolve("ioring-" + ProcessHandle.current().pid() + ".dat");
        fd = NativeIo.openDirect(file, true);
        NativeIo.fallocate(fd, 0, FILE_BYTES);
        ring = new IoRing(BATCH * 2);
        arena = Arena.ofShared();
        final MemorySegment buffer = arena.allocate(BLOCK, BLOCK);
        address = buffer.address();
        for (long off = 0; off < FILE_BYTES; off += BLOCK * BATCH)
        {
            fileOffset = off;
            batch(); // Written once, so that the measured writes are overwrites.
        }
        NativeIo.fdatasync(fd);
        fileOffset = 0;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long batch() throws Exception
    {
        for (int i = 0; i < BATCH; i++)
        {
            ring.prepareWrite(fd, address, BLOCK, fileOffset, i, false);
            fileOffset = (fileOffset + BLOCK) % FILE_BYTES;
        }
        ring.submit();
        int done = 0;
        while (done < BATCH)
        {
            done += ring.reap(onCompletion, BATCH - done);
        }
        return reaped;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception
    {
        ring.close();
        NativeIo.close(fd);
        arena.close();
        Files.deleteIfExists(file);
    }
}
