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
     * Largest payload of one append. A block (header + payload, rounded up to 4 KiB) must fit one Aeron
     * message, and the largest message is termLength / 8 (2 MiB with the default 16 MiB term).
     * Larger values need chunking, which is a later step.
     */
    public static final int MAX_PAYLOAD_BYTES = 1024 * 1024;

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
     * @param endpoint host:port.
     * @return the Aeron UDP channel addressing that endpoint.
     */
    public static String channel(final String endpoint)
    {
        return "aeron:udp?endpoint=" + endpoint;
    }
}
