package io.cairn.daemon;

import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A pooled disk operation passed between the replication thread and one {@link DiskIoAgent}.
 * <p>
 * Each command owns one aligned I/O buffer for life, so a block is encoded straight into the memory the
 * kernel writes from (O_DIRECT), and a read is verified and published from the memory it was read into.
 * Fields are written by one thread at a time; the queues between the threads publish them safely.
 */
final class IoCommand extends FileIo
{
    static final int CREATE = 1;
    static final int OPEN_EXISTING = 2;
    static final int WRITE = 3;
    static final int READ = 4;
    static final int SEAL = 5;
    /** Close the extent's file (fd, or -1 when this disk has it not open) and delete it (path), durably. */
    static final int DELETE = 6;

    final int diskIndex;
    /** Position in its agent's command array: the tag of its read or write. */
    final int index;
    final long address;
    final ByteBuffer byteBuffer;
    final UnsafeBuffer view;

    int kind;
    long token;
    long extentId;
    long streamId;
    long extentSizeBytes;
    int fd = -1;
    /** Bytes a DELETE reclaimed (0 when there was no file). */
    long reclaimedBytes;
    /** Block offset (WRITE, READ) or sealed length (SEAL). */
    long blockOffset;
    /** When a write was prepared for io_uring (the disk agent's clock), for the write-to-durable latency. */
    long submittedNs;
    int blockLengthBytes;
    /** The next write of the gathered write this one heads or belongs to (see DiskIoAgent#tryGroup). */
    IoCommand groupNext;
    /** Bytes of the gathered write this command heads. */
    long groupBytes;
    int payloadLengthBytes;
    /** Record framing of a WRITE (BlockFormat.RECORD_*): the store advances its commit length past a LAST block. */
    int recordFlags;
    Path path;
    NodeStatus status;
    String error;

    IoCommand(
        final int diskIndex, final int index, final long address, final ByteBuffer byteBuffer, final int lengthBytes)
    {
        this.diskIndex = diskIndex;
        this.index = index;
        this.address = address;
        this.byteBuffer = byteBuffer;
        this.view = new UnsafeBuffer(address, lengthBytes);
    }

    void reset(final int kind, final long token, final long extentId)
    {
        this.kind = kind;
        this.token = token;
        this.extentId = extentId;
        this.status = null;
        this.error = null;
        this.ioResult = 0;
        this.ioDone = false;
        this.seq = 0;
        this.nextInFile = null;
        this.groupNext = null;
        this.path = null;
    }

    @Override
    int expectedResult()
    {
        return blockLengthBytes;
    }

    void fail(final NodeStatus status, final String error)
    {
        this.status = status;
        this.error = error;
    }
}
