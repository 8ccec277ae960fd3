package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.ReplicaStore;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The disk agent's pipeline over the simulated engine, with an fdatasync held in flight on purpose: reads are
 * answered while a write waits for its fdatasync, the next writes go to the kernel meanwhile, acknowledgements
 * stay in order, and nothing after a failed fdatasync or a failed write of the same file is acknowledged.
 */
class DiskPipelineTest
{
    static final Path DIR = Path.of("/sim/pipeline");
    static final int PAYLOAD_BYTES = 3000;
    static final int ROUNDS = 200;

    SimulatedStorage disk;
    DiskIoAgent agent;
    IoUringReplicaStore store;
    final Events events = new Events();
    final UnsafeBuffer payload = new UnsafeBuffer(new byte[PAYLOAD_BYTES]);

    @BeforeEach
    void setUp() throws Exception
    {
        start(11, 1024 * 1024);
    }

    /** A fresh simulated disk with extent 1 (1 MiB) created, preallocated in steps of {@code preallocStepBytes}. */
    private void start(final long seed, final long preallocStepBytes) throws Exception
    {
        disk = new SimulatedStorage(seed, SimulatedStorage.Faults.NONE);
        disk.completionPercent = 100; // every ready op completes at each reap: the test decides what is held
        final List<RecoveredExtent> recovered = ExtentFiles.recover(disk, DIR, 0, CrashRecoveryPropertyTest.QUIET);
        agent = new DiskIoAgent(0, DIR, disk, TestCounters.counters(0),
            new DiskIoAgent.Config(16, 32 * 1024, 64, 16, 1024 * 1024, preallocStepBytes, 1024 * 1024), recovered);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ agent }, new Path[]{ DIR }, 1024 * 1024,
            32 * 1024 - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
        events.list.clear();
        assertEquals(NodeStatus.OK, store.submitCreate(1, 5, 0));
        settle();
        assertEquals("created 1 OK", events.last());
    }

    @Test
    void readsAndNextWritesRunWhileAnFdatasyncIsInFlight() throws Exception
    {
        final long first = write();
        settle();
        disk.holdFdatasyncs = true;
        final long second = write();
        drive();
        assertEquals(1, agent.fdatasyncsInFlight(), "the second write's fdatasync is in flight");
        final int writesBefore = disk.writesRun;

        assertEquals(NodeStatus.OK, store.submitRead(1, first, 7));
        drive();
        assertEquals("read " + first + " OK", events.last(), "a read does not wait for the fdatasync in flight");
        final long third = write();
        drive();
        assertEquals(writesBefore + 1, disk.writesRun, "the next write ran while the fdatasync was in flight");
        assertTrue(events.list.stream().noneMatch(e -> e.startsWith("written " + second)), "not durable yet");

        disk.holdFdatasyncs = false;
        settle();
        assertEquals(List.of("written " + second + " OK", "written " + third + " OK"),
            events.list.subList(events.list.size() - 2, events.list.size()), "acknowledged in order, after fdatasync");
        assertEquals(DiskIoAgent.STATE_OK, agent.diskState());
    }

    @Test
    void nothingAfterAFailedFdatasyncIsAcknowledged() throws Exception
    {
        write();
        settle();
        disk.holdFdatasyncs = true;
        final long second = write();
        drive();
        final long third = write();
        drive();
        // The third write has completed; its fdatasync would succeed, but the second's fails first.
        disk.faults = new SimulatedStorage.Faults(0, 0, 0, 1.0, 0);
        disk.holdFdatasyncs = false;
        for (int i = 0; i < ROUNDS && events.list.stream().noneMatch(e -> e.startsWith("written " + second)); i++)
        {
            drive();
        }
        disk.faults = SimulatedStorage.Faults.NONE;
        settle();
        assertTrue(events.list.contains("written " + second + " IO_ERROR"), events.list.toString());
        assertTrue(events.list.contains("written " + third + " IO_ERROR"),
            "a write after a failed fdatasync is never acknowledged: " + events.list);
        assertEquals(DiskIoAgent.STATE_FAILED, agent.diskState());
    }

    @Test
    void nothingAfterAFailedWriteOfTheSameFileIsAcknowledged() throws Exception
    {
        disk.gatheredWrites = false; // the pipeline: three concurrent writes, the second fails
        final long first = write();
        final long second = write();
        final long third = write();
        disk.failWriteAtOffset = second;
        settle();
        assertEquals(List.of("written " + first + " OK", "written " + second + " IO_ERROR",
            "written " + third + " IO_ERROR"), events.list.subList(1, 4), "in order; nothing past the hole");
        assertEquals(DiskIoAgent.STATE_FAILED, agent.diskState());
        assertEquals(NodeStatus.IO_ERROR, store.submitWrite(1, store.endOffset(1), payload, 0, PAYLOAD_BYTES, 9));
    }

    @Test
    void contiguousAppendsToAnIdleFileGoOutAsOneGatheredDsyncWrite() throws Exception
    {
        final long first = write();
        final long second = write();
        final long third = write();
        final long writesBefore = disk.gatheredWritesRun;
        settle();
        assertEquals(writesBefore + 1, disk.gatheredWritesRun, "one gathered write for the three appends");
        assertEquals(3, agent.counters().get(DiskCounters.Kind.GROUPED_WRITES));
        assertEquals(List.of("written " + first + " OK", "written " + second + " OK", "written " + third + " OK"),
            events.list.subList(1, 4), "acknowledged in order once the gathered write completed");
        for (final long offset : new long[]{ first, second, third })
        {
            assertEquals(NodeStatus.OK, store.submitRead(1, offset, 7));
            settle();
            assertEquals("read " + offset + " OK", events.last(), "every block of the gathered write reads back");
        }
    }

    @Test
    void aGatheredWriteIsNotUsedWhileTheFileHasASyncInFlight() throws Exception
    {
        write();
        settle();
        disk.holdFdatasyncs = true;
        disk.gatheredWrites = false;
        final long second = write();
        drive();
        assertEquals(1, agent.fdatasyncsInFlight());
        disk.gatheredWrites = true;
        final long third = write();
        final long fourth = write();
        drive();
        final long gathered = disk.gatheredWritesRun;
        disk.holdFdatasyncs = false;
        settle();
        assertEquals(gathered, disk.gatheredWritesRun, "writes behind an fdatasync in flight take the pipeline");
        assertEquals(List.of("written " + second + " OK", "written " + third + " OK", "written " + fourth + " OK"),
            events.list.subList(events.list.size() - 3, events.list.size()));
    }

    @Test
    void aGroupIsNeverCutAtTheAllocatedSize() throws Exception
    {
        // 8 appends a cycle over many preallocation steps: each cycle goes out whole, either as one gathered
        // write or (the cycle that grows the file) through the pipeline with one fdatasync; never split in two, which
        // would leave a closed loop's writes in two cohorts acknowledged at different times.
        // 64 KiB preallocation steps in a 1 MiB extent: a growth step every other cycle of eight 4 KiB blocks.
        start(12, 64 * 1024);
        long growthCycles = 0;
        for (int cycle = 0; cycle < 30; cycle++)
        {
            final long groupedBefore = agent.counters().get(DiskCounters.Kind.GROUPED_WRITES);
            final long growthsBefore = agent.counters().get(DiskCounters.Kind.PREALLOCATIONS);
            final int answered = events.list.size();
            for (int i = 0; i < 8; i++)
            {
                write();
            }
            settle();
            assertEquals(answered + 8, events.list.size());
            assertTrue(events.list.subList(answered, answered + 8).stream().allMatch(e -> e.endsWith(" OK")));
            final long grouped = agent.counters().get(DiskCounters.Kind.GROUPED_WRITES) - groupedBefore;
            final long grown = agent.counters().get(DiskCounters.Kind.PREALLOCATIONS) - growthsBefore;
            assertTrue(grouped == 8 || (grouped == 0 && grown == 1), "cycle " + cycle + ": " + grouped + " grouped, " +
                grown + " growth steps");
            growthCycles += grown;
        }
        assertTrue(growthCycles >= 10, "the loop crossed growth steps: " + growthCycles);
    }

    @Test
    void aShortGatheredWriteAcknowledgesNoneOfItsWrites() throws Exception
    {
        final long first = write();
        final long second = write();
        final long third = write();
        disk.failWriteAtOffset = second; // the gathered write stops there: a short result
        settle();
        // Conservative: a short RWF_DSYNC write is a failed sync, so not even the written prefix is acknowledged.
        assertEquals(List.of("written " + first + " IO_ERROR", "written " + second + " IO_ERROR",
            "written " + third + " IO_ERROR"), events.list.subList(1, 4));
        assertEquals(DiskIoAgent.STATE_FAILED, agent.diskState());
        assertEquals(NodeStatus.IO_ERROR, store.submitWrite(1, store.endOffset(1), payload, 0, PAYLOAD_BYTES, 9));
    }

    private long write()
    {
        final long offset = store.endOffset(1);
        assertEquals(NodeStatus.OK, store.submitWrite(1, offset, payload, 0, PAYLOAD_BYTES, offset));
        return offset;
    }

    private void drive() throws Exception
    {
        for (int i = 0; i < 4; i++)
        {
            agent.doWork();
            store.poll(events, 64);
        }
    }

    private void settle() throws Exception
    {
        for (int i = 0; i < ROUNDS && !agent.isQuiescent(); i++)
        {
            drive();
        }
        drive();
        assertTrue(agent.isQuiescent(), "settled");
    }

    /** Every answer, in order, as text. */
    static final class Events implements ReplicaStore.Listener
    {
        final List<String> list = new ArrayList<>();

        String last()
        {
            return list.getLast();
        }

        public void onCreated(final long token, final long extentId, final NodeStatus status, final long commitLength)
        {
            list.add("created " + extentId + " " + status);
        }

        public void onWritten(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final long nextOffset, final long commitLength)
        {
            list.add("written " + blockOffset + " " + status);
        }

        public void onRead(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final DirectBuffer payload, final int payloadOffset, final int payloadLengthBytes, final long nextOffset,
            final long commitLength)
        {
            list.add("read " + blockOffset + " " + status);
        }

        public void onSealed(final long token, final long extentId, final NodeStatus status, final long commitLength)
        {
            list.add("sealed " + extentId + " " + status);
        }
    }
}
