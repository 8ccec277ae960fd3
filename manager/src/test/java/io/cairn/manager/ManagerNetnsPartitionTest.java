package io.cairn.manager;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real network partition: each of 3 member processes and the client process runs in its own network namespace,
 * wired by a veth to a bridge in a fifth namespace (10.231.0.0/24, only inside these namespaces). The leader's
 * bridge port goes down: the other two elect a new leader and keep serving the client. The port comes back up; the
 * old leader must then have caught up, which is shown by stopping the new leader: the remaining two (one of them the
 * formerly isolated member) form a quorum only if its log matches, and then serve every key written while it was
 * cut off. Skips, saying why, where network namespaces cannot be created (not root, no CAP_SYS_ADMIN).
 */
class ManagerNetnsPartitionTest
{
    private static final String PREFIX = "cairn-mnp";
    private static final String BRIDGE_NS = PREFIX + "-br";
    private static final int BASE_PORT = 21400;
    private static final int MEMBERS = 3;
    private static final String[] HOSTS = { "10.231.0.10", "10.231.0.11", "10.231.0.12" };
    private static final String CLIENT_HOST = "10.231.0.100";
    private static final long COMMAND_TIMEOUT_MS = 10_000;

    private ManagerClusterHarness harness;
    private Process client;
    private PrintStream clientIn;
    private final BlockingQueue<String> clientOut = new ArrayBlockingQueue<>(256);
    private boolean networkCreated;

    @AfterEach
    void tearDown()
    {
        if (client != null)
        {
            // Ask it to quit first: a killed client leaves its media driver's directory behind in /dev/shm.
            if (null != clientIn)
            {
                clientIn.println("quit");
                clientIn.flush();
            }
            waitFor(client);
            client.destroyForcibly();
            waitFor(client);
            org.agrona.IoUtil.delete(new java.io.File(
                io.cairn.replication.AeronDefaults.aeronDirectory("line-kv-client-" + client.pid())), true);
        }
        if (harness != null)
        {
            harness.close();
        }
        if (networkCreated)
        {
            deleteNetwork();
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void isolatedLeaderIsReplacedAndCatchesUpAfterHealing() throws Exception
    {
        deleteNetwork(); // leftovers of a run that was killed
        final String probe = run("ip", "netns", "add", PREFIX + "-probe");
        Assumptions.assumeTrue(probe.isEmpty(), "network namespaces not available here (needs root): " + probe);
        run("ip", "netns", "del", PREFIX + "-probe");
        networkCreated = true;
        createNetwork();

        harness = new ManagerClusterHarness("manager-netns-test", BASE_PORT, MEMBERS, HOSTS,
            (memberId) -> List.of("ip", "netns", "exec", memberNs(memberId)));
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.start(i);
        }
        startClient();
        assertTrue(ask("put before 0").startsWith("ok "));
        final int oldLeader = leader();

        // Cut the leader off: its bridge port goes down, so nothing reaches it and nothing leaves it.
        run("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", bridgePort(oldLeader), "down");
        final long cutAtNs = System.nanoTime();
        for (int k = 0; k < 5; k++)
        {
            final String answer = ask("put during-" + k + " v" + k);
            assertTrue(answer.startsWith("ok "), "served while the leader is cut off: " + answer);
        }
        System.out.println("5 puts with the leader cut off took " +
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cutAtNs) + " ms"); // informational
        final int newLeader = leader();
        assertNotEquals(oldLeader, newLeader, "the two connected members elected a new leader");

        // Heal, then stop the new leader: quorum now needs the formerly isolated member, with a matching log.
        run("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", bridgePort(oldLeader), "up");
        assertTrue(ask("put after-heal 1").startsWith("ok "));
        harness.stop(newLeader);
        assertTrue(ask("put after-stop 2").startsWith("ok "), "the healed member takes part in a quorum");
        for (int k = 0; k < 5; k++)
        {
            assertEquals("val v" + k, ask("get during-" + k), "key written while member " + oldLeader + " was cut off");
        }
        assertEquals("val 0", ask("get before"));
        final int leaderNow = leader();
        assertTrue(leaderNow != newLeader, "leader is one of the two running members: " + leaderNow);
        assertTrue(!harness.allErrors().contains("invariant violated"), harness.allErrors());
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static String memberNs(final int memberId)
    {
        return PREFIX + "-m" + memberId;
    }

    private static String bridgePort(final int index)
    {
        return "cmnpb" + index;
    }

    private void createNetwork()
    {
        runOrFail("ip", "netns", "add", BRIDGE_NS);
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", "lo", "up");
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "add", "br0", "type", "bridge");
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", "br0", "up");
        for (int i = 0; i <= MEMBERS; i++)
        {
            final String ns = i < MEMBERS ? memberNs(i) : PREFIX + "-client";
            final String address = i < MEMBERS ? HOSTS[i] : CLIENT_HOST;
            final String inner = "cmnpv" + i;
            runOrFail("ip", "netns", "add", ns);
            runOrFail("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
            runOrFail("ip", "link", "add", inner, "netns", ns, "type", "veth", "peer", "name", bridgePort(i),
                "netns", BRIDGE_NS);
            runOrFail("ip", "netns", "exec", ns, "ip", "addr", "add", address + "/24", "dev", inner);
            runOrFail("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up");
            runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", bridgePort(i), "master", "br0");
            runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", bridgePort(i), "up");
        }
    }

    private static void deleteNetwork()
    {
        // Deleting a namespace destroys the veth ends in it, and with them their peers.
        for (int i = 0; i < MEMBERS; i++)
        {
            run("ip", "netns", "del", memberNs(i));
        }
        run("ip", "netns", "del", PREFIX + "-client");
        run("ip", "netns", "del", BRIDGE_NS);
        run("ip", "netns", "del", PREFIX + "-probe");
    }

    private void startClient() throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", PREFIX + "-client",
            System.getProperty("java.home") + "/bin/java"));
        final String flags = System.getProperty("cairn.jvm.flags", "").trim();
        if (!flags.isEmpty())
        {
            command.addAll(List.of(flags.split("\\s+")));
        }
        command.addAll(List.of("-Xmx128m", "-cp", System.getProperty("java.class.path"), LineKvClient.class.getName(),
            harness.managers(), CLIENT_HOST));
        client = new ProcessBuilder(command)
            .redirectError(new File("target/cluster-tests/manager-netns-test/client.err.log"))
            .start();
        clientIn = new PrintStream(client.getOutputStream(), true, StandardCharsets.UTF_8);
        final Thread reader = new Thread(() ->
        {
            try (BufferedReader out = new BufferedReader(
                new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = out.readLine()) != null)
                {
                    clientOut.offer(line);
                }
            }
            catch (final IOException ex)
            {
                clientOut.offer("err client output closed: " + ex);
            }
        }, "line-kv-client-reader");
        reader.setDaemon(true);
        reader.start();
        final String ready = clientOut.poll(30, TimeUnit.SECONDS);
        assertEquals("ready", ready, "client connected");
    }

    private String ask(final String line) throws InterruptedException
    {
        clientIn.println(line);
        final String answer = clientOut.poll(COMMAND_TIMEOUT_MS + 5_000, TimeUnit.MILLISECONDS);
        assertNotNull(answer, "no answer to '" + line + "'");
        return answer;
    }

    private int leader() throws InterruptedException
    {
        final String answer = ask("leader");
        assertTrue(answer.startsWith("leader "), answer);
        return Integer.parseInt(answer.substring(7));
    }

    private static void runOrFail(final String... command)
    {
        final String output = run(command);
        if (!output.isEmpty())
        {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
        }
    }

    /**
     * @return "" on success, else the exit code and output.
     */
    private static String run(final String... command)
    {
        try
        {
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                return "timed out";
            }
            final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return process.exitValue() == 0 ? "" : "exit " + process.exitValue() + ": " + output.trim();
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return ex.toString();
        }
    }

    private static void waitFor(final Process process)
    {
        try
        {
            process.waitFor(10, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
