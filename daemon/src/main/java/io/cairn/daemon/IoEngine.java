package io.cairn.daemon;

import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIoException;

/**
 * The asynchronous I/O of one disk: prepare a batch, submit it in one call, reap completions.
 * <p>
 * Why an interface: the same {@link DiskIoAgent} and recovery logic run over io_uring ({@link UringDiskStorage})
 * and over a seeded, fault-injecting simulation in tests (torn, lost, misdirected and bit-flipped writes,
 * ENOSPC, EIO). Addresses are native memory (aligned buffers); offsets and lengths are 4 KiB aligned.
 * Semantics follow io_uring: a linked op starts only if the previous one succeeded fully, otherwise the rest
 * of the chain completes with -ECANCELED; results are bytes transferred or -errno. Unlinked ops run
 * concurrently and complete in any order; an fdatasync covers only the writes that completed before it was
 * submitted, so a caller that needs a write durable submits the fdatasync after seeing the write's completion.
 */
public interface IoEngine extends AutoCloseable
{
    /**
     * @param fd          file.
     * @param address     aligned buffer address.
     * @param lengthBytes aligned length.
     * @param offsetBytes aligned file offset.
     * @param userData    returned by the completion.
     * @param linkNext    the next prepared op runs only if this one succeeds.
     * @return false when the ring is full.
     */
    boolean prepareWrite(int fd, long address, int lengthBytes, long offsetBytes, long userData, boolean linkNext);

    /**
     * A write durable when it completes (RWF_DSYNC), as a write linked to an fdatasync of its range, in one op.
     * Only where {@link #canWriteDsync()}; it covers this write only.
     *
     * @param fd          file.
     * @param address     aligned buffer address.
     * @param lengthBytes aligned length.
     * @param offsetBytes aligned file offset.
     * @param userData    returned by the completion.
     * @return false when the ring is full.
     */
    default boolean prepareWriteDsync(int fd, long address, int lengthBytes, long offsetBytes, long userData)
    {
        throw new UnsupportedOperationException("this engine has no durable-on-completion write");
    }

    /**
     * @return whether {@link #prepareWriteDsync} is available; false: a write linked to an fdatasync instead.
     */
    default boolean canWriteDsync()
    {
        return false;
    }

    /**
     * A gathering write durable when it completes (IORING_OP_WRITEV with RWF_DSYNC): the buffers of the iovec array
     * ({@link IoRing#IOVEC_BYTES} each: address, length) written one after another from {@code offsetBytes}. Only
     * where {@link #canWritevDsync()}; it covers its own range only. The array must stay untouched until the
     * completion, whose result is the bytes written in all (short: only that prefix, none of it known durable).
     *
     * @param fd           file.
     * @param iovecAddress the iovec array.
     * @param iovecCount   its entries, in [1, {@link IoRing#WRITEV_MAX_IOVECS}].
     * @param offsetBytes  aligned file offset of the first buffer.
     * @param userData     returned by the completion.
     * @return false when the ring is full.
     */
    default boolean prepareWritevDsync(int fd, long iovecAddress, int iovecCount, long offsetBytes, long userData)
    {
        throw new UnsupportedOperationException("this engine has no durable-on-completion gathering write");
    }

    /**
     * @return whether {@link #prepareWritevDsync} is available; false: contiguous writes go out one by one.
     */
    default boolean canWritevDsync()
    {
        return false;
    }

    /**
     * @param fd          file.
     * @param address     aligned buffer address.
     * @param lengthBytes aligned length.
     * @param offsetBytes aligned file offset.
     * @param userData    returned by the completion.
     * @param linkNext    the next prepared op runs only if this one succeeds.
     * @return false when the ring is full.
     */
    boolean prepareRead(int fd, long address, int lengthBytes, long offsetBytes, long userData, boolean linkNext);

    /**
     * @param fd       file.
     * @param userData returned by the completion.
     * @param linkNext the next prepared op runs only if this one succeeds.
     * @return false when the ring is full.
     */
    boolean prepareFdatasync(int fd, long userData, boolean linkNext);

    /**
     * Register the buffers every read and write will use (io_uring fixed buffers), once, before the first op.
     * An engine without the notion (a simulation) ignores it.
     *
     * @param addresses   start of each region.
     * @param lengthBytes length of each region.
     * @throws NativeIoException when the kernel refuses (e.g. ENOMEM over RLIMIT_MEMLOCK).
     */
    default void registerBuffers(final long[] addresses, final long[] lengthBytes) throws NativeIoException
    {
    }

    /**
     * @return ops prepared and not yet submitted.
     */
    int preparedCount();

    /**
     * Submit every prepared op.
     *
     * @return ops accepted.
     * @throws NativeIoException when the submission failed.
     */
    int submit() throws NativeIoException;

    /**
     * @param handler        receives each completion.
     * @param minCompletions wait for at least this many (0: do not wait).
     * @return completions delivered.
     * @throws NativeIoException when reaping failed.
     */
    int reap(IoRing.CompletionHandler handler, int minCompletions) throws NativeIoException;

    /**
     * Wait up to {@code timeoutNs} for a completion, then deliver every available one: what an idle loop with
     * ops in flight does instead of sleeping, so that it wakes when the kernel completes an op. An engine that
     * cannot bound a wait (see {@link #canWait()}) delivers what is available without waiting.
     *
     * @param handler   receives each completion.
     * @param timeoutNs the longest wait.
     * @return completions delivered (0 when the timeout passed first).
     * @throws NativeIoException when reaping failed.
     */
    default int reapWithin(final IoRing.CompletionHandler handler, final long timeoutNs) throws NativeIoException
    {
        return reap(handler, 0);
    }

    /**
     * @return whether {@link #reapWithin} really waits (io_uring on Linux 5.11+); false: it only polls.
     */
    default boolean canWait()
    {
        return false;
    }

    /**
     * @return the most ops one submit can take.
     */
    int capacity();

    /**
     * Release the ring.
     */
    @Override
    void close();
}
