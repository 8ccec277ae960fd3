package io.cairn.config;

import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlParseError;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlTable;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A daemon's settings, each declared once as a {@link ConfigOption}, and everything driven from them:
 * <ul>
 *   <li>the command line: {@code --key VALUE}, {@code --key=VALUE}, a boolean alone ({@code --key}) means true,
 *   a list key repeats ({@code --data-dir A --data-dir B}) or takes commas ({@code --disk-cpus 0,1});</li>
 *   <li>a TOML file ({@code --config FILE}): top-level {@code key = value}; unknown keys, sections, wrong types and
 *   values out of range are refused with the file, key, value and what is allowed;</li>
 *   <li>precedence: defaults, then the file, then environment variables, then flags;</li>
 *   <li>{@code --print-config} (the effective configuration as TOML), {@code --help}, the reference table in
 *   docs/operating/configuration.md and the example files in etc/, which tests compare with this table.</li>
 * </ul>
 * To add a setting: give the Context a field, a default constant, a setter and a getter, then declare one option
 * in the daemon's table (e.g. {@code ExtentNodeConfig}) and regenerate the docs and example as the test says.
 *
 * @param <C> the daemon's context type.
 */
public final class ConfigTable<C>
{
    /** The flag naming the config file. */
    public static final String CONFIG_FLAG = "--config";
    /** The flag that prints the effective configuration and exits. */
    public static final String PRINT_CONFIG_FLAG = "--print-config";

    private final String program;
    private final Supplier<C> defaults;
    private final Map<String, ConfigOption<C>> options = new LinkedHashMap<>();

    /**
     * @param program  the launcher's name, for messages ({@code cairn-node}).
     * @param defaults makes a context holding only defaults.
     */
    public ConfigTable(final String program, final Supplier<C> defaults)
    {
        this.program = program;
        this.defaults = defaults;
    }

    /**
     * What a command line asked for.
     *
     * @param context     the configuration: defaults, file, environment and flags applied; not yet concluded.
     * @param configFile  the file given with --config, or null.
     * @param printConfig whether --print-config was given.
     * @param help        whether --help was given.
     * @param <C>         the context type.
     */
    public record CommandLine<C>(C context, Path configFile, boolean printConfig, boolean help)
    {
    }

    private <T> ConfigOption<C> add(final String key, final ConfigOption.Type type, final BiConsumer<C, T> setter,
        final Function<C, T> getter)
    {
        final ConfigOption<C> option = new ConfigOption<>(key, type, setter, getter);
        if (null != options.putIfAbsent(key, option))
        {
            throw new IllegalArgumentException("option " + key + " declared twice");
        }
        return option;
    }

    /** Declare an int option. @param key key and flag. @param setter on the context. @param getter on it. @return it. */
    public ConfigOption<C> intOption(final String key, final BiConsumer<C, Integer> setter,
        final Function<C, Integer> getter)
    {
        return add(key, ConfigOption.Type.INT, setter, getter);
    }

    /** Declare a long option. @param key key and flag. @param setter on the context. @param getter on it. @return it. */
    public ConfigOption<C> longOption(final String key, final BiConsumer<C, Long> setter, final Function<C, Long> getter)
    {
        return add(key, ConfigOption.Type.LONG, setter, getter);
    }

    /** Declare a boolean. @param key key and flag. @param setter on the context. @param getter on it. @return it. */
    public ConfigOption<C> booleanOption(final String key, final BiConsumer<C, Boolean> setter,
        final Function<C, Boolean> getter)
    {
        return add(key, ConfigOption.Type.BOOLEAN, setter, getter);
    }

    /** Declare a string. @param key key and flag. @param setter on the context. @param getter on it. @return it. */
    public ConfigOption<C> stringOption(final String key, final BiConsumer<C, String> setter,
        final Function<C, String> getter)
    {
        return add(key, ConfigOption.Type.STRING, setter, getter);
    }

    /**
     * Declare a choice among names.
     *
     * @param key    key and flag.
     * @param setter on the context.
     * @param getter on it.
     * @param values the allowed names.
     * @return it.
     */
    public ConfigOption<C> enumOption(final String key, final BiConsumer<C, String> setter,
        final Function<C, String> getter, final String... values)
    {
        return add(key, ConfigOption.Type.ENUM, setter, getter).oneOf(values);
    }

    /** Declare paths. @param key key and flag. @param setter replaces the list. @param getter on it. @return it. */
    public ConfigOption<C> pathListOption(final String key, final BiConsumer<C, List<Path>> setter,
        final Function<C, List<Path>> getter)
    {
        return add(key, ConfigOption.Type.PATH_LIST, setter, getter);
    }

    /** Declare ints. @param key key and flag. @param setter on the context. @param getter on it. @return it. */
    public ConfigOption<C> intListOption(final String key, final BiConsumer<C, int[]> setter,
        final Function<C, int[]> getter)
    {
        return add(key, ConfigOption.Type.INT_LIST, setter, getter);
    }

    /** @return the options in declaration order. */
    public List<ConfigOption<C>> options()
    {
        return List.copyOf(options.values());
    }

    /** @return the launcher's name. */
    public String program()
    {
        return program;
    }

    // ------------------------------------------------------------------------------------------ parsing

    /**
     * Parse a command line: defaults, then --config FILE, then environment variables, then flags.
     *
     * @param args the flags.
     * @return the context and what else was asked.
     * @throws ConfigException naming the flag or key, the value and what is allowed.
     */
    public CommandLine<C> parse(final String[] args)
    {
        return parse(args, System.getenv());
    }

    /**
     * As {@link #parse(String[])} with a given environment (tests).
     *
     * @param args the flags.
     * @param env  environment variables.
     * @return the context and what else was asked.
     */
    public CommandLine<C> parse(final String[] args, final Map<String, String> env)
    {
        final List<Map.Entry<ConfigOption<C>, String>> flags = new ArrayList<>();
        Path configFile = null;
        boolean printConfig = false;
        boolean help = false;
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            final int eq = arg.indexOf('=');
            final String flag = arg.startsWith("--") && eq > 0 ? arg.substring(0, eq) : arg;
            String value = arg.startsWith("--") && eq > 0 ? arg.substring(eq + 1) : null;
            if (PRINT_CONFIG_FLAG.equals(flag) && null == value)
            {
                printConfig = true;
                continue;
            }
            if (("--help".equals(flag) || "-h".equals(flag)) && null == value)
            {
                help = true;
                continue;
            }
            final ConfigOption<C> option = CONFIG_FLAG.equals(flag) ? null : optionForFlag(flag);
            if (null == value && (null == option || ConfigOption.Type.BOOLEAN != option.type()))
            {
                if (i + 1 >= args.length)
                {
                    throw new ConfigException(flag + " needs a value");
                }
                value = args[++i];
            }
            if (null == option)
            {
                configFile = Path.of(value);
            }
            else
            {
                flags.add(Map.entry(option, null == value ? "true" : value));
            }
        }
        final C ctx = defaults.get();
        if (null != configFile)
        {
            loadFile(ctx, configFile);
        }
        applyEnvironment(ctx, env);
        applyFlags(ctx, flags);
        return new CommandLine<>(ctx, configFile, printConfig, help);
    }

    private ConfigOption<C> optionForFlag(final String flag)
    {
        final ConfigOption<C> option = flag.startsWith("--") ? options.get(flag.substring(2)) : null;
        if (null == option)
        {
            throw new ConfigException("unknown flag " + flag + " (" + program + " --help lists them)");
        }
        return option;
    }

    private void applyEnvironment(final C ctx, final Map<String, String> env)
    {
        for (final ConfigOption<C> option : options.values())
        {
            final String text = null == option.envVariable() ? null : env.get(option.envVariable());
            if (null != text && !text.isBlank())
            {
                set(ctx, option, fromText(option, text, "$" + option.envVariable()), "$" + option.envVariable());
            }
        }
    }

    private void applyFlags(final C ctx, final List<Map.Entry<ConfigOption<C>, String>> flags)
    {
        // A list given on the command line replaces the file's list as a whole: all its flags together.
        final Map<ConfigOption<C>, List<Path>> lists = new LinkedHashMap<>();
        for (final Map.Entry<ConfigOption<C>, String> flag : flags)
        {
            final ConfigOption<C> option = flag.getKey();
            final String label = option.flag() + " " + (option.isSecret() ? "<redacted>" : flag.getValue());
            final Object value = fromText(option, flag.getValue(), label);
            if (ConfigOption.Type.PATH_LIST == option.type())
            {
                lists.computeIfAbsent(option, (o) -> new ArrayList<>()).addAll(ConfigOption.asPaths(value));
            }
            else
            {
                set(ctx, option, value, label);
            }
        }
        lists.forEach((option, paths) -> set(ctx, option, paths, option.flag() + " " + joinPaths(paths)));
    }

    private void set(final C ctx, final ConfigOption<C> option, final Object value, final String label)
    {
        final String problem = option.check(value);
        if (null != problem)
        {
            throw new ConfigException(label + ": " + problem);
        }
        option.set(ctx, value);
    }

    private static Object fromText(final ConfigOption<?> option, final String text, final String label)
    {
        try
        {
            return switch (option.type())
            {
                case INT -> Integer.parseInt(text.trim());
                case LONG -> Long.parseLong(text.trim());
                case BOOLEAN ->
                {
                    if (!"true".equals(text) && !"false".equals(text))
                    {
                        throw new ConfigException(label + ": must be true or false");
                    }
                    yield Boolean.parseBoolean(text);
                }
                case STRING, ENUM -> text;
                case PATH_LIST -> new ArrayList<>(List.of(Path.of(text)));
                case INT_LIST ->
                {
                    final String[] parts = text.split(",");
                    final int[] values = new int[parts.length];
                    for (int i = 0; i < parts.length; i++)
                    {
                        values[i] = Integer.parseInt(parts[i].trim());
                    }
                    yield values;
                }
            };
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigException(label + ": not an integer" +
                (ConfigOption.Type.INT == option.type() ? " in [" + Integer.MIN_VALUE + ", " + Integer.MAX_VALUE + "]" : ""));
        }
        catch (final java.nio.file.InvalidPathException ex)
        {
            throw new ConfigException(label + ": not a path: " + ex.getMessage());
        }
    }

    /**
     * Apply a TOML file to a context. Every key must be known, of the right type and allowed.
     *
     * @param ctx  to change.
     * @param file the file.
     * @throws ConfigException naming the file, key, value and what is allowed.
     */
    public void loadFile(final C ctx, final Path file)
    {
        final TomlParseResult toml;
        try
        {
            toml = Toml.parse(file);
        }
        catch (final IOException ex)
        {
            throw new ConfigException("config file " + file + ": cannot read it: " + ex);
        }
        if (toml.hasErrors())
        {
            final TomlParseError error = toml.errors().get(0);
            throw new ConfigException("config file " + file + ": not valid TOML at line " + error.position().line() +
                ", column " + error.position().column() + ": " + error.getMessage());
        }
        for (final String key : toml.keySet())
        {
            final Object raw = toml.get(List.of(key));
            final ConfigOption<C> option = options.get(key);
            if (null == option)
            {
                throw new ConfigException("config file " + file + ": unknown key '" + key + "'" +
                    (raw instanceof TomlTable ? " (a [section]: every key is top-level, no sections)" : "") +
                    "; known keys: " + String.join(", ", options.keySet()));
            }
            final String label = "config file " + file + ": " + key + " = " +
                (option.isSecret() ? "<redacted>" : tomlText(raw));
            set(ctx, option, fromToml(option, raw, label), label);
        }
    }

    private static Object fromToml(final ConfigOption<?> option, final Object raw, final String label)
    {
        final String expected = "must be " + (ConfigOption.Type.ENUM == option.type() ? "a string, " :
            "a TOML " + option.type().tomlName() + ", ") + option.allowed();
        switch (option.type())
        {
            case INT ->
            {
                if (raw instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE)
                {
                    return l.intValue();
                }
            }
            case LONG ->
            {
                if (raw instanceof Long l)
                {
                    return l;
                }
            }
            case BOOLEAN ->
            {
                if (raw instanceof Boolean b)
                {
                    return b;
                }
            }
            case STRING, ENUM ->
            {
                if (raw instanceof String s)
                {
                    return s;
                }
            }
            case PATH_LIST ->
            {
                if (raw instanceof TomlArray array && allOf(array, String.class))
                {
                    final List<Path> paths = new ArrayList<>();
                    for (int i = 0; i < array.size(); i++)
                    {
                        paths.add(Path.of(array.getString(i)));
                    }
                    return paths;
                }
            }
            case INT_LIST ->
            {
                if (raw instanceof TomlArray array && allOf(array, Long.class))
                {
                    final int[] values = new int[array.size()];
                    for (int i = 0; i < values.length; i++)
                    {
                        final long v = array.getLong(i);
                        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
                        {
                            throw new ConfigException(label + ": " + expected);
                        }
                        values[i] = (int)v;
                    }
                    return values;
                }
            }
        }
        throw new ConfigException(label + ": " + expected);
    }

    private static boolean allOf(final TomlArray array, final Class<?> type)
    {
        for (int i = 0; i < array.size(); i++)
        {
            if (!type.isInstance(array.get(i)))
            {
                return false;
            }
        }
        return true;
    }

    private static String tomlText(final Object raw)
    {
        if (raw instanceof String s)
        {
            return ConfigOption.quote(s);
        }
        if (raw instanceof TomlArray array)
        {
            final List<String> items = new ArrayList<>();
            for (int i = 0; i < array.size(); i++)
            {
                items.add(tomlText(array.get(i)));
            }
            return "[" + String.join(", ", items) + "]";
        }
        if (raw instanceof TomlTable)
        {
            return "{table}";
        }
        return String.valueOf(raw);
    }

    private static String joinPaths(final List<Path> paths)
    {
        final List<String> names = new ArrayList<>();
        paths.forEach((p) -> names.add(p.toString()));
        return String.join(",", names);
    }

    // ------------------------------------------------------------------------------------------ checks

    /**
     * Check every option's current value (what a Context's conclude() calls, so values set in code are held to
     * the same rules as flags and files).
     *
     * @param ctx the context.
     * @throws ConfigException naming the flag, the value and what is allowed.
     */
    public void validate(final C ctx)
    {
        for (final ConfigOption<C> option : options.values())
        {
            final Object value = option.get(ctx);
            final String problem = option.check(value);
            if (null != problem)
            {
                throw new ConfigException(option.flag() + " " + flagText(option, value) + ": " + problem);
            }
        }
    }

    private static String flagText(final ConfigOption<?> option, final Object value)
    {
        if (option.isSecret())
        {
            return "<redacted>";
        }
        if (null == value)
        {
            return "(not set)";
        }
        return switch (option.type())
        {
            case STRING, ENUM, INT, LONG, BOOLEAN -> value.toString();
            case PATH_LIST -> ConfigOption.asPaths(value).isEmpty() ? "(none)" : joinPaths(ConfigOption.asPaths(value));
            case INT_LIST -> option.toToml(value).replaceAll("[\\[\\] ]", "");
        };
    }

    // ------------------------------------------------------------------------------------------ output

    /**
     * @param ctx    a (concluded) context.
     * @param header first comment line.
     * @return the effective configuration as a TOML file that {@code --config} accepts (secrets redacted).
     */
    public String render(final C ctx, final String header)
    {
        final StringBuilder sb = new StringBuilder("# ").append(header).append('\n');
        for (final ConfigOption<C> option : options.values())
        {
            final String value = option.toToml(option.get(ctx));
            if (null == value)
            {
                sb.append("# ").append(option.key()).append(" is not set\n");
            }
            else
            {
                sb.append(option.key()).append(" = ").append(value);
                if (!option.unit().isEmpty())
                {
                    sb.append("  # ").append(option.unit());
                }
                sb.append('\n');
            }
        }
        return sb.toString();
    }

    /**
     * @param option one of this table's.
     * @return its default as the docs show it.
     */
    public String defaultText(final ConfigOption<C> option)
    {
        if (null != option.defaultTextOverride())
        {
            return option.defaultTextOverride();
        }
        if (option.isRequired())
        {
            return "required";
        }
        final String value = option.toToml(option.get(defaults.get()));
        return null == value ? "not set" : value;
    }

    /**
     * @param head the lines before the options (usage lines of subcommands).
     * @return the --help text.
     */
    public String usage(final String head)
    {
        final StringBuilder sb = new StringBuilder(head).append('\n');
        sb.append("  ").append(String.format("%-32s", CONFIG_FLAG + " FILE"))
            .append("TOML file of the keys below; flags override it\n");
        sb.append("  ").append(String.format("%-32s", PRINT_CONFIG_FLAG))
            .append("print the effective configuration (TOML) and exit\n");
        for (final ConfigOption<C> option : options.values())
        {
            final String flag = option.flag() + (ConfigOption.Type.BOOLEAN == option.type() ? "" : " " + metaVar(option));
            sb.append("  ").append(String.format("%-32s", flag)).append(firstSentence(option.doc()))
                .append(" (").append(defaultText(option)).append(option.unit().isEmpty() ? "" : ", " + option.unit())
                .append(")\n");
        }
        return sb.toString();
    }

    private static String metaVar(final ConfigOption<?> option)
    {
        return switch (option.type())
        {
            case INT, LONG -> "N";
            case ENUM -> String.join("|", option.allowed().substring("one of ".length()).split(", "));
            case PATH_LIST -> "DIR";
            case INT_LIST -> "N[,N...]";
            default -> "VALUE";
        };
    }

    private static String firstSentence(final String doc)
    {
        final int end = doc.indexOf(". ");
        return end < 0 ? (doc.endsWith(".") ? doc.substring(0, doc.length() - 1) : doc) : doc.substring(0, end);
    }

    /**
     * @return the reference table (Markdown) that docs/operating/configuration.md holds.
     */
    public String markdownTable()
    {
        final StringBuilder sb = new StringBuilder();
        sb.append("| key (flag `--key`) | type | default | unit | allowed | what |\n");
        sb.append("|---|---|---|---|---|---|\n");
        for (final ConfigOption<C> option : options.values())
        {
            sb.append("| `").append(option.key()).append("` | ").append(option.type().tomlName())
                .append(" | `").append(defaultText(option).replace("|", "\\|")).append("` | ")
                .append(option.unit().isEmpty() ? "-" : option.unit()).append(" | ")
                .append(option.allowed().replace("|", "\\|")).append(" | ")
                .append(option.doc().replace("|", "\\|"))
                .append(null == option.envVariable() ? "" : " Environment: `$" + option.envVariable() + "`.")
                .append(" |\n");
        }
        return sb.toString();
    }

    /**
     * @param header comment lines at the top (without '#').
     * @return an example TOML file: every key documented, required ones set to their example, others commented
     * out at their default.
     */
    public String exampleToml(final List<String> header)
    {
        final StringBuilder sb = new StringBuilder();
        header.forEach((line) -> sb.append(line.isEmpty() ? "#" : "# " + line).append('\n'));
        for (final ConfigOption<C> option : options.values())
        {
            sb.append('\n');
            for (final String line : wrap(option.doc(), 100))
            {
                sb.append("# ").append(line).append('\n');
            }
            sb.append("# ").append(option.type().tomlName()).append(option.unit().isEmpty() ? "" : ", " + option.unit())
                .append("; allowed: ").append(option.allowed()).append("; default: ").append(defaultText(option))
                .append(null == option.envVariable() ? "" : "; environment: $" + option.envVariable()).append('\n');
            if (null != option.example())
            {
                sb.append(option.key()).append(" = ").append(option.example()).append('\n');
            }
            else
            {
                final String value = option.toToml(option.get(defaults.get()));
                sb.append("# ").append(option.key()).append(" = ").append(null == value ? "" : value).append('\n');
            }
        }
        return sb.toString();
    }

    private static List<String> wrap(final String text, final int width)
    {
        final List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (final String word : text.split(" "))
        {
            if (line.length() > 0 && line.length() + 1 + word.length() > width)
            {
                lines.add(line.toString());
                line = new StringBuilder();
            }
            if (line.length() > 0)
            {
                line.append(' ');
            }
            line.append(word);
        }
        if (line.length() > 0)
        {
            lines.add(line.toString());
        }
        return Collections.unmodifiableList(lines);
    }
}
