package io.cairn.replication;

/**
 * Always-on invariant checks (the {@code assert} keyword is off unless the JVM runs with -ea).
 * <p>
 * A failed check throws {@link IllegalStateException}; agents let it escape so the process stops rather
 * than working around a broken invariant. Messages are formatted only on failure, so a passing check does
 * not allocate.
 */
public final class Verify
{
    private Verify()
    {
    }

    /**
     * @param condition that must hold.
     * @param message   what was violated.
     */
    public static void verify(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalStateException("invariant violated: " + message);
        }
    }

    /**
     * @param condition that must hold.
     * @param message   what was violated.
     * @param value     the offending value, appended to the message on failure.
     */
    public static void verify(final boolean condition, final String message, final long value)
    {
        if (!condition)
        {
            throw new IllegalStateException("invariant violated: " + message + ": " + value);
        }
    }

    /**
     * @param condition that must hold.
     * @param message   what was violated.
     * @param a         first offending value.
     * @param b         second offending value.
     */
    public static void verify(final boolean condition, final String message, final long a, final long b)
    {
        if (!condition)
        {
            throw new IllegalStateException("invariant violated: " + message + ": " + a + ", " + b);
        }
    }
}
