package io.cairn.client;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.exceptions.AeronException;
import io.cairn.client.ExtentNodeProxy.SessionState;
import io.cairn.replication.NodeProtocol;
import io.cairn.replication.Verify;
import io.cairn.sbe.node.NodeStatus;
import org.agrona.CloseHelper;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;

import java.util.Iterator;
import java.util.function.LongSupplier;

/**
 * The client's sessions with extent nodes: at most {@code maxSessions} at a time, opened without blocking (the
 * publication is added asynchronously, the Connect is offered until the publication connects, its answer arrives
 * through {@link #onConnectResponse}), so a read can start connecting to every replica of an extent ahead of need
 * and hedge to one it never talked to before. The least recently used session is closed to make room; a session
 * unused for {@code idleTimeoutNs} is closed by {@link #closeIdle(long)}.
 * <p>
 * Connect answers are matched by correlation id against the session they were sent on; any other one is stale.
 * Client thread only.
 */
final class NodeSessions implements NodeResponseAdapter.ConnectListener, AutoCloseable
{
    /** How often {@link #closeIdle(long)} looks for idle sessions, as a fraction of the idle time-out. */
    private static final int IDLE_CHECKS_PER_TIMEOUT = 4;

    private final Aeron aeron;
    private final long clientId;
    private final String responseChannel;
    private final MutableDirectBuffer sendBuffer;
    private final int maxSessions;
    private final long connectTimeoutNs;
    private final long idleTimeoutNs;
    private final LongSupplier correlationIds;
    private final Int2ObjectHashMap<ExtentNodeProxy> byNodeId = new Int2ObjectHashMap<>();
    private long nextUseSequence = 1;
    private long nextIdleCheckNs;
    private boolean idleChecked;
    private int handshakesInProgress;
    private long sessionsOpened;
    private long sessionsClosedIdle;
    private long sessionsEvicted;

    /**
     * @param correlationIds the client's correlation id sequence (Connect ids must not collide with its requests').
     */
    NodeSessions(
        final Aeron aeron,
        final long clientId,
        final String responseChannel,
        final MutableDirectBuffer sendBuffer,
        final int maxSessions,
        final long connectTimeoutNs,
        final long idleTimeoutNs,
        final LongSupplier correlationIds)
    {
        this.aeron = aeron;
        this.clientId = clientId;
        this.responseChannel = responseChannel;
        this.sendBuffer = sendBuffer;
        this.maxSessions = maxSessions;
        this.connectTimeoutNs = connectTimeoutNs;
        this.idleTimeoutNs = idleTimeoutNs;
        this.correlationIds = correlationIds;
    }

    /**
     * @return the node's proxy at its current endpoint, or null when the client holds none for it.
     */
    ExtentNodeProxy get(final int nodeId)
    {
        return byNodeId.get(nodeId);
    }

    /**
     * Returns the node's proxy, creating it (closing the least recently used session when the limit is reached)
     * and starting the handshake unless the session is up or on its way. Never blocks.
     *
     * @param retryFailed whether a session whose last handshake failed is retried now; ahead of need it is retried
     *                    only once its failure is {@code connectTimeoutNs} old, so a dead node costs one Connect per
     *                    time-out, not one per read.
     */
    ExtentNodeProxy open(final int nodeId, final String endpoint, final long nowNs, final boolean retryFailed)
    {
        ExtentNodeProxy node = byNodeId.get(nodeId);
        if (null != node && !node.endpoint().equals(endpoint))
        {
            remove(node); // the node moved: a session with its old address is of no use
            node = null;
        }
        if (null == node)
        {
            if (byNodeId.size() >= maxSessions)
            {
                evictLeastRecentlyUsed();
            }
            final long registrationId = aeron.asyncAddExclusivePublication(
                NodeProtocol.channel(endpoint), NodeProtocol.REQUEST_STREAM_ID);
            node = new ExtentNodeProxy(nodeId, endpoint, registrationId, sendBuffer, responseChannel);
            byNodeId.put(nodeId, node);
            sessionsOpened++;
            node.touch(nowNs, nextUseSequence++);
            beginHandshake(node, nowNs);
            return node;
        }
        node.touch(nowNs, nextUseSequence++);
        final SessionState state = node.sessionState();
        if (SessionState.NOT_CONNECTED == state ||
            (SessionState.FAILED == state && (retryFailed || nowNs - node.connectFailedAtNs() >= connectTimeoutNs)))
        {
            beginHandshake(node, nowNs);
        }
        return node;
    }

    /** Marks a session used now, so it is neither idle nor the first to be closed for room. */
    void touch(final ExtentNodeProxy node, final long nowNs)
    {
        node.touch(nowNs, nextUseSequence++);
    }

    /**
     * @return whether a handshake is on its way (then {@link #doWork(long)} has something to do).
     */
    boolean handshaking()
    {
        return handshakesInProgress > 0;
    }

    /**
     * Moves every handshake on: picks up added publications, offers Connects, times out the ones past their
     * deadline. Must not be called between a proxy's encode and its offer (it does not touch the send buffer, but
     * the caller's sequence should stay plain).
     *
     * @return work done.
     */
    int doWork(final long nowNs)
    {
        if (0 == handshakesInProgress)
        {
            return 0;
        }
        int work = 0;
        for (final ExtentNodeProxy node : byNodeId.values())
        {
            work += progress(node, nowNs);
        }
        return work;
    }

    /**
     * Closes sessions unused for the idle time-out; looks at most {@value #IDLE_CHECKS_PER_TIMEOUT} times per
     * time-out.
     */
    void closeIdle(final long nowNs)
    {
        if (idleChecked && nowNs - nextIdleCheckNs < 0)
        {
            return;
        }
        idleChecked = true;
        nextIdleCheckNs = nowNs + idleTimeoutNs / IDLE_CHECKS_PER_TIMEOUT;
        final Iterator<ExtentNodeProxy> it = byNodeId.values().iterator();
        while (it.hasNext())
        {
            final ExtentNodeProxy node = it.next();
            if (nowNs - node.lastUsedNs() >= idleTimeoutNs)
            {
                it.remove();
                release(node);
                sessionsClosedIdle++;
            }
        }
    }

    /** {@inheritDoc} */
    public boolean onConnectResponse(final long correlationId, final int nodeId, final NodeStatus status)
    {
        final ExtentNodeProxy node = byNodeId.get(nodeId);
        if (null == node || SessionState.AWAITING_CONNECT != node.sessionState() ||
            node.connectCorrelationId() != correlationId)
        {
            return false;
        }
        handshakesInProgress--;
        if (NodeStatus.OK == status)
        {
            node.connected();
        }
        else
        {
            // Counted from the handshake's start: the session is retried ahead of need one time-out after that.
            node.connectFailed(status, "the node refused the session: " + status,
                node.connectDeadlineNs() - connectTimeoutNs);
        }
        return true;
    }

    int size()
    {
        return byNodeId.size();
    }

    long sessionsOpened()
    {
        return sessionsOpened;
    }

    long sessionsClosedIdle()
    {
        return sessionsClosedIdle;
    }

    long sessionsEvicted()
    {
        return sessionsEvicted;
    }

    public void close()
    {
        for (final ExtentNodeProxy node : byNodeId.values())
        {
            release(node);
        }
        byNodeId.clear();
        handshakesInProgress = 0;
    }

    private void beginHandshake(final ExtentNodeProxy node, final long nowNs)
    {
        final long deadlineNs = nowNs + connectTimeoutNs;
        if (SessionState.ADDING_PUBLICATION == node.sessionState())
        {
            node.connectDeadline(deadlineNs);
        }
        else if (!node.hasPublication())
        {
            // The driver refused the last add (e.g. an endpoint that does not resolve): ask again.
            node.publicationAdding(aeron.asyncAddExclusivePublication(
                NodeProtocol.channel(node.endpoint()), NodeProtocol.REQUEST_STREAM_ID), deadlineNs);
        }
        else
        {
            node.startConnect(correlationIds.getAsLong(), clientId, NodeProtocol.RESPONSE_STREAM_ID, responseChannel,
                deadlineNs);
        }
        handshakesInProgress++;
        progress(node, nowNs);
    }

    private int progress(final ExtentNodeProxy node, final long nowNs)
    {
        final SessionState state = node.sessionState();
        if (SessionState.CONNECTED == state || SessionState.FAILED == state || SessionState.NOT_CONNECTED == state)
        {
            return 0;
        }
        if (nowNs - node.connectDeadlineNs() > 0)
        {
            fail(node, null, "no answer to the connect within " + connectTimeoutNs / 1_000_000 + " ms", nowNs);
            return 1;
        }
        int work = 0;
        if (SessionState.ADDING_PUBLICATION == state)
        {
            final ExclusivePublication publication;
            try
            {
                publication = aeron.getExclusivePublication(node.registrationId());
            }
            catch (final AeronException ex)
            {
                fail(node, NodeStatus.BAD_REQUEST, "the media driver refused the publication: " + ex.getMessage(),
                    nowNs);
                return 1;
            }
            if (null == publication)
            {
                return 0;
            }
            node.publication(publication);
            node.startConnect(correlationIds.getAsLong(), clientId, NodeProtocol.RESPONSE_STREAM_ID, responseChannel,
                node.connectDeadlineNs());
            work++;
        }
        if (SessionState.SENDING_CONNECT == node.sessionState())
        {
            final long result = node.offerConnect();
            if (result >= 0)
            {
                work++;
            }
            else if (!ExtentNodeProxy.isRetryable(result))
            {
                fail(node, null, "the connect could not be sent: Aeron result " + result, nowNs);
                work++;
            }
        }
        return work;
    }

    private void fail(final ExtentNodeProxy node, final NodeStatus status, final String failure, final long nowNs)
    {
        handshakesInProgress--;
        Verify.verify(handshakesInProgress >= 0, "handshakes in progress below zero", handshakesInProgress);
        node.connectFailed(status, failure, nowNs);
    }

    private void evictLeastRecentlyUsed()
    {
        ExtentNodeProxy oldest = null;
        for (final ExtentNodeProxy node : byNodeId.values())
        {
            if (null == oldest || node.useSequence() < oldest.useSequence())
            {
                oldest = node;
            }
        }
        Verify.verify(null != oldest, "no session to evict at the limit", maxSessions);
        remove(oldest);
        sessionsEvicted++;
    }

    private void remove(final ExtentNodeProxy node)
    {
        byNodeId.remove(node.nodeId());
        release(node);
    }

    private void release(final ExtentNodeProxy node)
    {
        final SessionState state = node.sessionState();
        if (SessionState.ADDING_PUBLICATION == state || SessionState.SENDING_CONNECT == state ||
            SessionState.AWAITING_CONNECT == state)
        {
            handshakesInProgress--;
        }
        if (SessionState.ADDING_PUBLICATION == state)
        {
            aeron.asyncRemovePublication(node.registrationId()); // not added yet: cancel by registration
        }
        else
        {
            CloseHelper.quietClose(node);
        }
    }
}
