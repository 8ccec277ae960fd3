package io.cairn.daemon;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The repair queue's bound and record round trip, and the repair worker's configuration checks.
 */
class BlockRepairQueueTest
{
    @Test
    void holdsAtLeastItsCapacityThenRefusesAndHandsRequestsBackInOrder()
    {
        final BlockRepairQueue queue = new BlockRepairQueue();
        int offered = 0;
        while (queue.offer(offered % 3, 100 + offered, 7, 4096L * (offered + 1), 8192, offered + 1))
        {
            offered++;
            assertTrue(offered < 10 * BlockRepairQueue.CAPACITY_REQUESTS, "the queue is unbounded");
        }
        assertTrue(offered >= BlockRepairQueue.CAPACITY_REQUESTS, "held " + offered);
        assertFalse(queue.offer(0, 1, 1, 4096, 0, 0), "full");

        final BlockRepairQueue.Request request = new BlockRepairQueue.Request();
        for (int i = 0; i < offered; i++)
        {
            assertTrue(queue.poll(request));
            assertEquals(i % 3, request.diskIndex);
            assertEquals(100 + i, request.extentId);
            assertEquals(7, request.streamId);
            assertEquals(4096L * (i + 1), request.blockOffset);
            assertEquals(8192, request.blockLengthHint);
            assertEquals(i + 1, request.epochHint);
        }
        assertFalse(queue.poll(request));
        assertTrue(queue.offer(0, 1, 1, 4096, 0, 0), "room again once taken");
    }

    @Test
    void rejectsARateOutOfRangeNamingTheOption()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> new BlockRepairAgent.Context().nodeId(1).blocksPerSecond(0).conclude());
        assertTrue(ex.getMessage().contains("--repair-blocks-per-sec 0"), ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BlockRepairAgent.Context().nodeId(1)
            .blocksPerSecond(BlockRepairAgent.Context.BLOCKS_PER_SECOND_MAX + 1).conclude());
        assertThrows(IllegalArgumentException.class, () -> new BlockRepairAgent.Context().nodeId(0).conclude());
    }
}
