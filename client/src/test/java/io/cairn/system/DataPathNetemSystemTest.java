package io.cairn.system;

import io.cairn.client.CairnClient;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.StreamInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The data path over a real, faulty network. Each extent node runs in a network namespace of its own, joined by a
 * veth to a bridge in another namespace; the managers and this test's client stay in the test's namespace, on a
 * veth joined to the same bridge (10.233.0.0/24, which exists only on these links). (a) {@code tc netem} drops 5%
 * of the packets of one replica of the tail, both ways, and delays and reorders some (where the kernel lacks netem,
 * a token bucket filter with a short queue delays them and drops bursts instead): appends still complete (Aeron
 * retransmits what is lost) and every block is intact. (b) That replica's bridge port goes down, a full partition:
 * the client seals the tail at what the replicas it reaches have and carries on elsewhere; the port comes back up,
 * the node is ALIVE again and fenced against the former owner, and nothing acknowledged is lost.
 * <p>
 * The test creates its namespaces and removes them again, also when it fails (and first removes leftovers of a run
 * that was killed). It skips, saying why, where {@code ip netns add} is not permitted (not root, no CAP_SYS_ADMIN).
 * Ports 27500+ (its own range).
 */
class DataPathNetemSystemTest
{
    static final int PORT_BASE = 27500;
    static final long EXTENT_SIZE_BYTES = 64L * 1024 * 1024;
    static final int NODES = 4;
    static final String PREFIX = "cairn-dpn";
    static final String BRIDGE_NS = PREFIX + "-br";
    static final String HOST_LINK = "cdpnh0";
    static final String HOST_ADDRESS = "10.233.0.1";
    static final int APPENDS_PER_PHASE = 150;
    static final long PARTITION_MS = 4_000;
    static final long SEED = 0xDA7A9A7L;
    /** Loss, delay and reordering, both ways on one replica's link. */
    static final String NETEM = "netem delay 1ms reorder 25% 50% loss 5%";
    /**
     * Where the kernel has no netem: 5 Mbit/s with a queue of two packets, which delays the replica's traffic and
     * drops what overflows the queue whenever Aeron sends a burst.
     */
    static final String TBF_FALLBACK = "tbf rate 5mbit burst 2kb limit 3kb";

    LocalCluster cluster;
    boolean networkCreated;

    @AfterEach
    void tearDown()
    {
        if (null != cluster)
        {
            cluster.close();
        }
        if (networkCreated)
        {
            deleteNetwork();
        }
    }

    /** The client answers come to the test's own address on the bridge. */
    CairnClient.Context clientContext()
    {
        return ReplicaPauseSystemTest.clientContext(cluster).responseHost(HOST_ADDRESS);
    }

    static String nodeNs(final int nodeId)
    {
        return PREFIX + "-n" + nodeId;
    }

    static String nodeHost(final int nodeId)
    {
        return "10.233.0." + (10 + nodeId);
    }

    static String nodeLink(final int nodeId)
    {
        return "cdpnv" + nodeId;
    }

    static String bridgePort(final int nodeId)
    {
        return "cdpnb" + nodeId;
    }

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void appendsSurvivePacketLossAndAPartitionOfOneReplica() throws Exception
    {
        deleteNetwork(); // leftovers of a run that was killed
        final String probe = run("ip", "netns", "add", PREFIX + "-probe");
        Assumptions.assumeTrue(probe.isEmpty(), "network namespaces not available here (needs root): " + probe);
        run("ip", "netns", "del", PREFIX + "-probe");
        networkCreated = true;
        createNetwork();

        final Path dir = Path.of("target", "system-test", "data-path-netem-" + System.currentTimeMillis())
            .toAbsolutePath();
        cluster = new LocalCluster(dir, PORT_BASE, EXTENT_SIZE_BYTES)
            .hosts(HOST_ADDRESS, DataPathNetemSystemTest::nodeHost,
                (nodeId) -> List.of("ip", "netns", "exec", nodeNs(nodeId)))
            .start();
        cluster.startSpareNode(4);
        try (CairnClient owner = CairnClient.connect(clientContext()))
        {
            final StreamInfo created = owner.createStream("data-path-netem-" + System.nanoTime());
            final long streamId = created.streamId();
            final StreamWriter writer = new StreamWriter(owner, streamId, SEED).start();
            writer.awaitMore(APPENDS_PER_PHASE);

            // (a) Loss, delay and reordering on a secondary of the tail, both directions.
            final ExtentInfo lossyTail = owner.streamInfo(streamId).tail();
            final int lossy = lossyTail.replicas()[1];
            final String[] lossyNs = { nodeNs(lossy), BRIDGE_NS };
            final String[] lossyLinks = { nodeLink(lossy), bridgePort(lossy) };
            String qdisc = NETEM;
            for (int i = 0; i < 2; i++)
            {
                final String[] add = qdiscCommand(lossyNs[i], "add", lossyLinks[i], NETEM);
                final String answer = run(add);
                if (answer.contains("qdisc kind is unknown"))
                {
                    // This kernel has no netem (sch_netem): a token bucket with a short queue still delays and drops.
                    qdisc = TBF_FALLBACK;
                    runOrFail(qdiscCommand(lossyNs[i], "add", lossyLinks[i], TBF_FALLBACK));
                }
                else if (!answer.isEmpty())
                {
                    throw new IllegalStateException(String.join(" ", add) + " failed: " + answer);
                }
            }
            final int beforeLoss = writer.ackedCount();
            writer.awaitMore(APPENDS_PER_PHASE);
            long dropped = 0;
            for (int i = 0; i < 2; i++)
            {
                dropped += droppedPackets(lossyNs[i], lossyLinks[i]);
                runOrFail(qdiscCommand(lossyNs[i], "del", lossyLinks[i], ""));
            }
            assertTrue(dropped > 0, "'" + qdisc + "' on node " + lossy + "'s link dropped no packet");
            final ExtentInfo afterLoss = owner.streamInfo(streamId).tail();
            System.out.println("data path netem: " + (writer.ackedCount() - beforeLoss) + " appends with '" + qdisc +
                "' on node " + lossy + " (" + dropped + " packets dropped); tail " +
                (afterLoss.extentId() == lossyTail.extentId() ? "unchanged" :
                "moved from " + lossyTail.extentId() + " to " + afterLoss.extentId())); // informational

            // (b) A full partition of a replica of the tail, then healing.
            final ExtentInfo cutTail = owner.streamInfo(streamId).tail();
            final int cut = cutTail.replicas()[1];
            runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", bridgePort(cut), "down");
            final long cutAtMs = System.currentTimeMillis();
            writer.awaitMore(APPENDS_PER_PHASE);
            final StreamInfo during = owner.streamInfo(streamId);
            assertNotEquals(cutTail.extentId(), during.tail().extentId(), "appends moved off extent " +
                cutTail.extentId() + " while node " + cut + " was cut off");
            assertTrue(during.extents().stream().anyMatch((e) -> e.extentId() == cutTail.extentId() && e.sealed()),
                "extent " + cutTail.extentId() + " was sealed: " + during.extents());
            final long leftMs = PARTITION_MS - (System.currentTimeMillis() - cutAtMs);
            if (leftMs > 0)
            {
                Thread.sleep(leftMs); // past the manager's suspect timeout
            }
            runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", bridgePort(cut), "up");
            ReplicaPauseSystemTest.awaitAlive(owner, cut);
            writer.awaitMore(APPENDS_PER_PHASE / 3);
            writer.stop();

            try (CairnClient reader = CairnClient.connect(clientContext()))
            {
                final StreamInfo info = writer.verify(reader);
                System.out.println("data path netem: node " + cut + " cut off " + PARTITION_MS + " ms and healed; " +
                    writer.ackedCount() + " acknowledged blocks over " + info.extents().size() +
                    " extents read back from every replica");
            }
            ReplicaPauseSystemTest.checkFencing(clientContext(), owner, streamId, cut, writer);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static void createNetwork()
    {
        runOrFail("ip", "netns", "add", BRIDGE_NS);
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", "lo", "up");
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "add", "br0", "type", "bridge");
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", "br0", "up");
        // The test's own namespace: managers and client.
        runOrFail("ip", "link", "add", HOST_LINK, "type", "veth", "peer", "name", bridgePort(0), "netns", BRIDGE_NS);
        runOrFail("ip", "addr", "add", HOST_ADDRESS + "/24", "dev", HOST_LINK);
        runOrFail("ip", "link", "set", HOST_LINK, "up");
        attach(bridgePort(0));
        for (int nodeId = 1; nodeId <= NODES; nodeId++)
        {
            final String ns = nodeNs(nodeId);
            runOrFail("ip", "netns", "add", ns);
            runOrFail("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
            runOrFail("ip", "link", "add", nodeLink(nodeId), "netns", ns, "type", "veth", "peer", "name",
                bridgePort(nodeId), "netns", BRIDGE_NS);
            runOrFail("ip", "netns", "exec", ns, "ip", "addr", "add", nodeHost(nodeId) + "/24", "dev", nodeLink(nodeId));
            runOrFail("ip", "netns", "exec", ns, "ip", "link", "set", nodeLink(nodeId), "up");
            attach(bridgePort(nodeId));
        }
    }

    private static void attach(final String port)
    {
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", port, "master", "br0");
        runOrFail("ip", "netns", "exec", BRIDGE_NS, "ip", "link", "set", port, "up");
    }

    private static void deleteNetwork()
    {
        // Deleting a namespace destroys the veth ends in it, and with them their peers (also the host's end).
        for (int nodeId = 1; nodeId <= NODES; nodeId++)
        {
            run("ip", "netns", "del", nodeNs(nodeId));
        }
        run("ip", "netns", "del", BRIDGE_NS);
        run("ip", "netns", "del", PREFIX + "-probe");
        run("ip", "link", "del", HOST_LINK);
    }

    private static String[] qdiscCommand(final String ns, final String verb, final String link, final String qdisc)
    {
        return ("ip netns exec " + ns + " tc qdisc " + verb + " dev " + link + " root " + qdisc).trim().split(" ");
    }

    /**
     * @return the packets the root qdisc of the link dropped, from {@code tc -s qdisc show}.
     */
    private static long droppedPackets(final String ns, final String link) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder("ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", link)
            .redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor(10, TimeUnit.SECONDS);
        final Matcher m = Pattern.compile("dropped (\\d+)").matcher(output);
        assertTrue(m.find(), "no drop count in: " + output);
        return Long.parseLong(m.group(1));
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
}
