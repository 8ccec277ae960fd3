package io.cairn.daemon;

import io.cairn.bindings.Errno;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIoException;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
 * Ops execute at submit (in order; a failed linked op cancels the rest of its chain) and complete at reap.
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

    private final class Engine implements IoEngine
    {
        private final int capacity;
        private final List<long[]> prepared = new ArrayList<>();
        private final List<long[]> completed = new ArrayList<>();

        Engine(final int capacity)
        {
            this.capacity = capacity;
        }

        private boolean prepare(final long kind, final int fd, final long address, final int length, final long offset,
            final long userData, final boolean link)
        {
            if (prepared.size() >= capacity)
            {
                return false;
            }
            prepared.add(new long[]{ kind, fd, address, length, offset, userData, link ? 1 : 0 });
            return true;
        }

        public boolean prepareWrite(final int fd, final long address, final int lengthBytes, final long offsetBytes,
            final long userData, final boolean linkNext)
        {
            return prepare(1, fd, address, lengthBytes, offsetBytes, userData, linkNext);
        }

        public boolean prepareRead(final int fd, final long address, final int lengthBytes, final long offsetBytes,
            final long userData, final boolean linkNext)
        {
            return prepare(2, fd, address, lengthBytes, offsetBytes, userData, linkNext);
        }

        public boolean prepareFdatasync(final int fd, final long userData, final boolean linkNext)
        {
            return prepare(3, fd, 0, 0, 0, userData, linkNext);
        }

        public boolean prepareFdatasyncAfterAll(final int fd, final long userData)
        {
            // Ops execute at submit, in order: every earlier op has completed already.
            return prepare(3, fd, 0, 0, 0, userData, false);
        }

        public int preparedCount()
        {
            return prepared.size();
        }

        public int submit() throws NativeIoException
        {
            boolean cancel = false;
            for (final long[] op : prepared)
            {
                int result;
                if (cancel)
                {
                    result = -Errno.ECANCELED;
                }
                else
                {
                    final SimFile file = file((int)op[1]);
                    result = switch ((int)op[0])
                    {
                        case 1 -> write(file, op[2], (int)op[3], op[4]);
                        case 2 -> read(file, op[2], (int)op[3], op[4]);
                        default -> fdatasync(file);
                    };
                }
                final boolean fullySucceeded = op[0] == 3 ? result == 0 : result == op[3];
                cancel = op[6] == 1 && (cancel || !fullySucceeded);
                completed.add(new long[]{ op[5], result });
            }
            final int count = prepared.size();
            prepared.clear();
            return count;
        }

        public int reap(final IoRing.CompletionHandler handler, final int minCompletions)
        {
            final int count = completed.size();
            for (final long[] c : completed)
            {
                handler.onCompletion(c[0], (int)c[1]);
            }
            completed.clear();
            return count;
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
