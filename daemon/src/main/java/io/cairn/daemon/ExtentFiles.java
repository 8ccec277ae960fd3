package io.cairn.daemon;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.BlockIndex;
import io.cairn.replication.NodeProtocol;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Where extent files live and how they are recovered at start.
 * <p>
 * One file per extent, {@code <dataDir>/extents/<extentId>.ext}, in the format of {@link BlockFormat}.
 * Recovery of one extent:
 * <ol>
 *   <li>Read the header page: the header must be valid (else the file is skipped, with the reason); the
 *       newer valid state slot gives the epoch, the sealed state and the last durable checkpoint.</li>
 *   <li>Up to the checkpoint (or the sealed length), walk the block headers only, to rebuild the index:
 *       those blocks were durable when the checkpoint was written; their CRCs are checked lazily on read and
 *       by the scrubber. A bad header there is corruption of acknowledged data: the range up to the
 *       checkpoint is reported and answers CORRUPT; the commit length does not shrink.</li>
 *   <li>Unsealed extents only: from the checkpoint, verify every block (magic, length, extentId,
 *       blockOffset, CRC32C, epoch not below the previous block's). The first invalid block ends the
 *       extent: a torn or partial tail is cut to the last whole block.</li>
 *   <li>Unsealed extents only: write a new state slot (epoch + 1, checkpoint = the recovered length) and
 *       fdatasync before serving. Every later block carries the new epoch, so a stale block beyond the cut
 *       can never be taken for part of the extent by a later recovery.</li>
 * </ol>
 */
public final class ExtentFiles
{
    /** Sub-directory of a data directory that holds the extent files. */
    public static final String EXTENTS_DIR = "extents";
    /** File name suffix of an extent file. */
    public static final String SUFFIX = ".ext";
    /** Recovery reads this much at a time (and so can hold the largest block). */
    static final int SCAN_CHUNK_BYTES = BlockFormat.STORE_MAX_BLOCK_LENGTH_BYTES;

    private ExtentFiles()
    {
    }

    /**
     * @param dataDir  a data directory.
     * @param extentId an extent.
     * @return the extent's file.
     */
    public static Path path(final Path dataDir, final long extentId)
    {
        return dataDir.resolve(EXTENTS_DIR).resolve(extentId + SUFFIX);
    }

    /**
     * Recover every extent of one data directory (creating its extents directory if absent).
     *
     * @param storage   the file system.
     * @param dataDir   the data directory.
     * @param diskIndex its index.
     * @param log       where to report each extent found.
     * @return the valid extents, with their files open.
     * @throws IOException when the directory cannot be read, or a file cannot be opened, read or written.
     */
    public static List<RecoveredExtent> recover(
        final DiskStorage storage, final Path dataDir, final int diskIndex, final PrintStream log) throws IOException
    {
        final Path dir = dataDir.resolve(EXTENTS_DIR);
        storage.createDirectories(dir);
        final List<RecoveredExtent> extents = new ArrayList<>();
        try (AlignedBufferPool pool = new AlignedBufferPool(1, SCAN_CHUNK_BYTES);
            IoEngine engine = storage.newEngine(4))
        {
            final int bufferIndex = pool.acquire();
            final Scanner scanner = new Scanner(storage, engine, pool.address(bufferIndex),
                pool.segment(bufferIndex).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
            for (final Path file : storage.list(dir, SUFFIX))
            {
                final String name = file.getFileName().toString();
                final long extentId;
                try
                {
                    extentId = Long.parseLong(name.substring(0, name.length() - SUFFIX.length()));
                }
                catch (final NumberFormatException ex)
                {
                    log.println("cairn-node: skipping " + file + ": not an extent file name");
                    continue;
                }
                final RecoveredExtent extent = scanner.recover(file, extentId, diskIndex, log);
                if (null != extent)
                {
                    log.println("cairn-node: recovered extent " + extentId + " commitLength=" + extent.commitLength() +
                        " blocks=" + extent.index().count() + " epoch=" + extent.state().epoch +
                        (extent.sealed() ? " sealed" : "") + " in " + dataDir);
                    extents.add(extent);
                }
            }
        }
        if (!extents.isEmpty())
        {
            // A file whose create was never acknowledged can survive a crash without its directory entry being
            // durable; once recovered it is served (and written), so its entry must be durable before that.
            storage.syncDirectory(dir);
        }
        return extents;
    }

    private static final class Scanner implements IoRing.CompletionHandler
    {
        private final DiskStorage storage;
        private final IoEngine engine;
        private final long address;
        private final ByteBuffer byteBuffer;
        private final UnsafeBuffer view;
        private final CRC32C crc = new CRC32C();
        private int result;
        private int syncResult;
        private long chunkStart = -1;
        private int chunkLength;
        /** End of the last whole record seen by the current scan (a block flagged RECORD_LAST ends there). */
        private long lastRecordEnd;

        Scanner(final DiskStorage storage, final IoEngine engine, final long address, final ByteBuffer byteBuffer)
        {
            this.storage = storage;
            this.engine = engine;
            this.address = address;
            this.byteBuffer = byteBuffer;
            this.view = new UnsafeBuffer(address, byteBuffer.capacity());
        }

        public void onCompletion(final long userData, final int result)
        {
            if (userData == 1)
            {
                syncResult = result;
            }
            else
            {
                this.result = result;
            }
        }

        RecoveredExtent recover(final Path file, final long extentId, final int diskIndex, final PrintStream log)
            throws IOException
        {
            final int fd = storage.open(file, false);
            try
            {
                final RecoveredExtent extent = scan(file, fd, extentId, diskIndex, log);
                if (null == extent)
                {
                    storage.close(fd);
                }
                return extent;
            }
            catch (final IOException | RuntimeException ex)
            {
                storage.close(fd);
                throw ex;
            }
        }

        private RecoveredExtent scan(
            final Path file, final int fd, final long extentId, final int diskIndex, final PrintStream log)
            throws IOException
        {
            chunkStart = -1;
            final long fileSize = storage.fileSizeBytes(fd);
            final BlockFormat.ExtentHeaderPage header = new BlockFormat.ExtentHeaderPage();
            if (fileSize < BlockFormat.EXTENT_HEADER_LENGTH_BYTES ||
                read(fd, 0, BlockFormat.EXTENT_HEADER_LENGTH_BYTES) != BlockFormat.EXTENT_HEADER_LENGTH_BYTES)
            {
                log.println("cairn-node: skipping " + file + ": shorter than an extent header (size " + fileSize + ")");
                return null;
            }
            final String why = header.decode(byteBuffer, view, crc, extentId);
            if (null != why)
            {
                log.println("cairn-node: skipping " + file + ": " + why);
                return null;
            }
            final BlockFormat.ExtentStatePage state = new BlockFormat.ExtentStatePage();
            if (!state.decodeNewest(byteBuffer, view, crc, extentId))
            {
                // Both slots unreadable (a torn first write, or damage): scan everything from the first block.
                log.println("cairn-node: " + file + ": no valid state slot; scanning from the first block");
                state.set(0, extentId, 0, false, BlockFormat.EXTENT_HEADER_LENGTH_BYTES, -1);
            }
            final long limit = Math.min(fileSize, header.extentSizeBytes) & -NodeProtocol.BLOCK_ALIGNMENT_BYTES;
            final BlockIndex index = new BlockIndex(256);
            final long trusted = state.sealed ? state.sealedLength : state.checkpointLength;
            final Walk walk = walkHeaders(fd, extentId, Math.min(trusted, limit), state.epoch, index);
            long corruptFrom = -1;
            if (walk.end < trusted)
            {
                corruptFrom = walk.end;
                log.println("cairn-node: CORRUPTION in " + file + ": block header at " + walk.end +
                    " is invalid below the durable " + (state.sealed ? "sealed length " : "checkpoint ") + trusted +
                    "; [" + walk.end + ", " + trusted + ") answers CORRUPT");
            }
            if (state.sealed)
            {
                return new RecoveredExtent(extentId, header.streamId, diskIndex, fd, state.sealedLength,
                    header.extentSizeBytes, fileSize, index, header, state, null, corruptFrom, trusted);
            }
            if (corruptFrom >= 0)
            {
                // Headers below the checkpoint are damaged, so record ends there are unknown: keep the checkpoint.
                lastRecordEnd = trusted;
            }
            final long blocksEnd = verifyTail(fd, extentId, Math.max(trusted, walk.end), limit, walk.maxEpoch, index);
            // Only whole records are ever acknowledged: a tail that ends inside a record is cut to its start.
            final long end = lastRecordEnd;
            index.truncate(end);
            if (end < blocksEnd)
            {
                log.println("cairn-node: " + file + ": partial record [" + end + ", " + blocksEnd + ") cut at recovery");
            }
            if (blocksEnd < limit && blocksEnd > trusted)
            {
                log.println("cairn-node: " + file + ": tail cut at " + blocksEnd + " (the block there is torn or absent)");
            }
            final BlockFormat.ExtentStatePage previous = new BlockFormat.ExtentStatePage().copyFrom(state);
            final BlockFormat.ExtentStatePage next = new BlockFormat.ExtentStatePage().set(state.sequence + 1, extentId,
                Math.max(state.epoch, walk.maxEpoch) + 1, false, end, -1);
            writeState(fd, header, next, state.sequence > 0 ? previous : null);
            return new RecoveredExtent(extentId, header.streamId, diskIndex, fd, end, header.extentSizeBytes, fileSize,
                index, header, next, state.sequence > 0 ? previous : null, corruptFrom, trusted);
        }

        private record Walk(long end, int maxEpoch)
        {
        }

        /**
         * Header-only walk of the checkpointed prefix (CRCs are verified on every read, not here). A header whose
         * epoch exceeds the durable state's is damaged (every block is written under an epoch the state already
         * holds): it ends the walk like any bad header, so a flipped epoch bit cannot raise the epoch that the
         * tail beyond the checkpoint is checked against (which would cut acknowledged blocks).
         */
        private Walk walkHeaders(
            final int fd, final long extentId, final long trusted, final int stateEpoch, final BlockIndex index)
            throws NativeIoException
        {
            long offset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
            int epoch = 0;
            lastRecordEnd = offset;
            while (offset < trusted)
            {
                if (!ensure(fd, offset, BlockFormat.BLOCK_HEADER_LENGTH_BYTES, trusted))
                {
                    break;
                }
                final int at = (int)(offset - chunkStart);
                final int payloadLength = BlockFormat.checkBlockHeader(view, at, extentId, offset);
                final int blockEpoch = view.getInt(at + 28, ByteOrder.LITTLE_ENDIAN);
                if (payloadLength < 0 || blockEpoch < epoch || blockEpoch > stateEpoch ||
                    offset + BlockFormat.blockLengthBytes(payloadLength) > trusted)
                {
                    break;
                }
                epoch = blockEpoch;
                index.add(offset, payloadLength);
                offset += BlockFormat.blockLengthBytes(payloadLength);
                lastRecordEnd = (BlockFormat.recordFlags(view, at) & BlockFormat.RECORD_LAST) != 0 ? offset : lastRecordEnd;
            }
            return new Walk(offset, epoch);
        }

        /**
         * Full verification from the checkpoint: returns the end of the last whole valid block, and leaves the end of
         * the last whole record in {@link #lastRecordEnd}.
         */
        private long verifyTail(
            final int fd, final long extentId, final long from, final long limit, final int minEpoch,
            final BlockIndex index) throws NativeIoException
        {
            long offset = from;
            int epoch = minEpoch;
            while (offset + NodeProtocol.BLOCK_ALIGNMENT_BYTES <= limit)
            {
                if (!ensure(fd, offset, BlockFormat.BLOCK_HEADER_LENGTH_BYTES, limit))
                {
                    break;
                }
                int at = (int)(offset - chunkStart);
                final int payloadLength = BlockFormat.checkBlockHeader(view, at, extentId, offset);
                if (payloadLength < 0)
                {
                    break;
                }
                final int blockLength = BlockFormat.blockLengthBytes(payloadLength);
                if (offset + blockLength > limit || !ensure(fd, offset, blockLength, limit))
                {
                    break;
                }
                at = (int)(offset - chunkStart);
                final int blockEpoch = view.getInt(at + 28, ByteOrder.LITTLE_ENDIAN);
                if (blockEpoch < epoch ||
                    BlockFormat.verifyBlockAt(byteBuffer, view, crc, at, extentId, offset, blockLength) < 0)
                {
                    break;
                }
                epoch = blockEpoch;
                index.add(offset, payloadLength);
                offset += blockLength;
                lastRecordEnd = (BlockFormat.recordFlags(view, at) & BlockFormat.RECORD_LAST) != 0 ? offset : lastRecordEnd;
            }
            return offset;
        }

        /** Make [offset, offset + length) available in the chunk buffer; false when the file is too short. */
        private boolean ensure(final int fd, final long offset, final int length, final long limit)
            throws NativeIoException
        {
            if (chunkStart >= 0 && offset >= chunkStart && offset + length <= chunkStart + chunkLength)
            {
                return true;
            }
            final int want = (int)Math.min(SCAN_CHUNK_BYTES, limit - offset);
            if (want < length)
            {
                return false;
            }
            final int got = read(fd, offset, want);
            chunkStart = offset;
            chunkLength = Math.max(0, got);
            return chunkLength >= length;
        }

        private void writeState(
            final int fd,
            final BlockFormat.ExtentHeaderPage header,
            final BlockFormat.ExtentStatePage next,
            final BlockFormat.ExtentStatePage previous) throws NativeIoException
        {
            chunkStart = -1;
            BlockFormat.encodeHeaderPage(byteBuffer, view, crc, header, next, previous);
            result = Integer.MIN_VALUE;
            syncResult = Integer.MIN_VALUE;
            engine.prepareWrite(fd, address, BlockFormat.EXTENT_HEADER_LENGTH_BYTES, 0, 0, true);
            engine.prepareFdatasync(fd, 1, false);
            engine.submit();
            int reaped = 0;
            while (reaped < 2)
            {
                reaped += engine.reap(this, 2 - reaped);
            }
            if (result != BlockFormat.EXTENT_HEADER_LENGTH_BYTES || syncResult != 0)
            {
                throw new NativeIoException("writing the recovered state", result < 0 ? -result : -syncResult, fd, 0,
                    null);
            }
        }

        private int read(final int fd, final long offset, final int length) throws NativeIoException
        {
            result = 0;
            engine.prepareRead(fd, address, length, offset, 0, false);
            engine.submit();
            int reaped = 0;
            while (reaped < 1)
            {
                reaped += engine.reap(this, 1);
            }
            return result;
        }
    }
}
