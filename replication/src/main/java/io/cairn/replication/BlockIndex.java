package io.cairn.replication;

import java.util.Arrays;

/**
 * Committed block starts of one extent, in offset order, so a read knows a block's length before it
 * reads it and can refuse an offset that is not a block start.
 * <p>
 * Grows by doubling: allocation is amortised over many blocks, never once per block.
 */
public final class BlockIndex
{
    private long[] offsets;
    private int[] payloadLengths;
    private int count;

    /**
     * @param initialCapacity number of blocks before the first growth.
     */
    public BlockIndex(final int initialCapacity)
    {
        offsets = new long[Math.max(4, initialCapacity)];
        payloadLengths = new int[offsets.length];
    }

    /**
     * Append a committed block; blocks must be added in offset order.
     *
     * @param blockOffset        start of the block.
     * @param payloadLengthBytes its payload length.
     */
    public void add(final long blockOffset, final int payloadLengthBytes)
    {
        Verify.verify(count == 0 || blockOffset > offsets[count - 1], "block index out of order", blockOffset);
        if (count == offsets.length)
        {
            offsets = Arrays.copyOf(offsets, count * 2);
            payloadLengths = Arrays.copyOf(payloadLengths, count * 2);
        }
        offsets[count] = blockOffset;
        payloadLengths[count] = payloadLengthBytes;
        count++;
    }

    /**
     * @param blockOffset a candidate block start.
     * @return the payload length of the block starting there, or -1 if no block starts there.
     */
    public int payloadLength(final long blockOffset)
    {
        final int i = Arrays.binarySearch(offsets, 0, count, blockOffset);
        return i >= 0 ? payloadLengths[i] : -1;
    }

    /**
     * Forget the blocks at or beyond {@code end} (a partial record cut at recovery, or by a seal).
     *
     * @param end the new end of the indexed blocks.
     */
    public void truncate(final long end)
    {
        while (count > 0 && offsets[count - 1] >= end)
        {
            count--;
        }
    }

    /**
     * @return number of blocks indexed.
     */
    public int count()
    {
        return count;
    }
}
