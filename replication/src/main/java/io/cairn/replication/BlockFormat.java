package io.cairn.replication;

import io.cairn.sbe.disk.BooleanType;
import io.cairn.sbe.disk.ExtentHeaderDecoder;
import io.cairn.sbe.disk.ExtentHeaderEncoder;
import io.cairn.sbe.disk.ExtentStateDecoder;
import io.cairn.sbe.disk.ExtentStateEncoder;
import io.cairn.sbe.disk.MessageHeaderDecoder;
import io.cairn.sbe.disk.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The on-disk format of an extent, shared by every {@link ReplicaStore} implementation.
 * docs/internals/extent-format.md is the full description; this is the authoritative code.
 * <p>
 * One file per extent, {@code <dataDir>/extents/<extentId>.ext}. All integers little-endian.
 * <pre>
 * Header page, bytes [0, 4096):
 *      0  ExtentHeader (SBE, schema 300): magic, formatVersion 2, maxBlockLengthBytes, extentId, streamId,
 *         extentSizeBytes, crc32c. Written once; every later rewrite of the page carries identical bytes
 *         here, so a write torn at sector granularity cannot damage it.
 *   1024  ExtentState slot 0 \ (SBE): sequence, extentId, epoch, sealed, checkpointLength, sealedLength,
 *   2048  ExtentState slot 1 /  crc32c. A rewrite changes only slot (sequence % 2); the valid slot with
 *                              the larger sequence is the extent's state.
 * Block, starting at a multiple of 4096 (the first at 4096):
 *   0  int   BLOCK_MAGIC       0x4B4C4243 ("CBLK")
 *   4  int   payloadLength     1..STORE_MAX_PAYLOAD_BYTES
 *   8  long  extentId
 *  16  long  blockOffset       this block's own offset in the extent
 *  24  int   CRC32C over [0, 32 + payloadLength) computed with this field zeroed
 *  28  int   epoch             the extent's epoch when written; never decreases along the extent
 *  32  byte  recordFlags       RECORD_FIRST (1) | RECORD_LAST (2), 0 in a middle block (format 3)
 *  33  byte  metadataLength    0..MAX_USER_METADATA_BYTES; non-zero only on a record's first block
 *  34  6 bytes zero
 *  40  64 bytes user metadata  (metadataLength used, the rest zero)
 * 104  24 bytes zero (reserved)
 * 128  payload, then zero padding up to the next multiple of 4096
 * </pre>
 * A record (one append) is 1..N consecutive blocks, the first flagged FIRST and the last LAST (a one-block
 * record carries both). A replica's commit length only ever lands just past a LAST block, so a record is
 * visible whole or not at all; recovery cuts a tail that ends inside a record.
 * A block is valid only when magic, length, extentId, blockOffset and CRC all match and its epoch is not
 * below the previous block's, so a torn write, a misdirected write, zeroed space, or a stale block left
 * beyond an earlier truncation all end the extent at recovery.
 * <p>
 * The buffers passed in are direct {@link ByteBuffer}s in little-endian order plus an Agrona view of the
 * same memory; CRC32C is computed with {@link CRC32C#update(ByteBuffer)} (intrinsic, no copy).
 */
public final class BlockFormat
{
    /** Magic of a block header: "CBLK". */
    public static final int BLOCK_MAGIC = 0x4B4C4243;
    /** Magic of the extent header: "CAIRNEXT". */
    public static final long EXTENT_MAGIC = 0x5458454E52494143L;
    /**
     * Extent format version written in the extent header (1 was the walking skeleton's fixed header, 2 had
     * 32-byte block headers without record framing or user metadata).
     */
    public static final int FORMAT_VERSION = 3;
    /** Flag of a record's first block. */
    public static final int RECORD_FIRST = 1;
    /** Flag of a record's last block. */
    public static final int RECORD_LAST = 2;
    /** Flags of a one-block record. */
    public static final int RECORD_WHOLE = RECORD_FIRST | RECORD_LAST;
    /** Length of the extent header region; the first block starts here. */
    public static final int EXTENT_HEADER_LENGTH_BYTES = NodeProtocol.BLOCK_ALIGNMENT_BYTES;
    /** Length of a block header (format 3; format 2's was 32). */
    public static final int BLOCK_HEADER_LENGTH_BYTES = 128;
    /** Where the user metadata starts in a block header. */
    public static final int METADATA_OFFSET = 40;
    /** Largest block the wire can carry: header plus the largest network payload, aligned. */
    public static final int MAX_BLOCK_LENGTH_BYTES = blockLengthBytes(NodeProtocol.MAX_PAYLOAD_BYTES);
    /** Largest block the store format allows (4 MiB, header included); a store may configure less. */
    public static final int STORE_MAX_BLOCK_LENGTH_BYTES = 4 * 1024 * 1024;
    /** Largest payload of a block in the store format. */
    public static final int STORE_MAX_PAYLOAD_BYTES = STORE_MAX_BLOCK_LENGTH_BYTES - BLOCK_HEADER_LENGTH_BYTES;
    /** Where the two state slots of the header page start. */
    public static final int STATE_SLOT_OFFSET_0 = 1024;
    /** See {@link #STATE_SLOT_OFFSET_0}. */
    public static final int STATE_SLOT_OFFSET_1 = 2048;

    static final int MAGIC_OFFSET = 0;
    static final int PAYLOAD_LENGTH_OFFSET = 4;
    static final int EXTENT_ID_OFFSET = 8;
    static final int BLOCK_OFFSET_OFFSET = 16;
    static final int CRC_OFFSET = 24;
    public static final int EPOCH_OFFSET = 28;
    static final int RECORD_FLAGS_OFFSET = 32;
    static final int METADATA_LENGTH_OFFSET = 33;

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
        return encodeBlock(byteBuffer, view, crc, extentId, blockOffset, 0, src, srcOffset, payloadLengthBytes);
    }

    /**
     * As {@link #encodeBlock(ByteBuffer, MutableDirectBuffer, CRC32C, long, long, DirectBuffer, int, int)},
     * with the extent's current epoch recorded in the block.
     *
     * @param byteBuffer direct little-endian buffer, at least {@link #blockLengthBytes(int)} long.
     * @param view       Agrona view of the same memory.
     * @param crc        reusable checksum.
     * @param extentId   extent the block belongs to.
     * @param blockOffset where the block will be written.
     * @param epoch      the extent's epoch.
     * @param src        payload source.
     * @param srcOffset  payload offset in src.
     * @param payloadLengthBytes payload length, 1..STORE_MAX_PAYLOAD_BYTES.
     * @return the block length written (a multiple of 4096).
     */
    public static int encodeBlock(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long blockOffset,
        final int epoch,
        final DirectBuffer src,
        final int srcOffset,
        final int payloadLengthBytes)
    {
        return encodeBlock(byteBuffer, view, crc, extentId, blockOffset, epoch, RECORD_WHOLE, null, 0, 0, src,
            srcOffset, payloadLengthBytes);
    }

    /**
     * Encode one block of a record, with its framing flags and (first block only) user metadata.
     *
     * @param byteBuffer direct little-endian buffer, at least {@link #blockLengthBytes(int)} long.
     * @param view       Agrona view of the same memory.
     * @param crc        reusable checksum.
     * @param extentId   extent the block belongs to.
     * @param blockOffset where the block will be written.
     * @param epoch      the extent's epoch.
     * @param recordFlags {@link #RECORD_FIRST} and/or {@link #RECORD_LAST}.
     * @param metadata   user metadata source, or null when metadataLengthBytes is 0.
     * @param metadataOffset offset of the metadata in its source.
     * @param metadataLengthBytes 0..{@link NodeProtocol#MAX_USER_METADATA_BYTES}; only on a FIRST block.
     * @param src        payload source.
     * @param srcOffset  payload offset in src.
     * @param payloadLengthBytes payload length, 1..STORE_MAX_PAYLOAD_BYTES.
     * @return the block length written (a multiple of 4096).
     */
    public static int encodeBlock(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long blockOffset,
        final int epoch,
        final int recordFlags,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLengthBytes,
        final DirectBuffer src,
        final int srcOffset,
        final int payloadLengthBytes)
    {
        Verify.verify(validFraming(recordFlags, metadataLengthBytes), "bad record flags or metadata length",
            recordFlags, metadataLengthBytes);
        Verify.verify(payloadLengthBytes > 0 && payloadLengthBytes <= STORE_MAX_PAYLOAD_BYTES,
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
        view.putInt(EPOCH_OFFSET, epoch, ByteOrder.LITTLE_ENDIAN);
        view.setMemory(RECORD_FLAGS_OFFSET, BLOCK_HEADER_LENGTH_BYTES - RECORD_FLAGS_OFFSET, (byte)0);
        view.putByte(RECORD_FLAGS_OFFSET, (byte)recordFlags);
        view.putByte(METADATA_LENGTH_OFFSET, (byte)metadataLengthBytes);
        if (metadataLengthBytes > 0)
        {
            metadata.getBytes(metadataOffset, view, METADATA_OFFSET, metadataLengthBytes);
        }
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
        return verifyBlockAt(byteBuffer, view, crc, 0, extentId, blockOffset, availableBytes);
    }

    /**
     * As {@link #verifyBlock}, for a block at {@code position} of the buffer (recovery reads many at once).
     *
     * @param byteBuffer  direct little-endian buffer holding the block.
     * @param view        Agrona view of the same memory.
     * @param crc         reusable checksum.
     * @param position    where the block starts in the buffer.
     * @param extentId    the extent it must belong to.
     * @param blockOffset the offset it must have been written at.
     * @param availableBytes how many bytes from position hold data read from disk.
     * @return the payload length when valid, -1 when not (torn, zeroes, misdirected or corrupt).
     */
    public static int verifyBlockAt(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final int position,
        final long extentId,
        final long blockOffset,
        final int availableBytes)
    {
        if (availableBytes < BLOCK_HEADER_LENGTH_BYTES)
        {
            return -1;
        }
        final int payloadLength = checkBlockHeader(view, position, extentId, blockOffset);
        if (payloadLength < 0 || BLOCK_HEADER_LENGTH_BYTES + payloadLength > availableBytes)
        {
            return -1;
        }
        final int storedCrc = view.getInt(position + CRC_OFFSET, ByteOrder.LITTLE_ENDIAN);
        view.putInt(position + CRC_OFFSET, 0, ByteOrder.LITTLE_ENDIAN);
        final int computed = checksum(byteBuffer, crc, position, position + BLOCK_HEADER_LENGTH_BYTES + payloadLength);
        view.putInt(position + CRC_OFFSET, storedCrc, ByteOrder.LITTLE_ENDIAN);
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
     * @param recordFlags         flags of a block.
     * @param metadataLengthBytes its metadata length.
     * @return true when the pair is a valid block framing: only FIRST and LAST flags (none: a middle block),
     * metadata only on a FIRST block.
     */
    public static boolean validFraming(final int recordFlags, final int metadataLengthBytes)
    {
        return (recordFlags & ~RECORD_WHOLE) == 0 &&
            metadataLengthBytes >= 0 && metadataLengthBytes <= NodeProtocol.MAX_USER_METADATA_BYTES &&
            (metadataLengthBytes == 0 || (recordFlags & RECORD_FIRST) != 0);
    }

    /**
     * @param view     buffer holding a block header.
     * @param position where the header starts.
     * @return the record flags of the block (unverified).
     */
    public static int recordFlags(final DirectBuffer view, final int position)
    {
        return view.getByte(position + RECORD_FLAGS_OFFSET) & 0xFF;
    }

    /**
     * @param view     buffer holding a block header.
     * @param position where the header starts.
     * @return the user metadata length of the block (unverified); the bytes start at position + METADATA_OFFSET.
     */
    public static int metadataLength(final DirectBuffer view, final int position)
    {
        return view.getByte(position + METADATA_LENGTH_OFFSET) & 0xFF;
    }

    /**
     * @param view block buffer.
     * @return the epoch field of a block header (unverified).
     */
    public static int epochField(final DirectBuffer view)
    {
        return view.getInt(EPOCH_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Check the header fields of a block at {@code position} of {@code view} without its CRC (the
     * checkpointed prefix at recovery: the CRC is checked lazily on read and by the scrubber).
     *
     * @param view        buffer holding at least the 32-byte header at position.
     * @param position    where the header starts in view.
     * @param extentId    the extent it must belong to.
     * @param blockOffset the offset it must have.
     * @return the payload length when the header is plausible, else -1.
     */
    public static int checkBlockHeader(
        final DirectBuffer view, final int position, final long extentId, final long blockOffset)
    {
        if (view.getInt(position + MAGIC_OFFSET, ByteOrder.LITTLE_ENDIAN) != BLOCK_MAGIC ||
            view.getLong(position + EXTENT_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) != extentId ||
            view.getLong(position + BLOCK_OFFSET_OFFSET, ByteOrder.LITTLE_ENDIAN) != blockOffset)
        {
            return -1;
        }
        final int payloadLength = view.getInt(position + PAYLOAD_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
        return payloadLength > 0 && payloadLength <= STORE_MAX_PAYLOAD_BYTES &&
            validFraming(recordFlags(view, position), metadataLength(view, position)) ? payloadLength : -1;
    }

    /**
     * Encode the whole 4 KiB header page at index 0: the header and both state slots. Slot
     * {@code state.sequence % 2} gets {@code state}; the other gets {@code previous} (null: left zero) so
     * that a rewrite changes only one slot's bytes.
     *
     * @param byteBuffer direct little-endian buffer of at least 4096 bytes.
     * @param view       Agrona view of the same memory.
     * @param crc        reusable checksum.
     * @param header     the extent's identity.
     * @param state      the new state.
     * @param previous   the state in the other slot, or null.
     */
    public static void encodeHeaderPage(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final ExtentHeaderPage header,
        final ExtentStatePage state,
        final ExtentStatePage previous)
    {
        view.setMemory(0, EXTENT_HEADER_LENGTH_BYTES, (byte)0);
        header.encode(byteBuffer, view, crc, 0);
        state.encode(byteBuffer, view, crc, slotOffset(state.sequence));
        if (null != previous)
        {
            Verify.verify((previous.sequence & 1) != (state.sequence & 1), "state slots collide", state.sequence);
            previous.encode(byteBuffer, view, crc, slotOffset(previous.sequence));
        }
    }

    /**
     * @param sequence a state sequence.
     * @return the offset of its slot in the header page.
     */
    public static int slotOffset(final long sequence)
    {
        return (sequence & 1) == 0 ? STATE_SLOT_OFFSET_0 : STATE_SLOT_OFFSET_1;
    }

    /**
     * Encode the header page of a new extent: epoch 1, not sealed, checkpoint at the first block.
     *
     * @param byteBuffer      direct little-endian buffer of at least 4096 bytes.
     * @param view            Agrona view of the same memory.
     * @param crc             reusable checksum.
     * @param extentId        extent id.
     * @param streamId        stream the extent belongs to.
     * @param extentSizeBytes the extent's size limit.
     */
    public static void encodeExtentHeader(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long streamId,
        final long extentSizeBytes)
    {
        encodeExtentHeader(byteBuffer, view, crc, extentId, streamId, extentSizeBytes, FORMAT_VERSION);
    }

    /**
     * As {@link #encodeExtentHeader(ByteBuffer, MutableDirectBuffer, CRC32C, long, long, long)} with an explicit
     * format version (an offline upgrade keeps an older version for blocks this build cannot rewrite).
     *
     * @param byteBuffer      direct little-endian buffer of at least 4096 bytes.
     * @param view            Agrona view of the same memory.
     * @param crc             reusable checksum.
     * @param extentId        extent id.
     * @param streamId        stream the extent belongs to.
     * @param extentSizeBytes the extent's size limit.
     * @param formatVersion   extent format version to record.
     */
    public static void encodeExtentHeader(
        final ByteBuffer byteBuffer,
        final MutableDirectBuffer view,
        final CRC32C crc,
        final long extentId,
        final long streamId,
        final long extentSizeBytes,
        final int formatVersion)
    {
        final ExtentHeaderPage header = new ExtentHeaderPage();
        header.set(extentId, streamId, extentSizeBytes, STORE_MAX_BLOCK_LENGTH_BYTES);
        header.formatVersion = formatVersion;
        final ExtentStatePage state = new ExtentStatePage();
        state.set(1, extentId, 1, false, EXTENT_HEADER_LENGTH_BYTES, -1);
        encodeHeaderPage(byteBuffer, view, crc, header, state, null);
    }

    static int checksum(final ByteBuffer byteBuffer, final CRC32C crc, final int from, final int to)
    {
        crc.reset();
        byteBuffer.limit(to).position(from);
        crc.update(byteBuffer);
        byteBuffer.clear();
        return (int)crc.getValue();
    }

    /**
     * The extent's identity, the SBE {@code ExtentHeader} at offset 0 of the header page. Mutable and
     * reusable: decoding allocates nothing.
     */
    public static final class ExtentHeaderPage
    {
        private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
        private final ExtentHeaderEncoder encoder = new ExtentHeaderEncoder();
        private final ExtentHeaderDecoder decoder = new ExtentHeaderDecoder();
        /** Extent format version. */
        public int formatVersion = FORMAT_VERSION;
        /** The block maximum of the store that wrote it. */
        public int maxBlockLengthBytes;
        /** Extent id. */
        public long extentId;
        /** Stream id. */
        public long streamId;
        /** Size limit, header included. */
        public long extentSizeBytes;

        /**
         * @param extentId            extent id.
         * @param streamId            stream id.
         * @param extentSizeBytes     size limit.
         * @param maxBlockLengthBytes block maximum.
         * @return this.
         */
        public ExtentHeaderPage set(
            final long extentId, final long streamId, final long extentSizeBytes, final int maxBlockLengthBytes)
        {
            this.formatVersion = FORMAT_VERSION;
            this.extentId = extentId;
            this.streamId = streamId;
            this.extentSizeBytes = extentSizeBytes;
            this.maxBlockLengthBytes = maxBlockLengthBytes;
            return this;
        }

        void encode(final ByteBuffer byteBuffer, final MutableDirectBuffer view, final CRC32C crc, final int at)
        {
            encoder.wrapAndApplyHeader(view, at, headerEncoder)
                .magic(EXTENT_MAGIC)
                .formatVersion(formatVersion)
                .maxBlockLengthBytes(maxBlockLengthBytes)
                .extentId(extentId)
                .streamId(streamId)
                .extentSizeBytes(extentSizeBytes);
            final int crcAt = at + MessageHeaderEncoder.ENCODED_LENGTH + ExtentHeaderEncoder.crc32cEncodingOffset();
            encoder.crc32c(checksum(byteBuffer, crc, at, crcAt));
        }

        /**
         * Decode and check the header at offset 0 of a header page.
         *
         * @param byteBuffer direct little-endian buffer holding the page.
         * @param view       Agrona view of the same memory.
         * @param crc        reusable checksum.
         * @param extentId   the extent id expected (from the file name).
         * @return null when valid, else why not.
         */
        public String decode(
            final ByteBuffer byteBuffer, final MutableDirectBuffer view, final CRC32C crc, final long extentId)
        {
            headerDecoder.wrap(view, 0);
            if (headerDecoder.schemaId() != ExtentHeaderDecoder.SCHEMA_ID ||
                headerDecoder.templateId() != ExtentHeaderDecoder.TEMPLATE_ID ||
                headerDecoder.blockLength() != ExtentHeaderDecoder.BLOCK_LENGTH)
            {
                return view.getInt(0, ByteOrder.LITTLE_ENDIAN) == 0x4E524143 ?
                    "extent format version 1 (the walking skeleton's): run `cairn-node format --upgrade`" :
                    "not an extent header (schema " + headerDecoder.schemaId() + ", template " +
                    headerDecoder.templateId() + ")";
            }
            decoder.wrap(view, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
            final int crcAt = MessageHeaderDecoder.ENCODED_LENGTH + ExtentHeaderDecoder.crc32cEncodingOffset();
            if (decoder.magic() != EXTENT_MAGIC)
            {
                return "bad extent magic";
            }
            if (checksum(byteBuffer, crc, 0, crcAt) != decoder.crc32c())
            {
                return "extent header CRC mismatch";
            }
            if (decoder.formatVersion() == 2)
            {
                return "extent format version 2 (32-byte block headers, no records): this build reads version " +
                    FORMAT_VERSION + "; see docs/internals/extent-format.md, \"Upgrading from format 2\"";
            }
            if (decoder.formatVersion() != FORMAT_VERSION)
            {
                return "unsupported extent format version " + decoder.formatVersion() + " (this build reads " +
                    FORMAT_VERSION + ")";
            }
            if (decoder.extentId() != extentId)
            {
                return "extent header names extent " + decoder.extentId();
            }
            formatVersion = decoder.formatVersion();
            maxBlockLengthBytes = decoder.maxBlockLengthBytes();
            this.extentId = decoder.extentId();
            streamId = decoder.streamId();
            extentSizeBytes = decoder.extentSizeBytes();
            if (extentSizeBytes < 2L * EXTENT_HEADER_LENGTH_BYTES || (extentSizeBytes & (EXTENT_HEADER_LENGTH_BYTES - 1)) != 0)
            {
                return "extent header has a bad size limit " + extentSizeBytes;
            }
            return null;
        }
    }

    /**
     * The extent's mutable state, an SBE {@code ExtentState} in one of the two slots of the header page.
     * Reusable: decoding allocates nothing.
     */
    public static final class ExtentStatePage
    {
        private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
        private final ExtentStateEncoder encoder = new ExtentStateEncoder();
        private final ExtentStateDecoder decoder = new ExtentStateDecoder();
        /** Slot sequence; slot = sequence % 2. */
        public long sequence;
        /** Extent id (a slot copied from another extent is rejected). */
        public long extentId;
        /** Epoch, raised at every recovery. */
        public int epoch;
        /** Whether the extent is sealed. */
        public boolean sealed;
        /** A length known durable when the slot was written. */
        public long checkpointLength;
        /** Sealed length, -1 unless sealed. */
        public long sealedLength;

        /**
         * @param sequence         slot sequence.
         * @param extentId         extent id.
         * @param epoch            epoch.
         * @param sealed           sealed.
         * @param checkpointLength durable length.
         * @param sealedLength     sealed length or -1.
         * @return this.
         */
        public ExtentStatePage set(
            final long sequence,
            final long extentId,
            final int epoch,
            final boolean sealed,
            final long checkpointLength,
            final long sealedLength)
        {
            this.sequence = sequence;
            this.extentId = extentId;
            this.epoch = epoch;
            this.sealed = sealed;
            this.checkpointLength = checkpointLength;
            this.sealedLength = sealedLength;
            return this;
        }

        /**
         * @param other copy from.
         * @return this.
         */
        public ExtentStatePage copyFrom(final ExtentStatePage other)
        {
            return set(other.sequence, other.extentId, other.epoch, other.sealed, other.checkpointLength,
                other.sealedLength);
        }

        void encode(final ByteBuffer byteBuffer, final MutableDirectBuffer view, final CRC32C crc, final int at)
        {
            encoder.wrapAndApplyHeader(view, at, headerEncoder)
                .sequence(sequence)
                .extentId(extentId)
                .epoch(epoch)
                .isSealed(sealed ? BooleanType.TRUE : BooleanType.FALSE)
                .checkpointLength(checkpointLength)
                .sealedLength(sealedLength);
            final int crcAt = at + MessageHeaderEncoder.ENCODED_LENGTH + ExtentStateEncoder.crc32cEncodingOffset();
            encoder.crc32c(checksum(byteBuffer, crc, at, crcAt));
        }

        /**
         * Decode the newer valid slot of a header page.
         *
         * @param byteBuffer direct little-endian buffer holding the page.
         * @param view       Agrona view of the same memory.
         * @param crc        reusable checksum.
         * @param extentId   the extent expected.
         * @return true when a valid slot was found (this holds it), false when neither slot is valid.
         */
        public boolean decodeNewest(
            final ByteBuffer byteBuffer, final MutableDirectBuffer view, final CRC32C crc, final long extentId)
        {
            final boolean valid0 = decodeSlot(byteBuffer, view, crc, STATE_SLOT_OFFSET_0, extentId);
            final long sequence0 = sequence;
            final boolean valid1 = decodeSlot(byteBuffer, view, crc, STATE_SLOT_OFFSET_1, extentId);
            if (valid1 && (!valid0 || sequence > sequence0))
            {
                return true;
            }
            return valid0 && decodeSlot(byteBuffer, view, crc, STATE_SLOT_OFFSET_0, extentId);
        }

        private boolean decodeSlot(
            final ByteBuffer byteBuffer, final MutableDirectBuffer view, final CRC32C crc, final int at,
            final long extentId)
        {
            headerDecoder.wrap(view, at);
            if (headerDecoder.schemaId() != ExtentStateDecoder.SCHEMA_ID ||
                headerDecoder.templateId() != ExtentStateDecoder.TEMPLATE_ID ||
                headerDecoder.blockLength() != ExtentStateDecoder.BLOCK_LENGTH)
            {
                return false;
            }
            decoder.wrap(view, at + MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(),
                headerDecoder.version());
            final int crcAt = at + MessageHeaderDecoder.ENCODED_LENGTH + ExtentStateDecoder.crc32cEncodingOffset();
            if (checksum(byteBuffer, crc, at, crcAt) != decoder.crc32c() || decoder.extentId() != extentId ||
                (decoder.sequence() & 1) != (at == STATE_SLOT_OFFSET_0 ? 0 : 1))
            {
                return false;
            }
            sequence = decoder.sequence();
            this.extentId = decoder.extentId();
            epoch = decoder.epoch();
            sealed = decoder.isSealed() == BooleanType.TRUE;
            checkpointLength = decoder.checkpointLength();
            sealedLength = decoder.sealedLength();
            return checkpointLength >= EXTENT_HEADER_LENGTH_BYTES &&
                (checkpointLength & (EXTENT_HEADER_LENGTH_BYTES - 1)) == 0 &&
                (!sealed || sealedLength >= EXTENT_HEADER_LENGTH_BYTES);
        }
    }
}
