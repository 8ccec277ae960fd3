package io.cairn.perf;

import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * {@code cairn-bench jmh [JMH options]}: JMH's own command line (regex, -prof gc, -f, -wi, -i, -rf json...), with the
 * forks given the JVM flags of {@code jvm.properties} (Agrona needs --add-opens) so no benchmark hard-codes them.
 */
final class JmhMain
{
    static final String USAGE = """
        usage: cairn-bench jmh [JMH options]   e.g. cairn-bench jmh AppendPath -prof gc
          benchmarks: SbeCodecBenchmark, Crc32cBenchmark, AppendPathBenchmark, IoRingBatchBenchmark (io_uring;
          -Dcairn.jmh.dir=DIR via CAIRN_JAVA_OPTS for its file, default data/jmh)
          defaults: -f 1 -wi 3 -w 1s -i 5 -r 1s; forks get jvm.properties' cairn.jvm.flags
          (jmh -h lists JMH's options)
        """;

    private JmhMain()
    {
    }

    static int main(final String[] args) throws Exception
    {
        final List<String> jmhArgs = withDefaults(Arrays.asList(args));
        final CommandLineOptions cli = new CommandLineOptions(jmhArgs.toArray(String[]::new));
        final ChainedOptionsBuilder builder = new OptionsBuilder().parent(cli);
        final List<String> flags = new ArrayList<>(jvmFlags());
        final String dir = System.getProperty("cairn.jmh.dir");
        if (null != dir)
        {
            flags.add("-Dcairn.jmh.dir=" + dir);
        }
        builder.jvmArgsAppend(flags.toArray(String[]::new));
        new Runner(builder.build()).run();
        return 0;
    }

    /** The user's JMH arguments, plus each default option the user did not give (JMH rejects repeats). */
    static List<String> withDefaults(final List<String> args)
    {
        final List<String> out = new ArrayList<>(args);
        final String[][] defaults = { { "-f", "1" }, { "-wi", "3" }, { "-w", "1s" }, { "-i", "5" }, { "-r", "1s" } };
        for (final String[] d : defaults)
        {
            if (!args.contains(d[0]))
            {
                out.add(d[0]);
                out.add(d[1]);
            }
        }
        return out;
    }

    /** The flags of jvm.properties, found via -Dcairn.root (bin/cairn-env.sh) or the working directory. */
    static List<String> jvmFlags() throws IOException
    {
        final Path file = Path.of(System.getProperty("cairn.root", "."), "jvm.properties");
        if (!Files.exists(file))
        {
            throw new IOException("jvm.properties not found at " + file.toAbsolutePath() + " (set -Dcairn.root)");
        }
        final Properties p = new Properties();
        try (var in = Files.newBufferedReader(file))
        {
            p.load(in);
        }
        final String flags = p.getProperty("cairn.jvm.flags", "").trim();
        return flags.isEmpty() ? List.of() : Arrays.asList(flags.split("\\s+"));
    }
}
