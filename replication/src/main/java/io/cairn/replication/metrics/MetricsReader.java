package io.cairn.replication.metrics;

import org.agrona.concurrent.status.CountersReader;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads every exported metric from a {@link CountersReader}: the daemon's own (its Aeron client's reader) or another
 * process's (a CnC file mapped read-only by {@link CncFile}). Reading never writes to the counters.
 */
public final class MetricsReader
{
    private MetricsReader()
    {
    }

    /**
     * @param reader counters.
     * @return the series, in counter order (histograms where their first bucket is).
     */
    public static List<Series> read(final CountersReader reader)
    {
        final Map<String, HistogramBuilder> histograms = new LinkedHashMap<>();
        final List<Object> ordered = new ArrayList<>();
        reader.forEach((counterId, typeId, keyBuffer, label) ->
        {
            final Metric metric = Metric.byTypeId(typeId);
            if (null == metric)
            {
                return;
            }
            final Map<String, String> labels = metric.aeronOwned() ? new LinkedHashMap<>() : MetricLabels.parse(label);
            if (null == labels)
            {
                return;
            }
            labels.remove(MetricLabels.KIND);
            final long value = reader.getCounterValue(counterId);
            if (metric.type() != Metric.Type.HISTOGRAM)
            {
                ordered.add(new Series(metric, labels, value, null, 0));
                return;
            }
            final String bucket = labels.remove(MetricLabels.BUCKET);
            if (null == bucket)
            {
                return;
            }
            final String key = metric.typeId() + " " + labels;
            HistogramBuilder builder = histograms.get(key);
            if (null == builder)
            {
                builder = new HistogramBuilder(metric, labels);
                histograms.put(key, builder);
                ordered.add(builder);
            }
            builder.add(bucket, value);
        });
        final List<Series> series = new ArrayList<>(ordered.size());
        for (final Object o : ordered)
        {
            series.add(o instanceof HistogramBuilder h ? h.build() : (Series)o);
        }
        return series;
    }

    /**
     * @param series read.
     * @param metric which.
     * @return those of that metric.
     */
    public static List<Series> select(final List<Series> series, final Metric metric)
    {
        final List<Series> selected = new ArrayList<>();
        for (final Series s : series)
        {
            if (s.metric() == metric)
            {
                selected.add(s);
            }
        }
        return selected;
    }

    /**
     * @param series read.
     * @param metric which.
     * @return the sum of its values over all label sets (e.g. every disk), 0 when absent.
     */
    public static long sum(final List<Series> series, final Metric metric)
    {
        long sum = 0;
        for (final Series s : select(series, metric))
        {
            sum += s.value();
        }
        return sum;
    }

    private static final class HistogramBuilder
    {
        private final Metric metric;
        private final Map<String, String> labels;
        private final long[] buckets = new long[LatencyHistogram.BUCKET_COUNT];
        private long sumNs;

        HistogramBuilder(final Metric metric, final Map<String, String> labels)
        {
            this.metric = metric;
            this.labels = labels;
        }

        void add(final String bucket, final long value)
        {
            if (LatencyHistogram.SUM_BUCKET.equals(bucket))
            {
                sumNs = value;
                return;
            }
            try
            {
                final int i = Integer.parseInt(bucket);
                if (i >= 0 && i < buckets.length)
                {
                    buckets[i] = value;
                }
            }
            catch (final NumberFormatException ignore)
            {
                // Not a bucket this version wrote: skipped rather than failing the whole read.
            }
        }

        Series build()
        {
            long count = 0;
            for (final long b : buckets)
            {
                count += b;
            }
            return new Series(metric, labels, count, buckets, sumNs);
        }
    }
}
