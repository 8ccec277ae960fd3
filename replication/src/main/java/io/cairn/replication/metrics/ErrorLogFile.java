package io.cairn.replication.metrics;

import org.agrona.ErrorHandler;
import org.agrona.IoUtil;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.errors.DistinctErrorLog;
import org.agrona.concurrent.errors.ErrorLogReader;

import java.io.File;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A daemon's de-duplicating error log: Agrona's {@link DistinctErrorLog} in a memory-mapped file
 * ({@value #FILE_NAME} in the daemon's error log directory), like the error log in Aeron's CnC file. The same error
 * (same type, message and stack) observed 1000 times is one entry with a count of 1000 and its first and last time,
 * so a repeating failure cannot fill the file or the disk. Every agent's error handler writes here; {@code cairn
 * errors} reads it, from another process, while the daemon runs or after it died.
 * <p>
 * File layout: a {@value #HEADER_LENGTH_BYTES}-byte header (magic, version, log length, observations, errors not
 * recorded because the log was full, pid, start time), then the log. At start a previous file is kept as
 * {@value #PREVIOUS_FILE_NAME}, so the errors of a crashed run survive one restart.
 */
public final class ErrorLogFile implements ErrorHandler, AutoCloseable
{
    /** The file's name. */
    public static final String FILE_NAME = "cairn-errors.dat";
    /** The previous run's file. */
    public static final String PREVIOUS_FILE_NAME = "cairn-errors.prev.dat";
    /** "CAIRNERR" little-endian. */
    public static final long MAGIC = 0x5252454E52494143L;
    /** Layout version. */
    public static final int VERSION = 1;
    /** Header length; the log starts here (aligned for the log's atomic accesses). */
    public static final int HEADER_LENGTH_BYTES = 64;
    /** Default log length: room for hundreds of distinct stack traces. */
    public static final int LENGTH_BYTES_DEFAULT = 1024 * 1024;
    /** Smallest log length. */
    public static final int LENGTH_BYTES_MIN = 64 * 1024;
    /** Largest log length. */
    public static final int LENGTH_BYTES_MAX = 64 * 1024 * 1024;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int LENGTH_OFFSET = 12;
    static final int OBSERVATIONS_OFFSET = 16;
    static final int DROPPED_OFFSET = 24;
    static final int PID_OFFSET = 32;
    static final int START_MS_OFFSET = 40;

    private final File file;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer header;
    private final DistinctErrorLog log;

    private ErrorLogFile(final File file, final MappedByteBuffer mapped, final int lengthBytes, final EpochClock clock)
    {
        this.file = file;
        this.mapped = mapped;
        header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH_BYTES);
        log = new DistinctErrorLog(new UnsafeBuffer(mapped, HEADER_LENGTH_BYTES, lengthBytes), clock);
    }

    /**
     * Create the file (keeping a previous one as {@value #PREVIOUS_FILE_NAME}).
     *
     * @param dir         the daemon's error log directory; created if absent.
     * @param lengthBytes log length, in [{@value #LENGTH_BYTES_MIN}, {@value #LENGTH_BYTES_MAX}], a multiple of 4096.
     * @param clock       stamps first and last observations.
     * @return the open log.
     * @throws IOException when the directory or file cannot be made.
     */
    public static ErrorLogFile create(final Path dir, final int lengthBytes, final EpochClock clock) throws IOException
    {
        validateLength("error log length", lengthBytes);
        Files.createDirectories(dir);
        final Path path = dir.resolve(FILE_NAME);
        if (Files.exists(path))
        {
            Files.move(path, dir.resolve(PREVIOUS_FILE_NAME), StandardCopyOption.REPLACE_EXISTING);
        }
        final MappedByteBuffer mapped = IoUtil.mapNewFile(path.toFile(), HEADER_LENGTH_BYTES + (long)lengthBytes);
        final ErrorLogFile errorLog = new ErrorLogFile(path.toFile(), mapped, lengthBytes, clock);
        errorLog.header.putLong(PID_OFFSET, ProcessHandle.current().pid());
        errorLog.header.putLong(START_MS_OFFSET, clock.time());
        errorLog.header.putInt(VERSION_OFFSET, VERSION);
        errorLog.header.putInt(LENGTH_OFFSET, lengthBytes);
        errorLog.header.putLongVolatile(MAGIC_OFFSET, MAGIC); // last: a reader sees a whole header or none
        return errorLog;
    }

    /**
     * @param what        the setting's name, for the message.
     * @param lengthBytes a log length.
     * @throws IllegalArgumentException unless it is a multiple of 4096 in the allowed range.
     */
    public static void validateLength(final String what, final long lengthBytes)
    {
        if (lengthBytes < LENGTH_BYTES_MIN || lengthBytes > LENGTH_BYTES_MAX || lengthBytes % 4096 != 0)
        {
            throw new IllegalArgumentException(what + " " + lengthBytes + ": must be a multiple of 4096 in [" +
                LENGTH_BYTES_MIN + ", " + LENGTH_BYTES_MAX + "]");
        }
    }

    /**
     * Record one error: counted always, recorded once per distinct error (later ones bump its count). Errors are rare
     * and off the hot path: the encoding allocates, and a lock keeps the count and the log in step.
     *
     * @param throwable the error.
     */
    public synchronized void onError(final Throwable throwable)
    {
        header.getAndAddLong(OBSERVATIONS_OFFSET, 1);
        if (!log.record(throwable))
        {
            header.getAndAddLong(DROPPED_OFFSET, 1);
        }
    }

    /** @return errors observed. */
    public long observations()
    {
        return header.getLongVolatile(OBSERVATIONS_OFFSET);
    }

    /** @return errors not recorded because the log was full. */
    public long dropped()
    {
        return header.getLongVolatile(DROPPED_OFFSET);
    }

    /** @return the file. */
    public File file()
    {
        return file;
    }

    /** Unmap (the file stays, for {@code cairn errors}). */
    public void close()
    {
        mapped.force();
        IoUtil.unmap(mapped);
    }

    /**
     * One distinct error.
     *
     * @param count       times observed.
     * @param firstMs     first observation, epoch ms.
     * @param lastMs      last observation, epoch ms.
     * @param description the error, with its stack trace.
     */
    public record Entry(int count, long firstMs, long lastMs, String description)
    {
    }

    /**
     * What a file holds.
     *
     * @param pid          the process that wrote it.
     * @param startMs      when it started, epoch ms.
     * @param observations errors observed.
     * @param dropped      errors not recorded, the log being full.
     * @param entries      distinct errors, oldest first.
     */
    public record Contents(long pid, long startMs, long observations, long dropped, List<Entry> entries)
    {
    }

    /**
     * Read a file (read-only mapping, the writer is not disturbed).
     *
     * @param path the file.
     * @return its contents.
     * @throws IOException when it cannot be read.
     * @throws IllegalStateException naming the file and the fault when it is not a Cairn error log.
     */
    public static Contents read(final Path path) throws IOException
    {
        final long size = Files.size(path);
        if (size < HEADER_LENGTH_BYTES + LENGTH_BYTES_MIN)
        {
            throw new IllegalStateException(path + ": " + size + " bytes, too short for a Cairn error log");
        }
        final MappedByteBuffer mapped = IoUtil.mapExistingFile(path.toFile(), FileChannel.MapMode.READ_ONLY, "errors");
        try
        {
            final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH_BYTES);
            if (header.getLongVolatile(MAGIC_OFFSET) != MAGIC)
            {
                throw new IllegalStateException(path + ": not a Cairn error log (bad magic)");
            }
            final int version = header.getInt(VERSION_OFFSET);
            if (version != VERSION)
            {
                throw new IllegalStateException(path + ": error log version " + version + ", this tool reads " + VERSION);
            }
            final int length = header.getInt(LENGTH_OFFSET);
            if (length < LENGTH_BYTES_MIN || HEADER_LENGTH_BYTES + (long)length > size)
            {
                throw new IllegalStateException(path + ": log length " + length + " does not fit the file (" + size +
                    " bytes)");
            }
            final List<Entry> entries = new ArrayList<>();
            try
            {
                ErrorLogReader.read(new UnsafeBuffer(mapped, HEADER_LENGTH_BYTES, length),
                    (count, firstMs, lastMs, text) -> entries.add(new Entry(count, firstMs, lastMs, text)));
            }
            catch (final RuntimeException ex)
            {
                throw new IllegalStateException(path + ": damaged error log after " + entries.size() + " entries: " + ex,
                    ex);
            }
            return new Contents(header.getLong(PID_OFFSET), header.getLong(START_MS_OFFSET),
                header.getLongVolatile(OBSERVATIONS_OFFSET), header.getLongVolatile(DROPPED_OFFSET), entries);
        }
        finally
        {
            IoUtil.unmap(mapped);
        }
    }
}
