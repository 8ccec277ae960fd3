package io.cairn.replication.metrics;

import io.aeron.CncFileDescriptor;
import org.agrona.IoUtil;
import org.agrona.SemanticVersion;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.File;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A daemon's Aeron CnC file mapped read-only, for tools in another process ({@code cairn stat}, {@code cairn
 * health}): its counters, the pid and start time of the process that owns it, and the driver's heartbeat. Mapping
 * read-only means the daemon is never disturbed, and a stale file (a killed daemon) can still be read.
 */
public final class CncFile implements AutoCloseable
{
    private final File file;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer meta;
    private final CountersReader counters;
    private final ManyToOneRingBuffer toDriver;
    private final AtomicBuffer errorLog;

    private CncFile(final File file, final MappedByteBuffer mapped)
    {
        this.file = file;
        this.mapped = mapped;
        meta = CncFileDescriptor.createMetaDataBuffer(mapped);
        final int version = meta.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
        if (0 == version)
        {
            throw new IllegalStateException(file + ": not ready yet (the daemon is starting)");
        }
        if (SemanticVersion.major(version) != SemanticVersion.major(CncFileDescriptor.CNC_VERSION))
        {
            throw new IllegalStateException(file + ": CnC version " + SemanticVersion.toString(version) +
                " is not the version this tool reads (" + SemanticVersion.toString(CncFileDescriptor.CNC_VERSION) + ")");
        }
        counters = new CountersReader(
            CncFileDescriptor.createCountersMetaDataBuffer(mapped, meta),
            CncFileDescriptor.createCountersValuesBuffer(mapped, meta));
        toDriver = new ManyToOneRingBuffer(CncFileDescriptor.createToDriverBuffer(mapped, meta));
        errorLog = CncFileDescriptor.createErrorLogBuffer(mapped, meta);
    }

    /**
     * @param aeronDir a daemon's Aeron directory.
     * @return the mapped file.
     * @throws IllegalStateException naming the file when it is missing, not ready or of another version.
     */
    public static CncFile map(final String aeronDir)
    {
        final File file = new File(aeronDir, CncFileDescriptor.CNC_FILE);
        if (!file.isFile())
        {
            throw new IllegalStateException(file + " not found: is the daemon running (right --node-id/--member-id " +
                "or --aeron-dir)?");
        }
        if (file.length() < CncFileDescriptor.END_OF_METADATA_OFFSET)
        {
            throw new IllegalStateException(file + ": " + file.length() + " bytes, too short for a CnC file");
        }
        final MappedByteBuffer mapped = IoUtil.mapExistingFile(file, FileChannel.MapMode.READ_ONLY, "cnc");
        try
        {
            return new CncFile(file, mapped);
        }
        catch (final RuntimeException ex)
        {
            IoUtil.unmap(mapped);
            throw ex;
        }
    }

    /** @return the file. */
    public File file()
    {
        return file;
    }

    /** @return the counters, read-only. */
    public CountersReader counters()
    {
        return counters;
    }

    /** @return pid of the process that owns the file (the daemon: its driver is embedded). */
    public long pid()
    {
        return CncFileDescriptor.pid(meta);
    }

    /** @return when that process started its driver, epoch ms. */
    public long startTimestampMs()
    {
        return CncFileDescriptor.startTimestampMs(meta);
    }

    /** @return the epoch ms at which the driver's conductor last showed it was alive. */
    public long driverHeartbeatMs()
    {
        return toDriver.consumerHeartbeatTime();
    }

    /** @return the driver's own distinct error log (Aeron's errors, not Cairn's). */
    public AtomicBuffer driverErrorLog()
    {
        return errorLog;
    }

    /** Unmap. */
    public void close()
    {
        IoUtil.unmap(mapped);
    }
}
