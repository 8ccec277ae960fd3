package io.cairn.replication.metrics;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * Allocates one counter: in a daemon, {@code aeron::addCounter}, so it lives in the CnC file that {@code cairn stat}
 * maps; in tests and tools, {@link #onHeap(int)}.
 */
@FunctionalInterface
public interface CounterAllocator
{
    /**
     * @param typeId counter type id (a {@link Metric#typeId()}).
     * @param label  label, see {@link MetricLabels}.
     * @return the counter.
     */
    AtomicCounter allocate(int typeId, String label);

    /**
     * @param maxCounters how many counters fit.
     * @return an allocator over counters in heap memory, with its reader.
     */
    static HeapCounters onHeap(final int maxCounters)
    {
        return new HeapCounters(new CountersManager(
            new UnsafeBuffer(new byte[maxCounters * CountersManager.METADATA_LENGTH]),
            new UnsafeBuffer(new byte[maxCounters * CountersManager.COUNTER_LENGTH])));
    }

    /**
     * Counters in heap memory.
     *
     * @param manager the counters, also their reader.
     */
    record HeapCounters(CountersManager manager) implements CounterAllocator
    {
        /** {@inheritDoc} */
        public AtomicCounter allocate(final int typeId, final String label)
        {
            return manager.newCounter(label, typeId);
        }
    }
}
