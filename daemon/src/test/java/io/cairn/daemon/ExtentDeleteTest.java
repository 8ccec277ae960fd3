package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Deleting extent files through the store and the disk agent (real file system, O_DIRECT): the file is closed,
 * deleted and counted once nothing of it is in flight; meanwhile the extent is absent to reads, writes and creates;
 * a stray file the store never opened is deleted too, and an id with no file is a successful no-op. Both sides are
 * driven from the test thread, as in {@link ExtentStoreTest}.
 */
class ExtentDeleteTest
{
    static final long EXTENT = 91;
    static final long EXTENT_SIZE = 4L * 1024 * 1024;

    Path dataDir;
    DiskIoAgent disk;
    DiskCounters counters;
    IoUringReplicaStore store;
    final ExtentStoreTest.Completions completions = new ExtentStoreTest.Completions();
    final List<long[]> deleted = new ArrayList<>(); // {extentId, ok ? 1 : 0, reclaimedBytes}

    @BeforeEach
    void setUp() throws IOException
    {
        dataDir = Path.of("target", "test-data", "delete-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir);
        start();
    }

    @AfterEach
    void tearDown() throws IOException
    {
        store.close();
        disk.onClose();
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    void start() throws IOException
    {
        final var recovered =
            ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0, new PrintStream(new ByteArrayOutputStream()));
        counters = TestCounters.counters(0);
        disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE, counters, TestCounters.config(8, 1L << 20),
            recovered);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, EXTENT_SIZE,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
    }

    void drive(final java.util.function.BooleanSupplier done) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (!done.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadlineNs < 0, "timed out");
            final int work = disk.doWork() + store.poll(completions, 64) +
                store.pollDeleted((id, ok, bytes) -> deleted.add(new long[]{ id, ok ? 1 : 0, bytes }));
            if (work == 0)
            {
                Thread.yield();
            }
        }
    }

    void createAndAppend() throws Exception
    {
        assertEquals(NodeStatus.OK, store.submitCreate(EXTENT, 5, 0));
        drive(() -> completions.count == 1);
        assertEquals(NodeStatus.OK, completions.lastStatus);
        final byte[] payload = new byte[3000];
        assertEquals(NodeStatus.OK, store.submitWrite(EXTENT, store.endOffset(EXTENT), new UnsafeBuffer(payload), 0,
            payload.length, 1));
        drive(() -> completions.count == 2);
        assertEquals(NodeStatus.OK, completions.lastStatus);
    }

    @Test
    void anOpenExtentIsClosedDeletedAndCountedAndAbsentMeanwhile() throws Exception
    {
        createAndAppend();
        final Path file = ExtentFiles.path(dataDir, EXTENT);
        assertTrue(Files.exists(file));

        // A read in flight holds the delete off: BUSY until it completed.
        assertEquals(NodeStatus.OK, store.submitRead(EXTENT, BlockFormat.EXTENT_HEADER_LENGTH_BYTES, 2));
        assertEquals(NodeStatus.BUSY, store.submitDelete(EXTENT));
        drive(() -> completions.count == 3);

        assertEquals(NodeStatus.OK, store.submitDelete(EXTENT));
        assertEquals(NodeStatus.BUSY, store.submitDelete(EXTENT), "one delete of an extent at a time");
        assertEquals(NodeStatus.NO_SUCH_EXTENT, store.submitRead(EXTENT, BlockFormat.EXTENT_HEADER_LENGTH_BYTES, 3));
        assertEquals(IoUringReplicaStore.NO_EXTENT, store.commitLength(EXTENT));
        assertEquals(NodeStatus.BUSY, store.submitCreate(EXTENT, 5, 4), "no create while its file is deleted");
        drive(() -> deleted.size() == 1);

        assertEquals(EXTENT, deleted.get(0)[0]);
        assertEquals(1, deleted.get(0)[1]);
        assertTrue(deleted.get(0)[2] > 0, "reclaimed bytes: the file's size");
        assertFalse(Files.exists(file));
        assertEquals(1, counters.get(DiskCounters.Kind.EXTENTS_DELETED));
        assertEquals(deleted.get(0)[2], counters.get(DiskCounters.Kind.RECLAIMED_BYTES));

        // Gone for good: a restart recovers nothing, and the id can be created afresh.
        store.close();
        disk.onClose();
        start();
        assertEquals(IoUringReplicaStore.NO_EXTENT, store.commitLength(EXTENT));
    }

    @Test
    void aStrayFileTheStoreNeverOpenedIsDeletedAndAMissingOneIsANoOp() throws Exception
    {
        final Path stray = ExtentFiles.path(dataDir, 12);
        Files.write(stray, new byte[8192]); // not a valid extent: recovery skips it
        store.close();
        disk.onClose();
        start();
        assertEquals(IoUringReplicaStore.NO_EXTENT, store.commitLength(12));

        assertEquals(NodeStatus.OK, store.submitDelete(12));
        assertEquals(NodeStatus.OK, store.submitDelete(13));
        drive(() -> deleted.size() == 2);
        assertFalse(Files.exists(stray));
        for (final long[] d : deleted)
        {
            assertEquals(1, d[1], "both succeed");
            assertEquals(d[0] == 12 ? 8192 : 0, d[2]);
        }
        assertEquals(1, counters.get(DiskCounters.Kind.EXTENTS_DELETED), "only the existing file counts");
    }
}
