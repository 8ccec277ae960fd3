package io.cairn.manager;

import java.util.List;

/**
 * The manager cluster's view of itself.
 *
 * @param leaderMemberId the leader as the client sees it.
 * @param memberId       the member that answered (the leader when it applied the request).
 * @param logPosition    cluster log position at which the request was applied.
 * @param streamCount    streams.
 * @param extentCount    extents over all streams.
 * @param nodes          registered nodes, by ascending id.
 */
public record ClusterStatus(
    int leaderMemberId, int memberId, long logPosition, int streamCount, int extentCount, List<NodeInfo> nodes)
{
    /**
     * @param leaderMemberId the leader as the client sees it.
     * @param memberId       the member that answered.
     * @param logPosition    of the request.
     * @param streamCount    streams.
     * @param extentCount    extents.
     * @param nodes          copied.
     */
    public ClusterStatus
    {
        nodes = List.copyOf(nodes);
    }
}
