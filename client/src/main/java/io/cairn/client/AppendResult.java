package io.cairn.client;

/**
 * Where an acknowledged append landed. Mutable and reusable so the append path allocates nothing.
 */
public final class AppendResult
{
    private long extentId;
    private long blockOffset;
    private long nextOffset;

    void set(final long extentId, final long blockOffset, final long nextOffset)
    {
        this.extentId = extentId;
        this.blockOffset = blockOffset;
        this.nextOffset = nextOffset;
    }

    /**
     * @return the extent the block was appended to.
     */
    public long extentId()
    {
        return extentId;
    }

    /**
     * @return the byte offset of the block in its extent: what a read names.
     */
    public long blockOffset()
    {
        return blockOffset;
    }

    /**
     * @return the end of the block, which is the extent's commit length once acknowledged.
     */
    public long nextOffset()
    {
        return nextOffset;
    }

    public String toString()
    {
        return "extent=" + extentId + " offset=" + blockOffset + " next=" + nextOffset;
    }
}
