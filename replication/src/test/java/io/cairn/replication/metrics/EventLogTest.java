package io.cairn.replication.metrics;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventLogTest
{
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final AtomicLong nowNs = new AtomicLong(1_000_000_000L);
    final EventLog log = new EventLog("cairn-node-1", new PrintStream(bytes, true, StandardCharsets.UTF_8),
        () -> 1_700_000_000_000L, nowNs::get, 3, 1_000_000_000L);

    String[] lines()
    {
        final String text = bytes.toString(StandardCharsets.UTF_8);
        return text.isEmpty() ? new String[0] : text.split("\n");
    }

    @Test
    void linesAreKeyValueWithQuotingWhereNeeded()
    {
        assertTrue(log.warn("peer_unreachable", "peer", 2, "reason", "timed out after 5 s", "empty", ""));
        assertEquals("ts=2023-11-14T22:13:20Z level=WARN process=cairn-node-1 event=peer_unreachable peer=2 " +
            "reason=\"timed out after 5 s\" empty=\"\"", lines()[0]);
        assertThrows(IllegalArgumentException.class, () -> log.info("odd", "key"));
    }

    @Test
    void aFlappingEventIsLimitedPerWindowAndTheSuppressedCountIsReported()
    {
        for (int i = 0; i < 100; i++)
        {
            log.warn("peer_unreachable", "peer", 2);
        }
        assertTrue(log.info("started"), "another event has its own limiter");
        assertEquals(4, lines().length, "3 of the flapping event, 1 of the other");
        assertEquals(97, log.suppressedTotal());

        nowNs.addAndGet(1_000_000_000L); // the window ends
        log.flush();
        final String[] lines = lines();
        assertEquals(5, lines.length);
        assertTrue(lines[4].contains("event=log_suppressed suppressed_event=peer_unreachable count=97 window_ms=1000"),
            lines[4]);

        assertTrue(log.warn("peer_unreachable", "peer", 2), "a new window lets the event through again");
        log.flush();
        assertEquals(6, lines().length, "nothing suppressed in the new window, nothing more reported");
    }

    @Test
    void badLimitsAreRefused()
    {
        assertThrows(IllegalArgumentException.class, () -> new EventLog("p", System.err, () -> 0, () -> 0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new EventLog("p", System.err, () -> 0, () -> 0, 1, 0));
        assertFalse(log.suppressedTotal() > 0);
    }
}
