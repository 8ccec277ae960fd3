package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.ReplicaStore;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The io_uring store on a real file system with O_DIRECT: append, read, recover, corruption, torn tail.
 * Both sides (store and disk agent) are driven from the test thread; the queues between them are SPSC.
 */
class ExtentStoreTest
{
    static final long EXTENT = 77;
    static final long EXTENT_SIZE = 8L * 1024 * 1024;

    Path dataDir;
    DiskIoAgent disk;
    IoUringReplicaStore store;
    final Completions completions = new Completions();

    @BeforeEach
    void setUp() throws IOException
    {
        dataDir = Path.of("target", "test-data", "store-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dataDir);
        start();
    }

    @AfterEach
    void tearDown() throws IOException
    {
        stop();
        try (Stream<Path> files = Files.walk(dataDir))
        {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    List<RecoveredExtent> start() throws IOException
    {
        final List<RecoveredExtent> recovered =
            ExtentFiles.recover(UringDiskStorage.INSTANCE, dataDir, 0, new PrintStream(new ByteArrayOutputStream()));
        disk = new DiskIoAgent(0, dataDir, UringDiskStorage.INSTANCE, TestCounters.counters(0), TestCounters.config(8, 1L << 20),
            recovered);
        store = new IoUringReplicaStore(new DiskIoAgent[]{ disk }, new Path[]{ dataDir }, EXTENT_SIZE,
            BlockFormat.MAX_BLOCK_LENGTH_BYTES - BlockFormat.BLOCK_HEADER_LENGTH_BYTES, recovered);
        return recovered;
    }

    void stop()
    {
        if (null != disk)
        {
            store.close();
            disk.onClose();
            disk = null;
        }
    }

    void awaitCompletions(final int count) throws Exception
    {
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (completions.count < count && System.nanoTime() - deadlineNs < 0)
        {
            if (disk.doWork() + store.poll(completions, 64) == 0)
            {
                Thread.yield();
            }
        }
        assertEquals(count, completions.count, "completions");
    }

    long append(final byte[] payload) throws Exception
    {
        final long offset = store.endOffset(EXTENT);
        final int before = completions.count;
        assertEquals(NodeStatus.OK, store.submitWrite(EXTENT, offset, new UnsafeBuffer(payload), 0, payload.length, 1));
        awaitCompletions(before + 1);
        assertEquals(NodeStatus.OK, completions.lastStatus);
        return offset;
    }

    TestRead read(final long offset) throws Exception
    {
        final int before = completions.count;
        final NodeStatus submitted = store.submitRead(EXTENT, offset, 2);
        if (submitted != NodeStatus.OK)
        {
            return new TestRead(submitted, null);
        }
        awaitCompletions(before + 1);
        return new TestRead(completions.lastStatus, completions.lastPayload);
    }

    record TestRead(NodeStatus status, byte[] payload)
    {
    }

    void create() throws Exception
    {
        assertEquals(NodeStatus.OK, store.submitCreate(EXTENT, 5, 0));
        awaitCompletions(completions.count + 1);
        assertEquals(NodeStatus.OK, completions.lastStatus);
    }

    List<byte[]> appendMixed(final int count, final long seed) throws Exception
    {
        final Random random = new Random(seed);
        final List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            final byte[] p = new byte[1 + random.nextInt(i % 5 == 0 ? 100_000 : 5000)];
            random.nextBytes(p);
            payloads.add(p);
            append(p);
        }
        return payloads;
    }

    @Test
    void appendReadRecoverRoundTrip() throws Exception
    {
        create();
        final List<byte[]> payloads = appendMixed(40, 3);
        final long commitLength = store.commitLength(EXTENT);
        // Pipelined: several writes submitted before any completes share one batch (one fdatasync).
        final int before = completions.count;
        long offset = commitLength;
        for (int i = 0; i < 5; i++)
        {
            assertEquals(NodeStatus.OK, store.submitWrite(EXTENT, offset, new UnsafeBuffer(new byte[100 + i]), 0, 100 + i, i));
            offset += 4096;
        }
        awaitCompletions(before + 5);
        assertEquals(offset, store.commitLength(EXTENT));

        stop();
        final List<RecoveredExtent> recovered = start();
        assertEquals(1, recovered.size());
        assertEquals(offset, recovered.get(0).commitLength());
        assertEquals(45, recovered.get(0).index().count());
        assertEquals(5, recovered.get(0).streamId());
        long readOffset = BlockFormat.EXTENT_HEADER_LENGTH_BYTES;
        for (final byte[] p : payloads)
        {
            final TestRead r = read(readOffset);
            assertEquals(NodeStatus.OK, r.status());
            assertArrayEquals(p, r.payload());
            readOffset += BlockFormat.blockLengthBytes(p.length);
        }
        assertEquals(NodeStatus.END_OF_EXTENT, read(offset).status());
        assertEquals(NodeStatus.OUT_OF_RANGE, read(offset + 4096).status());
        assertEquals(NodeStatus.OUT_OF_RANGE, read(BlockFormat.EXTENT_HEADER_LENGTH_BYTES + 4096 * 3 + 1).status());
        // Re-creating an existing extent keeps its data.
        create();
        assertEquals(offset, completions.lastCommitLength);
        // Preallocated in 1 MiB steps, at most one step ahead of what the data needs (gathered writes grow the file
        // when within half a step of its end), never past the limit.
        final long size = Files.size(ExtentFiles.path(dataDir, EXTENT));
        assertEquals(0, size % (1L << 20), "preallocated in steps");
        assertTrue(size >= offset && size - offset < 2 * (1L << 20) && size <= EXTENT_SIZE, "preallocated " + size);
    }

    @Test
    void flippedByteReadsAsCorrupt() throws Exception
    {
        create();
        final List<byte[]> payloads = appendMixed(3, 4);
        final long second = BlockFormat.EXTENT_HEADER_LENGTH_BYTES + BlockFormat.blockLengthBytes(payloads.get(0).length);
        stop();
        flipByte(second + BlockFormat.BLOCK_HEADER_LENGTH_BYTES + payloads.get(1).length / 2);
        start();
        // Recovery stops at the corrupt block: only the first block stays committed.
        assertEquals(second, store.commitLength(EXTENT));
        assertEquals(NodeStatus.OK, read(BlockFormat.EXTENT_HEADER_LENGTH_BYTES).status());
        assertEquals(NodeStatus.END_OF_EXTENT, read(second).status());
    }

    @Test
    void corruptionOfACommittedBlockIsDetectedOnRead() throws Exception
    {
        create();
        final List<byte[]> payloads = appendMixed(3, 5);
        final long second = BlockFormat.EXTENT_HEADER_LENGTH_BYTES + BlockFormat.blockLengthBytes(payloads.get(0).length);
        flipByte(second + BlockFormat.BLOCK_HEADER_LENGTH_BYTES); // while the store runs
        final TestRead r = read(second);
        assertEquals(NodeStatus.CORRUPT, r.status());
        assertEquals(null, r.payload());
        assertEquals(NodeStatus.OK, read(BlockFormat.EXTENT_HEADER_LENGTH_BYTES).status());
    }

    @Test
    void aFlippedEpochBelowTheCheckpointDoesNotCutTheTail() throws Exception
    {
        create();
        final List<byte[]> before = appendMixed(3, 7);
        stop();
        start(); // recovery writes a checkpoint at the commit length: those blocks are walked by header only
        final long checkpoint = store.commitLength(EXTENT);
        final long fourth = append(new byte[]{ 4 });
        final long fifth = append(new byte[]{ 5 });
        stop();
        // A bit flip in the epoch field (bits 16..23) of the first block's header: the header still checks (CRCs
        // are only verified on reads), but the epoch is far above any the extent ever had.
        flipByte(BlockFormat.EXTENT_HEADER_LENGTH_BYTES + 28 + 2);
        start();
        assertEquals(fifth + 4096, store.commitLength(EXTENT), "the acknowledged tail beyond the checkpoint stays");
        assertArrayEquals(new byte[]{ 4 }, read(fourth).payload());
        assertArrayEquals(new byte[]{ 5 }, read(fifth).payload());
        assertEquals(NodeStatus.CORRUPT, read(BlockFormat.EXTENT_HEADER_LENGTH_BYTES).status(), "the damaged block");
        assertTrue(checkpoint > BlockFormat.EXTENT_HEADER_LENGTH_BYTES + BlockFormat.blockLengthBytes(before.get(0).length));
    }

    @Test
    void tornTailIsIgnoredAtRecovery() throws Exception
    {
        create();
        final byte[] big = new byte[3 * 4096];
        new Random(6).nextBytes(big);
        final long first = append(new byte[]{ 1, 2, 3 });
        final long torn = append(big);
        stop();
        // Tear the last block: its last page never reached the disk.
        try (RandomAccessFile file = new RandomAccessFile(ExtentFiles.path(dataDir, EXTENT).toFile(), "rw"))
        {
            file.seek(torn + 3 * 4096);
            file.write(new byte[4096]);
            file.getFD().sync();
        }
        final List<RecoveredExtent> recovered = start();
        assertEquals(torn, recovered.get(0).commitLength());
        assertEquals(1, recovered.get(0).index().count());
        assertArrayEquals(new byte[]{ 1, 2, 3 }, read(first).payload());
        // The next append reuses the torn block's space and survives another recovery.
        assertEquals(torn, append(new byte[]{ 9 }));
        stop();
        start();
        assertEquals(torn + 4096, store.commitLength(EXTENT));
        assertArrayEquals(new byte[]{ 9 }, read(torn).payload());
    }

    void flipByte(final long position) throws IOException
    {
        try (RandomAccessFile file = new RandomAccessFile(ExtentFiles.path(dataDir, EXTENT).toFile(), "rw"))
        {
            file.seek(position);
            final int b = file.read();
            file.seek(position);
            file.write(b ^ 0xFF);
            file.getFD().sync();
        }
    }

    static final class Completions implements ReplicaStore.Listener
    {
        int count;
        NodeStatus lastStatus;
        long lastCommitLength;
        byte[] lastPayload;
        int lastRecordFlags;
        byte[] lastMetadata;

        public void onCreated(final long token, final long extentId, final NodeStatus status, final long commitLength)
        {
            count++;
            lastStatus = status;
            lastCommitLength = commitLength;
        }

        public void onWritten(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final long nextOffset, final long commitLength)
        {
            count++;
            lastStatus = status;
            lastCommitLength = commitLength;
        }

        public void onRead(final long token, final long extentId, final long blockOffset, final NodeStatus status,
            final DirectBuffer payload, final int payloadOffset, final int payloadLengthBytes, final long nextOffset,
            final long commitLength)
        {
            count++;
            lastStatus = status;
            lastPayload = null;
            lastRecordFlags = -1;
            lastMetadata = null;
            if (status == NodeStatus.OK)
            {
                lastPayload = new byte[payloadLengthBytes];
                payload.getBytes(payloadOffset, lastPayload);
                final int header = payloadOffset - BlockFormat.BLOCK_HEADER_LENGTH_BYTES;
                lastRecordFlags = BlockFormat.recordFlags(payload, header);
                lastMetadata = new byte[BlockFormat.metadataLength(payload, header)];
                payload.getBytes(header + BlockFormat.METADATA_OFFSET, lastMetadata);
            }
        }
    }

    long appendBlock(final int flags, final byte[] metadata, final byte[] payload) throws Exception
    {
        final long offset = store.endOffset(EXTENT);
        final int before = completions.count;
        assertEquals(NodeStatus.OK, store.submitWrite(EXTENT, offset, flags, new UnsafeBuffer(metadata), 0,
            metadata.length, new UnsafeBuffer(payload), 0, payload.length, 1));
        awaitCompletions(before + 1);
        assertEquals(NodeStatus.OK, completions.lastStatus);
        return offset;
    }

    @Test
    void tornMultiBlockRecordIsCutAtRecoveryAndMetadataSurvives() throws Exception
    {
        create();
        final byte[] meta = "m=1".getBytes();
        final long first = appendBlock(BlockFormat.RECORD_FIRST, meta, new byte[5000]);
        final long last = appendBlock(BlockFormat.RECORD_LAST, new byte[0], new byte[300]);
        final long recordEnd = store.commitLength(EXTENT);
        assertEquals(last + BlockFormat.blockLengthBytes(300), recordEnd);
        // A second record whose first two blocks are durable but whose last block never was.
        appendBlock(BlockFormat.RECORD_FIRST, new byte[0], new byte[7000]);
        appendBlock(0, new byte[0], new byte[7000]);
        assertEquals(recordEnd, store.commitLength(EXTENT), "a partial record is never committed");
        assertEquals(NodeStatus.END_OF_EXTENT, read(recordEnd).status());
        stop();

        start();
        assertEquals(recordEnd, store.commitLength(EXTENT), "recovery cuts the partial record");
        assertEquals(recordEnd, store.endOffset(EXTENT));
        final TestRead head = read(first);
        assertEquals(NodeStatus.OK, head.status());
        assertEquals(BlockFormat.RECORD_FIRST, completions.lastRecordFlags);
        assertArrayEquals(meta, completions.lastMetadata);
        assertEquals(NodeStatus.OK, read(last).status());
        assertEquals(BlockFormat.RECORD_LAST, completions.lastRecordFlags);
        // The cut space is written over by the next record.
        appendBlock(BlockFormat.RECORD_WHOLE, new byte[0], new byte[10]);
        assertEquals(recordEnd + BlockFormat.blockLengthBytes(10), store.commitLength(EXTENT));
    }
}
