package io.cairn.manager;

import io.aeron.driver.MediaDriver;
import io.cairn.sbe.manager.ManagerStatus;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real 3-member manager cluster, one JVM per member: leader SIGKILL and failover through one client, restart of
 * killed members on their directories right after the kill, then a full SIGTERM stop and restart with the state
 * recovered from the log.
 */
class ManagerClusterTest
{
    private static final int BASE_PORT = 21100;
    private static final int MEMBERS = 3;

    private ManagerClusterHarness harness;
    private MediaDriver clientDriver;
    private ManagerClient client;
    private ManagerClient admin;

    @BeforeEach
    void setUp()
    {
        harness = new ManagerClusterHarness("manager-cluster-test", BASE_PORT, MEMBERS);
        clientDriver = ClientDriver.launch("manager-cluster-test-client");
    }

    @AfterEach
    void tearDown()
    {
        CloseHelper.closeAll(client, admin, harness, clientDriver);
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void survivesLeaderKillMemberRestartAndFullRestart()
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.start(i);
        }
        client = connect();

        for (int nodeId = 1; nodeId <= 4; nodeId++)
        {
            assertEquals(nodeId, client.registerNode(nodeId, "127.0.0.1:" + (30000 + nodeId), 2, 1L << 40));
        }
        final StreamInfo s1 = client.createStream("s1");
        assertEquals(1, s1.extents().size());
        assertEquals(3, s1.nodeEndpoints().size());
        StreamInfo s1Now = client.allocateExtent(s1.streamId(), s1.tail().extentId(), 1000);
        assertEquals(1000, s1Now.extents().get(0).sealedLength());
        final ManagerException stale = assertThrows(ManagerException.class,
            () -> client.allocateExtent(s1.streamId(), s1.tail().extentId(), 5));
        assertEquals(ManagerStatus.STALE_TAIL, stale.status());

        // Kill the leader; the same client carries on against the new leader.
        final int firstLeader = client.leaderMemberId();
        assertTrue(firstLeader >= 0 && firstLeader < MEMBERS, "leader " + firstLeader);
        harness.kill(firstLeader);
        final long killedAtNs = System.nanoTime();
        s1Now = client.allocateExtent(s1Now.streamId(), s1Now.tail().extentId(), 2000);
        final long failoverMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAtNs);
        System.out.println("first command after leader kill answered after " + failoverMs + " ms"); // informational
        assertEquals(3, s1Now.extents().size());
        final int secondLeader = client.leaderMemberId();
        assertNotEquals(firstLeader, secondLeader);
        final StreamInfo s2 = client.createStream("s2");

        // Restart the killed member at once on its directories (stale mark files), then kill the new leader: the
        // cluster keeps a quorum only if the restarted member caught up and takes part.
        harness.start(firstLeader);
        harness.kill(secondLeader);
        final StreamInfo s2Now = client.allocateExtent(s2.streamId(), s2.tail().extentId(), 77);
        assertEquals(77, s2Now.extents().get(0).sealedLength());
        assertNotEquals(secondLeader, client.leaderMemberId());
        harness.start(secondLeader);
        StreamInfo s3 = client.createStream("s3");

        // A snapshot on every member, then one more command: the full restart below loads the snapshot and replays
        // the log after it.
        client.requestSnapshot();
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.awaitSnapshot(i);
        }
        s3 = client.allocateExtent(s3.streamId(), s3.tail().extentId(), 3);

        final List<StreamInfo> before = new ArrayList<>();
        for (final StreamInfo s : List.of(s1Now, s2Now, s3))
        {
            before.add(client.streamInfo(s.streamId()));
        }
        assertEquals(s1Now, before.get(0));
        final ClusterStatus statusBefore = client.clusterStatus();
        assertEquals(3, statusBefore.streamCount());
        assertEquals(3 + 2 + 2, statusBefore.extentCount());
        assertEquals(4, statusBefore.nodes().size());
        assertEquals(client.leaderMemberId(), statusBefore.memberId());

        // Full stop with SIGTERM, then restart of all three: state comes back from the recorded log.
        client.close();
        client = null;
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.stop(i);
            assertFalse(harness.isAlive(i));
        }
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.start(i);
        }
        client = connect();
        for (int i = 0; i < MEMBERS; i++)
        {
            assertTrue(harness.logs(i).contains("loaded snapshot: 4 nodes, 3 streams, 6 extents"), harness.logs(i));
        }
        for (final StreamInfo expected : before)
        {
            assertEquals(expected, client.streamInfo(expected.streamId()));
        }
        final ClusterStatus statusAfter = client.clusterStatus();
        assertEquals(statusBefore.streamCount(), statusAfter.streamCount());
        assertEquals(statusBefore.extentCount(), statusAfter.extentCount());
        assertEquals(statusBefore.nodes(), statusAfter.nodes());

        final ManagerException duplicate = assertThrows(ManagerException.class, () -> client.createStream("s1"));
        assertEquals(ManagerStatus.DUPLICATE_NAME, duplicate.status());
        assertFalse(harness.allErrors().contains("invariant violated"), harness.allErrors());
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void malformedCommandsOverTheWireAreAnsweredBadRequestAndChangeNothing()
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.start(i);
        }
        client = connect();
        for (int nodeId = 1; nodeId <= 3; nodeId++)
        {
            client.registerNode(nodeId, "127.0.0.1:" + (30000 + nodeId), 1, 1L << 40);
        }
        final ClusterStatus before = client.clusterStatus();

        final List<ManagerStatus> answers = new ArrayList<>();
        final io.cairn.sbe.manager.MessageHeaderDecoder header = new io.cairn.sbe.manager.MessageHeaderDecoder();
        final io.cairn.sbe.manager.ManagerErrorResponseDecoder error = new io.cairn.sbe.manager.ManagerErrorResponseDecoder();
        final io.aeron.cluster.client.EgressListener listener =
            (clusterSessionId, timestamp, buffer, offset, length, h) ->
            {
                header.wrap(buffer, offset);
                assertEquals(io.cairn.sbe.manager.ManagerErrorResponseDecoder.TEMPLATE_ID, header.templateId());
                error.wrapAndApplyHeader(buffer, offset, header);
                answers.add(error.status());
            };
        final org.agrona.concurrent.UnsafeBuffer junk = new org.agrona.concurrent.UnsafeBuffer(new byte[256]);
        final java.util.Random random = new java.util.Random(0xBADL);
        try (io.aeron.cluster.client.AeronCluster raw = io.aeron.cluster.client.AeronCluster.connect(
            new io.aeron.cluster.client.AeronCluster.Context()
                .aeronDirectoryName(clientDriver.aeronDirectoryName())
                .ingressChannel("aeron:udp")
                .ingressEndpoints(harness.managers())
                .egressChannel("aeron:udp?endpoint=127.0.0.1:0")
                .egressListener(listener)
                .credentialsSupplier(new io.aeron.security.CredentialsSupplier()
                {
                    public byte[] encodedCredentials()
                    {
                        return ManagerAuthenticator.CLIENT_CREDENTIALS_DEFAULT.getBytes(
                            java.nio.charset.StandardCharsets.UTF_8);
                    }

                    public byte[] onChallenge(final byte[] challenge)
                    {
                        return new byte[0];
                    }
                })))
        {
            // Shorter than a header; random bytes; a valid header of another schema; a CreateStream whose
            // name length points far past the end of the message.
            final int[] lengths = { 3, 64, 8, 24 };
            for (int i = 0; i < lengths.length; i++)
            {
                random.nextBytes(junk.byteArray());
                if (2 == i)
                {
                    new io.cairn.sbe.manager.MessageHeaderEncoder().wrap(junk, 0).blockLength(8).templateId(3)
                        .schemaId(999).version(1);
                }
                else if (3 == i)
                {
                    new io.cairn.sbe.manager.CreateStreamRequestEncoder()
                        .wrapAndApplyHeader(junk, 0, new io.cairn.sbe.manager.MessageHeaderEncoder())
                        .correlationId(1);
                    junk.putInt(16, 100_000); // name length, far beyond the 24 bytes sent
                }
                final int length = lengths[i];
                final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (raw.offer(junk, 0, length) < 0)
                {
                    assertTrue(System.nanoTime() < deadlineNs, "offer of malformed command " + i);
                    raw.pollEgress();
                    Thread.yield();
                }
            }
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (answers.size() < lengths.length)
            {
                assertTrue(System.nanoTime() < deadlineNs, "answers so far: " + answers);
                if (0 == raw.pollEgress())
                {
                    Thread.yield();
                }
            }
        }
        assertEquals(List.of(ManagerStatus.BAD_REQUEST, ManagerStatus.BAD_REQUEST, ManagerStatus.BAD_REQUEST,
            ManagerStatus.BAD_REQUEST), answers);

        final ClusterStatus after = client.clusterStatus();
        assertEquals(before.streamCount(), after.streamCount());
        assertEquals(before.extentCount(), after.extentCount());
        assertEquals(before.nodes(), after.nodes());
        assertEquals(1, client.createStream("still-serving").extents().size());
        for (int i = 0; i < MEMBERS; i++)
        {
            assertTrue(harness.isAlive(i), "member " + i + " survived");
        }
        assertFalse(harness.allErrors().contains("invariant violated"), harness.allErrors());
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void kvLeasesAndWatchesAcrossLeaderKillAndAuthentication()
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.start(i);
        }
        client = connect(ManagerAuthenticator.CLIENT_CREDENTIALS_DEFAULT);

        // Unknown credentials cannot even open a session; a client may not ask for a snapshot.
        final ManagerException rejected = assertThrows(ManagerException.class, () -> ManagerClient.connect(
            new ManagerClient.Context().managers(harness.managers()).credentials("client:wrong")
                .aeronDirectoryName(clientDriver.aeronDirectoryName()).responseTimeoutNs(TimeUnit.SECONDS.toNanos(5))));
        assertTrue(rejected.getMessage().contains("cannot connect"), rejected.getMessage());
        final ManagerException notAdmin = assertThrows(ManagerException.class, () -> client.requestSnapshot());
        assertTrue(notAdmin.getMessage().contains("refused"), notAdmin.getMessage());
        // Partition table changes are refused inside the state machine for the client role; an admin session's
        // role comes from its principal in the log's session-open event, so it holds on a new leader too.
        final ManagerException partitionRefused = assertThrows(ManagerException.class,
            () -> client.createPartition("", "", 0, 0, 0));
        assertEquals(ManagerStatus.UNAUTHORISED, partitionRefused.status());
        admin = connect();
        final ManagerListing.PartitionChange whole = admin.createPartition("", "", 0, 0, 0);

        final List<Kv.WatchEvent> events = new ArrayList<>();
        client.watch("job/", true, 0, events::add);
        final long r1 = client.kvPut("job/a", "1".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0);
        final Kv.Lease lease = client.leaseGrant(1_500);
        final long r2 = client.kvPut("job/owner", "me".getBytes(java.nio.charset.StandardCharsets.UTF_8),
            lease.leaseId());
        assertTrue(r2 > r1, "revisions increase");
        final Kv.Result cas = client.txn(new Kv.Txn()
            .ifNumber("job/a", io.cairn.sbe.manager.CompareTarget.MOD_REVISION, io.cairn.sbe.manager.CompareResult.EQUAL,
                r1)
            .put(true, "job/a", "2".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0)
            .get(false, "job/a", false));
        assertTrue(cas.succeeded(), "CAS on the revision just written");
        assertFalse(client.txn(new Kv.Txn()
            .ifNumber("job/a", io.cairn.sbe.manager.CompareTarget.MOD_REVISION, io.cairn.sbe.manager.CompareResult.EQUAL,
                r1)
            .put(true, "job/a", "3".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0)).succeeded(),
            "second CAS on the old revision fails");

        // Kill the leader: the watch is re-created on the new leader from the next revision.
        final int leader = client.leaderMemberId();
        harness.kill(leader);
        client.kvPut("job/b", "x".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0);
        assertEquals("2", client.kvGet("job/a").valueString());
        final ManagerListing.PartitionChange split = admin.splitPartition(whole.partitionId(), whole.version(), "m", 0,
            0, 0);
        assertTrue(split.version() > whole.version());
        assertEquals(List.of("[,m)", "[m,)"), client.listPartitions().stream()
            .map((p) -> "[" + p.startKey() + "," + p.endKey() + ")").toList());

        // The lease is not kept alive: its key is deleted by the cluster timer (on the new leader).
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (client.kvGet("job/owner") != null)
        {
            assertTrue(System.nanoTime() < deadlineNs, "leased key outlived its lease");
            sleepMs(100);
        }
        final long pollUntilNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (events.size() < 5 && System.nanoTime() < pollUntilNs)
        {
            client.poll();
            sleepMs(10);
        }
        final List<String> seen = new ArrayList<>();
        long last = 0;
        for (final Kv.WatchEvent event : events)
        {
            assertTrue(event.revision() >= last, "watch events in revision order");
            last = event.revision();
            seen.add((event.delete() ? "DELETE " : "PUT ") + event.key());
        }
        assertEquals(List.of("PUT job/a", "PUT job/owner", "PUT job/a", "PUT job/b", "DELETE job/owner"), seen);
        harness.start(leader);
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

    private ManagerClient connect()
    {
        return connect(ManagerAuthenticator.ADMIN_CREDENTIALS_DEFAULT);
    }

    private ManagerClient connect(final String credentials)
    {
        return ManagerClient.connect(new ManagerClient.Context()
            .managers(harness.managers())
            .credentials(credentials)
            .aeronDirectoryName(clientDriver.aeronDirectoryName())
            .responseTimeoutNs(TimeUnit.SECONDS.toNanos(20)));
    }
}
