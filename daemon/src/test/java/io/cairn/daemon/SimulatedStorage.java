package io.cairn.daemon;

import io.cairn.bindings.Errno;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIoException;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A seeded, fault-injecting disk behind {@link DiskStorage}/{@link IoEngine}, for deterministic crash tests.
 * <p>
 * Each file keeps what reads see (the page cache) and what survives a crash (the media). A write lands in
 * the cache and is pending until an fdatasync of its file. {@link #crash()} resolves each pending write:
 * kept, lost, or torn (each 512-byte sector kept or not). Faults while running, each with its probability:
 * bit flips in written data, misdirected writes (the data lands at another aligned offset), EIO on a
 * write or an fdatasync (which then resolves that file's pending writes as a crash would), ENOSPC on
 * fallocate. Every corruption it causes is recorded, so a test can tell damage it caused from a bug.
 * Ops run at completion, in random order (see {@link Engine}); a failed linked op cancels the rest of its chain.
 */
final class SimulatedStorage implements DiskStorage
{
    static final int SECTOR_BYTES = 512;

    /** Fault probabilities (per op). */
    record Faults(double bitFlip, double misdirect, double writeEio, double syncEio, double enospc)
    {
        static final Faults NONE = new Faults(0, 0, 0, 0, 0);
    }

    final Random random;
    Faults faults;
    /** Chance, in percent, that a ready op completes at a given reap (a waiting reap completes at least one). */
    int completionPercent = 50;
    /** While set, no fdatasync completes (tests hold one in flight). */
    boolean holdFdatasyncs;
    /** A write at this file offset fails with EIO (-1: none). */
    long failWriteAtOffset = -1;
    /** Whether the engine offers gathered RWF_DSYNC writes (the agent then groups contiguous appends). */
    boolean gatheredWrites = true;
    /** Gathered writes that ran to the end. */
    long gatheredWritesRun;
    /** Writes that have run (reached the page cache or failed). */
    int writesRun;
    /** Bumped by every crash: an engine made before it completes what it still holds with -ECANCELED. */
    private long crashes;
    private final Map<Path, SimFile> files = new HashMap<>();
    private final Map<Integer, SimFile> fds = new HashMap<>();
    /** Corrupted ranges per file: {from, to}. */
    final Map<Path, List<long[]>> corruption = new HashMap<>();
    private int nextFd = 100;

    SimulatedStorage(final long seed, final Faults faults)
    {
        this.random = new Random(seed);
        this.faults = faults;
    }

    private static final class SimFile
    {
        final Path path;
        byte[] cache = new byte[0];
        byte[] media = new byte[0];
        long size;
        boolean entryDurable;
        final List<long[]> pendingRanges = new ArrayList<>();
        final List<byte[]> pendingData = new ArrayList<>();

        SimFile(final Path path)
        {
            this.path = path;
        }

        void ensure(final long length)
        {
            if (length > cache.length)
            {
                cache = Arrays.copyOf(cache, (int)length);
            }
            if (length > media.length)
            {
                media = Arrays.copyOf(media, (int)length);
            }
        }
    }

    /** Lose the page cache: resolve every unsynced write (kept, lost or torn), forget unsynced files. */
    void crash()
    {
        for (final SimFile file : new ArrayList<>(files.values()))
        {
            resolvePending(file);
            file.cache = Arrays.copyOf(file.media, file.media.length);
            if (!file.entryDurable && random.nextBoolean())
            {
                files.remove(file.path);
            }
        }
        fds.clear();
        crashes++;
    }

    boolean exists(final Path path)
    {
        return files.containsKey(path);
    }

    private void resolvePending(final SimFile file)
    {
        for (int i = 0; i < file.pendingRanges.size(); i++)
        {
            final long offset = file.pendingRanges.get(i)[0];
            final byte[] data = file.pendingData.get(i);
            final int choice = random.nextInt(10);
            if (choice < 5)
            {
                System.arraycopy(data, 0, file.media, (int)offset, data.length);
            }
            else if (choice < 8)
            {
                for (int s = 0; s < data.length; s += SECTOR_BYTES)
                {
                    if (random.nextBoolean())
                    {
                        System.arraycopy(data, s, file.media, (int)offset + s, Math.min(SECTOR_BYTES, data.length - s));
                    }
                }
            }
        }
        file.pendingRanges.clear();
        file.pendingData.clear();
    }

    private void recordCorruption(final Path path, final long from, final long to)
    {
        corruption.computeIfAbsent(path, k -> new ArrayList<>()).add(new long[]{ from, to });
    }

    boolean corrupted(final Path path, final long from, final long to)
    {
        for (final long[] range : corruption.getOrDefault(path, List.of()))
        {
            if (range[0] < to && from < range[1])
            {
                return true;
            }
        }
        return false;
    }

    private SimFile file(final int fd) throws NativeIoException
    {
        final SimFile file = fds.get(fd);
        if (null == file)
        {
            throw new NativeIoException("sim", Errno.EBADF, fd, NativeIoException.NO_OFFSET, null);
        }
        return file;
    }

    public IoEngine newEngine(final int entries)
    {
        return new Engine(Math.max(entries, 8));
    }

    public void probeDirect(final Path dir)
    {
    }

    public int open(final Path path, final boolean create) throws NativeIoException
    {
        SimFile file = files.get(path);
        if (null == file)
        {
            if (!create)
            {
                throw new NativeIoException("open", Errno.ENOENT, NativeIoException.NO_FD, NativeIoException.NO_OFFSET,
                    path.toString());
            }
            file = new SimFile(path);
            files.put(path, file);
        }
        final int fd = nextFd++;
        fds.put(fd, file);
        return fd;
    }

    public void fallocate(final int fd, final long offsetBytes, final long lengthBytes) throws NativeIoException
    {
        final SimFile file = file(fd);
        if (random.nextDouble() < faults.enospc())
        {
            throw new NativeIoException("fallocate", Errno.ENOSPC, fd, offsetBytes, file.path.toString());
        }
        file.ensure(offsetBytes + lengthBytes);
        file.size = Math.max(file.size, offsetBytes + lengthBytes);
    }

    public long fileSizeBytes(final int fd) throws NativeIoException
    {
        return file(fd).size;
    }

    public void close(final int fd)
    {
        fds.remove(fd);
    }

    public void delete(final Path path)
    {
        files.remove(path);
    }

    public void createDirectories(final Path dir)
    {
    }

    public List<Path> list(final Path dir, final String suffix)
    {
        final List<Path> found = new ArrayList<>();
        for (final Path path : files.keySet())
        {
            if (dir.equals(path.getParent()) && path.getFileName().toString().endsWith(suffix))
            {
                found.add(path);
            }
        }
        found.sort(null);
        return found;
    }

    public void syncDirectory(final Path dir)
    {
        for (final SimFile file : files.values())
        {
            if (dir.equals(file.path.getParent()))
            {
                file.entryDurable = true;
            }
        }
    }

    private int write(final SimFile file, final long address, final int length, final long offset)
    {
        writesRun++;
        if (random.nextDouble() < faults.writeEio())
        {
            return -Errno.EIO;
        }
        final byte[] data = new byte[length];
        new UnsafeBuffer(address, length).getBytes(0, data);
        long target = offset;
        if (offset >= 4096 && random.nextDouble() < faults.misdirect())
        {
            final long pages = Math.max(1, (file.size - length) / 4096);
            target = 4096 + 4096 * (long)random.nextInt((int)Math.max(1, pages - 1));
            if (target != offset)
            {
                recordCorruption(file.path, offset, offset + length);
                recordCorruption(file.path, target, target + length);
            }
        }
        if (offset >= 4096 && random.nextDouble() < faults.bitFlip())
        {
            final int at = random.nextInt(length);
            data[at] ^= (byte)(1 << random.nextInt(8));
            recordCorruption(file.path, target + at, target + at + 1);
        }
        file.ensure(target + length);
        file.size = Math.max(file.size, target + length);
        System.arraycopy(data, 0, file.cache, (int)target, length);
        file.pendingRanges.add(new long[]{ target });
        file.pendingData.add(data);
        return length;
    }

    /**
     * The buffers one after another, each a write with its own faults; stops at the first that fails (a short
     * result, or its error when nothing was written); then, as RWF_DSYNC, makes the file durable (its own sync
     * faults apply). The agent only gathers writes to a file with nothing else in flight, so syncing the whole
     * file is syncing this range.
     */
    private int writevDsync(final SimFile file, final long iovecAddress, final int iovecCount, final long offset)
    {
        final UnsafeBuffer iovecs = new UnsafeBuffer(iovecAddress, iovecCount * IoRing.IOVEC_BYTES);
        long at = offset;
        int written = 0;
        for (int i = 0; i < iovecCount; i++)
        {
            final long address = iovecs.getLong(i * IoRing.IOVEC_BYTES);
            final int length = (int)iovecs.getLong(i * IoRing.IOVEC_BYTES + 8);
            final int result = at == failWriteAtOffset ? -Errno.EIO : write(file, address, length, at);
            if (result < 0)
            {
                return written > 0 ? written : result;
            }
            written += result;
            at += length;
        }
        gatheredWritesRun++;
        final int synced = fdatasync(file);
        return synced < 0 ? synced : written;
    }

    private int read(final SimFile file, final long address, final int length, final long offset)
    {
        final int available = (int)Math.max(0, Math.min(length, file.size - offset));
        final UnsafeBuffer target = new UnsafeBuffer(address, length);
        if (available > 0)
        {
            target.putBytes(0, file.cache, (int)offset, available);
        }
        return available;
    }

    private int fdatasync(final SimFile file)
    {
        if (random.nextDouble() < faults.syncEio())
        {
            resolvePending(file);
            return -Errno.EIO;
        }
        for (int i = 0; i < file.pendingRanges.size(); i++)
        {
            final byte[] data = file.pendingData.get(i);
            System.arraycopy(data, 0, file.media, (int)file.pendingRanges.get(i)[0], data.length);
        }
        file.pendingRanges.clear();
        file.pendingData.clear();
        return 0;
    }

    /** An op the engine holds from submit to completion. */
    private static final class Op
    {
        final int kind;
        final int fd;
        final long address;
        final int length;
        final long offset;
        final long userData;
        final boolean link;
        /** The op this one is linked after (it runs only once that one ran and fully succeeded). */
        Op after;
        boolean done;
        int result;

        Op(final int kind, final int fd, final long address, final int length, final long offset, final long userData,
            final boolean link)
        {
            this.kind = kind;
            this.fd = fd;
            this.address = address;
            this.length = length;
            this.offset = offset;
            this.userData = userData;
            this.link = link;
        }

        boolean fullySucceeded()
        {
            return kind == FDATASYNC ? result == 0 : result == length;
        }
    }

    private static final int WRITE = 1;
    private static final int READ = 2;
    private static final int FDATASYNC = 3;
    /** A gathering write with RWF_DSYNC: {@code address} is the iovec array, {@code length} its entry count. */
    private static final int WRITEV_DSYNC = 4;

    /**
     * Ops run when they complete, not when submitted: each reap runs a random subset of the ready ones (unlinked,
     * or linked after an op that already ran) in random order. So completions come out of order, a write's data
     * is taken from its buffer when it runs (a buffer reused too early shows up as wrong bytes), and an
     * fdatasync covers exactly the writes that ran before it. A crash drops what never ran.
     */
    private final class Engine implements IoEngine
    {
        private final int capacity;
        private final List<Op> prepared = new ArrayList<>();
        private final List<Op> inFlight = new ArrayList<>();
        private final long generation = crashes;

        Engine(final int capacity)
        {
            this.capacity = capacity;
        }

        private boolean prepare(final int kind, final int fd, final long address, final int length, final long offset,
            final long userData, final boolean link)
        {
            if (prepared.size() >= capacity)
            {
                return false;
            }
            prepared.add(new Op(kind, fd, address, length, offset, userData, link));
            return true;
        }

        public boolean prepareWrite(final int fd, final long address, final int lengthBytes, final long offsetBytes,
            final long userData, final boolean linkNext)
        {
            return prepare(WRITE, fd, address, lengthBytes, offsetBytes, userData, linkNext);
        }

        public boolean prepareRead(final int fd, final long address, final int lengthBytes, final long offsetBytes,
            final long userData, final boolean linkNext)
        {
            return prepare(READ, fd, address, lengthBytes, offsetBytes, userData, linkNext);
        }

        public boolean prepareFdatasync(final int fd, final long userData, final boolean linkNext)
        {
            return prepare(FDATASYNC, fd, 0, 0, 0, userData, linkNext);
        }

        public boolean prepareWritevDsync(final int fd, final long iovecAddress, final int iovecCount,
            final long offsetBytes, final long userData)
        {
            return prepare(WRITEV_DSYNC, fd, iovecAddress, iovecCount, offsetBytes, userData, false);
        }

        public boolean canWritevDsync()
        {
            return gatheredWrites;
        }

        public int preparedCount()
        {
            return prepared.size();
        }

        public int submit()
        {
            Op previous = null;
            for (final Op op : prepared)
            {
                op.after = null != previous && previous.link ? previous : null;
                inFlight.add(op);
                previous = op;
            }
            final int count = prepared.size();
            prepared.clear();
            return count;
        }

        public int reap(final IoRing.CompletionHandler handler, final int minCompletions)
        {
            int delivered = 0;
            boolean force = false;
            while (!inFlight.isEmpty())
            {
                final List<Op> order = new ArrayList<>(inFlight);
                Collections.shuffle(order, random);
                for (final Op op : order)
                {
                    final boolean held = op.kind == FDATASYNC && holdFdatasyncs;
                    if (!held && (null == op.after || op.after.done) && (force || random.nextInt(100) < completionPercent))
                    {
                        run(op);
                        inFlight.remove(op);
                        handler.onCompletion(op.userData, op.result);
                        delivered++;
                    }
                }
                if (delivered >= minCompletions || (holdFdatasyncs && inFlight.stream().allMatch(op -> op.kind == FDATASYNC)))
                {
                    break;
                }
                force = true;
            }
            return delivered;
        }

        private void run(final Op op)
        {
            op.done = true;
            final SimFile file = fds.get(op.fd);
            if (generation != crashes)
            {
                op.result = -Errno.ECANCELED; // the process died with it: it never reaches the media
            }
            else if (null != op.after && !op.after.fullySucceeded())
            {
                op.result = -Errno.ECANCELED;
            }
            else if (null == file)
            {
                op.result = -Errno.EBADF;
            }
            else
            {
                op.result = switch (op.kind)
                {
                    case WRITE -> op.offset == failWriteAtOffset ? -Errno.EIO : write(file, op.address, op.length, op.offset);
                    case READ -> read(file, op.address, op.length, op.offset);
                    case WRITEV_DSYNC -> writevDsync(file, op.address, op.length, op.offset);
                    default -> fdatasync(file);
                };
            }
        }

        public int capacity()
        {
            return capacity;
        }

        public void close()
        {
        }
    }
}
