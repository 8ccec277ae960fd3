package io.cairn.perf;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.NodeProtocol;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Drives appends to one new stream for a fixed time (closed loop, one append in flight), records every
 * latency in an HdrHistogram after a warm-up, prints percentiles and throughput, and optionally reads the
 * whole stream back from each of the three replicas checking every block's CRC32C against what was sent.
 * <p>
 * A closed loop only (coordinated omission hides stalls): for latency use the open-loop rig, {@link LoadRig}
 * ({@code cairn-bench load}).
 */
public final class WriteBenchmark
{
    /** Named limits of a run, so that a mistyped flag cannot run for hours or exhaust memory. */
    static final long MAX_DURATION_S = 3600;
    static final int MAX_OPS_DEFAULT = 2_000_000;
    static final long HIGHEST_TRACKABLE_LATENCY_NS = TimeUnit.SECONDS.toNanos(60);

    static final String USAGE = """
        usage: cairn-bench write [--managers M] [--duration-s N] [--warmup-s N] [--size-bytes N] [--mixed-sizes]
                                 [--max-ops N] [--seed N] [--verify] [--stream NAME]
          --duration-s   measured seconds (default 10, max %d)
          --warmup-s     seconds of appends before measuring, not recorded (default 2)
          --size-bytes   payload bytes per append (default 4096, max %d); with --mixed-sizes the largest
          --mixed-sizes  uniformly random sizes in [1, size-bytes]
          --max-ops      stop after this many measured appends (default %d)
          --verify       read the stream back from all 3 replicas and check every block's CRC32C
        """.formatted(MAX_DURATION_S, NodeProtocol.MAX_PAYLOAD_BYTES, MAX_OPS_DEFAULT);

    record Options(
        String managers, long durationS, long warmupS, int sizeBytes, boolean mixedSizes, int maxOps, long seed,
        boolean verify, String stream)
    {
    }

    public static void main(final String[] args)
    {
        final Options options;
        try
        {
            options = parse(args);
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-bench: " + ex.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        try
        {
            System.exit(run(options, System.out) ? 0 : 1);
        }
        catch (final RuntimeException ex)
        {
            System.err.println("cairn-bench: failed: " + ex.getMessage());
            System.exit(1);
        }
    }

    static Options parse(final String[] args)
    {
        String managers = System.getenv().getOrDefault("CAIRN_MANAGERS", CairnClient.Context.MANAGERS_DEFAULT);
        long durationS = 10;
        long warmupS = 2;
        int sizeBytes = 4096;
        boolean mixed = false;
        int maxOps = MAX_OPS_DEFAULT;
        long seed = 42;
        boolean verify = false;
        String stream = "bench-" + System.currentTimeMillis();
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            switch (arg)
            {
                case "--mixed-sizes" -> mixed = true;
                case "--verify" -> verify = true;
                case "--managers" -> managers = BenchArgs.value(args, ++i, arg);
                case "--stream" -> stream = BenchArgs.value(args, ++i, arg);
                case "--duration-s" -> durationS = BenchArgs.number(args, ++i, arg, 1, MAX_DURATION_S);
                case "--warmup-s" -> warmupS = BenchArgs.number(args, ++i, arg, 0, MAX_DURATION_S);
                case "--size-bytes" -> sizeBytes = (int)BenchArgs.number(args, ++i, arg, 1, NodeProtocol.MAX_PAYLOAD_BYTES);
                case "--max-ops" -> maxOps = (int)BenchArgs.number(args, ++i, arg, 1, 100_000_000);
                case "--seed" -> seed = BenchArgs.number(args, ++i, arg, Long.MIN_VALUE, Long.MAX_VALUE);
                default -> throw new IllegalArgumentException("unknown argument '" + arg + "'");
            }
        }
        return new Options(managers, durationS, warmupS, sizeBytes, mixed, maxOps, seed, verify, stream);
    }

    /**
     * @return true when every verification passed (or none was asked for).
     */
    static boolean run(final Options options, final PrintStream out)
    {
        final Random random = new Random(options.seed());
        final UnsafeBuffer payload = new UnsafeBuffer(ByteBuffer.allocateDirect(options.sizeBytes()));
        final byte[] randomBytes = new byte[options.sizeBytes()];
        random.nextBytes(randomBytes);
        payload.putBytes(0, randomBytes);

        // What was acknowledged, for verification: preallocated, bounded by --max-ops.
        final long[] extentIds = options.verify() ? new long[options.maxOps()] : null;
        final long[] offsets = options.verify() ? new long[options.maxOps()] : null;
        final int[] lengths = options.verify() ? new int[options.maxOps()] : null;
        final int[] crcs = options.verify() ? new int[options.maxOps()] : null;

        final Histogram histogram = new Histogram(HIGHEST_TRACKABLE_LATENCY_NS, 3);
        final AppendResult result = new AppendResult();
        final CRC32C crc = new CRC32C();
        final ByteBuffer crcView = payload.byteBuffer().duplicate();

        try (CairnClient client = CairnClient.connect(new CairnClient.Context().managers(options.managers())))
        {
            final StreamInfo stream = client.createStream(options.stream());
            out.printf("[bench] stream %d '%s', first extent %d on nodes %s; warm-up %d s, then %d s measured%n",
                stream.streamId(), stream.name(), stream.tail().extentId(),
                java.util.Arrays.toString(stream.tail().replicas()), options.warmupS(), options.durationS());

            long sequence = 0;
            final long warmupEndNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(options.warmupS());
            int count = 0;
            long bytes = 0;
            long warmupOps = 0;
            boolean measuring = options.warmupS() == 0;
            long startNs = measuring ? System.nanoTime() : 0;
            long endNs = measuring ? startNs + TimeUnit.SECONDS.toNanos(options.durationS()) : Long.MAX_VALUE;
            long nextProgressNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);

            while (count < options.maxOps())
            {
                final long nowNs = System.nanoTime();
                if (!measuring && nowNs - warmupEndNs >= 0)
                {
                    measuring = true;
                    startNs = nowNs;
                    endNs = startNs + TimeUnit.SECONDS.toNanos(options.durationS());
                    nextProgressNs = startNs + TimeUnit.SECONDS.toNanos(1);
                }
                if (measuring && nowNs - endNs >= 0)
                {
                    break;
                }
                final int length = options.mixedSizes() ? 1 + random.nextInt(options.sizeBytes()) : options.sizeBytes();
                // Make every block distinct so a misplaced block cannot pass verification.
                if (options.sizeBytes() >= Long.BYTES)
                {
                    payload.putLong(0, sequence);
                }
                sequence++;

                final long t0 = System.nanoTime();
                client.append(stream.streamId(), payload, 0, length, result);
                final long latencyNs = System.nanoTime() - t0;

                if (!measuring)
                {
                    warmupOps++;
                    continue; // Warm-up blocks are in the stream but not verified: only measured ones are recorded.
                }
                histogram.recordValue(Math.min(latencyNs, HIGHEST_TRACKABLE_LATENCY_NS));
                if (null != extentIds)
                {
                    extentIds[count] = result.extentId();
                    offsets[count] = result.blockOffset();
                    lengths[count] = length;
                    crc.reset();
                    crc.update(crcView.clear().limit(length));
                    crcs[count] = (int)crc.getValue();
                }
                count++;
                bytes += length;
                if (t0 - nextProgressNs >= 0)
                {
                    nextProgressNs = t0 + TimeUnit.SECONDS.toNanos(1);
                    out.printf("[bench] %3d s  %d appends  p50 %.1f µs  p99 %.1f µs%n",
                        TimeUnit.NANOSECONDS.toSeconds(t0 - startNs), count,
                        histogram.getValueAtPercentile(50) / 1000.0, histogram.getValueAtPercentile(99) / 1000.0);
                }
            }
            final double elapsedS = (System.nanoTime() - startNs) / 1e9;
            printSummary(out, options, histogram, count, bytes, elapsedS);

            if (options.verify())
            {
                return verify(client, stream.streamId(), warmupOps, count, extentIds, offsets, lengths, crcs, out);
            }
            return true;
        }
    }

    static void printSummary(
        final PrintStream out, final Options options, final Histogram h, final int count, final long bytes,
        final double elapsedS)
    {
        out.println();
        out.printf("Cairn write benchmark: %d appends of %s in %.1f s (closed loop, 1 in flight; each acknowledged " +
            "after fdatasync on all 3 replicas)%n", count,
            options.mixedSizes() ? "1.." + options.sizeBytes() + " B" : options.sizeBytes() + " B", elapsedS);
        out.printf("throughput: %.0f appends/s, %.2f MiB/s%n", count / elapsedS, bytes / elapsedS / (1024.0 * 1024.0));
        out.printf("latency µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f%n",
            h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0,
            h.getValueAtPercentile(99) / 1000.0, h.getValueAtPercentile(99.9) / 1000.0, h.getMaxValue() / 1000.0);
    }

    private static boolean verify(
        final CairnClient client, final long streamId, final long warmupOps, final int count,
        final long[] extentIds, final long[] offsets, final int[] lengths, final int[] crcs, final PrintStream out)
    {
        boolean ok = true;
        for (int replica = 0; replica < NodeProtocol.REPLICA_COUNT; replica++)
        {
            final CRC32C crc = new CRC32C();
            final long[] index = { -warmupOps };
            final long[] mismatches = { 0 };
            final byte[] scratch = new byte[NodeProtocol.MAX_PAYLOAD_BYTES];
            final long blocks = client.readStreamFromReplica(streamId, replica, (extentId, blockOffset, data, length) ->
            {
                final long i = index[0]++;
                if (i < 0)
                {
                    return; // A warm-up block.
                }
                if (i >= count)
                {
                    mismatches[0]++;
                    return;
                }
                data.getBytes(0, scratch, 0, length);
                crc.reset();
                crc.update(scratch, 0, length);
                final int ii = (int)i;
                if (extentIds[ii] != extentId || offsets[ii] != blockOffset || lengths[ii] != length ||
                    crcs[ii] != (int)crc.getValue())
                {
                    mismatches[0]++;
                }
            });
            final boolean replicaOk = 0 == mismatches[0] && blocks == warmupOps + count;
            ok &= replicaOk;
            out.printf("verify replica %d: %d blocks read, %d expected, %d mismatches -> %s%n",
                replica, blocks, warmupOps + count, mismatches[0], replicaOk ? "OK" : "FAILED");
        }
        return ok;
    }
}
