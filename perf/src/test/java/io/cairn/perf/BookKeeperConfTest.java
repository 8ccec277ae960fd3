package io.cairn.perf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BookKeeper peer's configuration: durable adds, loopback only, one directory tree per bookie; bad flags named. */
class BookKeeperConfTest
{
    @TempDir
    Path dir;

    private static Properties props(final String text) throws Exception
    {
        final Properties p = new Properties();
        p.load(new StringReader(text));
        return p;
    }

    @Test
    void writesZooKeeperAndOneConfigurationPerBookieWithItsOwnDirectories() throws Exception
    {
        final BookKeeperConf.Options o = BookKeeperConf.parse(new String[]{
            "--dir", dir.toString(), "--zk-port", "22810", "--bookie-ports", "22811,22812,22813" });
        BookKeeperConf.write(o);

        final Properties zk = props(Files.readString(dir.resolve("zoo.cfg")));
        assertEquals("22810", zk.getProperty("clientPort"));
        assertEquals("127.0.0.1", zk.getProperty("clientPortAddress"));
        assertEquals(dir.resolve("zk").toAbsolutePath().toString(), zk.getProperty("dataDir"));
        for (int i = 1; i <= 3; i++)
        {
            final Properties b = props(Files.readString(dir.resolve("bookie-" + i + ".conf")));
            assertEquals(String.valueOf(22810 + i), b.getProperty("bookiePort"));
            assertEquals("zk+hierarchical://127.0.0.1:22810/ledgers", b.getProperty("metadataServiceUri"));
            assertEquals(dir.resolve("bookie-" + i).resolve("journal").toAbsolutePath().toString(),
                b.getProperty("journalDirectories"));
            assertEquals(dir.resolve("bookie-" + i).resolve("ledgers").toAbsolutePath().toString(),
                b.getProperty("ledgerDirectories"));
            assertTrue(Files.isDirectory(dir.resolve("bookie-" + i).resolve("journal")));
            assertTrue(Files.isDirectory(dir.resolve("bookie-" + i).resolve("ledgers")));
            assertEquals("lo", b.getProperty("listeningInterface"));
            assertEquals("true", b.getProperty("allowLoopback"));
        }
        assertTrue(Files.readString(dir.resolve("log4j2.xml")).contains("<Configuration"));
    }

    @Test
    void everyAcknowledgedAddIsFsyncedInTheJournal() throws Exception
    {
        final Properties b = props(BookKeeperConf.bookieConf(dir, 21810, 1, 21811));
        assertEquals("true", b.getProperty("journalSyncData"), "the journal fsyncs before the add is acknowledged");
        assertEquals("true", b.getProperty("journalWriteData"), "entries are written to the journal at all");
        assertEquals("true", b.getProperty("journalFlushWhenQueueEmpty"), "no deliberate group-commit wait");
    }

    @Test
    void defaultsAreThreeBookiesBesideZooKeeper()
    {
        final BookKeeperConf.Options o = BookKeeperConf.parse(new String[]{ "--dir", dir.toString() });
        assertEquals(BookKeeperConf.ZK_PORT_DEFAULT, o.zkPort());
        assertArrayEquals(new int[]{ 21811, 21812, 21813 }, o.bookiePorts());
    }

    @Test
    void badFlagsAreRejectedNamingTheFlag()
    {
        assertError("--dir is required", "--zk-port", "22810");
        assertError("--bookie-ports '1,2' must list 3 to 9 ports", "--dir", "d", "--bookie-ports", "1,2");
        assertError("--bookie-ports 'x' is not a whole number", "--dir", "d", "--bookie-ports", "2000,x,2002");
        assertError("--bookie-ports '2000,2001,2000' lists port 2000 twice", "--dir", "d", "--bookie-ports",
            "2000,2001,2000");
        assertError("--bookie-ports 21810 is also --zk-port", "--dir", "d", "--bookie-ports", "21810,21811,21812");
        assertError("--zk-port 80 must be in [1024, 65535]", "--dir", "d", "--zk-port", "80");
        assertError("--zk-port needs a value", "--dir", "d", "--zk-port");
        assertError("unknown argument '--journal-sync'", "--dir", "d", "--journal-sync", "false");
    }

    private static void assertError(final String message, final String... args)
    {
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> BookKeeperConf.parse(args));
        assertTrue(ex.getMessage().startsWith(message), ex.getMessage());
    }
}
