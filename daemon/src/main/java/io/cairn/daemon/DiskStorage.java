package io.cairn.daemon;

import io.cairn.bindings.NativeIoException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The file system under the extent store: files opened for O_DIRECT, directory operations and I/O engines.
 * Every file-system call of the store goes through here, so a simulated disk can replace the real one
 * (see {@link IoEngine}). Blocking calls (open, fallocate, directory sync) are rare: extent creation,
 * preallocation steps, recovery.
 */
public interface DiskStorage
{
    /**
     * @param entries submission slots.
     * @return a new engine (one per disk agent, one for recovery).
     * @throws NativeIoException when it cannot be set up.
     */
    IoEngine newEngine(int entries) throws NativeIoException;

    /**
     * @param entries submission slots.
     * @param sqPoll  ask for a kernel submission-queue polling thread (io_uring SQPOLL).
     * @return a new engine.
     * @throws NativeIoException when it cannot be set up (with SQPOLL: when the kernel refuses it).
     */
    default IoEngine newEngine(final int entries, final boolean sqPoll) throws NativeIoException
    {
        return newEngine(entries);
    }

    /**
     * Check that the directory takes O_DIRECT: open a probe file O_DIRECT, write 4 KiB aligned, fdatasync,
     * delete it. Refuses (throws) rather than falling back to buffered I/O.
     *
     * @param dir a data directory.
     * @throws IOException naming the directory and the errno.
     */
    void probeDirect(Path dir) throws IOException;

    /**
     * @param path   file.
     * @param create create when absent.
     * @return descriptor, opened O_DIRECT read/write.
     * @throws NativeIoException with the errno.
     */
    int open(Path path, boolean create) throws NativeIoException;

    /**
     * Allocate {@code [offset, offset + length)}, growing the file.
     *
     * @param fd          file.
     * @param offsetBytes from.
     * @param lengthBytes how much.
     * @throws NativeIoException with the errno (ENOSPC when the disk is full).
     */
    void fallocate(int fd, long offsetBytes, long lengthBytes) throws NativeIoException;

    /**
     * @param fd file.
     * @return its size.
     * @throws NativeIoException with the errno.
     */
    long fileSizeBytes(int fd) throws NativeIoException;

    /**
     * @param fd file to close.
     * @throws NativeIoException with the errno.
     */
    void close(int fd) throws NativeIoException;

    /**
     * @param path file to delete if present.
     * @throws IOException when it cannot be deleted.
     */
    void delete(Path path) throws IOException;

    /**
     * @param dir directory to create with its parents.
     * @throws IOException when it cannot be created.
     */
    void createDirectories(Path dir) throws IOException;

    /**
     * @param dir    directory.
     * @param suffix file name suffix.
     * @return the files in dir whose names end with suffix, sorted by name.
     * @throws IOException when the directory cannot be read.
     */
    List<Path> list(Path dir, String suffix) throws IOException;

    /**
     * Make the directory's entries durable (after creating a file in it).
     *
     * @param dir directory.
     * @throws IOException when the fsync failed.
     */
    void syncDirectory(Path dir) throws IOException;
}
