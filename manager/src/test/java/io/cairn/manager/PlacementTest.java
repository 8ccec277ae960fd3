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
}
