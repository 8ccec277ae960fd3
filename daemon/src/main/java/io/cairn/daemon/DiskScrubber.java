package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.NodeProtocol;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Background verification of sealed extents, run inside its disk's {@link DiskIoAgent} duty cycle.
 * <p>
 * It re-reads every block of every sealed extent, one chunk ({@link #READ_BYTES}, or one whole larger
 * block, at most one I/O buffer) at a time, and checks
 * header and CRC32C as a client read would. Bounded: at most one scrub read is in flight beside the
 * foreground I/O, a chunk is at most {@code --max-block-bytes}, and a token bucket (starting empty, holding at
 * most one chunk) keeps it to {@code bytesPerSecond}. Foreground commands always start first in a duty cycle.
 * <p>
 * A bad block is counted ({@code scrub_bad_blocks} and {@code corrupt_blocks}) and reported once on the log,
 * naming disk, extent and offset: later passes over the same block stay quiet (deduplicated in a bounded
 * table). A header that does not check is resynchronised on: every block records its own offset, so the
 * scrubber steps page by page to the next valid header.
 * <p>
 * With repair on ({@link #repairQueue}), every bad block found is also offered to the node's
 * {@link BlockRepairQueue}, on every pass (the report stays once per block), with its length when its header gave
 * one and the epoch of the last block before it that verified whole: a header too damaged to give a length is
 * rebuilt with that epoch, which lies between its neighbours' (epochs never decrease along an extent).
 * <p>
 * Single-threaded (the agent's thread); allocates nothing after construction except the report's message.
 */
final class DiskScrubber
{
    /** Distinct bad blocks remembered for deduplication; past it each is reported again on later passes. */
    static final int REPORTED_CAPACITY = 1024;

    /**
     * Usual scrub read: small, so that it holds the disk only briefly beside the foreground I/O. A block larger
     * than this is read whole, in a read of its own length.
     */
    static final int READ_BYTES = 128 * 1024;

    private static final long MAX_REFILL_NS = 1_000_000_000L;

    private final int diskIndex;
    private final IoEngine engine;
    private final DiskCounters counters;
    private final PrintStream log;
    private final long bytesPerSecond;
    private final long userData;
    private final long address;
    private final ByteBuffer byteBuffer;
    private final UnsafeBuffer view;
    private final int chunkBytes;
    private final CRC32C crc = new CRC32C();
    private final long[] reportedExtents = new long[REPORTED_CAPACITY * 2];
    private final long[] reportedOffsets = new long[REPORTED_CAPACITY * 2];
    private int reportedCount;
    private boolean reportedFull;

    private long budgetBytes;
    private long lastNs;
    private boolean started;
    private boolean inFlight;
    private boolean resultReady;
    private int result;
    private int fd = -1;
    private long extentId;
    private long position;
    private long end;
    private int readLength;
    private int wholeBlockBytes;
    private boolean inBadRun;
    private long streamId;
    /** Epoch of the last block of this extent verified whole (1 before the first: no block has a lower one). */
    private int lastGoodEpoch;
    private BlockRepairQueue repairQueue;

    /**
     * @param diskIndex      for reports.
     * @param engine         the agent's engine.
     * @param counters       the disk's counters.
     * @param log            where bad blocks are reported.
     * @param bytesPerSecond average scrub rate; positive.
     * @param userData       the tag of the scrubber's completions.
     * @param address        its aligned buffer.
     * @param byteBuffer     the same memory, little-endian.
     */
    DiskScrubber(
        final int diskIndex,
        final IoEngine engine,
        final DiskCounters counters,
        final PrintStream log,
        final long bytesPerSecond,
        final long userData,
        final long address,
        final ByteBuffer byteBuffer)
    {
        this.diskIndex = diskIndex;
        this.engine = engine;
        this.counters = counters;
        this.log = log;
        this.bytesPerSecond = bytesPerSecond;
        this.userData = userData;
        this.address = address;
        this.byteBuffer = byteBuffer;
        this.chunkBytes = byteBuffer.capacity() & -NodeProtocol.BLOCK_ALIGNMENT_BYTES;
        this.view = new UnsafeBuffer(address, byteBuffer.capacity());
    }

    /**
     * @param queue where bad blocks are offered for repair (on every pass they are found bad, so a block whose repair
     *              failed is retried at the scrub rate; the report itself stays once per block).
     */
    void repairQueue(final BlockRepairQueue queue)
    {
        this.repairQueue = queue;
    }

    /**
     * @param fd a file about to be closed.
     * @return whether the scrubber has a read of that file in the kernel (the close must wait).
     */
    boolean reading(final int fd)
    {
        return inFlight && this.fd == fd;
    }

    /**
     * Stops scrubbing a file that is being closed (its descriptor may be reused): the next call moves on.
     *
     * @param fd the file.
     */
    void forget(final int fd)
    {
        if (this.fd == fd && !inFlight)
        {
            position = end;
            resultReady = false;
        }
    }

    /** @return whether a scrub read is in the kernel (its buffer must outlive it). */
    boolean inFlight()
    {
        return inFlight;
    }

    /**
     * @param result the scrub read's completion.
     */
    void onCompletion(final int result)
    {
        this.result = result;
        inFlight = false;
        resultReady = true;
    }

    /**
     * Verify a completed chunk, or start the next read when the rate allows.
     *
     * @param nowNs  the agent's clock.
     * @param sealed where the sealed extents are.
     * @return work done.
     * @throws io.cairn.bindings.NativeIoException when the submission failed.
     */
    int doWork(final long nowNs, final DiskIoAgent.SealedExtents sealed) throws io.cairn.bindings.NativeIoException
    {
        if (resultReady)
        {
            resultReady = false;
            verifyChunk();
            return 1;
        }
        if (inFlight)
        {
            return 0;
        }
        refill(nowNs);
        if (position >= end && !nextExtent(sealed))
        {
            return 0;
        }
        readLength = (int)Math.min(wholeBlockBytes > 0 ? wholeBlockBytes : Math.min(READ_BYTES, chunkBytes),
            end - position);
        wholeBlockBytes = 0;
        if (budgetBytes < readLength || !engine.prepareRead(fd, address, readLength, position, userData, false))
        {
            return 0;
        }
        engine.submit();
        inFlight = true;
        budgetBytes -= readLength;
        return 1;
    }

    private void refill(final long nowNs)
    {
        if (!started)
        {
            started = true;
            lastNs = nowNs;
            return;
        }
        final long elapsedNs = Math.min(MAX_REFILL_NS, Math.max(0, nowNs - lastNs));
        final long earned = bytesPerSecond >= MAX_REFILL_NS ?
            (bytesPerSecond / MAX_REFILL_NS) * elapsedNs : (bytesPerSecond * elapsedNs) / MAX_REFILL_NS;
        if (earned > 0)
        {
            lastNs = nowNs;
            budgetBytes = Math.min(chunkBytes, budgetBytes + earned);
        }
    }

    private boolean nextExtent(final DiskIoAgent.SealedExtents sealed)
    {
        final int next = sealed.nextSealedFd(fd);
        if (next < 0)
        {
            fd = -1;
            return false;
        }
        if (next <= fd)
        {
            counters.scrubPasses.incrementRelease();
        }
        fd = next;
        extentId = sealed.extentId(next);
        streamId = sealed.streamId(next);
        lastGoodEpoch = 1;
        position = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        end = sealed.sealedLength(next);
        inBadRun = false;
        return position < end;
    }

    private void verifyChunk()
    {
        if (result < BlockFormat.BLOCK_HEADER_LENGTH_BYTES)
        {
            counters.ioErrors.increment();
            report(position, result < 0 ? "read error " + result : "short read of " + result + " bytes");
            position = end;
            return;
        }
        counters.scrubbedBytes.getAndAddRelease(result);
        final long chunkStart = position;
        final long chunkEnd = position + result;
        long offset = position;
        while (offset + BlockFormat.BLOCK_HEADER_LENGTH_BYTES <= chunkEnd && offset < end)
        {
            final int at = (int)(offset - chunkStart);
            final int payloadLength = BlockFormat.checkBlockHeader(view, at, extentId, offset);
            if (payloadLength < 0)
            {
                if (!inBadRun)
                {
                    inBadRun = true;
                    report(offset, "block header does not check");
                    offerRepair(offset, 0); // its length is unknown here: the good copy's decides
                }
                offset += NodeProtocol.BLOCK_ALIGNMENT_BYTES;
                continue;
            }
            inBadRun = false;
            final int blockLength = BlockFormat.blockLengthBytes(payloadLength);
            if (offset + blockLength > chunkEnd)
            {
                if (at > 0)
                {
                    break;
                }
                if (blockLength <= chunkBytes && readLength < blockLength && offset + blockLength <= end)
                {
                    wholeBlockBytes = blockLength; // read it again, whole
                    position = offset;
                    return;
                }
                // Written with a larger --max-block-bytes than this buffer holds: skipped, not judged.
                report(offset, "block of " + blockLength + " bytes is larger than the scrub buffer; not verified");
                offset += blockLength;
                continue;
            }
            if (BlockFormat.verifyBlockAt(byteBuffer, view, crc, at, extentId, offset, blockLength) < 0)
            {
                report(offset, "CRC32C mismatch");
                offerRepair(offset, blockLength);
            }
            else
            {
                counters.scrubbedBlocks.incrementRelease();
                lastGoodEpoch = view.getInt(at + BlockFormat.EPOCH_OFFSET, java.nio.ByteOrder.LITTLE_ENDIAN);
            }
            offset += blockLength;
        }
        position = Math.min(Math.max(offset, chunkStart + NodeProtocol.BLOCK_ALIGNMENT_BYTES), end);
    }

    private void offerRepair(final long offset, final int blockLengthHint)
    {
        if (null != repairQueue &&
            !repairQueue.offer(diskIndex, extentId, streamId, offset, blockLengthHint, lastGoodEpoch))
        {
            counters.repairQueueDrops.increment();
        }
    }

    private void report(final long offset, final String why)
    {
        if (!remember(extentId, offset))
        {
            return;
        }
        counters.scrubBadBlocks.incrementRelease();
        counters.corruptBlocks.increment();
        log.println("cairn-node: scrub: BAD BLOCK on disk " + diskIndex + ": extent " + extentId + " offset " + offset +
            ": " + why);
    }

    /** @return true the first time this block is seen (or when the table is full). */
    private boolean remember(final long extent, final long offset)
    {
        final int mask = reportedExtents.length - 1;
        int slot = (int)((extent * 0x9E3779B97F4A7C15L + offset) >>> 40) & mask;
        while (reportedOffsets[slot] != 0)
        {
            if (reportedExtents[slot] == extent && reportedOffsets[slot] == offset)
            {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        if (reportedCount == REPORTED_CAPACITY)
        {
            if (!reportedFull)
            {
                reportedFull = true;
                log.println("cairn-node: scrub: more than " + REPORTED_CAPACITY + " bad blocks on disk " + diskIndex +
                    "; further ones are reported on every pass");
            }
            return true;
        }
        reportedExtents[slot] = extent;
        reportedOffsets[slot] = offset;
        reportedCount++;
        return true;
    }
}
