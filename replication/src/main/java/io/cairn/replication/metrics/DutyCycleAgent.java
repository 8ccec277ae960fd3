package io.cairn.replication.metrics;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * Counts the duty cycles of the agent it runs beside (in the same composite or runner), so a health check in
 * another process can tell a live daemon from a stuck one ({@link Metric#DUTY_CYCLES}). One release store per cycle.
 */
public final class DutyCycleAgent implements Agent
{
    private final AtomicCounter dutyCycles;

    /**
     * @param dutyCycles the counter, owned (closed) by this agent.
     */
    public DutyCycleAgent(final AtomicCounter dutyCycles)
    {
        this.dutyCycles = dutyCycles;
    }

    /**
     * @param allocator where the counter lives.
     * @param labels    its labels, e.g. {@code node=1}.
     * @return the agent.
     */
    public static DutyCycleAgent allocate(final CounterAllocator allocator, final String labels)
    {
        return new DutyCycleAgent(allocator.allocate(Metric.DUTY_CYCLES.typeId(),
            MetricLabels.label(labels, "duty_cycles")));
    }

    /** {@inheritDoc} */
    public int doWork()
    {
        dutyCycles.incrementRelease();
        return 0; // counting is not work: the idle strategy still backs off
    }

    /** {@inheritDoc} */
    public void onClose()
    {
        dutyCycles.close();
    }

    /** {@inheritDoc} */
    public String roleName()
    {
        return "duty-cycle-counter";
    }
}
