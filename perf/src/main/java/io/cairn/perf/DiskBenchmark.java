package io.cairn.perf;

import io.cairn.daemon.DiskCounters;
import io.cairn.daemon.DiskIdleStrategy;
import io.cairn.daemon.DiskIoAgent;
import io.cairn.daemon.ExtentFiles;
import io.cairn.daemon.IoUringReplicaStore;
import io.cairn.daemon.RecoveredExtent;
import io.cairn.daemon.UringDiskStorage;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.ReplicaStore;
import io.cairn.sbe.node.NodeStatus;
import org.HdrHistogram.Histogram;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The extent store alone, on one disk, at a fixed queue depth: what {@code perf/disk-bench.sh} compares with
 * fio on the same file system. One thread runs the store (replication side) and the disk's {@link DiskIoAgent}
 * duty cycle with the node's idle strategy ({@link DiskIdleStrategy}: while I/O is in flight it sleeps in the
 * disk's ring and wakes on the completion), as a node in SHARED threading does, with no network. Closed loop, like fio: QD
 * operations are kept outstanding; each completion is replaced at once.
 * <ul>
 *   <li>{@code write}: appends of one 4 KiB block (32-byte header + 4064-byte payload) to one extent; each
 *       completes when an fdatasync covering it has (the store never acknowledges before). The agent submits
 *       writes as they come and an fdatasync per extent once the writes before it completed, at most one in
 *       flight (a lone write to a synced file, as at QD 1, is one RWF_DSYNC write, durable when it completes): one fdatasync per up to N
 *       writes at QD N (the output's fsyncs column).</li>
 *   <li>{@code read}: reads of random 4 KiB blocks of an extent written first, each CRC-verified.</li>
 * </ul>
 * Latency is from the store call to its completion callback, recorded in HdrHistogram; {@code --hgrm} saves
 * the percentile distribution. {@code hgrm} turns a fio per-I/O latency log into the same form.
 */
public final class DiskBenchmark
{
    static final String USAGE = """
        usage: cairn-bench disk [--dir DIR] [--mode write|read] [--qd N] [--seconds S] [--warmup-seconds S]
                                [--hgrm FILE] [--label NAME] [--fixed-buffers] [--sqpoll] [--idle wait|park]
                                [--payload-bytes N] [--batch-max-commands N] [--settle-ms N] [--extent-dir D]
               cairn-bench disk hgrm --lat-log FIO_CLAT_LOG --out FILE.hgrm --label NAME
          --dir             directory on the file system to measure (default ./data/bench-disk); needs O_DIRECT
          --mode            write (append + group-commit fdatasync) or read (random verified block reads)
          --qd              operations kept outstanding (default 1, max 256)
          --seconds         measured time (default 10); --warmup-seconds before it, not recorded (default 2)
          --payload-bytes   write mode: the payload of each append (default 4064: one 4 KiB block with its
                            32-byte header); the block is header + payload rounded up to 4 KiB, as a node
                            writes a client's append of that size (perf/stream-bench.sh: 4096 and 65536)
          --batch-max-commands  most commands the disk agent takes (and submits in one call) per duty cycle
                            (default 64, as the node's --batch-max-commands)
          --settle-ms       read mode: pause after writing the 256 MiB extent, before the warm-up (default 2000,
                            0..60000): the fill's write burst is still settling in the file system and the disk
          --extent-dir      read mode: a data directory kept between runs. Its extent is written (256 MiB, then
                            --settle-ms) when absent and read as it is when present, so several runs, and fio
                            (on D/extents/1.ext from offset 4096, 256 MiB), read the very same blocks
          --hgrm            write the latency percentile distribution (microseconds) to FILE
          --fixed-buffers   register the I/O buffers with io_uring (READ_FIXED/WRITE_FIXED)
          --sqpoll          kernel submission-queue polling thread (IORING_SETUP_SQPOLL)
          --idle            wait (default): the node's idle strategy, which sleeps in the disk's ring while
                            I/O is in flight and wakes on its completion; park: the plain backoff (parks up
                            to 50 us whatever the disk does), for comparison
        Prints one line: label mode qd ops iops mbps p50us p99us p999us fsyncs batches grouped
        (grouped: writes that went out inside a gathered RWF_DSYNC write, one per cycle of an idle extent).
        """;

    static final int BLOCK_BYTES = 4096;
    static final int PAYLOAD_BYTES = BLOCK_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES;
    static final long EXTENT_SIZE_BYTES = 4L << 30;
    static final long READ_EXTENT_BYTES = 256L * 1024 * 1024;
    static final long EXTENT = 1;
    static final long HIGHEST_NS = TimeUnit.SECONDS.toNanos(10);

    private DiskBenchmark()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length > 0 && "hgrm".equals(args[0]))
        {
            fioLogToHgrm(args);
            return;
        }
        Path dir = Path.of("data", "bench-disk");
        String mode = "write";
        int qd = 1;
        long seconds = 10;
        long warmupSeconds = 2;
        Path hgrm = null;
        String label = "cairn";
        boolean fixedBuffers = false;
        boolean sqPoll = false;
        boolean waitOnRing = true;
        int payloadBytes = PAYLOAD_BYTES;
        boolean payloadGiven = false;
        int maxBatchCommands = 64;
        long settleMs = 2000;
        Path extentDir = null;
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--dir" -> dir = Path.of(BenchArgs.value(args, ++i, "--dir"));
                case "--mode" -> mode = BenchArgs.value(args, ++i, "--mode");
                case "--qd" -> qd = (int)BenchArgs.number(args, ++i, "--qd", 1, 256);
                case "--seconds" -> seconds = BenchArgs.number(args, ++i, "--seconds", 1, 3600);
                case "--warmup-seconds" -> warmupSeconds = BenchArgs.number(args, ++i, "--warmup-seconds", 0, 600);
                case "--hgrm" -> hgrm = Path.of(BenchArgs.value(args, ++i, "--hgrm"));
                case "--label" -> label = BenchArgs.value(args, ++i, "--label");
                case "--fixed-buffers" -> fixedBuffers = true;
                case "--sqpoll" -> sqPoll = true;
                case "--payload-bytes" ->
                {
                    // The largest append a node takes from a client.
                    payloadBytes = (int)BenchArgs.number(args, ++i, "--payload-bytes", 1,
                        io.cairn.replication.NodeProtocol.MAX_PAYLOAD_BYTES);
                    payloadGiven = true;
                }
                case "--extent-dir" -> extentDir = Path.of(BenchArgs.value(args, ++i, "--extent-dir")).toAbsolutePath();
                case "--settle-ms" -> settleMs = BenchArgs.number(args, ++i, "--settle-ms", 0, 60_000);
                case "--batch-max-commands" ->
                    maxBatchCommands = (int)BenchArgs.number(args, ++i, "--batch-max-commands", 1, 4096);
                case "--idle" -> waitOnRing = switch (BenchArgs.value(args, ++i, "--idle"))
                {
                    case "wait" -> true;
                    case "park" -> false;
                    default -> throw new IllegalArgumentException("--idle must be wait or park\n" + USAGE);
                };
                default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'\n" + USAGE);
            }
        }
        if (!"write".equals(mode) && !"read".equals(mode))
        {
            throw new IllegalArgumentException("--mode must be write or read\n" + USAGE);
        }
        if (payloadGiven && !"write".equals(mode))
        {
            throw new IllegalArgumentException("--payload-bytes applies to --mode write only (reads are 4 KiB blocks)\n" +
                USAGE);
        }
        if (null != extentDir && !"read".equals(mode))
        {
            throw new IllegalArgumentException("--extent-dir applies to --mode read only\n" + USAGE);
        }
        Files.createDirectories(dir);
        final Path dataDir = null != extentDir ? extentDir : Files.createTempDirectory(dir, "disk-");
        if (null != extentDir)
        {
            Files.createDirectories(extentDir);
        }
        try
        {
            final Run run = new Run(dataDir, "write".equals(mode), qd, fixedBuffers, sqPoll, waitOnRing, payloadBytes,
                maxBatchCommands, null != extentDir);
            run.settleMs = settleMs;
            run.run(label, seconds, warmupSeconds, hgrm,
                System.out);
        }
        finally
        {
            if (null == extentDir)
            {
                try (Stream<Path> files = Files.walk(dataDir))
                {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    /** One measured run: the store and its disk agent driven from this thread. */
    private static final class Run implements ReplicaStore.Listener
    {
        final Path dataDir;
        final boolean write;
        final int qd;
        final DiskIoAgent disk;
        final IoUringReplicaStore store;
        final int payloadBytes;
        /** Bytes one operation puts on disk: the block (header + payload, 4 KiB-aligned), for the MB/s column. */
        final int blockBytes;
        final UnsafeBuffer payload;
        final long[] startNs;
        final Histogram histogram = new Histogram(HIGHEST_NS, 3);
        /** The node's own idle strategy (backoff capped at 50 µs; with I/O in flight a wait on the disk's ring):
         *  a busy-spinning loop steals the CPU that the kernel's completion work (ext4 journal) needs on a small
         *  machine. */
        final IdleStrategy idle;
        long completed;
        long failed;
        boolean recording;
        long blocksInExtent;
        long seed = 0x9E3779B97F4A7C15L;
        NodeStatus lastStatus;
        int outstanding;
        boolean running;
        final int[] freeSlots;
        int freeSlotCount;

        Run(final Path dataDir, final boolean write, final int qd, final boolean fixedBuffers, final boolean sqPoll,
            final boolean waitOnRing, final int payloadBytes, final int maxBatchCommands, final boolean reuse)
            throws IOException
        {
            this.dataDir = dataDir;
            this.write = write;
            this.payloadBytes = payloadBytes;
            this.blockBytes = write ? BlockFormat.blockLengthBytes(payloadBytes) : BLOCK_BYTES;
            this.payload = new UnsafeBuffer(new byte[payloadBytes]);
            this.qd = qd;
            startNs = new long[qd];
            freeSlots = new int[qd];
            Files.createDirectories(dataDir.resolve(ExtentFiles.EXTENTS_DIR));
            final CountersManager counters = new CountersManager(
                new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024 * 4)), new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)));
            // The node's defaults (ExtentNode.Context), with enough buffers for the queue depth.
            final DiskIoAgent.Config config = new DiskIoAgent.Config(Math.max(32, qd * 2), BlockFormat.MAX_BLOCK_LENGTH_BYTES,
                256, maxBatchCommands, 8L * 1024 * 1024, 64L * 1024 * 1024, 16L * 1024 * 1024).withRing(fixedBuffers, sqPoll, -1);
            final List<RecoveredExtent> recovered = reuse && Files.exists(ExtentFiles.path(dataDir, EXTENT)) ?
                ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0, System.err) : List.of();
            existing = !recovered.isEmpty();
            disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE,
                new DiskCounters((typeId, label) -> counters.newCounter(label, typeId), 1, 0, dataDir.toString()),
                config, recovered);
            store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, EXTENT_SIZE_BYTES,
                BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
            idle = waitOnRing ? DiskIdleStrategy.forDisks(disk) : AeronDefaults.idleStrategy();
            for (int i = 0; i < payloadBytes; i++)
            {
                payload.putByte(i, (byte)i);
            }
        }

        long settleMs;
        /** The read extent was there already (--extent-dir): read it as it is. */
        final boolean existing;

        void run(final String label, final long seconds, final long warmupSeconds, final Path hgrm, final PrintStream out)
            throws Exception
        {
            try
            {
                if (existing)
                {
                    final long blocks = (store.commitLength(EXTENT) - BlockFormat.EXTENT_HEADER_LENGTH_BYTES) / BLOCK_BYTES;
                    if (blocks != READ_EXTENT_BYTES / BLOCK_BYTES)
                    {
                        throw new IllegalStateException("the extent in " + ExtentFiles.path(dataDir, EXTENT) + " holds " +
                            blocks + " blocks, not " + READ_EXTENT_BYTES / BLOCK_BYTES + ": delete its directory");
                    }
                    blocksInExtent = blocks;
                    lastStatus = NodeStatus.OK;
                }
                else
                {
                    check(store.submitCreate(EXTENT, 1, qd));
                    awaitIdle();
                }
                if (!write && !existing)
                {
                    fillForReads();
                    // The fill is a 256 MiB write burst; the file system's journal and the virtual disk are still
                    // busy with it for a while (fio's read file, laid out once at the start, never has one right
                    // before its run). Let it settle so the reads are measured on a quiet disk, as fio's are.
                    Thread.sleep(settleMs);
                }
                final long warmupEndNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(warmupSeconds);
                drive(warmupEndNs);
                awaitIdle();
                histogram.reset();
                final long fsyncsBefore = disk.counters().get(DiskCounters.Kind.FSYNCS);
                final long batchesBefore = disk.counters().get(DiskCounters.Kind.BATCHES);
                final long groupedBefore = disk.counters().get(DiskCounters.Kind.GROUPED_WRITES);
                completed = 0;
                recording = true;
                final long startedNs = System.nanoTime();
                drive(startedNs + TimeUnit.SECONDS.toNanos(seconds));
                final long elapsedNs = System.nanoTime() - startedNs;
                recording = false;
                awaitIdle();
                if (failed > 0)
                {
                    throw new IllegalStateException(failed + " operations failed, last status " + lastStatus);
                }
                final double iops = completed * 1e9 / elapsedNs;
                out.printf("%s mode=%s qd=%d ops=%d iops=%.0f mbps=%.1f p50us=%.1f p99us=%.1f p999us=%.1f " +
                    "fsyncs=%d batches=%d grouped=%d%n", label, write ? "write" : "read", qd, completed, iops,
                    iops * blockBytes / 1e6, histogram.getValueAtPercentile(50) / 1000.0,
                    histogram.getValueAtPercentile(99) / 1000.0, histogram.getValueAtPercentile(99.9) / 1000.0,
                    disk.counters().get(DiskCounters.Kind.FSYNCS) - fsyncsBefore,
                    disk.counters().get(DiskCounters.Kind.BATCHES) - batchesBefore,
                    disk.counters().get(DiskCounters.Kind.GROUPED_WRITES) - groupedBefore);
                if (null != hgrm)
                {
                    try (PrintStream file = new PrintStream(Files.newOutputStream(hgrm)))
                    {
                        histogram.outputPercentileDistribution(file, 1000.0);
                    }
                }
            }
            finally
            {
                store.close();
                disk.onClose();
            }
        }

        private void fillForReads()
        {
            final long blocks = READ_EXTENT_BYTES / BLOCK_BYTES;
            while (blocksInExtent < blocks)
            {
                while (outstanding < 32 && blocksInExtent + outstanding < blocks)
                {
                    check(store.submitWrite(EXTENT, store.endOffset(EXTENT), payload, 0, PAYLOAD_BYTES, 0));
                    outstanding++;
                }
                spinOnce();
                blocksInExtent = (store.commitLength(EXTENT) - BlockFormat.EXTENT_HEADER_LENGTH_BYTES) / BLOCK_BYTES;
            }
            awaitIdle();
        }

        private void drive(final long endNs)
        {
            running = true;
            for (int slot = 0; slot < qd; slot++)
            {
                submit(slot);
            }
            while (System.nanoTime() - endNs < 0)
            {
                spinOnce();
            }
            running = false;
        }

        private void submit(final int slot)
        {
            startNs[slot] = System.nanoTime();
            if (write)
            {
                check(store.submitWrite(EXTENT, store.endOffset(EXTENT), payload, 0, payloadBytes, slot));
            }
            else
            {
                seed ^= seed << 13;
                seed ^= seed >>> 7;
                seed ^= seed << 17;
                final long block = (seed >>> 1) % blocksInExtent;
                check(store.submitRead(EXTENT, BlockFormat.EXTENT_HEADER_LENGTH_BYTES + block * BLOCK_BYTES, slot));
            }
            outstanding++;
        }

        private void spinOnce()
        {
            final int work;
            try
            {
                work = disk.doWork() + store.poll(this, 64);
            }
            catch (final io.cairn.bindings.NativeIoException ex)
            {
                throw new IllegalStateException("the disk agent failed", ex);
            }
            idle.idle(work);
            // Closed loop: each completed slot is refilled at once (outside the store's callback).
            while (freeSlotCount > 0)
            {
                submit(freeSlots[--freeSlotCount]);
            }
        }

        private void awaitIdle()
        {
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (outstanding > 0 || null == lastStatus)
            {
                spinOnce();
                if (System.nanoTime() - deadlineNs > 0)
                {
                    throw new IllegalStateException("operations did not complete within 30 s");
                }
            }
        }

        private void onDone(final long token, final NodeStatus status)
        {
            outstanding--;
            lastStatus = status;
            if (status != NodeStatus.OK)
            {
                failed++;
                return;
            }
            if (token < 0 || token >= qd)
            {
                return;
            }
            if (recording)
            {
                completed++;
                histogram.recordValue(Math.min(System.nanoTime() - startNs[(int)token], HIGHEST_NS));
            }
            if (running)
            {
                freeSlots[freeSlotCount++] = (int)token;
            }
        }

        public void onCreated(final long token, final long extentId, final NodeStatus status, final long commitLength)
        {
            lastStatus = status;
            check(status);
        }

        public void onWritten(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final long nextOffset, final long commitLength)
        {
            onDone(token, status);
        }

        public void onRead(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final DirectBuffer payload, final int payloadOffset, final int payloadLengthBytes, final long nextOffset,
            final long commitLength)
        {
            onDone(token, status);
        }

        private static void check(final NodeStatus status)
        {
            if (status != NodeStatus.OK)
            {
                throw new IllegalStateException("store answered " + status);
            }
        }
    }

    /** Reads a fio per-I/O latency log (time_ms, latency_ns, ddir, bs, ...) into the same .hgrm form. */
    private static void fioLogToHgrm(final String[] args) throws IOException
    {
        Path log = null;
        Path out = null;
        String label = "fio";
        for (int i = 1; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--lat-log" -> log = Path.of(BenchArgs.value(args, ++i, "--lat-log"));
                case "--out" -> out = Path.of(BenchArgs.value(args, ++i, "--out"));
                case "--label" -> label = BenchArgs.value(args, ++i, "--label");
                default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'\n" + USAGE);
            }
        }
        if (null == log || null == out)
        {
            throw new IllegalArgumentException("hgrm needs --lat-log and --out\n" + USAGE);
        }
        final Histogram histogram = new Histogram(HIGHEST_NS, 3);
        try (BufferedReader reader = Files.newBufferedReader(log))
        {
            String line;
            while (null != (line = reader.readLine()))
            {
                final String[] fields = line.split(",");
                if (fields.length >= 2)
                {
                    histogram.recordValue(Math.min(Long.parseLong(fields[1].trim()), HIGHEST_NS));
                }
            }
        }
        try (PrintStream file = new PrintStream(Files.newOutputStream(out)))
        {
            histogram.outputPercentileDistribution(file, 1000.0);
        }
        System.out.printf("%s ops=%d p50us=%.1f p99us=%.1f p999us=%.1f%n", label, histogram.getTotalCount(),
            histogram.getValueAtPercentile(50) / 1000.0, histogram.getValueAtPercentile(99) / 1000.0,
            histogram.getValueAtPercentile(99.9) / 1000.0);
    }
}
