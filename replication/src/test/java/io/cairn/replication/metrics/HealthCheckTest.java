package io.cairn.replication.metrics;

import org.agrona.concurrent.status.AtomicCounter;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HealthCheckTest
{
    final CounterAllocator.HeapCounters heap = CounterAllocator.onHeap(64);
    final DutyCycleAgent duty = DutyCycleAgent.allocate(heap, "node=1");
    final AtomicCounter disk0 = heap.allocate(Metric.DISK_STATE.typeId(), "cairn node=1 disk=0 kind=disk_state dir=/d0");
    final AtomicCounter disk1 = heap.allocate(Metric.DISK_STATE.typeId(), "cairn node=1 disk=1 kind=disk_state dir=/d1");

    HealthCheck.Result evaluate(final boolean alive, final long heartbeatAgeMs, final boolean cycle)
    {
        final List<Series> before = MetricsReader.read(heap.manager());
        if (cycle)
        {
            duty.doWork();
        }
        final List<Series> after = MetricsReader.read(heap.manager());
        return HealthCheck.evaluate(42, alive, heartbeatAgeMs, 5_000, 100, before, after);
    }

    @Test
    void aLiveCyclingNodeWithGoodDisksIsHealthy()
    {
        disk1.set(1); // FULL is not a failure
        final HealthCheck.Result result = evaluate(true, 10, true);
        assertTrue(result.healthy(), result.toString());
        assertTrue(result.checked().contains("disk 1 (/d1) FULL"), result.toString());
    }

    @Test
    void aFailedDiskIsNamed()
    {
        disk0.set(Metric.DISK_STATE_FAILED);
        final HealthCheck.Result result = evaluate(true, 10, true);
        assertFalse(result.healthy());
        assertEquals(List.of("disk 0 (/d0) FAILED"), result.problems());
    }

    @Test
    void aGoneProcessIsUnhealthyWhateverItsFileSays()
    {
        final HealthCheck.Result result = evaluate(false, 10, true);
        assertFalse(result.healthy());
        assertTrue(result.problems().getFirst().contains("process 42 is not running"), result.toString());
    }

    @Test
    void aStalledAgentOrAStaleDriverIsUnhealthy()
    {
        final HealthCheck.Result stalled = evaluate(true, 10, false);
        assertFalse(stalled.healthy());
        assertTrue(stalled.problems().getFirst().contains("made no duty cycle in 100 ms"), stalled.toString());
        final HealthCheck.Result stale = evaluate(true, 6_000, true);
        assertFalse(stale.healthy());
        assertTrue(stale.problems().getFirst().contains("driver heartbeat 6000 ms old"), stale.toString());
    }

    @Test
    void aMemberWithoutLeaderIsUnhealthy()
    {
        heap.allocate(Metric.CLUSTER_CONSENSUS_STATE.typeId(), "Consensus Module state").set(1);
        final AtomicCounter role = heap.allocate(Metric.CLUSTER_ROLE.typeId(), "Cluster node role");
        final AtomicCounter election = heap.allocate(Metric.CLUSTER_ELECTION_STATE.typeId(), "Election state");
        role.set(Metric.ROLE_FOLLOWER);
        election.set(Metric.ELECTION_CLOSED);
        assertTrue(evaluate(true, 10, true).healthy());
        role.set(1);
        election.set(3);
        final HealthCheck.Result result = evaluate(true, 10, true);
        assertFalse(result.healthy());
        assertEquals(2, result.problems().size(), result.toString());
    }
}
