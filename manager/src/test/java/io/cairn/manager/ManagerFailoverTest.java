package io.cairn.manager;

import io.aeron.driver.MediaDriver;
import io.cairn.manager.lin.History;
import io.cairn.manager.lin.KvRegisterModel;
import io.cairn.manager.lin.KvRegisterModel.Input;
import io.cairn.manager.lin.LinearizabilityChecker;
import io.cairn.manager.lin.Operation;
import io.cairn.sbe.manager.CompareResult;
import io.cairn.sbe.manager.CompareTarget;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several concurrent clients (each its own {@link ManagerClient} on its own thread, one shared media driver) against
 * a real 3-member cluster while its leader is killed with SIGKILL: the KV history must be linearizable (checked by
 * {@link LinearizabilityChecker}), and every acknowledged command must be applied exactly once.
 */
class ManagerFailoverTest
{
    private static final int BASE_PORT = 21700;
    private static final int MEMBERS = 3;
    private static final int CLIENTS = 4;
    private static final long CLIENT_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(6);
    private static final long THINK_TIME_MS = 15;
    private static final int MAX_OPS_PER_CLIENT = 250;
    /** Each client puts at most half this many keys: fewer than one range page ({@link ManagerStateMachine#MAX_RANGE_RESULTS}). */
    private static final int MAX_LOAD_OPS_PER_CLIENT = 1_500;
    private static final int PIPELINE_DEPTH = 16;
    /** Fewer than one range page of keys per client. */
    private static final int MAX_ASYNC_PUTS_PER_CLIENT = 900;

    private ManagerClusterHarness harness;
    private MediaDriver clientDriver;
    private ManagerClient control;
    private final ConcurrentLinkedQueue<Throwable> clientErrors = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean leaderKilled;
    private final java.util.concurrent.atomic.AtomicInteger ackedAfterKill = new java.util.concurrent.atomic.AtomicInteger();

    @BeforeEach
    void setUp()
    {
        harness = new ManagerClusterHarness("manager-failover-test", BASE_PORT, MEMBERS);
        clientDriver = ClientDriver.launch("manager-failover-test-client");
        for (int i = 0; i < MEMBERS; i++)
        {
            harness.start(i);
        }
        control = connect();
    }

    @AfterEach
    void tearDown() throws InterruptedException
    {
        stop.set(true);
        for (final Thread thread : threads)
        {
            thread.join(TimeUnit.NANOSECONDS.toMillis(CLIENT_TIMEOUT_NS) * 2);
        }
        CloseHelper.closeAll(control, harness, clientDriver);
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void concurrentKvHistoryAcrossLeaderKillAndRestartIsLinearizable()
    {
        final String[] keys = { "lin/a", "lin/b", "lin/c" };
        final History<Input, Object> history = new History<>();
        for (int c = 0; c < CLIENTS; c++)
        {
            final int clientId = c;
            startClient(clientId, (client) -> kvWorkload(client, clientId, keys, history));
        }

        pausePolling(1_500);
        final int leader = control.leaderMemberId();
        assertTrue(leader >= 0, "a leader");
        harness.kill(leader);
        final long killedAtNs = System.nanoTime();
        pausePolling(3_000);
        harness.start(leader);
        pausePolling(1_500);
        stopClients();
        assertNotEquals(leader, control.leaderMemberId());

        final List<Operation<Input, Object>> ops = history.operations();
        long ambiguous = 0;
        long answeredAfterKill = 0;
        long answeredBeforeKill = 0;
        for (final Operation<Input, Object> op : ops)
        {
            ambiguous += op.isAmbiguous() ? 1 : 0;
            answeredAfterKill += !op.isAmbiguous() && op.invokeNs() > killedAtNs ? 1 : 0;
            answeredBeforeKill += !op.isAmbiguous() && op.completeNs() < killedAtNs ? 1 : 0;
        }
        assertTrue(answeredBeforeKill >= 20 && answeredAfterKill >= 20,
            "work before (" + answeredBeforeKill + ") and after (" + answeredAfterKill + ") the kill");
        final long checkStartNs = System.nanoTime();
        final LinearizabilityChecker.Result result =
            LinearizabilityChecker.check(new KvRegisterModel(), ops, TimeUnit.SECONDS.toNanos(20));
        System.out.println("history of " + ops.size() + " operations (" + ambiguous + " ambiguous) checked in " +
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - checkStartNs) + " ms: " + result.verdict());
        assertEquals(LinearizabilityChecker.Verdict.LINEARIZABLE, result.verdict(),
            "key " + result.partition() + ":\n" + result.detail());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void everyAcknowledgedCommandIsAppliedExactlyOnceAcrossLeaderKill()
    {
        for (int nodeId = 1; nodeId <= 3; nodeId++)
        {
            control.registerNode(nodeId, "127.0.0.1:" + (31000 + nodeId), 1, 1L << 40);
        }
        final Set<String> ackedStreams = concurrentSet();
        final Set<String> invokedStreams = concurrentSet();
        final Map<String, String> ackedKeys = new java.util.concurrent.ConcurrentHashMap<>();
        final Set<String> invokedKeys = concurrentSet();
        // Clients 0 and 1 issue synchronous CreateStream / put in turn; clients 2 and 3 pipeline asynchronous puts.
        for (int c = 0; c < CLIENTS; c++)
        {
            final int clientId = c;
            if (c >= CLIENTS / 2)
            {
                startClient(clientId, (client) -> asyncPuts(client, clientId, invokedKeys, ackedKeys));
                continue;
            }
            startClient(clientId, (client) ->
            {
                for (int n = 0; n < MAX_LOAD_OPS_PER_CLIENT && !stop.get(); n++)
                {
                    final String name = "load-" + clientId + "-" + n;
                    try
                    {
                        if ((n & 1) == 0)
                        {
                            invokedStreams.add(name);
                            client.createStream(name);
                            ackedStreams.add(name);
                            ackedAfterKill.addAndGet(leaderKilled ? 1 : 0);
                        }
                        else
                        {
                            final String key = "load/" + name;
                            invokedKeys.add(key);
                            client.kvPut(key, ("v-" + name).getBytes(StandardCharsets.UTF_8), 0);
                            ackedKeys.put(key, "v-" + name);
                            ackedAfterKill.addAndGet(leaderKilled ? 1 : 0);
                        }
                    }
                    catch (final ManagerException ex)
                    {
                        if (ex.status() != null)
                        {
                            throw ex; // a refusal, e.g. DUPLICATE_NAME: applied twice
                        }
                        // timed out: may or may not be applied
                    }
                    sleepMs(THINK_TIME_MS / 3);
                }
            });
        }
        pausePolling(1_500);
        final int leader = control.leaderMemberId();
        harness.kill(leader);
        leaderKilled = true;
        pausePolling(3_500);
        stopClients();
        assertNotEquals(leader, control.leaderMemberId());

        final Map<String, Integer> streamNames = new HashMap<>();
        for (final ManagerListing.Stream s : control.listStreams())
        {
            streamNames.merge(s.name(), 1, Integer::sum);
        }
        for (final Map.Entry<String, Integer> e : streamNames.entrySet())
        {
            assertEquals(1, e.getValue(), "stream " + e.getKey() + " appears once");
            assertTrue(invokedStreams.contains(e.getKey()), "stream " + e.getKey() + " was asked for");
        }
        assertTrue(streamNames.keySet().containsAll(ackedStreams), "every acknowledged stream exists");
        assertEquals(streamNames.size(), control.listExtents().size(), "one extent per stream, none twice");

        final Set<String> present = new HashSet<>();
        for (int c = 0; c < CLIENTS * 10; c++)
        {
            // by client and first digit of n: each prefix fits one page
            final Kv.Result range = control.kvRange("load/load-" + c / 10 + "-" + c % 10, true, 0);
            assertTrue(!range.more(), "all keys of prefix " + c + " in one page");
            for (final Kv.KeyValue kv : range.kvs())
            {
                assertTrue(invokedKeys.contains(kv.key()), kv.key() + " was put");
                assertEquals(1, kv.version(), kv.key() + " put exactly once");
                assertEquals(kv.createRevision(), kv.modRevision(), kv.key());
                assertEquals("v-" + kv.key().substring("load/".length()), kv.valueString(), kv.key());
                present.add(kv.key());
            }
        }
        for (final Map.Entry<String, String> acked : ackedKeys.entrySet())
        {
            assertTrue(present.contains(acked.getKey()), "acknowledged " + acked.getKey() + " is present");
        }
        final int acked = ackedStreams.size() + ackedKeys.size();
 System.out.println(acked + " commands acknowledged (" + ackedAfterKill.get() + " after the kill), " +
            (invokedStreams.size() + invokedKeys.size() - acked) + " not; " + streamNames.size() + " streams and " + present.size() + " keys present");
        assertTrue(acked >= 100 && ackedAfterKill.get() >= 50, "load before and after the kill: " + acked + ", " +
            ackedAfterKill.get() + " after");
    }

    /** Keeps up to {@value #PIPELINE_DEPTH} puts in flight; each completes from poll() on this thread. */
    private void asyncPuts(
        final ManagerClient client, final int clientId, final Set<String> invokedKeys, final Map<String, String> ackedKeys)
    {
        int n = 0;
        while ((!stop.get() || client.outstandingRequests() > 0) && n < MAX_ASYNC_PUTS_PER_CLIENT)
        {
            if (!stop.get() && client.outstandingRequests() < PIPELINE_DEPTH)
            {
                final String key = "load/load-" + clientId + "-" + n++;
                final String value = "v-" + key.substring("load/".length());
                invokedKeys.add(key);
                client.kvPutAsync(key, value.getBytes(StandardCharsets.UTF_8), 0).whenComplete((revision, failure) ->
                {
                    if (failure == null)
                    {
                        ackedKeys.put(key, value);
                        ackedAfterKill.addAndGet(leaderKilled ? 1 : 0);
                    }
                    else if (!(failure instanceof ManagerException ex) || ex.status() != null)
                    {
                        clientErrors.add(failure); // a refusal: nothing should be refused
                    }
                });
                sleepMs(1); // spread the load over the kill
                continue;
            }
            if (client.poll() == 0)
            {
                sleepMs(1);
            }
        }
    }

    private static <T> Set<T> concurrentSet()
    {
        return java.util.concurrent.ConcurrentHashMap.newKeySet();
    }

    private void kvWorkload(
        final ManagerClient client, final int clientId, final String[] keys, final History<Input, Object> history)
    {
        final Random random = new Random(clientId * 7919L + 17);
        final Map<String, String> lastSeen = new HashMap<>();
        for (int n = 0; n < MAX_OPS_PER_CLIENT && !stop.get(); n++)
        {
            final String key = keys[random.nextInt(keys.length)];
            final int choice = random.nextInt(10);
            final Input input = choice < 4 ? Input.get(key) :
                choice < 7 ? Input.put(key, "c" + clientId + "-" + n) :
                Input.cas(key, lastSeen.get(key), "c" + clientId + "-" + n);
            final History<Input, Object>.Pending pending = history.invoke(clientId, input);
            final Object output;
            try
            {
                output = apply(client, input);
            }
            catch (final ManagerException ex)
            {
                if (ex.status() != null)
                {
                    throw ex;
                }
                pending.ambiguous();
                continue;
            }
            pending.ok(output);
            if (input.kind() == KvRegisterModel.Kind.GET)
            {
                lastSeen.put(key, KvRegisterModel.ABSENT.equals(output) ? null : (String)output);
            }
            else if (input.kind() == KvRegisterModel.Kind.PUT || Boolean.TRUE.equals(output))
            {
                lastSeen.put(key, input.value());
            }
            sleepMs(THINK_TIME_MS);
        }
    }

    private static Object apply(final ManagerClient client, final Input input)
    {
        return switch (input.kind())
        {
            case GET ->
            {
                final Kv.KeyValue kv = client.kvGet(input.key());
                yield kv == null ? KvRegisterModel.ABSENT : kv.valueString();
            }
            case PUT ->
            {
                client.kvPut(input.key(), input.value().getBytes(StandardCharsets.UTF_8), 0);
                yield Boolean.TRUE;
            }
            case CAS ->
            {
                final Kv.Txn txn = new Kv.Txn();
                if (input.expected() == null)
                {
                    txn.ifNumber(input.key(), CompareTarget.VERSION, CompareResult.EQUAL, 0);
                }
                else
                {
                    txn.ifValue(input.key(), CompareResult.EQUAL, input.expected().getBytes(StandardCharsets.UTF_8));
                }
                txn.put(true, input.key(), input.value().getBytes(StandardCharsets.UTF_8), 0);
                yield client.txn(txn).succeeded();
            }
        };
    }

    private void startClient(final int clientId, final java.util.function.Consumer<ManagerClient> workload)
    {
        final Thread thread = new Thread(() ->
        {
            try (ManagerClient client = connect())
            {
                workload.accept(client);
            }
            catch (final Throwable t)
            {
                clientErrors.add(t);
            }
        }, "client-" + clientId);
        threads.add(thread);
        thread.start();
    }

    private void stopClients()
    {
        stop.set(true);
        for (final Thread thread : threads)
        {
            try
            {
                thread.join(TimeUnit.NANOSECONDS.toMillis(CLIENT_TIMEOUT_NS) * 2);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
            }
            assertTrue(!thread.isAlive(), thread.getName() + " stopped");
        }
        if (!clientErrors.isEmpty())
        {
            final AssertionError error = new AssertionError("client thread failed: " + clientErrors.peek());
            clientErrors.forEach(error::addSuppressed);
            throw error;
        }
    }

    /** Sleeps while keeping the control client's session alive. */
    private void pausePolling(final long ms)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (System.nanoTime() - deadlineNs < 0)
        {
            control.poll();
            sleepMs(20);
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

    private ManagerClient connect()
    {
        return ManagerClient.connect(new ManagerClient.Context()
            .managers(harness.managers())
            .aeronDirectoryName(clientDriver.aeronDirectoryName())
            .responseTimeoutNs(CLIENT_TIMEOUT_NS));
    }
}
