package io.cairn.replication.metrics;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small checker of the Prometheus text exposition format 0.0.4, strict enough to catch what a scraper rejects:
 * comment syntax, one HELP and TYPE per family before its samples, families contiguous, metric and label name
 * syntax, quoted and escaped label values, numeric values, counters named {@code _total}, and histograms with
 * non-decreasing cumulative buckets ending in {@code le="+Inf"} equal to {@code _count}.
 */
final class PrometheusFormatChecker
{
    private static final Pattern HELP = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)");
    private static final Pattern TYPE = Pattern.compile(
        "# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)");
    private static final Pattern SAMPLE = Pattern.compile(
        "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{((?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\",?)*)\\})? (\\S+)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"");

    private PrometheusFormatChecker()
    {
    }

    /**
     * @param text an exposition.
     * @return the samples, {@code name{labels}} to value.
     * @throws AssertionError naming the line that is wrong.
     */
    static Map<String, Double> check(final String text)
    {
        if (!text.endsWith("\n"))
        {
            throw new AssertionError("the exposition must end with a newline");
        }
        final Map<String, Double> samples = new HashMap<>();
        final Map<String, String> types = new HashMap<>();
        final Set<String> finished = new HashSet<>();
        final Set<String> helped = new HashSet<>();
        String family = null;
        String lastBucketSeries = null;
        double lastBucket = -1;
        int lineNo = 0;
        for (final String line : text.split("\n"))
        {
            lineNo++;
            final String where = "line " + lineNo + " '" + line + "': ";
            if (line.startsWith("#"))
            {
                final Matcher help = HELP.matcher(line);
                final Matcher type = TYPE.matcher(line);
                if (help.matches())
                {
                    require(helped.add(help.group(1)), where + "second HELP");
                    if (null != family && !family.equals(help.group(1)))
                    {
                        finished.add(family);
                    }
                    family = help.group(1);
                    require(!finished.contains(family), where + "family not contiguous");
                }
                else if (type.matches())
                {
                    require(type.group(1).equals(family), where + "TYPE not after its HELP");
                    require(null == types.put(type.group(1), type.group(2)), where + "second TYPE");
                }
                else
                {
                    throw new AssertionError(where + "not a HELP or TYPE comment");
                }
                continue;
            }
            final Matcher sample = SAMPLE.matcher(line);
            require(sample.matches(), where + "not a sample");
            final String name = sample.group(1);
            final String type = types.get(family);
            require(null != type, where + "sample before its TYPE");
            final String base = baseName(name, type);
            require(base.equals(family), where + "sample outside its family " + family);
            if ("counter".equals(type))
            {
                require(name.endsWith("_total"), where + "counter not named _total");
            }
            final double value = parseValue(sample.group(4), where);
            final String labels = null == sample.group(3) ? "" : sample.group(3);
            final Map<String, String> parsed = new HashMap<>();
            final Matcher label = LABEL.matcher(labels);
            while (label.find())
            {
                require(null == parsed.put(label.group(1), label.group(2)), where + "label twice");
            }
            require(null == samples.put(name + "{" + labels + "}", value), where + "duplicate sample");
            if (name.endsWith("_bucket"))
            {
                require(parsed.containsKey("le"), where + "bucket without le");
                final String series = name + "{" + labels.replaceAll(",?le=\"[^\"]*\"", "") + "}";
                if (series.equals(lastBucketSeries))
                {
                    require(value >= lastBucket, where + "cumulative bucket went down");
                }
                lastBucketSeries = series;
                lastBucket = value;
                if ("+Inf".equals(parsed.get("le")))
                {
                    samples.put("+Inf " + series, value);
                }
                else
                {
                    parseValue(parsed.get("le"), where);
                }
            }
            if (name.endsWith("_count") && "histogram".equals(type))
            {
                final String series = family + "_bucket{" + labels + "}";
                final Double inf = samples.get("+Inf " + series);
                require(null != inf && inf == value, where + "_count differs from the +Inf bucket " + inf);
            }
        }
        return samples;
    }

    private static String baseName(final String name, final String type)
    {
        if ("histogram".equals(type))
        {
            for (final String suffix : new String[]{ "_bucket", "_sum", "_count" })
            {
                if (name.endsWith(suffix))
                {
                    return name.substring(0, name.length() - suffix.length());
                }
            }
        }
        return name;
    }

    private static double parseValue(final String value, final String where)
    {
        if ("+Inf".equals(value) || "-Inf".equals(value) || "NaN".equals(value))
        {
            return Double.parseDouble(value.replace("+", ""));
        }
        try
        {
            return Double.parseDouble(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new AssertionError(where + "value " + value + " is not a number");
        }
    }

    private static void require(final boolean ok, final String message)
    {
        if (!ok)
        {
            throw new AssertionError(message);
        }
    }
}
