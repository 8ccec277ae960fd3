package io.cairn.daemon;

import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/**
 * The one-slot mailbox between the {@link BlockRepairAgent} (its own thread) and one {@link DiskIoAgent}: one bounded
 * repair I/O per disk at a time, in one aligned buffer of the disk's largest block.
 * <p>
 * The worker fills the request fields (and, for a write, the buffer), then publishes {@link #READ_REQUESTED} or
 * {@link #WRITE_REQUESTED} with a volatile store; the disk agent takes it in its duty cycle, runs the I/O through its
 * ring (a read; or a write linked to an fdatasync, then a read-back into the same buffer), fills the result fields and
 * publishes {@link #DONE}. Only the side that holds the slot touches the buffer, so the volatile state is the only
 * synchronisation; the worker never blocks the disk agent and the disk agent never waits for the worker.
 */
final class RepairIo
{
    /** Free: the worker may fill a request. */
    static final int IDLE = 0;
    /** Read {@code [blockOffset, blockOffset + lengthBytes)} of the sealed extent (0: as much as fits, to its end). */
    static final int READ_REQUESTED = 1;
    /** Write the buffer's {@code lengthBytes} at {@code blockOffset}, fdatasync, read it back into the buffer. */
    static final int WRITE_REQUESTED = 2;
    /** Taken by the disk agent: the kernel owns the buffer. */
    static final int IN_FLIGHT = 3;
    /** Answered: {@link #result}, {@link #resultBytes} and {@link #sealedLength} are set. */
    static final int DONE = 4;

    /** Result: the I/O ran; resultBytes says how much was read. */
    static final int OK = 0;
    /** Result: the disk holds no such extent. */
    static final int NO_EXTENT = 1;
    /** Result: the extent is not sealed (only sealed extents are repaired in place). */
    static final int NOT_SEALED = 2;
    /** Result: the range is not inside the sealed length, or not aligned, or larger than the buffer. */
    static final int OUT_OF_RANGE = 3;
    /** Result: the disk is FAILED; nothing is written to it. */
    static final int DISK_FAILED = 4;
    /** Result: the read, write or fdatasync failed (the disk goes FAILED on a write or fdatasync error). */
    static final int IO_ERROR = 5;

    final int diskIndex;
    final long address;
    final ByteBuffer byteBuffer;
    final UnsafeBuffer view;
    final int capacityBytes;

    private volatile int state = IDLE;

    // Request, written by the worker before it publishes the state.
    long extentId;
    long blockOffset;
    int lengthBytes;

    // Result, written by the disk agent before it publishes DONE.
    int result;
    int resultBytes;
    long sealedLength;
    String error;

    RepairIo(final int diskIndex, final long address, final ByteBuffer byteBuffer, final int capacityBytes)
    {
        this.diskIndex = diskIndex;
        this.address = address;
        this.byteBuffer = byteBuffer;
        this.capacityBytes = capacityBytes;
        this.view = new UnsafeBuffer(address, capacityBytes);
    }

    int state()
    {
        return state;
    }

    void state(final int state)
    {
        this.state = state;
    }

    /** The disk agent's answer. */
    void answer(final int result, final int resultBytes, final long sealedLength, final String error)
    {
        this.result = result;
        this.resultBytes = resultBytes;
        this.sealedLength = sealedLength;
        this.error = error;
        state = DONE;
    }

    static String resultName(final int result)
    {
        return switch (result)
        {
            case OK -> "OK";
            case NO_EXTENT -> "NO_EXTENT";
            case NOT_SEALED -> "NOT_SEALED";
            case OUT_OF_RANGE -> "OUT_OF_RANGE";
            case DISK_FAILED -> "DISK_FAILED";
            default -> "IO_ERROR";
        };
    }
}
