package io.cairn.manager.lin;

import java.util.Objects;

/**
 * A key/value register per key: put, get and compare-and-set, partitioned by key. The state is the key's value
 * (null: absent). Outputs: a get returns the value read ({@link #ABSENT} when absent), a put {@link Boolean#TRUE},
 * a CAS whether it swapped.
 */
public final class KvRegisterModel implements Model<KvRegisterModel.Value, KvRegisterModel.Input, Object>
{
    /** Output of a get on an absent key. */
    public static final String ABSENT = "<absent>";

    /** Operation kinds. */
    public enum Kind
    {
        /** Read the value. */
        GET,
        /** Write {@code value}. */
        PUT,
        /** Write {@code value} if the current value equals {@code expected}. */
        CAS
    }

    /**
     * @param kind     which operation.
     * @param key      the key.
     * @param value    written by PUT and CAS.
     * @param expected compared by CAS.
     */
    public record Input(Kind kind, String key, String value, String expected)
    {
        /**
         * @param key the key.
         * @return a get.
         */
        public static Input get(final String key)
        {
            return new Input(Kind.GET, key, null, null);
        }

        /**
         * @param key   the key.
         * @param value the value.
         * @return a put.
         */
        public static Input put(final String key, final String value)
        {
            return new Input(Kind.PUT, key, value, null);
        }

        /**
         * @param key      the key.
         * @param expected the value it must hold.
         * @param value    the new value.
         * @return a compare-and-set.
         */
        public static Input cas(final String key, final String expected, final String value)
        {
            return new Input(Kind.CAS, key, value, expected);
        }

        public String toString()
        {
            return switch (kind)
            {
                case GET -> "get(" + key + ")";
                case PUT -> "put(" + key + ", " + value + ")";
                case CAS -> "cas(" + key + ", " + expected + " -> " + value + ")";
            };
        }
    }

    /**
     * The register's value; a record so equal values are equal states.
     *
     * @param value null when absent.
     */
    public record Value(String value)
    {
    }

    private static final Value EMPTY = new Value(null);

    public Value initialState()
    {
        return EMPTY;
    }

    public Value step(final Value state, final Input input, final Object output)
    {
        return switch (input.kind())
        {
            case GET ->
            {
                final String read = state.value() == null ? ABSENT : state.value();
                yield output == null || read.equals(output) ? state : null;
            }
            case PUT -> new Value(input.value());
            case CAS ->
            {
                final boolean swaps = Objects.equals(state.value(), input.expected());
                if (output != null && !output.equals(swaps))
                {
                    yield null;
                }
                yield swaps ? new Value(input.value()) : state;
            }
        };
    }

    public Object partition(final Input input)
    {
        return input.key();
    }
}
