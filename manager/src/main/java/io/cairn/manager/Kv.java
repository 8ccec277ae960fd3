package io.cairn.manager;

import io.cairn.sbe.manager.CompareResult;
import io.cairn.sbe.manager.CompareTarget;
import io.cairn.sbe.manager.KvOpType;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Value types of the manager's etcd-style key/value API ({@link ManagerClient#kvPut}, {@link ManagerClient#txn}, ...).
 */
public final class Kv
{
    private Kv()
    {
    }

    /**
     * One key as read.
     *
     * @param key            the key.
     * @param value          its value (not copied).
     * @param createRevision revision that created the key.
     * @param modRevision    revision of its last put.
     * @param version        puts since creation.
     * @param leaseId        owning lease, 0 for none.
     */
    public record KeyValue(String key, byte[] value, long createRevision, long modRevision, long version, long leaseId)
    {
        /**
         * @return the value as UTF-8 text.
         */
        public String valueString()
        {
            return new String(value, StandardCharsets.UTF_8);
        }

        /**
         * {@inheritDoc}
         */
        public boolean equals(final Object o)
        {
            return o instanceof KeyValue other && key.equals(other.key) && Arrays.equals(value, other.value) &&
                createRevision == other.createRevision && modRevision == other.modRevision &&
                version == other.version && leaseId == other.leaseId;
        }

        /**
         * {@inheritDoc}
         */
        public int hashCode()
        {
            return key.hashCode() * 31 + Arrays.hashCode(value);
        }
    }

    /**
     * Answer of a get, range or transaction.
     *
     * @param revision  the global revision after the command.
     * @param succeeded for a transaction: whether the compares held.
     * @param deleted   keys deleted.
     * @param kvs       entries read, in key order (a transaction: in op order).
     * @param more      whether a limit cut the entries short.
     */
    public record Result(long revision, boolean succeeded, int deleted, List<KeyValue> kvs, boolean more)
    {
    }

    /**
     * A lease.
     *
     * @param leaseId     its id.
     * @param ttlMs       its TTL.
     * @param expiresAtMs cluster time of expiry unless kept alive.
     */
    public record Lease(long leaseId, long ttlMs, long expiresAtMs)
    {
    }

    /**
     * A change pushed to a watch.
     *
     * @param watchId        the watch.
     * @param delete         true for a delete, false for a put.
     * @param revision       revision of the change.
     * @param key            the key.
     * @param value          the new value, empty for a delete.
     * @param createRevision of the key.
     * @param version        of the key after a put, before a delete.
     * @param leaseId        of the key.
     */
    public record WatchEvent(
        long watchId, boolean delete, long revision, String key, byte[] value, long createRevision, long version,
        long leaseId)
    {
    }

    /** Receives watch events on the client's polling thread. */
    @FunctionalInterface
    public interface WatchListener
    {
        /**
         * @param event the change.
         */
        void onEvent(WatchEvent event);
    }

    /**
     * One compare of a transaction.
     *
     * @param key     the key.
     * @param target  what is compared.
     * @param result  how.
     * @param operand for numeric targets.
     * @param value   for {@link CompareTarget#VALUE}.
     */
    public record Compare(String key, CompareTarget target, CompareResult result, long operand, byte[] value)
    {
    }

    /**
     * One op of a transaction.
     *
     * @param onSuccess whether it runs when the compares hold (else when they do not).
     * @param type      put, delete or range.
     * @param key       the key or prefix.
     * @param prefix    whether {@code key} is a prefix (delete, range).
     * @param value     for a put.
     * @param leaseId   for a put, 0 for none.
     */
    public record Op(boolean onSuccess, KvOpType type, String key, boolean prefix, byte[] value, long leaseId)
    {
    }

    /** A compare-and-swap transaction: if every compare holds, the success ops run, else the failure ops. */
    public static final class Txn
    {
        final List<Compare> compares = new ArrayList<>();
        final List<Op> ops = new ArrayList<>();

        /**
         * @param key    the key.
         * @param result how its value compares to {@code value}; a missing key never matches.
         * @param value  the operand.
         * @return this.
         */
        public Txn ifValue(final String key, final CompareResult result, final byte[] value)
        {
            compares.add(new Compare(key, CompareTarget.VALUE, result, 0, value));
            return this;
        }

        /**
         * @param key     the key.
         * @param target  VERSION, CREATE_REVISION, MOD_REVISION or LEASE (a missing key has 0 for all).
         * @param result  how it compares to {@code operand}.
         * @param operand the operand.
         * @return this.
         */
        public Txn ifNumber(final String key, final CompareTarget target, final CompareResult result, final long operand)
        {
            compares.add(new Compare(key, target, result, operand, new byte[0]));
            return this;
        }

        /**
         * @param onSuccess branch.
         * @param key       the key.
         * @param value     the value.
         * @param leaseId   0 for none.
         * @return this.
         */
        public Txn put(final boolean onSuccess, final String key, final byte[] value, final long leaseId)
        {
            ops.add(new Op(onSuccess, KvOpType.PUT, key, false, value, leaseId));
            return this;
        }

        /**
         * @param onSuccess branch.
         * @param key       the key or prefix.
         * @param prefix    whether a prefix.
         * @return this.
         */
        public Txn delete(final boolean onSuccess, final String key, final boolean prefix)
        {
            ops.add(new Op(onSuccess, KvOpType.DELETE, key, prefix, new byte[0], 0));
            return this;
        }

        /**
         * @param onSuccess branch.
         * @param key       the key or prefix.
         * @param prefix    whether a prefix.
         * @return this.
         */
        public Txn get(final boolean onSuccess, final String key, final boolean prefix)
        {
            ops.add(new Op(onSuccess, KvOpType.RANGE, key, prefix, new byte[0], 0));
            return this;
        }

        /**
         * @return the compares.
         */
        public List<Compare> compares()
        {
            return compares;
        }

        /**
         * @return the ops.
         */
        public List<Op> ops()
        {
            return ops;
        }
    }
}
