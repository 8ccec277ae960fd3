package io.cairn.replication;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;

/**
 * The primary's bounded staging area for records sent in chunks: slabs of one chunk
 * ({@link NodeProtocol#MAX_PAYLOAD_BYTES}) each, at most {@code maxStagingBytes / MAX_PAYLOAD_BYTES} of them.
 * <p>
 * Why stage at all: a record becomes visible only whole, and a client that dies half-way through sending one
 * must leave nothing behind, so no block of a record is written or forwarded before its last chunk arrived.
 * Slabs are allocated on first use (an idle node holds none) and kept for reuse, so the steady state allocates
 * nothing; a slab goes back to the pool once its block is in the local store's I/O buffer and sent to both
 * secondaries.
 */
final class RecordStaging
{
    private final UnsafeBuffer[] slabs;
    private final int[] freeSlabs;
    private int freeCount;
    private int allocatedCount;
    private int inUse;

    /**
     * @param maxStagingBytes bound on bytes held in reassembly and not yet written, per node.
     */
    RecordStaging(final long maxStagingBytes)
    {
        final int maxSlabs = (int)(maxStagingBytes / NodeProtocol.MAX_PAYLOAD_BYTES);
        Verify.verify(maxSlabs >= NodeProtocol.MAX_RECORD_BLOCKS, "staging smaller than one record", maxStagingBytes);
        slabs = new UnsafeBuffer[maxSlabs];
        freeSlabs = new int[maxSlabs];
    }

    /**
     * @param count slabs wanted.
     * @return true when that many more could be acquired now.
     */
    boolean canAcquire(final int count)
    {
        return inUse + count <= slabs.length;
    }

    /**
     * @return a slab index; the caller checked {@link #canAcquire}.
     */
    int acquire()
    {
        Verify.verify(inUse < slabs.length, "staging slabs exhausted", inUse);
        inUse++;
        if (freeCount > 0)
        {
            return freeSlabs[--freeCount];
        }
        final int slab = allocatedCount++;
        slabs[slab] = new UnsafeBuffer(ByteBuffer.allocateDirect(NodeProtocol.MAX_PAYLOAD_BYTES));
        return slab;
    }

    void release(final int slab)
    {
        Verify.verify(slab >= 0 && slab < allocatedCount && inUse > 0, "release of unknown staging slab", slab);
        freeSlabs[freeCount++] = slab;
        inUse--;
    }

    UnsafeBuffer slab(final int slab)
    {
        return slabs[slab];
    }

    /**
     * @return bytes of staging in use (slabs held by records).
     */
    long bytesInUse()
    {
        return (long)inUse * NodeProtocol.MAX_PAYLOAD_BYTES;
    }

    /**
     * @return the bound, in bytes.
     */
    long capacityBytes()
    {
        return (long)slabs.length * NodeProtocol.MAX_PAYLOAD_BYTES;
    }

    /**
     * A record being reassembled from its chunks, then written block by block (one block per chunk).
     */
    static final class Record
    {
        long clientId;
        long correlationId;
        long requestId;
        long extentId;
        long expectedOffset;
        long ownerRevision;
        int recordLengthBytes;
        int stagedBytes;
        int blockCount;
        final int[] slab = new int[NodeProtocol.MAX_RECORD_BLOCKS];
        int slabCount;
        final UnsafeBuffer metadata = new UnsafeBuffer(new byte[NodeProtocol.MAX_USER_METADATA_BYTES]);
        int metadataLengthBytes;

        // Writing: blocks submitted to the local store, blocks sent to each secondary, slabs given back.
        long recordOffset;
        int localNext;
        final int[] peerNext = new int[2];
        int released;

        void begin(
            final long clientId,
            final long correlationId,
            final long requestId,
            final long extentId,
            final long expectedOffset,
            final long ownerRevision,
            final int recordLengthBytes,
            final DirectBuffer metadataSource,
            final int metadataOffset,
            final int metadataLengthBytes)
        {
            this.clientId = clientId;
            this.correlationId = correlationId;
            this.requestId = requestId;
            this.extentId = extentId;
            this.expectedOffset = expectedOffset;
            this.ownerRevision = ownerRevision;
            this.recordLengthBytes = recordLengthBytes;
            this.blockCount = NodeProtocol.recordBlocks(recordLengthBytes);
            this.stagedBytes = 0;
            this.slabCount = 0;
            this.metadataLengthBytes = metadataLengthBytes;
            if (metadataLengthBytes > 0)
            {
                metadataSource.getBytes(metadataOffset, metadata, 0, metadataLengthBytes);
            }
            recordOffset = NodeProtocol.NULL_OFFSET;
            localNext = 0;
            peerNext[0] = 0;
            peerNext[1] = 0;
            released = 0;
        }

        /**
         * @param block block index.
         * @return the payload length of that block (all but the last are one full chunk).
         */
        int blockPayloadBytes(final int block)
        {
            return block < blockCount - 1 ? NodeProtocol.MAX_PAYLOAD_BYTES :
                recordLengthBytes - (blockCount - 1) * NodeProtocol.MAX_PAYLOAD_BYTES;
        }

        /**
         * @param block block index.
         * @return its record flags.
         */
        int blockFlags(final int block)
        {
            return (block == 0 ? BlockFormat.RECORD_FIRST : 0) | (block == blockCount - 1 ? BlockFormat.RECORD_LAST : 0);
        }

        /**
         * @param block block index.
         * @return where that block lands (every block before it carries one full chunk).
         */
        long blockOffset(final int block)
        {
            return recordOffset + (long)block * BlockFormat.blockLengthBytes(NodeProtocol.MAX_PAYLOAD_BYTES);
        }

        /**
         * @return the on-disk length of the whole record.
         */
        long lengthOnDiskBytes()
        {
            return (long)(blockCount - 1) * BlockFormat.blockLengthBytes(NodeProtocol.MAX_PAYLOAD_BYTES) +
                BlockFormat.blockLengthBytes(blockPayloadBytes(blockCount - 1));
        }

        boolean isComplete()
        {
            return stagedBytes == recordLengthBytes;
        }
    }
}
