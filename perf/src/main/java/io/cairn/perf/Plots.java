package io.cairn.perf;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * PNG charts of runs, drawn by XChart: latency by percentile (HdrHistogram's plotter layout: x is log10(1/(1-p)),
 * so 90%, 99%, 99.9% are evenly spaced) and throughput over time (one point per interval histogram).
 */
final class Plots
{
    static final int WIDTH = 1000;
    static final int HEIGHT = 600;
    /** The highest percentile drawn: 1/(1 - 0.99999) = 100,000 on the x axis. */
    static final double MAX_PERCENTILE = 99.999;

    private Plots()
    {
    }

    static
    {
        System.setProperty("java.awt.headless", "true");
    }

    /**
     * @param h latencies in ns.
     * @return x = {@link #nines(double)} and y = latency in µs at each percentile step below {@link #MAX_PERCENTILE}, and at
     *         {@link #MAX_PERCENTILE} itself.
     */
    static double[][] percentileCurve(final Histogram h)
    {
        final List<double[]> points = new ArrayList<>();
        for (final HistogramIterationValue v : h.percentiles(5))
        {
            final double p = v.getPercentileLevelIteratedTo();
            if (p >= MAX_PERCENTILE)
            {
                break;
            }
            points.add(new double[]{ nines(p), h.highestEquivalentValue(v.getValueIteratedTo()) / 1e3 });
        }
        points.add(new double[]{ nines(MAX_PERCENTILE), h.getValueAtPercentile(MAX_PERCENTILE) / 1e3 });
        final double[][] xy = new double[2][points.size()];
        for (int i = 0; i < points.size(); i++)
        {
            xy[0][i] = points.get(i)[0];
            xy[1][i] = Math.max(points.get(i)[1], 0.001);
        }
        return xy;
    }

    /** The x position of percentile p: log10(1/(1-p)), so 90% is 1, 99% is 2, 99.9% is 3 ("nines"). */
    static double nines(final double percentile)
    {
        return Math.log10(1.0 / (1.0 - percentile / 100.0));
    }

    /** Latency by percentile of every series in one chart, saved as {@code file} (.png). */
    static void latencyByPercentile(final Path file, final String title, final Map<String, Histogram> series)
        throws IOException
    {
        final XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle("percentile, in nines: 1 = 90%, 2 = 99%, 3 = 99.9%, 4 = 99.99%, 5 = 99.999%").yAxisTitle("latency (µs, log)").build();
        style(chart);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisMin(0.0);
        chart.getStyler().setXAxisMax(nines(MAX_PERCENTILE));
        // No tick-label callback: XChart 3.8.8's tick calculator can loop forever when custom labels collide.
        for (final Map.Entry<String, Histogram> e : series.entrySet())
        {
            if (e.getValue().getTotalCount() == 0)
            {
                continue;
            }
            final double[][] xy = percentileCurve(e.getValue());
            final XYSeries s = chart.addSeries(e.getKey(), xy[0], xy[1]);
            s.setMarker(SeriesMarkers.NONE);
        }
        save(chart, file);
    }

    /** Throughput per interval of every series, x in seconds since each series' first interval. */
    static void throughputOverTime(final Path file, final String title, final Map<String, List<Histogram>> series)
        throws IOException
    {
        final XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle("time (s)").yAxisTitle("completed requests/s").build();
        style(chart);
        for (final Map.Entry<String, List<Histogram>> e : series.entrySet())
        {
            final double[][] xy = throughputSeries(e.getValue());
            if (xy[0].length == 0)
            {
                continue;
            }
            final XYSeries s = chart.addSeries(e.getKey(), xy[0], xy[1]);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        save(chart, file);
    }

    /**
     * @param intervals interval histograms with start and end time stamps (ms).
     * @return x = end of each interval in s since the first interval's start, y = count / interval length.
     */
    static double[][] throughputSeries(final List<Histogram> intervals)
    {
        final List<double[]> points = new ArrayList<>();
        long baseMs = Long.MAX_VALUE;
        for (final Histogram h : intervals)
        {
            baseMs = Math.min(baseMs, h.getStartTimeStamp());
        }
        for (final Histogram h : intervals)
        {
            final long lengthMs = h.getEndTimeStamp() - h.getStartTimeStamp();
            if (lengthMs <= 0)
            {
                continue;
            }
            points.add(new double[]{ (h.getEndTimeStamp() - baseMs) / 1e3, h.getTotalCount() * 1e3 / lengthMs });
        }
        final double[][] xy = new double[2][points.size()];
        for (int i = 0; i < points.size(); i++)
        {
            xy[0][i] = points.get(i)[0];
            xy[1][i] = points.get(i)[1];
        }
        return xy;
    }

    private static void style(final XYChart chart)
    {
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        chart.getStyler().setPlotGridLinesVisible(true);
    }

    private static void save(final XYChart chart, final Path file) throws IOException
    {
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
