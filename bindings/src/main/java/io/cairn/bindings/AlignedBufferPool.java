package io.cairn.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A fixed set of equally sized, 4 KiB-aligned native buffers for O_DIRECT I/O, allocated once, up
 * front, from one shared arena. Buffers are handed out by index; nothing is allocated after
 * construction.
 * <p>
 * {@link #acquire()} and {@link #release(int)} are thread-safe (a buffer may be acquired on one
 * thread and released on another); {@link #segment(int)} and {@link #address(int)} are plain reads.
 * {@link #close()} frees the memory; any segment obtained from the pool is unusable afterwards.
 */
public final class AlignedBufferPool implements AutoCloseable
{
    private final Arena arena;
    private final int bufferCount;
    private final int bufferLengthBytes;
    private final MemorySegment[] segments;
    private final long[] addresses;
    private final long regionAddress;
    private final int[] freeStack;
    private final boolean[] acquired;
    private int freeCount;
    private boolean closed;

    /**
     * @param bufferCount       number of buffers, at least 1.
     * @param bufferLengthBytes length of each, a positive multiple of {@link NativeIo#BLOCK_ALIGNMENT_BYTES}.
     */
    public AlignedBufferPool(final int bufferCount, final int bufferLengthBytes)
    {
        if (bufferCount <= 0)
        {
            throw new IllegalArgumentException("bufferCount must be positive: " + bufferCount);
        }
        if (bufferLengthBytes <= 0 || !NativeIo.isBlockAligned(bufferLengthBytes))
        {
            throw new IllegalArgumentException("bufferLengthBytes must be a positive multiple of " +
                NativeIo.BLOCK_ALIGNMENT_BYTES + ": " + bufferLengthBytes);
        }
        this.bufferCount = bufferCount;
        this.bufferLengthBytes = bufferLengthBytes;
        this.arena = Arena.ofShared();
        this.segments = new MemorySegment[bufferCount];
        this.addresses = new long[bufferCount];
        this.freeStack = new int[bufferCount];
        this.acquired = new boolean[bufferCount];

        final MemorySegment block = arena.allocate((long)bufferCount * bufferLengthBytes, NativeIo.BLOCK_ALIGNMENT_BYTES);
        if (!NativeIo.isBlockAligned(block.address()))
        {
            arena.close();
            throw new IllegalStateException("buffer pool memory is not " + NativeIo.BLOCK_ALIGNMENT_BYTES +
                "-aligned: address=0x" + Long.toHexString(block.address()));
        }
        regionAddress = block.address();
        for (int i = 0; i < bufferCount; i++)
        {
            segments[i] = block.asSlice((long)i * bufferLengthBytes, bufferLengthBytes);
            addresses[i] = segments[i].address();
            // Hand out low indexes first: the stack is popped from the end.
            freeStack[i] = bufferCount - 1 - i;
        }
        freeCount = bufferCount;
    }

    /** Takes a free buffer. @return its index, or -1 when all buffers are in use. */
    public synchronized int acquire()
    {
        if (closed)
        {
            throw new IllegalStateException("buffer pool is closed");
        }
        if (freeCount == 0)
        {
            return -1;
        }
        final int index = freeStack[--freeCount];
        acquired[index] = true;
        return index;
    }

    /**
     * Returns a buffer to the pool.
     *
     * @throws IllegalStateException if {@code index} is out of range or the buffer is not acquired
     *                               (a double release).
     */
    public synchronized void release(final int index)
    {
        if (index < 0 || index >= bufferCount)
        {
            throw new IllegalStateException("buffer index out of range [0, " + bufferCount + "): " + index);
        }
        if (!acquired[index])
        {
            throw new IllegalStateException("buffer " + index + " released but not acquired (double release?)");
        }
        acquired[index] = false;
        freeStack[freeCount++] = index;
    }

    /** The buffer's memory: {@link #bufferLengthBytes()} bytes, 4 KiB-aligned. Sliced once, at construction. */
    public MemorySegment segment(final int index)
    {
        return segments[index];
    }

    /** The buffer's native address, for {@link IoRing} operations. */
    public long address(final int index)
    {
        return addresses[index];
    }

    /** Start of the one contiguous region that holds every buffer (to register it with {@link IoRing}). */
    public long regionAddress()
    {
        return regionAddress;
    }

    /** Length of that region: {@code bufferCount() * bufferLengthBytes()}. */
    public long regionLengthBytes()
    {
        return (long)bufferCount * bufferLengthBytes;
    }

    public int bufferLengthBytes()
    {
        return bufferLengthBytes;
    }

    public int bufferCount()
    {
        return bufferCount;
    }

    /** Number of buffers free to {@link #acquire()}. */
    public synchronized int available()
    {
        return freeCount;
    }

    /** Frees the memory. Idempotent. */
    @Override
    public synchronized void close()
    {
        if (!closed)
        {
            closed = true;
            arena.close();
        }
    }
}
