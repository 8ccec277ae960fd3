package io.cairn.manager;

/**
 * Always-on invariant checks. Unlike {@code assert}, these run without {@code -ea}: a broken invariant in
 * replicated metadata must stop the member rather than be replicated further.
 */
public final class Verify
{
    private Verify()
    {
    }

    /**
     * @param condition that must hold.
     * @param message   what was expected, for the exception.
     * @throws IllegalStateException when the condition is false.
     */
    public static void that(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalStateException("invariant violated: " + message);
        }
    }

    /**
     * Variant that builds its message only on failure, so a hot path allocates nothing.
     *
     * @param condition that must hold.
     * @param format    {@link String#format(String, Object...)} pattern of the message.
     * @param value     the value that broke the invariant.
     * @throws IllegalStateException when the condition is false.
     */
    public static void that(final boolean condition, final String format, final long value)
    {
        if (!condition)
        {
            throw new IllegalStateException("invariant violated: " + String.format(format, value));
        }
    }
}
