package io.cairn.perf;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.cairn.client.AppendResult;
import io.cairn.client.CairnClient;
import io.cairn.client.ReadResult;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.Kv;
import io.cairn.manager.ManagerClient;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.NodeProtocol;
import io.cairn.sbe.node.NodeStatus;
import org.HdrHistogram.HistogramLogWriter;
import org.agrona.CloseHelper;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code cairn-bench load}: the load rig ({@link LoadRig}) against a running cluster (stream appends, stream reads,
 * manager KV puts and gets) or a raw Aeron echo server; writes the run's folder ({@link RunResults}).
 * <p>
 * Concurrency is N worker threads, each with its own client (CairnClient and ManagerClient are single-threaded),
 * all on one embedded media driver of this process.
 */
final class LoadCommand
{
    static final String USAGE = """
        usage: cairn-bench load --target append|read|kv-put|kv-get|echo|bookkeeper [--mode open|closed] [--rate N]
                                [--threads N] [--size-bytes N] [--warmup-s N] [--duration-s N] [--max-ops N]
                                [--drain-s N] [--prefill N] [--managers M] [--echo HOST:PORT] [--label L] [--out DIR]
                                [--bk-zk HOST:PORT] [--bk-ensemble N] [--bk-write-quorum N] [--bk-ack-quorum N]
                                [--bk-wait-s N]
          --target      append: replicated stream appends (one stream per thread; acknowledged after fdatasync on
                        3 replicas); read: verified block reads of a prefilled stream, round robin over the
                        3 replicas; kv-put / kv-get: manager KV (64-byte values, 1000 keys per thread);
                        echo: a raw Aeron UDP echo server (cairn-bench echo-server);
                        bookkeeper: Apache BookKeeper addEntry, one ledger per thread (the peer of append; needs
                        perf/target/bookkeeper-lib on the classpath: perf/compare.sh runs it that way)
          --mode        open (default): fixed --rate, latency from each request's scheduled send time;
                        closed: next request as soon as the last completes (peak throughput)
          --rate        total target requests/s over all threads (open loop; default 1000)
          --threads     concurrent clients, one request in flight each (default 1)
          --size-bytes  append/read/echo payload (default 4096)
          --warmup-s    seconds not recorded (default 2); --duration-s measured seconds (default 10, max 3600)
          --max-ops     stop after this many measured requests (default 10000000)
          --drain-s     how long a late open loop may go on after the window (default 5)
          --prefill     blocks per thread written before a read run (default 256)
          --out         run folder (default perf/results/load-<target>-<mode>-<time>)
          --bk-zk       bookkeeper: ZooKeeper of the bookies (default 127.0.0.1:21810; ledgers under /ledgers)
          --bk-ensemble / --bk-write-quorum / --bk-ack-quorum   bookkeeper: per ledger (default 3 / 3 / 3;
                        ack <= write <= ensemble)
          --bk-wait-s   bookkeeper: how long to wait for enough bookies to register (default 60)
        """;

    record Options(
        String target, LoadRig.Options rig, int sizeBytes, int prefill, String managers, String echo, String label,
        Path out, BookKeeperOptions bookKeeper)
    {
    }

    /** The bookkeeper target's ledgers: where the bookies register, the quorums, and how long to wait for them. */
    record BookKeeperOptions(String zk, int ensemble, int writeQuorum, int ackQuorum, long waitNs, long addTimeoutNs)
    {
        static final String ZK_DEFAULT = "127.0.0.1:" + BookKeeperConf.ZK_PORT_DEFAULT;
        static final int QUORUM_DEFAULT = 3;
        static final long WAIT_S_DEFAULT = 60;
        /** An add that takes longer fails that request (counted as an error) instead of hanging the run. */
        static final long ADD_TIMEOUT_S = 10;

        String metadataServiceUri()
        {
            return "zk+hierarchical://" + zk + "/ledgers";
        }
    }

    static final java.util.List<String> TARGETS = java.util.List.of("append", "read", "kv-put", "kv-get", "echo",
        "bookkeeper");

    private LoadCommand()
    {
    }

    static Options parse(final String[] args)
    {
        String target = null;
        LoadRig.Mode mode = LoadRig.Mode.OPEN;
        long rate = 1000;
        int threads = 1;
        int size = 4096;
        long warmupS = 2;
        long durationS = 10;
        long maxOps = 10_000_000;
        long drainS = 5;
        int prefill = 256;
        String managers = System.getenv().getOrDefault("CAIRN_MANAGERS", CairnClient.Context.MANAGERS_DEFAULT);
        String echo = "127.0.0.1:21901";
        String label = null;
        Path out = null;
        String bkZk = BookKeeperOptions.ZK_DEFAULT;
        int ensemble = BookKeeperOptions.QUORUM_DEFAULT;
        int writeQuorum = BookKeeperOptions.QUORUM_DEFAULT;
        int ackQuorum = BookKeeperOptions.QUORUM_DEFAULT;
        long bkWaitS = BookKeeperOptions.WAIT_S_DEFAULT;
        String bkFlag = null;
        for (int i = 0; i < args.length; i++)
        {
            final String a = args[i];
            if (a.startsWith("--bk-"))
            {
                bkFlag = a;
            }
            switch (a)
            {
                case "--target" -> target = BenchArgs.value(args, ++i, a);
                case "--mode" -> mode = switch (BenchArgs.value(args, ++i, a))
                {
                    case "open" -> LoadRig.Mode.OPEN;
                    case "closed" -> LoadRig.Mode.CLOSED;
                    default -> throw new IllegalArgumentException("--mode must be open or closed");
                };
                case "--rate" -> rate = BenchArgs.number(args, ++i, a, 1, 10_000_000);
                case "--threads" -> threads = (int)BenchArgs.number(args, ++i, a, 1, 256);
                case "--size-bytes" -> size = (int)BenchArgs.number(args, ++i, a, 1, NodeProtocol.MAX_PAYLOAD_BYTES);
                case "--warmup-s" -> warmupS = BenchArgs.number(args, ++i, a, 0, 600);
                case "--duration-s" -> durationS = BenchArgs.number(args, ++i, a, 1, 3600);
                case "--max-ops" -> maxOps = BenchArgs.number(args, ++i, a, 1, 1_000_000_000);
                case "--drain-s" -> drainS = BenchArgs.number(args, ++i, a, 0, 600);
                case "--prefill" -> prefill = (int)BenchArgs.number(args, ++i, a, 1, 100_000);
                case "--managers" -> managers = BenchArgs.value(args, ++i, a);
                case "--echo" -> echo = BenchArgs.value(args, ++i, a);
                case "--label" -> label = BenchArgs.value(args, ++i, a);
                case "--out" -> out = Path.of(BenchArgs.value(args, ++i, a));
                case "--bk-zk" -> bkZk = hostPort(BenchArgs.value(args, ++i, a), a);
                case "--bk-ensemble" -> ensemble = (int)BenchArgs.number(args, ++i, a, 1, BookKeeperConf.MAX_BOOKIES);
                case "--bk-write-quorum" -> writeQuorum = (int)BenchArgs.number(args, ++i, a, 1,
                    BookKeeperConf.MAX_BOOKIES);
                case "--bk-ack-quorum" -> ackQuorum = (int)BenchArgs.number(args, ++i, a, 1,
                    BookKeeperConf.MAX_BOOKIES);
                case "--bk-wait-s" -> bkWaitS = BenchArgs.number(args, ++i, a, 1, 600);
                default -> throw new IllegalArgumentException("unknown argument '" + a + "'");
            }
        }
        if (null == target || !TARGETS.contains(target))
        {
            throw new IllegalArgumentException("--target must be append, read, kv-put, kv-get, echo or bookkeeper");
        }
        if (null != bkFlag && !"bookkeeper".equals(target))
        {
            throw new IllegalArgumentException(bkFlag + " applies only to --target bookkeeper");
        }
        if (writeQuorum > ensemble)
        {
            throw new IllegalArgumentException("--bk-write-quorum " + writeQuorum + " must be <= --bk-ensemble " +
                ensemble);
        }
        if (ackQuorum > writeQuorum)
        {
            throw new IllegalArgumentException("--bk-ack-quorum " + ackQuorum + " must be <= --bk-write-quorum " +
                writeQuorum);
        }
        final String modeName = mode.name().toLowerCase(Locale.ROOT);
        if (null == label)
        {
            label = target + "-" + modeName + (mode == LoadRig.Mode.OPEN ? "-" + rate + "ps" : "") + "-" + threads + "t";
        }
        if (null == out)
        {
            out = Path.of(System.getProperty("cairn.root", "."), "perf", "results", "load-" + label + "-" +
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        final LoadRig.Options rig = new LoadRig.Options(mode, rate, threads, TimeUnit.SECONDS.toNanos(warmupS),
            TimeUnit.SECONDS.toNanos(durationS), maxOps, TimeUnit.SECONDS.toNanos(drainS));
        final BookKeeperOptions bk = new BookKeeperOptions(bkZk, ensemble, writeQuorum, ackQuorum,
            TimeUnit.SECONDS.toNanos(bkWaitS), TimeUnit.SECONDS.toNanos(BookKeeperOptions.ADD_TIMEOUT_S));
        return new Options(target, rig, size, prefill, managers, echo, label, out, bk);
    }

    /** HOST:PORT with a port in [1, 65535]; the error names the flag. */
    static String hostPort(final String value, final String flag)
    {
        final int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1)
        {
            throw new IllegalArgumentException(flag + " '" + value + "' must be HOST:PORT");
        }
        BenchArgs.number(new String[]{ value.substring(colon + 1) }, 0, flag + " port", 1, 65535);
        return value;
    }

    static int main(final String[] args, final PrintStream out) throws Exception
    {
        final Options o = parse(args);
        Files.createDirectories(o.out());
        out.printf("[rig] %s: target %s, %s loop%s, %d thread(s), %d B, warm-up %d s, %d s measured -> %s%n",
            o.label(), o.target(), o.rig().mode().name().toLowerCase(Locale.ROOT),
            o.rig().mode() == LoadRig.Mode.OPEN ? " at " + o.rig().ratePerS() + "/s" : "", o.rig().threads(),
            o.sizeBytes(), TimeUnit.NANOSECONDS.toSeconds(o.rig().warmupNs()),
            TimeUnit.NANOSECONDS.toSeconds(o.rig().durationNs()), o.out());
        final String stamp = Long.toHexString(System.currentTimeMillis());
        final boolean bookKeeper = "bookkeeper".equals(o.target());
        final LoadRig.Result r;
        // The bookkeeper target uses no Aeron: no media driver competes with the bookies for the cores.
        try (MediaDriver driver = bookKeeper ? null : MediaDriver.launchEmbedded(
            AeronDefaults.driverContext("rig-" + ProcessHandle.current().pid() + "-" + stamp));
            AutoCloseable bkLoad = bookKeeper ? openBookKeeper(o) : null;
            Aeron aeron = "echo".equals(o.target()) ?
                Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())) : null;
            PrintStream hlog = new PrintStream(Files.newOutputStream(o.out().resolve(RunResults.HLOG)), true,
                StandardCharsets.UTF_8))
        {
            final String dir = bookKeeper ? null : driver.aeronDirectoryName();
            final LoadRig.OperationFactory factory = switch (o.target())
            {
                case "bookkeeper" -> (LoadRig.OperationFactory)bkLoad;
                case "append" -> index -> new AppendOp(o, dir, stamp + "-" + index);
                case "read" -> index -> new ReadOp(o, dir, stamp + "-" + index);
                case "kv-put" -> index -> new KvOp(o, dir, index, false);
                case "kv-get" -> index -> new KvOp(o, dir, index, true);
                default -> index -> new AeronEcho.Client(aeron, o.echo(), o.sizeBytes());
            };
            r = LoadRig.run(o.rig(), factory, new HistogramLogWriter(hlog), out);
        }
        final Map<String, Object> workload = new LinkedHashMap<>();
        workload.put("target", o.target());
        workload.put("sizeBytes", o.sizeBytes());
        workload.put("host", hostDescription());
        if (bookKeeper)
        {
            workload.put("bookkeeperMetadataServiceUri", o.bookKeeper().metadataServiceUri());
            workload.put("bookkeeperEnsemble", o.bookKeeper().ensemble());
            workload.put("bookkeeperWriteQuorum", o.bookKeeper().writeQuorum());
            workload.put("bookkeeperAckQuorum", o.bookKeeper().ackQuorum());
        }
        RunResults.write(o.out(), o.label(), o.rig(), r, workload);
        printSummary(out, o, r);
        return r.errors() == 0 ? 0 : 1;
    }

    /** The BookKeeper client, only on a classpath that has it (perf/compare.sh adds perf/target/bookkeeper-lib). */
    private static AutoCloseable openBookKeeper(final Options o) throws Exception
    {
        try
        {
            Class.forName("org.apache.bookkeeper.client.BookKeeper");
        }
        catch (final ClassNotFoundException ex)
        {
            throw new IllegalArgumentException("--target bookkeeper needs the BookKeeper client on the classpath " +
                "(perf/target/bookkeeper-lib, built by mvn package -pl perf): run it through perf/compare.sh");
        }
        return (AutoCloseable)BookKeeperLoad.open(o.bookKeeper(), o.sizeBytes());
    }

    static void printSummary(final PrintStream out, final Options o, final LoadRig.Result r)
    {
        out.printf("%n%s: %d requests in %.1f s = %.0f/s%s; errors %d%s%s%n", o.label(), r.measuredOps(), r.elapsedS(),
            r.throughputPerS(), o.rig().mode() == LoadRig.Mode.OPEN ? " (target " + o.rig().ratePerS() + "/s)" : "",
            r.errors(), r.unsentOps() > 0 ? "; NEVER SENT (behind schedule) " + r.unsentOps() : "",
            null == r.firstError() ? "" : "; first error: " + r.firstError());
        out.println("latency µs " + (o.rig().mode() == LoadRig.Mode.OPEN ? "(from scheduled send): " : ": ") +
            RunResults.percentilesJson(r.latency()));
        if (o.rig().mode() == LoadRig.Mode.OPEN)
        {
            out.println("service µs (from actual send): " + RunResults.percentilesJson(r.service()));
        }
        out.println("results: " + o.out());
    }

    static String hostDescription()
    {
        String cpu = "";
        try
        {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("");
        }
        catch (final IOException ignore)
        {
            // Not Linux: the rest still describes the machine.
        }
        return Runtime.getRuntime().availableProcessors() + " cores " + cpu + ", " + System.getProperty("os.name") +
            " " + System.getProperty("os.version") + ", JDK " + Runtime.version();
    }

    /** Replicated appends to this worker's own stream. */
    static final class AppendOp implements LoadRig.Operation, AutoCloseable
    {
        private final CairnClient client;
        private final long streamId;
        private final int sizeBytes;
        private final UnsafeBuffer payload;
        private final AppendResult result = new AppendResult();

        AppendOp(final Options o, final String aeronDir, final String name)
        {
            client = CairnClient.connect(new CairnClient.Context().managers(o.managers()).aeronDirectoryName(aeronDir));
            streamId = client.createStream("rig-" + name).streamId();
            sizeBytes = o.sizeBytes();
            final byte[] bytes = new byte[sizeBytes];
            ThreadLocalRandom.current().nextBytes(bytes);
            payload = new UnsafeBuffer(ByteBuffer.allocateDirect(sizeBytes));
            payload.putBytes(0, bytes);
        }

        public void execute(final long sequence)
        {
            if (sizeBytes >= Long.BYTES)
            {
                payload.putLong(0, sequence);
            }
            client.append(streamId, payload, 0, sizeBytes, result);
        }

        public void close()
        {
            CloseHelper.quietClose(client);
        }
    }

    /** Reads of blocks this worker wrote first, round robin over the three replicas; the node checks CRC32C. */
    static final class ReadOp implements LoadRig.Operation, AutoCloseable
    {
        private final CairnClient client;
        private final long[] extentIds;
        private final long[] offsets;
        private final Long2ObjectHashMap<int[]> replicas = new Long2ObjectHashMap<>();
        private final ReadResult result = new ReadResult();

        ReadOp(final Options o, final String aeronDir, final String name)
        {
            client = CairnClient.connect(new CairnClient.Context().managers(o.managers()).aeronDirectoryName(aeronDir));
            final long streamId = client.createStream("rig-read-" + name).streamId();
            extentIds = new long[o.prefill()];
            offsets = new long[o.prefill()];
            final byte[] bytes = new byte[o.sizeBytes()];
            ThreadLocalRandom.current().nextBytes(bytes);
            final UnsafeBuffer payload = new UnsafeBuffer(bytes);
            final AppendResult appended = new AppendResult();
            for (int i = 0; i < o.prefill(); i++)
            {
                client.append(streamId, payload, 0, bytes.length, appended);
                extentIds[i] = appended.extentId();
                offsets[i] = appended.blockOffset();
            }
            final StreamInfo info = client.streamInfo(streamId);
            for (final ExtentInfo e : info.extents())
            {
                replicas.put(e.extentId(), e.replicas());
            }
        }

        public void execute(final long sequence)
        {
            final int block = (int)((sequence * 0x9E3779B97F4A7C15L >>> 1) % extentIds.length);
            final int[] nodes = replicas.get(extentIds[block]);
            final NodeStatus status = client.read(nodes[(int)(sequence % nodes.length)], extentIds[block],
                offsets[block], result);
            if (NodeStatus.OK != status)
            {
                throw new IllegalStateException("read of extent " + extentIds[block] + " at " + offsets[block] + ": " +
                    status);
            }
        }

        public void close()
        {
            CloseHelper.quietClose(client);
        }
    }

    /** Manager KV puts or linearizable gets, over this worker's own 1000 keys. */
    static final class KvOp implements LoadRig.Operation, AutoCloseable
    {
        static final int KEYS = 1000;
        static final int VALUE_BYTES = 64;
        private final ManagerClient client;
        private final boolean get;
        private final String[] keys = new String[KEYS];
        private final byte[] value = new byte[VALUE_BYTES];

        KvOp(final Options o, final String aeronDir, final int index, final boolean get)
        {
            this.get = get;
            client = ManagerClient.connect(new ManagerClient.Context().managers(o.managers()).aeronDirectoryName(aeronDir)
                .responseTimeoutNs(TimeUnit.SECONDS.toNanos(10)));
            final String prefix = "rig/" + Long.toHexString(System.nanoTime()) + "/" + index + "/";
            for (int k = 0; k < KEYS; k++)
            {
                keys[k] = prefix + k;
            }
            if (get)
            {
                for (int k = 0; k < 100; k++)
                {
                    client.kvPut(keys[k], value, 0);
                }
            }
        }

        public void execute(final long sequence)
        {
            if (get)
            {
                final Kv.KeyValue kv = client.kvGet(keys[(int)(sequence % 100)]);
                if (null == kv)
                {
                    throw new IllegalStateException("key missing: " + keys[(int)(sequence % 100)]);
                }
            }
            else
            {
                client.kvPut(keys[(int)(sequence % KEYS)], value, 0);
            }
        }

        public void close()
        {
            CloseHelper.quietClose(client);
        }
    }
}
