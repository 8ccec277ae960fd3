package io.cairn.system;

import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.client.CairnException;
import io.cairn.client.ReadResult;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Test support for the fault system tests: a thread that appends seeded, recognisable blocks to one stream without
 * pause and records every acknowledgement, and the safety check run afterwards — every acknowledged block reads back
 * with its content from every replica of its extent, sealed extents are sealed at or above every acknowledged end,
 * and the replicas of a sealed extent hold the same content at every offset below the sealed length.
 */
final class StreamWriter
{
    static final int MAX_PAYLOAD_BYTES = 8_000;
    /** Bound on a wait for progress; generous, because the machine running the tests may be slow and shared. */
    static final long PROGRESS_TIMEOUT_MS = 60_000;

    record Acked(int index, long extentId, long blockOffset, long nextOffset)
    {
    }

    private final CairnClient client;
    private final long streamId;
    private final long seed;
    private final List<Acked> acked = new ArrayList<>();
    private final AtomicInteger ackedCount = new AtomicInteger();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;
    private volatile String failure;

    StreamWriter(final CairnClient client, final long streamId, final long seed)
    {
        this.client = client;
        this.streamId = streamId;
        this.seed = seed;
        this.thread = new Thread(this::run, "appender-" + streamId);
    }

    byte[] payload(final int index)
    {
        final Random random = new Random(seed * 31 + index);
        final byte[] bytes = new byte[1 + random.nextInt(MAX_PAYLOAD_BYTES)];
        random.nextBytes(bytes);
        return bytes;
    }

    StreamWriter start()
    {
        thread.start();
        return this;
    }

    private void run()
    {
        final AppendResult result = new AppendResult();
        try
        {
            for (int i = 0; !stop.get(); i++)
            {
                final byte[] p = payload(i);
                client.append(streamId, new UnsafeBuffer(p), 0, p.length, result);
                synchronized (acked)
                {
                    acked.add(new Acked(i, result.extentId(), result.blockOffset(), result.nextOffset()));
                }
                ackedCount.incrementAndGet();
            }
        }
        catch (final CairnException ex)
        {
            failure = ex.getMessage();
        }
    }

    int ackedCount()
    {
        return ackedCount.get();
    }

    /**
     * Waits until {@code more} further appends are acknowledged; fails if the appender gives up or stalls.
     */
    void awaitMore(final int more) throws InterruptedException
    {
        final int target = ackedCount.get() + more;
        final long deadlineMs = System.currentTimeMillis() + PROGRESS_TIMEOUT_MS;
        while (ackedCount.get() < target && thread.isAlive() && System.currentTimeMillis() < deadlineMs)
        {
            Thread.sleep(10);
        }
        assertTrue(ackedCount.get() >= target, "acknowledged " + ackedCount.get() + " of " + target +
            "; appender failure: " + failure);
    }

    void stop() throws InterruptedException
    {
        stop.set(true);
        thread.join(PROGRESS_TIMEOUT_MS);
        assertFalse(thread.isAlive(), "the appender stopped");
        assertNull(failure, "the appender failed");
    }

    List<Acked> acked()
    {
        synchronized (acked)
        {
            return List.copyOf(acked);
        }
    }

    /**
     * The safety check, with a fresh client. Every replica of every extent must answer, so call it when all
     * nodes run and are reachable again.
     *
     * @return the stream as the manager has it.
     */
    StreamInfo verify(final CairnClient reader)
    {
        final StreamInfo info = reader.streamInfo(streamId);
        final Map<Long, ExtentInfo> extents = new HashMap<>();
        info.extents().forEach((e) -> extents.put(e.extentId(), e));
        final ReadResult result = new ReadResult();
        for (final Acked a : acked())
        {
            final ExtentInfo extent = extents.get(a.extentId());
            assertTrue(null != extent, "block " + a.index() + " acknowledged on extent " + a.extentId() +
                " that the stream does not list: " + info.extents());
            if (extent.sealed())
            {
                assertTrue(extent.sealedLength() >= a.nextOffset(), "extent " + a.extentId() + " sealed at " +
                    extent.sealedLength() + " below acknowledged end " + a.nextOffset() + " of block " + a.index());
            }
            // Acknowledged means durable on all three replicas: each one, also a paused or cut-off one, has it.
            for (final int nodeId : extent.replicas())
            {
                final NodeStatus status = reader.read(nodeId, a.extentId(), a.blockOffset(), result);
                assertEquals(NodeStatus.OK, status, "block " + a.index() + " at extent " + a.extentId() +
                    " offset " + a.blockOffset() + " on node " + nodeId);
                assertArrayEquals(payload(a.index()), result.payloadBytes(), "block " + a.index() + " on node " +
                    nodeId);
                assertEquals(a.nextOffset(), result.nextOffset(), "block " + a.index() + " end on node " + nodeId);
            }
        }
        // No two contents at one offset: the blocks of a sealed extent are those of its first replica below the
        // sealed length; every replica holds the same blocks below its own durable length (a replica that was paused
        // or cut off at the seal may hold fewer, never other ones; re-replication completes it).
        for (final ExtentInfo extent : info.extents())
        {
            if (!extent.sealed())
            {
                continue;
            }
            final Map<Long, byte[]> blocks = new HashMap<>();
            for (final int nodeId : extent.replicas())
            {
                final long durable = Math.min(extent.sealedLength(), durableLength(reader, extent, nodeId));
                long offset = NodeProtocol.FIRST_BLOCK_OFFSET;
                while (offset < durable)
                {
                    final NodeStatus status = reader.read(nodeId, extent.extentId(), offset, result);
                    assertEquals(NodeStatus.OK, status, "extent " + extent.extentId() + " offset " + offset +
                        " (sealed at " + extent.sealedLength() + ", durable to " + durable + ") on node " + nodeId);
                    final byte[] content = result.payloadBytes();
                    final byte[] other = blocks.putIfAbsent(offset, content);
                    assertTrue(null == other || Arrays.equals(other, content), "replicas of extent " +
                        extent.extentId() + " hold different blocks at offset " + offset + " (node " + nodeId + ")");
                    offset = result.nextOffset();
                }
                assertEquals(durable, offset, "blocks of extent " + extent.extentId() + " on node " + nodeId +
                    " end at its durable length");
            }
        }
        return info;
    }

    /**
     * @return the replica's durable length of a sealed extent; an extent sealed empty may never have been created
     * on a replica (its open did not get that far), and then has nothing there.
     */
    private static long durableLength(final CairnClient reader, final ExtentInfo extent, final int nodeId)
    {
        try
        {
            return reader.commitLength(nodeId, extent.extentId());
        }
        catch (final CairnException ex)
        {
            if (NodeStatus.NO_SUCH_EXTENT != ex.nodeStatus())
            {
                throw ex;
            }
            assertEquals(NodeProtocol.FIRST_BLOCK_OFFSET, extent.sealedLength(), "extent " + extent.extentId() +
                " is sealed with blocks but node " + nodeId + " of its replicas never had it");
            return NodeProtocol.FIRST_BLOCK_OFFSET;
        }
    }
}
