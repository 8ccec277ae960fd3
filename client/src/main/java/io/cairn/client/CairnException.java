package io.cairn.client;

import io.cairn.sbe.node.NodeStatus;

/**
 * A client call that failed. {@link #nodeStatus()} is the extent node's status where a node answered,
 * and null for transport failures (time-outs, no connection).
 */
public final class CairnException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final transient NodeStatus nodeStatus;

    public CairnException(final NodeStatus nodeStatus, final String message)
    {
        super(message);
        this.nodeStatus = nodeStatus;
    }

    public CairnException(final String message, final Throwable cause)
    {
        super(message, cause);
        this.nodeStatus = null;
    }

    /**
     * @return the node's status, or null when no node answered.
     */
    public NodeStatus nodeStatus()
    {
        return nodeStatus;
    }
}
