package io.cairn.manager;

import java.util.List;

/**
 * The manager cluster's view of itself.
 *
 * @param leaderMemberId      the leader as the client sees it.
 * @param memberId            the member that answered (the leader when it applied the request).
 * @param logPosition         cluster log position at which the request was applied.
 * @param streamCount         streams.
 * @param extentCount         extents over all streams.
 * @param nodes               registered nodes, by ascending id.
 * @param leadershipTermId    the answering member's leadership term, -1 if unknown.
 * @param snapshotLogPosition log position of the answering member's last snapshot since it started, -1 if none.
 * @param revision            the global revision.
 * @param keyCount            keys in the key/value space.
 * @param leaseCount          leases.
 * @param taskCount           open recovery tasks.
 */
public record ClusterStatus(
    int leaderMemberId, int memberId, long logPosition, int streamCount, int extentCount, List<NodeInfo> nodes,
    long leadershipTermId, long snapshotLogPosition, long revision, int keyCount, int leaseCount, int taskCount)
{
    /**
     * @param leaderMemberId      the leader as the client sees it.
     * @param memberId            the member that answered.
     * @param logPosition         of the request.
     * @param streamCount         streams.
     * @param extentCount         extents.
     * @param nodes               copied.
     * @param leadershipTermId    term.
     * @param snapshotLogPosition last snapshot.
     * @param revision            global revision.
     * @param keyCount            keys.
     * @param leaseCount          leases.
     * @param taskCount           tasks.
     */
    public ClusterStatus
    {
        nodes = List.copyOf(nodes);
    }

    /**
     * The status as the first version of the protocol had it.
     *
     * @param leaderMemberId the leader as the client sees it.
     * @param memberId       the member that answered.
     * @param logPosition    of the request.
     * @param streamCount    streams.
     * @param extentCount    extents.
     * @param nodes          copied.
     */
    public ClusterStatus(
        final int leaderMemberId, final int memberId, final long logPosition, final int streamCount,
        final int extentCount, final List<NodeInfo> nodes)
    {
        this(leaderMemberId, memberId, logPosition, streamCount, extentCount, nodes, -1, -1, -1, 0, 0, 0);
    }
}
