package io.cairn.replication;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

/**
 * The replication agent of an extent node: polls the request stream and the response stream (answers
 * from secondaries), drives the {@link ReplicationConductor} with the time read once per duty cycle.
 */
public final class ReplicationAgent implements Agent
{
    /** Fragments taken per subscription per duty cycle. */
    public static final int FRAGMENT_LIMIT = 32;

    private final ReplicationConductor conductor;
    private final NanoClock clock;
    private final Subscription requestSubscription;
    private final Subscription responseSubscription;
    private final FragmentAssembler requestAssembler;
    private final FragmentAssembler responseAssembler;

    /**
     * Subscribes to the node's request stream and response stream on its endpoint.
     *
     * @param aeron     connected client, owned by the caller.
     * @param conductor the protocol logic, closed with this agent.
     * @param clock     read once per duty cycle.
     */
    public ReplicationAgent(final Aeron aeron, final ReplicationConductor conductor, final NanoClock clock)
    {
        this.conductor = conductor;
        this.clock = clock;
        final ReplicationConductor.Context ctx = conductor.context();
        requestSubscription = aeron.addSubscription(NodeProtocol.channel(ctx.endpoint()), NodeProtocol.REQUEST_STREAM_ID);
        responseSubscription = aeron.addSubscription(ctx.responseChannel(), NodeProtocol.RESPONSE_STREAM_ID);
        // Blocks and reads can exceed one MTU: reassemble whole messages.
        requestAssembler = new FragmentAssembler(new NodeRequestAdapter(conductor));
        responseAssembler = new FragmentAssembler(new PeerResponseAdapter(conductor));
    }

    /** {@inheritDoc} */
    public int doWork()
    {
        int work = conductor.doWork(clock.nanoTime());
        work += requestSubscription.poll(requestAssembler, FRAGMENT_LIMIT);
        work += responseSubscription.poll(responseAssembler, FRAGMENT_LIMIT);
        return work;
    }

    /** {@inheritDoc} */
    public void onClose()
    {
        CloseHelper.closeAll(conductor, requestSubscription, responseSubscription);
    }

    /** {@inheritDoc} */
    public String roleName()
    {
        return "replication-" + conductor.context().nodeId();
    }
}
