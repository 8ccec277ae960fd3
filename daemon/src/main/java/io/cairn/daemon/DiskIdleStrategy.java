package io.cairn.daemon;

import io.cairn.bindings.IoRing;
import io.cairn.replication.AeronDefaults;
import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.locks.LockSupport;

/**
 * The data path's backoff idle strategy (spin, then yield, then sleep with a period doubling up to a cap), except
 * that when one of its disks has I/O in flight, the yields and sleeps are a wait in the kernel for that disk's next
 * completion ({@link DiskIoAgent#awaitCompletions}), bounded by the current sleep period. A disk answer then wakes the thread at once
 * instead of at the end of a park (up to the cap, 50 µs by default, which was the whole median gap between
 * Cairn and fio on a QD 1 read); anything else (network, new commands) is noticed no later than with a park.
 * <p>
 * For an agent runner whose agents include these disks: one disk agent (DEDICATED threading) or all of them
 * with the rest of the node (SHARED). With several disks in flight it waits on the first; the others are
 * polled when it wakes, as after a park. Allocation-free.
 */
public final class DiskIdleStrategy implements IdleStrategy
{
    /** Idle calls that spin before the strategy yields, then yields before it sleeps (as Aeron's backoff). */
    static final int MAX_SPINS = 10;
    static final int MAX_YIELDS = 20;
    /** The first sleep; each idle sleep after it doubles, up to the cap. */
    static final long MIN_SLEEP_NS = 1_000;

    private final DiskIoAgent[] disks;
    private final long maxSleepNs;
    private int spins;
    private int yields;
    private long sleepNs = MIN_SLEEP_NS;

    /**
     * @param maxSleepNs the longest sleep or wait.
     * @param disks      the disks whose completions may end a sleep.
     */
    public DiskIdleStrategy(final long maxSleepNs, final DiskIoAgent... disks)
    {
        if (maxSleepNs < MIN_SLEEP_NS || maxSleepNs > IoRing.MAX_WAIT_NS)
        {
            throw new IllegalArgumentException(
                "maxSleepNs " + maxSleepNs + " must be in [" + MIN_SLEEP_NS + ", " + IoRing.MAX_WAIT_NS + "]");
        }
        this.disks = disks.clone();
        this.maxSleepNs = maxSleepNs;
    }

    /**
     * The node's data-path idle strategy for these disks: this one when the configured strategy is the default
     * backoff ({@link AeronDefaults#IDLE_PROP_NAME}), capped at {@link AeronDefaults#MAX_PARK_NS_PROP_NAME};
     * otherwise the configured one (busy spinning or millisecond sleeps have nothing to gain from a wait).
     *
     * @param disks the disks run by the runner.
     * @return the idle strategy.
     */
    public static IdleStrategy forDisks(final DiskIoAgent... disks)
    {
        if (!AeronDefaults.IDLE_DEFAULT.equals(System.getProperty(AeronDefaults.IDLE_PROP_NAME, AeronDefaults.IDLE_DEFAULT)))
        {
            return AeronDefaults.idleStrategy();
        }
        return new DiskIdleStrategy(
            Long.getLong(AeronDefaults.MAX_PARK_NS_PROP_NAME, AeronDefaults.MAX_PARK_NS_DEFAULT), disks);
    }

    /** {@inheritDoc} */
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
        }
        else
        {
            idle();
        }
    }

    /** {@inheritDoc} */
    public void idle()
    {
        if (spins < MAX_SPINS)
        {
            spins++;
            Thread.onSpinWait();
            return;
        }
        // With I/O in flight, wait in the ring at once: a yield can hand the CPU away for a whole time slice on a
        // loaded machine, while the wait returns the moment the disk answers.
        for (final DiskIoAgent disk : disks)
        {
            final int completed = disk.awaitCompletions(sleepNs);
            if (completed >= 0)
            {
                if (completed > 0)
                {
                    reset(); // the disk answered: there is work for the duty cycle now
                }
                else
                {
                    sleepNs = Math.min(sleepNs << 1, maxSleepNs);
                }
                return;
            }
        }
        if (yields < MAX_YIELDS)
        {
            yields++;
            Thread.yield();
            return;
        }
        LockSupport.parkNanos(sleepNs);
        sleepNs = Math.min(sleepNs << 1, maxSleepNs);
    }

    /** {@inheritDoc} */
    public void reset()
    {
        spins = 0;
        yields = 0;
        sleepNs = MIN_SLEEP_NS;
    }

    /** {@inheritDoc} */
    public String alias()
    {
        return "disk-wait-backoff";
    }
}
