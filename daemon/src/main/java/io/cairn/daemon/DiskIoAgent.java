package io.cairn.daemon;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.Errno;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIo;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
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
 * Commands arrive on a bounded queue from the replication thread. Each duty cycle takes what is queued, up to
 * {@link Config#maxBatchCommands} commands and {@link Config#maxBatchBytes} bytes, and submits it in one call,
 * beside whatever is still in flight (a pipeline, not one batch at a time):
 * <ul>
 *   <li>a read goes to the kernel at once and is answered as soon as it completes, whatever else is in flight;
 *   <li>a write (block, or header page of a create or seal) goes to the kernel at once, unlinked, so the writes
 *       of a file run concurrently and complete in any order. Per file the agent keeps the completed prefix: the
 *       writes, in submission order, up to the first one still in flight. When the prefix covers the file's
 *       oldest unsynced cycle of writes and no fdatasync of the file is in flight, it submits one; an fdatasync
 *       submitted after a write's completion covers it. So a cycle's fdatasync runs while the next cycles'
 *       writes are already in the kernel, and at most one fdatasync per file is in flight. A lone write to a file
 *       whose writes are all durable (QD 1) goes as one RWF_DSYNC write (its own fdatasync, counted as one) where
 *       the engine has it, else linked to its fdatasync.
 * </ul>
 * Writes, creates and seals are answered strictly in the order they arrived (one FIFO per disk), each only when
 * its own write and every earlier write of its file completed and an fdatasync covering them succeeded. A write
 * at or after a failed write of its file, or after a failed fdatasync of its file, is never acknowledged (the
 * extent takes no more writes, the disk goes FAILED); an fdatasync error is never retried.
 * <p>
 * Files grow by preallocation steps ({@link Config#preallocStepBytes}) up to the extent's size limit.
 * ENOSPC on a step puts the disk in state FULL: the write answers EXTENT_FULL and the disk takes no new
 * extents. An I/O error (write, fdatasync, fallocate other than ENOSPC) puts the disk in state FAILED:
 * nothing more is written to it; reads continue.
 * <p>
 * The durable checkpoint (state slot of the header page, see {@link BlockFormat}) is rewritten whenever the
 * durable length has grown by {@link Config#checkpointIntervalBytes}, just before a write of the file, so that
 * write is answered only after the checkpoint is durable too; it records a length that was already durable, so
 * it never runs ahead of the data. At most one header-page write per file is in flight: a seal arrives only when
 * every write of its extent was answered, and so after the last checkpoint resolved.
 * <p>
 * Bounds: ops in flight (reads, writes, checkpoints, fdatasyncs) never exceed the ring's submission slots (one
 * kept for the scrubber); at most {@link #CHECKPOINTS_IN_FLIGHT_MAX} checkpoints are in flight; commands in the
 * agent never exceed {@link Config#bufferCount}.
 * <p>
 * Block repair ({@link #enableRepair}): one request at a time from the {@link BlockRepairAgent} through a
 * {@link RepairIo} slot, taken only when its ops fit beside the foreground's (they count among the ops in flight):
 * a read of a sealed extent's region, or a rewrite of one block linked to its fdatasync and then read back. Reads
 * that find a sealed block corrupt offer it to the repair queue.
 */
public final class DiskIoAgent implements Agent
{
    /** Disk states, as in {@link DiskCounters#STATE_OK} etc. */
    static final int STATE_OK = DiskCounters.STATE_OK;
    static final int STATE_FULL = DiskCounters.STATE_FULL;
    static final int STATE_FAILED = DiskCounters.STATE_FAILED;

    /** Checkpoint pages in flight at once (one per file at most); a due checkpoint waits for a free one. */
    static final int CHECKPOINTS_IN_FLIGHT_MAX = 8;

    /**
     * Most reads one duty cycle takes (and submits in its one call); the rest wait for the next cycle, which reaps
     * first. A larger group is plugged in the block layer and reaches the device as one burst that it completes as
     * one, and the agent then runs in lockstep rounds of QD reads. Measured at QD 32 on a virtio disk (one run):
     * 57k IOPS taking all 32 per cycle, 65-67k taking 1 or 4 (fio, one read per submit: 71k). 2 against 1, 4 and
     * 64, alternating, two rounds (2026-11-22): 2 was ahead of 4 in all four QD 8/32 pairs, by 2-11%.
     */
    static final int READS_PER_CYCLE_MAX = 2;

    private static final long FSYNC_TAG = 1L << 40;
    private static final long STATE_TAG = 1L << 41;
    private static final long SCRUB_TAG = 1L << 42;
    private static final long REPAIR_TAG = 1L << 43;
    private static final long GROUP_TAG = 1L << 44;
    /**
     * Most block writes one gathered RWF_DSYNC write carries (group commit of contiguous appends to an idle file,
     * see {@link #tryGroup}); also bounded by {@link Config#maxBatchCommands()} and {@link Config#maxBatchBytes()}.
     */
    static final int GROUP_WRITES_MAX = 32;
    private static final int REPAIR_READ = 0;
    private static final int REPAIR_WRITE = 1;
    private static final int REPAIR_SYNC = 2;
    private static final int REPAIR_READ_BACK = 3;
    private static final long TAG_VALUE_MASK = 0xFFFF_FFFFL;

    /**
     * Per-disk settings.
     *
     * @param bufferCount             aligned I/O buffers (and so commands in flight).
     * @param maxBlockLengthBytes     the largest block (each buffer's length), at most
     *                                {@link BlockFormat#STORE_MAX_BLOCK_LENGTH_BYTES}.
     * @param ringEntries             io_uring submission entries.
     * @param maxBatchCommands        most commands one duty cycle takes and submits in one call.
     * @param maxBatchBytes           most bytes written by the commands of one duty cycle (it always takes one).
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

        /** @param fd a sealed file. @return its extent's stream (repair requests name it). */
        long streamId(int fd);
    }

    private final int diskIndex;
    private final Path extentsDir;
    private final DiskStorage storage;
    private final DiskCounters counters;
    private final Config config;
    private final AlignedBufferPool pool;
    private final AlignedBufferPool statePool;
    /** Per command, room for the iovec array of a group it heads ({@link #GROUP_WRITES_MAX} entries). */
    private final AlignedBufferPool iovecPool;
    private final UnsafeBuffer iovecs;
    private final IoEngine engine;
    private final IoCommand[] commands;
    private final OneToOneConcurrentArrayQueue<IoCommand> submitQueue;
    private final OneToOneConcurrentArrayQueue<IoCommand> completionQueue;
    private final Int2ObjectHashMap<ExtentFile> files = new Int2ObjectHashMap<>();
    private final CRC32C crc = new CRC32C();
    private final IoCommand[] ordered;
    private final Checkpoint[] checkpoints;
    private final Checkpoint[] freeCheckpoints;
    private final ExtentFile[] activeFiles;
    private final int maxOpsInFlight;
    private final IoRing.CompletionHandler completionHandler = this::onCompletion;
    private final NanoClock clock;
    private final AlignedBufferPool scrubPool;
    private final DiskScrubber scrubber;
    private final SealedExtents sealedExtents = new SealedFiles();
    private volatile int diskState = STATE_OK;
    private int orderedHead;
    private int orderedCount;
    private int freeCheckpointCount;
    private int activeFileCount;
    private int opsInFlight;
    private boolean directorySyncPending;
    // Block repair (BlockRepairAgent): null until enableRepair; the agent's thread only, except the RepairIo slot.
    private BlockRepairQueue repairQueue;
    private AlignedBufferPool repairPool;
    private RepairIo repairIo;
    private ExtentFile repairFile;
    private boolean repairReadBackDue;
    private boolean repairWriteDone;
    private boolean repairSyncDone;
    private int repairWriteResult;
    private int repairSyncResult;

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
            commands[i] = new IoCommand(diskIndex, i, pool.address(index),
                pool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), pool.bufferLengthBytes());
        }
        submitQueue = new OneToOneConcurrentArrayQueue<>(commands.length);
        completionQueue = new OneToOneConcurrentArrayQueue<>(commands.length);
        ordered = new IoCommand[commands.length];
        // Every file with work in flight has a command in the agent (a write waiting for its fdatasync at least).
        activeFiles = new ExtentFile[commands.length];
        // One slot stays free for the scrubber's read; everything the agent has in flight fits the ring.
        maxOpsInFlight = engine.capacity() - (config.scrubBytesPerSecond() > 0 ? 1 : 0);
        Verify.verify(maxOpsInFlight >= 2, "ring too small: a write and its fdatasync must fit", engine.capacity());
        final int iovecBytes = commands.length * GROUP_WRITES_MAX * IoRing.IOVEC_BYTES;
        iovecPool = new AlignedBufferPool(1, (iovecBytes + NativeIo.BLOCK_ALIGNMENT_BYTES - 1) /
            NativeIo.BLOCK_ALIGNMENT_BYTES * NativeIo.BLOCK_ALIGNMENT_BYTES);
        iovecs = new UnsafeBuffer(iovecPool.address(iovecPool.acquire()), iovecBytes);
        final int checkpointCount = Math.min(CHECKPOINTS_IN_FLIGHT_MAX, commands.length);
        statePool = new AlignedBufferPool(checkpointCount, BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
        checkpoints = new Checkpoint[checkpointCount];
        freeCheckpoints = new Checkpoint[checkpointCount];
        for (int i = 0; i < checkpointCount; i++)
        {
            final int index = statePool.acquire();
            checkpoints[i] = new Checkpoint(i, statePool.address(index),
                statePool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
            freeCheckpoints[freeCheckpointCount++] = checkpoints[i];
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
        if (opsInFlight > 0 || (null != scrubber && scrubber.inFlight()))
        {
            work += engine.reap(completionHandler, 0);
        }
        work += takeCommands();
        work += prepareSyncs();
        if (engine.preparedCount() > 0)
        {
            engine.submit();
        }
        work += answerInOrder();
        if (null != repairIo)
        {
            work += doRepairWork();
        }
        if (null != scrubber)
        {
            // After the foreground work: a scrub read only ever runs beside it, one chunk at a time.
            work += scrubber.doWork(clock.nanoTime(), sealedExtents);
        }
        return work;
    }

    /**
     * What an idle loop calls instead of sleeping while this disk has I/O in flight: waits in the kernel up to
     * {@code timeoutNs} for a completion (so it wakes when the disk answers, not when a fixed sleep ends) and
     * handles what completed; the next {@link #doWork()} answers it. Does not wait when commands are queued.
     *
     * @param timeoutNs the longest wait.
     * @return completions handled; -1 when nothing is in flight or the engine cannot wait (sleep instead).
     */
    int awaitCompletions(final long timeoutNs)
    {
        if ((0 == opsInFlight && (null == scrubber || !scrubber.inFlight())) || !engine.canWait())
        {
            return -1;
        }
        if (!submitQueue.isEmpty())
        {
            return 0;
        }
        try
        {
            return engine.reapWithin(completionHandler, timeoutNs);
        }
        catch (final NativeIoException ex)
        {
            throw new IllegalStateException("disk " + diskIndex + ": waiting for completions failed", ex);
        }
    }

    /** @return nothing in flight, queued or waiting to be answered (tests drive the agent until this holds). */
    boolean isQuiescent()
    {
        return 0 == opsInFlight && 0 == orderedCount && submitQueue.isEmpty() &&
            (null == scrubber || !scrubber.inFlight());
    }

    /** @return fdatasyncs in flight (at most one per file); for tests and diagnostics, agent thread only. */
    int fdatasyncsInFlight()
    {
        int count = 0;
        for (int i = 0; i < activeFileCount; i++)
        {
            count += activeFiles[i].syncInFlight ? 1 : 0;
        }
        return count;
    }

    /** {@inheritDoc} */
    public void onClose()
    {
        try
        {
            if (engine.preparedCount() > 0)
            {
                engine.submit();
            }
            // Buffers must outlive every op the kernel still holds.
            while (opsInFlight > 0 || (null != scrubber && scrubber.inFlight()))
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
                // Every acknowledged write was already fdatasync'd.
            }
        }
        files.clear();
        engine.close();
        pool.close();
        statePool.close();
        iovecPool.close();
        if (null != scrubPool)
        {
            scrubPool.close();
        }
        if (null != repairPool)
        {
            repairPool.close();
        }
    }

    /** {@inheritDoc} */
    public String roleName()
    {
        return "disk-io-" + diskIndex;
    }

    /**
     * Takes queued commands while the ring has room for their ops: reads and writes are prepared at once (a due
     * checkpoint just before its file's first write of the cycle), the rest are decided here.
     */
    private int takeCommands()
    {
        final int queued = submitQueue.size();
        if (0 == queued)
        {
            return 0;
        }
        counters.queueDepth.setRelease(queued);
        int taken = 0;
        int readsTaken = 0;
        long bytes = 0;
        IoCommand c;
        // Room for the command's op, and for the fdatasync its file may need next.
        while (taken < config.maxBatchCommands() && (0 == taken || bytes < config.maxBatchBytes()) &&
            opsInFlight + 2 <= maxOpsInFlight && null != (c = submitQueue.poll()))
        {
            taken++;
            bytes += c.kind == IoCommand.WRITE ? c.blockLengthBytes : 0;
            if (c.kind == IoCommand.READ)
            {
                Verify.verify(engine.prepareRead(c.fd, c.address, c.blockLengthBytes, c.blockOffset, c.index, false),
                    "ring full preparing read", c.index);
                opsInFlight++;
                if (++readsTaken == READS_PER_CYCLE_MAX)
                {
                    break; // the rest next cycle, after this cycle's completions were reaped
                }
                continue;
            }
            admit(c);
            Verify.verify(orderedCount < ordered.length, "ordered commands over the command count", orderedCount);
            ordered[(orderedHead + orderedCount++) % ordered.length] = c;
            if (null == c.status && c.kind != IoCommand.DELETE)
            {
                final int grouped = c.kind == IoCommand.WRITE ? tryGroup(c, config.maxBatchCommands() - taken,
                    config.maxBatchBytes() - bytes) : 0;
                if (grouped > 0)
                {
                    taken += grouped;
                    bytes += c.groupBytes - c.blockLengthBytes;
                }
                else
                {
                    prepareWrite(c);
                }
            }
        }
        if (taken > 0)
        {
            counters.batches.incrementRelease();
            counters.batchedCommands.getAndAddRelease(taken);
            if (taken > counters.maxBatch.get())
            {
                counters.maxBatch.setRelease(taken);
            }
        }
        return taken;
    }

    /** Decide, before any I/O, whether a command can go ahead: create files, grow them, refuse on a bad disk. */
    private void admit(final IoCommand c)
    {
        switch (c.kind)
        {
            case IoCommand.CREATE -> createFile(c);
            case IoCommand.WRITE -> admitWrite(c);
            case IoCommand.SEAL -> admitSeal(c);
            case IoCommand.DELETE -> c.reclaimedBytes = 0; // decided in order, once its file is idle (resolveDelete)
            default -> c.status = NodeStatus.OK; // OPEN_EXISTING: answered in order, nothing to write
        }
    }

    private void prepareWrite(final IoCommand c)
    {
        final ExtentFile file = files.get(c.fd);
        if (c.kind == IoCommand.WRITE)
        {
            prepareCheckpointIfDue(file);
        }
        final long offset = c.kind == IoCommand.WRITE ? c.blockOffset : 0;
        // A lone write to an idle file (QD 1) syncs itself: the kernel makes it durable with no round trip through
        // this thread. Otherwise the fdatasync waits for the prefix.
        final boolean alone = file.isIdle() && submitQueue.isEmpty();
        final boolean dsync = alone && c.kind == IoCommand.WRITE && engine.canWriteDsync() && file.isDurable();
        if (dsync)
        {
            // One op instead of a write linked to an fdatasync: the fdatasync would start as a second request
            // (an io-wq hop) after the write's completion; the dsync write syncs in the same pass (as fio's O_DSYNC).
            Verify.verify(engine.prepareWriteDsync(c.fd, c.address, c.blockLengthBytes, offset, c.index),
                "ring full preparing write", c.index);
        }
        else
        {
            Verify.verify(engine.prepareWrite(c.fd, c.address, c.blockLengthBytes, offset, c.index, alone),
                "ring full preparing write", c.index);
        }
        c.submittedNs = clock.nanoTime(); // write-to-durable latency; one clock read per write, no allocation
        opsInFlight++;
        file.append(c);
        activate(file);
        if (dsync)
        {
            // The write is its own fdatasync: at most one in flight per file still holds.
            file.syncInFlight = true;
            file.dsyncSeq = c.seq;
            file.syncStartNs = c.submittedNs;
            file.syncTargetSeq = c.seq;
            file.oldestSyncPoint = c.seq;
            file.newestSyncPoint = c.seq;
        }
        else if (alone)
        {
            // Room: takeCommands keeps two slots for a command. A failed write cancels it (-ECANCELED).
            Verify.verify(engine.prepareFdatasync(file.fd, FSYNC_TAG | file.fd, false), "ring full preparing fdatasync",
                file.fd);
            opsInFlight++;
            file.syncInFlight = true;
            file.syncStartNs = c.submittedNs;
            file.syncTargetSeq = c.seq;
            file.oldestSyncPoint = c.seq;
            file.newestSyncPoint = c.seq;
        }
    }

    /**
     * Group commit as one I/O: when {@code head} is a write to a file with nothing in flight and everything durable,
     * and the next queued commands are writes that continue it on the same file (appends) inside its allocated
     * size, they go out as one gathered write with RWF_DSYNC: durable when it completes, with no fdatasync and no
     * round trip through this thread between the writes and the sync. What a closed loop of N appends does every
     * cycle. Anything else (a file with writes or a sync in flight, a growth step, a checkpoint due, a gap) takes
     * the pipeline: concurrent writes and one fdatasync per completed prefix.
     *
     * @param head          an admitted WRITE, already in the ordered answers.
     * @param commandsLeft  commands this cycle may still take (head included).
     * @param bytesLeft     bytes this cycle may still write (head included).
     * @return the commands taken after {@code head} (0: no group, prepare {@code head} alone).
     */
    private int tryGroup(final IoCommand head, final int commandsLeft, final long bytesLeft)
    {
        final ExtentFile file = files.get(head.fd);
        final IoCommand second = submitQueue.peek();
        if (!engine.canWritevDsync() || commandsLeft < 2 || !continues(file, head, second) ||
            head.blockLengthBytes + second.blockLengthBytes > bytesLeft || !file.isIdle() || !file.isDurable())
        {
            return 0; // the pipeline, as every write of a file that has something in flight
        }
        // Half a step at most: after growing, the next window is clear of the end again (no runaway growth).
        if (head.blockOffset + Math.min(config.maxBatchBytes(), config.preallocStepBytes() / 2) > file.allocatedBytes &&
            file.allocatedBytes < file.header.page.extentSizeBytes)
        {
            // Grow a batch ahead, so that a group is never cut at the allocated size: a cut splits a closed loop's
            // writes into two cohorts acknowledged at different times, which then never meet on an idle file
            // again. This cycle takes the pipeline (the new size needs the whole-file fdatasync), in one piece.
            growAhead(head, file);
            return 0;
        }
        prepareCheckpointIfDue(file);
        if (!file.isIdle())
        {
            return 0; // a checkpoint went first: this cycle takes the pipeline, in one piece
        }
        final int maxWrites = Math.min(GROUP_WRITES_MAX, commandsLeft);
        final int iovecOffset = head.index * GROUP_WRITES_MAX * IoRing.IOVEC_BYTES;
        final long nowNs = clock.nanoTime();
        IoCommand tail = head;
        int count = 0;
        long groupBytes = 0;
        IoCommand next = head;
        do
        {
            if (next != head)
            {
                submitQueue.poll();
                admit(next);
                Verify.verify(null == next.status, "a write continuing a group was refused", next.index);
                Verify.verify(orderedCount < ordered.length, "ordered commands over the command count", orderedCount);
                ordered[(orderedHead + orderedCount++) % ordered.length] = next;
                tail.groupNext = next;
                tail = next;
            }
            iovecs.putLong(iovecOffset + count * IoRing.IOVEC_BYTES, next.address);
            iovecs.putLong(iovecOffset + count * IoRing.IOVEC_BYTES + 8, next.blockLengthBytes);
            next.submittedNs = nowNs;
            file.append(next);
            groupBytes += next.blockLengthBytes;
            count++;
            next = submitQueue.peek();
        }
        while (count < maxWrites && continues(file, tail, next) && groupBytes + next.blockLengthBytes <= bytesLeft);
        tail.groupNext = null;
        Verify.verify(count >= 2, "a gathered write of one block", head.index);
        Verify.verify(engine.prepareWritevDsync(head.fd, iovecs.addressOffset() + iovecOffset, count, head.blockOffset,
            GROUP_TAG | head.index), "ring full preparing gathered write", head.index);
        opsInFlight++;
        head.groupBytes = groupBytes;
        counters.groupedWrites.getAndAddRelease(count);
        activate(file);
        // The gathered write is its own fdatasync: at most one in flight per file still holds.
        file.syncInFlight = true;
        file.dsyncSeq = tail.seq;
        file.syncStartNs = nowNs;
        file.syncTargetSeq = tail.seq;
        file.oldestSyncPoint = tail.seq;
        file.newestSyncPoint = tail.seq;
        return count - 1;
    }

    /**
     * Grows the file by a preallocation step before a write needs it. Speculative: a failure (ENOSPC, EIO) changes
     * nothing here; the write that really needs the space grows the file itself and reports it.
     */
    private void growAhead(final IoCommand head, final ExtentFile file)
    {
        final long step = config.preallocStepBytes();
        final long target = Math.min(file.header.page.extentSizeBytes,
            ((file.allocatedBytes + 1 + step - 1) / step) * step);
        try
        {
            storage.fallocate(head.fd, file.allocatedBytes, target - file.allocatedBytes);
            file.allocatedBytes = target;
            file.grownAtSeq = file.lastSeq + 1; // the head's number: the fdatasync covering it covers the new size
            counters.preallocations.incrementRelease();
        }
        catch (final NativeIoException ignore)
        {
            // The write that crosses the allocated size grows the file itself and reports the error (grow).
        }
    }

    /** @return whether {@code next} is a write that appends right after {@code previous} without growing the file. */
    private static boolean continues(final ExtentFile file, final IoCommand previous, final IoCommand next)
    {
        return null != next && next.kind == IoCommand.WRITE && next.fd == previous.fd &&
            next.blockOffset == previous.blockOffset + previous.blockLengthBytes &&
            next.blockOffset + next.blockLengthBytes <= file.allocatedBytes && !file.failed;
    }

    /** Spreads a gathered write's result over its writes, in file order (a short result fails from the gap on). */
    private void onGroupWritten(final IoCommand head, final int result)
    {
        final ExtentFile file = files.get(head.fd);
        int remaining = Math.max(0, result);
        IoCommand member = head;
        while (null != member)
        {
            final IoCommand next = member.groupNext;
            member.groupNext = null;
            final int share = result < 0 ? result : Math.min(remaining, member.blockLengthBytes);
            remaining -= Math.max(0, share);
            // The last member completes the prefix up to the group's dsync point, which resolves it as the sync.
            onWritten(file, member, share);
            member = next;
        }
    }

    private void prepareCheckpointIfDue(final ExtentFile file)
    {
        if (null != file.checkpoint || 0 == freeCheckpointCount || file.state.sealed || opsInFlight + 3 > maxOpsInFlight ||
            file.durableLength - file.state.checkpointLength < config.checkpointIntervalBytes())
        {
            return;
        }
        final Checkpoint cp = freeCheckpoints[--freeCheckpointCount];
        cp.reset(file);
        // The length recorded is durable already (answered writes), so the slot never runs ahead of the data.
        file.pending.set(file.state.sequence + 1, file.header.page.extentId, file.state.epoch, false,
            file.durableLength, -1);
        BlockFormat.encodeHeaderPage(cp.byteBuffer, cp.view, crc, file.header.page, file.pending, file.state);
        Verify.verify(engine.prepareWrite(file.fd, cp.address, BlockFormat.EXTENT_HEADER_LENGTH_BYTES, 0,
            STATE_TAG | cp.slot, false), "ring full preparing checkpoint", cp.slot);
        opsInFlight++;
        file.checkpoint = cp;
        file.append(cp);
    }

    private void activate(final ExtentFile file)
    {
        if (!file.active)
        {
            Verify.verify(activeFileCount < activeFiles.length, "active files over the command count", activeFileCount);
            file.active = true;
            activeFiles[activeFileCount++] = file;
        }
    }

    /**
     * Per file with writes in flight: mark the end of this cycle's writes as a sync point, and submit an
     * fdatasync when the completed prefix reaches the oldest unsynced point and none is in flight. The
     * fdatasync covers the whole completed prefix (so possibly part of later cycles too).
     */
    private int prepareSyncs()
    {
        int work = 0;
        for (int i = activeFileCount - 1; i >= 0; i--)
        {
            final ExtentFile file = activeFiles[i];
            if (file.lastSeq > file.newestSyncPoint)
            {
                if (!file.hasPendingSyncPoint())
                {
                    file.oldestSyncPoint = file.lastSeq;
                }
                file.newestSyncPoint = file.lastSeq;
            }
            if (file.syncWanted() && !file.syncInFlight && file.completedSeq >= file.oldestSyncPoint &&
                opsInFlight < maxOpsInFlight)
            {
                Verify.verify(engine.prepareFdatasync(file.fd, FSYNC_TAG | file.fd, false), "ring full preparing fdatasync",
                    file.fd);
                opsInFlight++;
                file.syncInFlight = true;
                file.syncStartNs = clock.nanoTime();
                file.syncTargetSeq = file.completedSeq;
                file.oldestSyncPoint = file.newestSyncPoint;
                work++;
            }
            if (null == file.ioHead && !file.syncInFlight && null == file.checkpoint && !file.syncWanted())
            {
                file.active = false;
                activeFiles[i] = activeFiles[--activeFileCount];
                activeFiles[activeFileCount] = null;
            }
        }
        return work;
    }

    /** Answers the ordered commands (writes, creates, seals, opens) from the head, while each is resolved. */
    private int answerInOrder()
    {
        int answered = 0;
        while (orderedCount > 0)
        {
            final IoCommand c = ordered[orderedHead];
            if (null == c.status && !resolve(c))
            {
                break;
            }
            if (c.kind == IoCommand.CREATE && c.status == NodeStatus.OK && directorySyncPending)
            {
                directorySyncPending = false;
                syncDirectory();
            }
            ordered[orderedHead] = null;
            orderedHead = (orderedHead + 1) % ordered.length;
            orderedCount--;
            Verify.verify(completionQueue.offer(c), "disk completion queue full");
            answered++;
        }
        return answered;
    }

    /**
     * @return whether the write's outcome is known: its own write and every earlier one of its file completed,
     * and either an fdatasync covering it succeeded (OK) or its file failed at or before it (IO_ERROR).
     */
    private boolean resolve(final IoCommand c)
    {
        if (c.kind == IoCommand.DELETE)
        {
            return resolveDelete(c);
        }
        final ExtentFile file = files.get(c.fd);
        if (c.seq > file.completedSeq)
        {
            return false; // its buffer is still the kernel's, or an earlier write of the file is still running
        }
        if (file.syncFailed || c.seq >= file.failedSeq)
        {
            c.fail(NodeStatus.IO_ERROR, c.seq == file.failedSeq ? "write result " + c.ioResult :
                file.syncFailed ? "fdatasync result " + file.syncResult : "an earlier write of this file failed");
            return true;
        }
        if (c.seq > file.durableSeq)
        {
            return false;
        }
        c.status = NodeStatus.OK;
        counters.bytesWritten.getAndAddRelease(c.blockLengthBytes);
        if (c.kind == IoCommand.WRITE)
        {
            counters.blocksWritten.incrementRelease();
            counters.writeDurableLatency.record(clock.nanoTime() - c.submittedNs);
            file.durableLength = Math.max(file.durableLength, c.blockOffset + c.blockLengthBytes);
        }
        else
        {
            file.commitState(); // CREATE, SEAL
        }
        return true;
    }

    private void onCompletion(final long userData, final int result)
    {
        if ((userData & REPAIR_TAG) != 0)
        {
            opsInFlight--;
            onRepairCompletion((int)(userData & TAG_VALUE_MASK), result);
            return;
        }
        if (userData == SCRUB_TAG)
        {
            scrubber.onCompletion(result);
            return;
        }
        opsInFlight--;
        if ((userData & FSYNC_TAG) != 0)
        {
            onSynced(files.get((int)(userData & TAG_VALUE_MASK)), result);
        }
        else if ((userData & GROUP_TAG) != 0)
        {
            onGroupWritten(commands[(int)(userData & TAG_VALUE_MASK)], result);
        }
        else if ((userData & STATE_TAG) != 0)
        {
            final Checkpoint cp = checkpoints[(int)(userData & TAG_VALUE_MASK)];
            onWritten(cp.file, cp, result);
        }
        else
        {
            final IoCommand c = commands[(int)userData];
            if (c.kind == IoCommand.READ)
            {
                // Reads do not wait for anything else in flight: answered as soon as verified.
                c.ioResult = result;
                verifyRead(c);
                Verify.verify(completionQueue.offer(c), "disk completion queue full");
            }
            else
            {
                onWritten(files.get(c.fd), c, result);
            }
        }
    }

    private void onWritten(final ExtentFile file, final FileIo io, final int result)
    {
        io.ioResult = result;
        io.ioDone = true;
        // Advance the completed prefix: the fdatasync submitted next covers exactly these writes.
        while (null != file.ioHead && file.ioHead.ioDone)
        {
            final FileIo done = file.ioHead;
            file.ioHead = done.nextInFile;
            done.nextInFile = null;
            file.completedSeq = done.seq;
            if (done.ioResult != done.expectedResult() && file.failedSeq == Long.MAX_VALUE)
            {
                file.failedSeq = done.seq;
                failFile(file, done.ioResult);
            }
        }
        if (null == file.ioHead)
        {
            file.ioTail = null;
        }
        if (0 != file.dsyncSeq && file.completedSeq >= file.dsyncSeq)
        {
            // The dsync write completed (it headed the prefix: every earlier write was durable): it was the sync.
            final boolean ok = file.failedSeq > file.dsyncSeq;
            file.dsyncSeq = 0;
            onSynced(file, ok ? 0 : -Errno.EIO, false);
            return;
        }
        resolveCheckpoint(file);
    }

    private void onSynced(final ExtentFile file, final int result)
    {
        onSynced(file, result, true);
    }

    /** @param failFile false when the failure was already counted (a dsync write that failed, see onWritten). */
    private void onSynced(final ExtentFile file, final int result, final boolean failFile)
    {
        file.syncInFlight = false;
        if (0 == result)
        {
            counters.fsyncs.incrementRelease();
            counters.syncLatency.record(clock.nanoTime() - file.syncStartNs);
            if (!file.syncFailed)
            {
                file.durableSeq = file.syncTargetSeq;
            }
        }
        else if (!file.syncFailed)
        {
            // An fdatasync error leaves the page cache and the disk disagreeing; a later fdatasync may report
            // success without the lost pages: nothing after this is ever acknowledged on this file.
            file.syncFailed = true;
            file.syncResult = result;
            if (failFile)
            {
                failFile(file, result);
            }
        }
        resolveCheckpoint(file);
    }

    private void failFile(final ExtentFile file, final int result)
    {
        file.failed = true;
        file.failedStatus = NodeStatus.IO_ERROR;
        if (result != -Errno.ECANCELED)
        {
            counters.ioErrors.increment();
        }
        setDiskState(STATE_FAILED);
    }

    /** A checkpoint takes effect once durable; a failed one leaves the previous state (the file fails anyway). */
    private void resolveCheckpoint(final ExtentFile file)
    {
        final Checkpoint cp = file.checkpoint;
        if (null == cp || cp.seq > file.completedSeq)
        {
            return;
        }
        final boolean failed = file.syncFailed || cp.seq >= file.failedSeq;
        if (!failed && cp.seq > file.durableSeq)
        {
            return;
        }
        if (!failed)
        {
            file.commitState();
            counters.checkpoints.incrementRelease();
            counters.bytesWritten.getAndAddRelease(BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
        }
        file.checkpoint = null;
        cp.file = null;
        freeCheckpoints[freeCheckpointCount++] = cp;
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
            file.grownAtSeq = file.lastSeq + 1; // this write's number (a checkpoint before it only raises the bar)
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
        if (null != file.checkpoint)
        {
            // The store seals only after every write of the extent was answered, and a checkpoint always
            // precedes a write of its file: only an earlier failure can leave one unresolved here.
            Verify.verify(file.failed, "seal while a checkpoint of the file is in flight", c.fd);
            c.fail(NodeStatus.IO_ERROR, "extent " + c.extentId + " on disk " + diskIndex +
                " takes no more writes after an earlier failure");
            return;
        }
        file.pending.set(file.state.sequence + 1, c.extentId, file.state.epoch, true, c.blockOffset, c.blockOffset);
        BlockFormat.encodeHeaderPage(c.byteBuffer, c.view, crc, file.header.page, file.pending, file.state);
        c.blockLengthBytes = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
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
            directorySyncPending = true;
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

    /**
     * Deletes an extent's file once nothing of it is in flight (the store sends no more I/O for it after the DELETE):
     * closes it, unlinks it and makes the directory entry's removal durable.
     */
    private boolean resolveDelete(final IoCommand c)
    {
        if (c.fd >= 0)
        {
            final ExtentFile file = files.get(c.fd);
            Verify.verify(null != file, "delete of unknown file", c.fd);
            if (null != file.ioHead || file.syncInFlight || null != file.checkpoint || file.active ||
                (null != scrubber && scrubber.reading(c.fd)) || repairBusyWith(file))
            {
                return false;
            }
        }
        try
        {
            int fd = c.fd;
            if (fd < 0)
            {
                try
                {
                    fd = storage.open(c.path, false);
                }
                catch (final NativeIoException ex)
                {
                    if (ex.errno() == Errno.ENOENT)
                    {
                        c.status = NodeStatus.OK; // nothing of it on this disk
                        return true;
                    }
                    throw ex;
                }
            }
            c.reclaimedBytes = storage.fileSizeBytes(fd);
            if (c.fd >= 0)
            {
                final ExtentFile removed = files.remove(c.fd);
                if (null != scrubber)
                {
                    scrubber.forget(c.fd);
                }
                if (repairFile == removed)
                {
                    repairFile = null;
                }
            }
            storage.close(fd);
            storage.delete(c.path);
        }
        catch (final IOException ex)
        {
            c.fail(NodeStatus.IO_ERROR, "deleting " + c.path + ": " + ex.getMessage());
            counters.ioErrors.increment();
            return true;
        }
        syncDirectory(); // fatal when it fails, like every fsync
        counters.extentsDeleted.incrementRelease();
        counters.reclaimedBytes.getAndAddRelease(c.reclaimedBytes);
        c.status = NodeStatus.OK;
        return true;
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
            requestRepair(c);
        }
    }

    /**
     * Turn on block repair before the agent starts: bad blocks of sealed extents that a read or the scrubber finds
     * are offered to {@code queue}, and the returned slot carries the repair worker's reads and rewrites of this
     * disk (one at a time, in a buffer of its own).
     *
     * @param queue the node's repair queue.
     * @return this disk's repair slot.
     */
    RepairIo enableRepair(final BlockRepairQueue queue)
    {
        Verify.verify(null == repairIo, "repair enabled twice", diskIndex);
        repairQueue = queue;
        repairPool = new AlignedBufferPool(1, config.maxBlockLengthBytes());
        final int index = repairPool.acquire();
        repairIo = new RepairIo(diskIndex, repairPool.address(index),
            repairPool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), repairPool.bufferLengthBytes());
        if (null != scrubber)
        {
            scrubber.repairQueue(queue);
        }
        return repairIo;
    }

    /** A read found a corrupt block: a sealed extent's block can be rewritten from another replica. */
    private void requestRepair(final IoCommand c)
    {
        final ExtentFile file = null == repairQueue ? null : files.get(c.fd);
        if (null != file && file.state.sealed && !repairQueue.offer(diskIndex, c.extentId, file.header.page.streamId,
            c.blockOffset, c.blockLengthBytes, 0))
        {
            counters.repairQueueDrops.increment();
        }
    }

    /**
     * Takes the repair worker's request when the ring has room beside the foreground (its ops count as the agent's
     * own, so every bound on ops in flight holds), or submits the read-back of a rewritten block.
     */
    private int doRepairWork() throws NativeIoException
    {
        final RepairIo io = repairIo;
        if (repairReadBackDue)
        {
            if (opsInFlight + 1 > maxOpsInFlight)
            {
                return 0;
            }
            repairReadBackDue = false;
            Verify.verify(engine.prepareRead(repairFile.fd, io.address, io.lengthBytes, io.blockOffset,
                REPAIR_TAG | REPAIR_READ_BACK, false), "ring full preparing repair read-back", diskIndex);
            opsInFlight++;
            engine.submit();
            return 1;
        }
        final int state = io.state();
        if ((state != RepairIo.READ_REQUESTED && state != RepairIo.WRITE_REQUESTED) || opsInFlight + 2 > maxOpsInFlight)
        {
            return 0;
        }
        final ExtentFile file = fileOf(io.extentId);
        final long sealedLength = null == file ? -1 : file.state.sealedLength;
        if (null == file)
        {
            io.answer(RepairIo.NO_EXTENT, 0, -1, "extent " + io.extentId + " is not on disk " + diskIndex);
            return 1;
        }
        if (!file.state.sealed)
        {
            io.answer(RepairIo.NOT_SEALED, 0, -1, "extent " + io.extentId + " is not sealed");
            return 1;
        }
        final boolean write = state == RepairIo.WRITE_REQUESTED;
        if (write && diskState == STATE_FAILED)
        {
            io.answer(RepairIo.DISK_FAILED, 0, sealedLength, "disk " + diskIndex + " failed");
            return 1;
        }
        final long offset = io.blockOffset;
        if (0 == io.lengthBytes && !write && offset < sealedLength)
        {
            io.lengthBytes = (int)Math.min(io.capacityBytes, sealedLength - offset);
        }
        final int length = io.lengthBytes;
        if (offset < BlockFormat.EXTENT_HEADER_LENGTH_BYTES ||
            (offset & (NodeProtocol.BLOCK_ALIGNMENT_BYTES - 1)) != 0 ||
            length <= 0 || (length & (NodeProtocol.BLOCK_ALIGNMENT_BYTES - 1)) != 0 || length > io.capacityBytes ||
            offset + length > sealedLength)
        {
            io.answer(RepairIo.OUT_OF_RANGE, 0, sealedLength, "[" + offset + ", " + (offset + length) +
                ") is not aligned or not inside the sealed length " + sealedLength);
            return 1;
        }
        repairFile = file;
        io.state(RepairIo.IN_FLIGHT);
        if (write)
        {
            repairWriteDone = false;
            repairSyncDone = false;
            // Linked: the kernel starts the fdatasync when the write completes; a failed write cancels it.
            Verify.verify(engine.prepareWrite(file.fd, io.address, length, offset, REPAIR_TAG | REPAIR_WRITE, true),
                "ring full preparing repair write", diskIndex);
            Verify.verify(engine.prepareFdatasync(file.fd, REPAIR_TAG | REPAIR_SYNC, false),
                "ring full preparing repair fdatasync", diskIndex);
            opsInFlight += 2;
        }
        else
        {
            Verify.verify(engine.prepareRead(file.fd, io.address, length, offset, REPAIR_TAG | REPAIR_READ, false),
                "ring full preparing repair read", diskIndex);
            opsInFlight++;
        }
        engine.submit();
        return 1;
    }

    private void onRepairCompletion(final int phase, final int result)
    {
        final RepairIo io = repairIo;
        final long sealedLength = repairFile.state.sealedLength;
        switch (phase)
        {
            case REPAIR_READ ->
            {
                if (result < 0)
                {
                    counters.ioErrors.increment();
                }
                io.answer(result < 0 ? RepairIo.IO_ERROR : RepairIo.OK, Math.max(0, result), sealedLength,
                    result < 0 ? "repair read result " + result : null);
            }
            case REPAIR_WRITE ->
            {
                repairWriteDone = true;
                repairWriteResult = result;
                finishRepairWrite();
            }
            case REPAIR_SYNC ->
            {
                repairSyncDone = true;
                repairSyncResult = result;
                finishRepairWrite();
            }
            default ->
            {
                if (result != io.lengthBytes)
                {
                    counters.ioErrors.increment();
                }
                io.answer(result == io.lengthBytes ? RepairIo.OK : RepairIo.IO_ERROR, Math.max(0, result), sealedLength,
                    result == io.lengthBytes ? null : "repair read-back result " + result);
            }
        }
    }

    /** Both the rewrite and its fdatasync completed: read it back, or fail the disk as any write error does. */
    private void finishRepairWrite()
    {
        if (!repairWriteDone || !repairSyncDone)
        {
            return;
        }
        final RepairIo io = repairIo;
        if (repairWriteResult != io.lengthBytes || repairSyncResult != 0)
        {
            // A sealed file that cannot be rewritten or synced is on a failing disk: nothing more is written there.
            counters.ioErrors.increment();
            setDiskState(STATE_FAILED);
            io.answer(RepairIo.IO_ERROR, 0, repairFile.state.sealedLength, repairWriteResult != io.lengthBytes ?
                "repair write result " + repairWriteResult : "repair fdatasync result " + repairSyncResult);
            return;
        }
        counters.fsyncs.incrementRelease();
        counters.bytesWritten.getAndAddRelease(io.lengthBytes);
        repairReadBackDue = true;
    }

    /**
     * A delete must wait for a repair of the same file: the repair slot reads and rewrites it outside the store's
     * ops, and once closed its descriptor may be reused by another extent.
     */
    private boolean repairBusyWith(final ExtentFile file)
    {
        return null != repairIo && repairFile == file &&
            (repairReadBackDue || repairIo.state() == RepairIo.IN_FLIGHT);
    }

    /** @return the open file of the extent, or null (a scan of the open files: repairs are rare). */
    private ExtentFile fileOf(final long extentId)
    {
        for (final ExtentFile file : files.values())
        {
            if (file.header.page.extentId == extentId)
            {
                return file;
            }
        }
        return null;
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

        public long streamId(final int fd)
        {
            return files.get(fd).header.page.streamId;
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
        /** Writes (and checkpoints) in submission order: the last one numbered. */
        long lastSeq;
        /** Every write up to this one has completed. */
        long completedSeq;
        /** Every write up to this one is durable (an fdatasync submitted after their completion succeeded). */
        long durableSeq;
        /** What the fdatasync in flight (or the last one) covers. */
        long syncTargetSeq;
        /** The oldest and newest ends of a cycle's writes not yet covered by an fdatasync. */
        long oldestSyncPoint;
        long newestSyncPoint;
        /** The first write that failed; it and every later write of the file are never acknowledged. */
        long failedSeq = Long.MAX_VALUE;
        boolean syncInFlight;
        /** The dsync write in flight (it is the file's sync in flight), or 0. */
        long dsyncSeq;
        /** The first write after the last growth step: a dsync write needs it durable first (see prepareWrite). */
        long grownAtSeq;
        /** When the fdatasync in flight was prepared (for the sync latency histogram). */
        long syncStartNs;
        boolean syncFailed;
        int syncResult;
        /** Writes in flight outside the completed prefix, in order. */
        FileIo ioHead;
        FileIo ioTail;
        Checkpoint checkpoint;
        boolean active;

        ExtentFile(final int fd, final long allocatedBytes, final long durableLength)
        {
            this.fd = fd;
            this.allocatedBytes = allocatedBytes;
            this.durableLength = durableLength;
        }

        /** @return nothing of the file in flight or waiting for a sync, and no failure. */
        boolean isIdle()
        {
            return null == ioHead && !syncInFlight && lastSeq == newestSyncPoint && !syncFailed &&
                failedSeq == Long.MAX_VALUE;
        }

        /**
         * @return every write of the file durable and no growth step since the last fdatasync: what an RWF_DSYNC
         * write needs, since it covers its own range only (a new size needs the whole-file fdatasync).
         */
        boolean isDurable()
        {
            return durableSeq == lastSeq && durableSeq >= grownAtSeq;
        }

        void append(final FileIo io)
        {
            io.seq = ++lastSeq;
            io.ioDone = false;
            io.nextInFile = null;
            if (null == ioTail)
            {
                ioHead = io;
            }
            else
            {
                ioTail.nextInFile = io;
            }
            ioTail = io;
        }

        boolean hasPendingSyncPoint()
        {
            return oldestSyncPoint > syncTargetSeq;
        }

        /** An unsynced cycle of writes, some of it before any failure, and fdatasync still trusted. */
        boolean syncWanted()
        {
            return hasPendingSyncPoint() && !syncFailed && syncTargetSeq + 1 < failedSeq;
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

    /** A checkpoint page in flight: its own aligned buffer (the command buffers belong to commands). */
    private static final class Checkpoint extends FileIo
    {
        final int slot;
        final long address;
        final ByteBuffer byteBuffer;
        final UnsafeBuffer view;
        ExtentFile file;

        Checkpoint(final int slot, final long address, final ByteBuffer byteBuffer)
        {
            this.slot = slot;
            this.address = address;
            this.byteBuffer = byteBuffer;
            this.view = new UnsafeBuffer(address, BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
        }

        void reset(final ExtentFile file)
        {
            this.file = file;
            this.ioResult = 0;
        }

        @Override
        int expectedResult()
        {
            return BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
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
