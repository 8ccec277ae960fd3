package io.cairn.manager.lin;

/**
 * One operation of a concurrent history: invoked at {@code invokeNs}, answered at {@code completeNs}.
 *
 * @param clientId   the client (thread) that issued it; a client has at most one operation open at a time.
 * @param invokeNs   when it was invoked.
 * @param completeNs when its answer arrived, or {@link #AMBIGUOUS} when none did (it timed out): it may or may not
 *                   have taken effect, at any time after its invocation.
 * @param input      what was asked.
 * @param output     what was answered; null when ambiguous.
 * @param <I>        input type.
 * @param <O>        output type.
 */
public record Operation<I, O>(int clientId, long invokeNs, long completeNs, I input, O output)
{
    /** Completion time of an operation whose outcome is unknown. */
    public static final long AMBIGUOUS = Long.MAX_VALUE;

    /**
     * @param clientId the client.
     * @param invokeNs when invoked.
     * @param completeNs when answered; must not be before {@code invokeNs}.
     * @param input    the input.
     * @param output   the output.
     * @param <I>      input type.
     * @param <O>      output type.
     * @return a completed operation.
     */
    public static <I, O> Operation<I, O> ok(
        final int clientId, final long invokeNs, final long completeNs, final I input, final O output)
    {
        if (completeNs < invokeNs || completeNs == AMBIGUOUS)
        {
            throw new IllegalArgumentException("completeNs " + completeNs + " before invokeNs " + invokeNs);
        }
        return new Operation<>(clientId, invokeNs, completeNs, input, output);
    }

    /**
     * @param clientId the client.
     * @param invokeNs when invoked.
     * @param input    the input.
     * @param <I>      input type.
     * @param <O>      output type.
     * @return an operation that got no answer.
     */
    public static <I, O> Operation<I, O> ambiguous(final int clientId, final long invokeNs, final I input)
    {
        return new Operation<>(clientId, invokeNs, AMBIGUOUS, input, null);
    }

    /**
     * @return whether the outcome is unknown.
     */
    public boolean isAmbiguous()
    {
        return completeNs == AMBIGUOUS;
    }
}
