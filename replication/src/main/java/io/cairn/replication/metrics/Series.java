package io.cairn.replication.metrics;

import java.util.Map;

/**
 * One exported time series read from counters: a counter or gauge value, or a histogram's buckets and sum.
 *
 * @param metric  what it is.
 * @param labels  its labels ({@code kind} and {@code bucket} removed), in label order.
 * @param value   the value (counters and gauges); for histograms the count.
 * @param buckets histogram bucket counts (not cumulative), or null.
 * @param sumNs   histogram sum in nanoseconds, 0 otherwise.
 */
public record Series(Metric metric, Map<String, String> labels, long value, long[] buckets, long sumNs)
{
    /**
     * @param key a label.
     * @return its value, or null.
     */
    public String label(final String key)
    {
        return labels.get(key);
    }

    /**
     * @param quantile in (0, 1].
     * @return for a histogram, the upper bound of the bucket holding that quantile in nanoseconds (an over-estimate by
     * at most 2x); {@link Long#MAX_VALUE} in the overflow bucket; 0 when empty.
     */
    public long quantileUpperBoundNs(final double quantile)
    {
        if (null == buckets || 0 == value)
        {
            return 0;
        }
        final long rank = (long)Math.ceil(quantile * value);
        long seen = 0;
        for (int i = 0; i < buckets.length; i++)
        {
            seen += buckets[i];
            if (seen >= rank)
            {
                return LatencyHistogram.upperBoundNs(i);
            }
        }
        return Long.MAX_VALUE;
    }
}
