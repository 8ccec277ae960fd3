package io.cairn.manager.lin;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Wing &amp; Gong's linearizability search with Lowe's memoisation ("Testing for linearizability", 2017): walk the
 * history's call/return events in time order, tentatively linearize an operation whose call is reachable (lift its
 * call and return out of the list and apply it to the model), backtrack at a return whose operation is not yet
 * linearized, and skip any (linearized set, model state) configuration already explored.
 * <p>
 * Ambiguous operations (no answer) return at +infinity with any output, and need not be linearized at all: the
 * search succeeds as soon as every answered operation is linearized. The history is split by
 * {@link Model#partition(Object)} first and each part checked alone.
 */
public final class LinearizabilityChecker
{
    /** Outcome of a check. */
    public enum Verdict
    {
        /** A linearization exists. */
        LINEARIZABLE,
        /** None exists. */
        NOT_LINEARIZABLE,
        /** The search ran out of its time budget. */
        UNKNOWN
    }

    /**
     * @param verdict   the outcome.
     * @param partition the first partition that is not linearizable (or timed out); null when linearizable.
     * @param detail    for a failure: the operations of that partition, in invocation order.
     */
    public record Result(Verdict verdict, Object partition, String detail)
    {
    }

    private LinearizabilityChecker()
    {
    }

    /**
     * @param model     the sequential specification.
     * @param history   the operations, in any order.
     * @param timeoutNs time budget for the whole check.
     * @param <S>       state type.
     * @param <I>       input type.
     * @param <O>       output type.
     * @return the verdict.
     */
    public static <S, I, O> Result check(
        final Model<S, I, O> model, final List<Operation<I, O>> history, final long timeoutNs)
    {
        final long deadlineNs = System.nanoTime() + timeoutNs;
        final Map<Object, List<Operation<I, O>>> parts = new LinkedHashMap<>();
        for (final Operation<I, O> op : history)
        {
            parts.computeIfAbsent(model.partition(op.input()), (k) -> new ArrayList<>()).add(op);
        }
        for (final Map.Entry<Object, List<Operation<I, O>>> part : parts.entrySet())
        {
            final Verdict verdict = checkPartition(model, part.getValue(), deadlineNs);
            if (verdict != Verdict.LINEARIZABLE)
            {
                return new Result(verdict, part.getKey(), describe(part.getValue()));
            }
        }
        return new Result(Verdict.LINEARIZABLE, null, "");
    }

    private static final class Entry
    {
        final int opIndex;
        final boolean call;
        final long timeNs;
        Entry match;
        Entry prev;
        Entry next;

        Entry(final int opIndex, final boolean call, final long timeNs)
        {
            this.opIndex = opIndex;
            this.call = call;
            this.timeNs = timeNs;
        }
    }

    private record Config(BitSet linearized, Object state)
    {
    }

    private record Frame(Entry call, Object stateBefore)
    {
    }

    @SuppressWarnings("unchecked")
    private static <S, I, O> Verdict checkPartition(
        final Model<S, I, O> model, final List<Operation<I, O>> ops, final long deadlineNs)
    {
        final Entry head = buildList(ops);
        int definiteLeft = 0;
        for (final Operation<I, O> op : ops)
        {
            definiteLeft += op.isAmbiguous() ? 0 : 1;
        }
        final BitSet linearized = new BitSet(ops.size());
        final Set<Config> explored = new HashSet<>();
        final ArrayDeque<Frame> stack = new ArrayDeque<>();
        S state = model.initialState();
        Entry entry = head.next;
        long steps = 0;
        while (definiteLeft > 0)
        {
            if ((++steps & 0xFFF) == 0 && System.nanoTime() - deadlineNs >= 0)
            {
                return Verdict.UNKNOWN;
            }
            if (entry == null)
            {
                // only ambiguous calls remain reachable but definite operations are left: impossible, since a
                // definite operation's return precedes every ambiguous return
                throw new IllegalStateException("ran off the event list with " + definiteLeft + " operations left");
            }
            if (entry.call)
            {
                final Operation<I, O> op = ops.get(entry.opIndex);
                final S next = model.step(state, op.input(), op.output());
                boolean advanced = false;
                if (next != null)
                {
                    final BitSet candidate = (BitSet)linearized.clone();
                    candidate.set(entry.opIndex);
                    if (explored.add(new Config(candidate, next)))
                    {
                        stack.push(new Frame(entry, state));
                        state = next;
                        linearized.set(entry.opIndex);
                        definiteLeft -= op.isAmbiguous() ? 0 : 1;
                        lift(entry);
                        entry = head.next;
                        advanced = true;
                    }
                }
                if (!advanced)
                {
                    entry = entry.next;
                }
            }
            else
            {
                if (stack.isEmpty())
                {
                    return Verdict.NOT_LINEARIZABLE;
                }
                final Frame frame = stack.pop();
                state = (S)frame.stateBefore();
                final Entry call = frame.call();
                linearized.clear(call.opIndex);
                definiteLeft += ops.get(call.opIndex).isAmbiguous() ? 0 : 1;
                unlift(call);
                entry = call.next;
            }
        }
        return Verdict.LINEARIZABLE;
    }

    private static <I, O> Entry buildList(final List<Operation<I, O>> ops)
    {
        final List<Entry> entries = new ArrayList<>(2 * ops.size());
        for (int i = 0; i < ops.size(); i++)
        {
            final Operation<I, O> op = ops.get(i);
            final Entry call = new Entry(i, true, op.invokeNs());
            final Entry ret = new Entry(i, false, op.completeNs());
            call.match = ret;
            entries.add(call);
            entries.add(ret);
        }
        // Calls before returns at equal times: touching operations count as concurrent (the weaker order).
        entries.sort(Comparator.comparingLong((Entry e) -> e.timeNs).thenComparing((Entry e) -> e.call ? 0 : 1));
        final Entry head = new Entry(-1, false, Long.MIN_VALUE);
        Entry last = head;
        for (final Entry e : entries)
        {
            last.next = e;
            e.prev = last;
            last = e;
        }
        return head;
    }

    private static void lift(final Entry call)
    {
        call.prev.next = call.next;
        if (call.next != null)
        {
            call.next.prev = call.prev;
        }
        final Entry ret = call.match;
        ret.prev.next = ret.next;
        if (ret.next != null)
        {
            ret.next.prev = ret.prev;
        }
    }

    private static void unlift(final Entry call)
    {
        final Entry ret = call.match;
        ret.prev.next = ret;
        if (ret.next != null)
        {
            ret.next.prev = ret;
        }
        call.prev.next = call;
        if (call.next != null)
        {
            call.next.prev = call;
        }
    }

    private static <I, O> String describe(final List<Operation<I, O>> ops)
    {
        final List<Operation<I, O>> sorted = new ArrayList<>(ops);
        sorted.sort(Comparator.comparingLong(Operation::invokeNs));
        final long t0 = sorted.isEmpty() ? 0 : sorted.get(0).invokeNs();
        final StringBuilder sb = new StringBuilder();
        for (final Operation<I, O> op : sorted)
        {
            sb.append("  client ").append(op.clientId()).append(" [").append((op.invokeNs() - t0) / 1000).append(" us, ")
                .append(op.isAmbiguous() ? "?" : String.valueOf((op.completeNs() - t0) / 1000)).append(" us] ")
                .append(op.input()).append(" -> ").append(op.isAmbiguous() ? "AMBIGUOUS" : op.output()).append('\n');
        }
        return sb.toString();
    }
}
