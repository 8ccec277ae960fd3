package io.cairn.replication;

import io.cairn.replication.metrics.CounterAllocator;
import io.cairn.replication.metrics.LatencyHistogram;
import io.cairn.replication.metrics.Metric;
import io.cairn.replication.metrics.MetricLabels;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * Counters of the replication agent: written by that agent only, readable from any thread. In the node they live in
 * the media driver's CnC file (type id {@link #TYPE_ID_BASE} + ordinal, see {@link Metric}), so {@code cairn stat} and
 * the Prometheus endpoint read them from outside; tests use heap counters.
 */
public final class ReplicationCounters
{
    /** Type id of the first counter: {@link Metric#REPLICATION_MALFORMED_DROPPED}. */
    public static final int TYPE_ID_BASE = 4300;
    /** Heap counters: every counter plus the histogram's buckets, with room to spare. */
    private static final int HEAP_COUNTERS_MAX = 64;

    /** What is counted. */
    public enum Counter
    {
        /** Fragments that could not be decoded at all (bad schema, template, truncated header). */
        MALFORMED_DROPPED,
        /** Malformed requests answered with ErrorResponse/BAD_REQUEST. */
        MALFORMED_ANSWERED,
        /** Requests from a clientId that has not sent Connect. */
        UNKNOWN_CLIENT_DROPPED,
        /** Connect requests refused because the client table was full or the channel invalid. */
        CONNECT_REFUSED,
        /** Responses not sent: client gone, not connected or back pressure beyond the retry limit. */
        RESPONSES_DROPPED,
        /** Requests to secondaries not sent. */
        PEER_SENDS_FAILED,
        /** Responses from secondaries that matched nothing in flight (late or duplicate). */
        PEER_RESPONSES_UNMATCHED,
        /** Appends acknowledged OK. */
        APPENDS_ACKED,
        /** Appends answered BUSY. */
        APPENDS_BUSY,
        /** Extents that stopped taking appends after a replica failure. */
        EXTENTS_FAILED,
        /** Blocks written as a secondary. */
        REPLICATES_WRITTEN,
        /** Reads answered OK. */
        READS_OK,
        /** Reads that found a corrupt block. */
        READS_CORRUPT,
        /** Requests refused LOCKED_BY_OTHER: an older owner revision than this replica has seen. */
        FENCED_REFUSALS,
        /** Retried appends answered from the primary's window instead of written again. */
        APPENDS_DEDUPLICATED,
        /** Extents sealed on this node by SealExtent. */
        SEALS
    }

    private static final Counter[] COUNTERS = Counter.values();

    static
    {
        for (final Counter c : COUNTERS)
        {
            final Metric metric = Metric.byTypeId(TYPE_ID_BASE + c.ordinal());
            Verify.verify(null != metric && metric.name().equals("REPLICATION_" + c.name()),
                "replication counter without its metric", c.ordinal());
        }
    }

    private final AtomicCounter[] values = new AtomicCounter[COUNTERS.length];
    private final LatencyHistogram appendLatency;

    /**
     * Counters in heap memory (tests, simulations).
     */
    public ReplicationCounters()
    {
        this(CounterAllocator.onHeap(HEAP_COUNTERS_MAX), "node=0");
    }

    /**
     * @param allocator where the counters live (the node: its Aeron client's {@code addCounter}).
     * @param labels    labels of every counter, e.g. {@code node=1}.
     */
    public ReplicationCounters(final CounterAllocator allocator, final String labels)
    {
        for (final Counter c : COUNTERS)
        {
            values[c.ordinal()] = allocator.allocate(TYPE_ID_BASE + c.ordinal(),
                MetricLabels.label(labels, c.name().toLowerCase()));
        }
        appendLatency = new LatencyHistogram(allocator, Metric.REPLICATION_APPEND_LATENCY, labels);
    }

    /**
     * @param counter to increment (single writer: a plain read plus a release store).
     */
    public void increment(final Counter counter)
    {
        values[counter.ordinal()].incrementRelease();
    }

    /**
     * @param counter to read.
     * @return its value.
     */
    public long get(final Counter counter)
    {
        return values[counter.ordinal()].get();
    }

    /** @return replicated append service time at the primary (recorded by the replication agent only). */
    public LatencyHistogram appendLatency()
    {
        return appendLatency;
    }

    /** Free the counters. */
    public void close()
    {
        for (final AtomicCounter counter : values)
        {
            counter.close();
        }
        appendLatency.close();
    }

    /** {@inheritDoc} */
    public String toString()
    {
        final StringBuilder sb = new StringBuilder();
        for (final Counter c : COUNTERS)
        {
            sb.append(c.name()).append('=').append(get(c)).append(' ');
        }
        return sb.toString().trim();
    }
}
