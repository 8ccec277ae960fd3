package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The idle strategy sleeps in the disk's ring while I/O is in flight: the completion is reaped (and a read
 * answered) by the idle call itself, with no duty cycle in between, and a disk with nothing in flight is not
 * waited on.
 */
@Timeout(60)
class DiskIdleStrategyTest
{
    static final int PAYLOAD_BYTES = 3000;
    /** Idle calls before giving up: spins and yields, then waits of up to 50 µs each; a 4 KiB read takes far less. */
    static final int IDLE_CALLS_MAX = 20_000;

    Path dataDir;
    DiskIoAgent disk;
    IoUringReplicaStore store;
    final DiskAllocationTest.CountingListener listener = new DiskAllocationTest.CountingListener();

    @BeforeEach
    void setUp() throws IOException
    {
        dataDir = Path.of("target", "test-data", "idle-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir);
        final var recovered = ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0,
            new PrintStream(new ByteArrayOutputStream()));
        disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE, TestCounters.counters(0),
            TestCounters.config(8, 1L << 20), recovered);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, 8L * 1024 * 1024,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
    }

    @AfterEach
    void tearDown() throws IOException
    {
        store.close();
        disk.onClose();
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aCompletionIsReapedByTheWaitItself() throws Exception
    {
        final DiskIdleStrategy idle = new DiskIdleStrategy(50_000, disk);
        assertEquals(-1, disk.awaitCompletions(1_000), "nothing in flight: sleep, do not wait on the ring");
        assertEquals(NodeStatus.OK, store.submitCreate(1, 5, 0));
        await(1);
        final long offset = store.endOffset(1);
        assertEquals(NodeStatus.OK, store.submitWrite(1, offset, new UnsafeBuffer(new byte[PAYLOAD_BYTES]), 0,
            PAYLOAD_BYTES, 1));
        await(2);
        assertEquals(NodeStatus.OK, listener.lastStatus);

        assertEquals(NodeStatus.OK, store.submitRead(1, offset, 2));
        disk.doWork(); // submits the read
        int calls = 0;
        while (!disk.isQuiescent() && calls < IDLE_CALLS_MAX)
        {
            idle.idle(0);
            calls++;
        }
        assertTrue(disk.isQuiescent(), "the read completed inside the idle strategy's wait");
        assertEquals(1, store.poll(listener, 64), "answered with no duty cycle after the wait");
        assertEquals(NodeStatus.OK, listener.lastStatus);
    }

    @Test
    void theSleepIsBounded()
    {
        assertThrows(IllegalArgumentException.class, () -> new DiskIdleStrategy(10, disk));
        assertThrows(IllegalArgumentException.class, () -> new DiskIdleStrategy(2_000_000_000L, disk));
    }

    private void await(final int count) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (listener.count < count)
        {
            disk.doWork();
            store.poll(listener, 64);
            assertTrue(System.nanoTime() - deadlineNs < 0, "timed out");
        }
    }
}
