package io.cairn.manager.lin;

/**
 * A sequential specification for {@link LinearizabilityChecker}: a deterministic state machine over immutable
 * states. States must implement {@code equals}/{@code hashCode}: the checker memoises (linearized set, state) pairs.
 *
 * @param <S> state.
 * @param <I> operation input.
 * @param <O> operation output.
 */
public interface Model<S, I, O>
{
    /**
     * @return the state before any operation.
     */
    S initialState();

    /**
     * Applies an operation sequentially.
     *
     * @param state  before the operation.
     * @param input  what was asked.
     * @param output what was answered, or null when the answer is unknown (an ambiguous operation): then any
     *               answer is allowed and only the state transition matters.
     * @return the state after the operation, or null when {@code output} is impossible in {@code state}.
     */
    S step(S state, I input, O output);

    /**
     * Operations on different partitions commute and are checked independently (P-compositionality: a history is
     * linearizable if and only if each partition's sub-history is).
     *
     * @param input an operation's input.
     * @return its partition key; a constant for a model that cannot be partitioned.
     */
    default Object partition(final I input)
    {
        return "";
    }
}
