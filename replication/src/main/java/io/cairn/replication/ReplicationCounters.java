package io.cairn.replication;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of the replication agent: written by that agent only, readable from any thread.
 */
public final class ReplicationCounters
{
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
    private final AtomicLongArray values = new AtomicLongArray(COUNTERS.length);

    /**
     * @param counter to increment (single writer: a plain read plus an ordered write).
     */
    public void increment(final Counter counter)
    {
        final int i = counter.ordinal();
        values.lazySet(i, values.get(i) + 1);
    }

    /**
     * @param counter to read.
     * @return its value.
     */
    public long get(final Counter counter)
    {
        return values.get(counter.ordinal());
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
