package io.cairn.replication.metrics;

import io.cairn.replication.Verify;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * A latency histogram stored in counters (so it lives in the daemon's CnC file beside the plain counters, read by
 * {@code cairn stat} and the Prometheus endpoint without disturbing the daemon): {@link #BUCKET_COUNT} power-of-two
 * buckets of nanoseconds plus a sum. Recording is one bucket lookup and two release stores: no allocation, no lock.
 * <p>
 * Single writer: only the owning agent's thread records. Bucket {@code i < BUCKET_COUNT - 1} counts values up to
 * {@code 2^(i + MIN_SHIFT)} ns (1.024 µs, 2.048 µs, ... 8.6 s); the last bucket counts everything larger.
 */
public final class LatencyHistogram implements AutoCloseable
{
    /** Upper bound of the first bucket is 2^MIN_SHIFT ns (1.024 µs). */
    public static final int MIN_SHIFT = 10;
    /** Buckets: 24 bounded ones (1.024 µs to 8.6 s) and one overflow bucket. */
    public static final int BUCKET_COUNT = 25;
    /** Label value of the sum counter's {@code bucket=} label. */
    public static final String SUM_BUCKET = "sum";

    private final AtomicCounter[] buckets = new AtomicCounter[BUCKET_COUNT];
    private final AtomicCounter sumNs;

    /**
     * @param allocator where the counters live.
     * @param metric    a {@link Metric.Type#HISTOGRAM} metric.
     * @param labels    its labels, {@code k=v} separated by spaces, without {@code bucket} (see {@link MetricLabels}).
     */
    public LatencyHistogram(final CounterAllocator allocator, final Metric metric, final String labels)
    {
        Verify.verify(metric.type() == Metric.Type.HISTOGRAM, "not a histogram metric", metric.typeId());
        final String kind = metric.promName();
        for (int i = 0; i < BUCKET_COUNT; i++)
        {
            buckets[i] = allocator.allocate(metric.typeId(), MetricLabels.bucketLabel(labels, kind, Integer.toString(i)));
        }
        sumNs = allocator.allocate(metric.typeId(), MetricLabels.bucketLabel(labels, kind, SUM_BUCKET));
    }

    /**
     * @param bucket a bucket index.
     * @return its upper bound in nanoseconds; {@link Long#MAX_VALUE} for the overflow bucket.
     */
    public static long upperBoundNs(final int bucket)
    {
        return bucket >= BUCKET_COUNT - 1 ? Long.MAX_VALUE : 1L << (bucket + MIN_SHIFT);
    }

    /**
     * @param valueNs a latency.
     * @return the bucket that counts it.
     */
    public static int bucketOf(final long valueNs)
    {
        if (valueNs <= (1L << MIN_SHIFT))
        {
            return 0;
        }
        return Math.min(BUCKET_COUNT - 1, 64 - Long.numberOfLeadingZeros(valueNs - 1) - MIN_SHIFT);
    }

    /**
     * Record one latency (single writer). A negative value (a clock step) counts in the first bucket as 0.
     *
     * @param valueNs the latency.
     */
    public void record(final long valueNs)
    {
        final long value = Math.max(0, valueNs);
        buckets[bucketOf(value)].incrementRelease();
        sumNs.getAndAddRelease(value);
    }

    /**
     * @param bucket index.
     * @return its count now.
     */
    public long bucketCount(final int bucket)
    {
        return buckets[bucket].get();
    }

    /** @return the sum of all values recorded, in nanoseconds. */
    public long sumNs()
    {
        return sumNs.get();
    }

    /** @return values recorded. */
    public long count()
    {
        long count = 0;
        for (final AtomicCounter bucket : buckets)
        {
            count += bucket.get();
        }
        return count;
    }

    /** Free the counters. */
    public void close()
    {
        for (final AtomicCounter bucket : buckets)
        {
            bucket.close();
        }
        sumNs.close();
    }
}
