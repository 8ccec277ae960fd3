package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;

/**
 * Disk counters in heap memory, for tests without a media driver.
 */
final class TestCounters
{
    private TestCounters()
    {
    }

    static DiskCounters counters(final int diskIndex)
    {
        final CountersManager manager = new CountersManager(
            new UnsafeBuffer(new byte[64 * 1024 * 4]), new UnsafeBuffer(new byte[64 * 1024]));
        return new DiskCounters((typeId, label) -> manager.newCounter(label, typeId), 1, diskIndex, "test");
    }

    static DiskIoAgent.Config config(final int buffers, final long preallocStepBytes)
    {
        return new DiskIoAgent.Config(buffers, BlockFormat.MAX_BLOCK_LENGTH_BYTES, 64, 64, 8L * 1024 * 1024,
            preallocStepBytes, 16L * 1024 * 1024);
    }
}
