package io.cairn.perf;

import org.apache.bookkeeper.client.BKException;
import org.apache.bookkeeper.client.BookKeeper;
import org.apache.bookkeeper.client.LedgerHandle;
import org.apache.bookkeeper.conf.ClientConfiguration;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The load rig's {@code bookkeeper} target: synchronous {@code LedgerHandle.addEntry} calls, one ledger per worker
 * (ensemble / write quorum / ack quorum from the options, 3/3/3 in perf/compare.sh), all workers on one BookKeeper
 * client, the way Cairn's append target gives each worker its own stream.
 * <p>
 * This class is compiled against bookkeeper-server (provided scope) and only loads when the JVM's classpath holds
 * perf/target/bookkeeper-lib, never on cairn-bench's own classpath; {@link LoadCommand} reaches it only through
 * {@link #open}, whose signature names no BookKeeper type.
 */
final class BookKeeperLoad implements LoadRig.OperationFactory, AutoCloseable
{
    /** ZooKeeper is local and idle during the run; a short session notices a dead one quickly. */
    private static final int ZK_SESSION_TIMEOUT_MS = 10_000;
    private static final byte[] PASSWORD = "cairn-perf".getBytes(StandardCharsets.US_ASCII);

    private final LoadCommand.BookKeeperOptions options;
    private final int sizeBytes;
    private final BookKeeper client;
    private final Queue<LedgerHandle> ledgers = new ConcurrentLinkedQueue<>();

    private BookKeeperLoad(final LoadCommand.BookKeeperOptions options, final int sizeBytes) throws Exception
    {
        this.options = options;
        this.sizeBytes = sizeBytes;
        final ClientConfiguration conf = new ClientConfiguration()
            .setMetadataServiceUri(options.metadataServiceUri())
            .setAddEntryTimeout((int)TimeUnit.NANOSECONDS.toSeconds(options.addTimeoutNs()))
            .setZkTimeout(ZK_SESSION_TIMEOUT_MS);
        client = BookKeeper.forConfig(conf).build();
    }

    /** A factory on a new BookKeeper client; close it after the run (closes every ledger and the client). */
    static LoadRig.OperationFactory open(final LoadCommand.BookKeeperOptions options, final int sizeBytes)
        throws Exception
    {
        return new BookKeeperLoad(options, sizeBytes);
    }

    public LoadRig.Operation create(final int workerIndex) throws Exception
    {
        final LedgerHandle ledger = createLedger();
        ledgers.add(ledger);
        final byte[] payload = new byte[sizeBytes];
        ThreadLocalRandom.current().nextBytes(payload);
        final ByteBuffer sequenceView = ByteBuffer.wrap(payload);
        return sequence ->
        {
            if (sizeBytes >= Long.BYTES)
            {
                sequenceView.putLong(0, sequence);
            }
            ledger.addEntry(payload);
        };
    }

    /** Bookies register in ZooKeeper a few seconds after they start: retry until enough are there. */
    private LedgerHandle createLedger() throws Exception
    {
        final long deadlineNs = System.nanoTime() + options.waitNs();
        while (true)
        {
            try
            {
                return client.createLedger(options.ensemble(), options.writeQuorum(), options.ackQuorum(),
                    BookKeeper.DigestType.CRC32C, PASSWORD);
            }
            catch (final BKException.BKNotEnoughBookiesException ex)
            {
                if (System.nanoTime() - deadlineNs > 0)
                {
                    throw new IllegalStateException("fewer than " + options.ensemble() + " bookies registered at " +
                        options.metadataServiceUri() + " after --bk-wait-s", ex);
                }
                Thread.sleep(200);
            }
        }
    }

    public void close() throws Exception
    {
        for (LedgerHandle l = ledgers.poll(); null != l; l = ledgers.poll())
        {
            l.close();
        }
        client.close();
    }
}
