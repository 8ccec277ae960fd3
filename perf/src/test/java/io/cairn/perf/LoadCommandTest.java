package io.cairn.perf;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The load command's options, the bookkeeper target's above all; every bad flag is named in its error. */
class LoadCommandTest
{
    @Test
    void bookKeeperTargetDefaultsToEnsembleThreeWriteThreeAckThree()
    {
        final LoadCommand.Options o = LoadCommand.parse(new String[]{ "--target", "bookkeeper", "--mode", "closed" });
        assertEquals("bookkeeper", o.target());
        assertEquals(LoadRig.Mode.CLOSED, o.rig().mode());
        final LoadCommand.BookKeeperOptions bk = o.bookKeeper();
        assertEquals(3, bk.ensemble());
        assertEquals(3, bk.writeQuorum());
        assertEquals(3, bk.ackQuorum());
        assertEquals("zk+hierarchical://127.0.0.1:21810/ledgers", bk.metadataServiceUri());
        assertEquals(TimeUnit.SECONDS.toNanos(60), bk.waitNs());
        assertEquals("bookkeeper-closed-1t", o.label());
    }

    @Test
    void bookKeeperFlagsAreParsed()
    {
        final LoadCommand.Options o = LoadCommand.parse(new String[]{ "--target", "bookkeeper", "--bk-zk",
            "localhost:2181", "--bk-ensemble", "5", "--bk-write-quorum", "3", "--bk-ack-quorum", "2", "--bk-wait-s",
            "5", "--size-bytes", "65536", "--rate", "300" });
        assertEquals("zk+hierarchical://localhost:2181/ledgers", o.bookKeeper().metadataServiceUri());
        assertEquals(5, o.bookKeeper().ensemble());
        assertEquals(3, o.bookKeeper().writeQuorum());
        assertEquals(2, o.bookKeeper().ackQuorum());
        assertEquals(TimeUnit.SECONDS.toNanos(5), o.bookKeeper().waitNs());
        assertEquals(65536, o.sizeBytes());
        assertEquals(300, o.rig().ratePerS());
    }

    @Test
    void badFlagsAreRejectedNamingTheFlag()
    {
        assertError("--target must be append, read, kv-put, kv-get, echo or bookkeeper", "--target", "bk");
        assertError("--bk-write-quorum 3 must be <= --bk-ensemble 2", "--target", "bookkeeper", "--bk-ensemble", "2");
        assertError("--bk-ack-quorum 3 must be <= --bk-write-quorum 2", "--target", "bookkeeper", "--bk-ensemble", "3",
            "--bk-write-quorum", "2");
        assertError("--bk-ensemble 0 must be in [1, 9]", "--target", "bookkeeper", "--bk-ensemble", "0");
        assertError("--bk-zk 'localhost' must be HOST:PORT", "--target", "bookkeeper", "--bk-zk", "localhost");
        assertError("--bk-zk port 'x' is not a whole number", "--target", "bookkeeper", "--bk-zk", "h:x");
        assertError("--bk-zk port 70000 must be in [1, 65535]", "--target", "bookkeeper", "--bk-zk", "h:70000");
        assertError("--bk-wait-s needs a value", "--target", "bookkeeper", "--bk-wait-s");
        assertError("--mode must be open or closed", "--target", "bookkeeper", "--mode", "both");
        assertError("--bk-ensemble applies only to --target bookkeeper", "--target", "append", "--bk-ensemble", "3");
    }

    private static void assertError(final String message, final String... args)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> LoadCommand.parse(args));
        assertEquals(message, ex.getMessage());
    }
}
