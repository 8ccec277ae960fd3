package io.cairn.daemon;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIo;
import io.cairn.bindings.NativeIoException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The real disk: O_DIRECT files through the native shim, io_uring engines.
 */
public final class UringDiskStorage implements DiskStorage
{
    /** The one instance (stateless). */
    public static final UringDiskStorage INSTANCE = new UringDiskStorage();

    private static final String PROBE_FILE = ".cairn-odirect-probe";

    private UringDiskStorage()
    {
    }

    /** {@inheritDoc} */
    public IoEngine newEngine(final int entries) throws NativeIoException
    {
        return new UringIoEngine(new IoRing(entries));
    }

    /** {@inheritDoc} */
    public IoEngine newEngine(final int entries, final boolean sqPoll) throws NativeIoException
    {
        if (!sqPoll)
        {
            return newEngine(entries);
        }
        try
        {
            return new UringIoEngine(new IoRing(entries, IoRing.SETUP_SQPOLL));
        }
        catch (final NativeIoException ex)
        {
            throw new NativeIoException("io_uring_setup with SQPOLL (--sqpoll) refused by the kernel; run without " +
                "--sqpoll, or give the node CAP_SYS_NICE (needed before Linux 5.11)", ex.errno(),
                NativeIoException.NO_FD, NativeIoException.NO_OFFSET, null);
        }
    }

    /** {@inheritDoc} */
    public void probeDirect(final Path dir) throws IOException
    {
        final Path probe = dir.resolve(PROBE_FILE);
        try (AlignedBufferPool pool = new AlignedBufferPool(1, NativeIo.BLOCK_ALIGNMENT_BYTES);
            IoRing ring = new IoRing(4))
        {
            final int index = pool.acquire();
            pool.segment(index).fill((byte)0);
            final int fd = NativeIo.openDirect(probe, true);
            try
            {
                final int[] result = { Integer.MIN_VALUE, Integer.MIN_VALUE };
                ring.prepareWrite(fd, pool.address(index), NativeIo.BLOCK_ALIGNMENT_BYTES, 0, 0, true);
                ring.prepareFdatasync(fd, 1, false);
                ring.submit();
                int reaped = 0;
                while (reaped < 2)
                {
                    reaped += ring.reap((userData, res) -> result[(int)userData] = res, 2 - reaped);
                }
                if (result[0] != NativeIo.BLOCK_ALIGNMENT_BYTES || result[1] != 0)
                {
                    throw new IOException("O_DIRECT probe in " + dir + " failed: aligned 4 KiB write returned " +
                        result[0] + ", fdatasync returned " + result[1]);
                }
            }
            finally
            {
                NativeIo.close(fd);
            }
        }
        catch (final NativeIoException ex)
        {
            throw new IOException("data directory " + dir + " does not support O_DIRECT (" + ex.getMessage() +
                "); Cairn never falls back to buffered I/O: use a file system that supports O_DIRECT " +
                "(ext4, xfs; not tmpfs)", ex);
        }
        finally
        {
            Files.deleteIfExists(probe);
        }
    }

    /** {@inheritDoc} */
    public int open(final Path path, final boolean create) throws NativeIoException
    {
        return NativeIo.openDirect(path, create);
    }

    /** {@inheritDoc} */
    public void fallocate(final int fd, final long offsetBytes, final long lengthBytes) throws NativeIoException
    {
        NativeIo.fallocate(fd, offsetBytes, lengthBytes);
    }

    /** {@inheritDoc} */
    public long fileSizeBytes(final int fd) throws NativeIoException
    {
        return NativeIo.fileSizeBytes(fd);
    }

    /** {@inheritDoc} */
    public void close(final int fd) throws NativeIoException
    {
        NativeIo.close(fd);
    }

    /** {@inheritDoc} */
    public void delete(final Path path) throws IOException
    {
        Files.deleteIfExists(path);
    }

    /** {@inheritDoc} */
    public void createDirectories(final Path dir) throws IOException
    {
        Files.createDirectories(dir);
    }

    /** {@inheritDoc} */
    public List<Path> list(final Path dir, final String suffix) throws IOException
    {
        final List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, "*" + suffix))
        {
            stream.forEach(files::add);
        }
        files.sort(null);
        return files;
    }

    /** {@inheritDoc} */
    public void syncDirectory(final Path dir) throws IOException
    {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ))
        {
            channel.force(true);
        }
    }

    /** io_uring through the shim: one downcall per batch. */
    private record UringIoEngine(IoRing ring) implements IoEngine
    {
        public boolean prepareWrite(
            final int fd, final long address, final int lengthBytes, final long offsetBytes, final long userData,
            final boolean linkNext)
        {
            return ring.prepareWrite(fd, address, lengthBytes, offsetBytes, userData, linkNext);
        }

        public boolean prepareWriteDsync(
            final int fd, final long address, final int lengthBytes, final long offsetBytes, final long userData)
        {
            return ring.prepareWriteDsync(fd, address, lengthBytes, offsetBytes, userData);
        }

        public boolean canWriteDsync()
        {
            return true;
        }

        public boolean prepareWritevDsync(
            final int fd, final long iovecAddress, final int iovecCount, final long offsetBytes, final long userData)
        {
            return ring.prepareWritevDsync(fd, iovecAddress, iovecCount, offsetBytes, userData);
        }

        public boolean canWritevDsync()
        {
            return true;
        }

        public boolean prepareRead(
            final int fd, final long address, final int lengthBytes, final long offsetBytes, final long userData,
            final boolean linkNext)
        {
            return ring.prepareRead(fd, address, lengthBytes, offsetBytes, userData, linkNext);
        }

        public boolean prepareFdatasync(final int fd, final long userData, final boolean linkNext)
        {
            return ring.prepareFdatasync(fd, userData, linkNext);
        }

        public void registerBuffers(final long[] addresses, final long[] lengthBytes) throws NativeIoException
        {
            ring.registerBuffers(addresses, lengthBytes);
        }

        public int preparedCount()
        {
            return ring.preparedCount();
        }

        public int submit() throws NativeIoException
        {
            return ring.submit();
        }

        public int reap(final IoRing.CompletionHandler handler, final int minCompletions) throws NativeIoException
        {
            return ring.reap(handler, minCompletions);
        }

        public int reapWithin(final IoRing.CompletionHandler handler, final long timeoutNs) throws NativeIoException
        {
            return ring.canWaitWithTimeout() ? ring.reapWithin(handler, timeoutNs) : ring.reap(handler, 0);
        }

        public boolean canWait()
        {
            return ring.canWaitWithTimeout();
        }

        public int capacity()
        {
            return ring.capacity();
        }

        public void close()
        {
            ring.close();
        }
    }
}
