package io.cairn.replication.metrics;

import io.cairn.replication.ReplicationCounters;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsTest
{
    @Test
    void bucketsArePowersOfTwoOfNanoseconds()
    {
        assertEquals(0, LatencyHistogram.bucketOf(-5));
        assertEquals(0, LatencyHistogram.bucketOf(0));
        assertEquals(0, LatencyHistogram.bucketOf(1024));
        assertEquals(1, LatencyHistogram.bucketOf(1025));
        assertEquals(1, LatencyHistogram.bucketOf(2048));
        assertEquals(2, LatencyHistogram.bucketOf(2049));
        assertEquals(LatencyHistogram.BUCKET_COUNT - 2, LatencyHistogram.bucketOf(1L << 33));
        assertEquals(LatencyHistogram.BUCKET_COUNT - 1, LatencyHistogram.bucketOf((1L << 33) + 1));
        assertEquals(LatencyHistogram.BUCKET_COUNT - 1, LatencyHistogram.bucketOf(Long.MAX_VALUE));
        for (int i = 0; i < LatencyHistogram.BUCKET_COUNT - 1; i++)
        {
            assertEquals(i, LatencyHistogram.bucketOf(LatencyHistogram.upperBoundNs(i)), "upper bound is inclusive");
        }
    }

    @Test
    void labelsRoundTripWithADirectoryHoldingSpaces()
    {
        final String label = MetricLabels.bucketLabel("node=1 disk=0 dir=/data/my disk", "sync", "3");
        assertEquals("cairn node=1 disk=0 kind=sync bucket=3 dir=/data/my disk", label);
        final Map<String, String> parsed = MetricLabels.parse(label);
        assertEquals(Map.of("node", "1", "disk", "0", "kind", "sync", "bucket", "3", "dir", "/data/my disk"), parsed);
        assertEquals("cairn member=2 kind=commands", MetricLabels.label("member=2", "commands"));
        assertNull(MetricLabels.parse("Consensus Module state - clusterId=0"));
    }

    @Test
    void readerSeesCountersAndHistogramsAsWritten()
    {
        final CounterAllocator.HeapCounters heap = CounterAllocator.onHeap(256);
        final ReplicationCounters replication = new ReplicationCounters(heap, "node=7");
        for (int i = 0; i < 5; i++)
        {
            replication.increment(ReplicationCounters.Counter.APPENDS_ACKED);
        }
        replication.appendLatency().record(500);      // bucket 0
        replication.appendLatency().record(3_000);    // bucket 2 (<= 4096)
        replication.appendLatency().record(3_000_000_000L); // bucket 22 (<= 2^32 ns)

        final List<Series> series = MetricsReader.read(heap.manager());
        final Series acked = MetricsReader.select(series, Metric.REPLICATION_APPENDS_ACKED).getFirst();
        assertEquals(5, acked.value());
        assertEquals(Map.of("node", "7"), acked.labels());
        final Series latency = MetricsReader.select(series, Metric.REPLICATION_APPEND_LATENCY).getFirst();
        assertEquals(3, latency.value());
        assertEquals(3_000_003_500L, latency.sumNs());
        assertEquals(1, latency.buckets()[0]);
        assertEquals(1, latency.buckets()[2]);
        assertEquals(1, latency.buckets()[22]);
        assertEquals(4096, latency.quantileUpperBoundNs(0.5));
        assertEquals(1L << 32, latency.quantileUpperBoundNs(1.0));
        assertEquals(replication.appendLatency().count(), latency.value());
    }

    @Test
    void prometheusOutputParsesAndCarriesTheCounterValues()
    {
        final CounterAllocator.HeapCounters heap = CounterAllocator.onHeap(256);
        final ReplicationCounters replication = new ReplicationCounters(heap, "node=3");
        final LatencyHistogram sync = new LatencyHistogram(heap, Metric.DISK_SYNC_LATENCY,
            "node=3 disk=0 dir=/tmp/a \"quoted\" dir");
        heap.allocate(Metric.DISK_STATE.typeId(), "cairn node=3 disk=0 kind=disk_state dir=/tmp/a \"quoted\" dir")
            .set(Metric.DISK_STATE_FAILED);
        for (int i = 0; i < 42; i++)
        {
            replication.increment(ReplicationCounters.Counter.READS_OK);
            sync.record(i * 10_000L);
        }
        final StringBuilder text = new StringBuilder();
        PrometheusText.write(MetricsReader.read(heap.manager()), text);
        final Map<String, Double> samples = PrometheusFormatChecker.check(text.toString());

        assertEquals(42.0, samples.get("cairn_replication_reads_ok_total{node=\"3\"}"), text.toString());
        final String diskLabels = "node=\"3\",disk=\"0\",dir=\"/tmp/a \\\"quoted\\\" dir\"";
        assertEquals(2.0, samples.get("cairn_disk_state{" + diskLabels + "}"), text.toString());
        assertEquals(42.0, samples.get("cairn_disk_sync_latency_seconds_count{" + diskLabels + "}"));
        assertEquals(sync.sumNs() / 1e9, samples.get("cairn_disk_sync_latency_seconds_sum{" + diskLabels + "}"), 1e-9);
        assertEquals(42.0, samples.get("cairn_disk_sync_latency_seconds_bucket{" + diskLabels + ",le=\"+Inf\"}"));
    }

    @Test
    void checkerRejectsWhatAScraperWould()
    {
        assertThrows(AssertionError.class, () -> PrometheusFormatChecker.check("x_total 1\n"), "no TYPE");
        assertThrows(AssertionError.class, () -> PrometheusFormatChecker.check(
            "# HELP x_total h\n# TYPE x_total counter\nx_total{a=b} 1\n"), "unquoted label");
        assertThrows(AssertionError.class, () -> PrometheusFormatChecker.check(
            "# HELP x h\n# TYPE x counter\nx 1\n"), "counter without _total");
        assertThrows(AssertionError.class, () -> PrometheusFormatChecker.check(
            "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n"),
            "bucket going down");
    }

    @Test
    void everyMetricIsDocumented() throws Exception
    {
        final Path doc = Path.of("..", "docs", "operating", "metrics.md");
        final String text = Files.readString(doc);
        for (final Metric metric : Metric.values())
        {
            assertTrue(text.contains("`" + metric.promName() + "`"), metric.promName() + " is not in " + doc);
        }
    }
}
