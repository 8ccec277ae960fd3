package io.cairn.manager;

import java.util.Arrays;

/**
 * One extent of a stream.
 *
 * @param extentId     unique id (streams and extents share one id space).
 * @param sealedLength committed length once sealed, -1 while it is the unsealed tail.
 * @param replicas     the 3 distinct node ids holding it, primary first.
 */
public record ExtentInfo(long extentId, long sealedLength, int[] replicas)
{
    /**
     * @param extentId     unique id.
     * @param sealedLength -1 while unsealed.
     * @param replicas     copied.
     */
    public ExtentInfo
    {
        replicas = replicas.clone();
    }

    /**
     * @return a copy of the replica node ids, primary first.
     */
    public int[] replicas()
    {
        return replicas.clone();
    }

    /**
     * @return how many replicas hold the extent (without copying them, for allocation-free read paths).
     */
    public int replicaCount()
    {
        return replicas.length;
    }

    /**
     * @param index replica position, 0 for the primary.
     * @return that replica's node id (without copying the array).
     */
    public int replica(final int index)
    {
        return replicas[index];
    }

    /**
     * @return true once sealed at {@link #sealedLength()}.
     */
    public boolean sealed()
    {
        return sealedLength >= 0;
    }

    /**
     * @return node id of the primary replica.
     */
    public int primary()
    {
        return replicas[0];
    }

    /**
     * {@inheritDoc}
     */
    public boolean equals(final Object o)
    {
        return o instanceof ExtentInfo other && extentId == other.extentId && sealedLength == other.sealedLength &&
            Arrays.equals(replicas, other.replicas);
    }

    /**
     * {@inheritDoc}
     */
    public int hashCode()
    {
        return 31 * (31 * Long.hashCode(extentId) + Long.hashCode(sealedLength)) + Arrays.hashCode(replicas);
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return "ExtentInfo[extentId=" + extentId + ", sealedLength=" + sealedLength + ", replicas=" +
            Arrays.toString(replicas) + "]";
    }
}
