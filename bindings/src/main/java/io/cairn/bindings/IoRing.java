package io.cairn.bindings;

import io.cairn.bindings.generated.cairn_cqe;
import io.cairn.bindings.generated.cairn_op;
import io.cairn.bindings.generated.cairn_shim_h;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * An io_uring instance that crosses the FFM boundary once per batch: operations are prepared into
 * a preallocated native array ({@code prepare*}), handed to the kernel in ONE downcall
 * ({@link #submit()}), and completions come back in ONE downcall ({@link #reap}).
 * <p>
 * Buffer addresses, lengths and file offsets must be multiples of
 * {@link NativeIo#BLOCK_ALIGNMENT_BYTES} (O_DIRECT); this is checked before anything reaches the
 * kernel. Nothing is allocated per operation.
 * <p>
 * Not thread-safe: one ring belongs to one thread (e.g. the I/O agent of one disk).
 * <p>
 * Linking ({@code linkNext}): the next op in the same batch starts only after this one succeeded
 * fully; if it fails or completes short, the rest of the chain completes with
 * {@code -}{@link Errno#ECANCELED}. A link cannot span batches: the last op of a batch must not link.
 */
public final class IoRing implements AutoCloseable
{
    /** Receives one completion. */
    @FunctionalInterface
    public interface CompletionHandler
    {
        /**
         * @param userData the value given when the op was prepared.
         * @param result   bytes transferred (0 for fdatasync) when {@code >= 0}; {@code -errno} when negative.
         */
        void onCompletion(long userData, int result);
    }

    static
    {
        CairnShim.load();
    }

    // submit never waits for completions and reap(…, 0) never blocks, so both may skip the
    // thread-state transition. A waiting reap must not (it would stall safepoints).
    private static final MethodHandle SUBMIT = Linker.nativeLinker().downcallHandle(
        cairn_shim_h.cairn_ring_submit$address(), cairn_shim_h.cairn_ring_submit$descriptor(),
        Linker.Option.critical(false));
    private static final MethodHandle REAP_NO_WAIT = Linker.nativeLinker().downcallHandle(
        cairn_shim_h.cairn_ring_reap$address(), cairn_shim_h.cairn_ring_reap$descriptor(),
        Linker.Option.critical(false));
    private static final MethodHandle REAP_WAIT = cairn_shim_h.cairn_ring_reap$handle();
    private static final MethodHandle REAP_TIMEOUT = cairn_shim_h.cairn_ring_reap_timeout$handle();

    private static final byte OP_WRITE = (byte)cairn_shim_h.CAIRN_OP_WRITE();
    private static final byte OP_READ = (byte)cairn_shim_h.CAIRN_OP_READ();
    private static final byte OP_FDATASYNC = (byte)cairn_shim_h.CAIRN_OP_FDATASYNC();
    private static final byte OP_WRITEV = (byte)cairn_shim_h.CAIRN_OP_WRITEV();
    private static final byte FLAG_LINK = (byte)cairn_shim_h.CAIRN_OP_LINK();
    private static final byte FLAG_DRAIN = (byte)cairn_shim_h.CAIRN_OP_DRAIN();
    private static final byte FLAG_FIXED = (byte)cairn_shim_h.CAIRN_OP_FIXED();
    private static final byte FLAG_DSYNC = (byte)cairn_shim_h.CAIRN_OP_DSYNC();
    private static final byte NO_FLAGS = 0;

    /** {@code IORING_SETUP_SQPOLL}, from the shim: a kernel thread polls the submission queue. */
    public static final int SETUP_SQPOLL = cairn_shim_h.cairn_const_ioring_setup_sqpoll();
    /** The longest wait {@link #reapWithin} takes, in nanoseconds (an idle loop's wait, not a blocking call). */
    public static final long MAX_WAIT_NS = 1_000_000_000L;
    /** Most buffer regions one ring registers. */
    public static final int MAX_REGISTERED_BUFFERS = 16;

    private static final long OP_BYTES = cairn_op.layout().byteSize();
    private static final long OP_OPCODE = cairn_op.opcode$offset();
    private static final long OP_FLAGS = cairn_op.flags$offset();
    private static final long OP_BUF_INDEX = cairn_op.buf_index$offset();
    private static final long OP_FD = cairn_op.fd$offset();
    private static final long OP_ADDR = cairn_op.addr$offset();
    private static final long OP_LEN = cairn_op.len$offset();
    private static final long OP_OP_FLAGS = cairn_op.op_flags$offset();
    private static final long OP_OFFSET = cairn_op.offset$offset();
    private static final long OP_USER_DATA = cairn_op.user_data$offset();
    private static final long CQE_BYTES = cairn_cqe.layout().byteSize();
    private static final long CQE_USER_DATA = cairn_cqe.user_data$offset();
    private static final long CQE_RES = cairn_cqe.res$offset();

    private final Arena arena;
    private final MemorySegment ring;
    private final MemorySegment ops;
    private final MemorySegment cqes;
    private final int capacity;
    private final int completionCapacity;
    private final long[] registeredStart = new long[MAX_REGISTERED_BUFFERS];
    private final long[] registeredEnd = new long[MAX_REGISTERED_BUFFERS];
    private final boolean canWaitWithTimeout;
    private int registeredCount;
    private int preparedCount;
    private long inFlightCount;
    private boolean closed;

    /**
     * Creates a ring with default set-up flags.
     *
     * @param entries submission slots wanted; the kernel rounds up to a power of two, see {@link #capacity()}.
     */
    public IoRing(final int entries) throws NativeIoException
    {
        this(entries, 0);
    }

    /**
     * @param entries    submission slots wanted; the kernel rounds up to a power of two.
     * @param setupFlags io_uring {@code IORING_SETUP_*} flags, 0 for defaults.
     */
    public IoRing(final int entries, final int setupFlags) throws NativeIoException
    {
        if (entries <= 0)
        {
            throw new IllegalArgumentException("entries must be positive: " + entries);
        }
        arena = Arena.ofShared();
        try
        {
            final MemorySegment ringOut = arena.allocate(ValueLayout.ADDRESS);
            final int result = cairn_shim_h.cairn_ring_create(entries, setupFlags, ringOut);
            if (result < 0)
            {
                throw new NativeIoException(
                    "io_uring_setup(entries=" + entries + ")", -result, NativeIoException.NO_FD, NativeIoException.NO_OFFSET, null);
            }
            ring = ringOut.get(ValueLayout.ADDRESS, 0);
            capacity = cairn_shim_h.cairn_ring_sq_entries(ring);
            completionCapacity = cairn_shim_h.cairn_ring_cq_entries(ring);
            canWaitWithTimeout = cairn_shim_h.cairn_ring_can_wait_timeout(ring) == 1;
            ops = arena.allocate(OP_BYTES * capacity, 8);
            cqes = arena.allocate(CQE_BYTES * completionCapacity, 8);
        }
        catch (final NativeIoException | RuntimeException ex)
        {
            arena.close();
            throw ex;
        }
    }

    /**
     * Registers buffer regions with the kernel (io_uring_register_buffers), once, before the first op. From then
     * on every read or write whose buffer lies inside one of them goes as READ_FIXED/WRITE_FIXED (the kernel
     * skips pinning its pages per op); other buffers still work as before.
     *
     * @param addresses   start of each region, 4 KiB aligned.
     * @param lengthBytes length of each region.
     * @throws NativeIoException e.g. ENOMEM when the pages exceed RLIMIT_MEMLOCK (without CAP_IPC_LOCK).
     */
    public void registerBuffers(final long[] addresses, final long[] lengthBytes) throws NativeIoException
    {
        checkOpen();
        if (addresses.length != lengthBytes.length || addresses.length == 0 ||
            addresses.length > MAX_REGISTERED_BUFFERS || registeredCount > 0)
        {
            throw new IllegalArgumentException("1 to " + MAX_REGISTERED_BUFFERS +
                " regions, registered once per ring: " + addresses.length);
        }
        final int result;
        try (Arena temporary = Arena.ofConfined())
        {
            result = cairn_shim_h.cairn_ring_register_buffers(ring,
                temporary.allocateFrom(ValueLayout.JAVA_LONG, addresses),
                temporary.allocateFrom(ValueLayout.JAVA_LONG, lengthBytes), addresses.length);
        }
        if (result < 0)
        {
            throw new NativeIoException("io_uring_register_buffers(" + addresses.length + " regions)", -result,
                NativeIoException.NO_FD, NativeIoException.NO_OFFSET, null);
        }
        for (int i = 0; i < addresses.length; i++)
        {
            registeredStart[i] = addresses[i];
            registeredEnd[i] = addresses[i] + lengthBytes[i];
        }
        registeredCount = addresses.length;
    }

    /** @return buffer regions registered with {@link #registerBuffers}. */
    public int registeredBufferCount()
    {
        return registeredCount;
    }

    /**
     * Queues a write of {@code lengthBytes} from {@code bufferAddress} to {@code fileOffsetBytes}.
     *
     * @param linkNext start the next op of this batch only if this one writes everything.
     * @return false, queuing nothing, when the batch is full ({@link #capacity()} ops): submit first.
     * @throws IllegalArgumentException when the address, length or offset is not 4 KiB-aligned.
     */
    public boolean prepareWrite(
        final int fd,
        final long bufferAddress,
        final int lengthBytes,
        final long fileOffsetBytes,
        final long userData,
        final boolean linkNext)
    {
        checkReadWrite("write", fd, bufferAddress, lengthBytes, fileOffsetBytes);
        return prepare(OP_WRITE, fd, bufferAddress, lengthBytes, fileOffsetBytes, userData, linkNext);
    }

    /**
     * Queues a write that is durable when it completes ({@code RWF_DSYNC}: the data and the metadata needed to
     * read it back, as an fdatasync of the written range would make them). One op where a write linked to an
     * fdatasync is two: the kernel does both in one pass instead of starting the fdatasync as a second request
     * after the write's completion. It does not cover other writes of the file: use it only when every earlier
     * write of the file is durable already. Never linked.
     *
     * @return false, queuing nothing, when the batch is full ({@link #capacity()} ops): submit first.
     * @throws IllegalArgumentException when the address, length or offset is not 4 KiB-aligned.
     */
    public boolean prepareWriteDsync(
        final int fd,
        final long bufferAddress,
        final int lengthBytes,
        final long fileOffsetBytes,
        final long userData)
    {
        checkReadWrite("write", fd, bufferAddress, lengthBytes, fileOffsetBytes);
        return prepare(OP_WRITE, fd, bufferAddress, lengthBytes, fileOffsetBytes, userData, false, FLAG_DSYNC);
    }

    /** The most iovecs one {@link #prepareWritevDsync} may carry (the shim's {@code CAIRN_WRITEV_MAX_IOVECS}). */
    public static final int WRITEV_MAX_IOVECS = cairn_shim_h.CAIRN_WRITEV_MAX_IOVECS();

    /** Bytes of one {@code struct iovec} (base address, then length: two 64-bit words on 64-bit Linux). */
    public static final int IOVEC_BYTES = 16;

    /**
     * Queues a gathering write with {@code RWF_DSYNC} (IORING_OP_WRITEV): the {@code iovecCount} buffers of the
     * {@code struct iovec} array at {@code iovecAddress} are written one after another from {@code fileOffsetBytes}
     * and are durable when it completes. One I/O and no fdatasync for a group of contiguous writes to one file
     * whose earlier writes are durable. The array and the buffers must stay untouched until the completion; every
     * buffer address and length must be 4 KiB-aligned (O_DIRECT: the kernel answers -EINVAL otherwise). A short
     * result means only that prefix was written, and none of it is known durable.
     *
     * @return false, queuing nothing, when the batch is full.
     * @throws IllegalArgumentException when the array address is 0 or not 8-byte aligned, the count is outside
     *                                  [1, {@link #WRITEV_MAX_IOVECS}], or the offset is not 4 KiB-aligned.
     */
    public boolean prepareWritevDsync(
        final int fd,
        final long iovecAddress,
        final int iovecCount,
        final long fileOffsetBytes,
        final long userData)
    {
        checkFd(fd);
        if (iovecAddress == 0 || (iovecAddress & 7) != 0)
        {
            throw new IllegalArgumentException("writev: iovec array address 0x" + Long.toHexString(iovecAddress) +
                " is not 8-byte aligned");
        }
        if (iovecCount < 1 || iovecCount > WRITEV_MAX_IOVECS)
        {
            throw new IllegalArgumentException("writev: " + iovecCount + " iovecs, must be in [1, " +
                WRITEV_MAX_IOVECS + "]");
        }
        if (fileOffsetBytes < 0 || !NativeIo.isBlockAligned(fileOffsetBytes))
        {
            throw new IllegalArgumentException("writev: file offset " + fileOffsetBytes +
                " is not a non-negative multiple of " + NativeIo.BLOCK_ALIGNMENT_BYTES);
        }
        return prepare(OP_WRITEV, fd, iovecAddress, iovecCount, fileOffsetBytes, userData, false, FLAG_DSYNC);
    }

    /**
     * Queues a read of {@code lengthBytes} at {@code fileOffsetBytes} into {@code bufferAddress}. The
     * result may be short (even 0) at end of file.
     *
     * @return false, queuing nothing, when the batch is full.
     * @throws IllegalArgumentException when the address, length or offset is not 4 KiB-aligned.
     */
    public boolean prepareRead(
        final int fd,
        final long bufferAddress,
        final int lengthBytes,
        final long fileOffsetBytes,
        final long userData,
        final boolean linkNext)
    {
        checkReadWrite("read", fd, bufferAddress, lengthBytes, fileOffsetBytes);
        return prepare(OP_READ, fd, bufferAddress, lengthBytes, fileOffsetBytes, userData, linkNext);
    }

    /**
     * Queues an fdatasync. Linked after writes ({@code linkNext} on the last write), it runs only once
     * they all succeeded. A failed fdatasync must be treated as fatal for the file.
     *
     * @return false, queuing nothing, when the batch is full.
     */
    public boolean prepareFdatasync(final int fd, final long userData, final boolean linkNext)
    {
        checkFd(fd);
        return prepare(OP_FDATASYNC, fd, 0, 0, 0, userData, linkNext);
    }

    /**
     * Queues an fdatasync that starts only once every op submitted before it on this ring has completed, and
     * before which no later op starts (IOSQE_IO_DRAIN): the barrier after a group of concurrent, unlinked
     * writes. Unlike a link, a failed write does not cancel it: check each write's own result.
     *
     * @return false, queuing nothing, when the batch is full.
     */
    public boolean prepareFdatasyncAfterAll(final int fd, final long userData)
    {
        checkFd(fd);
        return prepare(OP_FDATASYNC, fd, 0, 0, 0, userData, false, FLAG_DRAIN);
    }

    /** Ops prepared and not yet submitted. */
    public int preparedCount()
    {
        return preparedCount;
    }

    /** Ops submitted whose completions have not been reaped yet. */
    public long inFlightCount()
    {
        return inFlightCount;
    }

    /**
     * Hands every prepared op to the kernel in one downcall; never waits for completions.
     *
     * @return the number the kernel accepted now. Normally all; any it did not accept yet stay queued
     *         in the ring and go in with the next submit or waiting reap, and are still counted in
     *         {@link #inFlightCount()}.
     * @throws NativeIoException when the kernel accepted none (e.g. EBUSY: reap first).
     */
    public int submit() throws NativeIoException
    {
        checkOpen();
        final int count = preparedCount;
        if (count == 0)
        {
            return 0;
        }
        if ((ops.get(ValueLayout.JAVA_BYTE, (count - 1) * OP_BYTES + OP_FLAGS) & FLAG_LINK) != 0)
        {
            throw new IllegalStateException("the last op of a batch must not set linkNext: a link cannot span batches");
        }
        final int result;
        try
        {
            result = (int)SUBMIT.invokeExact(ring, ops, count);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        if (result < 0)
        {
            throw new NativeIoException("io_uring_submit", -result, NativeIoException.NO_FD, NativeIoException.NO_OFFSET, null);
        }
        preparedCount = 0;
        inFlightCount += count;
        return result;
    }

    /**
     * Waits for at least {@code minCompletions} completions (0: do not wait), then passes every
     * available completion (up to the completion queue's size) to {@code handler}, in one downcall.
     * The handler must not throw: completions already taken from the ring would be lost.
     *
     * @return the number of completions handled.
     * @throws IllegalStateException when {@code minCompletions} exceeds the ops in flight (it would never return).
     */
    public int reap(final CompletionHandler handler, final int minCompletions) throws NativeIoException
    {
        checkOpen();
        if (minCompletions < 0 || minCompletions > completionCapacity)
        {
            throw new IllegalArgumentException(
                "minCompletions must be in [0, " + completionCapacity + "]: " + minCompletions);
        }
        if (minCompletions > inFlightCount)
        {
            throw new IllegalStateException(
                "waiting for " + minCompletions + " completions with only " + inFlightCount + " ops in flight");
        }
        final int count;
        try
        {
            count = minCompletions == 0 ?
                (int)REAP_NO_WAIT.invokeExact(ring, cqes, completionCapacity, 0) :
                (int)REAP_WAIT.invokeExact(ring, cqes, completionCapacity, minCompletions);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        return deliver(handler, count, "io_uring_reap");
    }

    private int deliver(final CompletionHandler handler, final int count, final String operation)
        throws NativeIoException
    {
        if (count < 0)
        {
            throw new NativeIoException(operation, -count, NativeIoException.NO_FD, NativeIoException.NO_OFFSET, null);
        }
        inFlightCount -= count;
        for (int i = 0; i < count; i++)
        {
            final long base = i * CQE_BYTES;
            handler.onCompletion(
                cqes.get(ValueLayout.JAVA_LONG, base + CQE_USER_DATA),
                cqes.get(ValueLayout.JAVA_INT, base + CQE_RES));
        }
        return count;
    }

    /**
     * Whether {@link #reapWithin} can bound its wait: the kernel has {@code IORING_FEAT_EXT_ARG} (Linux 5.11+).
     *
     * @return true when it can.
     */
    public boolean canWaitWithTimeout()
    {
        return canWaitWithTimeout;
    }

    /**
     * Waits up to {@code timeoutNs} for a completion, then passes every available completion (up to the
     * completion queue's size) to {@code handler}, in one downcall: for an idle loop with ops in flight, which
     * then wakes when the kernel completes one instead of after a fixed sleep. Returns at once, handling
     * nothing, when no op is in flight. The handler must not throw.
     *
     * @param handler   receives each completion.
     * @param timeoutNs the longest wait, 0 to 1 s.
     * @return the number of completions handled; 0 when the timeout passed first (or a signal cut the wait).
     * @throws NativeIoException when reaping failed.
     * @throws IllegalStateException when {@link #canWaitWithTimeout()} is false.
     */
    public int reapWithin(final CompletionHandler handler, final long timeoutNs) throws NativeIoException
    {
        checkOpen();
        if (timeoutNs < 0 || timeoutNs > MAX_WAIT_NS)
        {
            throw new IllegalArgumentException("timeoutNs must be in [0, " + MAX_WAIT_NS + "]: " + timeoutNs);
        }
        if (!canWaitWithTimeout)
        {
            throw new IllegalStateException("this kernel cannot bound an io_uring wait (no IORING_FEAT_EXT_ARG)");
        }
        if (0 == inFlightCount)
        {
            return 0;
        }
        final int count;
        try
        {
            count = (int)REAP_TIMEOUT.invokeExact(ring, cqes, completionCapacity, timeoutNs);
        }
        catch (final Throwable t)
        {
            throw rethrow(t);
        }
        return deliver(handler, count, "io_uring_wait_cqe_timeout");
    }

    /** The most ops one batch can hold (the ring's submission slots). */
    public int capacity()
    {
        return capacity;
    }

    /** The most completions one {@link #reap} returns (the ring's completion slots). */
    public int completionCapacity()
    {
        return completionCapacity;
    }

    /**
     * Tears the ring down and frees its memory. Idempotent. Ops still in flight keep running in the
     * kernel until they finish, so their buffers must stay valid: reap them all before closing.
     */
    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            cairn_shim_h.cairn_ring_destroy(ring);
            arena.close();
        }
    }

    private boolean prepare(
        final byte opcode,
        final int fd,
        final long address,
        final int lengthBytes,
        final long fileOffsetBytes,
        final long userData,
        final boolean linkNext)
    {
        return prepare(opcode, fd, address, lengthBytes, fileOffsetBytes, userData, linkNext, NO_FLAGS);
    }

    private boolean prepare(
        final byte opcode,
        final int fd,
        final long address,
        final int lengthBytes,
        final long fileOffsetBytes,
        final long userData,
        final boolean linkNext,
        final byte extraFlags)
    {
        checkOpen();
        if (preparedCount == capacity)
        {
            return false;
        }
        int bufferIndex = -1;
        if (opcode != OP_FDATASYNC && opcode != OP_WRITEV) // a writev's address is its iovec array, never registered
        {
            for (int i = 0; i < registeredCount; i++)
            {
                if (address >= registeredStart[i] && address + lengthBytes <= registeredEnd[i])
                {
                    bufferIndex = i;
                    break;
                }
            }
        }
        final long base = preparedCount * OP_BYTES;
        ops.set(ValueLayout.JAVA_BYTE, base + OP_OPCODE, opcode);
        ops.set(ValueLayout.JAVA_BYTE, base + OP_FLAGS,
            (byte)((linkNext ? FLAG_LINK : NO_FLAGS) | extraFlags | (bufferIndex >= 0 ? FLAG_FIXED : NO_FLAGS)));
        ops.set(ValueLayout.JAVA_SHORT, base + OP_BUF_INDEX, (short)Math.max(0, bufferIndex));
        ops.set(ValueLayout.JAVA_INT, base + OP_FD, fd);
        ops.set(ValueLayout.JAVA_LONG, base + OP_ADDR, address);
        ops.set(ValueLayout.JAVA_INT, base + OP_LEN, lengthBytes);
        ops.set(ValueLayout.JAVA_INT, base + OP_OP_FLAGS, 0);
        ops.set(ValueLayout.JAVA_LONG, base + OP_OFFSET, fileOffsetBytes);
        ops.set(ValueLayout.JAVA_LONG, base + OP_USER_DATA, userData);
        preparedCount++;
        return true;
    }

    private static void checkReadWrite(
        final String operation, final int fd, final long bufferAddress, final int lengthBytes, final long fileOffsetBytes)
    {
        checkFd(fd);
        if (bufferAddress == 0 || !NativeIo.isBlockAligned(bufferAddress))
        {
            throw new IllegalArgumentException(operation + ": buffer address 0x" + Long.toHexString(bufferAddress) +
                " is not " + NativeIo.BLOCK_ALIGNMENT_BYTES + "-byte aligned");
        }
        if (lengthBytes <= 0 || !NativeIo.isBlockAligned(lengthBytes))
        {
            throw new IllegalArgumentException(operation + ": length " + lengthBytes +
                " is not a positive multiple of " + NativeIo.BLOCK_ALIGNMENT_BYTES);
        }
        if (fileOffsetBytes < 0 || !NativeIo.isBlockAligned(fileOffsetBytes))
        {
            throw new IllegalArgumentException(operation + ": file offset " + fileOffsetBytes +
                " is not a non-negative multiple of " + NativeIo.BLOCK_ALIGNMENT_BYTES);
        }
    }

    private static void checkFd(final int fd)
    {
        if (fd < 0)
        {
            throw new IllegalArgumentException("invalid file descriptor: " + fd);
        }
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("io ring is closed");
        }
    }

    private static RuntimeException rethrow(final Throwable t)
    {
        if (t instanceof RuntimeException re)
        {
            throw re;
        }
        if (t instanceof Error e)
        {
            throw e;
        }
        throw new IllegalStateException("unexpected checked exception from a downcall", t);
    }
}
