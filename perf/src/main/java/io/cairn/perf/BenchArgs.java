package io.cairn.perf;

/**
 * Reads benchmark flag values, rejecting missing and out-of-range ones with a message naming the flag.
 */
final class BenchArgs
{
    private BenchArgs()
    {
    }

    static String value(final String[] args, final int index, final String name)
    {
        if (index >= args.length)
        {
            throw new IllegalArgumentException(name + " needs a value");
        }
        return args[index];
    }

    static long number(final String[] args, final int index, final String name, final long min, final long max)
    {
        final String v = value(args, index, name);
        final long parsed;
        try
        {
            parsed = Long.parseLong(v);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(name + " '" + v + "' is not a whole number");
        }
        if (parsed < min || parsed > max)
        {
            throw new IllegalArgumentException(name + " " + parsed + " must be in [" + min + ", " + max + "]");
        }
        return parsed;
    }
}
