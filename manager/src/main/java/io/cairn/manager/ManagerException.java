package io.cairn.manager;

import io.cairn.sbe.manager.ManagerStatus;

/**
 * A manager call that failed: either the manager answered with a status other than OK, or the call could not be
 * completed (no leader, timeout, transport failure), in which case {@link #status()} is null.
 */
public final class ManagerException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final transient ManagerStatus status;

    /**
     * @param status  the manager's answer, or null for a transport failure.
     * @param message what failed.
     */
    public ManagerException(final ManagerStatus status, final String message)
    {
        super(message);
        this.status = status;
    }

    /**
     * @param message what failed.
     * @param cause   the underlying failure.
     */
    public ManagerException(final String message, final Throwable cause)
    {
        super(message, cause);
        this.status = null;
    }

    /**
     * @return the status the manager answered with, or null when the call did not get an answer.
     */
    public ManagerStatus status()
    {
        return status;
    }
}
