package io.cairn.manager;

import io.cairn.replication.Verify;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongPredicate;

/**
 * The partition table: disjoint key ranges {@code [startKey, endKey)} covering (parts of) the key space, each owned
 * by at most one partition server. Pure and deterministic, owned by {@link ManagerStateMachine}, which validates
 * commands through the {@code check*} methods and then applies them.
 * <p>
 * Keys are UTF-8 bytes compared unsigned; an empty start key is the lowest key and an empty end key is +infinity.
 * A partition's version is the global revision of its last change, so versions only rise and are never reused
 * (a compare-and-swap cannot be fooled by a partition that was merged away and re-created).
 */
public final class PartitionTable
{
    /** Most partitions in the table. */
    public static final int MAX_PARTITIONS = 16_384;
    /** Longest start, end or split key. */
    public static final int MAX_KEY_LENGTH_BYTES = KvStore.MAX_KEY_LENGTH_BYTES;

    /** One partition; mutable only through the table. */
    public static final class Partition
    {
        final long partitionId;
        byte[] startKey;
        byte[] endKey;
        long version;
        int ownerId;
        long ownerLeaseId;
        long logStreamId;
        long tableStreamId;
        long metaStreamId;

        Partition(final long partitionId, final byte[] startKey, final byte[] endKey, final long version)
        {
            this.partitionId = partitionId;
            this.startKey = startKey;
            this.endKey = endKey;
            this.version = version;
        }

        /** @return the id, from the manager's shared id allocator. */
        public long partitionId()
        {
            return partitionId;
        }

        /** @return the inclusive start key (empty: the lowest key); do not modify. */
        public byte[] startKey()
        {
            return startKey;
        }

        /** @return the exclusive end key (empty: +infinity); do not modify. */
        public byte[] endKey()
        {
            return endKey;
        }

        /** @return the revision of the last change. */
        public long version()
        {
            return version;
        }

        /** @return the owning partition server, 0 when unassigned. */
        public int ownerId()
        {
            return ownerId;
        }

        /** @return the owner's lease, 0 when unassigned. */
        public long ownerLeaseId()
        {
            return ownerLeaseId;
        }

        /** @return the commit log stream, 0 when none yet. */
        public long logStreamId()
        {
            return logStreamId;
        }

        /** @return the row data stream, 0 when none yet. */
        public long tableStreamId()
        {
            return tableStreamId;
        }

        /** @return the metadata stream, 0 when none yet. */
        public long metaStreamId()
        {
            return metaStreamId;
        }

        void appendTo(final StringBuilder sb)
        {
            sb.append("partition ").append(partitionId).append(" [").append(text(startKey)).append(", ")
                .append(endKey.length == 0 ? "+inf" : text(endKey)).append(") version=").append(version)
                .append(" owner=").append(ownerId).append('/').append(ownerLeaseId).append(" streams=")
                .append(logStreamId).append(',').append(tableStreamId).append(',').append(metaStreamId).append('\n');
        }
    }

    private final TreeMap<Long, Partition> byId = new TreeMap<>();
    private final TreeMap<byte[], Partition> byStart = new TreeMap<>(Arrays::compareUnsigned);

    /**
     * @param key a key as the wire carries it.
     * @return its UTF-8 bytes.
     */
    public static byte[] bytes(final String key)
    {
        return key.getBytes(StandardCharsets.UTF_8);
    }

    static String text(final byte[] key)
    {
        return new String(key, StandardCharsets.UTF_8);
    }

    /**
     * @param endKey exclusive end, empty for +infinity.
     * @param key    a key.
     * @return whether key is below endKey.
     */
    static boolean below(final byte[] key, final byte[] endKey)
    {
        return endKey.length == 0 || Arrays.compareUnsigned(key, endKey) < 0;
    }

    /**
     * @return the number of partitions.
     */
    public int size()
    {
        return byId.size();
    }

    /**
     * @param partitionId an id.
     * @return the partition, or null.
     */
    public Partition get(final long partitionId)
    {
        return byId.get(partitionId);
    }

    /**
     * @return the partitions in id order; do not modify.
     */
    public Collection<Partition> byId()
    {
        return byId.values();
    }

    /**
     * @param fromId first id to list.
     * @return partitions with id from fromId on, in id order.
     */
    Collection<Partition> tail(final long fromId)
    {
        return byId.tailMap(fromId, true).values();
    }

    /**
     * @param key a key.
     * @return the partition whose range holds the key, or null when no partition covers it.
     */
    public Partition lookup(final byte[] key)
    {
        final Map.Entry<byte[], Partition> floor = byStart.floorEntry(key);
        return floor != null && below(key, floor.getValue().endKey) ? floor.getValue() : null;
    }

    /**
     * @param startKey inclusive start.
     * @param endKey   exclusive end, empty for +infinity.
     * @return null when a partition over the range can be created, else why not.
     */
    String checkCreate(final byte[] startKey, final byte[] endKey)
    {
        if (!below(startKey, endKey))
        {
            return "empty range: startKey must be below endKey";
        }
        if (byId.size() >= MAX_PARTITIONS)
        {
            return "the table holds its maximum of " + MAX_PARTITIONS + " partitions";
        }
        final Map.Entry<byte[], Partition> last = endKey.length == 0 ? byStart.lastEntry() : byStart.lowerEntry(endKey);
        if (last != null && below(startKey, last.getValue().endKey))
        {
            return "range overlaps partition " + last.getValue().partitionId;
        }
        return null;
    }

    Partition create(final long partitionId, final byte[] startKey, final byte[] endKey, final long version)
    {
        Verify.verify(checkCreate(startKey, endKey) == null, "partition range is free", partitionId);
        final Partition partition = new Partition(partitionId, startKey, endKey, version);
        Verify.verify(byId.put(partitionId, partition) == null, "partition id is new", partitionId);
        byStart.put(startKey, partition);
        return partition;
    }

    /**
     * @return null when the partition can be split at splitKey, else why not.
     */
    String checkSplit(final Partition partition, final byte[] splitKey)
    {
        if (Arrays.compareUnsigned(splitKey, partition.startKey) <= 0 || !below(splitKey, partition.endKey))
        {
            return "split key is not strictly inside partition " + partition.partitionId + "'s range";
        }
        if (byId.size() >= MAX_PARTITIONS)
        {
            return "the table holds its maximum of " + MAX_PARTITIONS + " partitions";
        }
        return null;
    }

    Partition split(final Partition left, final byte[] splitKey, final long newPartitionId, final long version)
    {
        Verify.verify(checkSplit(left, splitKey) == null, "split key inside the range", left.partitionId);
        final Partition right = new Partition(newPartitionId, splitKey, left.endKey, version);
        right.ownerId = left.ownerId;
        right.ownerLeaseId = left.ownerLeaseId;
        left.endKey = splitKey;
        left.version = version;
        Verify.verify(byId.put(newPartitionId, right) == null, "partition id is new", newPartitionId);
        byStart.put(splitKey, right);
        return right;
    }

    /**
     * @return null when right can be merged into left, else why not.
     */
    static String checkMerge(final Partition left, final Partition right)
    {
        if (left == right)
        {
            return "a partition cannot merge with itself";
        }
        if (left.endKey.length == 0 || !Arrays.equals(left.endKey, right.startKey))
        {
            return "partition " + left.partitionId + " does not end where " + right.partitionId + " starts";
        }
        return null;
    }

    void merge(final Partition left, final Partition right, final long version)
    {
        Verify.verify(checkMerge(left, right) == null, "merged partitions are adjacent", right.partitionId);
        byId.remove(right.partitionId);
        byStart.remove(right.startKey);
        left.endKey = right.endKey;
        left.version = version;
    }

    static void assign(final Partition partition, final int ownerId, final long ownerLeaseId, final long version)
    {
        partition.ownerId = ownerId;
        partition.ownerLeaseId = ownerLeaseId;
        partition.version = version;
    }

    static void streams(final Partition partition, final long logStreamId, final long tableStreamId,
        final long metaStreamId)
    {
        partition.logStreamId = logStreamId;
        partition.tableStreamId = tableStreamId;
        partition.metaStreamId = metaStreamId;
    }

    /**
     * Restores one partition from a snapshot.
     */
    Partition restore(final long partitionId, final byte[] startKey, final byte[] endKey, final long version)
    {
        final String refused = checkCreate(startKey, endKey);
        Verify.verify(refused == null, "snapshot partition range is free", partitionId);
        return create(partitionId, startKey, endKey, version);
    }

    void clear()
    {
        byId.clear();
        byStart.clear();
    }

    /**
     * Checks the table: ranges non-empty and disjoint, indexes consistent, versions within the revision, ids
     * allocated, owners consistent and streams existing.
     *
     * @param revision     the current global revision.
     * @param nextId       the next id the allocator hands out.
     * @param streamExists whether a stream id names an existing stream.
     */
    void verifyInvariants(final long revision, final long nextId, final LongPredicate streamExists)
    {
        Verify.verify(byId.size() == byStart.size() && byId.size() <= MAX_PARTITIONS, "partition index sizes",
            byId.size());
        Partition previous = null;
        for (final Partition p : byStart.values())
        {
            Verify.verify(byId.get(p.partitionId) == p, "partition indexed by id", p.partitionId);
            Verify.verify(below(p.startKey, p.endKey), "partition range is not empty", p.partitionId);
            Verify.verify(previous == null || (previous.endKey.length != 0 &&
                Arrays.compareUnsigned(previous.endKey, p.startKey) <= 0), "partition ranges are disjoint",
                p.partitionId);
            Verify.verify(p.version > 0 && p.version <= revision, "partition version within the revision",
                p.partitionId);
            Verify.verify(p.partitionId > 0 && p.partitionId < nextId, "partition id was allocated", p.partitionId);
            Verify.verify(p.ownerId >= 0 && (p.ownerId != 0 || p.ownerLeaseId == 0), "unassigned has no lease",
                p.partitionId);
            Verify.verify((p.logStreamId == 0 || streamExists.test(p.logStreamId)) &&
                (p.tableStreamId == 0 || streamExists.test(p.tableStreamId)) &&
                (p.metaStreamId == 0 || streamExists.test(p.metaStreamId)), "partition streams exist", p.partitionId);
            previous = p;
        }
    }

    void dump(final StringBuilder sb)
    {
        for (final Partition p : byId.values())
        {
            p.appendTo(sb);
        }
    }
}
