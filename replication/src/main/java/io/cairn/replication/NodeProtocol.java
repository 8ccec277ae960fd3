package io.cairn.replication;

/**
 * Named limits and identifiers of the extent node protocol (schema {@code cairn-node-codecs.xml}), shared
 * by the extent node, the replication code and the client library.
 */
public final class NodeProtocol
{
    /** Aeron stream id on which a node receives requests, on channel {@code aeron:udp?endpoint=<endpoint>}. */
    public static final int REQUEST_STREAM_ID = 1001;

    /** Aeron stream id on which a client (or a primary acting as a client) receives responses. */
    public static final int RESPONSE_STREAM_ID = 1002;

    /** Every replica has exactly this many replicas; replicas[0] is the primary. */
    public static final int REPLICA_COUNT = 3;

    /**
     * Largest payload of one block on the wire, and so the chunk size of a record: every chunk of a record but
     * its last carries exactly this many bytes, and each chunk becomes one block. A block (header + payload,
     * rounded up to 4 KiB) must fit one Aeron message, and the largest message is termLength / 8 (2 MiB with
     * the default 16 MiB term).
     */
    public static final int MAX_PAYLOAD_BYTES = 1024 * 1024;

    /** Largest record (one append, all its blocks' payloads together): sent in chunks of MAX_PAYLOAD_BYTES. */
    public static final int MAX_RECORD_BYTES = 64 * 1024 * 1024;

    /** Most blocks of one record. */
    public static final int MAX_RECORD_BLOCKS = MAX_RECORD_BYTES / MAX_PAYLOAD_BYTES;

    /** Largest user metadata of one record (kept in its first block's header, covered by the CRC). */
    public static final int MAX_USER_METADATA_BYTES = 64;

    /** Disk blocks are written with O_DIRECT and so start and end on this alignment. */
    public static final int BLOCK_ALIGNMENT_BYTES = 4096;

    /** An extent file starts with a 4 KiB header block, so the first data block starts here. */
    public static final long FIRST_BLOCK_OFFSET = 4096;

    /** Offset value meaning "none" / "the primary chooses". */
    public static final long NULL_OFFSET = -1;

    private NodeProtocol()
    {
    }

    /**
     * @param recordLengthBytes a record's length, 1..MAX_RECORD_BYTES.
     * @return how many blocks (chunks) it takes.
     */
    public static int recordBlocks(final int recordLengthBytes)
    {
        return (recordLengthBytes + MAX_PAYLOAD_BYTES - 1) / MAX_PAYLOAD_BYTES;
    }

    /**
     * @param endpoint host:port.
     * @return the Aeron UDP channel addressing that endpoint.
     */
    public static String channel(final String endpoint)
    {
        return "aeron:udp?endpoint=" + endpoint;
    }
}
