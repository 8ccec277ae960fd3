package io.cairn.replication;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The on-disk format of an extent, shared by every {@link ReplicaStore} implementation.
 * <p>
 * One file per extent, {@code <dataDir>/extents/<extentId>.ext}, preallocated to the extent size limit.
 * All integers little-endian.
 * <pre>
 * Extent header, bytes [0, 4096):
 *   0  int   EXTENT_MAGIC      0x4E524143 ("CARN")
 *   4  int   FORMAT_VERSION    1
 *   8  long  extentId
 *  16  long  streamId
 *  24  long  extentSizeBytes   the preallocated length
 *  32  int   CRC32C over bytes [0, 32)
 *  36..4096  zero
 * Block, starting at a multiple of 4096 (the first at 4096):
 *   0  int   BLOCK_MAGIC       0x4B4C4243 ("CBLK")
 *   4  int   payloadLength     1..MAX_PAYLOAD_BYTES
 *   8  long  extentId
 *  16  long  blockOffset       this block's own offset in the extent
 *  24  int   CRC32C over [0, 32 + payloadLength) computed with this field zeroed
 *  28  int   reserved, zero
 *  32  payload, then zero padding up to the next multiple of 4096
 * </pre>
 * A block is valid only when magic, length, extentId, blockOffset and CRC all match, so a torn write,
 * a misdirected write or zeroed (never written) space all end the extent at recovery.
 * <p>
 * The buffers passed in are direct {@link ByteBuffer}s in little-endian order plus an Agrona view of the
 * same memory; CRC32C is computed with {@link CRC32C#update(ByteBuffer)} (intrinsic, no copy).
 */
public final class BlockFormat
{
    /** Magic of the extent header: "CARN". */
    public static final int EXTENT_MAGIC = 0x4E524143;
    /** Magic of a block header: "CBLK". */
    public static final int BLOCK_MAGIC = 0x4B4C4243;
    /** Format version written in the extent header. */
    public static final int FORMAT_VERSION = 1;
    /** Length of the extent header region; the first block starts here. */
    public static final int EXTENT_HEADER_LENGTH_BYTES = NodeProtocol.BLOCK_ALIGNMENT_BYTES;
    /** Length of a block header. */
    public static final int BLOCK_HEADER_LENGTH_BYTES = 32;
    /** Largest block: header plus the largest payload, aligned. */
    public static final int MAX_BLOCK_LENGTH_BYTES = blockLengthBytes(NodeProtocol.MAX_PAYLOAD_BYTES);

    static final int MAGIC_OFFSET = 0;
    static final int PAYLOAD_LENGTH_OFFSET = 4;
    static final int EXTENT_ID_OFFSET = 8;
    static final int BLOCK_OFFSET_OFFSET = 16;
    static final int CRC_OFFSET = 24;

    static final int HEADER_VERSION_OFFSET = 4;
    static final int HEADER_STREAM_ID_OFFSET = 16;
    static final int HEADER_SIZE_OFFSET = 24;
    static final int HEADER_CRC_OFFSET = 32;

    private BlockFormat()
    {
    }

    /**
     * @param payloadLengthBytes payload length.
     * @return the on-disk length of a block carrying it: header + payload rounded up to 4 KiB.
     */
    public static int blockLengthBytes(final int payloadLengthBytes)
    {
        final int raw = BLOCK_HEADER_LENGTH_BYTES + payloadLengthBytes;
        return (raw + NodeProtocol.BLOCK_ALIGNMENT_BYTES - 1) & -NodeProtocol.BLOCK_ALIGNMENT_BYTES;
    }

    /**
     * Encode a block at index 0 of {@code buffer}: header, payload copied once from {@code src}, padding.
     *
     * @param byteBuffer direct little-endian buffer, at least {@link #blockLengthBytes(int)} long.
     * @param view       Agrona view of the same memory.
     * @param crc        reusable checksum.
     * @param extentId   extent the block belongs to.
     * @param blockOffset where the block will be written.
     * @param src        payload source.
     * @param srcOffset  payload offset in src.
     * @param payloadLengthBytes payload length, 1..MAX_PAYLOAD_BYTES.
     * @return the block length written (a multiple of 4096).
     */
    public static int encodeBlock(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long blockOffset,
        final DirectBuffer src,
        final int srcOffset,
        final int payloadLengthBytes)
    {
        Verify.verify(payloadLengthBytes > 0 && payloadLengthBytes <= NodeProtocol.MAX_PAYLOAD_BYTES,
            "payload length out of range", payloadLengthBytes);
        Verify.verify((blockOffset & (NodeProtocol.BLOCK_ALIGNMENT_BYTES - 1)) == 0 &&
            blockOffset >= EXTENT_HEADER_LENGTH_BYTES, "block offset not aligned", blockOffset);
        final int blockLength = blockLengthBytes(payloadLengthBytes);
        Verify.verify(view.capacity() >= blockLength, "buffer too small for block", blockLength);

        view.putInt(MAGIC_OFFSET, BLOCK_MAGIC, ByteOrder.LITTLE_ENDIAN);
        view.putInt(PAYLOAD_LENGTH_OFFSET, payloadLengthBytes, ByteOrder.LITTLE_ENDIAN);
        view.putLong(EXTENT_ID_OFFSET, extentId, ByteOrder.LITTLE_ENDIAN);
        view.putLong(BLOCK_OFFSET_OFFSET, blockOffset, ByteOrder.LITTLE_ENDIAN);
        view.putInt(CRC_OFFSET, 0, ByteOrder.LITTLE_ENDIAN);
        view.putInt(CRC_OFFSET + 4, 0, ByteOrder.LITTLE_ENDIAN);
        src.getBytes(srcOffset, view, BLOCK_HEADER_LENGTH_BYTES, payloadLengthBytes);
        final int end = BLOCK_HEADER_LENGTH_BYTES + payloadLengthBytes;
        view.setMemory(end, blockLength - end, (byte)0);
        view.putInt(CRC_OFFSET, checksum(byteBuffer, crc, 0, end), ByteOrder.LITTLE_ENDIAN);
        return blockLength;
    }

    /**
     * Verify a block read into index 0 of the buffer.
     *
     * @param byteBuffer  direct little-endian buffer holding the block.
     * @param view        Agrona view of the same memory.
     * @param crc         reusable checksum.
     * @param extentId    the extent it must belong to.
     * @param blockOffset the offset it must have been written at.
     * @param availableBytes how many bytes of the buffer hold data read from disk.
     * @return the payload length when valid, -1 when not (torn, zeroes, misdirected or corrupt).
     */
    public static int verifyBlock(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long blockOffset,
        final int availableBytes)
    {
        if (availableBytes < BLOCK_HEADER_LENGTH_BYTES ||
            view.getInt(MAGIC_OFFSET, ByteOrder.LITTLE_ENDIAN) != BLOCK_MAGIC)
        {
            return -1;
        }
        final int payloadLength = view.getInt(PAYLOAD_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
        if (payloadLength <= 0 || payloadLength > NodeProtocol.MAX_PAYLOAD_BYTES ||
            BLOCK_HEADER_LENGTH_BYTES + payloadLength > availableBytes ||
            view.getLong(EXTENT_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) != extentId ||
            view.getLong(BLOCK_OFFSET_OFFSET, ByteOrder.LITTLE_ENDIAN) != blockOffset)
        {
            return -1;
        }
        final int storedCrc = view.getInt(CRC_OFFSET, ByteOrder.LITTLE_ENDIAN);
        view.putInt(CRC_OFFSET, 0, ByteOrder.LITTLE_ENDIAN);
        final int computed = checksum(byteBuffer, crc, 0, BLOCK_HEADER_LENGTH_BYTES + payloadLength);
        view.putInt(CRC_OFFSET, storedCrc, ByteOrder.LITTLE_ENDIAN);
        return computed == storedCrc ? payloadLength : -1;
    }

    /**
     * @param view block buffer.
     * @return the payload length field of a block header (unverified).
     */
    public static int payloadLengthField(final DirectBuffer view)
    {
        return view.getInt(PAYLOAD_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Encode the 4 KiB extent header at index 0.
     *
     * @param byteBuffer      direct little-endian buffer of at least 4096 bytes.
     * @param view            Agrona view of the same memory.
     * @param crc             reusable checksum.
     * @param extentId        extent id.
     * @param streamId        stream the extent belongs to.
     * @param extentSizeBytes preallocated size of the file.
     */
    public static void encodeExtentHeader(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long streamId,
        final long extentSizeBytes)
    {
        view.setMemory(0, EXTENT_HEADER_LENGTH_BYTES, (byte)0);
        view.putInt(MAGIC_OFFSET, EXTENT_MAGIC, ByteOrder.LITTLE_ENDIAN);
        view.putInt(HEADER_VERSION_OFFSET, FORMAT_VERSION, ByteOrder.LITTLE_ENDIAN);
        view.putLong(EXTENT_ID_OFFSET, extentId, ByteOrder.LITTLE_ENDIAN);
        view.putLong(HEADER_STREAM_ID_OFFSET, streamId, ByteOrder.LITTLE_ENDIAN);
        view.putLong(HEADER_SIZE_OFFSET, extentSizeBytes, ByteOrder.LITTLE_ENDIAN);
        view.putInt(HEADER_CRC_OFFSET, checksum(byteBuffer, crc, 0, HEADER_CRC_OFFSET), ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param byteBuffer direct little-endian buffer holding the first 4096 bytes of an extent file.
     * @param view       Agrona view of the same memory.
     * @param crc        reusable checksum.
     * @param extentId   the extent id expected (from the file name).
     * @return null when valid, else why not.
     */
    public static String verifyExtentHeader(
        final ByteBuffer byteBuffer, final MutableDirectBuffer view, final CRC32C crc, final long extentId)
    {
        if (view.getInt(MAGIC_OFFSET, ByteOrder.LITTLE_ENDIAN) != EXTENT_MAGIC)
        {
            return "bad extent magic";
        }
        if (view.getInt(HEADER_VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN) != FORMAT_VERSION)
        {
            return "unsupported format version " + view.getInt(HEADER_VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN);
        }
        if (checksum(byteBuffer, crc, 0, HEADER_CRC_OFFSET) != view.getInt(HEADER_CRC_OFFSET, ByteOrder.LITTLE_ENDIAN))
        {
            return "extent header CRC mismatch";
        }
        if (view.getLong(EXTENT_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) != extentId)
        {
            return "extent header names extent " + view.getLong(EXTENT_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
        }
        return null;
    }

    /**
     * @param view extent header buffer (verified).
     * @return the stream id recorded in the header.
     */
    public static long headerStreamId(final DirectBuffer view)
    {
        return view.getLong(HEADER_STREAM_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    private static int checksum(final ByteBuffer byteBuffer, final CRC32C crc, final int from, final int to)
    {
        crc.reset();
        byteBuffer.limit(to).position(from);
        crc.update(byteBuffer);
        byteBuffer.clear();
        return (int)crc.getValue();
    }
}
