package io.cairn.replication.metrics;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ErrorLogFileTest
{
    final Path dir = Path.of("target", "error-log-test-" + System.nanoTime()).toAbsolutePath();

    @AfterEach
    void tearDown() throws IOException
    {
        if (Files.exists(dir))
        {
            try (Stream<Path> files = Files.walk(dir))
            {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void theSameErrorAThousandTimesIsOneEntryCountedAThousandTimes() throws IOException
    {
        final AtomicLong nowMs = new AtomicLong(1_000);
        try (ErrorLogFile log = ErrorLogFile.create(dir, ErrorLogFile.LENGTH_BYTES_MIN, nowMs::get))
        {
            final IllegalStateException same = new IllegalStateException("peer 2 unreachable");
            for (int i = 0; i < 1000; i++)
            {
                log.onError(same);
                nowMs.incrementAndGet();
            }
            log.onError(new java.io.UncheckedIOException(new IOException("disk 0 fdatasync failed")));
            assertEquals(1001, log.observations());
        }
        final ErrorLogFile.Contents contents = ErrorLogFile.read(dir.resolve(ErrorLogFile.FILE_NAME));
        assertEquals(2, contents.entries().size());
        final ErrorLogFile.Entry first = contents.entries().getFirst();
        assertEquals(1000, first.count());
        assertEquals(1_000, first.firstMs());
        assertEquals(1_999, first.lastMs());
        assertTrue(first.description().contains("peer 2 unreachable"), first.description());
        assertEquals(1, contents.entries().get(1).count());
        assertEquals(1001, contents.observations());
        assertEquals(0, contents.dropped());
        assertEquals(ProcessHandle.current().pid(), contents.pid());
    }

    @Test
    void aFullLogCountsWhatItCouldNotRecord() throws IOException
    {
        try (ErrorLogFile log = ErrorLogFile.create(dir, ErrorLogFile.LENGTH_BYTES_MIN, System::currentTimeMillis))
        {
            for (int i = 0; i < 2000; i++)
            {
                log.onError(new IllegalStateException("distinct error " + i + " " + "x".repeat(200)));
            }
            assertTrue(log.dropped() > 0, "a 64 KiB log cannot hold 2000 distinct errors");
            assertEquals(2000, log.observations());
        }
        final ErrorLogFile.Contents contents = ErrorLogFile.read(dir.resolve(ErrorLogFile.FILE_NAME));
        assertEquals(2000, contents.entries().size() + contents.dropped());
    }

    @Test
    void aRestartKeepsThePreviousRunsErrors() throws IOException
    {
        try (ErrorLogFile log = ErrorLogFile.create(dir, ErrorLogFile.LENGTH_BYTES_MIN, System::currentTimeMillis))
        {
            log.onError(new IllegalStateException("before the crash"));
        }
        try (ErrorLogFile ignored = ErrorLogFile.create(dir, ErrorLogFile.LENGTH_BYTES_MIN, System::currentTimeMillis))
        {
            assertEquals(0, ErrorLogFile.read(dir.resolve(ErrorLogFile.FILE_NAME)).entries().size());
            final ErrorLogFile.Contents previous = ErrorLogFile.read(dir.resolve(ErrorLogFile.PREVIOUS_FILE_NAME));
            assertTrue(previous.entries().getFirst().description().contains("before the crash"));
        }
    }

    @Test
    void junkAndShortFilesAreRefusedByName() throws IOException
    {
        Files.createDirectories(dir);
        final Path junk = dir.resolve("junk.dat");
        Files.write(junk, new byte[ErrorLogFile.HEADER_LENGTH_BYTES + ErrorLogFile.LENGTH_BYTES_MIN]);
        final IllegalStateException bad = assertThrows(IllegalStateException.class, () -> ErrorLogFile.read(junk));
        assertTrue(bad.getMessage().contains("junk.dat") && bad.getMessage().contains("magic"), bad.getMessage());
        final Path shortFile = dir.resolve("short.dat");
        Files.write(shortFile, new byte[100]);
        final IllegalStateException tooShort = assertThrows(IllegalStateException.class,
            () -> ErrorLogFile.read(shortFile));
        assertTrue(tooShort.getMessage().contains("too short"), tooShort.getMessage());
        final IllegalArgumentException length = assertThrows(IllegalArgumentException.class,
            () -> ErrorLogFile.create(dir, 1000, System::currentTimeMillis));
        assertTrue(length.getMessage().contains("1000"), length.getMessage());
    }
}
