package io.cairn.daemon;

import io.cairn.bindings.AlignedBufferPool;
import io.cairn.bindings.IoRing;
import io.cairn.bindings.NativeIo;
import io.cairn.bindings.NativeIoException;
import io.cairn.replication.BlockFormat;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.collections.IntArrayList;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The I/O agent of one data directory: owns its io_uring, its aligned buffers and its extent files.
 * <p>
 * Commands arrive on a bounded queue from the replication thread. The agent takes everything queued as
 * one batch (group commit) and submits it in one downcall: per file, a linked chain
 * {@code write -> write -> ... -> fdatasync}, and reads unlinked beside them. A write completes OK only
 * when its chain's fdatasync succeeded. One batch is in flight at a time, so completions go back in
 * submission order and a completed write implies every earlier one on that file is durable.
 * Creating a file (open O_DIRECT, fallocate) is a blocking call made here, rarely.
 */
public final class DiskIoAgent implements Agent
{
    private static final long FSYNC_TAG = 1L << 40;

    private final int diskIndex;
    private final Path extentsDir;
    private final long extentSizeBytes;
    private final AlignedBufferPool pool;
    private final IoRing ring;
    private final IoCommand[] commands;
    private final OneToOneConcurrentArrayQueue<IoCommand> submitQueue;
    private final OneToOneConcurrentArrayQueue<IoCommand> completionQueue;
    private final IntArrayList openFds = new IntArrayList();
    private final CRC32C crc = new CRC32C();
    private final IoCommand[] batch;
    private final int[] groupFd;
    private final int[] groupSyncResult;
    private final int maxBatch;
    private final IoRing.CompletionHandler completionHandler = this::onCompletion;
    private int batchSize;
    private int groupCount;
    private int pendingCompletions;
    private boolean createdInBatch;

    /**
     * @param diskIndex       index of this data directory.
     * @param dataDir         the data directory; extents live in {@code dataDir/extents}.
     * @param extentSizeBytes size new extent files are preallocated to.
     * @param bufferCount     aligned I/O buffers (and so commands in flight) for this disk.
     * @param ringEntries     io_uring submission entries.
     * @param recoveredFds    descriptors of extents recovered on this disk; this agent closes them.
     * @throws NativeIoException when the ring cannot be set up.
     */
    public DiskIoAgent(
        final int diskIndex,
        final Path dataDir,
        final long extentSizeBytes,
        final int bufferCount,
        final int ringEntries,
        final int[] recoveredFds) throws NativeIoException
    {
        this.diskIndex = diskIndex;
        this.extentsDir = dataDir.resolve(ExtentFiles.EXTENTS_DIR);
        this.extentSizeBytes = extentSizeBytes;
        pool = new AlignedBufferPool(bufferCount, BlockFormat.MAX_BLOCK_LENGTH_BYTES);
        ring = new IoRing(ringEntries);
        commands = new IoCommand[bufferCount];
        for (int i = 0; i < bufferCount; i++)
        {
            final int index = pool.acquire();
            commands[i] = new IoCommand(diskIndex, pool.address(index),
                pool.segment(index).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), pool.bufferLengthBytes());
        }
        submitQueue = new OneToOneConcurrentArrayQueue<>(bufferCount);
        completionQueue = new OneToOneConcurrentArrayQueue<>(bufferCount);
        maxBatch = Math.min(bufferCount, ring.capacity() / 2);
        batch = new IoCommand[maxBatch];
        groupFd = new int[maxBatch];
        groupSyncResult = new int[maxBatch];
        for (final int fd : recoveredFds)
        {
            openFds.addInt(fd);
        }
    }

    IoCommand[] commands()
    {
        return commands;
    }

    OneToOneConcurrentArrayQueue<IoCommand> submitQueue()
    {
        return submitQueue;
    }

    OneToOneConcurrentArrayQueue<IoCommand> completionQueue()
    {
        return completionQueue;
    }

    /** {@inheritDoc} */
    public int doWork() throws NativeIoException
    {
        int work = 0;
        if (0 == batchSize)
        {
            work += startBatch();
        }
        if (pendingCompletions > 0)
        {
            work += ring.reap(completionHandler, 0);
        }
        if (batchSize > 0 && 0 == pendingCompletions)
        {
            finishBatch();
            work++;
        }
        return work;
    }

    /** {@inheritDoc} */
    public void onClose()
    {
        try
        {
            if (pendingCompletions > 0)
            {
                ring.reap(completionHandler, pendingCompletions);
            }
        }
        catch (final NativeIoException ignore)
        {
            // Closing: nothing more to do with the ring.
        }
        for (int i = 0; i < openFds.size(); i++)
        {
            try
            {
                NativeIo.close(openFds.getInt(i));
            }
            catch (final NativeIoException ignore)
            {
                // Every completed write was already fdatasync'd.
            }
        }
        openFds.clear();
        ring.close();
        pool.close();
    }

    /** {@inheritDoc} */
    public String roleName()
    {
        return "disk-io-" + diskIndex;
    }

    private int startBatch() throws NativeIoException
    {
        IoCommand command;
        while (batchSize < maxBatch && null != (command = submitQueue.poll()))
        {
            batch[batchSize++] = command;
        }
        if (0 == batchSize)
        {
            return 0;
        }
        groupCount = 0;
        createdInBatch = false;
        for (int i = 0; i < batchSize; i++)
        {
            if (batch[i].kind == IoCommand.CREATE)
            {
                createFile(batch[i]);
            }
        }
        prepareWriteChains();
        for (int i = 0; i < batchSize; i++)
        {
            final IoCommand c = batch[i];
            if (c.kind == IoCommand.READ)
            {
                Verify.verify(ring.prepareRead(c.fd, c.address, c.blockLengthBytes, c.blockOffset, i, false),
                    "ring full preparing read", i);
                pendingCompletions++;
            }
        }
        if (ring.preparedCount() > 0)
        {
            ring.submit();
        }
        return batchSize;
    }

    private void prepareWriteChains()
    {
        for (int i = 0; i < batchSize; i++)
        {
            final IoCommand c = batch[i];
            if (needsWrite(c) && groupOf(c.fd) < 0)
            {
                groupFd[groupCount] = c.fd;
                groupSyncResult[groupCount] = Integer.MIN_VALUE;
                for (int j = i; j < batchSize; j++)
                {
                    final IoCommand w = batch[j];
                    if (needsWrite(w) && w.fd == c.fd)
                    {
                        final long offset = w.kind == IoCommand.CREATE ? 0 : w.blockOffset;
                        Verify.verify(ring.prepareWrite(w.fd, w.address, w.blockLengthBytes, offset, j, true),
                            "ring full preparing write", j);
                        pendingCompletions++;
                    }
                }
                Verify.verify(ring.prepareFdatasync(c.fd, FSYNC_TAG | groupCount, false), "ring full preparing fdatasync");
                pendingCompletions++;
                groupCount++;
            }
        }
    }

    private static boolean needsWrite(final IoCommand c)
    {
        return c.kind == IoCommand.WRITE || (c.kind == IoCommand.CREATE && null == c.status);
    }

    private int groupOf(final int fd)
    {
        for (int g = 0; g < groupCount; g++)
        {
            if (groupFd[g] == fd)
            {
                return g;
            }
        }
        return -1;
    }

    private void createFile(final IoCommand c)
    {
        try
        {
            c.fd = NativeIo.openDirect(c.path, true);
            openFds.addInt(c.fd);
            NativeIo.fallocate(c.fd, 0, extentSizeBytes);
            c.blockLengthBytes = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
            createdInBatch = true;
        }
        catch (final NativeIoException ex)
        {
            c.status = NodeStatus.IO_ERROR;
            c.error = ex.getMessage();
        }
    }

    private void onCompletion(final long userData, final int result)
    {
        pendingCompletions--;
        if ((userData & FSYNC_TAG) != 0)
        {
            groupSyncResult[(int)(userData & ~FSYNC_TAG)] = result;
        }
        else
        {
            batch[(int)userData].ioResult = result;
        }
    }

    private void finishBatch()
    {
        if (createdInBatch)
        {
            syncDirectory();
        }
        for (int i = 0; i < batchSize; i++)
        {
            final IoCommand c = batch[i];
            switch (c.kind)
            {
                case IoCommand.CREATE, IoCommand.WRITE ->
                {
                    if (null == c.status)
                    {
                        final int g = groupOf(c.fd);
                        final boolean ok = c.ioResult == c.blockLengthBytes && groupSyncResult[g] == 0;
                        c.status = ok ? NodeStatus.OK : NodeStatus.IO_ERROR;
                        c.error = ok ? null : "write result " + c.ioResult + ", fdatasync result " + groupSyncResult[g];
                    }
                }
                case IoCommand.READ -> verifyRead(c);
                default -> c.status = NodeStatus.OK;
            }
            batch[i] = null;
            Verify.verify(completionQueue.offer(c), "disk completion queue full");
        }
        batchSize = 0;
    }

    private void verifyRead(final IoCommand c)
    {
        if (c.ioResult != c.blockLengthBytes)
        {
            c.status = NodeStatus.IO_ERROR;
            c.error = "read result " + c.ioResult;
            return;
        }
        c.payloadLengthBytes = BlockFormat.verifyBlock(
            c.byteBuffer, c.view, crc, c.extentId, c.blockOffset, c.blockLengthBytes);
        c.status = c.payloadLengthBytes >= 0 ? NodeStatus.OK : NodeStatus.CORRUPT;
    }

    private void syncDirectory()
    {
        // A new file's directory entry must be durable too, or a crash can lose an acknowledged extent.
        try (FileChannel dir = FileChannel.open(extentsDir, StandardOpenOption.READ))
        {
            dir.force(true);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("fsync of " + extentsDir + " failed", ex);
        }
    }
}
