package io.cairn.daemon;

/**
 * One write of a {@link DiskIoAgent}'s write path (a command's block or header page, or a checkpoint page), as
 * its file orders them.
 * <p>
 * The agent numbers a file's writes in submission order ({@link #seq}) and keeps the ones whose completion has
 * not joined the file's completed prefix in a list through {@link #nextInFile}: writes run concurrently and
 * complete in any order, but a write is durable only once every earlier write of its file has completed and an
 * fdatasync submitted after that has succeeded. Single-threaded (the agent's thread).
 */
class FileIo
{
    /** Position in its file's write order, from 1; 0 when it has no write in flight. */
    long seq;
    /** Its write has completed (result below). */
    boolean ioDone;
    /** Bytes written, or -errno. */
    int ioResult;
    /** The next write of the same file whose completion is still outside the completed prefix. */
    FileIo nextInFile;

    /** @return the length a successful write returns. */
    int expectedResult()
    {
        return 0;
    }
}
