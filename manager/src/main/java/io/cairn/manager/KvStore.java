package io.cairn.manager;

import java.nio.charset.StandardCharsets;

import io.cairn.replication.Verify;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The etcd-style key/value space of the manager: keys with values and per-key versions, leases with a TTL that own
 * keys, and a bounded history of change events from which watches are served.
 * <p>
 * Pure and deterministic like {@link ManagerStateMachine}, which owns it and supplies the revision of each change
 * and the cluster time: no clock, no I/O, no randomness. Keys are UTF-8 strings ordered by {@link String#compareTo}
 * (UTF-16 order; identical on every member, which is all the range-by-prefix needs).
 * <p>
 * Not thread-safe: owned by the clustered service thread.
 */
public final class KvStore
{
    /** Longest key, in UTF-8 bytes. */
    public static final int MAX_KEY_LENGTH_BYTES = 512;
    /** Longest value, in bytes. */
    public static final int MAX_VALUE_LENGTH_BYTES = 4096;
    /** Most keys held at once: bounds memory and snapshot size. */
    public static final int MAX_KEYS = 1 << 20;
    /** Most leases held at once. */
    public static final int MAX_LEASES = 1 << 16;
    /** Shortest and longest lease TTL. */
    public static final long MIN_LEASE_TTL_MS = 100;
    /** Longest lease TTL: a day. */
    public static final long MAX_LEASE_TTL_MS = 24L * 3600 * 1000;
    /** Change events kept for watches that start in the past; older ones are compacted. */
    public static final int HISTORY_EVENTS_MAX = 8192;

    /** One key and its metadata; revisions are global revisions. */
    public static final class KeyValue
    {
        final String key;
        final byte[] keyBytes;
        byte[] value;
        long createRevision;
        long modRevision;
        long version;
        long leaseId;

        KeyValue(final String key)
        {
            this.key = key;
            // Encoded once here, not in every answer that lists the key (range is the hot read).
            this.keyBytes = key.getBytes(StandardCharsets.UTF_8);
        }

        /**
         * @return the key as UTF-8; not copied, do not modify.
         */
        public byte[] keyBytes()
        {
            return keyBytes;
        }

        /**
         * @return the key.
         */
        public String key()
        {
            return key;
        }

        /**
         * @return the value; not copied, do not modify.
         */
        public byte[] value()
        {
            return value;
        }

        /**
         * @return revision of the put that created the key.
         */
        public long createRevision()
        {
            return createRevision;
        }

        /**
         * @return revision of the last put.
         */
        public long modRevision()
        {
            return modRevision;
        }

        /**
         * @return puts since creation, 1 for a new key.
         */
        public long version()
        {
            return version;
        }

        /**
         * @return the lease that owns the key, 0 for none.
         */
        public long leaseId()
        {
            return leaseId;
        }
    }

    /** A lease: when it expires or is revoked its keys are deleted. */
    public static final class Lease
    {
        final long leaseId;
        final long ttlMs;
        long expiresAtMs;
        final TreeSet<String> keys = new TreeSet<>();

        Lease(final long leaseId, final long ttlMs)
        {
            this.leaseId = leaseId;
            this.ttlMs = ttlMs;
        }

        /**
         * @return the lease id.
         */
        public long leaseId()
        {
            return leaseId;
        }

        /**
         * @return the TTL.
         */
        public long ttlMs()
        {
            return ttlMs;
        }

        /**
         * @return cluster time at which it expires unless kept alive.
         */
        public long expiresAtMs()
        {
            return expiresAtMs;
        }
    }

    /** A change of one key. A delete carries the deleted key's last metadata and an empty value. */
    public record Event(
        long revision, boolean delete, String key, byte[] value, long createRevision, long version, long leaseId)
    {
    }

    /** Receives every change as it is applied, in order. */
    @FunctionalInterface
    public interface EventListener
    {
        /**
         * @param event the change.
         */
        void onEvent(Event event);
    }

    private static final byte[] EMPTY = new byte[0];
    private static final Comparator<Lease> BY_EXPIRY =
        Comparator.comparingLong((Lease lease) -> lease.expiresAtMs).thenComparingLong(lease -> lease.leaseId);

    private final TreeMap<String, KeyValue> kvs = new TreeMap<>();
    private final TreeMap<Long, Lease> leases = new TreeMap<>();
    private final TreeSet<Lease> leasesByExpiry = new TreeSet<>(BY_EXPIRY);
    private final ArrayDeque<Event> history = new ArrayDeque<>();
    private long compactRevision;
    private EventListener listener = (event) -> {};

    /**
     * @param listener receives every change; replaces the previous one.
     */
    public void eventListener(final EventListener listener)
    {
        this.listener = listener;
    }

    /**
     * @return number of keys.
     */
    public int keyCount()
    {
        return kvs.size();
    }

    /**
     * @return number of leases.
     */
    public int leaseCount()
    {
        return leases.size();
    }

    /**
     * @return the newest revision no longer in the watch history (0 when nothing was compacted).
     */
    public long compactRevision()
    {
        return compactRevision;
    }

    /**
     * @param key the key.
     * @return the key's entry or null.
     */
    public KeyValue get(final String key)
    {
        return kvs.get(key);
    }

    /**
     * @param leaseId the lease.
     * @return the lease or null.
     */
    public Lease lease(final long leaseId)
    {
        return leases.get(leaseId);
    }

    /**
     * Keys equal to {@code key}, or starting with it when {@code prefix}, in key order.
     *
     * @param key      the key or prefix; an empty prefix is every key.
     * @param prefix   whether {@code key} is a prefix.
     * @param maxCount most entries to return.
     * @param out      receives the entries (not copied).
     * @return true when more entries matched than {@code maxCount}.
     */
    public boolean range(final String key, final boolean prefix, final int maxCount, final List<KeyValue> out)
    {
        if (!prefix)
        {
            final KeyValue kv = kvs.get(key);
            if (kv != null && maxCount > 0)
            {
                out.add(kv);
            }
            return false;
        }
        int count = 0;
        for (final KeyValue kv : prefixView(key).values())
        {
            if (count == maxCount)
            {
                return true;
            }
            out.add(kv);
            count++;
        }
        return false;
    }

    private NavigableMap<String, KeyValue> prefixView(final String prefix)
    {
        return prefix.isEmpty() ? kvs : kvs.subMap(prefix, true, prefix + Character.MAX_VALUE, true);
    }

    /**
     * @param key the key.
     * @return null when a put of this key may proceed, else why not.
     */
    public String checkPut(final String key, final long leaseId)
    {
        if (leaseId != 0 && !leases.containsKey(leaseId))
        {
            return "no lease " + leaseId;
        }
        if (!kvs.containsKey(key) && kvs.size() >= MAX_KEYS)
        {
            return "key limit of " + MAX_KEYS + " reached";
        }
        return null;
    }

    /**
     * Puts a key; the caller checked it with {@link #checkPut(String, long)}.
     *
     * @param revision the global revision of this change.
     * @param key      the key.
     * @param value    copied by the caller; kept.
     * @param leaseId  0 for none.
     * @return the entry after the put.
     */
    public KeyValue put(final long revision, final String key, final byte[] value, final long leaseId)
    {
        KeyValue kv = kvs.get(key);
        if (kv == null)
        {
            kv = new KeyValue(key);
            kv.createRevision = revision;
            kvs.put(key, kv);
        }
        Verify.verify(leaseId == 0 || leases.containsKey(leaseId), "put names an existing lease", leaseId);
        detachLease(kv);
        kv.value = value;
        kv.modRevision = revision;
        kv.version++;
        kv.leaseId = leaseId;
        if (leaseId != 0)
        {
            leases.get(leaseId).keys.add(key);
        }
        record(new Event(revision, false, key, value, kv.createRevision, kv.version, leaseId));
        return kv;
    }

    /**
     * Deletes the key, or every key under the prefix.
     *
     * @param revision the global revision of this change; unused when nothing matches.
     * @param key      the key or prefix.
     * @param prefix   whether {@code key} is a prefix.
     * @return keys deleted.
     */
    public int delete(final long revision, final String key, final boolean prefix)
    {
        if (!prefix)
        {
            final KeyValue kv = kvs.get(key);
            if (kv == null)
            {
                return 0;
            }
            deleteKey(revision, kv);
            return 1;
        }
        final ArrayList<KeyValue> doomed = new ArrayList<>(prefixView(key).values());
        for (final KeyValue kv : doomed)
        {
            deleteKey(revision, kv);
        }
        return doomed.size();
    }

    /**
     * @param key    the key or prefix.
     * @param prefix whether {@code key} is a prefix.
     * @return true when a delete of it would delete something.
     */
    public boolean matchesAny(final String key, final boolean prefix)
    {
        return prefix ? !prefixView(key).isEmpty() : kvs.containsKey(key);
    }

    private void deleteKey(final long revision, final KeyValue kv)
    {
        detachLease(kv);
        kvs.remove(kv.key);
        record(new Event(revision, true, kv.key, EMPTY, kv.createRevision, kv.version, kv.leaseId));
    }

    private void detachLease(final KeyValue kv)
    {
        if (kv.leaseId != 0)
        {
            final Lease lease = leases.get(kv.leaseId);
            Verify.verify(lease != null && lease.keys.remove(kv.key), "key is attached to its lease", kv.leaseId);
        }
    }

    /**
     * Grants a lease.
     *
     * @param leaseId       from the shared id allocator.
     * @param ttlMs         within [{@link #MIN_LEASE_TTL_MS}, {@link #MAX_LEASE_TTL_MS}], checked by the caller.
     * @param clusterTimeMs now.
     * @return the lease.
     */
    public Lease grant(final long leaseId, final long ttlMs, final long clusterTimeMs)
    {
        Verify.verify(!leases.containsKey(leaseId), "lease id is new", leaseId);
        final Lease lease = new Lease(leaseId, ttlMs);
        lease.expiresAtMs = clusterTimeMs + ttlMs;
        leases.put(leaseId, lease);
        leasesByExpiry.add(lease);
        return lease;
    }

    /**
     * Extends a lease by its TTL from now.
     *
     * @param lease         an existing lease.
     * @param clusterTimeMs now.
     */
    public void keepAlive(final Lease lease, final long clusterTimeMs)
    {
        leasesByExpiry.remove(lease);
        lease.expiresAtMs = clusterTimeMs + lease.ttlMs;
        leasesByExpiry.add(lease);
    }

    /**
     * Removes the lease and deletes its keys.
     *
     * @param revision the global revision of the deletions; unused when the lease has no keys.
     * @param lease    an existing lease.
     * @return keys deleted.
     */
    public int revoke(final long revision, final Lease lease)
    {
        final ArrayList<String> keys = new ArrayList<>(lease.keys);
        for (final String key : keys)
        {
            deleteKey(revision, kvs.get(key));
        }
        Verify.verify(lease.keys.isEmpty(), "revoked lease has no keys", lease.leaseId);
        leases.remove(lease.leaseId);
        leasesByExpiry.remove(lease);
        return keys.size();
    }

    /**
     * @return the earliest lease expiry, or {@link Long#MAX_VALUE} when there is no lease.
     */
    public long nextExpiryMs()
    {
        return leasesByExpiry.isEmpty() ? Long.MAX_VALUE : leasesByExpiry.first().expiresAtMs;
    }

    /**
     * @param clusterTimeMs now.
     * @return the lease expiring first if it has expired by now, else null.
     */
    public Lease firstExpired(final long clusterTimeMs)
    {
        return leasesByExpiry.isEmpty() || leasesByExpiry.first().expiresAtMs > clusterTimeMs ?
            null : leasesByExpiry.first();
    }

    private void record(final Event event)
    {
        history.addLast(event);
        while (history.size() > HISTORY_EVENTS_MAX)
        {
            compactRevision = history.removeFirst().revision();
        }
        listener.onEvent(event);
    }

    /**
     * History events whose revision is at least {@code fromRevision}, oldest first.
     *
     * @param fromRevision first revision wanted.
     * @return an iterator over the history; valid until the next change.
     */
    public Iterator<Event> historyFrom(final long fromRevision)
    {
        final Iterator<Event> all = history.iterator();
        return new Iterator<>()
        {
            private Event next = advance();

            private Event advance()
            {
                while (all.hasNext())
                {
                    final Event event = all.next();
                    if (event.revision() >= fromRevision)
                    {
                        return event;
                    }
                }
                return null;
            }

            public boolean hasNext()
            {
                return next != null;
            }

            public Event next()
            {
                final Event event = next;
                next = advance();
                return event;
            }
        };
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Snapshot support
    // ---------------------------------------------------------------------------------------------------------------

    Iterable<KeyValue> allKeys()
    {
        return kvs.values();
    }

    Iterable<Lease> allLeases()
    {
        return leases.values();
    }

    Iterable<Event> history()
    {
        return history;
    }

    void clear()
    {
        kvs.clear();
        leases.clear();
        leasesByExpiry.clear();
        history.clear();
        compactRevision = 0;
    }

    void restoreCompactRevision(final long revision)
    {
        compactRevision = revision;
    }

    void restoreLease(final long leaseId, final long ttlMs, final long expiresAtMs)
    {
        final Lease lease = new Lease(leaseId, ttlMs);
        lease.expiresAtMs = expiresAtMs;
        Verify.verify(leases.put(leaseId, lease) == null, "snapshot lease is unique", leaseId);
        leasesByExpiry.add(lease);
    }

    void restoreKey(
        final String key,
        final byte[] value,
        final long createRevision,
        final long modRevision,
        final long version,
        final long leaseId)
    {
        final KeyValue kv = new KeyValue(key);
        kv.value = value;
        kv.createRevision = createRevision;
        kv.modRevision = modRevision;
        kv.version = version;
        kv.leaseId = leaseId;
        Verify.verify(kvs.put(key, kv) == null, "snapshot key is unique");
        if (leaseId != 0)
        {
            final Lease lease = leases.get(leaseId);
            Verify.verify(lease != null, "snapshot key's lease exists", leaseId);
            lease.keys.add(key);
        }
    }

    void restoreEvent(final Event event)
    {
        history.addLast(event);
    }

    /**
     * Checks the key/lease cross references and that revisions are consistent with {@code revision}.
     *
     * @param revision the current global revision.
     */
    void verifyInvariants(final long revision)
    {
        int attached = 0;
        for (final Map.Entry<String, KeyValue> entry : kvs.entrySet())
        {
            final KeyValue kv = entry.getValue();
            Verify.verify(kv.key.equals(entry.getKey()), "key indexed under itself");
            Verify.verify(kv.createRevision > 0 && kv.createRevision <= kv.modRevision && kv.modRevision <= revision,
                "key revisions ordered");
            Verify.verify(kv.version > 0, "key version positive");
            if (kv.leaseId != 0)
            {
                final Lease lease = leases.get(kv.leaseId);
                Verify.verify(lease != null && lease.keys.contains(kv.key), "key's lease holds it", kv.leaseId);
                attached++;
            }
        }
        int held = 0;
        for (final Lease lease : leases.values())
        {
            held += lease.keys.size();
            Verify.verify(leasesByExpiry.contains(lease), "lease indexed by expiry", lease.leaseId);
        }
        Verify.verify(held == attached, "lease key counts match the keys", held);
        Verify.verify(leasesByExpiry.size() == leases.size(), "expiry index size", leasesByExpiry.size());
        long last = compactRevision;
        for (final Event event : history)
        {
            Verify.verify(event.revision() >= last && event.revision() <= revision, "history in revision order",
                event.revision());
            last = event.revision();
        }
    }

    void dump(final StringBuilder sb)
    {
        sb.append("compactRevision=").append(compactRevision).append('\n');
        for (final KeyValue kv : kvs.values())
        {
            sb.append("kv ").append(kv.key).append('=').append(Arrays.toString(kv.value)).append(" create=")
                .append(kv.createRevision).append(" mod=").append(kv.modRevision).append(" version=")
                .append(kv.version).append(" lease=").append(kv.leaseId).append('\n');
        }
        for (final Lease lease : leases.values())
        {
            sb.append("lease ").append(lease.leaseId).append(" ttl=").append(lease.ttlMs).append(" expires=")
                .append(lease.expiresAtMs).append(" keys=").append(lease.keys).append('\n');
        }
        for (final Event event : history)
        {
            sb.append("event ").append(event.revision()).append(event.delete() ? " DELETE " : " PUT ")
                .append(event.key()).append('=').append(Arrays.toString(event.value())).append(" create=")
                .append(event.createRevision()).append(" version=").append(event.version()).append(" lease=")
                .append(event.leaseId()).append('\n');
        }
    }
}
