package io.cairn.perf;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * {@code cairn-bench bookkeeper-conf}: writes the configuration of the Apache BookKeeper peer of
 * {@code perf/compare.sh}: one ZooKeeper ({@code zoo.cfg}) and N bookies ({@code bookie-I.conf}) on 127.0.0.1, each
 * bookie with its own journal and ledger directory under {@code --dir}, plus a log4j2 configuration.
 * <p>
 * The durability settings are fixed here, not flags, so that every BookKeeper row means the same thing: an add is
 * acknowledged only after the journal entry that holds it was written and fsynced on every bookie of the write quorum
 * ({@code journalSyncData=true}; the client waits for ack quorum = write quorum = 3). Group commit stays on (like
 * Cairn's), but the journal flushes as soon as its queue is empty instead of waiting up to
 * {@code journalMaxGroupWaitMSec} for more adds, which only changes latency at low load, never what an ack means.
 */
final class BookKeeperConf
{
    static final String USAGE = """
        usage: cairn-bench bookkeeper-conf --dir DIR [--zk-port N] [--bookie-ports P,P,P]
          --dir           where the configuration and every bookie's journal/ and ledgers/ go (use the file system
                          that holds Cairn's data dir, so both write to the same disk; not tmpfs)
          --zk-port       ZooKeeper's client port on 127.0.0.1 (default 21810)
          --bookie-ports  one port per bookie on 127.0.0.1, at least 3 (default 21811,21812,21813)
        writes DIR/zoo.cfg, DIR/bookie-1.conf..., DIR/log4j2.xml and prints the metadata service URI
        """;

    static final int ZK_PORT_DEFAULT = 21810;
    static final int[] BOOKIE_PORTS_DEFAULT = { 21811, 21812, 21813 };
    /** Ensemble 3 needs 3 bookies. */
    static final int MIN_BOOKIES = 3;
    /** Enough for a peer on one machine; a bound so a typo cannot start hundreds of JVMs. */
    static final int MAX_BOOKIES = 9;
    static final int MIN_PORT = 1024;
    static final int MAX_PORT = 65535;

    record Options(Path dir, int zkPort, int[] bookiePorts)
    {
    }

    private BookKeeperConf()
    {
    }

    static Options parse(final String[] args)
    {
        Path dir = null;
        int zkPort = ZK_PORT_DEFAULT;
        int[] bookiePorts = BOOKIE_PORTS_DEFAULT.clone();
        for (int i = 0; i < args.length; i++)
        {
            final String a = args[i];
            switch (a)
            {
                case "--dir" -> dir = Path.of(BenchArgs.value(args, ++i, a));
                case "--zk-port" -> zkPort = (int)BenchArgs.number(args, ++i, a, MIN_PORT, MAX_PORT);
                case "--bookie-ports" -> bookiePorts = ports(BenchArgs.value(args, ++i, a), a);
                default -> throw new IllegalArgumentException("unknown argument '" + a + "'");
            }
        }
        if (null == dir)
        {
            throw new IllegalArgumentException("--dir is required");
        }
        for (final int p : bookiePorts)
        {
            if (p == zkPort)
            {
                throw new IllegalArgumentException("--bookie-ports " + p + " is also --zk-port");
            }
        }
        return new Options(dir, zkPort, bookiePorts);
    }

    private static int[] ports(final String list, final String flag)
    {
        final String[] parts = list.split(",", -1);
        if (parts.length < MIN_BOOKIES || parts.length > MAX_BOOKIES)
        {
            throw new IllegalArgumentException(flag + " '" + list + "' must list " + MIN_BOOKIES + " to " +
                MAX_BOOKIES + " ports (ensemble 3 needs 3 bookies)");
        }
        final int[] ports = new int[parts.length];
        final Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < parts.length; i++)
        {
            ports[i] = (int)BenchArgs.number(parts, i, flag, MIN_PORT, MAX_PORT);
            if (!seen.add(ports[i]))
            {
                throw new IllegalArgumentException(flag + " '" + list + "' lists port " + ports[i] + " twice");
            }
        }
        return ports;
    }

    static String metadataServiceUri(final int zkPort)
    {
        return "zk+hierarchical://127.0.0.1:" + zkPort + "/ledgers";
    }

    static String zooCfg(final Path dir, final int zkPort)
    {
        return String.join("\n",
            "# ZooKeeper for the BookKeeper peer (metadata only: ledger creation, bookie registration; not on the add path)",
            "tickTime=2000",
            "dataDir=" + dir.resolve("zk").toAbsolutePath(),
            "clientPort=" + zkPort,
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            "admin.enableServer=false",
            "4lw.commands.whitelist=srvr",
            "");
    }

    static String bookieConf(final Path dir, final int zkPort, final int bookieIndex, final int bookiePort)
    {
        final Path home = dir.resolve("bookie-" + bookieIndex).toAbsolutePath();
        return String.join("\n",
            "# Bookie " + bookieIndex + " of the BookKeeper peer (written by cairn-bench bookkeeper-conf)",
            "bookiePort=" + bookiePort,
            "listeningInterface=lo",
            "allowLoopback=true",
            "useHostNameAsBookieID=false",
            "metadataServiceUri=" + metadataServiceUri(zkPort),
            "journalDirectories=" + home.resolve("journal"),
            "ledgerDirectories=" + home.resolve("ledgers"),
            "# Durability: an add is acknowledged after its journal write was fsynced (fdatasync) on this bookie.",
            "journalSyncData=true",
            "journalWriteData=true",
            "# Group commit: adds that queue up while a sync runs share the next one (as Cairn's group commit does);",
            "# flush at once when the queue is empty rather than wait up to journalMaxGroupWaitMSec for company.",
            "journalAdaptiveGroupWrites=true",
            "journalFlushWhenQueueEmpty=true",
            "journalMaxGroupWaitMSec=2",
            "journalBufferedWritesThreshold=524288",
            "journalBufferedEntriesThreshold=0",
            "# Ledger storage is flushed in the background (checkpoints); the journal is what makes an add durable.",
            "ledgerStorageClass=org.apache.bookkeeper.bookie.SortedLedgerStorage",
            "httpServerEnabled=false",
            "statsProviderClass=org.apache.bookkeeper.stats.NullStatsProvider",
            "");
    }

    static String log4j2Xml()
    {
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- Logs of the BookKeeper peer's JVMs: warnings, plus the bookie's start-up lines. To stdout (a log file). -->
            <Configuration status="warn">
              <Appenders>
                <Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="%d{HH:mm:ss.SSS} %-5p %c{1} - %m%n"/></Console>
              </Appenders>
              <Loggers>
                <Logger name="org.apache.bookkeeper.server" level="info"/>
                <Logger name="org.apache.bookkeeper.proto.BookieServer" level="info"/>
                <Root level="warn"><AppenderRef ref="out"/></Root>
              </Loggers>
            </Configuration>
            """;
    }

    static void write(final Options o) throws IOException
    {
        Files.createDirectories(o.dir().resolve("zk"));
        Files.writeString(o.dir().resolve("zoo.cfg"), zooCfg(o.dir(), o.zkPort()));
        Files.writeString(o.dir().resolve("log4j2.xml"), log4j2Xml());
        for (int i = 0; i < o.bookiePorts().length; i++)
        {
            final int index = i + 1;
            Files.createDirectories(o.dir().resolve("bookie-" + index).resolve("journal"));
            Files.createDirectories(o.dir().resolve("bookie-" + index).resolve("ledgers"));
            Files.writeString(o.dir().resolve("bookie-" + index + ".conf"),
                bookieConf(o.dir(), o.zkPort(), index, o.bookiePorts()[i]));
        }
    }

    static int main(final String[] args, final PrintStream out) throws IOException
    {
        final Options o = parse(args);
        write(o);
        out.println(metadataServiceUri(o.zkPort()) + " " + o.bookiePorts().length + " bookies, ports " +
            Arrays.toString(o.bookiePorts()) + ", in " + o.dir().toAbsolutePath());
        return 0;
    }
}
