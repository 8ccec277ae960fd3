package io.cairn.client;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

/**
 * One block read back from a replica. Mutable and reusable: the payload stays valid until the next read
 * into the same result.
 */
public final class ReadResult
{
    private final ExpandableArrayBuffer payload = new ExpandableArrayBuffer(4096);
    private int lengthBytes;
    private long blockOffset;
    private long nextOffset;
    private long commitLength;
    private int nodeId = -1;
    private int recordFlags = io.cairn.replication.BlockFormat.RECORD_WHOLE;
    private final byte[] metadata = new byte[io.cairn.replication.NodeProtocol.MAX_USER_METADATA_BYTES];
    private int metadataLengthBytes;

    void record(final int recordFlags, final DirectBuffer metadataSource, final int offset, final int length)
    {
        this.recordFlags = recordFlags;
        this.metadataLengthBytes = length;
        metadataSource.getBytes(offset, metadata, 0, length);
    }

    void record(final int recordFlags, final byte[] metadataSource, final int length)
    {
        this.recordFlags = recordFlags;
        this.metadataLengthBytes = length;
        System.arraycopy(metadataSource, 0, metadata, 0, length);
    }

    /**
     * @return the record flags of the block read (BlockFormat.RECORD_FIRST / RECORD_LAST); a whole record read
     * with {@code CairnClient#readRecord} has both.
     */
    public int recordFlags()
    {
        return recordFlags;
    }

    /**
     * @return the record's user metadata (empty when none, or when the block read is not a record's first).
     */
    public byte[] metadata()
    {
        return java.util.Arrays.copyOf(metadata, metadataLengthBytes);
    }

    /**
     * @return the user metadata length.
     */
    public int metadataLengthBytes()
    {
        return metadataLengthBytes;
    }

    byte[] metadataArray()
    {
        return metadata;
    }

    ExpandableArrayBuffer payloadBuffer()
    {
        return payload;
    }

    void set(final int lengthBytes, final long blockOffset, final long nextOffset, final long commitLength)
    {
        this.lengthBytes = lengthBytes;
        this.blockOffset = blockOffset;
        this.nextOffset = nextOffset;
        this.commitLength = commitLength;
    }

    void nodeId(final int nodeId)
    {
        this.nodeId = nodeId;
    }

    /**
     * @return the replica that answered this read (with hedging, the one whose answer came first).
     */
    public int nodeId()
    {
        return nodeId;
    }

    /**
     * @return the payload, valid from index 0 for {@link #lengthBytes()} bytes.
     */
    public DirectBuffer payload()
    {
        return payload;
    }

    public int lengthBytes()
    {
        return lengthBytes;
    }

    public long blockOffset()
    {
        return blockOffset;
    }

    /**
     * @return the offset of the following block.
     */
    public long nextOffset()
    {
        return nextOffset;
    }

    /**
     * @return the replica's commit length when it answered.
     */
    public long commitLength()
    {
        return commitLength;
    }

    /**
     * @return a copy of the payload.
     */
    public byte[] payloadBytes()
    {
        final byte[] bytes = new byte[lengthBytes];
        payload.getBytes(0, bytes);
        return bytes;
    }
}
