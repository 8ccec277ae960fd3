package io.cairn.daemon;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIo;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.BlockIndex;
import io.cairn.replication.NodeProtocol;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Where extent files live and how they are recovered at start.
 * <p>
 * One file per extent, {@code <dataDir>/extents/<extentId>.ext}, in the format of {@link BlockFormat}.
 * Recovery reads each file from the first block, verifying every block (magic, length, extentId,
 * blockOffset, CRC32C); the commit length is the end of the last valid block, so a torn tail, or zeroes,
 * ends the extent. The page after the commit length is then zeroed and synced, so stale bytes of a torn
 * write can never be mistaken for a block later.
 */
public final class ExtentFiles
{
    /** Sub-directory of a data directory that holds the extent files. */
    public static final String EXTENTS_DIR = "extents";
    /** File name suffix of an extent file. */
    public static final String SUFFIX = ".ext";

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
     * @param dataDir   the data directory.
     * @param diskIndex its index.
     * @param log       where to report each extent found.
     * @return the valid extents, with their files open.
     * @throws IOException when the directory cannot be read or a file cannot be opened or read.
     */
    public static List<RecoveredExtent> recover(final Path dataDir, final int diskIndex, final PrintStream log)
        throws IOException
    {
        final Path dir = dataDir.resolve(EXTENTS_DIR);
        Files.createDirectories(dir);
        final List<RecoveredExtent> extents = new ArrayList<>();
        try (AlignedBufferPool pool = new AlignedBufferPool(1, BlockFormat.MAX_BLOCK_LENGTH_BYTES);
            IoRing ring = new IoRing(4);
            DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX))
        {
            final int bufferIndex = pool.acquire();
            final Scanner scanner = new Scanner(ring, pool.address(bufferIndex),
                pool.segment(bufferIndex).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
            for (final Path file : files)
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
                final RecoveredExtent extent = scanner.scan(file, extentId, diskIndex, log);
                if (null != extent)
                {
                    log.println("cairn-node: recovered extent " + extentId + " commitLength=" + extent.commitLength() +
                        " blocks=" + extent.index().count() + " in " + dataDir);
                    extents.add(extent);
                }
            }
        }
        return extents;
    }

    private static final class Scanner implements IoRing.CompletionHandler
    {
        private final IoRing ring;
        private final long address;
        private final ByteBuffer byteBuffer;
        private final UnsafeBuffer view;
        private final CRC32C crc = new CRC32C();
        private int result;

        Scanner(final IoRing ring, final long address, final ByteBuffer byteBuffer)
        {
            this.ring = ring;
            this.address = address;
            this.byteBuffer = byteBuffer;
            this.view = new UnsafeBuffer(address, byteBuffer.capacity());
        }

        public void onCompletion(final long userData, final int result)
        {
            this.result = result;
        }

        RecoveredExtent scan(final Path file, final long extentId, final int diskIndex, final PrintStream log)
            throws NativeIoException
        {
            final int fd = NativeIo.openDirect(file, false);
            final long fileSize = NativeIo.fileSizeBytes(fd);
            if (fileSize < 2L * NodeProtocol.BLOCK_ALIGNMENT_BYTES ||
                read(fd, 0, BlockFormat.EXTENT_HEADER_LENGTH_BYTES) != BlockFormat.EXTENT_HEADER_LENGTH_BYTES ||
                null != BlockFormat.verifyExtentHeader(byteBuffer, view, crc, extentId))
            {
                log.println("cairn-node: skipping " + file + ": invalid extent header (size " + fileSize + ")");
                NativeIo.close(fd);
                return null;
            }
            final long streamId = BlockFormat.headerStreamId(view);
            final BlockIndex index = new BlockIndex(256);
            long offset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
            while (offset + NodeProtocol.BLOCK_ALIGNMENT_BYTES <= fileSize)
            {
                final int blockLength = validBlockLength(fd, extentId, offset, fileSize);
                if (blockLength < 0)
                {
                    break;
                }
                index.add(offset, BlockFormat.payloadLengthField(view));
                offset += blockLength;
            }
            if (offset + NodeProtocol.BLOCK_ALIGNMENT_BYTES <= fileSize)
            {
                zeroPage(fd, offset);
            }
            return new RecoveredExtent(extentId, streamId, diskIndex, fd, offset, fileSize, index);
        }

        private int validBlockLength(final int fd, final long extentId, final long offset, final long fileSize)
            throws NativeIoException
        {
            if (read(fd, offset, NodeProtocol.BLOCK_ALIGNMENT_BYTES) != NodeProtocol.BLOCK_ALIGNMENT_BYTES)
            {
                return -1;
            }
            final int payloadLength = BlockFormat.payloadLengthField(view);
            if (payloadLength <= 0 || payloadLength > NodeProtocol.MAX_PAYLOAD_BYTES)
            {
                return -1;
            }
            final int blockLength = BlockFormat.blockLengthBytes(payloadLength);
            if (offset + blockLength > fileSize ||
                (blockLength > NodeProtocol.BLOCK_ALIGNMENT_BYTES && read(fd, offset, blockLength) != blockLength))
            {
                return -1;
            }
            return BlockFormat.verifyBlock(byteBuffer, view, crc, extentId, offset, blockLength) >= 0 ? blockLength : -1;
        }

        private void zeroPage(final int fd, final long offset) throws NativeIoException
        {
            view.setMemory(0, NodeProtocol.BLOCK_ALIGNMENT_BYTES, (byte)0);
            ring.prepareWrite(fd, address, NodeProtocol.BLOCK_ALIGNMENT_BYTES, offset, 0, true);
            ring.prepareFdatasync(fd, 1, false);
            ring.submit();
            int reaped = 0;
            while (reaped < 2)
            {
                reaped += ring.reap(this, 1);
                if (result < 0)
                {
                    throw new NativeIoException("zeroing the page after the commit length", -result, fd, offset, null);
                }
            }
        }

        private int read(final int fd, final long offset, final int length) throws NativeIoException
        {
            result = 0;
            ring.prepareRead(fd, address, length, offset, 0, false);
            ring.submit();
            ring.reap(this, 1);
            return result;
        }
    }
}
