package io.cairn.replication.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes series in the Prometheus text exposition format 0.0.4: one {@code # HELP} and {@code # TYPE} per metric
 * family, then its samples; histograms as cumulative {@code _bucket{le=...}} in seconds, {@code _sum} in seconds and
 * {@code _count}.
 */
public final class PrometheusText
{
    /** The Content-Type of the format. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusText()
    {
    }

    /**
     * @param series what to write.
     * @param out    where.
     */
    public static void write(final List<Series> series, final StringBuilder out)
    {
        final Map<Metric, List<Series>> families = new LinkedHashMap<>();
        for (final Series s : series)
        {
            families.computeIfAbsent(s.metric(), k -> new ArrayList<>()).add(s);
        }
        for (final Map.Entry<Metric, List<Series>> family : families.entrySet())
        {
            final Metric metric = family.getKey();
            out.append("# HELP ").append(metric.promName()).append(' ').append(escapeHelp(metric.help())).append('\n');
            out.append("# TYPE ").append(metric.promName()).append(' ')
                .append(metric.type().name().toLowerCase()).append('\n');
            for (final Series s : family.getValue())
            {
                if (metric.type() == Metric.Type.HISTOGRAM)
                {
                    writeHistogram(metric, s, out);
                }
                else
                {
                    sample(out, metric.promName(), s.labels(), null).append(s.value()).append('\n');
                }
            }
        }
    }

    private static void writeHistogram(final Metric metric, final Series s, final StringBuilder out)
    {
        long cumulative = 0;
        final long[] buckets = s.buckets();
        for (int i = 0; i < buckets.length; i++)
        {
            cumulative += buckets[i];
            final long boundNs = LatencyHistogram.upperBoundNs(i);
            final String le = boundNs == Long.MAX_VALUE ? "+Inf" : Double.toString(boundNs / 1e9);
            sample(out, metric.promName() + "_bucket", s.labels(), le).append(cumulative).append('\n');
        }
        sample(out, metric.promName() + "_sum", s.labels(), null).append(s.sumNs() / 1e9).append('\n');
        sample(out, metric.promName() + "_count", s.labels(), null).append(cumulative).append('\n');
    }

    private static StringBuilder sample(
        final StringBuilder out, final String name, final Map<String, String> labels, final String le)
    {
        out.append(name);
        if (!labels.isEmpty() || null != le)
        {
            out.append('{');
            boolean first = true;
            for (final Map.Entry<String, String> label : labels.entrySet())
            {
                out.append(first ? "" : ",").append(label.getKey()).append("=\"")
                    .append(escapeLabel(label.getValue())).append('"');
                first = false;
            }
            if (null != le)
            {
                out.append(first ? "" : ",").append("le=\"").append(le).append('"');
            }
            out.append('}');
        }
        return out.append(' ');
    }

    static String escapeLabel(final String value)
    {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static String escapeHelp(final String value)
    {
        return value.replace("\\", "\\\\").replace("\n", "\\n");
    }
}
