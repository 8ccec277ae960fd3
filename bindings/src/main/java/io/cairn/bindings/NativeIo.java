package io.cairn.bindings;

import io.cairn.bindings.generated.cairn_shim_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Synchronous file operations on the native shim, for the set-up path (open, preallocate, sync,
 * close). The hot path goes through {@link IoRing}.
 * <p>
 * Files are always opened with {@code O_DIRECT}; there is deliberately no buffered fallback. Every
 * failure is a {@link NativeIoException} carrying the errno, the operation and the fd or path.
 */
public final class NativeIo
{
    static
    {
        CairnShim.load();
    }

    /** Alignment, in bytes, of buffer addresses, lengths and file offsets for O_DIRECT I/O. */
    public static final int BLOCK_ALIGNMENT_BYTES = 4096;

    /** Permissions of files created by {@link #openDirect(Path, boolean)}: rw-r--r--. */
    public static final int CREATE_MODE = 0644;

    private static final int O_DIRECT = cairn_shim_h.cairn_const_o_direct();
    private static final int STRERROR_BUFFER_BYTES = 256;

    private NativeIo()
    {
    }

    /**
     * Opens {@code path} read-write with {@code O_DIRECT | O_CLOEXEC}, creating it (mode
     * {@link #CREATE_MODE}) when {@code create} is set and it does not exist.
     *
     * @return the file descriptor.
     * @throws NativeIoException naming the path, e.g. ENOENT when its directory does not exist.
     */
    public static int openDirect(final Path path, final boolean create) throws NativeIoException
    {
        final String pathName = path.toString();
        final int result;
        try (Arena arena = Arena.ofConfined())
        {
            result = cairn_shim_h.cairn_open_direct(arena.allocateFrom(pathName), create ? 1 : 0, CREATE_MODE);
        }
        if (result < 0)
        {
            throw new NativeIoException("open", -result, NativeIoException.NO_FD, NativeIoException.NO_OFFSET, pathName);
        }
        return result;
    }

    /**
     * Allocates disk blocks for {@code [offsetBytes, offsetBytes + lengthBytes)}, growing the file when
     * the range ends past its size. Writes into preallocated space are several times faster.
     */
    public static void fallocate(final int fd, final long offsetBytes, final long lengthBytes) throws NativeIoException
    {
        if (offsetBytes < 0 || lengthBytes <= 0)
        {
            throw new IllegalArgumentException(
                "fallocate needs offsetBytes >= 0 and lengthBytes > 0: offsetBytes=" + offsetBytes +
                " lengthBytes=" + lengthBytes);
        }
        final int result = cairn_shim_h.cairn_fallocate(fd, offsetBytes, lengthBytes);
        if (result < 0)
        {
            throw new NativeIoException("fallocate", -result, fd, offsetBytes, null);
        }
    }

    /**
     * Flushes the file's data (and the metadata needed to read it back) to stable storage. A failure
     * must be treated as fatal for the file: after a failed fdatasync the page state is unknown.
     */
    public static void fdatasync(final int fd) throws NativeIoException
    {
        final int result = cairn_shim_h.cairn_fdatasync(fd);
        if (result < 0)
        {
            throw new NativeIoException("fdatasync", -result, fd, NativeIoException.NO_OFFSET, null);
        }
    }

    /** The file's size in bytes. */
    public static long fileSizeBytes(final int fd) throws NativeIoException
    {
        final long result = cairn_shim_h.cairn_file_size(fd);
        if (result < 0)
        {
            throw new NativeIoException("fstat", (int)-result, fd, NativeIoException.NO_OFFSET, null);
        }
        return result;
    }

    /** Closes the descriptor. On Linux it is released even when this throws; do not retry. */
    public static void close(final int fd) throws NativeIoException
    {
        final int result = cairn_shim_h.cairn_close(fd);
        if (result < 0)
        {
            throw new NativeIoException("close", -result, fd, NativeIoException.NO_OFFSET, null);
        }
    }

    /**
     * Pins the calling thread to one CPU (sched_setaffinity).
     *
     * @param cpu a CPU number in [0, {@link #cpuCount()}).
     * @throws NativeIoException e.g. EINVAL when that CPU is not online or not allowed to this process.
     */
    public static void pinCurrentThread(final int cpu) throws NativeIoException
    {
        final int result = cairn_shim_h.cairn_pin_current_thread(cpu);
        if (result < 0)
        {
            throw new NativeIoException("sched_setaffinity(cpu " + cpu + ")", -result, NativeIoException.NO_FD,
                NativeIoException.NO_OFFSET, null);
        }
    }

    /** @return CPUs online. */
    public static int cpuCount()
    {
        return cairn_shim_h.cairn_cpu_count();
    }

    /** The platform's {@code O_DIRECT} flag, as compiled into the shim. */
    public static int oDirectFlag()
    {
        return O_DIRECT;
    }

    /** The platform's message for a positive errno (strerror). Allocates: for error paths only. */
    public static String strerror(final int errno)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment buffer = arena.allocate(STRERROR_BUFFER_BYTES);
            final int length = cairn_shim_h.cairn_strerror(errno, buffer, STRERROR_BUFFER_BYTES);
            return length < 0 ? "errno " + errno : buffer.getString(0);
        }
    }

    /** Whether {@code value} is a multiple of {@link #BLOCK_ALIGNMENT_BYTES}. */
    public static boolean isBlockAligned(final long value)
    {
        return (value & (BLOCK_ALIGNMENT_BYTES - 1)) == 0;
    }
}
