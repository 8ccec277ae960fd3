package io.cairn.bindings;

import java.io.IOException;

/**
 * A failed native I/O call. Carries the errno, the operation, and where it happened (fd or path,
 * file offset). The message reads like
 * {@code "open failed: No such file or directory (errno 2), path=/data/extent/7"}.
 */
public final class NativeIoException extends IOException
{
    private static final long serialVersionUID = 1L;

    /** {@link #fd()} when the failure is not tied to a file descriptor. */
    public static final int NO_FD = -1;
    /** {@link #offsetBytes()} when the failure is not tied to a file offset. */
    public static final long NO_OFFSET = -1L;

    private final int errno;
    private final String operation;
    private final int fd;
    private final long offsetBytes;
    private final String path;

    /**
     * @param operation   what failed, e.g. {@code "open"}, {@code "fdatasync"}, {@code "io_uring_submit"}.
     * @param errno       the positive errno.
     * @param fd          the file descriptor involved, or {@link #NO_FD}.
     * @param offsetBytes the file offset involved, or {@link #NO_OFFSET}.
     * @param path        the path involved, or {@code null}.
     */
    public NativeIoException(
        final String operation, final int errno, final int fd, final long offsetBytes, final String path)
    {
        super(describe(operation, errno, fd, offsetBytes, path));
        this.errno = errno;
        this.operation = operation;
        this.fd = fd;
        this.offsetBytes = offsetBytes;
        this.path = path;
    }

    /** The positive errno, e.g. {@link Errno#ENOENT}. */
    public int errno()
    {
        return errno;
    }

    /** The operation that failed. */
    public String operation()
    {
        return operation;
    }

    /** The file descriptor involved, or {@link #NO_FD}. */
    public int fd()
    {
        return fd;
    }

    /** The file offset involved, or {@link #NO_OFFSET}. */
    public long offsetBytes()
    {
        return offsetBytes;
    }

    /** The path involved, or {@code null}. */
    public String path()
    {
        return path;
    }

    private static String describe(
        final String operation, final int errno, final int fd, final long offsetBytes, final String path)
    {
        final StringBuilder sb = new StringBuilder(128)
            .append(operation).append(" failed: ").append(NativeIo.strerror(errno))
            .append(" (errno ").append(errno).append(')');
        if (path != null)
        {
            sb.append(", path=").append(path);
        }
        if (fd != NO_FD)
        {
            sb.append(", fd=").append(fd);
        }
        if (offsetBytes != NO_OFFSET)
        {
            sb.append(", offset=").append(offsetBytes);
        }
        return sb.toString();
    }
}
