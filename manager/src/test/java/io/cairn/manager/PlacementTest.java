package io.cairn.manager;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlacementTest
{
    private final int[] out = new int[Placement.REPLICA_COUNT];

    @Test
    void refusesFewerThanThreeNodes()
    {
        out[0] = 42;
        assertFalse(Placement.place(new int[]{ 1, 2 }, new int[]{ 0, 0 }, 2, 0, out));
        assertEquals(42, out[0], "output untouched on refusal");
    }

    @Test
    void choosesFewestExtentsThenLowestId()
    {
        final int[] ids = { 5, 1, 9, 3, 7 };
        final int[] counts = { 0, 4, 0, 0, 1 };
        assertTrue(Placement.place(ids, counts, ids.length, 0, out));
        assertArrayEquals(new int[]{ 3, 5, 9 }, out);
    }

    @Test
    void rotationMovesThePrimaryAcrossTheChosenNodes()
    {
        final int[] ids = { 1, 2, 3 };
        final int[] counts = { 0, 0, 0 };
        final Set<Integer> primaries = new HashSet<>();
        for (long rotation = 0; rotation < 3; rotation++)
        {
            assertTrue(Placement.place(ids, counts, 3, rotation, out));
            primaries.add(out[0]);
            assertEquals(Set.of(1, 2, 3), Set.of(out[0], out[1], out[2]));
        }
        assertEquals(Set.of(1, 2, 3), primaries);
        assertTrue(Placement.place(ids, counts, 3, -7, out), "negative rotation is fine");
    }

    @Test
    void spreadsExtentsEvenlyWhenCountsAreFedBack()
    {
        final int[] ids = { 10, 11, 12, 13, 14, 15 };
        final int[] counts = new int[ids.length];
        for (int extent = 0; extent < 60; extent++)
        {
            assertTrue(Placement.place(ids, counts, ids.length, extent, out));
            assertEquals(3, Set.of(out[0], out[1], out[2]).size(), "distinct replicas");
            for (final int nodeId : out)
            {
                counts[nodeId - 10]++;
            }
        }
        for (final int count : counts)
        {
            assertEquals(30, count, "60 extents x 3 replicas over 6 nodes");
        }
    }

    @Test
    void ignoresEntriesBeyondNodeCount()
    {
        final int[] ids = { 4, 5, 6, 1 };
        final int[] counts = { 0, 0, 0, 0 };
        assertTrue(Placement.place(ids, counts, 3, 0, out));
        assertEquals(Set.of(4, 5, 6), Set.of(out[0], out[1], out[2]));
    }

    @Test
    void prefersDistinctFailureDomainsOverLoadAndSpace()
    {
        final int[] ids = { 1, 2, 3, 4 };
        final long[] free = { 100L << 30, 90L << 30, 10L << 30, 80L << 30 };
        final int[] counts = { 0, 0, 50, 0 };
        final String[] domains = { "rack-a", "rack-a", "rack-b", "rack-a" };
        assertTrue(Placement.place(ids, free, counts, domains, ids.length, 0, out));
        // Only two domains exist: one node of rack-b (however loaded and full), then rack-a by free space.
        assertEquals(Set.of(1, 2, 3), Set.of(out[0], out[1], out[2]));
    }

    @Test
    void prefersMostFreeSpaceThenLeastLoad()
    {
        final int[] ids = { 1, 2, 3, 4, 5 };
        final long[] free = { 5L << 30, 9L << 30, 9L << 30, (9L << 30) + 1, 1L << 30 };
        final int[] counts = { 0, 7, 3, 5, 0 };
        assertTrue(Placement.place(ids, free, counts, null, ids.length, 0, out));
        // 2, 3 and 4 share the top free-space bucket; node 1 has more room than node 5 but less than those.
        assertEquals(Set.of(2, 3, 4), Set.of(out[0], out[1], out[2]));
        final int[] fewer = { 1, 2, 3 };
        assertTrue(Placement.place(fewer, new long[]{ 1L << 30, 1L << 30, 1L << 30 }, new int[]{ 3, 1, 2 }, null, 3, 0,
            out));
        assertArrayEquals(new int[]{ 2, 3, 1 }, out, "same space: least load first, rotation 0 keeps the order");
    }

    @Test
    void emptyDomainIsItsOwnDomain()
    {
        final int[] ids = { 1, 2, 3, 4 };
        final String[] domains = { "r", "r", "", "" };
        assertTrue(Placement.place(ids, null, new int[]{ 0, 0, 0, 0 }, domains, 4, 0, out));
        assertEquals(Set.of(1, 3, 4), Set.of(out[0], out[1], out[2]));
    }
}
