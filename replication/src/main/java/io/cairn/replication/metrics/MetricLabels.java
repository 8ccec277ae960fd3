package io.cairn.replication.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The label format of Cairn's counters: {@code cairn k=v k=v ... kind=K [bucket=B] [dir=PATH]}. Values hold no
 * spaces, except {@code dir}, which is always last and takes the rest of the label. {@code kind} names the counter
 * for people ({@code cairn-node stat}); {@code bucket} is a {@link LatencyHistogram} bucket index or {@code sum}.
 */
public final class MetricLabels
{
    /** Every Cairn counter label starts with this. */
    public static final String PREFIX = "cairn ";
    /** The label that names the counter for people. */
    public static final String KIND = "kind";
    /** The histogram bucket label. */
    public static final String BUCKET = "bucket";
    /** The label that takes the rest of the line. */
    public static final String DIR = "dir";

    private MetricLabels()
    {
    }

    /**
     * @param labels {@code k=v} pairs separated by spaces; a {@code dir=} pair, if any, last.
     * @param kind   the counter's kind.
     * @return the counter label.
     */
    public static String label(final String labels, final String kind)
    {
        return insert(labels, KIND + "=" + kind);
    }

    /**
     * @param labels {@code k=v} pairs.
     * @param kind   the histogram's kind.
     * @param bucket bucket index or {@link LatencyHistogram#SUM_BUCKET}.
     * @return the counter label of one bucket.
     */
    public static String bucketLabel(final String labels, final String kind, final String bucket)
    {
        return insert(labels, KIND + "=" + kind + " " + BUCKET + "=" + bucket);
    }

    private static String insert(final String labels, final String pairs)
    {
        final int dirAt = labels.startsWith(DIR + "=") ? 0 : labels.indexOf(" " + DIR + "=");
        if (dirAt < 0)
        {
            return PREFIX + (labels.isEmpty() ? pairs : labels + " " + pairs);
        }
        final String before = labels.substring(0, dirAt).trim();
        return PREFIX + (before.isEmpty() ? "" : before + " ") + pairs + " " + labels.substring(dirAt).trim();
    }

    /**
     * @param label a counter label.
     * @return its pairs in order, or null when it is not a Cairn label.
     */
    public static Map<String, String> parse(final String label)
    {
        if (!label.startsWith(PREFIX))
        {
            return null;
        }
        final Map<String, String> pairs = new LinkedHashMap<>();
        int at = PREFIX.length();
        while (at < label.length())
        {
            final int eq = label.indexOf('=', at);
            if (eq < 0)
            {
                return null;
            }
            final String key = label.substring(at, eq);
            if (DIR.equals(key))
            {
                pairs.put(key, label.substring(eq + 1));
                break;
            }
            final int end = label.indexOf(' ', eq);
            pairs.put(key, label.substring(eq + 1, end < 0 ? label.length() : end));
            at = end < 0 ? label.length() : end + 1;
        }
        return pairs;
    }
}
