package io.cairn.manager.lin;

import io.cairn.manager.lin.KvRegisterModel.Input;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.cairn.manager.lin.LinearizabilityChecker.Verdict.LINEARIZABLE;
import static io.cairn.manager.lin.LinearizabilityChecker.Verdict.NOT_LINEARIZABLE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinearizabilityCheckerTest
{
    private static final KvRegisterModel MODEL = new KvRegisterModel();
    private static final String ABSENT = KvRegisterModel.ABSENT;
    private static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    private static Operation<Input, Object> op(
        final int client, final long invoke, final long complete, final Input input, final Object output)
    {
        return Operation.ok(client, invoke, complete, input, output);
    }

    private static Operation<Input, Object> lost(final int client, final long invoke, final Input input)
    {
        return Operation.ambiguous(client, invoke, input);
    }

    @SafeVarargs
    private static LinearizabilityChecker.Verdict verdict(final Operation<Input, Object>... ops)
    {
        return LinearizabilityChecker.check(MODEL, List.of(ops), TIMEOUT_NS).verdict();
    }

    @Test
    void sequentialReadOfTheLastWriteIsLinearizable()
    {
        assertEquals(LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "1"), true),
            op(1, 20, 30, Input.get("x"), "1")));
        assertEquals(LINEARIZABLE, verdict(op(0, 0, 10, Input.get("x"), ABSENT)));
    }

    @Test
    void staleReadAfterACompletedWriteIsNot()
    {
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "1"), true),
            op(1, 20, 30, Input.get("x"), ABSENT)));
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "1"), true),
            op(0, 11, 15, Input.put("x", "2"), true),
            op(1, 20, 30, Input.get("x"), "1")));
    }

    @Test
    void aReadConcurrentWithAWriteMaySeeEither()
    {
        assertEquals(LINEARIZABLE, verdict(
            op(0, 0, 100, Input.put("x", "1"), true),
            op(1, 10, 20, Input.get("x"), ABSENT),
            op(2, 30, 40, Input.get("x"), "1")));
        // ... but not go back: once a read saw the write, a later read cannot miss it.
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 100, Input.put("x", "1"), true),
            op(1, 10, 20, Input.get("x"), "1"),
            op(2, 30, 40, Input.get("x"), ABSENT)));
    }

    @Test
    void readsMustAgreeOnTheOrderOfConcurrentWrites()
    {
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 100, Input.put("x", "1"), true),
            op(1, 0, 100, Input.put("x", "2"), true),
            op(2, 110, 120, Input.get("x"), "1"),
            op(2, 130, 140, Input.get("x"), "2")));
        assertEquals(LINEARIZABLE, verdict(
            op(0, 0, 100, Input.put("x", "1"), true),
            op(1, 0, 100, Input.put("x", "2"), true),
            op(2, 50, 60, Input.get("x"), "1"),
            op(2, 130, 140, Input.get("x"), "2")));
    }

    @Test
    void twoCompareAndSetsFromTheSameValueCannotBothSucceed()
    {
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "a"), true),
            op(1, 20, 50, Input.cas("x", "a", "b"), true),
            op(2, 20, 50, Input.cas("x", "a", "c"), true)));
        assertEquals(LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "a"), true),
            op(1, 20, 50, Input.cas("x", "a", "b"), true),
            op(2, 20, 50, Input.cas("x", "a", "c"), false),
            op(2, 60, 70, Input.get("x"), "b")));
        // A CAS that failed although nothing could have changed the value is not linearizable.
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "a"), true),
            op(1, 20, 50, Input.cas("x", "a", "b"), false)));
    }

    @Test
    void anAmbiguousWriteMayTakeEffectLateOrNever()
    {
        assertEquals(LINEARIZABLE, verdict(
            lost(0, 0, Input.put("x", "1")),
            op(1, 20, 30, Input.get("x"), ABSENT)));
        assertEquals(LINEARIZABLE, verdict(
            lost(0, 0, Input.put("x", "1")),
            op(1, 20, 30, Input.get("x"), ABSENT),
            op(1, 1000, 1010, Input.get("x"), "1")));
        // Once seen it stays: it cannot be undone.
        assertEquals(NOT_LINEARIZABLE, verdict(
            lost(0, 0, Input.put("x", "1")),
            op(1, 20, 30, Input.get("x"), "1"),
            op(1, 40, 50, Input.get("x"), ABSENT)));
        // It cannot take effect before it was invoked.
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(1, 20, 30, Input.get("x"), "1"),
            lost(0, 40, Input.put("x", "1"))));
        // An ambiguous CAS takes effect only if its compare holds when it is linearized.
        assertEquals(NOT_LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "a"), true),
            op(0, 11, 20, Input.put("x", "z"), true),
            lost(1, 30, Input.cas("x", "a", "b")),
            op(2, 40, 50, Input.get("x"), "b")));
    }

    @Test
    void keysAreCheckedIndependently()
    {
        assertEquals(LINEARIZABLE, verdict(
            op(0, 0, 10, Input.put("x", "1"), true),
            op(1, 20, 30, Input.get("y"), ABSENT),
            op(1, 40, 50, Input.get("x"), "1")));
        final LinearizabilityChecker.Result result = LinearizabilityChecker.check(MODEL, List.of(
            op(0, 0, 10, Input.put("x", "1"), true),
            op(1, 0, 10, Input.put("y", "1"), true),
            op(1, 40, 50, Input.get("y"), ABSENT)), TIMEOUT_NS);
        assertEquals(NOT_LINEARIZABLE, result.verdict());
        assertEquals("y", result.partition());
        assertTrue(result.detail().contains("get(y) -> " + ABSENT), result.detail());
    }

    @Test
    void largeGeneratedHistoriesAreCheckedAndACorruptedReadIsFound()
    {
        for (int seed = 1; seed <= 5; seed++)
        {
            final List<Operation<Input, Object>> history = atomicRegisterHistory(new Random(seed), 400);
            assertEquals(LINEARIZABLE, LinearizabilityChecker.check(MODEL, history, TIMEOUT_NS).verdict(),
                "seed " + seed);

            // A read of a value that was never written cannot be linearized.
            final List<Operation<Input, Object>> corrupted = new ArrayList<>(history);
            for (int i = corrupted.size() - 1; i >= 0; i--)
            {
                final Operation<Input, Object> o = corrupted.get(i);
                if (o.input().kind() == KvRegisterModel.Kind.GET && !o.isAmbiguous())
                {
                    corrupted.set(i, op(o.clientId(), o.invokeNs(), o.completeNs(), o.input(), "never-written"));
                    break;
                }
            }
            assertEquals(NOT_LINEARIZABLE, LinearizabilityChecker.check(MODEL, corrupted, TIMEOUT_NS).verdict(),
                "seed " + seed);
        }
    }

    /**
     * Simulates 5 clients on a truly atomic register over 2 keys: each operation takes effect at one instant inside
     * its interval; some answers are lost (ambiguous).
     */
    private static List<Operation<Input, Object>> atomicRegisterHistory(final Random random, final int count)
    {
        final String[] values = new String[2];
        final int clients = 5;
        final long[] clientFreeAt = new long[clients];
        final List<long[]> plans = new ArrayList<>(); // {client, invoke, point, complete}
        long now = 0;
        for (int i = 0; i < count; i++)
        {
            final int client = random.nextInt(clients);
            final long invoke = Math.max(now, clientFreeAt[client]) + random.nextInt(5);
            final long point = invoke + 1 + random.nextInt(40);
            final long complete = point + 1 + random.nextInt(40);
            clientFreeAt[client] = complete + 1;
            plans.add(new long[]{ client, invoke, point, complete });
            now = invoke;
        }
        // Apply in linearization-point order.
        final List<long[]> byPoint = new ArrayList<>(plans);
        byPoint.sort((a, b) -> Long.compare(a[2], b[2]));
        final List<Operation<Input, Object>> history = new ArrayList<>();
        int next = 0;
        for (final long[] p : byPoint)
        {
            final int k = random.nextInt(2);
            final String key = "k" + k;
            final int kind = random.nextInt(3);
            final Input input;
            final Object output;
            if (kind == 0)
            {
                input = Input.get(key);
                output = values[k] == null ? ABSENT : values[k];
            }
            else if (kind == 1)
            {
                input = Input.put(key, "v" + next++);
                values[k] = input.value();
                output = true;
            }
            else
            {
                final String expected = random.nextBoolean() ? values[k] : "v" + random.nextInt(Math.max(1, next));
                input = Input.cas(key, expected, "v" + next++);
                final boolean swaps = java.util.Objects.equals(values[k], expected);
                if (swaps)
                {
                    values[k] = input.value();
                }
                output = swaps;
            }
            history.add(random.nextInt(50) == 0 ? lost((int)p[0], p[1], input) :
                op((int)p[0], p[1], p[3], input, output));
        }
        return history;
    }
}
