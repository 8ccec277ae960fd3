package io.cairn.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One setting of a daemon, declared once: its key (also the flag, {@code --key}), type, unit, documentation and
 * constraints, and how it reads and writes the daemon's {@code Context}. {@link ConfigTable} drives command-line
 * flags, TOML files, {@code --print-config}, the usage text, the generated reference docs and validation from
 * these declarations, so they cannot drift apart.
 *
 * @param <C> the daemon's context type.
 */
public final class ConfigOption<C>
{
    /** Value types, as they are written in a TOML file. */
    public enum Type
    {
        /** A 32-bit integer. */
        INT("integer"),
        /** A 64-bit integer. */
        LONG("integer"),
        /** true or false; as a flag, present alone means true. */
        BOOLEAN("boolean"),
        /** A string. */
        STRING("string"),
        /** A string from a fixed set. */
        ENUM("string"),
        /** Paths: a TOML array of strings; a repeatable flag. */
        PATH_LIST("array of strings"),
        /** Integers: a TOML array; a flag with comma-separated values. */
        INT_LIST("array of integers");

        private final String tomlName;

        Type(final String tomlName)
        {
            this.tomlName = tomlName;
        }

        /** @return the type's name in a TOML file. */
        public String tomlName()
        {
            return tomlName;
        }
    }

    private final String key;
    private final Type type;
    private final BiConsumer<C, Object> setter;
    private final Function<C, Object> getter;
    private String unit = "";
    private String doc = "";
    private String example;
    private String defaultText;
    private String envVariable;
    private boolean required;
    private boolean secret;
    private long min = Long.MIN_VALUE;
    private long max = Long.MAX_VALUE;
    private long multipleOf = 1;
    private boolean powerOfTwo;
    private String[] allowedValues;
    private Pattern pattern;
    private String patternText;

    @SuppressWarnings("unchecked")
    ConfigOption(final String key, final Type type, final BiConsumer<C, ?> setter, final Function<C, ?> getter)
    {
        if (!key.matches("[a-z][a-z0-9-]*"))
        {
            throw new IllegalArgumentException("option key '" + key + "' must be lower-case kebab-case");
        }
        this.key = key;
        this.type = type;
        this.setter = (BiConsumer<C, Object>)setter;
        this.getter = (Function<C, Object>)getter;
        if (Type.INT == type || Type.INT_LIST == type)
        {
            min = Integer.MIN_VALUE;
            max = Integer.MAX_VALUE;
        }
    }

    /** @param doc what it does and why one would change it. @return this. */
    public ConfigOption<C> doc(final String doc)
    {
        this.doc = doc;
        return this;
    }

    /** @param unit of the value: bytes, ms, bytes/s, count... @return this. */
    public ConfigOption<C> unit(final String unit)
    {
        this.unit = unit;
        return this;
    }

    /** @param example a value for the example config file (TOML syntax), for required keys. @return this. */
    public ConfigOption<C> example(final String example)
    {
        this.example = example;
        return this;
    }

    /** @param text what the default is when the context's default is derived at conclude time. @return this. */
    public ConfigOption<C> defaultText(final String text)
    {
        this.defaultText = text;
        return this;
    }

    /** @param variable environment variable that sets it (over the file, under flags). @return this. */
    public ConfigOption<C> env(final String variable)
    {
        this.envVariable = variable;
        return this;
    }

    /** Must be given (no default). @return this. */
    public ConfigOption<C> required()
    {
        this.required = true;
        return this;
    }

    /** Never printed, not even in errors. @return this. */
    public ConfigOption<C> secret()
    {
        this.secret = true;
        return this;
    }

    /** @param min smallest allowed. @param max largest allowed. @return this. */
    public ConfigOption<C> range(final long min, final long max)
    {
        this.min = min;
        this.max = max;
        return this;
    }

    /** @param multiple the value (or each value) must be a multiple of it. @return this. */
    public ConfigOption<C> multipleOf(final long multiple)
    {
        this.multipleOf = multiple;
        return this;
    }

    /** The value must be a power of two. @return this. */
    public ConfigOption<C> powerOfTwo()
    {
        this.powerOfTwo = true;
        return this;
    }

    /** @param values the allowed values of an {@link Type#ENUM}. @return this. */
    public ConfigOption<C> oneOf(final String... values)
    {
        this.allowedValues = values.clone();
        return this;
    }

    /** @param regex the whole string must match. @param description what it must look like. @return this. */
    public ConfigOption<C> pattern(final String regex, final String description)
    {
        this.pattern = Pattern.compile(regex);
        this.patternText = description;
        return this;
    }

    /** @return the key in a file (and the flag without its dashes). */
    public String key()
    {
        return key;
    }

    /** @return the command-line flag. */
    public String flag()
    {
        return "--" + key;
    }

    /** @return the value type. */
    public Type type()
    {
        return type;
    }

    /** @return the unit, or "". */
    public String unit()
    {
        return unit;
    }

    /** @return the documentation. */
    public String doc()
    {
        return doc;
    }

    /** @return the example value (TOML), or null. */
    public String example()
    {
        return example;
    }

    /** @return the environment variable, or null. */
    public String envVariable()
    {
        return envVariable;
    }

    /** @return whether it must be given. */
    public boolean isRequired()
    {
        return required;
    }

    /** @return whether it is never printed. */
    public boolean isSecret()
    {
        return secret;
    }

    /** @return the default-text override, or null. */
    String defaultTextOverride()
    {
        return defaultText;
    }

    /**
     * @return what is allowed, in words, as the reference docs and error messages say it.
     */
    public String allowed()
    {
        return switch (type)
        {
            case BOOLEAN -> "true or false";
            case ENUM -> "one of " + String.join(", ", allowedValues);
            case STRING -> null != pattern ? patternText : (required ? "a non-empty string" : "any string");
            case PATH_LIST -> (required ? "one or more" : "zero or more") + " distinct paths";
            case INT, LONG, INT_LIST -> (Type.INT_LIST == type ? "each " : "") + numberRule();
        };
    }

    private String numberRule()
    {
        final String kind = powerOfTwo ? "a power of two" : (multipleOf > 1 ? "a multiple of " + multipleOf : "");
        final String bounds;
        if (max == Long.MAX_VALUE || (max == Integer.MAX_VALUE && (Type.INT == type || Type.INT_LIST == type)))
        {
            bounds = ">= " + min;
        }
        else
        {
            bounds = "in [" + min + ", " + max + "]";
        }
        return kind.isEmpty() ? bounds : kind + " " + bounds;
    }

    /** Reads the value from a context. */
    Object get(final C ctx)
    {
        return getter.apply(ctx);
    }

    /** Writes an already checked value. */
    void set(final C ctx, final Object value)
    {
        setter.accept(ctx, value);
    }

    /**
     * @param value a typed value (Integer, Long, Boolean, String, List of Path or int[]), may be null.
     * @return why it is not allowed, or null when it is.
     */
    String check(final Object value)
    {
        if (null == value)
        {
            return required ? "is required" : null;
        }
        return switch (type)
        {
            case INT, LONG -> checkNumber(((Number)value).longValue());
            case INT_LIST -> checkNumbers((int[])value);
            case ENUM -> Arrays.asList(allowedValues).contains(value.toString()) ? null : "must be " + allowed();
            case STRING -> checkString((String)value);
            case PATH_LIST -> checkPaths(asPaths(value));
            case BOOLEAN -> null;
        };
    }

    private String checkNumber(final long value)
    {
        final boolean ok = value >= min && value <= max && value % multipleOf == 0 &&
            (!powerOfTwo || (value > 0 && Long.bitCount(value) == 1));
        return ok ? null : "must be " + allowed();
    }

    private String checkNumbers(final int[] values)
    {
        if (required && values.length == 0)
        {
            return "needs at least one value";
        }
        for (final int v : values)
        {
            if (null != checkNumber(v))
            {
                return v + " is not allowed: " + allowed();
            }
        }
        return null;
    }

    private String checkString(final String value)
    {
        if (required && value.isBlank())
        {
            return "must not be empty";
        }
        if (null != pattern && !pattern.matcher(value).matches())
        {
            return "must be " + patternText;
        }
        return null;
    }

    private String checkPaths(final List<Path> paths)
    {
        if (required && paths.isEmpty())
        {
            return "at least one is required";
        }
        if (new HashSet<>(paths).size() != paths.size())
        {
            return "the same directory twice";
        }
        for (final Path p : paths)
        {
            if (p.toString().isBlank())
            {
                return "an empty path";
            }
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    static List<Path> asPaths(final Object value)
    {
        return (List<Path>)value;
    }

    /**
     * @param value a typed value, may be null.
     * @return it as TOML, or null when unset.
     */
    String toToml(final Object value)
    {
        if (null == value)
        {
            return null;
        }
        if (secret)
        {
            return "\"<redacted>\"";
        }
        return switch (type)
        {
            case INT, LONG, BOOLEAN -> value.toString();
            case STRING, ENUM -> quote(value.toString());
            case PATH_LIST ->
            {
                final List<String> quoted = new ArrayList<>();
                for (final Path p : asPaths(value))
                {
                    quoted.add(quote(p.toString()));
                }
                yield "[" + String.join(", ", quoted) + "]";
            }
            case INT_LIST -> Arrays.toString((int[])value);
        };
    }

    /** @param value typed, may be null. @return how an error message shows it (never a secret). */
    String display(final Object value)
    {
        if (secret)
        {
            return "<redacted>";
        }
        final String toml = toToml(value);
        return null == toml ? "(not set)" : toml;
    }

    static String quote(final String s)
    {
        final StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        sb.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    /** {@inheritDoc} */
    public String toString()
    {
        return Objects.toString(key);
    }
}
