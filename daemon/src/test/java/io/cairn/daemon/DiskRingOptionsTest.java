package io.cairn.daemon;

import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The store over a ring with registered buffers and SQPOLL: appends, a seal and verified reads round trip. When
 * the kernel refuses SQPOLL the agent must fail with a message that says so and how to run without it.
 */
class DiskRingOptionsTest
{
    Path dataDir;
    DiskIoAgent disk;
    IoUringReplicaStore store;
    final DiskAllocationTest.CountingListener listener = new DiskAllocationTest.CountingListener();

    @AfterEach
    void tearDown() throws IOException
    {
        if (null != disk)
        {
            store.close();
            disk.onClose();
        }
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void fixedBuffersWithSqPollRoundTrip() throws Exception
    {
        dataDir = Path.of("target", "test-data", "ring-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir.resolve(ExtentFiles.EXTENTS_DIR));
        final DiskIoAgent.Config config = TestCounters.config(8, 1L << 20).withRing(true, true, -1);
        try
        {
            disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE, TestCounters.counters(0), config, List.of(),
                SystemNanoClock.INSTANCE, new PrintStream(new ByteArrayOutputStream()));
        }
        catch (final NativeIoException ex)
        {
            // A kernel or sandbox without SQPOLL: the refusal must be explicit.
            assertTrue(ex.getMessage().contains("SQPOLL") && ex.getMessage().contains("--sqpoll"), ex.getMessage());
            return;
        }
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, 8L * 1024 * 1024,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, List.of());
        assertEquals(NodeStatus.OK, store.submitCreate(1, 5, 0));
        await(1);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[DiskAllocationTest.PAYLOAD_BYTES]);
        payload.setMemory(0, DiskAllocationTest.PAYLOAD_BYTES, (byte)3);
        // Four at a time (8 buffers): each group is one batch of concurrent writes and one drained fdatasync.
        for (int i = 0; i < 20; i++)
        {
            assertEquals(NodeStatus.OK, store.submitWrite(1, store.endOffset(1), payload, 0,
                DiskAllocationTest.PAYLOAD_BYTES, i));
            if (i % 4 == 3)
            {
                await(2 + i);
            }
        }
        assertEquals(0, listener.failures);
        for (int i = 0; i < 20; i++)
        {
            assertEquals(NodeStatus.OK, store.submitRead(1, BlockFormat.EXTENT_HEADER_LENGTH_BYTES + i * 4096L, i));
            if (i % 4 == 3)
            {
                await(22 + i);
            }
        }
        assertEquals(0, listener.failures);
        assertEquals(20, disk.counters().get(DiskCounters.Kind.BLOCKS_READ));
    }

    void await(final int count) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (listener.count < count && System.nanoTime() < deadlineNs)
        {
            if (disk.doWork() + store.poll(listener, 64) == 0)
            {
                Thread.onSpinWait();
            }
        }
        assertEquals(count, listener.count, "completions");
    }
}
