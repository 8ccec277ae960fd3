package io.cairn.manager;

import java.util.List;
import java.util.Map;

/**
 * A stream as the manager knows it.
 *
 * @param streamId      unique id.
 * @param name          unique name.
 * @param extents       in stream order, the last is the tail; at most
 *                      {@link ManagerStateMachine#MAX_EXTENTS_PER_RESPONSE}, the most recent.
 * @param nodeEndpoints endpoint of every node named by a replica of {@code extents}.
 * @param ownerRevision the stream's owner revision (the last OpenStream's; 0: never opened). From
 *                      {@link ManagerClient#openStream(long)} it is the caller's own, which fences older writers.
 */
public record StreamInfo(
    long streamId, String name, List<ExtentInfo> extents, Map<Integer, String> nodeEndpoints, long ownerRevision)
{
    /**
     * @param streamId      unique id.
     * @param name          unique name.
     * @param extents       in stream order, copied.
     * @param nodeEndpoints by node id, copied.
     * @param ownerRevision the stream's owner revision.
     */
    public StreamInfo
    {
        extents = List.copyOf(extents);
        nodeEndpoints = Map.copyOf(nodeEndpoints);
    }

    /**
     * @return the last extent, the only one that is not sealed.
     */
    public ExtentInfo tail()
    {
        return extents.get(extents.size() - 1);
    }
}
