package io.cairn.dist;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The release tarball as an operator gets it: unpacked into a temporary directory, a whole local cluster (3 manager
 * members, 3 extent nodes) started from its bin/ launchers with generated config files, used through its CLI, stopped
 * with SIGTERM while a writer appends, restarted, and read back from every replica: every process stops cleanly
 * and nothing acknowledged is lost. Node 1 reports READY=1 and STOPPING=1 to a stand-in notify socket. Also checks
 * the tarball's layout and its systemd units.
 */
class ReleaseTarballTest
{
    static final int PORT_BASE = 25000;
    static final String MANAGERS = "0=127.0.0.1:" + (PORT_BASE + 10) + ",1=127.0.0.1:" + (PORT_BASE + 20) +
        ",2=127.0.0.1:" + (PORT_BASE + 30);
    static final int BLOCKS = 20;
    static final long READY_TIMEOUT_MS = 90_000;
    static final long STOP_TIMEOUT_S = 60;
    static final String SHM_PREFIX = "/dev/shm/cairn-tarball-test-";

    static Path work;
    static Path home;
    static final List<Process> RUNNING = new ArrayList<>();

    @BeforeAll
    static void unpack() throws Exception
    {
        final Path tarball = Path.of(System.getProperty("cairn.tarball"));
        assertTrue(Files.isRegularFile(tarball), "the tarball was not built: " + tarball);
        work = Path.of("target", "tarball-test").toAbsolutePath();
        deleteTree(work);
        Files.createDirectories(work);
        run(work, 60, "tar", "xzf", tarball.toString(), "-C", work.toString());
        final String name = tarball.getFileName().toString().replace(".tar.gz", "");
        home = work.resolve(name);
    }

    @AfterAll
    static void stopAll() throws IOException
    {
        for (final Process p : RUNNING)
        {
            p.destroyForcibly();
        }
        try (Stream<Path> shm = Files.list(Path.of("/dev/shm")))
        {
            shm.filter((p) -> p.toString().startsWith(SHM_PREFIX)).forEach(ReleaseTarballTest::deleteTree);
        }
    }

    @Test
    void hasTheDocumentedLayout()
    {
        for (final String launcher : List.of("bin/cairn", "bin/cairn-manager", "bin/cairn-node", "bin/cairn-env.sh"))
        {
            assertTrue(Files.isExecutable(home.resolve(launcher)), launcher);
        }
        for (final String file : List.of("jvm.properties", "native/libcairn_shim.so", "etc/cairn-node.toml",
            "etc/cairn-manager.toml", "systemd/cairn-node.service", "systemd/cairn-manager.service",
            "systemd/cairn.sysusers.conf", "docs/operating/installing.md", "lib/cairn-daemon-" + version() + ".jar",
            "lib/cairn-manager-" + version() + ".jar", "lib/cairn-client-" + version() + ".jar"))
        {
            assertTrue(Files.isRegularFile(home.resolve(file)), file + " missing from the tarball");
        }
    }

    /** @return the version, from the tarball's name (cairn-VERSION). */
    static String version()
    {
        return home.getFileName().toString().substring("cairn-".length());
    }

    @Test
    void systemdUnitsVerify() throws Exception
    {
        final Path analyze = Path.of("/usr/bin/systemd-analyze");
        Assumptions.assumeTrue(Files.isExecutable(analyze),
            "SKIPPED: systemd-analyze is not installed here, the units were not verified");
        final Path units = Files.createDirectories(work.resolve("units"));
        final List<String> command = new ArrayList<>(List.of(analyze.toString(), "verify"));
        for (final String unit : List.of("cairn-manager.service", "cairn-node.service"))
        {
            // As installed under /opt/cairn: point the units at this unpacked copy, so verify checks the launchers.
            final String text = Files.readString(home.resolve("systemd").resolve(unit)).replace("/opt/cairn", home.toString());
            Files.writeString(units.resolve(unit), text);
            command.add(units.resolve(unit).toString());
        }
        final String output = run(work, 60, command.toArray(new String[0]));
        assertTrue(output.isBlank(), "systemd-analyze verify complained:\n" + output);
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void clusterFromTheLaunchersShutsDownCleanlyAndLosesNothing() throws Exception
    {
        final Path data = Files.createDirectories(work.resolve("cluster"));
        final Process[] managers = new Process[3];
        final Process[] nodes = new Process[3];
        writeConfigs(data);
        final Path notifyLog = data.resolve("logs/node-1.notify");
        final Process notifyListener = startNotifyListener(data, notifyLog);

        startCluster(data, managers, nodes, notifyListener);
        if (null != notifyListener)
        {
            awaitLine(notifyListener, notifyLog, "READY=1");
        }
        final String created = cli("stream", "create", "orders");
        final Matcher id = Pattern.compile("created stream (\\d+)").matcher(created);
        assertTrue(id.find(), created);
        final String streamId = id.group(1);
        final String appended = cli("stream", "append", streamId, "--data", "lossless", "--count", Integer.toString(BLOCKS));
        assertEquals(BLOCKS, appended.lines().filter((l) -> l.startsWith("appended ")).count(), appended);
        assertEveryReplicaHolds(streamId, BLOCKS);
        final String printed = run(work, 60, home.resolve("bin/cairn-node").toString(),
            "--config", data.resolve("node-2.toml").toString(), "--print-config");
        assertTrue(printed.contains("node-id = 2") && printed.contains("shutdown-drain-ms = 1000"), printed);

        // SIGTERM while a writer is appending: every append it saw acknowledged must be there after a restart.
        final Path writerLog = data.resolve("logs/writer.log");
        final Process writer = new ProcessBuilder(home.resolve("bin/cairn").toString(), "--managers", MANAGERS,
            "stream", "append", streamId, "--data", "in-flight", "--count", "1000000")
            .redirectErrorStream(true).redirectOutput(writerLog.toFile()).start();
        RUNNING.add(writer);
        final long deadline = System.currentTimeMillis() + 60_000;
        while (acknowledged(writerLog) == 0 && writer.isAlive() && System.currentTimeMillis() < deadline)
        {
            Thread.sleep(20);
        }
        stopCluster(data, managers, nodes);
        if (null != notifyListener)
        {
            awaitLine(notifyListener, notifyLog, "STOPPING=1");
            notifyListener.destroy();
        }
        if (!writer.waitFor(STOP_TIMEOUT_S, TimeUnit.SECONDS))
        {
            writer.destroyForcibly().waitFor();
        }
        RUNNING.remove(writer);
        final long acked = acknowledged(writerLog);
        assertTrue(acked > 0, "the writer never got an append acknowledged:\n" + Files.readString(writerLog));

        startCluster(data, managers, nodes, null);
        for (int replica = 0; replica < 3; replica++)
        {
            final String read = cli("stream", "read", streamId, "--replica", Integer.toString(replica));
            final Matcher blocks = Pattern.compile("read (\\d+) records").matcher(read);
            assertTrue(blocks.find(), read);
            assertTrue(Long.parseLong(blocks.group(1)) >= BLOCKS + acked, "replica " + replica + " lost acknowledged " +
                "appends: at least " + acked + " were acknowledged before the SIGTERM; " + read);
        }
        stopCluster(data, managers, nodes);
    }

    /** The CLI prints every 1000th acknowledgement with its count: a lower bound of what was acknowledged. */
    private static long acknowledged(final Path writerLog) throws IOException
    {
        long acked = 0;
        if (Files.exists(writerLog))
        {
            final Matcher count = Pattern.compile("^appended .*\\((\\d+)/\\d+\\)$", Pattern.MULTILINE)
                .matcher(Files.readString(writerLog));
            while (count.find())
            {
                acked = Math.max(acked, Long.parseLong(count.group(1)));
            }
        }
        return acked;
    }

    private static void writeConfigs(final Path data) throws IOException
    {
        Files.createDirectories(data.resolve("logs"));
        for (int i = 0; i < 3; i++)
        {
            Files.writeString(data.resolve("manager-" + i + ".toml"), String.join("\n",
                "member-id = " + i,
                "managers = \"" + MANAGERS + "\"",
                "dir = \"" + data.resolve("manager-" + i) + "\"",
                "aeron-dir = \"" + SHM_PREFIX + "manager-" + i + "\"",
                "snapshot-interval-bytes = 0", ""));
        }
        for (int n = 1; n <= 3; n++)
        {
            Files.writeString(data.resolve("node-" + n + ".toml"), String.join("\n",
                "node-id = " + n,
                "endpoint = \"127.0.0.1:" + (PORT_BASE + 100 + n) + "\"",
                "data-dir = [\"" + data.resolve("node-" + n + "/disk0") + "\"]",
                "managers = \"" + MANAGERS + "\"",
                "format-if-empty = true",
                "extent-size-bytes = 16_777_216",
                "prealloc-step-bytes = 4_194_304",
                "io-buffers = 8",
                "shutdown-drain-ms = 1000",
                "aeron-dir = \"" + SHM_PREFIX + "node-" + n + "\"", ""));
        }
    }

    private static void startCluster(final Path data, final Process[] managers, final Process[] nodes,
        final Process notifyListener) throws Exception
    {
        for (int i = 0; i < 3; i++)
        {
            managers[i] = launch(data, "manager-" + i, "bin/cairn-manager", Map.of());
        }
        for (int i = 0; i < 3; i++)
        {
            awaitLine(managers[i], data.resolve("logs/manager-" + i + ".log"), "cairn-manager " + i + " ready");
        }
        for (int n = 1; n <= 3; n++)
        {
            final Map<String, String> env = n == 1 && null != notifyListener ?
                Map.of("NOTIFY_SOCKET", data.resolve("notify.sock").toString()) : Map.of();
            nodes[n - 1] = launch(data, "node-" + n, "bin/cairn-node", env);
        }
        for (int n = 1; n <= 3; n++)
        {
            awaitLine(nodes[n - 1], data.resolve("logs/node-" + n + ".log"), "cairn-node " + n + " ready");
        }
    }

    /** SIGTERM, nodes first: every process exits by itself, cleanly, with nothing logged as an error. */
    private static void stopCluster(final Path data, final Process[] managers, final Process[] nodes)
        throws Exception
    {
        for (final Process node : nodes)
        {
            node.destroy(); // SIGTERM
        }
        for (int n = 1; n <= 3; n++)
        {
            assertStoppedCleanly(nodes[n - 1], data.resolve("logs/node-" + n + ".log"));
        }
        for (final Process manager : managers)
        {
            manager.destroy();
        }
        for (int i = 0; i < 3; i++)
        {
            assertStoppedCleanly(managers[i], data.resolve("logs/manager-" + i + ".log"));
        }
    }

    private static void assertStoppedCleanly(final Process process, final Path log) throws Exception
    {
        assertTrue(process.waitFor(STOP_TIMEOUT_S, TimeUnit.SECONDS), log + ": did not stop on SIGTERM");
        RUNNING.remove(process);
        final int exit = process.exitValue();
        final String text = Files.readString(log);
        // 143: the JVM ran its shutdown hooks for SIGTERM (the units list it in SuccessExitStatus).
        assertTrue(exit == 0 || exit == 143, log + ": exit status " + exit + "\n" + text);
        assertTrue(text.contains("stopped cleanly"), log + ": no clean stop\n" + text);
        for (final String line : text.lines().toList())
        {
            if (line.contains("Exception") || line.contains("error:") || line.contains("critical"))
            {
                fail(log + ": logged an error during the run or the shutdown: " + line + "\n" + text);
            }
        }
    }

    private static void assertEveryReplicaHolds(final String streamId, final int blocks) throws Exception
    {
        for (int replica = 0; replica < 3; replica++)
        {
            final String read = cli("stream", "read", streamId, "--replica", Integer.toString(replica));
            assertTrue(read.contains("read " + blocks + " records"), "replica " + replica + ": " + read);
        }
    }

    private static String cli(final String... args) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of(home.resolve("bin/cairn").toString(), "--managers", MANAGERS));
        command.addAll(List.of(args));
        return run(work, 60, command.toArray(new String[0]));
    }

    private static Process launch(final Path data, final String name, final String launcher,
        final Map<String, String> env) throws IOException
    {
        final Path log = data.resolve("logs/" + name + ".log");
        final ProcessBuilder builder = new ProcessBuilder(home.resolve(launcher).toString(),
            "--config", data.resolve(name + ".toml").toString())
            .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().remove("NOTIFY_SOCKET");
        builder.environment().putAll(env);
        final Process process = builder.start();
        RUNNING.add(process);
        return process;
    }

    /** A stand-in for systemd's notify socket (AF_UNIX datagram), when python3 is there to bind one. */
    private static Process startNotifyListener(final Path data, final Path out) throws Exception
    {
        if (0 != new ProcessBuilder("sh", "-c", "command -v python3").start().waitFor())
        {
            System.out.println("SKIPPED: sd_notify check, python3 is not installed to bind a notify socket");
            return null;
        }
        final String script = "import socket,sys\n" +
            "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n" +
            "s.bind(sys.argv[1])\n" +
            "f=open(sys.argv[2],'a')\n" +
            "while True:\n" +
            "  f.write(s.recv(4096).decode()+'\\n'); f.flush()\n";
        final Process listener = new ProcessBuilder("python3", "-c", script, data.resolve("notify.sock").toString(),
            out.toString()).redirectErrorStream(true).redirectOutput(data.resolve("logs/notify-listener.log").toFile())
            .start();
        RUNNING.add(listener);
        final long deadline = System.currentTimeMillis() + 10_000;
        while (!Files.exists(data.resolve("notify.sock")))
        {
            assertTrue(listener.isAlive() && System.currentTimeMillis() < deadline, "notify listener did not start");
            Thread.sleep(20);
        }
        return listener;
    }

    private static void awaitLine(final Process process, final Path log, final String line) throws Exception
    {
        final long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (true)
        {
            if (Files.exists(log) && Files.readString(log).contains(line))
            {
                return;
            }
            if (!process.isAlive() || System.currentTimeMillis() > deadline)
            {
                fail(log + ": no '" + line + "' (" + (process.isAlive() ? "timed out" : "exited " +
                    process.exitValue()) + ")\n" + (Files.exists(log) ? Files.readString(log) : ""));
            }
            Thread.sleep(50);
        }
    }

    private static String run(final Path dir, final long timeoutS, final String... command) throws Exception
    {
        final File out = Files.createTempFile(work, "cmd", ".out").toFile();
        final Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
            .redirectOutput(out).start();
        if (!p.waitFor(timeoutS, TimeUnit.SECONDS))
        {
            p.destroyForcibly();
            fail(String.join(" ", command) + ": timed out\n" + Files.readString(out.toPath()));
        }
        final String output = Files.readString(out.toPath());
        assertEquals(0, p.exitValue(), String.join(" ", command) + " failed:\n" + output);
        return output;
    }

    private static void deleteTree(final Path root)
    {
        if (!Files.exists(root))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(root))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
        catch (final IOException ex)
        {
            throw new java.io.UncheckedIOException(ex);
        }
    }
}
