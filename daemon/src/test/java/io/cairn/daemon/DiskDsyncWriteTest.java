package io.cairn.daemon;

import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A lone write to a file whose writes are all durable goes as one RWF_DSYNC write (no fdatasync op), except the
 * first write after a growth step (the fdatasync of the whole file makes the new size durable); writes that arrive
 * together to such a file go out as one gathered RWF_DSYNC write. Everything acknowledged is there after a reopen.
 */
class DiskDsyncWriteTest
{
    static final long PREALLOC_STEP_BYTES = 64 * 1024;

    Path dataDir;
    DiskIoAgent disk;
    IoUringReplicaStore store;
    final CountingStorage storage = new CountingStorage();
    final DiskAllocationTest.CountingListener listener = new DiskAllocationTest.CountingListener();

    @AfterEach
    void tearDown() throws IOException
    {
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void loneWritesSyncThemselvesAndSurviveAReopen() throws Exception
    {
        dataDir = Path.of("target", "test-data", "dsync-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir.resolve(ExtentFiles.EXTENTS_DIR));
        open(List.of());
        assertEquals(NodeStatus.OK, store.submitCreate(1, 5, 0));
        await(1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[DiskAllocationTest.PAYLOAD_BYTES]);
        payload.setMemory(0, DiskAllocationTest.PAYLOAD_BYTES, (byte)9);
        final int blocksPerStep = (int)(PREALLOC_STEP_BYTES / 4096);
        final int loneWrites = blocksPerStep + 4; // crosses one growth step
        for (int i = 0; i < loneWrites; i++)
        {
            assertEquals(NodeStatus.OK, store.submitWrite(1, store.endOffset(1), payload, 0,
                DiskAllocationTest.PAYLOAD_BYTES, i));
            await(2 + i);
        }
        assertEquals(0, listener.failures);
        // The create's header page and the write after the growth step sync with an fdatasync; the rest themselves.
        assertEquals(2, storage.fdatasyncs, "fdatasync ops");
        assertEquals(loneWrites - 1, storage.dsyncWrites, "dsync writes");
        assertEquals(loneWrites + 1, disk.counters().get(DiskCounters.Kind.FSYNCS), "a dsync write counts as a sync");

        // Four at once to the idle, synced file: one gathered RWF_DSYNC write (writev), no fdatasync.
        final int dsyncBefore = storage.dsyncWrites;
        final int fdatasyncsBefore = storage.fdatasyncs;
        for (int i = 0; i < 4; i++)
        {
            assertEquals(NodeStatus.OK, store.submitWrite(1, store.endOffset(1), payload, 0,
                DiskAllocationTest.PAYLOAD_BYTES, 100 + i));
        }
        await(1 + loneWrites + 4);
        assertEquals(0, listener.failures);
        assertEquals(dsyncBefore, storage.dsyncWrites, "no single dsync write");
        assertEquals(fdatasyncsBefore, storage.fdatasyncs, "no fdatasync op");
        assertEquals(1, storage.gatheredWrites, "writes that arrive together go out as one gathered write");
        assertEquals(4, disk.counters().get(DiskCounters.Kind.GROUPED_WRITES));
        final long committed = store.commitLength(1);
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES + (loneWrites + 4) * 4096L, committed);
        close();

        final List<RecoveredExtent> recovered = ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0,
            new PrintStream(new ByteArrayOutputStream()));
        assertEquals(1, recovered.size());
        assertEquals(committed, recovered.getFirst().commitLength(), "every acknowledged write is there");
        open(recovered);
        for (int i = 0; i < loneWrites + 4; i++)
        {
            assertEquals(NodeStatus.OK, store.submitRead(1, BlockFormat.EXTENT_HEADER_LENGTH_BYTES + i * 4096L, i));
            await(listener.count + 1);
        }
        assertEquals(0, listener.failures, "every block verified");
        close();
    }

    private void open(final List<RecoveredExtent> recovered) throws NativeIoException
    {
        disk = new DiskIoAgent(0, dataDir, storage, TestCounters.counters(0),
            TestCounters.config(8, PREALLOC_STEP_BYTES), recovered);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, 8L * 1024 * 1024,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
    }

    private void close()
    {
        store.close();
        disk.onClose();
    }

    private void await(final int count) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (listener.count < count && System.nanoTime() < deadlineNs)
        {
            if (disk.doWork() + store.poll(listener, 64) == 0)
            {
                Thread.onSpinWait();
            }
        }
        assertEquals(count, listener.count, "completions");
    }

    /** The real disk, counting the sync ops its engines prepare. */
    private static final class CountingStorage implements DiskStorage
    {
        int fdatasyncs;
        int dsyncWrites;
        int gatheredWrites;

        public IoEngine newEngine(final int entries) throws NativeIoException
        {
            final IoEngine real = UringDiskStorage.INSTANCE.newEngine(entries);
            return new IoEngine()
            {
                public boolean prepareWrite(final int fd, final long address, final int lengthBytes,
                    final long offsetBytes, final long userData, final boolean linkNext)
                {
                    return real.prepareWrite(fd, address, lengthBytes, offsetBytes, userData, linkNext);
                }

                public boolean prepareWriteDsync(final int fd, final long address, final int lengthBytes,
                    final long offsetBytes, final long userData)
                {
                    dsyncWrites++;
                    return real.prepareWriteDsync(fd, address, lengthBytes, offsetBytes, userData);
                }

                public boolean canWriteDsync()
                {
                    return real.canWriteDsync();
                }

                public boolean prepareWritevDsync(final int fd, final long iovecAddress, final int iovecCount,
                    final long offsetBytes, final long userData)
                {
                    gatheredWrites++;
                    return real.prepareWritevDsync(fd, iovecAddress, iovecCount, offsetBytes, userData);
                }

                public boolean canWritevDsync()
                {
                    return real.canWritevDsync();
                }

                public boolean prepareRead(final int fd, final long address, final int lengthBytes,
                    final long offsetBytes, final long userData, final boolean linkNext)
                {
                    return real.prepareRead(fd, address, lengthBytes, offsetBytes, userData, linkNext);
                }

                public boolean prepareFdatasync(final int fd, final long userData, final boolean linkNext)
                {
                    fdatasyncs++;
                    return real.prepareFdatasync(fd, userData, linkNext);
                }

                public int preparedCount()
                {
                    return real.preparedCount();
                }

                public int submit() throws NativeIoException
                {
                    return real.submit();
                }

                public int reap(final IoRing.CompletionHandler handler, final int minCompletions)
                    throws NativeIoException
                {
                    return real.reap(handler, minCompletions);
                }

                public int capacity()
                {
                    return real.capacity();
                }

                public void close()
                {
                    real.close();
                }
            };
        }

        public void probeDirect(final Path dir) throws IOException
        {
            UringDiskStorage.INSTANCE.probeDirect(dir);
        }

        public int open(final Path path, final boolean create) throws NativeIoException
        {
            return UringDiskStorage.INSTANCE.open(path, create);
        }

        public void fallocate(final int fd, final long offsetBytes, final long lengthBytes) throws NativeIoException
        {
            UringDiskStorage.INSTANCE.fallocate(fd, offsetBytes, lengthBytes);
        }

        public long fileSizeBytes(final int fd) throws NativeIoException
        {
            return UringDiskStorage.INSTANCE.fileSizeBytes(fd);
        }

        public void close(final int fd) throws NativeIoException
        {
            UringDiskStorage.INSTANCE.close(fd);
        }

        public void delete(final Path path) throws IOException
        {
            UringDiskStorage.INSTANCE.delete(path);
        }

        public void createDirectories(final Path dir) throws IOException
        {
            UringDiskStorage.INSTANCE.createDirectories(dir);
        }

        public List<Path> list(final Path dir, final String suffix) throws IOException
        {
            return UringDiskStorage.INSTANCE.list(dir, suffix);
        }

        public void syncDirectory(final Path dir) throws IOException
        {
            UringDiskStorage.INSTANCE.syncDirectory(dir);
        }
    }
}
