package io.cairn.manager;

import io.cairn.replication.Verify;

import java.util.Objects;

/**
 * Chooses the nodes that hold a new extent's replicas. Pure and deterministic, so every cluster member
 * that applies the same command picks the same nodes.
 * <p>
 * The caller passes only nodes that are alive. The {@link #REPLICA_COUNT} replicas are picked one by one; each pick
 * takes, among the nodes not yet chosen:
 * <ol>
 *   <li>a node whose failure domain (rack/zone label) no chosen node has, if any is left;</li>
 *   <li>then the most free space, compared in buckets of {@link #FREE_SPACE_BUCKET_BYTES} (free space is reported
 *       by heartbeats, so between two heartbeats small differences say nothing; bucketing lets load decide then);</li>
 *   <li>then the fewest extents placed on the node (load);</li>
 *   <li>then the lowest node id.</li>
 * </ol>
 * The chosen nodes are then rotated by {@code rotation} so that the primary (replica 0) varies between extents
 * even when the same nodes are chosen.
 */
public final class Placement
{
    /** Replicas per extent. */
    public static final int REPLICA_COUNT = 3;
    /** Free space is compared in units of this many bytes. */
    public static final long FREE_SPACE_BUCKET_BYTES = 1L << 30;

    private Placement()
    {
    }

    /**
     * Placement by load alone: every node in its own failure domain, free space equal.
     *
     * @param nodeIds      alive node ids, distinct, in any order; only the first {@code nodeCount} are read.
     * @param extentCounts extents placed on each node, index-aligned with {@code nodeIds}.
     * @param nodeCount    number of valid entries.
     * @param rotation     rotates the chosen nodes; e.g. the new extent's id.
     * @param replicasOut  receives {@link #REPLICA_COUNT} node ids, primary first.
     * @return false, leaving {@code replicasOut} untouched, when fewer than {@link #REPLICA_COUNT} nodes exist.
     */
    public static boolean place(
        final int[] nodeIds,
        final int[] extentCounts,
        final int nodeCount,
        final long rotation,
        final int[] replicasOut)
    {
        return place(nodeIds, null, extentCounts, null, nodeCount, rotation, replicasOut);
    }

    /**
     * @param nodeIds      alive node ids, distinct, in any order; only the first {@code nodeCount} are read.
     * @param freeBytes    free space per node, index-aligned; null: all equal.
     * @param extentCounts extents placed on each node, index-aligned.
     * @param domains      failure domain per node, index-aligned; null or an empty label: the node's own domain.
     * @param nodeCount    number of valid entries.
     * @param rotation     rotates the chosen nodes; e.g. the new extent's id.
     * @param replicasOut  receives {@link #REPLICA_COUNT} node ids, primary first.
     * @return false, leaving {@code replicasOut} untouched, when fewer than {@link #REPLICA_COUNT} nodes exist.
     */
    public static boolean place(
        final int[] nodeIds,
        final long[] freeBytes,
        final int[] extentCounts,
        final String[] domains,
        final int nodeCount,
        final long rotation,
        final int[] replicasOut)
    {
        if (nodeCount < REPLICA_COUNT)
        {
            return false;
        }
        Verify.verify(replicasOut.length >= REPLICA_COUNT, "replicasOut too small");

        final int[] chosen = { -1, -1, -1 };
        for (int pick = 0; pick < REPLICA_COUNT; pick++)
        {
            int best = -1;
            boolean bestNewDomain = false;
            for (int i = 0; i < nodeCount; i++)
            {
                if (i == chosen[0] || i == chosen[1])
                {
                    continue;
                }
                final boolean newDomain = !sharesDomain(domains, chosen, pick, i);
                if (best < 0 || (newDomain && !bestNewDomain) ||
                    (newDomain == bestNewDomain && isBetter(nodeIds, freeBytes, extentCounts, i, best)))
                {
                    best = i;
                    bestNewDomain = newDomain;
                }
            }
            chosen[pick] = best;
        }

        final int shift = (int)Math.floorMod(rotation, (long)REPLICA_COUNT);
        for (int i = 0; i < REPLICA_COUNT; i++)
        {
            replicasOut[i] = nodeIds[chosen[(i + shift) % REPLICA_COUNT]];
        }
        Verify.verify(replicasOut[0] != replicasOut[1] && replicasOut[0] != replicasOut[2] &&
            replicasOut[1] != replicasOut[2], "placement replicas distinct");
        return true;
    }

    private static boolean sharesDomain(final String[] domains, final int[] chosen, final int picked, final int i)
    {
        if (domains == null || domains[i] == null || domains[i].isEmpty())
        {
            return false;
        }
        for (int c = 0; c < picked; c++)
        {
            if (Objects.equals(domains[chosen[c]], domains[i]))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean isBetter(
        final int[] nodeIds, final long[] freeBytes, final int[] extentCounts, final int i, final int best)
    {
        if (freeBytes != null)
        {
            final long bucketI = freeBytes[i] / FREE_SPACE_BUCKET_BYTES;
            final long bucketBest = freeBytes[best] / FREE_SPACE_BUCKET_BYTES;
            if (bucketI != bucketBest)
            {
                return bucketI > bucketBest;
            }
        }
        return extentCounts[i] < extentCounts[best] ||
            (extentCounts[i] == extentCounts[best] && nodeIds[i] < nodeIds[best]);
    }
}
