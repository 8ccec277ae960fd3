package io.cairn.perf;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIo;
import io.cairn.bindings.NativeIoException;
import org.HdrHistogram.Histogram;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The bindings' durable round trip, alone: one 4 KiB O_DIRECT write linked to an fdatasync, submitted in
 * one downcall and reaped in one, on a preallocated file — the floor under every replica's append. Run
 * it beside fio on the same file system (see docs/ARCHITECTURE.md) to read the result as a ratio.
 */
public final class IoRoundTripBenchmark
{
    static final String USAGE = """
        usage: cairn-bench io [--dir DIR] [--ops N] [--warmup-ops N] [--block-bytes N] [--file-bytes N]
          --dir          directory on the file system to measure (default ./data/bench-io); must support O_DIRECT
          --ops          measured write+fdatasync round trips (default 20000, max 10000000)
          --warmup-ops   round trips before measuring, not recorded (default 2000)
          --block-bytes  bytes per write, a multiple of 4096 (default 4096, max 4194304)
          --file-bytes   preallocated file size, writes wrap around inside it (default 64 MiB)
        """;

    private IoRoundTripBenchmark()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        Path dir = Path.of("data", "bench-io");
        long ops = 20_000;
        long warmupOps = 2_000;
        long blockBytes = 4096;
        long fileBytes = 64L * 1024 * 1024;
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                switch (args[i])
                {
                    case "--dir" -> dir = Path.of(BenchArgs.value(args, ++i, "--dir"));
                    case "--ops" -> ops = BenchArgs.number(args, ++i, "--ops", 1, 10_000_000);
                    case "--warmup-ops" -> warmupOps = BenchArgs.number(args, ++i, "--warmup-ops", 0, 10_000_000);
                    case "--block-bytes" -> blockBytes = BenchArgs.number(args, ++i, "--block-bytes", 4096, 4 * 1024 * 1024);
                    case "--file-bytes" -> fileBytes = BenchArgs.number(args, ++i, "--file-bytes", 1 << 20, 1L << 34);
                    default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
                }
            }
            if (blockBytes % NativeIo.BLOCK_ALIGNMENT_BYTES != 0 || fileBytes % blockBytes != 0)
            {
                throw new IllegalArgumentException("--block-bytes must be a multiple of 4096 and divide --file-bytes");
            }
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-bench: " + ex.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        run(dir, ops, warmupOps, (int)blockBytes, fileBytes, System.out);
    }

    static Histogram run(
        final Path dir, final long ops, final long warmupOps, final int blockBytes, final long fileBytes,
        final PrintStream out) throws Exception
    {
        Files.createDirectories(dir);
        final Path file = dir.resolve("io-round-trip.dat");
        final Histogram histogram = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        final int fd = NativeIo.openDirect(file, true);
        try (IoRing ring = new IoRing(8); AlignedBufferPool pool = new AlignedBufferPool(1, blockBytes))
        {
            NativeIo.fallocate(fd, 0, fileBytes);
            NativeIo.fdatasync(fd);
            final int buffer = pool.acquire();
            pool.segment(buffer).fill((byte)0x5A);
            final long address = pool.address(buffer);
            final int[] failures = { 0 };
            final IoRing.CompletionHandler handler = (userData, result) ->
            {
                if (result < 0 || (userData == 1 && result != blockBytes))
                {
                    failures[0] = result;
                }
            };
            long fileOffset = 0;
            final long startNs = System.nanoTime();
            for (long i = 0, total = warmupOps + ops; i < total; i++)
            {
                final long t0 = System.nanoTime();
                ring.prepareWrite(fd, address, blockBytes, fileOffset, 1, true);
                ring.prepareFdatasync(fd, 2, false);
                ring.submit();
                int reaped = 0;
                while (reaped < 2)
                {
                    reaped += ring.reap(handler, 2 - reaped);
                }
                final long latencyNs = System.nanoTime() - t0;
                if (0 != failures[0])
                {
                    throw new NativeIoException("write+fdatasync", -failures[0], fd, fileOffset, file.toString());
                }
                if (i >= warmupOps)
                {
                    histogram.recordValue(Math.min(latencyNs, histogram.getHighestTrackableValue()));
                }
                fileOffset = (fileOffset + blockBytes) % fileBytes;
            }
            final double elapsedS = (System.nanoTime() - startNs) / 1e9;
            out.printf("io_uring round trip: %d x (%d B O_DIRECT write -> linked fdatasync), QD1, file %s%n",
                ops, blockBytes, file);
            out.printf("throughput: %.0f durable writes/s (incl. warm-up %d)%n", (warmupOps + ops) / elapsedS, warmupOps);
            out.printf("latency µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f%n",
                histogram.getValueAtPercentile(50) / 1000.0, histogram.getValueAtPercentile(90) / 1000.0,
                histogram.getValueAtPercentile(99) / 1000.0, histogram.getValueAtPercentile(99.9) / 1000.0,
                histogram.getMaxValue() / 1000.0);
        }
        finally
        {
            NativeIo.close(fd);
        }
        return histogram;
    }
}
