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
 * of the chain completes with -ECANCELED; results are bytes transferred or -errno.
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
     * An fdatasync that starts only after every op submitted before it has completed, and before which no later
     * op starts (io_uring's IOSQE_IO_DRAIN): the barrier after a group of concurrent, unlinked writes.
     *
     * @param fd       file.
     * @param userData returned by the completion.
     * @return false when the ring is full.
     */
    boolean prepareFdatasyncAfterAll(int fd, long userData);

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
     * @return the most ops one submit can take.
     */
    int capacity();

    /**
     * Release the ring.
     */
    @Override
    void close();
}
