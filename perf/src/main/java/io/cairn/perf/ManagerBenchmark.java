package io.cairn.perf;

import io.aeron.driver.MediaDriver;
import io.cairn.manager.Kv;
import io.cairn.manager.ManagerClient;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.AeronDefaults;
import io.cairn.sbe.manager.CompareResult;
import io.cairn.sbe.manager.CompareTarget;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Metadata operations against Cairn's manager or against etcd (v3 HTTP/JSON gateway), closed loop with N concurrent
 * clients, one operation in flight per client: throughput and HdrHistogram percentiles per operation. Run by
 * {@code perf/manager-bench.sh}, which starts and stops both clusters; {@code --table} prints the comparison.
 * <p>
 * Operations, the same work on both systems:
 * <ul>
 *     <li>{@code put}: a 64-byte value to one of 1000 keys of the client;</li>
 *     <li>{@code txn}: compare-and-swap on the client's own key (version equals the last seen, then put, else get);</li>
 *     <li>{@code range}: linearizable read of a 10-key prefix;</li>
 *     <li>{@code alloc}: extent allocation. Cairn: {@code AllocateExtent} (seal the tail, place a new extent on 3
 *     nodes), a new stream every 32. etcd: the same bookkeeping as one transaction (compare the stream's tail key,
 *     put the new tail, the sealed extent and the new extent record), a new stream (compare create revision 0)
 *     every 32. etcd is spared the placement decision and id allocation (ids come from the client).</li>
 * </ul>
 * A closed loop suffers coordinated omission: a stall delays the requests behind it instead of recording them; the
 * percentiles are those of the operations issued, as etcd's own benchmark tool reports them.
 */
public final class ManagerBenchmark
{
    static final int MAX_CLIENTS = 256;

    static final String USAGE = """
        usage: cairn-bench manager --target cairn|etcd [--managers M] [--etcd URL,URL,URL] [--clients N]
                                   [--ops put,txn,range,alloc] [--seconds S] [--warmup-seconds S] [--label L]
                                   [--out FILE] [--hgrm-dir DIR]
               cairn-bench manager --table FILE
          --target          which system to drive
          --managers        Cairn members (id=host:port,...), default $CAIRN_MANAGERS or the local cluster
          --etcd            etcd client URLs; client i talks to URL i mod count
          --clients         concurrent clients, one operation in flight each (default 16, max %d)
          --ops             operations to run, one after the other (default put,txn,range,alloc)
          --seconds         measured seconds per operation (default 10)
          --warmup-seconds  seconds per operation before measuring (default 2)
          --label           row label prefix (default the target)
          --out             append one summary line per operation to FILE
          --table FILE      print the Cairn/etcd comparison of the summary lines in FILE
        """.formatted(MAX_CLIENTS);

    static final int VALUE_BYTES = 64;
    static final int KEYS_PER_CLIENT = 1000;
    static final int RANGE_KEYS = 10;
    static final int ALLOCATIONS_PER_STREAM = 32;
    static final long HIGHEST_TRACKABLE_LATENCY_NS = TimeUnit.SECONDS.toNanos(30);
    static final List<String> ALL_OPS = List.of("put", "txn", "range", "alloc");

    record Options(
        String target, String managers, List<String> etcd, int clients, List<String> ops, long seconds,
        long warmupSeconds, String label, Path out, Path hgrmDir)
    {
    }

    /** One client's connection to the system under test; used by one thread only. */
    interface MetaClient extends AutoCloseable
    {
        /** Prepares the client's keys or streams before the timed loop of an operation. */
        void prepare(String op) throws Exception;

        /** One operation; throws when it failed. */
        void run(String op, long seq) throws Exception;

        @Override
        void close();
    }

    private ManagerBenchmark()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length == 2 && "--table".equals(args[0]))
        {
            printTable(Path.of(args[1]), System.out);
            return;
        }
        final Options options;
        try
        {
            options = parse(args);
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-bench manager: " + ex.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        run(options);
    }

    static Options parse(final String[] args)
    {
        String target = null;
        String managers = System.getenv().getOrDefault("CAIRN_MANAGERS", "0=127.0.0.1:20110,1=127.0.0.1:20120,2=127.0.0.1:20130");
        List<String> etcd = List.of("http://127.0.0.1:2379");
        int clients = 16;
        List<String> ops = ALL_OPS;
        long seconds = 10;
        long warmup = 2;
        String label = null;
        Path out = null;
        Path hgrmDir = null;
        for (int i = 0; i < args.length; i += 2)
        {
            final String flag = args[i];
            switch (flag)
            {
                case "--target" -> target = BenchArgs.value(args, i + 1, flag);
                case "--managers" -> managers = BenchArgs.value(args, i + 1, flag);
                case "--etcd" -> etcd = List.of(BenchArgs.value(args, i + 1, flag).split(","));
                case "--clients" -> clients = (int)BenchArgs.number(args, i + 1, flag, 1, MAX_CLIENTS);
                case "--ops" -> ops = List.of(BenchArgs.value(args, i + 1, flag).split(","));
                case "--seconds" -> seconds = BenchArgs.number(args, i + 1, flag, 1, 600);
                case "--warmup-seconds" -> warmup = BenchArgs.number(args, i + 1, flag, 0, 600);
                case "--label" -> label = BenchArgs.value(args, i + 1, flag);
                case "--out" -> out = Path.of(BenchArgs.value(args, i + 1, flag));
                case "--hgrm-dir" -> hgrmDir = Path.of(BenchArgs.value(args, i + 1, flag));
                default -> throw new IllegalArgumentException("unknown flag " + flag);
            }
        }
        if (!"cairn".equals(target) && !"etcd".equals(target))
        {
            throw new IllegalArgumentException("--target must be cairn or etcd");
        }
        for (final String op : ops)
        {
            if (!ALL_OPS.contains(op))
            {
                throw new IllegalArgumentException("unknown op " + op + " (one of " + ALL_OPS + ")");
            }
        }
        return new Options(target, managers, etcd, clients, ops, seconds, warmup, label == null ? target : label,
            out, hgrmDir);
    }

    static void run(final Options options) throws Exception
    {
        MediaDriver driver = null;
        final List<MetaClient> clients = new ArrayList<>();
        try
        {
            if ("cairn".equals(options.target()))
            {
                driver = MediaDriver.launchEmbedded(AeronDefaults.driverContext("manager-bench-" + ProcessHandle.current().pid()));
                for (int i = 0; i < options.clients(); i++)
                {
                    clients.add(new CairnClient(i, options.managers(), driver.aeronDirectoryName()));
                }
                ((CairnClient)clients.get(0)).registerNodes();
            }
            else
            {
                for (int i = 0; i < options.clients(); i++)
                {
                    clients.add(new EtcdClient(i, options.etcd().get(i % options.etcd().size())));
                }
            }
            // One short untimed pass over every op first: the servers' JIT (and this JVM's) warm up on all code paths,
            // so the first op measured is not penalised for being first.
            final Options jitPass = new Options(options.target(), options.managers(), options.etcd(),
                options.clients(), options.ops(), 1, 1, options.label(), null, null);
            for (final String op : options.ops())
            {
                runOp(jitPass, clients, op);
            }
            for (final String op : options.ops())
            {
                final String line = runOp(options, clients, op);
                System.out.println(line);
                if (options.out() != null)
                {
                    Files.writeString(options.out(), line + "\n", StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                }
            }
        }
        finally
        {
            for (final MetaClient client : clients)
            {
                client.close();
            }
            if (driver != null)
            {
                driver.close();
            }
        }
    }

    private static String runOp(final Options options, final List<MetaClient> clients, final String op)
        throws Exception
    {
        final int n = clients.size();
        final Histogram[] histograms = new Histogram[n];
        final long[] counts = new long[n];
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CyclicBarrier start = new CyclicBarrier(n + 1);
        final long[] window = new long[2];
        final Thread[] threads = new Thread[n];
        for (int i = 0; i < n; i++)
        {
            final int index = i;
            histograms[i] = new Histogram(HIGHEST_TRACKABLE_LATENCY_NS, 3);
            threads[i] = new Thread(() ->
            {
                final MetaClient client = clients.get(index);
                try
                {
                    client.prepare(op);
                    start.await();
                    final long measureFromNs = window[0];
                    final long endNs = window[1];
                    long seq = 0;
                    while (failure.get() == null)
                    {
                        final long t0 = System.nanoTime();
                        if (t0 >= endNs)
                        {
                            break;
                        }
                        client.run(op, seq++);
                        final long t1 = System.nanoTime();
                        if (t0 >= measureFromNs && t1 <= endNs)
                        {
                            histograms[index].recordValue(Math.min(t1 - t0, HIGHEST_TRACKABLE_LATENCY_NS));
                            counts[index]++;
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                    start.reset();
                }
            }, "bench-" + op + "-" + i);
            threads[i].start();
        }
        final long nowNs = System.nanoTime();
        window[0] = nowNs + TimeUnit.SECONDS.toNanos(options.warmupSeconds()) + TimeUnit.MILLISECONDS.toNanos(200);
        window[1] = window[0] + TimeUnit.SECONDS.toNanos(options.seconds());
        start.await(120, TimeUnit.SECONDS); // publishes window[] to the threads (happens-before through the barrier)
        for (final Thread thread : threads)
        {
            thread.join(TimeUnit.SECONDS.toMillis(options.seconds() + options.warmupSeconds() + 60));
        }
        if (failure.get() != null)
        {
            throw new IllegalStateException(options.label() + " " + op + " failed: " + failure.get(), failure.get());
        }
        final Histogram total = new Histogram(HIGHEST_TRACKABLE_LATENCY_NS, 3);
        long ops = 0;
        for (int i = 0; i < n; i++)
        {
            total.add(histograms[i]);
            ops += counts[i];
        }
        if (options.hgrmDir() != null)
        {
            Files.createDirectories(options.hgrmDir());
            try (PrintStream ps = new PrintStream(
                options.hgrmDir().resolve(options.label() + "-" + op + ".hgrm").toFile(), StandardCharsets.UTF_8))
            {
                total.outputPercentileDistribution(ps, 1000.0);
            }
        }
        final double opsPerSec = ops / (double)options.seconds();
        return String.format(Locale.ROOT, "%s op=%s clients=%d ops=%d opsPerSec=%.0f p50us=%.1f p99us=%.1f p999us=%.1f",
            options.label(), op, n, ops, opsPerSec, total.getValueAtPercentile(50) / 1000.0,
            total.getValueAtPercentile(99) / 1000.0, total.getValueAtPercentile(99.9) / 1000.0);
    }

    // ---------------------------------------------------------------------------------------------------------------

    static final class CairnClient implements MetaClient
    {
        private final int index;
        private final ManagerClient client;
        private final byte[] value = new byte[VALUE_BYTES];
        private long casVersion;
        private long streamId;
        private long tailExtentId;
        private int allocationsOnStream = ALLOCATIONS_PER_STREAM;
        private int streamsCreated;

        CairnClient(final int index, final String managers, final String aeronDir)
        {
            this.index = index;
            this.client = ManagerClient.connect(new ManagerClient.Context()
                .managers(managers)
                .aeronDirectoryName(aeronDir)
                .responseTimeoutNs(TimeUnit.SECONDS.toNanos(10)));
        }

        void registerNodes()
        {
            for (int node = 1; node <= 3; node++)
            {
                client.registerNode(node, "127.0.0.1:" + (30000 + node), 1, 1L << 40);
            }
        }

        @Override
        public void prepare(final String op)
        {
            switch (op)
            {
                case "txn" ->
                {
                    client.kvPut(casKey(index), value, 0);
                    casVersion = client.kvGet(casKey(index)).version();
                }
                case "range" ->
                {
                    if (index == 0)
                    {
                        for (int k = 0; k < RANGE_KEYS; k++)
                        {
                            client.kvPut("bench/range/" + k, value, 0);
                        }
                    }
                }
                default ->
                {
                }
            }
        }

        @Override
        public void run(final String op, final long seq)
        {
            switch (op)
            {
                case "put" -> client.kvPut(putKey(index, seq), value, 0);
                case "txn" ->
                {
                    final String key = casKey(index);
                    final Kv.Result result = client.txn(new Kv.Txn()
                        .ifNumber(key, CompareTarget.VERSION, CompareResult.EQUAL, casVersion)
                        .put(true, key, value, 0)
                        .get(false, key, false));
                    if (!result.succeeded())
                    {
                        throw new IllegalStateException("CAS on " + key + " at version " + casVersion + " failed");
                    }
                    casVersion++;
                }
                case "range" ->
                {
                    final Kv.Result result = client.kvRange("bench/range/", true, 0);
                    if (result.kvs().size() != RANGE_KEYS)
                    {
                        throw new IllegalStateException("range returned " + result.kvs().size() + " keys");
                    }
                }
                case "alloc" -> allocate();
                default -> throw new IllegalArgumentException(op);
            }
        }

        private void allocate()
        {
            final StreamInfo info;
            if (allocationsOnStream >= ALLOCATIONS_PER_STREAM)
            {
                info = client.createStream("bench-" + ProcessHandle.current().pid() + "-" + index + "-" + streamsCreated++);
                allocationsOnStream = 0;
            }
            else
            {
                info = client.allocateExtent(streamId, tailExtentId, 0);
                allocationsOnStream++;
            }
            streamId = info.streamId();
            tailExtentId = info.tail().extentId();
        }

        @Override
        public void close()
        {
            client.close();
        }
    }

    static String putKey(final int client, final long seq)
    {
        return "bench/put/" + client + "/" + (seq % KEYS_PER_CLIENT);
    }

    static String casKey(final int client)
    {
        return "bench/cas/" + client;
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** etcd v3 over its HTTP/JSON gateway (grpc-gateway): base64 keys and values, int64 as strings. */
    static final class EtcdClient implements MetaClient
    {
        private static final Base64.Encoder B64 = Base64.getEncoder();

        private final int index;
        private final String baseUrl;
        private final HttpClient http;
        private final String value64 = B64.encodeToString(new byte[VALUE_BYTES]);
        private long casVersion;
        private String stream;
        private long tailExtentId;
        private long nextExtentId;
        private int allocationsOnStream = ALLOCATIONS_PER_STREAM;
        private int streamsCreated;

        EtcdClient(final int index, final String baseUrl)
        {
            this.index = index;
            this.baseUrl = baseUrl;
            this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
            this.nextExtentId = (long)index << 40;
        }

        private static String b64(final String s)
        {
            return B64.encodeToString(s.getBytes(StandardCharsets.UTF_8));
        }

        private String post(final String path, final String body) throws IOException, InterruptedException
        {
            final HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
            final HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200)
            {
                throw new IOException(path + " -> HTTP " + response.statusCode() + ": " + response.body());
            }
            return response.body();
        }

        private void put(final String key) throws IOException, InterruptedException
        {
            post("/v3/kv/put", "{\"key\":\"" + b64(key) + "\",\"value\":\"" + value64 + "\"}");
        }

        private static String putOp(final String key, final String value64)
        {
            return "{\"requestPut\":{\"key\":\"" + b64(key) + "\",\"value\":\"" + value64 + "\"}}";
        }

        private boolean txn(final String compare, final String success, final String failure)
            throws IOException, InterruptedException
        {
            final String body = post("/v3/kv/txn",
                "{\"compare\":[" + compare + "],\"success\":[" + success + "],\"failure\":[" + failure + "]}");
            return body.contains("\"succeeded\":true");
        }

        @Override
        public void prepare(final String op) throws Exception
        {
            switch (op)
            {
                case "txn" ->
                {
                    put(casKey(index));
                    final String body = post("/v3/kv/range", "{\"key\":\"" + b64(casKey(index)) + "\"}");
                    final int at = body.indexOf("\"version\":\"");
                    casVersion = Long.parseLong(body.substring(at + 11, body.indexOf('"', at + 11)));
                }
                case "range" ->
                {
                    if (index == 0)
                    {
                        for (int k = 0; k < RANGE_KEYS; k++)
                        {
                            put("bench/range/" + k);
                        }
                    }
                }
                default ->
                {
                }
            }
        }

        @Override
        public void run(final String op, final long seq) throws Exception
        {
            switch (op)
            {
                case "put" -> put(putKey(index, seq));
                case "txn" ->
                {
                    final String key = b64(casKey(index));
                    final boolean ok = txn(
                        "{\"key\":\"" + key + "\",\"target\":\"VERSION\",\"result\":\"EQUAL\",\"version\":\"" +
                            casVersion + "\"}",
                        "{\"requestPut\":{\"key\":\"" + key + "\",\"value\":\"" + value64 + "\"}}",
                        "{\"requestRange\":{\"key\":\"" + key + "\"}}");
                    if (!ok)
                    {
                        throw new IllegalStateException("etcd CAS on " + casKey(index) + " at " + casVersion + " failed");
                    }
                    casVersion++;
                }
                case "range" ->
                {
                    final String body = post("/v3/kv/range",
                        "{\"key\":\"" + b64("bench/range/") + "\",\"range_end\":\"" + b64("bench/range0") + "\"}");
                    if (!body.contains("\"count\":\"" + RANGE_KEYS + "\""))
                    {
                        throw new IllegalStateException("etcd range returned " + body);
                    }
                }
                case "alloc" -> allocate();
                default -> throw new IllegalArgumentException(op);
            }
        }

        private void allocate() throws IOException, InterruptedException
        {
            final long newExtentId = ++nextExtentId;
            final String replicas = b64("replicas=1,2,3;sealed=-1");
            final boolean ok;
            if (allocationsOnStream >= ALLOCATIONS_PER_STREAM)
            {
                stream = "bench/stream/" + ProcessHandle.current().pid() + "-" + index + "-" + streamsCreated++;
                ok = txn("{\"key\":\"" + b64(stream) + "\",\"target\":\"CREATE\",\"result\":\"EQUAL\"," +
                        "\"create_revision\":\"0\"}",
                    putOp(stream, b64("tail=" + newExtentId)) + "," + putOp("bench/extent/" + newExtentId, replicas),
                    "");
                allocationsOnStream = 0;
            }
            else
            {
                ok = txn("{\"key\":\"" + b64(stream) + "\",\"target\":\"VALUE\",\"result\":\"EQUAL\",\"value\":\"" +
                        b64("tail=" + tailExtentId) + "\"}",
                    putOp(stream, b64("tail=" + newExtentId)) + "," +
                        putOp("bench/extent/" + tailExtentId, b64("replicas=1,2,3;sealed=0")) + "," +
                        putOp("bench/extent/" + newExtentId, replicas),
                    "");
                allocationsOnStream++;
            }
            if (!ok)
            {
                throw new IllegalStateException("etcd allocation on " + stream + " failed");
            }
            tailExtentId = newExtentId;
        }

        @Override
        public void close()
        {
            http.close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    /** Prints one row per label and op, and the Cairn/etcd ratios against every etcd label. */
    static void printTable(final Path summary, final PrintStream out) throws IOException
    {
        final Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
        for (final String line : Files.readAllLines(summary, StandardCharsets.UTF_8))
        {
            final String[] parts = line.trim().split("\\s+");
            if (parts.length < 2)
            {
                continue;
            }
            final Map<String, Double> values = new LinkedHashMap<>();
            String op = "";
            for (int i = 1; i < parts.length; i++)
            {
                final int eq = parts[i].indexOf('=');
                if (eq > 0 && "op".equals(parts[i].substring(0, eq)))
                {
                    op = parts[i].substring(eq + 1);
                }
                else if (eq > 0)
                {
                    values.put(parts[i].substring(0, eq), Double.parseDouble(parts[i].substring(eq + 1)));
                }
            }
            rows.put(parts[0] + " " + op, values);
        }
        out.printf(Locale.ROOT, "%-22s %-6s %8s %10s %9s %9s %10s   %s%n",
            "system", "op", "clients", "ops/s", "p50 us", "p99 us", "p99.9 us", "Cairn/this: ops/s  p99");
        for (final String op : ALL_OPS)
        {
            final Map<String, Double> cairn = rows.get("cairn " + op);
            for (final Map.Entry<String, Map<String, Double>> row : rows.entrySet())
            {
                final String[] key = row.getKey().split(" ");
                if (!key[1].equals(op))
                {
                    continue;
                }
                final Map<String, Double> v = row.getValue();
                String ratio = "";
                if (cairn != null && !"cairn".equals(key[0]))
                {
                    ratio = String.format(Locale.ROOT, "%.2fx  %.2fx", cairn.get("opsPerSec") / v.get("opsPerSec"),
                        cairn.get("p99us") / v.get("p99us"));
                }
                out.printf(Locale.ROOT, "%-22s %-6s %8.0f %10.0f %9.1f %9.1f %10.1f   %s%n", key[0], op,
                    v.get("clients"), v.get("opsPerSec"), v.get("p50us"), v.get("p99us"), v.get("p999us"), ratio);
            }
        }
        out.println("goal: Cairn >= 3x etcd's ops/s with p99 <= etcd's (ratio ops/s >= 3.00x, p99 <= 1.00x)");
    }
}
