package io.cairn.manager.lin;

import java.util.ArrayList;
import java.util.List;

/**
 * Records a concurrent history from several client threads: {@link #invoke} before sending, then {@link #ok} or
 * {@link #ambiguous} after. Times come from {@link System#nanoTime()}, one clock for every thread of the JVM.
 *
 * @param <I> input type.
 * @param <O> output type.
 */
public final class History<I, O>
{
    private final List<Operation<I, O>> operations = new ArrayList<>();

    /** An operation in flight. */
    public final class Pending
    {
        private final int clientId;
        private final long invokeNs;
        private final I input;

        private Pending(final int clientId, final long invokeNs, final I input)
        {
            this.clientId = clientId;
            this.invokeNs = invokeNs;
            this.input = input;
        }

        /**
         * @param output the answer that arrived now.
         */
        public void ok(final O output)
        {
            add(Operation.ok(clientId, invokeNs, System.nanoTime(), input, output));
        }

        /**
         * The operation got no answer: it may or may not have taken effect.
         */
        public void ambiguous()
        {
            add(Operation.ambiguous(clientId, invokeNs, input));
        }
    }

    /**
     * @param clientId the calling client.
     * @param input    what it is about to ask.
     * @return the pending operation, stamped now.
     */
    public Pending invoke(final int clientId, final I input)
    {
        return new Pending(clientId, System.nanoTime(), input);
    }

    private synchronized void add(final Operation<I, O> op)
    {
        operations.add(op);
    }

    /**
     * @return a copy of the operations recorded so far.
     */
    public synchronized List<Operation<I, O>> operations()
    {
        return new ArrayList<>(operations);
    }
}
