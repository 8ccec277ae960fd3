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
