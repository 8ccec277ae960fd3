package io.cairn.manager;

import io.cairn.replication.Verify;
/**
 * Chooses the nodes that hold a new extent's replicas. Pure and deterministic, so every cluster member
 * that applies the same command picks the same nodes.
 * <p>
 * Rule: the {@link #REPLICA_COUNT} distinct nodes with the fewest extents placed on them, ties broken by the
 * lowest node id; the chosen nodes are then rotated by {@code rotation} so that the primary (replica 0)
 * varies between extents even when the same nodes are chosen.
 */
public final class Placement
{
    /** Replicas per extent. */
    public static final int REPLICA_COUNT = 3;

    private Placement()
    {
    }

    /**
     * @param nodeIds      registered node ids, distinct, in any order; only the first {@code nodeCount} are read.
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
        if (nodeCount < REPLICA_COUNT)
        {
            return false;
        }
        Verify.verify(replicasOut.length >= REPLICA_COUNT, "replicasOut too small");

        int chosen0 = -1;
        int chosen1 = -1;
        int chosen2 = -1;
        for (int pick = 0; pick < REPLICA_COUNT; pick++)
        {
            int best = -1;
            for (int i = 0; i < nodeCount; i++)
            {
                if (i == chosen0 || i == chosen1)
                {
                    continue;
                }
                if (best < 0 || isBetter(nodeIds, extentCounts, i, best))
                {
                    best = i;
                }
            }
            switch (pick)
            {
                case 0 -> chosen0 = best;
                case 1 -> chosen1 = best;
                default -> chosen2 = best;
            }
        }

        final int shift = (int)Math.floorMod(rotation, (long)REPLICA_COUNT);
        for (int i = 0; i < REPLICA_COUNT; i++)
        {
            final int slot = (i + shift) % REPLICA_COUNT;
            final int index = slot == 0 ? chosen0 : slot == 1 ? chosen1 : chosen2;
            replicasOut[i] = nodeIds[index];
        }
        Verify.verify(replicasOut[0] != replicasOut[1] && replicasOut[0] != replicasOut[2] &&
            replicasOut[1] != replicasOut[2], "placement replicas distinct");
        return true;
    }

    private static boolean isBetter(final int[] nodeIds, final int[] extentCounts, final int i, final int best)
    {
        return extentCounts[i] < extentCounts[best] ||
            (extentCounts[i] == extentCounts[best] && nodeIds[i] < nodeIds[best]);
    }
}
