package io.cairn.replication;

/**
 * Preallocated table of store operations in flight, so a completion finds who to answer.
 * A token is {@code generation << 32 | slot}; the generation catches a stale or duplicated completion.
 */
final class PendingOps
{
    static final int CREATE_PRIMARY = 1;
    static final int CREATE_SECONDARY = 2;
    static final int WRITE_PRIMARY = 3;
    static final int WRITE_SECONDARY = 4;
    static final int READ = 5;
    static final int SEAL = 6;

    final int[] kind;
    final long[] clientId;
    final long[] correlationId;
    private final int[] generation;
    private final int[] freeSlots;
    private int freeCount;

    PendingOps(final int capacity)
    {
        kind = new int[capacity];
        clientId = new long[capacity];
        correlationId = new long[capacity];
        generation = new int[capacity];
        freeSlots = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            freeSlots[i] = capacity - 1 - i;
        }
        freeCount = capacity;
    }

    /**
     * @return a token, or -1 when the table is full.
     */
    long acquire(final int opKind, final long opClientId, final long opCorrelationId)
    {
        if (freeCount == 0)
        {
            return -1;
        }
        final int slot = freeSlots[--freeCount];
        kind[slot] = opKind;
        clientId[slot] = opClientId;
        correlationId[slot] = opCorrelationId;
        return ((long)generation[slot] << 32) | slot;
    }

    /**
     * @return the slot of a live token; fails the invariant check for a stale one.
     */
    int slot(final long token)
    {
        final int slot = (int)token;
        Verify.verify(slot >= 0 && slot < kind.length && kind[slot] != 0 &&
            generation[slot] == (int)(token >>> 32), "completion for unknown store token", token);
        return slot;
    }

    void release(final int slot)
    {
        kind[slot] = 0;
        generation[slot]++;
        freeSlots[freeCount++] = slot;
    }

    int inUse()
    {
        return kind.length - freeCount;
    }
}
