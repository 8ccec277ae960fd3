package io.cairn.daemon;

import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerException;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * Repairs bad blocks of this node's <b>sealed</b> extents from a good replica (docs/internals/extent-format.md,
 * "Scrubber and repair"). It takes the requests a disk's scrubber or a read offered to the {@link BlockRepairQueue},
 * one at a time and at most {@link Context#blocksPerSecond()}, and for each, on its own thread:
 * <ol>
 *   <li>reads the block's region back through the disk agent ({@link RepairIo}); a block that verifies now needs
 *       nothing;</li>
 *   <li>asks the manager for the extent's replicas (by its stream), and checks that the extent is sealed there at
 *       this copy's sealed length and that this node is still one of its replicas;</li>
 *   <li>reads the block from the other replicas over the node protocol (each verifies its CRC32C and answers CORRUPT
 *       rather than bad data) and accepts a copy only when it starts at this offset, ends inside the sealed length
 *       and, when this copy's header still checks, has exactly that header's length and matches that header's
 *       CRC32C (then the rewritten block is byte for byte the original, epoch included). A header too damaged to
 *       give a length is rebuilt from the good copy's length, with the epoch of the nearest verified block before it
 *       (the scrubber's walk supplies it; a read does not, so such a block waits for the scrubber);</li>
 *   <li>rewrites it in place through the disk agent (O_DIRECT, aligned, linked to an fdatasync), reads it back and
 *       verifies it.</li>
 * </ol>
 * Nothing is written without a verified good copy: with none, the block stays bad and reported. Outcomes are counted
 * ({@code scrub_repaired_blocks}, {@code repair_failures}) and logged once per block and outcome; a block that failed
 * is not tried again for {@link Context#retryBackoffMs()}. An extent with {@link #UNREPAIRABLE_BLOCKS} blocks that
 * could not be repaired, or on a FAILED disk, is reported UNREPAIRABLE once: the manager has no request yet to
 * re-replicate a single replica (an operator removes the node's copy; see docs/operating/disks.md).
 * <p>
 * Why its own thread: every step blocks (the manager, the peers, the disk's answer), and none of that may run on the
 * disk agent's or the replication thread's duty cycle. The disk agent sees one small request at a time.
 */
public final class BlockRepairAgent implements AutoCloseable
{
    /** Distinct unrepaired blocks of one extent after which its replica here is reported unrepairable. */
    static final int UNREPAIRABLE_BLOCKS = 8;
    /** Blocks whose last outcome is remembered (for logging once and the retry back-off); cleared when full. */
    static final int OUTCOMES_REMEMBERED = 4096;

    /** How one repair ended. */
    public enum Outcome
    {
        /** Rewritten from a good copy, read back and verified. */
        REPAIRED(true),
        /** The block verifies now (repaired meanwhile, or the bad read was transient): nothing written. */
        ALREADY_GOOD(true),
        /** No other replica answered an intact copy of the block: nothing written, still reported. */
        NO_GOOD_COPY(false),
        /** A replica answered, but its block is not this one (offset, length, or CRC32C against this header). */
        COPY_REFUSED(false),
        /** The block's header is unreadable and no epoch is known for it (a read found it): left to the scrubber. */
        EPOCH_UNKNOWN(false),
        /** The block is larger than the repair buffer (written with a larger --max-block-bytes). */
        TOO_LARGE(false),
        /** The manager no longer lists this node as a replica, or has the extent unsealed or at another length. */
        NOT_A_REPLICA(false),
        /** The extent is not on the disk or not sealed here: only sealed extents are repaired in place. */
        NOT_SEALED(false),
        /** This disk could not read, write, sync or verify the block (a FAILED disk included). */
        LOCAL_FAILED(false),
        /** The manager did not answer. */
        MANAGER_UNREACHABLE(false);

        final boolean success;

        Outcome(final boolean success)
        {
            this.success = success;
        }
    }

    /**
     * Configuration: named defaults, fluent setters, {@link #conclude()}.
     */
    public static final class Context
    {
        /** Repairs started per second at most (--repair-blocks-per-sec). */
        public static final int BLOCKS_PER_SECOND_DEFAULT = 10;
        /** Most repairs per second the option allows. */
        public static final int BLOCKS_PER_SECOND_MAX = 10_000;
        /** A block whose repair failed is not tried again before this. */
        public static final long RETRY_BACKOFF_MS_DEFAULT = 10_000;
        /** Time-out of one request to another node. */
        public static final long NODE_TIMEOUT_MS_DEFAULT = 2_000;
        /** Longest wait for this node's disk agent to answer one repair I/O. */
        public static final long LOCAL_TIMEOUT_MS_DEFAULT = 10_000;
        /** Longest sleep of the worker thread when the queue is empty (bounds how long close() waits). */
        public static final long SLEEP_MS_MAX = 10;

        private int nodeId;
        private int blocksPerSecond = BLOCKS_PER_SECOND_DEFAULT;
        private long retryBackoffMs = RETRY_BACKOFF_MS_DEFAULT;
        private long nodeTimeoutMs = NODE_TIMEOUT_MS_DEFAULT;
        private long localTimeoutMs = LOCAL_TIMEOUT_MS_DEFAULT;
        private NanoClock clock = System::nanoTime;
        private PrintStream log = System.err;

        /**
         * @return this, validated.
         * @throws IllegalArgumentException naming the bad value.
         */
        public Context conclude()
        {
            require(nodeId > 0, "repair nodeId " + nodeId + ": must be > 0");
            require(blocksPerSecond >= 1 && blocksPerSecond <= BLOCKS_PER_SECOND_MAX,
                "--repair-blocks-per-sec " + blocksPerSecond + ": must be in [1, " + BLOCKS_PER_SECOND_MAX + "]");
            require(retryBackoffMs >= 0, "repair retry backoff " + retryBackoffMs + " ms: must be >= 0");
            require(nodeTimeoutMs >= 1, "repair node time-out " + nodeTimeoutMs + " ms: must be >= 1");
            require(localTimeoutMs >= 1, "repair local time-out " + localTimeoutMs + " ms: must be >= 1");
            require(null != clock && null != log, "repair clock and log: required");
            return this;
        }

        private static void require(final boolean ok, final String message)
        {
            if (!ok)
            {
                throw new IllegalArgumentException(message);
            }
        }

        /** @param nodeId this node. @return this. */
        public Context nodeId(final int nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /** @param count repairs started per second at most. @return this. */
        public Context blocksPerSecond(final int count)
        {
            this.blocksPerSecond = count;
            return this;
        }

        /** @return repairs started per second at most. */
        public int blocksPerSecond()
        {
            return blocksPerSecond;
        }

        /** @param ms before a block whose repair failed is tried again. @return this. */
        public Context retryBackoffMs(final long ms)
        {
            this.retryBackoffMs = ms;
            return this;
        }

        /** @return before a block whose repair failed is tried again. */
        public long retryBackoffMs()
        {
            return retryBackoffMs;
        }

        /** @param ms time-out of one request to another node. @return this. */
        public Context nodeTimeoutMs(final long ms)
        {
            this.nodeTimeoutMs = ms;
            return this;
        }

        /** @return time-out of one request to another node. */
        public long nodeTimeoutMs()
        {
            return nodeTimeoutMs;
        }

        /** @param ms longest wait for this node's disk agent. @return this. */
        public Context localTimeoutMs(final long ms)
        {
            this.localTimeoutMs = ms;
            return this;
        }

        /** @param clock time source (injected in tests). @return this. */
        public Context clock(final NanoClock clock)
        {
            this.clock = clock;
            return this;
        }

        /** @param log where outcomes are reported (once per block and outcome). @return this. */
        public Context log(final PrintStream log)
        {
            this.log = log;
            return this;
        }
    }

    /** Last outcome of one block, for logging once and the retry back-off. */
    private record BlockKey(int diskIndex, long extentId, long blockOffset)
    {
    }

    private static final class BlockState
    {
        Outcome outcome;
        long retryNotBeforeNs;
    }

    private final Context ctx;
    private final BlockRepairQueue queue;
    private final RepairIo[] disks;
    private final DiskCounters[] counters;
    private final RecoveryManager manager;
    private final Supplier<RecoveryPeers> peersFactory;
    private final NanoClock clock;
    private final long intervalNs;
    private final BlockRepairQueue.Request request = new BlockRepairQueue.Request();
    private final CRC32C crc = new CRC32C();
    private final UnsafeBuffer payload;
    private final Map<BlockKey, BlockState> blocks = new HashMap<>();
    private final Map<Long, Integer> unrepairedPerExtent = new HashMap<>();
    private final java.util.Set<Long> reportedUnrepairable = new java.util.HashSet<>();
    private final long[] outcomes = new long[Outcome.values().length];
    private RecoveryPeers peers;
    private Thread thread;
    private volatile boolean running = true;
    private long nextRepairNs;
    private String detail = "";
    private boolean forgetLogged;

    /**
     * @param ctx          configuration, concluded here.
     * @param queue        the node's repair queue.
     * @param disks        each disk's repair slot, by disk index.
     * @param counters     each disk's counters, by disk index.
     * @param manager      the manager calls (the extent's replicas).
     * @param peersFactory the node calls; made on the first repair that needs another replica.
     */
    public BlockRepairAgent(
        final Context ctx,
        final BlockRepairQueue queue,
        final RepairIo[] disks,
        final DiskCounters[] counters,
        final RecoveryManager manager,
        final Supplier<RecoveryPeers> peersFactory)
    {
        this.ctx = ctx.conclude();
        Verify.verify(disks.length == counters.length && disks.length > 0, "repair disks and counters differ",
            disks.length);
        this.queue = queue;
        this.disks = disks;
        this.counters = counters;
        this.manager = manager;
        this.peersFactory = peersFactory;
        this.clock = ctx.clock;
        this.intervalNs = TimeUnit.SECONDS.toNanos(1) / ctx.blocksPerSecond;
        int capacity = Integer.MAX_VALUE;
        for (final RepairIo io : disks)
        {
            capacity = Math.min(capacity, io.capacityBytes);
        }
        this.payload = new UnsafeBuffer(ByteBuffer.allocateDirect(capacity - BlockFormat.BLOCK_HEADER_LENGTH_BYTES));
        this.nextRepairNs = clock.nanoTime();
    }

    /**
     * Starts the worker on its own thread over the node's media driver.
     *
     * @param ctx                configuration.
     * @param queue              the node's repair queue.
     * @param disks              each disk's repair slot.
     * @param counters           each disk's counters.
     * @param managers           manager members string.
     * @param aeronDirectoryName the node's media driver.
     * @param responseHost       host the other nodes answer this node's requests on.
     * @return the running worker.
     */
    public static BlockRepairAgent start(
        final Context ctx,
        final BlockRepairQueue queue,
        final RepairIo[] disks,
        final DiskCounters[] counters,
        final String managers,
        final String aeronDirectoryName,
        final String responseHost)
    {
        ctx.conclude();
        final RecoveryManager manager = new ManagerRecoveryClient(
            managers, aeronDirectoryName, null, Math.max(ctx.nodeTimeoutMs, 5_000));
        final BlockRepairAgent agent = new BlockRepairAgent(ctx, queue, disks, counters, manager,
            () -> new AeronRecoveryPeers(aeronDirectoryName, responseHost,
                TimeUnit.MILLISECONDS.toNanos(ctx.nodeTimeoutMs), ctx.clock));
        agent.thread = new Thread(agent::run, "cairn-repair-" + ctx.nodeId);
        agent.thread.setDaemon(true);
        agent.thread.start();
        return agent;
    }

    private void run()
    {
        while (running)
        {
            int work = 0;
            try
            {
                work = doWork(clock.nanoTime());
            }
            catch (final RuntimeException ex)
            {
                if (ex.getMessage() != null && ex.getMessage().startsWith("invariant violated"))
                {
                    throw ex; // never worked around: the worker stops loudly
                }
                // Aeron or the manager session failed: report, reconnect on the next repair.
                ctx.log.println("cairn-node " + ctx.nodeId + ": repair worker error: " + ex);
                manager.close();
            }
            if (0 == work)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(Context.SLEEP_MS_MAX));
            }
        }
        manager.close();
        if (null != peers)
        {
            peers.close();
        }
    }

    /**
     * Take one request when the rate allows, and run it to its outcome.
     *
     * @param nowNs current time.
     * @return 1 when a request was taken, else 0.
     */
    public int doWork(final long nowNs)
    {
        if (nowNs - nextRepairNs < 0 || !queue.poll(request))
        {
            return 0;
        }
        if (request.diskIndex < 0 || request.diskIndex >= disks.length)
        {
            throw new IllegalStateException("invariant violated: repair request for disk " + request.diskIndex);
        }
        final BlockKey key = new BlockKey(request.diskIndex, request.extentId, request.blockOffset);
        final BlockState known = blocks.get(key);
        if (null != known && !known.outcome.success && nowNs - known.retryNotBeforeNs < 0)
        {
            return 1; // failed recently: found again before the back-off ran out
        }
        nextRepairNs = nowNs + intervalNs;
        detail = "";
        final Outcome outcome = repair(disks[request.diskIndex]);
        record(key, known, outcome);
        return 1;
    }

    private void record(final BlockKey key, final BlockState known, final Outcome outcome)
    {
        outcomes[outcome.ordinal()]++;
        if (Outcome.REPAIRED == outcome)
        {
            counters[key.diskIndex()].scrubRepairedBlocks.increment();
        }
        else if (!outcome.success)
        {
            counters[key.diskIndex()].repairFailures.increment();
        }
        BlockState state = known;
        if (null == state)
        {
            if (blocks.size() >= OUTCOMES_REMEMBERED)
            {
                blocks.clear();
                unrepairedPerExtent.clear();
                reportedUnrepairable.clear();
                if (!forgetLogged)
                {
                    forgetLogged = true;
                    ctx.log.println("cairn-node " + ctx.nodeId + ": repair: more than " + OUTCOMES_REMEMBERED +
                        " blocks seen; outcomes are logged again after this");
                }
            }
            state = new BlockState();
            blocks.put(key, state);
        }
        final Outcome previous = state.outcome;
        state.outcome = outcome;
        state.retryNotBeforeNs = clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ctx.retryBackoffMs);
        // Once per block and outcome; a duplicate request that finds the block already repaired says nothing new.
        if (previous != outcome && !(Outcome.ALREADY_GOOD == outcome && Outcome.REPAIRED == previous))
        {
            ctx.log.println("cairn-node " + ctx.nodeId + ": repair: " + request + ": " + outcome +
                (detail.isEmpty() ? "" : ": " + detail));
        }
        final boolean nowFailed = !outcome.success && (null == previous || previous.success);
        final boolean diskFailed = Outcome.LOCAL_FAILED == outcome &&
            counters[key.diskIndex()].diskState.get() == DiskCounters.STATE_FAILED;
        final long extentId = key.extentId();
        if ((nowFailed || diskFailed) && !reportedUnrepairable.contains(extentId))
        {
            final int count = unrepairedPerExtent.merge(extentId, nowFailed ? 1 : 0, Integer::sum);
            if (count >= UNREPAIRABLE_BLOCKS || diskFailed)
            {
                reportedUnrepairable.add(extentId); // once per extent
                ctx.log.println("cairn-node " + ctx.nodeId + ": repair: replica of extent " + extentId +
                    " on disk " + key.diskIndex() + " is UNREPAIRABLE (" + (diskFailed ? "the disk is FAILED" :
                    count + " blocks could not be repaired") + "): it needs re-replication; the manager has no " +
                    "request for one replica yet, see docs/operating/disks.md");
            }
        }
    }

    private Outcome repair(final RepairIo io)
    {
        final long extentId = request.extentId;
        final long offset = request.blockOffset;
        // The slot, its fields and its buffer are the disk's until it answered an earlier (timed-out) request.
        if (!awaitSlotFree(io))
        {
            return Outcome.LOCAL_FAILED;
        }
        // 1. This copy, as it is now: still bad? How much of its header can be trusted?
        io.extentId = extentId;
        io.blockOffset = offset;
        io.lengthBytes = 0; // as much as the buffer holds, up to the sealed length
        final Outcome local = localIo(io, RepairIo.READ_REQUESTED);
        if (null != local)
        {
            return local;
        }
        final long sealedLength = io.sealedLength;
        if (BlockFormat.verifyBlock(io.byteBuffer, io.view, crc, extentId, offset, io.resultBytes) >= 0)
        {
            return Outcome.ALREADY_GOOD;
        }
        final int headerPayload = BlockFormat.checkBlockHeader(io.view, 0, extentId, offset);
        final int headerBlockLength = headerPayload > 0 ? BlockFormat.blockLengthBytes(headerPayload) : 0;
        if (headerBlockLength > io.capacityBytes)
        {
            detail = "block of " + headerBlockLength + " bytes, repair buffer " + io.capacityBytes;
            return Outcome.TOO_LARGE;
        }
        // The header is trusted only when it agrees with what this node knows of the block (its index, its extent).
        final boolean headerTrusted = headerPayload > 0 && offset + headerBlockLength <= sealedLength &&
            (0 == request.blockLengthHint || request.blockLengthHint == headerBlockLength);
        final int epoch = headerTrusted ? BlockFormat.epochField(io.view) : request.epochHint;
        if (!headerTrusted && epoch <= 0)
        {
            detail = "the block header is unreadable and no verified block before it gave an epoch";
            return Outcome.EPOCH_UNKNOWN;
        }

        // 2. The extent's other replicas, as the manager holds them.
        final StreamInfo stream;
        try
        {
            stream = manager.streamInfo(request.streamId);
        }
        catch (final ManagerException ex)
        {
            detail = ex.getMessage();
            if (null == ex.status())
            {
                manager.close();
                return Outcome.MANAGER_UNREACHABLE;
            }
            return Outcome.NOT_A_REPLICA; // the stream is gone
        }
        final ExtentInfo extent = find(stream, extentId);
        if (null == extent || extent.sealedLength() != sealedLength || indexOf(extent.replicas(), ctx.nodeId) < 0)
        {
            detail = null == extent ? "the stream no longer lists the extent" : "the manager lists replicas " +
                java.util.Arrays.toString(extent.replicas()) + " sealed at " + extent.sealedLength() +
                ", this copy is sealed at " + sealedLength;
            return Outcome.NOT_A_REPLICA;
        }

        // 3. A good copy of exactly this block.
        final Outcome fetched = fetch(io, stream, extent, sealedLength, headerTrusted, headerPayload, epoch);
        if (null != fetched)
        {
            return fetched;
        }

        // 4. Rewrite in place, durably; the disk agent reads it back into the buffer.
        final int payloadLength = BlockFormat.payloadLengthField(io.view);
        io.lengthBytes = BlockFormat.blockLengthBytes(payloadLength);
        final Outcome written = localIo(io, RepairIo.WRITE_REQUESTED);
        if (null != written)
        {
            return written;
        }
        if (BlockFormat.verifyBlock(io.byteBuffer, io.view, crc, extentId, offset, io.resultBytes) != payloadLength ||
            !samePayload(io.view, payload, payloadLength))
        {
            detail = "the rewritten block does not read back intact";
            return Outcome.LOCAL_FAILED;
        }
        return Outcome.REPAIRED;
    }

    /** @return null with the accepted block composed in the repair buffer, else why none was accepted. */
    private Outcome fetch(
        final RepairIo io,
        final StreamInfo stream,
        final ExtentInfo extent,
        final long sealedLength,
        final boolean headerTrusted,
        final int headerPayload,
        final int epoch)
    {
        final long extentId = request.extentId;
        final long offset = request.blockOffset;
        if (null == peers)
        {
            peers = peersFactory.get();
        }
        boolean refused = false;
        final StringBuilder why = new StringBuilder();
        for (final int replica : extent.replicas())
        {
            final String endpoint = stream.nodeEndpoints().get(replica);
            if (replica == ctx.nodeId || null == endpoint)
            {
                continue;
            }
            final NodeStatus status = peers.read(replica, endpoint, extentId, offset, payload);
            if (NodeStatus.OK != status)
            {
                why.append(" node ").append(replica).append(": ").append(null == status ? "no answer" : status)
                    .append(';');
                continue;
            }
            final int length = peers.payloadLengthBytes();
            final long next = peers.nextOffset();
            final int blockLength = length > 0 && length <= payload.capacity() ?
                BlockFormat.blockLengthBytes(length) : -1;
            // The good copy must be this block: start here, end inside the sealed length, and agree with this header.
            if (blockLength < 0 || next != offset + blockLength || next > sealedLength ||
                (headerTrusted ? length != headerPayload :
                    0 != request.blockLengthHint && request.blockLengthHint != blockLength))
            {
                refused = true;
                why.append(" node ").append(replica).append(": a different block (payload ").append(length)
                    .append(", next ").append(next).append(");");
                continue;
            }
            if (headerTrusted)
            {
                // This header (its CRC32C and epoch) with the good payload must be the original block.
                io.view.putBytes(BlockFormat.BLOCK_HEADER_LENGTH_BYTES, payload, 0, length);
                io.view.setMemory(BlockFormat.BLOCK_HEADER_LENGTH_BYTES + length,
                    blockLength - BlockFormat.BLOCK_HEADER_LENGTH_BYTES - length, (byte)0);
                if (BlockFormat.verifyBlock(io.byteBuffer, io.view, crc, extentId, offset, blockLength) != length)
                {
                    refused = true;
                    why.append(" node ").append(replica).append(": its payload does not match this block's CRC32C;");
                    continue;
                }
            }
            else
            {
                // Rebuilt from the good copy: its record framing and user metadata too (both are under the CRC).
                final DirectBuffer metadata = peers.metadata();
                final int metadataLength = null == metadata ? 0 : peers.metadataLength();
                BlockFormat.encodeBlock(io.byteBuffer, io.view, crc, extentId, offset, epoch, peers.recordFlags(),
                    metadata, 0, metadataLength, payload, 0, length);
            }
            detail = "from node " + replica;
            return null;
        }
        detail = why.length() == 0 ? "no other replica" : why.substring(1);
        return refused ? Outcome.COPY_REFUSED : Outcome.NO_GOOD_COPY;
    }

    /** @return true once the slot is free (IDLE, or an earlier request answered); false on time-out. */
    private boolean awaitSlotFree(final RepairIo io)
    {
        final long deadlineNs = clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ctx.localTimeoutMs);
        while (RepairIo.IDLE != io.state() && RepairIo.DONE != io.state())
        {
            if (!running || clock.nanoTime() - deadlineNs > 0)
            {
                detail = "disk " + io.diskIndex + " still busy with an earlier repair";
                return false;
            }
            LockSupport.parkNanos(50_000);
        }
        io.state(RepairIo.IDLE);
        return true;
    }

    /**
     * Publish a request whose fields (and buffer) are filled, and wait for the disk agent's answer.
     *
     * @return null when the disk agent ran the I/O, else the failure (with {@link #detail}).
     */
    private Outcome localIo(final RepairIo io, final int requested)
    {
        final long deadlineNs = clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ctx.localTimeoutMs);
        Verify.verify(RepairIo.IDLE == io.state(), "repair slot not free", io.diskIndex);
        io.state(requested);
        while (RepairIo.DONE != io.state())
        {
            if (!running || clock.nanoTime() - deadlineNs > 0)
            {
                detail = "disk " + io.diskIndex + " did not answer in " + ctx.localTimeoutMs + " ms";
                return Outcome.LOCAL_FAILED;
            }
            LockSupport.parkNanos(50_000);
        }
        io.state(RepairIo.IDLE);
        switch (io.result)
        {
            case RepairIo.OK ->
            {
                return null;
            }
            case RepairIo.NO_EXTENT, RepairIo.NOT_SEALED ->
            {
                detail = io.error;
                return Outcome.NOT_SEALED;
            }
            default ->
            {
                detail = RepairIo.resultName(io.result) + ": " + io.error;
                return Outcome.LOCAL_FAILED;
            }
        }
    }

    private static boolean samePayload(final UnsafeBuffer block, final UnsafeBuffer payload, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            if (block.getByte(BlockFormat.BLOCK_HEADER_LENGTH_BYTES + i) != payload.getByte(i))
            {
                return false;
            }
        }
        return true;
    }

    private static ExtentInfo find(final StreamInfo stream, final long extentId)
    {
        for (final ExtentInfo extent : stream.extents())
        {
            if (extent.extentId() == extentId)
            {
                return extent;
            }
        }
        return null;
    }

    private static int indexOf(final int[] values, final int value)
    {
        for (int i = 0; i < values.length; i++)
        {
            if (values[i] == value)
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @param outcome an outcome.
     * @return repairs that ended with it.
     */
    public long outcomes(final Outcome outcome)
    {
        return outcomes[outcome.ordinal()];
    }

    /** Stops the worker (a repair in progress ends at its next wait) and closes its clients. */
    public void close()
    {
        running = false;
        if (null != thread)
        {
            try
            {
                thread.join(TimeUnit.SECONDS.toMillis(15));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
        else
        {
            manager.close();
            if (null != peers)
            {
                peers.close();
            }
        }
    }
}
