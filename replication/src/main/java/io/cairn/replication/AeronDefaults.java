package io.cairn.replication;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingMillisIdleStrategy;

import java.io.File;
import java.util.concurrent.TimeUnit;

/**
 * How every Cairn process configures its embedded Aeron media driver and idle strategies.
 * <p>
 * Why: on a 2-core machine busy-spinning agents starve each other (Aeron's own ping-pong did not finish
 * warming up), so the default is SHARED threading with a backoff idle strategy capped at a short park.
 * Busy-spin is a production option, selected with {@link #IDLE_PROP_NAME}.
 */
public final class AeronDefaults
{
    /** System property selecting the idle strategy: {@code backoff} (default), {@code busy} or {@code sleep}. */
    public static final String IDLE_PROP_NAME = "cairn.idle.strategy";
    public static final String IDLE_DEFAULT = "backoff";

    /** System property for the directory that holds Aeron directories; /dev/shm keeps them in memory. */
    public static final String AERON_BASE_DIR_PROP_NAME = "cairn.aeron.base.dir";
    public static final String AERON_BASE_DIR_DEFAULT = "/dev/shm";

    /** Term length of publications created by Cairn: the largest message is termLength / 8. */
    public static final String TERM_LENGTH_PROP_NAME = "cairn.aeron.term.length";
    public static final int TERM_LENGTH_DEFAULT = 16 * 1024 * 1024;

    /** Upper bound of a park while idle on the data path: low latency without burning a core. */
    public static final String MAX_PARK_NS_PROP_NAME = "cairn.idle.max.park.ns";
    public static final long MAX_PARK_NS_DEFAULT = TimeUnit.MICROSECONDS.toNanos(50);

    /**
     * Upper bound of a park while idle on the control plane (manager members: driver, archive, consensus
     * module, service — four agents per member). Metadata calls are rare, and twelve agents waking every
     * 50 µs on a 2-core machine took a third of the CPU from the data path.
     */
    public static final String CONTROL_MAX_PARK_NS_PROP_NAME = "cairn.idle.control.max.park.ns";
    public static final long CONTROL_MAX_PARK_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(1);

    private AeronDefaults()
    {
    }

    /**
     * @return the idle strategy for data-path agents, from {@link #IDLE_PROP_NAME} and
     * {@link #MAX_PARK_NS_PROP_NAME}.
     */
    public static IdleStrategy idleStrategy()
    {
        return idleStrategy(maxParkNs(MAX_PARK_NS_PROP_NAME, MAX_PARK_NS_DEFAULT));
    }

    /**
     * @return the idle strategy for control-plane agents (manager members), capped by
     * {@link #CONTROL_MAX_PARK_NS_PROP_NAME}.
     */
    public static IdleStrategy controlIdleStrategy()
    {
        return idleStrategy(maxParkNs(CONTROL_MAX_PARK_NS_PROP_NAME, CONTROL_MAX_PARK_NS_DEFAULT));
    }

    private static long maxParkNs(final String propName, final long defaultNs)
    {
        final long ns = Long.getLong(propName, defaultNs);
        if (ns < 1_000 || ns > TimeUnit.SECONDS.toNanos(1))
        {
            throw new IllegalArgumentException(propName + "=" + ns + " must be in [1000, 1000000000] ns");
        }
        return ns;
    }

    private static IdleStrategy idleStrategy(final long maxParkNs)
    {
        final String name = System.getProperty(IDLE_PROP_NAME, IDLE_DEFAULT);
        return switch (name)
        {
            case "backoff" -> new BackoffIdleStrategy(10, 20, 1_000, maxParkNs);
            case "busy" -> new org.agrona.concurrent.BusySpinIdleStrategy();
            case "sleep" -> new SleepingMillisIdleStrategy(1);
            default -> throw new IllegalArgumentException(
                IDLE_PROP_NAME + "=" + name + " is not one of: backoff, busy, sleep");
        };
    }

    /**
     * @param name unique name of this process, e.g. {@code node-1} or {@code client-1234}.
     * @return the Aeron directory for that process under {@link #AERON_BASE_DIR_PROP_NAME}.
     */
    public static String aeronDirectory(final String name)
    {
        return new File(System.getProperty(AERON_BASE_DIR_PROP_NAME, AERON_BASE_DIR_DEFAULT), "cairn-" + name)
            .getAbsolutePath();
    }

    /**
     * @return the configured publication term length, validated as a power of two in [64 KiB, 1 GiB].
     */
    public static int termLength()
    {
        final int termLength = Integer.getInteger(TERM_LENGTH_PROP_NAME, TERM_LENGTH_DEFAULT);
        if (termLength < 64 * 1024 || termLength > 1024 * 1024 * 1024 || Integer.bitCount(termLength) != 1)
        {
            throw new IllegalArgumentException(
                TERM_LENGTH_PROP_NAME + "=" + termLength + " must be a power of two in [65536, 1073741824]");
        }
        return termLength;
    }

    /**
     * The largest message a publication with the configured term length carries (Aeron's limit).
     *
     * @return termLength / 8, at most 16 MiB.
     */
    public static int maxMessageLength()
    {
        return Math.min(termLength() / 8, 16 * 1024 * 1024);
    }

    /**
     * A media driver context for an embedded driver owned by one Cairn process: SHARED threading,
     * backoff idle, directory deleted on start (a process restarted after kill -9 must not trip on its
     * predecessor's files) and on close.
     *
     * @param name unique process name, see {@link #aeronDirectory(String)}.
     * @return the context, for the caller to adjust before launch.
     */
    public static MediaDriver.Context driverContext(final String name)
    {
        final int termLength = termLength();
        return new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectory(name))
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(idleStrategy())
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .publicationTermBufferLength(termLength)
            .ipcTermBufferLength(termLength)
            .initialWindowLength(Math.min(termLength / 2, 2 * 1024 * 1024))
            .socketSndbufLength(2 * 1024 * 1024)
            .socketRcvbufLength(2 * 1024 * 1024)
            .termBufferSparseFile(true)
            .spiesSimulateConnection(true)
            .warnIfDirectoryExists(false)
            .publicationUnblockTimeoutNs(TimeUnit.SECONDS.toNanos(15))
            .clientLivenessTimeoutNs(TimeUnit.SECONDS.toNanos(10));
    }
}
