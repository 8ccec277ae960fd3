package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.CachedNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The background scrubber on the real io_uring engine: bad blocks of a sealed extent (a flipped payload byte
 * and a flipped header byte) are found, counted and reported once each however many passes run; good blocks
 * around them are verified (it resynchronises after a bad header); its rate holds to the configured bytes/s on
 * an injected clock; appends to another extent keep completing while it runs.
 */
class DiskScrubberTest
{
    static final long SEALED = 21;
    static final long OPEN = 22;
    static final int BLOCKS = 24;
    static final long SCRUB_BYTES_PER_SECOND = 2L * 1024 * 1024;
    /**
     * Simulated time per append. It moves once per append, never while an append waits on the real disk, so the
     * scrub budget an append earns does not depend on how slow that machine's fdatasync is.
     */
    static final long APPEND_STEP_NS = 5_000_000L;

    Path dataDir;
    DiskIoAgent disk;
    IoUringReplicaStore store;
    final CachedNanoClock clock = new CachedNanoClock();
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final DiskAllocationTest.CountingListener listener = new DiskAllocationTest.CountingListener();

    @BeforeEach
    void setUp() throws IOException
    {
        dataDir = Path.of("target", "test-data", "scrub-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir);
    }

    void start(final long scrubBytesPerSecond) throws IOException
    {
        final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);
        final var recovered = ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0, log);
        disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE, TestCounters.counters(0),
            TestCounters.config(8, 1L << 20).withScrub(scrubBytesPerSecond), recovered, clock, log);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, 8L * 1024 * 1024,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
    }

    @AfterEach
    void tearDown() throws IOException
    {
        if (null != disk)
        {
            store.close();
            disk.onClose();
        }
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void findsAndReportsEachBadBlockOnceWhileAppendsGoOn() throws Exception
    {
        start(0);
        final long[] offsets = writeSealedExtent();
        store.close();
        disk.onClose();
        // Damage two sealed blocks: a payload byte (CRC mismatch) and a header byte (resync needed after it).
        flipByte(SEALED, offsets[5] + BlockFormat.BLOCK_HEADER_LENGTH_BYTES + 10);
        flipByte(SEALED, offsets[12]);
        start(SCRUB_BYTES_PER_SECOND);
        create(OPEN);

        final byte[] payload = new byte[4000];
        int appended = 0;
        final long startNs = clock.nanoTime();
        final long deadlineNs = System.nanoTime() + 20_000_000_000L;
        while (disk.counters().get(DiskCounters.Kind.SCRUB_PASSES) < 3 && System.nanoTime() < deadlineNs)
        {
            final int before = listener.count;
            clock.advance(APPEND_STEP_NS);
            assertEquals(NodeStatus.OK, store.submitWrite(OPEN, store.endOffset(OPEN), new UnsafeBuffer(payload), 0,
                payload.length, 1));
            while (listener.count == before && System.nanoTime() < deadlineNs)
            {
                if (disk.doWork() + store.poll(listener, 16) == 0)
                {
                    Thread.onSpinWait();
                }
            }
            assertEquals(NodeStatus.OK, listener.lastStatus);
            appended++;
        }
        final long elapsedNs = clock.nanoTime() - startNs;
        final long passes = disk.counters().get(DiskCounters.Kind.SCRUB_PASSES);
        assertTrue(passes >= 3, "passes " + passes);

        final String log = logBytes.toString(StandardCharsets.UTF_8);
        assertEquals(2, disk.counters().get(DiskCounters.Kind.SCRUB_BAD_BLOCKS), log);
        assertEquals(2, disk.counters().get(DiskCounters.Kind.CORRUPT_BLOCKS), log);
        assertEquals(1, occurrences(log, "extent " + SEALED + " offset " + offsets[5] + ": CRC32C mismatch"), log);
        assertEquals(1, occurrences(log, "extent " + SEALED + " offset " + offsets[12] + ": block header"), log);
        assertEquals(2, occurrences(log, "BAD BLOCK"), log);
        // Every other block verified on every pass: 22 good blocks per full pass (resynchronised after block 12).
        final long good = disk.counters().get(DiskCounters.Kind.SCRUBBED_BLOCKS);
        assertTrue(good >= (BLOCKS - 2) * passes && good <= (BLOCKS - 2) * (passes + 1), "good blocks " + good);
        // The rate: at most one chunk ahead of bytes/s on the injected clock.
        final long scrubbed = disk.counters().get(DiskCounters.Kind.SCRUBBED_BYTES);
        final long allowed = SCRUB_BYTES_PER_SECOND * elapsedNs / 1_000_000_000L + 2L * BlockFormat.MAX_BLOCK_LENGTH_BYTES;
        assertTrue(scrubbed <= allowed, "scrubbed " + scrubbed + " bytes, allowed " + allowed);
        // Appends were never starved: each one completed while the scrubber ran.
        assertTrue(appended > 10, "appends " + appended);
        System.out.println("scrubber test: " + passes + " passes, " + appended + " appends, " + scrubbed + " bytes in " + elapsedNs / 1_000_000 + " simulated ms");
    }

    @Test
    void offByDefault() throws Exception
    {
        start(0);
        writeSealedExtent();
        for (int i = 0; i < 100; i++)
        {
            clock.advance(100_000_000L);
            disk.doWork();
        }
        assertEquals(0, disk.counters().get(DiskCounters.Kind.SCRUBBED_BYTES));
        assertEquals(0, disk.counters().get(DiskCounters.Kind.SCRUB_PASSES));
    }

    /** @return the offsets of its blocks. */
    long[] writeSealedExtent() throws Exception
    {
        create(SEALED);
        final Random random = new Random(42);
        final long[] offsets = new long[BLOCKS];
        for (int i = 0; i < BLOCKS; i++)
        {
            final byte[] p = new byte[1 + random.nextInt(i % 4 == 0 ? 60_000 : 3000)];
            random.nextBytes(p);
            offsets[i] = store.endOffset(SEALED);
            final int before = listener.count;
            assertEquals(NodeStatus.OK, store.submitWrite(SEALED, offsets[i], new UnsafeBuffer(p), 0, p.length, i));
            await(before + 1);
            assertEquals(NodeStatus.OK, listener.lastStatus);
        }
        final int before = listener.count;
        assertEquals(NodeStatus.OK, store.submitSeal(SEALED, store.commitLength(SEALED), 9));
        await(before + 1);
        assertEquals(NodeStatus.OK, listener.lastStatus);
        return offsets;
    }

    void create(final long extentId) throws Exception
    {
        final int before = listener.count;
        assertEquals(NodeStatus.OK, store.submitCreate(extentId, 5, 0));
        await(before + 1);
        assertEquals(NodeStatus.OK, listener.lastStatus);
    }

    void await(final int count) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (listener.count < count && System.nanoTime() < deadlineNs)
        {
            if (disk.doWork() + store.poll(listener, 16) == 0)
            {
                Thread.onSpinWait();
            }
        }
        assertEquals(count, listener.count, "completions");
    }

    void flipByte(final long extentId, final long position) throws IOException
    {
        try (RandomAccessFile file = new RandomAccessFile(ExtentFiles.path(dataDir, extentId).toFile(), "rw"))
        {
            file.seek(position);
            final int b = file.read();
            file.seek(position);
            file.write(b ^ 0xFF);
            file.getFD().sync();
        }
    }

    static int occurrences(final String text, final String part)
    {
        int count = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1))
        {
            count++;
        }
        return count;
    }
}
