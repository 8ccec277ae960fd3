package io.cairn.daemon;

import io.cairn.bindings.Errno;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An I/O error while recovering one data directory fails that disk only: the other disk recovers, and the
 * failed one starts in state FAILED, refusing new extents, instead of stopping the node.
 */
class RecoveryFailureTest
{
    @Test
    void anIoErrorDuringRecoveryFailsOnlyThatDisk() throws Exception
    {
        final Path root = Path.of("target", "test-data", "recovery-failure-" + System.nanoTime()).toAbsolutePath();
        final Path good = root.resolve("d0");
        final Path bad = root.resolve("d1");
        Files.createDirectories(good.resolve(ExtentFiles.EXTENTS_DIR));
        Files.createDirectories(bad.resolve(ExtentFiles.EXTENTS_DIR));
        Files.write(bad.resolve(ExtentFiles.EXTENTS_DIR).resolve("5" + ExtentFiles.SUFFIX), new byte[4096]);
        final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
        final ExtentNode.Context ctx = new ExtentNode.Context().nodeId(1).storage(new FailingUnder(bad))
            .log(new PrintStream(logBytes, true));

        final ExtentNode.DiskRecovery first = ExtentNode.recoverDisk(ctx, good, 0);
        final ExtentNode.DiskRecovery second = ExtentNode.recoverDisk(ctx, bad, 1);
        assertNull(first.failure());
        assertNotNull(second.failure());
        assertTrue(second.failure().contains("disk 1") && second.failure().contains("Input/output error"),
            second.failure());
        assertTrue(logBytes.toString().contains("marked FAILED"), logBytes.toString());

        final DiskIoAgent failed = new DiskIoAgent(1, bad, UringDiskStorage.INSTANCE, TestCounters.counters(1),
            TestCounters.config(4, 1L << 20), second.extents());
        final DiskIoAgent healthy = new DiskIoAgent(0, good, UringDiskStorage.INSTANCE, TestCounters.counters(0),
            TestCounters.config(4, 1L << 20), first.extents());
        failed.markFailed();
        assertEquals(DiskIoAgent.STATE_FAILED, failed.diskState());
        assertEquals(DiskCounters.STATE_FAILED, failed.counters().get(DiskCounters.Kind.DISK_STATE));
        final IoUringReplicaStore store = new IoUringReplicaStore(new DiskIoAgent[]{ healthy, failed },
            new Path[]{ good, bad }, 8L * 1024 * 1024,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, List.of());
        try
        {
            // Round robin skips the failed disk: both new extents land on the healthy one.
            final DiskAllocationTest.CountingListener listener = new DiskAllocationTest.CountingListener();
            for (long extent = 1; extent <= 2; extent++)
            {
                assertEquals(NodeStatus.OK, store.submitCreate(extent, 5, extent));
            }
            final long deadlineNs = System.nanoTime() + 10_000_000_000L;
            while (listener.count < 2 && System.nanoTime() < deadlineNs)
            {
                healthy.doWork();
                failed.doWork();
                store.poll(listener, 8);
            }
            assertEquals(2, listener.count);
            assertEquals(NodeStatus.OK, listener.lastStatus);
            assertTrue(Files.exists(ExtentFiles.path(good, 2)) && !Files.exists(ExtentFiles.path(bad, 2)));
        }
        finally
        {
            store.close();
            healthy.onClose();
            failed.onClose();
        }
    }

    /** The real disk, except that opening a file under one directory fails with EIO. */
    private record FailingUnder(Path dir) implements DiskStorage
    {
        public IoEngine newEngine(final int entries) throws NativeIoException
        {
            return UringDiskStorage.INSTANCE.newEngine(entries);
        }

        public void probeDirect(final Path d) throws IOException
        {
            UringDiskStorage.INSTANCE.probeDirect(d);
        }

        public int open(final Path path, final boolean create) throws NativeIoException
        {
            if (path.startsWith(dir))
            {
                throw new NativeIoException("open", Errno.EIO, NativeIoException.NO_FD, NativeIoException.NO_OFFSET,
                    path.toString());
            }
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

        public void createDirectories(final Path d) throws IOException
        {
            UringDiskStorage.INSTANCE.createDirectories(d);
        }

        public List<Path> list(final Path d, final String suffix) throws IOException
        {
            return UringDiskStorage.INSTANCE.list(d, suffix);
        }

        public void syncDirectory(final Path d) throws IOException
        {
            UringDiskStorage.INSTANCE.syncDirectory(d);
        }
    }
}
