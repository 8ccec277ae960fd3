package io.cairn.manager;

import io.aeron.cluster.RecordingLog;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.stream.Stream;

/**
 * Runs manager members as separate JVM processes ({@link ManagerMember#main}) for system tests: start, SIGTERM,
 * SIGKILL, restart on the same directories. Output of every launch goes to its own log file under the suite's
 * directory; {@link #close()} kills whatever is still running, so call it from an {@code @AfterEach}.
 */
final class ManagerClusterHarness implements AutoCloseable
{
    static final long READY_TIMEOUT_MS = 30_000;
    static final long EXIT_TIMEOUT_MS = 20_000;

    private final File baseDir;
    private final int basePort;
    private final int memberCount;
    private final Process[] processes;
    private final int[] launches;
    private final List<String> jvmFlags;
    private final String[] hosts;
    private final IntFunction<List<String>> commandPrefix;

    /**
     * @param suiteName   directory name under target/cluster-tests; cleared first.
     * @param basePort    port base of member 0; member i uses basePort + 10 i.
     * @param memberCount members.
     */
    ManagerClusterHarness(final String suiteName, final int basePort, final int memberCount)
    {
        this(suiteName, basePort, memberCount, null, (memberId) -> List.of());
    }

    /**
     * @param suiteName     directory name under target/cluster-tests; cleared first.
     * @param basePort      port base of member 0; member i uses basePort + 10 i.
     * @param memberCount   members.
     * @param hosts         each member's address (null: all on 127.0.0.1).
     * @param commandPrefix what goes before {@code java} for a member, e.g. {@code ip netns exec NS}; it must exec
     *                      the JVM in place, so that signals reach it.
     */
    ManagerClusterHarness(
        final String suiteName, final int basePort, final int memberCount, final String[] hosts,
        final IntFunction<List<String>> commandPrefix)
    {
        this.hosts = hosts;
        this.commandPrefix = commandPrefix;
        this.baseDir = new File("target/cluster-tests/" + suiteName).getAbsoluteFile();
        this.basePort = basePort;
        this.memberCount = memberCount;
        this.processes = new Process[memberCount];
        this.launches = new int[memberCount];
        final String flags = System.getProperty("cairn.jvm.flags", "").trim();
        this.jvmFlags = flags.isEmpty() ? List.of() : Arrays.asList(flags.split("\\s+"));
        deleteRecursively(baseDir.toPath());
        baseDir.mkdirs();
    }

    /**
     * @return the managers string for members and clients.
     */
    String managers()
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < memberCount; i++)
        {
            sb.append(i).append('=').append(hosts == null ? "127.0.0.1" : hosts[i]).append(':').append(basePort + 10 * i).append(i + 1 < memberCount ? "," : "");
        }
        return sb.toString();
    }

    /**
     * Starts a member and waits for its ready line.
     *
     * @param memberId to start; must not be running.
     */
    void start(final int memberId)
    {
        if (processes[memberId] != null && processes[memberId].isAlive())
        {
            throw new IllegalStateException("member " + memberId + " is running");
        }
        final int launch = ++launches[memberId];
        final File out = logFile(memberId, launch, "out");
        final File err = logFile(memberId, launch, "err");
        final List<String> command = new ArrayList<>(commandPrefix.apply(memberId));
        command.add(System.getProperty("java.home") + "/bin/java");
        command.addAll(jvmFlags);
        command.add("-Xmx256m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(ManagerMember.class.getName());
        command.addAll(List.of("--member-id", String.valueOf(memberId), "--managers", managers(),
            "--dir", new File(baseDir, "member-" + memberId).getPath()));
        try
        {
            processes[memberId] = new ProcessBuilder(command)
                .redirectOutput(out)
                .redirectError(err)
                .start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        awaitReady(memberId, out);
    }

    private void awaitReady(final int memberId, final File out)
    {
        final String ready = String.format(ManagerMember.READY_FORMAT, memberId);
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READY_TIMEOUT_MS);
        while (System.nanoTime() - deadlineNs < 0)
        {
            if (read(out).contains(ready))
            {
                return;
            }
            if (!processes[memberId].isAlive())
            {
                throw new IllegalStateException("member " + memberId + " exited with " +
                    processes[memberId].exitValue() + " before ready:\n" + logs(memberId));
            }
            sleepMs(50);
        }
        throw new IllegalStateException("member " + memberId + " not ready within " + READY_TIMEOUT_MS + " ms:\n" +
            logs(memberId));
    }

    /**
     * SIGKILL: no shutdown hook runs, mark files stay behind.
     *
     * @param memberId to kill.
     */
    void kill(final int memberId)
    {
        final Process process = processes[memberId];
        process.destroyForcibly();
        awaitExit(memberId, process);
    }

    /**
     * SIGTERM and wait for a clean exit.
     *
     * @param memberId to stop.
     * @return the exit code.
     */
    int stop(final int memberId)
    {
        final Process process = processes[memberId];
        process.destroy();
        return awaitExit(memberId, process);
    }

    private int awaitExit(final int memberId, final Process process)
    {
        try
        {
            if (!process.waitFor(EXIT_TIMEOUT_MS, TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
                throw new IllegalStateException("member " + memberId + " did not exit within " + EXIT_TIMEOUT_MS +
                    " ms:\n" + logs(memberId));
            }
            return process.exitValue();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    /**
     * Waits until the member's recording log lists a snapshot of the manager service.
     *
     * @param memberId a running member.
     */
    void awaitSnapshot(final int memberId)
    {
        final File clusterDir = new File(baseDir, "member-" + memberId + "/cluster");
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READY_TIMEOUT_MS);
        while (System.nanoTime() - deadlineNs < 0)
        {
            try (RecordingLog log = new RecordingLog(clusterDir, false))
            {
                if (log.getLatestSnapshot(0) != null)
                {
                    return;
                }
            }
            catch (final RuntimeException ex)
            {
                // the member may be writing the file; look again
            }
            sleepMs(100);
        }
        throw new IllegalStateException("member " + memberId + " took no snapshot within " + READY_TIMEOUT_MS +
            " ms:\n" + logs(memberId));
    }

    boolean isAlive(final int memberId)
    {
        return processes[memberId] != null && processes[memberId].isAlive();
    }

    /**
     * @param memberId a member.
     * @return stdout and stderr of its latest launch, for failure messages.
     */
    String logs(final int memberId)
    {
        final int launch = launches[memberId];
        return "--- member " + memberId + " launch " + launch + " stdout:\n" + read(logFile(memberId, launch, "out")) +
            "--- stderr:\n" + read(logFile(memberId, launch, "err"));
    }

    /**
     * @return stderr of every launch so far, e.g. to check that no member logged an unexpected error.
     */
    String allErrors()
    {
        final StringBuilder sb = new StringBuilder();
        for (int memberId = 0; memberId < memberCount; memberId++)
        {
            for (int launch = 1; launch <= launches[memberId]; launch++)
            {
                sb.append(read(logFile(memberId, launch, "err")));
            }
        }
        return sb.toString();
    }

    /**
     * Stops every member still running: SIGTERM so it removes its /dev/shm directory, SIGKILL if that hangs.
     */
    public void close()
    {
        for (final Process process : processes)
        {
            if (process != null && process.isAlive())
            {
                process.destroy();
            }
        }
        for (final Process process : processes)
        {
            if (process != null)
            {
                try
                {
                    if (!process.waitFor(EXIT_TIMEOUT_MS, TimeUnit.MILLISECONDS))
                    {
                        process.destroyForcibly().waitFor(EXIT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    }
                }
                catch (final InterruptedException ex)
                {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private File logFile(final int memberId, final int launch, final String kind)
    {
        return new File(baseDir, "member-" + memberId + "-launch-" + launch + "." + kind + ".log");
    }

    private static String read(final File file)
    {
        try
        {
            return file.exists() ? Files.readString(file.toPath()) : "";
        }
        catch (final IOException ex)
        {
            return "<unreadable " + file + ": " + ex + ">";
        }
    }

    private static void sleepMs(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    private static void deleteRecursively(final Path path)
    {
        if (!Files.exists(path))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(path))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
