package io.cairn.replication;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Deterministic simulation of the replication protocol (TigerBeetle VOPR style): four extent nodes
 * ({@link ReplicationConductor} over {@link MemoryReplicaStore}), a seeded {@link FaultyNetwork} that loses,
 * reorders and duplicates messages and partitions pairs of parties, slow disks (held completions), node crashes
 * (unsynced writes lost) and restarts, a simulated clock, a minimal in-memory manager, and writers that run the
 * client protocol of {@code CairnClient}: open, append with a request id, and on failure fence the reachable
 * replicas, seal them at the smallest durable length, and have the manager seal and allocate a new tail.
 * <p>
 * A safety phase (faults on) is followed by a liveness phase (faults healed) that must make progress. Then the
 * checker asserts: every acknowledged append is readable at its offset with its content from every replica that
 * holds its extent sealed; the sealed length is at least every acknowledged end; no two replicas hold different
 * bytes at the same committed offset; no request id appears twice in the stream. A failing seed is printed and
 * {@code -Dcairn.sim.seed=N} replays it.
 */
class ReplicationSimulationTest
{
    static final int NODES = 4;
    static final long STEP_NS = TimeUnit.MICROSECONDS.toNanos(500);
    static final long NODE_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(100);
    static final long REQUEST_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(60);
    static final long EXTENT_SIZE_BYTES = 128 * 1024;
    static final int SEEDS = Integer.getInteger("cairn.sim.seeds", 60);

    /** Totals over the seeds of one test, so that a run that exercised nothing fails instead of passing. */
    static final class Totals
    {
        long acked;
        long ackedInSafetyPhase;
        long extents;
        long crashes;
        long lost;
        long duplicated;
        final long[] counters = new long[ReplicationCounters.Counter.values().length];

        void add(final Simulation sim)
        {
            acked += sim.acked.size();
            ackedInSafetyPhase += sim.ackedInSafetyPhase;
            extents += sim.manager.extents.size();
            crashes += sim.crashes;
            lost += sim.net.lost;
            duplicated += sim.net.duplicated;
            for (final ReplicationCounters.Counter c : ReplicationCounters.Counter.values())
            {
                counters[c.ordinal()] += sim.counterTotal(c);
            }
        }

        long counter(final ReplicationCounters.Counter c)
        {
            return counters[c.ordinal()];
        }

        @Override
        public String toString()
        {
            return "acked=" + acked + " (safety phase " + ackedInSafetyPhase + ") extents=" + extents + " crashes=" +
                crashes + " lost=" + lost + " duplicated=" + duplicated + " fencedRefusals=" +
                counter(ReplicationCounters.Counter.FENCED_REFUSALS) + " deduplicated=" +
                counter(ReplicationCounters.Counter.APPENDS_DEDUPLICATED) + " seals=" +
                counter(ReplicationCounters.Counter.SEALS);
        }
    }

    @Test
    void safetyAndLivenessOverManySeeds()
    {
        final Long only = Long.getLong("cairn.sim.seed");
        final Totals totals = new Totals();
        if (null != only)
        {
            runSeed(only, Boolean.getBoolean("cairn.sim.takeOvers"), totals);
            return;
        }
        for (long seed = 1; seed <= SEEDS; seed++)
        {
            runSeed(seed, false, totals);
        }
        System.out.println("replication simulation, " + SEEDS + " seeds: " + totals);
        assertTrue(totals.ackedInSafetyPhase > SEEDS * 20L, "too little progress under faults: " + totals);
        assertTrue(totals.crashes > 0 && totals.lost > 0 && totals.duplicated > 0, "faults not exercised: " + totals);
        assertTrue(totals.counter(ReplicationCounters.Counter.SEALS) > SEEDS, "seals not exercised: " + totals);
        assertTrue(totals.counter(ReplicationCounters.Counter.APPENDS_DEDUPLICATED) > 0,
            "retried appends never deduplicated: " + totals);
    }

    @Test
    void ownershipChangesUnderFaultsOverManySeeds()
    {
        final Totals totals = new Totals();
        for (long seed = 1001; seed <= 1000 + SEEDS / 2; seed++)
        {
            runSeed(seed, true, totals);
        }
        System.out.println("replication simulation with owner changes, " + SEEDS / 2 + " seeds: " + totals);
        assertTrue(totals.counter(ReplicationCounters.Counter.FENCED_REFUSALS) > 0,
            "no older owner was ever refused: " + totals);
    }

    private static void runSeed(final long seed, final boolean takeOvers, final Totals totals)
    {
        final Simulation sim = new Simulation(seed);
        try
        {
            sim.run(takeOvers);
            sim.check();
            totals.add(sim);
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("simulation failed with seed " + seed + " (replay: -Dcairn.sim.seed=" + seed +
                ", takeOvers=" + takeOvers + "): " + ex.getMessage() + "\n" + sim.trace(), ex);
        }
    }

    /** The in-memory manager: streams of extents, owner revisions, seal and allocate. */
    static final class SimManager
    {
        record Extent(long extentId, int[] replicas, long[] sealedLength)
        {
        }

        final List<Extent> extents = new ArrayList<>();
        final Random random;
        long ownerRevision;
        long revision;
        long nextExtentId = 100;

        SimManager(final Random random)
        {
            this.random = random;
            extents.add(newExtent());
        }

        Extent tail()
        {
            return extents.get(extents.size() - 1);
        }

        long openStream()
        {
            ownerRevision = ++revision;
            return ownerRevision;
        }

        /** @return null when the caller is not the owner or the tail moved on. */
        Extent allocate(final long tailExtentId, final long sealLength, final long callerRevision)
        {
            if (callerRevision != ownerRevision || tail().extentId != tailExtentId)
            {
                return null;
            }
            tail().sealedLength[0] = sealLength;
            revision++;
            final Extent extent = newExtent();
            extents.add(extent);
            return extent;
        }

        private Extent newExtent()
        {
            final List<Integer> ids = new ArrayList<>();
            for (int i = 1; i <= NODES; i++)
            {
                ids.add(i);
            }
            java.util.Collections.shuffle(ids, random);
            return new Extent(nextExtentId++, new int[]{ ids.get(0), ids.get(1), ids.get(2) }, new long[]{ -1 });
        }
    }

    /** One acknowledged append, as the writer was told. */
    record Acked(long requestId, long extentId, long blockOffset, long nextOffset, byte[] payload)
    {
    }

    static final class Simulation
    {
        final long seed;
        final Random random;
        final FaultyNetwork net;
        final SimManager manager;
        final MemoryReplicaStore[] stores = new MemoryReplicaStore[NODES + 1];
        final ReplicationConductor[] nodes = new ReplicationConductor[NODES + 1];
        final boolean[] down = new boolean[NODES + 1];
        final long[] holdUntilNs = new long[NODES + 1];
        final List<Writer> writers = new ArrayList<>();
        final List<Acked> acked = new ArrayList<>();
        final List<String> events = new ArrayList<>();
        long nowNs = 1_000_000_000L;
        long restarts;
        long crashes;
        long ackedInSafetyPhase;
        final long[] retiredCounters = new long[ReplicationCounters.Counter.values().length];

        Simulation(final long seed)
        {
            this.seed = seed;
            random = new Random(seed);
            net = new FaultyNetwork(new Random(seed * 31 + 7));
            manager = new SimManager(new Random(seed * 17 + 3));
            for (int id = 1; id <= NODES; id++)
            {
                stores[id] = new MemoryReplicaStore(EXTENT_SIZE_BYTES, 4096);
                startNode(id);
            }
        }

        static String endpoint(final int id)
        {
            return "n" + id + ":" + id;
        }

        void startNode(final int id)
        {
            final String name = "node" + id;
            final ReplicationConductor node = new ReplicationConductor(new ReplicationConductor.Context()
                .nodeId(id).endpoint(endpoint(id)).store(stores[id]).transport(net.transportFor(name))
                .replicateTimeoutNs(NODE_TIMEOUT_NS).openTimeoutNs(NODE_TIMEOUT_NS).maxInFlightAppends(8)
                .connectRetryIntervalNs(TimeUnit.MILLISECONDS.toNanos(5))
                .clientId(((long)id << 32) + (++restarts)));
            final NodeRequestAdapter requests = new NodeRequestAdapter(node);
            final PeerResponseAdapter peerResponses = new PeerResponseAdapter(node);
            net.register(name, NodeProtocol.channel(endpoint(id)), NodeProtocol.REQUEST_STREAM_ID,
                b -> requests.onMessage(b, 0, b.capacity()));
            net.register(name, NodeProtocol.channel(endpoint(id)), NodeProtocol.RESPONSE_STREAM_ID,
                b -> peerResponses.onMessage(b, 0, b.capacity()));
            nodes[id] = node;
            down[id] = false;
        }

        void crashNode(final int id)
        {
            net.unregister(NodeProtocol.channel(endpoint(id)), NodeProtocol.REQUEST_STREAM_ID);
            net.unregister(NodeProtocol.channel(endpoint(id)), NodeProtocol.RESPONSE_STREAM_ID);
            for (final ReplicationCounters.Counter c : ReplicationCounters.Counter.values())
            {
                retiredCounters[c.ordinal()] += nodes[id].counters().get(c);
            }
            nodes[id].close();
            nodes[id] = null;
            crashes++;
            stores[id].crash();
            down[id] = true;
            holdUntilNs[id] = 0;
            events.add(nowNs + " crash node " + id);
        }

        void step()
        {
            nowNs += STEP_NS;
            for (int id = 1; id <= NODES; id++)
            {
                if (!down[id])
                {
                    stores[id].holdCompletions(nowNs < holdUntilNs[id]);
                    nodes[id].doWork(nowNs);
                }
            }
            for (final Writer writer : writers)
            {
                writer.tick();
            }
            net.deliver(nowNs);
        }

        void injectFaults()
        {
            final int roll = random.nextInt(4000);
            final int id = 1 + random.nextInt(NODES);
            if (roll < 3 && !down[id] && downCount() == 0)
            {
                crashNode(id);
            }
            else if (roll < 12 && down[id])
            {
                startNode(id);
                events.add(nowNs + " restart node " + id);
            }
            else if (roll < 20)
            {
                final String a = random.nextBoolean() ? "node" + id : "writer" + random.nextInt(writers.size());
                final String b = "node" + (1 + random.nextInt(NODES));
                final boolean on = random.nextInt(3) > 0;
                net.partition(a, b, on);
                net.partition(b, a, on && random.nextBoolean());
                events.add(nowNs + " partition " + a + " <-> " + b + " " + on);
            }
            else if (roll < 26 && !down[id])
            {
                holdUntilNs[id] = nowNs + TimeUnit.MILLISECONDS.toNanos(random.nextInt(150));
            }
            else if (roll < 28)
            {
                net.healAll();
                net.lossProbability = random.nextDouble() * 0.05;
                net.duplicateProbability = random.nextDouble() * 0.05;
            }
        }

        int downCount()
        {
            int n = 0;
            for (int id = 1; id <= NODES; id++)
            {
                n += down[id] ? 1 : 0;
            }
            return n;
        }

        void run(final boolean takeOvers)
        {
            net.maxLatencyNs = TimeUnit.MILLISECONDS.toNanos(3);
            net.lossProbability = 0.01;
            net.duplicateProbability = 0.02;
            writers.add(new Writer(this, 0));
            // Safety phase: faults on.
            for (int i = 0; i < 20_000; i++)
            {
                injectFaults();
                if (takeOvers && random.nextInt(5000) == 0)
                {
                    writers.add(new Writer(this, writers.size()));
                    events.add(nowNs + " writer " + (writers.size() - 1) + " takes over");
                }
                step();
            }
            ackedInSafetyPhase = acked.size();
            // Liveness phase: heal everything; the current owner must make progress.
            net.healAll();
            for (int id = 1; id <= NODES; id++)
            {
                if (down[id])
                {
                    startNode(id);
                }
                holdUntilNs[id] = 0;
            }
            final Writer owner = writers.get(writers.size() - 1);
            final long target = owner.ackedCount + 20;
            for (int i = 0; i < 40_000 && owner.ackedCount < target; i++)
            {
                step();
            }
            assertTrue(owner.ackedCount >= target, "liveness: owner acked " + owner.ackedCount + " of " + target +
                " after healing; phase " + owner.phase);
            // Seal the tail too, so every extent is checked as sealed.
            owner.stopAndSeal();
            for (int i = 0; i < 20_000 && owner.phase != Writer.Phase.DONE; i++)
            {
                step();
            }
            assertEquals(Writer.Phase.DONE, owner.phase, "final seal did not finish");
            for (int i = 0; i < 200; i++)
            {
                step();
            }
        }

        long counterTotal(final ReplicationCounters.Counter c)
        {
            long total = retiredCounters[c.ordinal()];
            for (int id = 1; id <= NODES; id++)
            {
                total += null == nodes[id] ? 0 : nodes[id].counters().get(c);
            }
            return total;
        }

        void check()
        {
            final Map<Long, SimManager.Extent> byId = new HashMap<>();
            for (final SimManager.Extent e : manager.extents)
            {
                byId.put(e.extentId, e);
            }
            for (final Acked a : acked)
            {
                final SimManager.Extent e = byId.get(a.extentId);
                final long sealed = e.sealedLength[0];
                assertTrue(sealed >= a.nextOffset, "extent " + a.extentId + " sealed at " + sealed +
                    " below acknowledged end " + a.nextOffset + " of request " + a.requestId);
                int sealedAtManagerLength = 0;
                for (final int id : e.replicas)
                {
                    // A replica sealed by an earlier owner that the next owner could not reach may hold another
                    // length; the manager's length is authoritative and recovery re-copies such a replica. Every
                    // sealed replica long enough must still hold every acknowledged block, byte for byte.
                    if (!stores[id].isSealed(a.extentId) || stores[id].commitLength(a.extentId) < a.nextOffset)
                    {
                        continue;
                    }
                    sealedAtManagerLength += stores[id].commitLength(a.extentId) == sealed ? 1 : 0;
                    final byte[] got = payloadAt(stores[id].image(a.extentId), a.blockOffset);
                    assertTrue(Arrays.equals(a.payload, got), "node " + id + " extent " + a.extentId + " offset " +
                        a.blockOffset + " does not hold acknowledged request " + a.requestId);
                }
                assertTrue(sealedAtManagerLength > 0, "no replica holds extent " + a.extentId + " sealed at the " +
                    "manager's length " + sealed);
            }
            for (final SimManager.Extent e : manager.extents)
            {
                checkReplicasAgree(e);
            }
            checkNoDuplicates();
        }

        private void checkReplicasAgree(final SimManager.Extent e)
        {
            for (int i = 0; i < 3; i++)
            {
                for (int j = i + 1; j < 3; j++)
                {
                    final MemoryReplicaStore a = stores[e.replicas[i]];
                    final MemoryReplicaStore b = stores[e.replicas[j]];
                    final long common = Math.min(a.commitLength(e.extentId), b.commitLength(e.extentId));
                    if (common <= 0)
                    {
                        continue;
                    }
                    final byte[] ia = Arrays.copyOf(a.image(e.extentId), (int)common);
                    final byte[] ib = Arrays.copyOf(b.image(e.extentId), (int)common);
                    assertTrue(Arrays.equals(ia, ib), "replicas " + e.replicas[i] + " and " + e.replicas[j] +
                        " of extent " + e.extentId + " differ below their common commit length " + common);
                }
            }
        }

        private void checkNoDuplicates()
        {
            final Set<Long> seen = new HashSet<>();
            for (final SimManager.Extent e : manager.extents)
            {
                final long sealed = e.sealedLength[0];
                MemoryReplicaStore holder = null;
                for (final int id : e.replicas)
                {
                    if (stores[id].isSealed(e.extentId) && stores[id].commitLength(e.extentId) == sealed)
                    {
                        holder = stores[id];
                    }
                }
                if (null == holder || sealed <= BlockFormat.EXTENT_HEADER_LENGTH_BYTES)
                {
                    continue;
                }
                final byte[] image = holder.image(e.extentId);
                long offset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
                while (offset < sealed)
                {
                    final byte[] payload = payloadAt(image, offset);
                    final long requestId = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
                    final long writer = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                    assertTrue(seen.add(writer * 1_000_000_007L + requestId), "request " + requestId +
                        " of writer " + writer + " appears twice in the stream (again in extent " + e.extentId +
                        " at " + offset + ")");
                    offset += BlockFormat.blockLengthBytes(payload.length);
                }
            }
        }

        static byte[] payloadAt(final byte[] image, final long blockOffset)
        {
            final ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
            final int length = b.getInt((int)blockOffset + 4);
            return Arrays.copyOfRange(image, (int)blockOffset + BlockFormat.BLOCK_HEADER_LENGTH_BYTES,
                (int)blockOffset + BlockFormat.BLOCK_HEADER_LENGTH_BYTES + length);
        }

        String trace()
        {
            final StringBuilder sb = new StringBuilder("last events:\n");
            for (int i = Math.max(0, events.size() - Integer.getInteger("cairn.sim.trace", 40)); i < events.size(); i++)
            {
                sb.append("  ").append(events.get(i)).append('\n');
            }
            for (int id = 1; id <= NODES; id++)
            {
                sb.append("  node ").append(id).append(down[id] ? " DOWN " : " ").append(
                    null == nodes[id] ? "" : nodes[id].counters().toString()).append('\n');
            }
            sb.append("  net lost=").append(net.lost).append(" duplicated=").append(net.duplicated).append('\n');
            for (final Writer w : writers)
            {
                sb.append("  writer ").append(w.index).append(" phase=").append(w.phase).append(" acked=")
                    .append(w.ackedCount).append(" revision=").append(w.revision).append(" tail=")
                    .append(w.tail.extentId()).append(Arrays.toString(w.tail.replicas())).append(" answers=")
                    .append(w.sealAnswers).append('\n');
            }
            return sb.toString();
        }
    }

    /**
     * A stream writer running the client protocol against the simulated nodes, one append in flight.
     */
    static final class Writer
    {
        enum Phase
        { OPEN, APPEND, FENCE, SEAL, IDLE_BACKOFF, FENCED_OUT, DONE }

        final Simulation sim;
        final int index;
        final TestClient client;
        final long revision;
        Phase phase = Phase.OPEN;
        SimManager.Extent tail;
        long ackedEnd = -1;
        long ackedCount;
        long nextRequestId = 1;
        byte[] pending;
        long pendingRequestId;
        boolean retriedSameRequest;
        boolean stopAfterSeal;
        long waitingCorrelationId = -1;
        long deadlineNs;
        final Map<Integer, Long> sealCorrelation = new HashMap<>();
        final Map<Integer, TestClient.Response> sealAnswers = new HashMap<>();
        long sealLength;

        Writer(final Simulation sim, final int index)
        {
            this.sim = sim;
            this.index = index;
            this.client = new TestClient(9_000_000L + index, "aeron:udp?endpoint=writer" + index + ":9");
            sim.net.register("writer" + index, client.responseChannel, NodeProtocol.RESPONSE_STREAM_ID,
                b -> client.onResponse(b, 0));
            revision = sim.manager.openStream();
            tail = sim.manager.tail();
            if (index > 0)
            {
                // A new owner takes the stream: it fences and seals the tail it finds, then writes to a new one.
                beginFence();
            }
        }

        private MessageSink sink(final int nodeId)
        {
            return sim.net.transportFor("writer" + index).open(
                NodeProtocol.channel(Simulation.endpoint(nodeId)), NodeProtocol.REQUEST_STREAM_ID);
        }

        private void send(final int nodeId, final byte[] message)
        {
            if (!sim.down[nodeId])
            {
                sink(nodeId).offer(new UnsafeBuffer(message), 0, message.length);
            }
        }

        private void connectAll()
        {
            // Connect is idempotent; re-sending it each phase covers restarted nodes and lost Connects.
            for (int id = 1; id <= NODES; id++)
            {
                send(id, client.connect());
            }
        }

        void stopAndSeal()
        {
            stopAfterSeal = true;
            if (phase != Phase.FENCED_OUT)
            {
                beginFence();
            }
        }

        void tick()
        {
            if (phase == Phase.DONE || phase == Phase.FENCED_OUT)
            {
                return;
            }
            switch (phase)
            {
                case OPEN -> tickOpen();
                case APPEND -> tickAppend();
                case FENCE, SEAL -> tickSeal();
                case IDLE_BACKOFF ->
                {
                    if (sim.nowNs - deadlineNs > 0)
                    {
                        beginFence();
                    }
                }
                default -> { }
            }
        }

        private void tickOpen()
        {
            if (waitingCorrelationId < 0)
            {
                connectAll();
                waitingCorrelationId = client.nextCorrelationId();
                send(tail.replicas()[0], client.openExtent(tail.extentId(), 1, tail.replicas(), endpoints(tail),
                    revision));
                deadlineNs = sim.nowNs + REQUEST_TIMEOUT_NS * 3;
                return;
            }
            final TestClient.Response r = client.find(waitingCorrelationId);
            if (null != r && "OK".equals(r.status()))
            {
                waitingCorrelationId = -1;
                ackedEnd = r.commitLength();
                phase = Phase.APPEND;
            }
            else if (null != r && "LOCKED_BY_OTHER".equals(r.status()))
            {
                phase = Phase.FENCED_OUT;
            }
            else if (null != r || sim.nowNs - deadlineNs > 0)
            {
                waitingCorrelationId = -1;
                beginFence();
            }
        }

        private void tickAppend()
        {
            if (waitingCorrelationId < 0)
            {
                if (null == pending)
                {
                    pendingRequestId = nextRequestId++;
                    pending = payload(pendingRequestId);
                    retriedSameRequest = false;
                }
                waitingCorrelationId = client.nextCorrelationId();
                send(tail.replicas()[0], client.append(tail.extentId(), NodeProtocol.NULL_OFFSET, pending, revision,
                    pendingRequestId));
                deadlineNs = sim.nowNs + REQUEST_TIMEOUT_NS;
                return;
            }
            final TestClient.Response r = client.find(waitingCorrelationId);
            if (null != r && "OK".equals(r.status()))
            {
                recordAck(tail.extentId(), r.blockOffset(), r.nextOffset());
                waitingCorrelationId = -1;
                return;
            }
            if (null != r && "BUSY".equals(r.status()))
            {
                waitingCorrelationId = -1;
                return;
            }
            if (null != r && "LOCKED_BY_OTHER".equals(r.status()))
            {
                phase = Phase.FENCED_OUT;
                return;
            }
            if (null == r && sim.nowNs - deadlineNs > 0 && !retriedSameRequest)
            {
                // Retry the same request id on the same primary once: it must not be written twice.
                retriedSameRequest = true;
                connectAll();
                waitingCorrelationId = -1;
                return;
            }
            if (null != r || sim.nowNs - deadlineNs > 0)
            {
                waitingCorrelationId = -1;
                beginFence();
            }
        }

        private void recordAck(final long extentId, final long blockOffset, final long nextOffset)
        {
            Verify.verify(ackedEnd < 0 || blockOffset >= ackedEnd, "ack below the acknowledged end", blockOffset);
            sim.acked.add(new Acked(pendingRequestId, extentId, blockOffset, nextOffset, pending));
            sim.events.add(sim.nowNs + " writer " + index + " acked request " + pendingRequestId + " at extent " +
                extentId + " [" + blockOffset + ", " + nextOffset + ")");
            ackedEnd = nextOffset;
            ackedCount++;
            pending = null;
        }

        private void beginFence()
        {
            connectAll();
            phase = Phase.FENCE;
            sealAnswers.clear();
            sealCorrelation.clear();
            for (final int id : tail.replicas())
            {
                sealCorrelation.put(id, client.nextCorrelationId());
                send(id, client.seal(tail.extentId(), revision, NodeProtocol.NULL_OFFSET));
            }
            deadlineNs = sim.nowNs + REQUEST_TIMEOUT_NS * 2;
        }

        private void tickSeal()
        {
            for (final Map.Entry<Integer, Long> e : sealCorrelation.entrySet())
            {
                final TestClient.Response r = client.find(e.getValue());
                if (null != r && !sealAnswers.containsKey(e.getKey()))
                {
                    sealAnswers.put(e.getKey(), r);
                }
            }
            if (sealAnswers.size() < sealCorrelation.size() && sim.nowNs - deadlineNs <= 0)
            {
                return;
            }
            if (phase == Phase.FENCE)
            {
                endFence();
            }
            else
            {
                endSeal();
            }
        }

        private void endFence()
        {
            long min = Long.MAX_VALUE;
            long alreadySealed = -1;
            final Set<Integer> reachable = new HashSet<>();
            for (final Map.Entry<Integer, TestClient.Response> e : sealAnswers.entrySet())
            {
                final TestClient.Response r = e.getValue();
                if ("OK".equals(r.status()) && client.sealedAnswers.contains(r.correlationId()))
                {
                    alreadySealed = r.commitLength();
                }
                if ("LOCKED_BY_OTHER".equals(r.status()))
                {
                    phase = Phase.FENCED_OUT;
                    return;
                }
                if ("OK".equals(r.status()))
                {
                    reachable.add(e.getKey());
                    min = Math.min(min, r.commitLength());
                }
                else if ("NO_SUCH_EXTENT".equals(r.status()))
                {
                    min = Math.min(min, BlockFormat.EXTENT_HEADER_LENGTH_BYTES);
                }
            }
            if (Long.MAX_VALUE == min)
            {
                phase = Phase.IDLE_BACKOFF;
                deadlineNs = sim.nowNs + REQUEST_TIMEOUT_NS;
                return;
            }
            sealLength = alreadySealed >= 0 ? alreadySealed : min;
            sim.events.add(sim.nowNs + " writer " + index + " fenced extent " + tail.extentId() + ": " + sealAnswers +
                " -> seal at " + sealLength);
            phase = Phase.SEAL;
            sealAnswers.clear();
            sealCorrelation.clear();
            for (final int id : reachable)
            {
                sealCorrelation.put(id, client.nextCorrelationId());
                send(id, client.seal(tail.extentId(), revision, sealLength));
            }
            deadlineNs = sim.nowNs + REQUEST_TIMEOUT_NS * 2;
        }

        private void endSeal()
        {
            boolean anySealed = false;
            for (final TestClient.Response r : sealAnswers.values())
            {
                if ("LOCKED_BY_OTHER".equals(r.status()))
                {
                    phase = Phase.FENCED_OUT;
                    return;
                }
                if ("OK".equals(r.status()))
                {
                    Verify.verify(r.commitLength() == sealLength, "replica sealed at another length", r.commitLength());
                    anySealed = true;
                }
            }
            if (!anySealed && sealLength == BlockFormat.EXTENT_HEADER_LENGTH_BYTES && sealCorrelation.isEmpty())
            {
                anySealed = true; // No replica has the extent (it was never opened): nothing to seal, none acked.
            }
            if (!anySealed)
            {
                phase = Phase.IDLE_BACKOFF; // fence again: the min may have to be recomputed
                deadlineNs = sim.nowNs + REQUEST_TIMEOUT_NS;
                return;
            }
            final long landedAt = null != pending && ackedEnd >= 0 && sealLength > ackedEnd ? landedCheck() : -1;
            final SimManager.Extent next = sim.manager.allocate(tail.extentId(), sealLength, revision);
            if (null == next)
            {
                phase = Phase.FENCED_OUT; // a newer owner sealed it: the landed block is not ours to acknowledge
                return;
            }
            if (landedAt >= 0)
            {
                // Only now: the seal at a length covering the block is recorded by the manager.
                recordAck(tail.extentId(), landedAt, landedAt + BlockFormat.blockLengthBytes(pending.length));
            }
            tail = next;
            ackedEnd = -1;
            phase = stopAfterSeal ? Phase.DONE : Phase.OPEN;
            waitingCorrelationId = -1;
        }

        /** @return where the pending append landed below the seal (its answer was lost), or -1. */
        private long landedCheck()
        {
            int holder = -1;
            for (final Map.Entry<Integer, TestClient.Response> e : sealAnswers.entrySet())
            {
                if ("OK".equals(e.getValue().status()))
                {
                    holder = e.getKey();
                }
            }
            final byte[] image = sim.stores[holder].image(tail.extentId());
            long offset = ackedEnd;
            while (offset < sealLength)
            {
                final byte[] stored = Simulation.payloadAt(image, offset);
                final long next = offset + BlockFormat.blockLengthBytes(stored.length);
                if (Arrays.equals(stored, pending))
                {
                    return offset;
                }
                offset = next;
            }
            return -1;
        }

        private byte[] payload(final long requestId)
        {
            final int length = 16 + sim.random.nextInt(3000);
            final byte[] bytes = new byte[length];
            sim.random.nextBytes(bytes);
            final ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0, index);
            b.putLong(8, requestId);
            return bytes;
        }

        private static String[] endpoints(final SimManager.Extent extent)
        {
            final String[] endpoints = new String[3];
            for (int i = 0; i < 3; i++)
            {
                endpoints[i] = Simulation.endpoint(extent.replicas()[i]);
            }
            return endpoints;
        }
    }

    @Test
    void checkerCatchesALostAcknowledgement()
    {
        // The checker must not pass vacuously: forge an acknowledgement beyond the sealed length.
        final Simulation sim = new Simulation(7);
        sim.run(false);
        sim.check();
        final Acked last = sim.acked.get(sim.acked.size() - 1);
        sim.acked.add(new Acked(999_999, last.extentId(), last.nextOffset(), last.nextOffset() + 4096, new byte[]{ 1 }));
        try
        {
            sim.check();
        }
        catch (final AssertionError expected)
        {
            assertTrue(expected.getMessage().contains("below acknowledged end"), expected.getMessage());
            return;
        }
        fail("the checker accepted an acknowledgement beyond the sealed length");
    }
}
