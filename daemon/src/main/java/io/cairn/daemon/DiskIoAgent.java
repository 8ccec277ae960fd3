package io.cairn.daemon;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.Errno;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The I/O agent of one data directory: owns its {@link IoEngine}, its aligned buffers and its extent files.
 * <p>
 * Commands arrive on a bounded queue from the replication thread. The agent takes what is queued, up to
 * {@link Config#maxBatchCommands} commands and {@link Config#maxBatchBytes} bytes, as one batch (group
 * commit) and submits it in one call: the reads, every write unlinked (they run concurrently), per file an
 * optional checkpoint page, then per file one fdatasync, the first of which drains (starts only after every
 * earlier op completed). A write completes OK only when it and its file's fdatasync succeeded and no earlier
 * write of that file failed. One batch is in flight at a time, so completions go back in submission order
 * and a completed write implies every earlier one on that file is durable.
 * <p>
 * Files grow by preallocation steps ({@link Config#preallocStepBytes}) up to the extent's size limit.
 * ENOSPC on a step puts the disk in state FULL: the write answers EXTENT_FULL and the disk takes no new
 * extents. An I/O error (write, fdatasync, fallocate other than ENOSPC) puts the disk in state FAILED:
 * nothing more is written to it; reads continue. A failed write never leaves a hole: every later write
 * to that file fails too.
 * <p>
 * The durable checkpoint (state slot of the header page, see {@link BlockFormat}) is rewritten in a
 * chain whenever the durable length has grown by {@link Config#checkpointIntervalBytes}; it records a
 * length that was already durable before the chain, so it never runs ahead of the data.
 */
public final class DiskIoAgent implements Agent
{
    /** Disk states, as in {@link DiskCounters#STATE_OK} etc. */
    static final int STATE_OK = DiskCounters.STATE_OK;
    static final int STATE_FULL = DiskCounters.STATE_FULL;
    static final int STATE_FAILED = DiskCounters.STATE_FAILED;

    private static final long FSYNC_TAG = 1L << 40;
    private static final long STATE_TAG = 1L << 41;
    private static final long SCRUB_TAG = 1L << 42;

    /**
     * Per-disk settings.
     *
     * @param bufferCount             aligned I/O buffers (and so commands in flight).
     * @param maxBlockLengthBytes     the largest block (each buffer's length), at most
     *                                {@link BlockFormat#STORE_MAX_BLOCK_LENGTH_BYTES}.
     * @param ringEntries             io_uring submission entries.
     * @param maxBatchCommands        most commands in one batch (one fdatasync per file per batch).
     * @param maxBatchBytes           most bytes written by one batch (a batch always takes one command).
     * @param preallocStepBytes       how much a file grows by at a time.
     * @param checkpointIntervalBytes durable growth after which the checkpoint is rewritten.
     * @param scrubBytesPerSecond     average rate of the background scrubber over sealed extents; 0 = off.
     * @param fixedBuffers            register the agent's buffers with io_uring (READ_FIXED/WRITE_FIXED).
     * @param sqPoll                  ask the kernel for a submission-queue polling thread (IORING_SETUP_SQPOLL).
     * @param cpu                     CPU the agent's thread pins itself to in {@link Agent#onStart()}, or -1
     *                                (only meaningful when the agent has a thread of its own).
     */
    public record Config(
        int bufferCount,
        int maxBlockLengthBytes,
        int ringEntries,
        int maxBatchCommands,
        long maxBatchBytes,
        long preallocStepBytes,
        long checkpointIntervalBytes,
        long scrubBytesPerSecond,
        boolean fixedBuffers,
        boolean sqPoll,
        int cpu)
    {
        /**
         * Without scrubber, registered buffers, SQPOLL or pinning.
         *
         * @param bufferCount             aligned I/O buffers.
         * @param maxBlockLengthBytes     the largest block.
         * @param ringEntries             io_uring submission entries.
         * @param maxBatchCommands        most commands in one batch.
         * @param maxBatchBytes           most bytes written by one batch.
         * @param preallocStepBytes       how much a file grows by at a time.
         * @param checkpointIntervalBytes durable growth after which the checkpoint is rewritten.
         */
        public Config(
            final int bufferCount,
            final int maxBlockLengthBytes,
            final int ringEntries,
            final int maxBatchCommands,
            final long maxBatchBytes,
            final long preallocStepBytes,
            final long checkpointIntervalBytes)
        {
            this(bufferCount, maxBlockLengthBytes, ringEntries, maxBatchCommands, maxBatchBytes, preallocStepBytes,
                checkpointIntervalBytes, 0, false, false, -1);
        }

        /** @param bytesPerSecond scrub rate, 0 = off. @return a copy with it. */
        public Config withScrub(final long bytesPerSecond)
        {
            return new Config(bufferCount, maxBlockLengthBytes, ringEntries, maxBatchCommands, maxBatchBytes,
                preallocStepBytes, checkpointIntervalBytes, bytesPerSecond, fixedBuffers, sqPoll, cpu);
        }

        /** @param fixed registered buffers. @param poll SQPOLL. @param cpuId pin to, or -1. @return a copy with them. */
        public Config withRing(final boolean fixed, final boolean poll, final int cpuId)
        {
            return new Config(bufferCount, maxBlockLengthBytes, ringEntries, maxBatchCommands, maxBatchBytes,
                preallocStepBytes, checkpointIntervalBytes, scrubBytesPerSecond, fixed, poll, cpuId);
        }
    }

    /** What the scrubber needs to know of the agent's files (the agent's thread only). */
    interface SealedExtents
    {
        /**
         * @param afterFd the previous one, or -1.
         * @return the sealed file with the next larger descriptor, wrapping around; -1 when none is sealed.
         */
        int nextSealedFd(int afterFd);

        /** @param fd a sealed file. @return its extent. */
        long extentId(int fd);

        /** @param fd a sealed file. @return its sealed length. */
        long sealedLength(int fd);
    }

    private final int diskIndex;
    private final Path extentsDir;
    private final DiskStorage storage;
    private final DiskCounters counters;
    private final Config config;
    private final AlignedBufferPool pool;
    private final AlignedBufferPool statePool;
    private final IoEngine engine;
    private final IoCommand[] commands;
    private final OneToOneConcurrentArrayQueue<IoCommand> submitQueue;
    private final OneToOneConcurrentArrayQueue<IoCommand> completionQueue;
    private final Int2ObjectHashMap<ExtentFile> files = new Int2ObjectHashMap<>();
    private final CRC32C crc = new CRC32C();
    private final IoCommand[] batch;
    private final int[] groupFd;
    private final int[] groupSyncResult;
    private final int[] groupStateResult;
    private final boolean[] groupHasState;
    private final boolean[] groupWriteFailed;
    private final ByteBuffer[] stateByteBuffers;
    private final UnsafeBuffer[] stateViews;
    private final long[] stateAddresses;
    private final int maxBatch;
    private final IoRing.CompletionHandler completionHandler = this::onCompletion;
    private final NanoClock clock;
    private final AlignedBufferPool scrubPool;
    private final DiskScrubber scrubber;
    private final SealedExtents sealedExtents = new SealedFiles();
    private volatile int diskState = STATE_OK;
    private int batchSize;
    private int groupCount;
    private int pendingCompletions;
    private boolean createdInBatch;

    /**
     * @param diskIndex index of this data directory.
     * @param dataDir   the data directory; extents live in {@code dataDir/extents}.
     * @param storage   the file system (real or simulated).
     * @param counters  this disk's counters.
     * @param config    settings.
     * @param recovered extents recovered on this disk; this agent owns (and closes) their files.
     * @throws NativeIoException when the engine cannot be set up.
     */
    public DiskIoAgent(
        final int diskIndex,
        final Path dataDir,
        final DiskStorage storage,
        final DiskCounters counters,
        final Config config,
        final List<RecoveredExtent> recovered) throws NativeIoException
    {
        this(diskIndex, dataDir, storage, counters, config, recovered, SystemNanoClock.INSTANCE, System.err);
    }

    /**
     * @param diskIndex index of this data directory.
     * @param dataDir   the data directory; extents live in {@code dataDir/extents}.
     * @param storage   the file system (real or simulated).
     * @param counters  this disk's counters.
     * @param config    settings.
     * @param recovered extents recovered on this disk; this agent owns (and closes) their files.
     * @param clock     paces the scrubber.
     * @param log       where the scrubber reports bad blocks.
     * @throws NativeIoException when the engine cannot be set up.
     */
    public DiskIoAgent(
        final int diskIndex,
        final Path dataDir,
        final DiskStorage storage,
        final DiskCounters counters,
        final Config config,
        final List<RecoveredExtent> recovered,
        final NanoClock clock,
        final PrintStream log) throws NativeIoException
    {
        Verify.verify(config.maxBlockLengthBytes() >= BlockFormat.EXTENT_HEADER_LENGTH_BYTES &&
            config.maxBlockLengthBytes() <= BlockFormat.STORE_MAX_BLOCK_LENGTH_BYTES, "max block length out of range",
            config.maxBlockLengthBytes());
        this.diskIndex = diskIndex;
        this.extentsDir = dataDir.resolve(ExtentFiles.EXTENTS_DIR);
        this.storage = storage;
        this.counters = counters;
        this.config = config;
        pool = new AlignedBufferPool(config.bufferCount(), config.maxBlockLengthBytes());
        engine = storage.newEngine(config.ringEntries(), config.sqPoll());
        commands = new IoCommand[config.bufferCount()];
        for (int i = 0; i < commands.length; i++)
        {
            final int index = pool.acquire();
            commands[i] = new IoCommand(diskIndex, pool.address(index),
                pool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), pool.bufferLengthBytes());
        }
        submitQueue = new OneToOneConcurrentArrayQueue<>(commands.length);
        completionQueue = new OneToOneConcurrentArrayQueue<>(commands.length);
        // Per command at most: a write, plus per file a state page and an fdatasync; plus one scrub read.
        maxBatch = Math.min(Math.min(commands.length, config.maxBatchCommands()), (engine.capacity() - 1) / 3);
        Verify.verify(maxBatch >= 1, "ring too small for one batch", engine.capacity());
        batch = new IoCommand[maxBatch];
        groupFd = new int[maxBatch];
        groupSyncResult = new int[maxBatch];
        groupStateResult = new int[maxBatch];
        groupHasState = new boolean[maxBatch];
        groupWriteFailed = new boolean[maxBatch];
        statePool = new AlignedBufferPool(maxBatch, BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
        stateByteBuffers = new ByteBuffer[maxBatch];
        stateViews = new UnsafeBuffer[maxBatch];
        stateAddresses = new long[maxBatch];
        for (int g = 0; g < maxBatch; g++)
        {
            final int index = statePool.acquire();
            stateAddresses[g] = statePool.address(index);
            stateByteBuffers[g] = statePool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            stateViews[g] = new UnsafeBuffer(stateAddresses[g], BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
        }
        for (final RecoveredExtent r : recovered)
        {
            final ExtentFile file = new ExtentFile(r.fd(), r.allocatedBytes(), r.commitLength());
            file.header.copy(r.header());
            file.state.copyFrom(r.state());
            file.hasPrevious = null != r.previousState();
            if (file.hasPrevious)
            {
                file.previous.copyFrom(r.previousState());
            }
            files.put(r.fd(), file);
        }
        this.clock = clock;
        if (config.scrubBytesPerSecond() > 0)
        {
            scrubPool = new AlignedBufferPool(1, config.maxBlockLengthBytes());
            final int index = scrubPool.acquire();
            scrubber = new DiskScrubber(diskIndex, engine, counters, log, config.scrubBytesPerSecond(), SCRUB_TAG,
                scrubPool.address(index), scrubPool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
        }
        else
        {
            scrubPool = null;
            scrubber = null;
        }
        if (config.fixedBuffers())
        {
            registerBuffers();
        }
        counters.diskState.setRelease(STATE_OK);
    }

    /** Every buffer the agent does I/O from, registered once: the command pool, the state pages, the scrubber's. */
    private void registerBuffers() throws NativeIoException
    {
        final int regions = null == scrubPool ? 2 : 3;
        final long[] addresses = new long[regions];
        final long[] lengths = new long[regions];
        addresses[0] = pool.regionAddress();
        lengths[0] = pool.regionLengthBytes();
        addresses[1] = statePool.regionAddress();
        lengths[1] = statePool.regionLengthBytes();
        if (null != scrubPool)
        {
            addresses[2] = scrubPool.regionAddress();
            lengths[2] = scrubPool.regionLengthBytes();
        }
        engine.registerBuffers(addresses, lengths);
    }

    /**
     * Pins this agent's thread to {@link Config#cpu()} when set. Only for an agent with a thread of its own
     * (DEDICATED threading): in SHARED threading every agent runs on one thread and the node refuses the flag.
     */
    public void onStart()
    {
        if (config.cpu() >= 0)
        {
            try
            {
                io.cairn.bindings.NativeIo.pinCurrentThread(config.cpu());
            }
            catch (final NativeIoException ex)
            {
                throw new IllegalStateException("disk " + diskIndex + ": cannot pin its I/O thread to CPU " +
                    config.cpu() + ": " + ex.getMessage(), ex);
            }
        }
    }

    /** Put the disk in state FAILED before it starts (recovery failed on it): it takes no extents and no writes. */
    void markFailed()
    {
        counters.ioErrors.increment();
        setDiskState(STATE_FAILED);
    }

    IoCommand[] commands()
    {
        return commands;
    }

    OneToOneConcurrentArrayQueue<IoCommand> submitQueue()
    {
        return submitQueue;
    }

    OneToOneConcurrentArrayQueue<IoCommand> completionQueue()
    {
        return completionQueue;
    }

    /**
     * @return {@link #STATE_OK}, {@link #STATE_FULL} or {@link #STATE_FAILED}; readable from any thread.
     */
    int diskState()
    {
        return diskState;
    }

    /**
     * @return this disk's counters.
     */
    public DiskCounters counters()
    {
        return counters;
    }

    /** {@inheritDoc} */
    public int doWork() throws NativeIoException
    {
        int work = 0;
        if (0 == batchSize)
        {
            work += startBatch();
        }
        if (pendingCompletions > 0 || (null != scrubber && scrubber.inFlight()))
        {
            work += engine.reap(completionHandler, 0);
        }
        if (batchSize > 0 && 0 == pendingCompletions)
        {
            finishBatch();
            work++;
        }
        if (null != scrubber)
        {
            // After the foreground batch: a scrub read only ever runs beside it, one chunk at a time.
            work += scrubber.doWork(clock.nanoTime(), sealedExtents);
        }
        return work;
    }

    /** {@inheritDoc} */
    public void onClose()
    {
        try
        {
            while (pendingCompletions > 0 || (null != scrubber && scrubber.inFlight()))
            {
                engine.reap(completionHandler, 1);
            }
        }
        catch (final NativeIoException ignore)
        {
            // Closing: nothing more to do with the ring.
        }
        for (final ExtentFile file : files.values())
        {
            try
            {
                storage.close(file.fd);
            }
            catch (final NativeIoException ignore)
            {
                // Every completed write was already fdatasync'd.
            }
        }
        files.clear();
        engine.close();
        pool.close();
        statePool.close();
        if (null != scrubPool)
        {
            scrubPool.close();
        }
    }

    /** {@inheritDoc} */
    public String roleName()
    {
        return "disk-io-" + diskIndex;
    }

    private int startBatch() throws NativeIoException
    {
        final int queued = submitQueue.size();
        if (0 == queued)
        {
            return 0;
        }
        counters.queueDepth.setRelease(queued);
        long batchBytes = 0;
        IoCommand command;
        while (batchSize < maxBatch && (0 == batchSize || batchBytes < config.maxBatchBytes()) &&
            null != (command = submitQueue.poll()))
        {
            batch[batchSize++] = command;
            batchBytes += command.kind == IoCommand.WRITE ? command.blockLengthBytes : 0;
        }
        counters.batches.incrementRelease();
        counters.batchedCommands.getAndAddRelease(batchSize);
        if (batchSize > counters.maxBatch.get())
        {
            counters.maxBatch.setRelease(batchSize);
        }
        groupCount = 0;
        createdInBatch = false;
        for (int i = 0; i < batchSize; i++)
        {
            admit(batch[i]);
        }
        // Reads first: the drained fdatasync that ends the writes holds back every op prepared after it.
        for (int i = 0; i < batchSize; i++)
        {
            final IoCommand c = batch[i];
            if (c.kind == IoCommand.READ)
            {
                Verify.verify(engine.prepareRead(c.fd, c.address, c.blockLengthBytes, c.blockOffset, i, false),
                    "ring full preparing read", i);
                pendingCompletions++;
            }
        }
        prepareWriteGroups();
        if (engine.preparedCount() > 0)
        {
            engine.submit();
        }
        return batchSize;
    }

    /** Decide, before any I/O, whether a command can go ahead: create files, grow them, refuse on a bad disk. */
    private void admit(final IoCommand c)
    {
        switch (c.kind)
        {
            case IoCommand.CREATE -> createFile(c);
            case IoCommand.WRITE -> admitWrite(c);
            case IoCommand.SEAL -> admitSeal(c);
            default ->
            {
            }
        }
    }

    private void admitWrite(final IoCommand c)
    {
        final ExtentFile file = files.get(c.fd);
        Verify.verify(null != file, "write to unknown file", c.fd);
        if (file.failed || diskState == STATE_FAILED)
        {
            c.fail(diskState == STATE_FAILED ? NodeStatus.IO_ERROR : file.failedStatus,
                "extent " + c.extentId + " on disk " + diskIndex + " takes no more writes after an earlier failure");
            file.failed = true;
            return;
        }
        final long end = c.blockOffset + c.blockLengthBytes;
        if (end > file.allocatedBytes)
        {
            grow(c, file, end);
        }
    }

    private void grow(final IoCommand c, final ExtentFile file, final long end)
    {
        final long step = config.preallocStepBytes();
        final long target = Math.min(file.header.page.extentSizeBytes, ((end + step - 1) / step) * step);
        try
        {
            storage.fallocate(c.fd, file.allocatedBytes, target - file.allocatedBytes);
            file.allocatedBytes = target;
            counters.preallocations.incrementRelease();
        }
        catch (final NativeIoException ex)
        {
            final boolean full = ex.errno() == Errno.ENOSPC;
            file.failed = true;
            file.failedStatus = full ? NodeStatus.EXTENT_FULL : NodeStatus.IO_ERROR;
            c.fail(file.failedStatus, (full ? "disk " + diskIndex + " is full (" + extentsDir +
                "): read-only for new extents; " : "") + ex.getMessage());
            counters.ioErrors.increment();
            setDiskState(full ? STATE_FULL : STATE_FAILED);
        }
    }

    private void admitSeal(final IoCommand c)
    {
        final ExtentFile file = files.get(c.fd);
        Verify.verify(null != file, "seal of unknown file", c.fd);
        if (diskState == STATE_FAILED)
        {
            c.fail(NodeStatus.IO_ERROR, "disk " + diskIndex + " failed");
            return;
        }
        file.pending.set(file.state.sequence + 1, c.extentId, file.state.epoch, true, c.blockOffset, c.blockOffset);
        BlockFormat.encodeHeaderPage(c.byteBuffer, c.view, crc, file.header.page, file.pending, file.state);
        c.blockLengthBytes = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
    }

    /**
     * Every write of the batch goes to the kernel at once, unlinked, so they run concurrently (a linked chain
     * would run them one after another); per file an optional checkpoint page beside them; then one
     * fdatasync per file. The first fdatasync drains: it starts only when every op before it has completed,
     * and the later ones start after it. A write is acknowledged only when its own result and its file's
     * fdatasync are good, and {@link #finishWrite} refuses every write of a file after a failed one, so a
     * hole can never be acknowledged.
     */
    private void prepareWriteGroups()
    {
        for (int i = 0; i < batchSize; i++)
        {
            final IoCommand c = batch[i];
            if (needsWrite(c) && groupOf(c.fd) < 0)
            {
                final int g = groupCount++;
                groupFd[g] = c.fd;
                groupSyncResult[g] = Integer.MIN_VALUE;
                groupStateResult[g] = Integer.MIN_VALUE;
                groupWriteFailed[g] = false;
                boolean sealing = false;
                for (int j = i; j < batchSize; j++)
                {
                    final IoCommand w = batch[j];
                    if (needsWrite(w) && w.fd == c.fd)
                    {
                        final long offset = w.kind == IoCommand.WRITE ? w.blockOffset : 0;
                        Verify.verify(engine.prepareWrite(w.fd, w.address, w.blockLengthBytes, offset, j, false),
                            "ring full preparing write", j);
                        pendingCompletions++;
                        sealing |= w.kind == IoCommand.SEAL || w.kind == IoCommand.CREATE;
                    }
                }
                groupHasState[g] = !sealing && prepareCheckpoint(g, files.get(c.fd));
            }
        }
        for (int g = 0; g < groupCount; g++)
        {
            Verify.verify(0 == g ? engine.prepareFdatasyncAfterAll(groupFd[g], FSYNC_TAG | g) :
                engine.prepareFdatasync(groupFd[g], FSYNC_TAG | g, false), "ring full preparing fdatasync", g);
            pendingCompletions++;
        }
    }

    private boolean prepareCheckpoint(final int g, final ExtentFile file)
    {
        if (null == file || file.state.sealed ||
            file.durableLength - file.state.checkpointLength < config.checkpointIntervalBytes())
        {
            return false;
        }
        // The length recorded is durable already (previous batches), so the slot never runs ahead of the data.
        file.pending.set(file.state.sequence + 1, file.header.page.extentId, file.state.epoch, false,
            file.durableLength, -1);
        BlockFormat.encodeHeaderPage(stateByteBuffers[g], stateViews[g], crc, file.header.page, file.pending,
            file.state);
        Verify.verify(engine.prepareWrite(file.fd, stateAddresses[g], BlockFormat.EXTENT_HEADER_LENGTH_BYTES, 0,
            STATE_TAG | g, false), "ring full preparing checkpoint", g);
        pendingCompletions++;
        return true;
    }

    private static boolean needsWrite(final IoCommand c)
    {
        return null == c.status && (c.kind == IoCommand.WRITE || c.kind == IoCommand.CREATE || c.kind == IoCommand.SEAL);
    }

    private int groupOf(final int fd)
    {
        for (int g = 0; g < groupCount; g++)
        {
            if (groupFd[g] == fd)
            {
                return g;
            }
        }
        return -1;
    }

    private void createFile(final IoCommand c)
    {
        if (diskState != STATE_OK)
        {
            c.fail(NodeStatus.IO_ERROR, "disk " + diskIndex + " (" + extentsDir + ") is " +
                (diskState == STATE_FULL ? "full: read-only for new extents" : "failed"));
            return;
        }
        int fd = -1;
        try
        {
            fd = storage.open(c.path, true);
            final long first = Math.min(c.extentSizeBytes, config.preallocStepBytes());
            storage.fallocate(fd, 0, first);
            counters.preallocations.incrementRelease();
            final ExtentFile file = new ExtentFile(fd, first, BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
            file.header.page.set(c.extentId, c.streamId, c.extentSizeBytes, BlockFormat.STORE_MAX_BLOCK_LENGTH_BYTES);
            file.pending.set(1, c.extentId, 1, false, BlockFormat.EXTENT_HEADER_LENGTH_BYTES, -1);
            BlockFormat.encodeHeaderPage(c.byteBuffer, c.view, crc, file.header.page, file.pending, null);
            files.put(fd, file);
            c.fd = fd;
            c.blockLengthBytes = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
            createdInBatch = true;
        }
        catch (final NativeIoException ex)
        {
            final boolean full = ex.errno() == Errno.ENOSPC;
            c.fail(NodeStatus.IO_ERROR, (full ? "disk " + diskIndex + " is full: read-only for new extents; " : "") +
                ex.getMessage());
            counters.ioErrors.increment();
            setDiskState(full ? STATE_FULL : STATE_FAILED);
            abandon(fd, c.path);
        }
    }

    private void abandon(final int fd, final Path path)
    {
        try
        {
            if (fd >= 0)
            {
                storage.close(fd);
            }
            storage.delete(path);
        }
        catch (final IOException ignore)
        {
            // Best effort: an extent file without a valid header is skipped at recovery.
        }
    }

    private void setDiskState(final int state)
    {
        if (state > diskState)
        {
            diskState = state;
            counters.diskState.setRelease(state);
        }
    }

    private void onCompletion(final long userData, final int result)
    {
        if (userData == SCRUB_TAG)
        {
            scrubber.onCompletion(result);
            return;
        }
        pendingCompletions--;
        if ((userData & FSYNC_TAG) != 0)
        {
            groupSyncResult[(int)(userData & ~FSYNC_TAG)] = result;
        }
        else if ((userData & STATE_TAG) != 0)
        {
            groupStateResult[(int)(userData & ~STATE_TAG)] = result;
        }
        else
        {
            batch[(int)userData].ioResult = result;
        }
    }

    private void finishBatch()
    {
        if (createdInBatch)
        {
            syncDirectory();
        }
        finishGroups();
        for (int i = 0; i < batchSize; i++)
        {
            final IoCommand c = batch[i];
            switch (c.kind)
            {
                case IoCommand.CREATE, IoCommand.WRITE, IoCommand.SEAL -> finishWrite(c);
                case IoCommand.READ -> verifyRead(c);
                default -> c.status = NodeStatus.OK;
            }
            batch[i] = null;
            Verify.verify(completionQueue.offer(c), "disk completion queue full");
        }
        batchSize = 0;
    }

    private void finishGroups()
    {
        for (int g = 0; g < groupCount; g++)
        {
            if (groupSyncResult[g] == 0)
            {
                counters.fsyncs.incrementRelease();
            }
            final ExtentFile file = files.get(groupFd[g]);
            if (groupHasState[g] && null != file)
            {
                if (groupStateResult[g] == BlockFormat.EXTENT_HEADER_LENGTH_BYTES && groupSyncResult[g] == 0)
                {
                    file.commitState();
                    counters.checkpoints.incrementRelease();
                    counters.bytesWritten.getAndAddRelease(BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
                }
            }
        }
    }

    private void finishWrite(final IoCommand c)
    {
        if (null != c.status)
        {
            return;
        }
        final int g = groupOf(c.fd);
        final ExtentFile file = files.get(c.fd);
        // Writes run concurrently: after a failed one, a later one of the same file may have succeeded, but
        // it lies past a hole and must not be acknowledged (commands finish in batch order, offset order).
        final boolean written = c.ioResult == c.blockLengthBytes && groupSyncResult[g] == 0;
        final boolean ok = written && !groupWriteFailed[g];
        if (ok)
        {
            c.status = NodeStatus.OK;
            counters.bytesWritten.getAndAddRelease(c.blockLengthBytes);
            switch (c.kind)
            {
                case IoCommand.WRITE ->
                {
                    counters.blocksWritten.incrementRelease();
                    file.durableLength = Math.max(file.durableLength, c.blockOffset + c.blockLengthBytes);
                }
                case IoCommand.SEAL, IoCommand.CREATE -> file.commitState();
                default ->
                {
                }
            }
            return;
        }
        c.fail(NodeStatus.IO_ERROR, written ? "an earlier write of this file in the batch failed" :
            "write result " + c.ioResult + ", fdatasync result " + groupSyncResult[g]);
        groupWriteFailed[g] = true;
        if (null != file)
        {
            file.failed = true;
            file.failedStatus = NodeStatus.IO_ERROR;
        }
        if (c.ioResult != -Errno.ECANCELED && !written)
        {
            counters.ioErrors.increment();
        }
        // An fdatasync error leaves the page cache and the disk disagreeing: nothing more is written here.
        setDiskState(STATE_FAILED);
    }

    private void verifyRead(final IoCommand c)
    {
        if (c.ioResult != c.blockLengthBytes)
        {
            c.fail(NodeStatus.IO_ERROR, "read result " + c.ioResult);
            counters.ioErrors.increment();
            return;
        }
        counters.bytesRead.getAndAddRelease(c.blockLengthBytes);
        counters.blocksRead.incrementRelease();
        c.payloadLengthBytes = BlockFormat.verifyBlock(
            c.byteBuffer, c.view, crc, c.extentId, c.blockOffset, c.blockLengthBytes);
        c.status = c.payloadLengthBytes >= 0 ? NodeStatus.OK : NodeStatus.CORRUPT;
        if (c.status == NodeStatus.CORRUPT)
        {
            counters.corruptBlocks.increment();
        }
    }

    private void syncDirectory()
    {
        // A new file's directory entry must be durable too, or a crash can lose an acknowledged extent.
        try
        {
            storage.syncDirectory(extentsDir);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("fsync of " + extentsDir + " failed", ex);
        }
    }

    /** The sealed files, for the scrubber; iterates the map with its cached iterator (no allocation). */
    private final class SealedFiles implements SealedExtents
    {
        public int nextSealedFd(final int afterFd)
        {
            int next = -1;
            int first = -1;
            for (final ExtentFile file : files.values())
            {
                if (file.state.sealed)
                {
                    if (file.fd > afterFd && (next < 0 || file.fd < next))
                    {
                        next = file.fd;
                    }
                    if (first < 0 || file.fd < first)
                    {
                        first = file.fd;
                    }
                }
            }
            return next >= 0 ? next : first;
        }

        public long extentId(final int fd)
        {
            return files.get(fd).header.page.extentId;
        }

        public long sealedLength(final int fd)
        {
            return files.get(fd).state.sealedLength;
        }
    }

    /** The agent's view of one open extent file. */
    private static final class ExtentFile
    {
        final int fd;
        final HeaderHolder header = new HeaderHolder();
        final BlockFormat.ExtentStatePage state = new BlockFormat.ExtentStatePage();
        final BlockFormat.ExtentStatePage previous = new BlockFormat.ExtentStatePage();
        final BlockFormat.ExtentStatePage pending = new BlockFormat.ExtentStatePage();
        boolean hasPrevious;
        long allocatedBytes;
        long durableLength;
        boolean failed;
        NodeStatus failedStatus = NodeStatus.IO_ERROR;

        ExtentFile(final int fd, final long allocatedBytes, final long durableLength)
        {
            this.fd = fd;
            this.allocatedBytes = allocatedBytes;
            this.durableLength = durableLength;
        }

        void commitState()
        {
            if (state.sequence > 0)
            {
                previous.copyFrom(state);
                hasPrevious = true;
            }
            state.copyFrom(pending);
        }
    }

    /** The header of a file, with the size limit at hand. */
    private static final class HeaderHolder
    {
        final BlockFormat.ExtentHeaderPage page = new BlockFormat.ExtentHeaderPage();

        void copy(final BlockFormat.ExtentHeaderPage from)
        {
            page.set(from.extentId, from.streamId, from.extentSizeBytes, from.maxBlockLengthBytes);
        }
    }
}
