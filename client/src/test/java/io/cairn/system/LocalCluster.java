package io.cairn.system;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Test harness: a whole Cairn cluster as real processes on 127.0.0.1 — 3 manager members and 3 extent
 * nodes, each its own JVM started from the test's classpath with the project's JVM flags — that a test
 * can kill -9 and restart. Every process's output goes to a log file under the cluster's directory.
 */
public final class LocalCluster implements AutoCloseable
{
    static final long READY_TIMEOUT_MS = 120_000;

    private final Path dir;
    private final int portBase;
    private final long extentSizeBytes;
    private final Process[] managers = new Process[3];
    /** Nodes 1..3 start with the cluster; {@link #startSpareNode(int)} adds up to two more. */
    private final Process[] nodes = new Process[5];
    private final List<Process> all = new ArrayList<>();
    private List<String> extraManagerArgs = List.of();
    private List<String> extraNodeArgs = List.of();
    private String managerHost = "127.0.0.1";
    private IntFunction<String> nodeHost = (nodeId) -> "127.0.0.1";
    private IntFunction<List<String>> nodeLaunchPrefix = (nodeId) -> List.of();

    /**
     * @param dir             where data and logs go.
     * @param portBase        managers use portBase+10, +20, +30 (each +0..+4); nodes portBase+101..103.
     * @param extentSizeBytes extent size limit given to the nodes, small to make streams roll over.
     */
    public LocalCluster(final Path dir, final int portBase, final long extentSizeBytes)
    {
        this.dir = dir;
        this.portBase = portBase;
        this.extentSizeBytes = extentSizeBytes;
    }

    /**
     * @param args flags added to every manager member's command line (e.g. short node timeouts); before start.
     * @return this.
     */
    public LocalCluster managerArgs(final String... args)
    {
        extraManagerArgs = List.of(args);
        return this;
    }

    /**
     * @param args flags added to every extent node's command line; before start.
     * @return this.
     */
    public LocalCluster nodeArgs(final String... args)
    {
        extraNodeArgs = List.of(args);
        return this;
    }

    /**
     * Places the processes on other addresses than 127.0.0.1, e.g. each node in a network namespace of its own;
     * call before {@link #start()}.
     *
     * @param managerHost      address the manager members bind to.
     * @param nodeHost         address of each extent node.
     * @param nodeLaunchPrefix command words put before each node's java command (e.g. ip netns exec NS).
     * @return this.
     */
    public LocalCluster hosts(
        final String managerHost, final IntFunction<String> nodeHost, final IntFunction<List<String>> nodeLaunchPrefix)
    {
        this.managerHost = managerHost;
        this.nodeHost = nodeHost;
        this.nodeLaunchPrefix = nodeLaunchPrefix;
        return this;
    }

    public String managersString()
    {
        return "0=" + managerHost + ":" + (portBase + 10) + ",1=" + managerHost + ":" + (portBase + 20) + ",2=" +
            managerHost + ":" + (portBase + 30);
    }

    public String nodeEndpoint(final int nodeId)
    {
        return nodeHost.apply(nodeId) + ":" + (portBase + 100 + nodeId);
    }

    public Path dir()
    {
        return dir;
    }

    public LocalCluster start() throws IOException, InterruptedException
    {
        Files.createDirectories(dir.resolve("logs"));
        for (int i = 0; i < 3; i++)
        {
            startManager(i);
        }
        for (int i = 0; i < 3; i++)
        {
            awaitLine(managers[i], log("manager-" + i), "cairn-manager " + i + " ready");
        }
        for (int nodeId = 1; nodeId <= 3; nodeId++)
        {
            startNode(nodeId);
        }
        for (int nodeId = 1; nodeId <= 3; nodeId++)
        {
            awaitLine(nodes[nodeId - 1], log("node-" + nodeId), "cairn-node " + nodeId + " ready");
        }
        return this;
    }

    public void startManager(final int memberId) throws IOException
    {
        final List<String> args = new ArrayList<>(List.of(
            "--member-id", Integer.toString(memberId),
            "--managers", managersString(),
            "--dir", dir.resolve("manager-" + memberId).toString()));
        args.addAll(extraManagerArgs);
        managers[memberId] = launch("manager-" + memberId, List.of(), "io.cairn.manager.ManagerMember",
            args.toArray(new String[0]));
    }

    public void awaitManagerReady(final int memberId) throws IOException, InterruptedException
    {
        awaitLine(managers[memberId], log("manager-" + memberId), "cairn-manager " + memberId + " ready");
    }

    public void startNode(final int nodeId) throws IOException
    {
        final Path disk = dir.resolve("node-" + nodeId).resolve("disk0");
        Files.createDirectories(disk);
        final List<String> args = new ArrayList<>(List.of(
            "--node-id", Integer.toString(nodeId),
            "--endpoint", nodeEndpoint(nodeId),
            "--data-dir", disk.toString(),
            "--managers", managersString(),
            "--format-if-empty",
            "--extent-size-bytes", Long.toString(extentSizeBytes)));
        args.addAll(extraNodeArgs);
        nodes[nodeId - 1] = launch("node-" + nodeId, nodeLaunchPrefix.apply(nodeId), "io.cairn.daemon.ExtentNode",
            args.toArray(new String[0]));
    }

    /**
     * Starts one more extent node (id 4 or 5) and waits until it serves, so that the manager can place new extents
     * when one of the first three is gone.
     */
    public void startSpareNode(final int nodeId) throws IOException, InterruptedException
    {
        if (nodeId < 4 || nodeId > nodes.length)
        {
            throw new IllegalArgumentException("spare node id " + nodeId + " must be in [4, " + nodes.length + "]");
        }
        startNode(nodeId);
        awaitLine(nodes[nodeId - 1], log("node-" + nodeId), "cairn-node " + nodeId + " ready");
    }

    /**
     * Kills a manager member with SIGKILL and waits for it to be gone.
     */
    public void killManager(final int memberId) throws InterruptedException
    {
        final Process p = managers[memberId];
        p.destroyForcibly();
        if (!p.waitFor(30, TimeUnit.SECONDS))
        {
            throw new IllegalStateException("manager " + memberId + " did not die after SIGKILL");
        }
    }

    /**
     * Kills an extent node with SIGKILL (no shutdown hook runs) and waits for it to be gone.
     */
    public void killNode(final int nodeId) throws InterruptedException
    {
        final Process p = nodes[nodeId - 1];
        p.destroyForcibly();
        if (!p.waitFor(30, TimeUnit.SECONDS))
        {
            throw new IllegalStateException("node " + nodeId + " did not die after SIGKILL");
        }
    }

    /**
     * Starts an extent node again on the same data directory and waits until it serves (its log is appended
     * to, so this waits for one more "ready" line than the log had).
     */
    public void restartNode(final int nodeId) throws IOException, InterruptedException
    {
        final Path logFile = log("node-" + nodeId);
        final String ready = "cairn-node " + nodeId + " ready";
        final int before = Files.exists(logFile) ? count(Files.readString(logFile), ready) : 0;
        startNode(nodeId);
        final long deadlineMs = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (count(Files.readString(logFile), ready) <= before)
        {
            final Process p = nodes[nodeId - 1];
            if (!p.isAlive())
            {
                throw new IllegalStateException("node " + nodeId + " exited (" + p.exitValue() + ") at restart:\n" +
                    tail(logFile));
            }
            if (System.currentTimeMillis() > deadlineMs)
            {
                throw new IllegalStateException("node " + nodeId + " not ready again within " + READY_TIMEOUT_MS +
                    " ms:\n" + tail(logFile));
            }
            Thread.sleep(100);
        }
    }

    private static int count(final String text, final String part)
    {
        int n = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1))
        {
            n++;
        }
        return n;
    }

    /**
     * Stops an extent node with SIGSTOP: the process keeps its sockets and state but answers nothing, as a node
     * in a long GC pause or descheduled would, until {@link #resumeNode(int)}.
     */
    public void pauseNode(final int nodeId) throws IOException, InterruptedException
    {
        signalNode(nodeId, "STOP");
    }

    /**
     * Continues an extent node stopped by {@link #pauseNode(int)} with SIGCONT.
     */
    public void resumeNode(final int nodeId) throws IOException, InterruptedException
    {
        signalNode(nodeId, "CONT");
    }

    private void signalNode(final int nodeId, final String signal) throws IOException, InterruptedException
    {
        final Process p = nodes[nodeId - 1];
        final Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid()))
            .redirectErrorStream(true).start();
        final String output = new String(kill.getInputStream().readAllBytes());
        if (!kill.waitFor(10, TimeUnit.SECONDS) || 0 != kill.exitValue())
        {
            throw new IllegalStateException("kill -" + signal + " of node " + nodeId + " (pid " + p.pid() +
                ") failed: " + output);
        }
    }

    public boolean managerAlive(final int memberId)
    {
        return null != managers[memberId] && managers[memberId].isAlive();
    }

    public Path log(final String name)
    {
        return dir.resolve("logs").resolve(name + ".log");
    }

    private Process launch(final String name, final List<String> prefix, final String mainClass, final String... args)
        throws IOException
    {
        final List<String> command = new ArrayList<>(prefix);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(System.getProperty("cairn.jvm.flags", "").trim().split("\\s+")));
        command.add("-Xmx384m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(Arrays.asList(args));
        final ProcessBuilder builder = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log(name).toFile()));
        final Process process = builder.start();
        all.add(process);
        return process;
    }

    private static void awaitLine(final Process process, final Path logFile, final String line)
        throws IOException, InterruptedException
    {
        final long deadlineMs = System.currentTimeMillis() + READY_TIMEOUT_MS;
        while (true)
        {
            if (Files.exists(logFile) && Files.readString(logFile).contains(line))
            {
                return;
            }
            if (!process.isAlive())
            {
                throw new IllegalStateException(logFile.getFileName() + ": process exited (" + process.exitValue() +
                    ") before '" + line + "':\n" + tail(logFile));
            }
            if (System.currentTimeMillis() > deadlineMs)
            {
                throw new IllegalStateException("no '" + line + "' within " + READY_TIMEOUT_MS + " ms:\n" + tail(logFile));
            }
            Thread.sleep(100);
        }
    }

    static String tail(final Path logFile) throws IOException
    {
        if (!Files.exists(logFile))
        {
            return "(no log)";
        }
        final List<String> lines = Files.readAllLines(logFile);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    public void close()
    {
        for (final Process p : all)
        {
            p.destroy();
        }
        for (final Process p : all)
        {
            try
            {
                if (!p.waitFor(20, TimeUnit.SECONDS))
                {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
    }
}
