package io.cairn.replication.metrics;

import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.NanoClock;

import java.io.PrintStream;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A daemon's structured event log: one line per event, {@code key=value} pairs
 * ({@code ts=... level=WARN process=cairn-node-1 event=manager_unreachable member=0 error="..."}), and a rate limiter
 * per event name, so a flapping peer cannot flood the log: beyond {@link #maxPerWindow} lines of one event per
 * window the rest are counted, and the count is reported as an {@code event=log_suppressed} line once the window
 * ends. For rare events (start, role changes, failures), never per request on the hot path: a line allocates.
 */
public final class EventLog
{
    /** Default most lines of one event per window. */
    public static final int MAX_PER_WINDOW_DEFAULT = 10;
    /** Default window: 10 s. */
    public static final long WINDOW_NS_DEFAULT = 10_000_000_000L;
    /** Most distinct event names limited separately; more share one limiter (a bug, but never a leak). */
    public static final int MAX_EVENT_NAMES = 256;
    /** The limiter that names beyond {@link #MAX_EVENT_NAMES} share. */
    static final String OVERFLOW_EVENT = "other";

    /** Severity. */
    public enum Level
    {
        /** Expected, useful to an operator. */
        INFO,
        /** Something degraded. */
        WARN,
        /** Something failed. */
        ERROR
    }

    private final String process;
    private final PrintStream out;
    private final EpochClock epochClock;
    private final NanoClock nanoClock;
    private final int maxPerWindow;
    private final long windowNs;
    private final Map<String, Limiter> limiters = new HashMap<>();
    private final AtomicLong suppressedTotal = new AtomicLong();

    /**
     * @param process      the daemon, e.g. {@code cairn-node-1}.
     * @param out          where lines go.
     * @param epochClock   stamps lines.
     * @param nanoClock    paces the limiter.
     * @param maxPerWindow most lines of one event per window, at least 1.
     * @param windowNs     the window, &gt; 0.
     */
    public EventLog(
        final String process, final PrintStream out, final EpochClock epochClock, final NanoClock nanoClock,
        final int maxPerWindow, final long windowNs)
    {
        if (maxPerWindow < 1 || windowNs <= 0)
        {
            throw new IllegalArgumentException("event log limits: maxPerWindow " + maxPerWindow + " must be >= 1 and " +
                "windowNs " + windowNs + " > 0");
        }
        this.process = process;
        this.out = out;
        this.epochClock = epochClock;
        this.nanoClock = nanoClock;
        this.maxPerWindow = maxPerWindow;
        this.windowNs = windowNs;
    }

    /**
     * @param process the daemon.
     * @param out     where lines go.
     * @return a log with the default limits and the system clocks.
     */
    public static EventLog forDaemon(final String process, final PrintStream out)
    {
        return new EventLog(process, out, System::currentTimeMillis, System::nanoTime, MAX_PER_WINDOW_DEFAULT,
            WINDOW_NS_DEFAULT);
    }

    /**
     * Log an event unless its limiter says no.
     *
     * @param level     severity.
     * @param event     the event's name, {@code snake_case}; the unit of rate limiting.
     * @param keyValues alternating keys and values (values are quoted when they hold spaces or quotes).
     * @return whether the line was written.
     */
    public synchronized boolean log(final Level level, final String event, final Object... keyValues)
    {
        if (keyValues.length % 2 != 0)
        {
            throw new IllegalArgumentException("event " + event + ": keys and values must come in pairs");
        }
        final long nowNs = nanoClock.nanoTime();
        reportEndedWindows(nowNs);
        final Limiter limiter = limiter(event);
        if (nowNs - limiter.windowStartNs >= windowNs)
        {
            limiter.windowStartNs = nowNs;
            limiter.written = 0;
        }
        if (limiter.written >= maxPerWindow)
        {
            limiter.suppressed++;
            suppressedTotal.incrementAndGet();
            return false;
        }
        limiter.written++;
        final StringBuilder line = start(level, event);
        for (int i = 0; i < keyValues.length; i += 2)
        {
            append(line, String.valueOf(keyValues[i]), keyValues[i + 1]);
        }
        out.println(line);
        return true;
    }

    /**
     * @param event     name.
     * @param keyValues pairs.
     * @return whether written.
     */
    public boolean info(final String event, final Object... keyValues)
    {
        return log(Level.INFO, event, keyValues);
    }

    /**
     * @param event     name.
     * @param keyValues pairs.
     * @return whether written.
     */
    public boolean warn(final String event, final Object... keyValues)
    {
        return log(Level.WARN, event, keyValues);
    }

    /**
     * @param event     name.
     * @param keyValues pairs.
     * @return whether written.
     */
    public boolean error(final String event, final Object... keyValues)
    {
        return log(Level.ERROR, event, keyValues);
    }

    /**
     * Report suppressed counts of windows that have ended (also done by every {@link #log}); daemons call it now and
     * then (and at shutdown) so a burst that stopped is still reported.
     */
    public synchronized void flush()
    {
        reportEndedWindows(nanoClock.nanoTime());
    }

    /** @return lines suppressed so far. */
    public long suppressedTotal()
    {
        return suppressedTotal.get();
    }

    private Limiter limiter(final String event)
    {
        Limiter limiter = limiters.get(event);
        if (null == limiter)
        {
            final String name = limiters.size() >= MAX_EVENT_NAMES ? OVERFLOW_EVENT : event;
            limiter = limiters.computeIfAbsent(name, k -> new Limiter(nanoClock.nanoTime()));
        }
        return limiter;
    }

    private void reportEndedWindows(final long nowNs)
    {
        for (final Map.Entry<String, Limiter> entry : limiters.entrySet())
        {
            final Limiter limiter = entry.getValue();
            if (limiter.suppressed > 0 && nowNs - limiter.windowStartNs >= windowNs)
            {
                final StringBuilder line = start(Level.WARN, "log_suppressed");
                append(line, "suppressed_event", entry.getKey());
                append(line, "count", limiter.suppressed);
                append(line, "window_ms", windowNs / 1_000_000);
                out.println(line);
                limiter.suppressed = 0;
            }
        }
    }

    private StringBuilder start(final Level level, final String event)
    {
        final StringBuilder line = new StringBuilder(128);
        line.append("ts=").append(Instant.ofEpochMilli(epochClock.time()));
        append(line, "level", level.name());
        append(line, "process", process);
        append(line, "event", event);
        return line;
    }

    static void append(final StringBuilder line, final String key, final Object value)
    {
        line.append(' ').append(key).append('=');
        final String text = String.valueOf(value);
        if (text.isEmpty() || text.indexOf(' ') >= 0 || text.indexOf('"') >= 0 || text.indexOf('=') >= 0 ||
            text.indexOf('\n') >= 0)
        {
            line.append('"').append(text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
        }
        else
        {
            line.append(text);
        }
    }

    private static final class Limiter
    {
        long windowStartNs;
        int written;
        long suppressed;

        Limiter(final long nowNs)
        {
            windowStartNs = nowNs;
        }
    }
}
