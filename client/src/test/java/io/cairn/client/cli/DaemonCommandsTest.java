package io.cairn.client.cli;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.cairn.client.CairnCli;
import io.cairn.daemon.DiskCounters;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.ReplicationCounters;
import io.cairn.replication.metrics.DutyCycleAgent;
import io.cairn.replication.metrics.ErrorLogFile;
import io.cairn.replication.metrics.Metric;
import org.agrona.CloseHelper;
import org.agrona.concurrent.status.AtomicCounter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code cairn stat}, {@code health} and {@code errors} against a real CnC file: an embedded media driver holding the
 * same counters an extent node registers (disk, replication, duty cycles), written from this test.
 */
class DaemonCommandsTest
{
    final String aeronDir = AeronDefaults.aeronDirectory("test-cli-daemon-commands");
    MediaDriver driver;
    Aeron aeron;
    DiskCounters disk;
    ReplicationCounters replication;
    DutyCycleAgent duty;
    final AtomicBoolean cycling = new AtomicBoolean(true);
    Thread agent;

    record Run(int code, String out, String err)
    {
    }

    static Run cli(final String... args)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = new CairnCli(new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @BeforeEach
    void setUp()
    {
        driver = MediaDriver.launch(AeronDefaults.driverContext("test-cli-daemon-commands").aeronDirectoryName(aeronDir));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir));
        disk = new DiskCounters(aeron::addCounter, 9, 0, "/data/d0");
        replication = new ReplicationCounters(aeron::addCounter, "node=9");
        duty = DutyCycleAgent.allocate(aeron::addCounter, "node=9");
        agent = new Thread(() ->
        {
            while (!Thread.currentThread().isInterrupted())
            {
                if (cycling.get())
                {
                    duty.doWork();
                }
                try
                {
                    Thread.sleep(1);
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        });
        agent.start();
    }

    @AfterEach
    void tearDown() throws InterruptedException
    {
        agent.interrupt();
        agent.join();
        CloseHelper.quietCloseAll(aeron, driver);
    }

    AtomicCounter diskCounter(final int typeId)
    {
        final AtomicCounter[] found = new AtomicCounter[1];
        aeron.countersReader().forEach((id, type, key, label) ->
        {
            if (type == typeId && null == found[0])
            {
                found[0] = new AtomicCounter(aeron.countersReader().valuesBuffer(), id);
            }
        });
        return found[0];
    }

    @Test
    void statShowsTheValuesTheDaemonWrote()
    {
        for (int i = 0; i < 17; i++)
        {
            replication.increment(ReplicationCounters.Counter.APPENDS_ACKED);
        }
        replication.appendLatency().record(1_500_000);
        disk.syncLatency().record(30_000);
        disk.syncLatency().record(40_000);
        diskCounter(Metric.DISK_WRITTEN_BYTES.typeId()).set(123_456);

        final Run json = cli("--json", "stat", "--aeron-dir", aeronDir);
        assertEquals(0, json.code(), json.err());
        assertTrue(json.out().contains("{\"name\":\"cairn_replication_appends_acked_total\",\"type\":\"counter\"," +
            "\"labels\":{\"node\":\"9\"},\"value\":" + replication.get(ReplicationCounters.Counter.APPENDS_ACKED) + "}"),
            json.out());
        assertTrue(json.out().contains("{\"name\":\"cairn_disk_written_bytes_total\",\"type\":\"counter\",\"labels\":" +
            "{\"node\":\"9\",\"disk\":\"0\",\"dir\":\"/data/d0\"},\"value\":" +
            disk.get(DiskCounters.Kind.BYTES_WRITTEN) + "}"), json.out());
        assertTrue(json.out().contains("\"name\":\"cairn_disk_sync_latency_seconds\",\"type\":\"histogram\",\"labels\":" +
            "{\"node\":\"9\",\"disk\":\"0\",\"dir\":\"/data/d0\"},\"count\":2,\"sumNs\":70000"), json.out());
        assertTrue(json.out().contains("\"pid\":" + ProcessHandle.current().pid()), json.out());

        final Run table = cli("stat", "--aeron-dir", aeronDir);
        assertEquals(0, table.code(), table.err());
        assertTrue(table.out().matches("(?s).*cairn_replication_appends_acked_total\\s+node=9\\s+17\\n.*"), table.out());
        assertTrue(table.out().matches("(?s).*cairn_disk_state\\s+node=9 disk=0 dir=/data/d0\\s+OK\\n.*"), table.out());
        assertTrue(table.out().matches("(?s).*cairn_replication_append_latency_seconds\\s+node=9\\s+count=1 " +
            "mean=1500.0us p50<=2097.2us.*"), table.out());
    }

    @Test
    void healthFailsOnAFailedDiskAStalledAgentAndAGoneDaemon()
    {
        final Run healthy = cli("health", "--aeron-dir", aeronDir, "--window-ms", "200");
        assertEquals(0, healthy.code(), healthy.out() + healthy.err());
        assertTrue(healthy.out().startsWith("healthy"), healthy.out());

        diskCounter(Metric.DISK_STATE.typeId()).set(DiskCounters.STATE_FAILED);
        final Run failedDisk = cli("health", "--aeron-dir", aeronDir, "--window-ms", "200");
        assertEquals(1, failedDisk.code());
        assertTrue(failedDisk.out().contains("problem: disk 0 (/data/d0) FAILED"), failedDisk.out());

        cycling.set(false);
        final Run stalled = cli("--json", "health", "--aeron-dir", aeronDir, "--window-ms", "200");
        assertEquals(1, stalled.code());
        assertTrue(stalled.out().contains("made no duty cycle in 200 ms"), stalled.out());

        CloseHelper.quietCloseAll(aeron, driver); // the driver removes its directory, as a daemon's does
        final Run gone = cli("health", "--aeron-dir", aeronDir);
        assertEquals(1, gone.code());
        assertTrue(gone.out().contains("not found"), gone.out());
    }

    @Test
    void errorsPrintsEachDistinctErrorOnceWithItsCount() throws Exception
    {
        try (ErrorLogFile log = ErrorLogFile.create(Path.of(aeronDir), ErrorLogFile.LENGTH_BYTES_MIN,
            System::currentTimeMillis))
        {
            final IllegalStateException same = new IllegalStateException("replica 2 timed out");
            for (int i = 0; i < 1000; i++)
            {
                log.onError(same);
            }
        }
        final Run run = cli("errors", "--aeron-dir", aeronDir);
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("1000 errors observed, 1 distinct"), run.out());
        assertTrue(run.out().contains("1000 observation(s), first "), run.out());
        assertEquals(1, run.out().split("replica 2 timed out", -1).length - 1, run.out());

        final Run both = cli("errors", "--aeron-dir", aeronDir, "--error-log-dir", aeronDir);
        assertEquals(0, both.code(), both.err());
        assertTrue(both.out().contains("1000 errors observed, 1 distinct"), both.out());

        final Run json = cli("--json", "errors", "--error-log-dir", aeronDir);
        assertEquals(0, json.code(), json.err());
        assertTrue(json.out().contains("\"observations\":1000,\"notRecorded\":0,\"errors\":[{\"count\":1000,"),
            json.out());

        final Run missing = cli("errors", "--error-log-dir", aeronDir, "--previous");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains(ErrorLogFile.PREVIOUS_FILE_NAME + " not found"), missing.err());
    }

    static Stream<Arguments> badFlags()
    {
        return Stream.of(
            Arguments.of(new String[]{ "stat" }, "stat: give exactly one of --node-id, --member-id, --aeron-dir"),
            Arguments.of(new String[]{ "stat", "--node-id", "x" }, "--node-id x: not an integer"),
            Arguments.of(new String[]{ "stat", "--node-id", "0" }, "--node-id 0: must be in [1,"),
            Arguments.of(new String[]{ "stat", "--node-id", "1", "--aeron-dir", "/x" }, "give exactly one of"),
            Arguments.of(new String[]{ "stat", "--window-ms", "5", "--node-id", "1" },
                "stat: unknown flag --window-ms (it belongs to 'health')"),
            Arguments.of(new String[]{ "stat", "--bogus", "1" }, "stat: unknown flag --bogus"),
            Arguments.of(new String[]{ "stat", "--member-id", "7" }, "--member-id 7: not in --managers"),
            Arguments.of(new String[]{ "health", "--node-id", "1", "--window-ms", "0" }, "--window-ms 0: must be in [1,"),
            Arguments.of(new String[]{ "health", "--node-id" }, "--node-id needs a value"),
            Arguments.of(new String[]{ "errors", "--cluster" }, "errors: unknown flag --cluster"));
    }

    @ParameterizedTest
    @MethodSource("badFlags")
    void badFlagsAreNamedAndExitTwo(final String[] args, final String expected)
    {
        final Run run = cli(args);
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains(expected), run.err());
    }
}
