package io.cairn.client.cli;

import io.cairn.manager.ClusterStatus;
import io.cairn.manager.Kv;
import io.cairn.manager.ManagerClient;
import io.cairn.manager.ManagerEndpoints;
import io.cairn.manager.ManagerException;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.StreamInfo;
import io.cairn.sbe.manager.ManagerStatus;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The admin CLI's manager commands: {@code status}, {@code nodes}, {@code disks}, {@code streams}, {@code extents},
 * {@code tasks}, {@code partitions [create|split|merge|assign|unassign]}, {@code kv get|put|del|range|watch},
 * {@code snapshot}. Human tables by default; {@code --json} prints
 * one JSON document (one per line for {@code kv watch}) for scripts.
 */
public final class ManagerCommands
{
    /** A parsed command, run against a connected manager client. */
    @FunctionalInterface
    public interface Action
    {
        /**
         * @param client connected.
         * @return the exit code.
         */
        int run(ManagerClient client);
    }

    /** Verbs handled here. */
    public static final List<String> VERBS =
        List.of("nodes", "disks", "streams", "extents", "tasks", "partitions", "kv", "snapshot");

    /** Usage lines of these verbs. */
    public static final String USAGE = """
          nodes                            extent nodes: liveness, failure domain, space, load
          disks                            disks as last reported by node heartbeats
          streams                          every stream with its extent count and tail
          extents                          every extent: stream, state (live, or garbage until each replica
                                           deleted its file), sealed length, replicas, refcount
          tasks                            open recovery tasks (created when a node is declared dead)
          partitions                       the partition table: key ranges, owners, streams, versions
          partitions create START END [--log-stream ID] [--table-stream ID] [--meta-stream ID]
                                           a new unassigned partition over [START, END) ('' = open end)
          partitions split ID KEY [--version V] [--log-stream ID] [--table-stream ID] [--meta-stream ID]
                                           ID keeps [start, KEY); a new partition (same owner) gets [KEY, end)
          partitions merge LEFT_ID RIGHT_ID [--left-version V] [--right-version V]
                                           LEFT takes RIGHT's range (LEFT must end where RIGHT starts)
          partitions assign ID OWNER_ID --lease LEASE_ID [--version V]
                                           set the owner; it holds ID while its lease lives
          partitions unassign ID [--version V]
                                           no owner
                                           (partition changes need the admin role; without --version the
                                           current version is read first, and a change in between is refused)
          kv get KEY                       one key with its revisions
          kv put KEY VALUE [--lease ID]    put a key (optionally bound to a lease)
          kv del KEY [--prefix]            delete a key, or every key under a prefix
          kv range PREFIX [--limit N]      keys under a prefix ('' for all), in key order
          kv watch KEY [--prefix] [--from-revision R] [--count N] [--duration-ms MS]
                                           print changes as they happen (until N events or MS elapsed)
          snapshot                         ask the cluster to take a snapshot now (needs the admin role)
        """;

    private final PrintStream out;
    private final boolean json;

    /**
     * @param out  where results go.
     * @param json whether to print JSON.
     */
    public ManagerCommands(final PrintStream out, final boolean json)
    {
        this.out = out;
        this.json = json;
    }

    /**
     * @param verb one of {@link #VERBS}.
     * @param args the remaining arguments; consumed.
     * @return the action.
     * @throws IllegalArgumentException for bad usage, naming what is wrong.
     */
    public Action parse(final String verb, final List<String> args)
    {
        return switch (verb)
        {
            case "nodes" -> none(args, this::nodes);
            case "disks" -> none(args, this::disks);
            case "streams" -> none(args, this::streams);
            case "extents" -> none(args, this::extents);
            case "tasks" -> none(args, this::tasks);
            case "partitions" -> args.isEmpty() ? (client) -> printPartitions(client.listPartitions()) :
                parsePartitions(args);
            case "snapshot" -> none(args, this::snapshot);
            case "kv" -> parseKv(args);
            default -> throw new IllegalArgumentException("unknown command '" + verb + "'");
        };
    }

    /**
     * @param verb a verb of {@link #VERBS}.
     * @param args its arguments, not consumed.
     * @return whether the command changes what only the admin role may change (the CLI then defaults to the admin
     * credentials).
     */
    public static boolean needsAdmin(final String verb, final List<String> args)
    {
        return "snapshot".equals(verb) || ("partitions".equals(verb) && !args.isEmpty());
    }

    private Action parsePartitions(final List<String> args)
    {
        final String sub = args.remove(0);
        switch (sub)
        {
            case "create":
            {
                final long[] streams = streamOptions(args);
                final String start = positional(args, "START");
                final String end = positional(args, "END");
                return none(args, client -> printChange("created", client.createPartition(start, end, streams[0],
                    streams[1], streams[2])));
            }
            case "split":
            {
                final long[] streams = streamOptions(args);
                final String version = option(args, "--version");
                final long partitionId = number("ID", positional(args, "ID"), 1, Long.MAX_VALUE);
                final String splitKey = positional(args, "KEY");
                final long expected = version == null ? -1 : number("--version", version, 1, Long.MAX_VALUE);
                return none(args, client -> printChange("split", client.splitPartition(partitionId,
                    expected < 0 ? currentVersion(client, partitionId) : expected, splitKey, streams[0], streams[1],
                    streams[2])));
            }
            case "merge":
            {
                final String leftVersion = option(args, "--left-version");
                final String rightVersion = option(args, "--right-version");
                final long left = number("LEFT_ID", positional(args, "LEFT_ID"), 1, Long.MAX_VALUE);
                final long right = number("RIGHT_ID", positional(args, "RIGHT_ID"), 1, Long.MAX_VALUE);
                final long leftExpected = leftVersion == null ? -1 :
                    number("--left-version", leftVersion, 1, Long.MAX_VALUE);
                final long rightExpected = rightVersion == null ? -1 :
                    number("--right-version", rightVersion, 1, Long.MAX_VALUE);
                return none(args, client -> printChange("merged", client.mergePartitions(
                    left, leftExpected < 0 ? currentVersion(client, left) : leftExpected,
                    right, rightExpected < 0 ? currentVersion(client, right) : rightExpected)));
            }
            case "assign":
            {
                final String version = option(args, "--version");
                final String lease = option(args, "--lease");
                final long partitionId = number("ID", positional(args, "ID"), 1, Long.MAX_VALUE);
                final int ownerId = (int)number("OWNER_ID", positional(args, "OWNER_ID"), 1, Integer.MAX_VALUE);
                if (lease == null)
                {
                    throw new IllegalArgumentException("partitions assign needs --lease LEASE_ID (the owner's lease)");
                }
                final long leaseId = number("--lease", lease, 1, Long.MAX_VALUE);
                final long expected = version == null ? -1 : number("--version", version, 1, Long.MAX_VALUE);
                return none(args, client -> printChange("assigned", client.assignPartition(partitionId,
                    expected < 0 ? currentVersion(client, partitionId) : expected, ownerId, leaseId)));
            }
            case "unassign":
            {
                final String version = option(args, "--version");
                final long partitionId = number("ID", positional(args, "ID"), 1, Long.MAX_VALUE);
                final long expected = version == null ? -1 : number("--version", version, 1, Long.MAX_VALUE);
                return none(args, client -> printChange("unassigned", client.assignPartition(partitionId,
                    expected < 0 ? currentVersion(client, partitionId) : expected, 0, 0)));
            }
            default:
                throw new IllegalArgumentException("unknown partitions subcommand '" + sub +
                    "': create, split, merge, assign or unassign");
        }
    }

    private static long[] streamOptions(final List<String> args)
    {
        final String log = option(args, "--log-stream");
        final String table = option(args, "--table-stream");
        final String meta = option(args, "--meta-stream");
        return new long[]{
            log == null ? 0 : number("--log-stream", log, 0, Long.MAX_VALUE),
            table == null ? 0 : number("--table-stream", table, 0, Long.MAX_VALUE),
            meta == null ? 0 : number("--meta-stream", meta, 0, Long.MAX_VALUE) };
    }

    private static long currentVersion(final ManagerClient client, final long partitionId)
    {
        for (final ManagerListing.Partition p : client.listPartitions())
        {
            if (p.partitionId() == partitionId)
            {
                return p.version();
            }
        }
        throw new ManagerException(ManagerStatus.NO_SUCH_PARTITION, "no partition " + partitionId);
    }

    /**
     * Prints the outcome of a partition change.
     *
     * @param what   the change, past tense ("split").
     * @param change as answered.
     * @return 0.
     */
    int printChange(final String what, final ManagerListing.PartitionChange change)
    {
        if (json)
        {
            out.println("{\"partitionId\":" + change.partitionId() + ",\"version\":" + change.version() +
                ",\"newPartitionId\":" + change.newPartitionId() + ",\"revision\":" + change.revision() + "}");
            return 0;
        }
        out.println(what + " partition " + change.partitionId() + ": version " + change.version() +
            (change.newPartitionId() > 0 ? "; new partition " + change.newPartitionId() : "") +
            "; revision " + change.revision());
        return 0;
    }

    private Action parseKv(final List<String> args)
    {
        if (args.isEmpty())
        {
            throw new IllegalArgumentException("kv needs a subcommand: get, put, del, range or watch");
        }
        final String sub = args.remove(0);
        switch (sub)
        {
            case "get":
            {
                final String key = positional(args, "KEY");
                return none(args, client -> get(client, key));
            }
            case "put":
            {
                final String lease = option(args, "--lease");
                final String key = positional(args, "KEY");
                final String value = positional(args, "VALUE");
                final long leaseId = lease == null ? 0 : number("--lease", lease, 1, Long.MAX_VALUE);
                return none(args, client -> put(client, key, value, leaseId));
            }
            case "del":
            {
                final boolean prefix = flag(args, "--prefix");
                final String key = positional(args, "KEY");
                return none(args, client -> del(client, key, prefix));
            }
            case "range":
            {
                final String limit = option(args, "--limit");
                final String prefix = args.isEmpty() ? "" : positional(args, "PREFIX");
                final int maxCount = limit == null ? 0 : (int)number("--limit", limit, 1, 1000);
                return none(args, client -> range(client, prefix, maxCount));
            }
            case "watch":
            {
                final boolean prefix = flag(args, "--prefix");
                final String from = option(args, "--from-revision");
                final String count = option(args, "--count");
                final String duration = option(args, "--duration-ms");
                final String key = positional(args, "KEY");
                final long fromRevision = from == null ? 0 : number("--from-revision", from, 1, Long.MAX_VALUE);
                final long maxEvents = count == null ? Long.MAX_VALUE : number("--count", count, 1, Long.MAX_VALUE);
                final long durationMs = duration == null ? Long.MAX_VALUE :
                    number("--duration-ms", duration, 1, Long.MAX_VALUE);
                return none(args, client -> watch(client, key, prefix, fromRevision, maxEvents, durationMs));
            }
            default:
                throw new IllegalArgumentException("unknown kv subcommand '" + sub + "'");
        }
    }

    /**
     * Prints the cluster status.
     *
     * @param status   as answered.
     * @param managers the members string.
     * @return exit code.
     */
    public int status(final ClusterStatus status, final String managers)
    {
        final List<ManagerEndpoints.Member> members = ManagerEndpoints.parse(managers).members();
        if (json)
        {
            final StringBuilder sb = new StringBuilder("{\"leader\":").append(status.leaderMemberId())
                .append(",\"answeredBy\":").append(status.memberId())
                .append(",\"term\":").append(status.leadershipTermId())
                .append(",\"logPosition\":").append(status.logPosition())
                .append(",\"snapshotLogPosition\":").append(status.snapshotLogPosition())
                .append(",\"revision\":").append(status.revision())
                .append(",\"streams\":").append(status.streamCount())
                .append(",\"extents\":").append(status.extentCount())
                .append(",\"nodes\":").append(status.nodes().size())
                .append(",\"keys\":").append(status.keyCount())
                .append(",\"leases\":").append(status.leaseCount())
                .append(",\"tasks\":").append(status.taskCount())
                .append(",\"members\":[");
            for (int i = 0; i < members.size(); i++)
            {
                final ManagerEndpoints.Member m = members.get(i);
                sb.append(i == 0 ? "" : ",").append("{\"id\":").append(m.memberId()).append(",\"ingress\":")
                    .append(quote(m.endpoint(ManagerEndpoints.INGRESS_PORT_OFFSET))).append(",\"leader\":")
                    .append(m.memberId() == status.leaderMemberId()).append('}');
            }
            out.println(sb.append("]}"));
            return 0;
        }
        out.println("leader: member " + status.leaderMemberId() + "  term " + status.leadershipTermId() +
            "  log position " + status.logPosition() + "  snapshot position " +
            (status.snapshotLogPosition() < 0 ? "none since start" : Long.toString(status.snapshotLogPosition())));
        out.println("members:");
        for (final ManagerEndpoints.Member member : members)
        {
            out.println("  " + member.memberId() + "=" + member.endpoint(ManagerEndpoints.INGRESS_PORT_OFFSET) +
                (member.memberId() == status.leaderMemberId() ? "  (leader)" : ""));
        }
        out.println("revision: " + status.revision() + "  streams: " + status.streamCount() + "  extents: " +
            status.extentCount() + "  keys: " + status.keyCount() + "  leases: " + status.leaseCount() +
            "  tasks: " + status.taskCount());
        out.println("nodes: " + status.nodes().size() + " (liveness and space: 'cairn nodes')");
        out.printf("  %-6s %-24s %-6s %s%n", "NODE", "ENDPOINT", "DISKS", "CAPACITY_BYTES");
        for (final io.cairn.manager.NodeInfo node : status.nodes())
        {
            out.printf("  %-6d %-24s %-6d %d%n", node.nodeId(), node.endpoint(), node.diskCount(), node.capacityBytes());
        }
        return 0;
    }

    private int nodes(final ManagerClient client)
    {
        final List<ManagerListing.Node> nodes = client.listNodes();
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final ManagerListing.Node n : nodes)
            {
                rows.add("{\"nodeId\":" + n.nodeId() + ",\"state\":" + quote(n.state().name()) + ",\"endpoint\":" +
                    quote(n.endpoint()) + ",\"failureDomain\":" + quote(n.failureDomain()) + ",\"disks\":" +
                    n.diskCount() + ",\"capacityBytes\":" + n.capacityBytes() + ",\"freeBytes\":" + n.freeBytes() +
                    ",\"extents\":" + n.extentCount() + ",\"registeredAtMs\":" + n.registeredAtMs() +
                    ",\"lastHeartbeatMs\":" + n.lastHeartbeatMs() + "}");
            }
            out.println("[" + String.join(",", rows) + "]");
            return 0;
        }
        out.printf("%-6s %-8s %-22s %-10s %-5s %-16s %-16s %-8s %s%n", "NODE", "STATE", "ENDPOINT", "DOMAIN", "DISKS",
            "CAPACITY_BYTES", "FREE_BYTES", "EXTENTS", "LAST_HEARTBEAT_MS");
        for (final ManagerListing.Node n : nodes)
        {
            out.printf("%-6d %-8s %-22s %-10s %-5d %-16d %-16d %-8d %s%n", n.nodeId(), n.state(), n.endpoint(),
                n.failureDomain().isEmpty() ? "-" : n.failureDomain(), n.diskCount(), n.capacityBytes(),
                n.freeBytes(), n.extentCount(), n.lastHeartbeatMs() < 0 ? "never" : n.lastHeartbeatMs());
        }
        return 0;
    }

    private int disks(final ManagerClient client)
    {
        final List<ManagerListing.Disk> disks = client.listDisks();
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final ManagerListing.Disk d : disks)
            {
                rows.add("{\"nodeId\":" + d.nodeId() + ",\"diskId\":" + d.diskId() + ",\"capacityBytes\":" +
                    d.capacityBytes() + ",\"freeBytes\":" + d.freeBytes() + ",\"state\":" + quote(d.state().name()) +
                    "}");
            }
            out.println("[" + String.join(",", rows) + "]");
            return 0;
        }
        out.printf("%-6s %-6s %-16s %-16s %s%n", "NODE", "DISK", "CAPACITY_BYTES", "FREE_BYTES", "STATE");
        for (final ManagerListing.Disk d : disks)
        {
            out.printf("%-6d %-6d %-16d %-16d %s%n", d.nodeId(), d.diskId(), d.capacityBytes(), d.freeBytes(),
                d.state());
        }
        return 0;
    }

    private int streams(final ManagerClient client)
    {
        final List<ManagerListing.Stream> streams = client.listStreams();
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final ManagerListing.Stream s : streams)
            {
                rows.add("{\"streamId\":" + s.streamId() + ",\"name\":" + quote(s.name()) + ",\"extents\":" +
                    s.extentCount() + ",\"tailExtentId\":" + s.tailExtentId() + "}");
            }
            out.println("[" + String.join(",", rows) + "]");
            return 0;
        }
        out.printf("%-10s %-8s %-10s %s%n", "STREAM", "EXTENTS", "TAIL", "NAME");
        for (final ManagerListing.Stream s : streams)
        {
            out.printf("%-10d %-8d %-10d %s%n", s.streamId(), s.extentCount(), s.tailExtentId(), s.name());
        }
        return 0;
    }

    private int extents(final ManagerClient client)
    {
        final List<ManagerListing.Extent> extents = client.listExtents();
        final List<ManagerListing.Extent> garbage = client.listGarbage();
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final ManagerListing.Extent e : extents)
            {
                rows.add("{\"extentId\":" + e.extentId() + ",\"streamId\":" + e.streamId() + ",\"state\":\"live\"" +
                    ",\"sealedLength\":" + e.sealedLength() + ",\"replicas\":" +
                    Arrays.toString(e.replicas()).replace(" ", "") + ",\"refCount\":" + e.refCount() +
                    ",\"ownerRevision\":" + e.ownerRevision() + "}");
            }
            for (final ManagerListing.Extent e : garbage)
            {
                // replicas: the nodes that still have to delete the file (0 = confirmed deleted).
                rows.add("{\"extentId\":" + e.extentId() + ",\"streamId\":" + e.streamId() +
                    ",\"state\":\"garbage\",\"sealedLength\":" + e.sealedLength() + ",\"replicas\":" +
                    Arrays.toString(e.replicas()).replace(" ", "") + ",\"refCount\":0,\"ownerRevision\":0}");
            }
            out.println("[" + String.join(",", rows) + "]");
            return 0;
        }
        out.printf("%-10s %-10s %-8s %-14s %-16s %-8s %s%n", "EXTENT", "STREAM", "STATE", "SEALED_LENGTH", "REPLICAS",
            "REFS", "OWNER_REVISION");
        for (final ManagerListing.Extent e : extents)
        {
            final int[] r = e.replicas();
            out.printf("%-10d %-10d %-8s %-14s %-16s %-8d %d%n", e.extentId(), e.streamId(), "live",
                e.sealedLength() < 0 ? "open" : Long.toString(e.sealedLength()), r[0] + "," + r[1] + "," + r[2],
                e.refCount(), e.ownerRevision());
        }
        for (final ManagerListing.Extent e : garbage)
        {
            // REPLICAS of a garbage extent: nodes still to delete its file; '-' confirmed.
            final StringBuilder pending = new StringBuilder();
            for (final int nodeId : e.replicas())
            {
                pending.append(pending.isEmpty() ? "" : ",").append(nodeId == 0 ? "-" : Integer.toString(nodeId));
            }
            out.printf("%-10d %-10d %-8s %-14d %-16s %-8d %s%n", e.extentId(), e.streamId(), "garbage",
                e.sealedLength(), pending, 0, "-");
        }
        return 0;
    }

    /**
     * {@code cairn stream truncate}: drops the stream's extents before {@code keepFrom}. Without an owner revision it
     * acts for the stream's current owner (read first, so a writer that took the stream over in between is refused
     * LOCKED_BY_OTHER); it never takes ownership, so the writer is not fenced.
     *
     * @param client        connected.
     * @param streamId      the stream.
     * @param keepFrom      first extent kept.
     * @param ownerRevision the owner revision to present; -1: the stream's current one.
     * @return exit status 0.
     */
    public int streamTruncate(final ManagerClient client, final long streamId, final long keepFrom,
        final long ownerRevision)
    {
        final long revision = ownerRevision >= 0 ? ownerRevision : client.streamInfo(streamId).ownerRevision();
        final int before = client.streamInfo(streamId).extents().size();
        final StreamInfo after = client.truncateStream(streamId, revision, keepFrom);
        printDropped("truncated", after, before);
        return 0;
    }

    /**
     * {@code cairn stream punch}: removes one sealed, non-tail extent; owner revision as for
     * {@link #streamTruncate(ManagerClient, long, long, long)}.
     *
     * @param client        connected.
     * @param streamId      the stream.
     * @param extentId      the extent removed.
     * @param ownerRevision the owner revision to present; -1: the stream's current one.
     * @return exit status 0.
     */
    public int streamPunch(final ManagerClient client, final long streamId, final long extentId,
        final long ownerRevision)
    {
        final long revision = ownerRevision >= 0 ? ownerRevision : client.streamInfo(streamId).ownerRevision();
        final int before = client.streamInfo(streamId).extents().size();
        final StreamInfo after = client.punchHole(streamId, revision, extentId);
        printDropped("punched", after, before);
        return 0;
    }

    private void printDropped(final String what, final StreamInfo after, final int before)
    {
        final List<String> ids = new ArrayList<>();
        for (final io.cairn.manager.ExtentInfo e : after.extents())
        {
            ids.add(Long.toString(e.extentId()));
        }
        if (json)
        {
            out.println("{\"streamId\":" + after.streamId() + ",\"dropped\":" + (before - after.extents().size()) +
                ",\"extents\":[" + String.join(",", ids) + "]}");
            return;
        }
        out.println(what + " stream " + after.streamId() + ": dropped " + (before - after.extents().size()) +
            " extent(s); extents now " + String.join(",", ids) + " (dropped ones are deleted by their nodes: " +
            "see 'cairn extents')");
    }

    private int tasks(final ManagerClient client)
    {
        return printTasks(client.listTasks());
    }

    /**
     * @param tasks as listed.
     * @return exit status 0.
     */
    int printTasks(final List<ManagerListing.Task> tasks)
    {
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final ManagerListing.Task t : tasks)
            {
                rows.add("{\"taskId\":" + t.taskId() + ",\"kind\":" + quote(t.kind().name()) + ",\"extentId\":" +
                    t.extentId() + ",\"streamId\":" + t.streamId() + ",\"lostNodeId\":" + t.lostNodeId() +
                    ",\"createdAtMs\":" + t.createdAtMs() + ",\"sealedLength\":" + t.sealedLength() +
                    ",\"state\":" + quote(taskState(t)) + ",\"claimNodeId\":" + t.claimNodeId() +
                    ",\"claimEpoch\":" + t.claimEpoch() + ",\"claimExpiresAtMs\":" + t.claimExpiresAtMs() +
                    ",\"progressBytes\":" + t.progressBytes() + ",\"totalBytes\":" + totalBytes(t) + "}");
            }
            out.println("[" + String.join(",", rows) + "]");
            return 0;
        }
        out.printf("%-8s %-8s %-10s %-10s %-10s %-14s %-14s %-9s %-24s %s%n", "TASK", "KIND", "EXTENT", "STREAM",
            "LOST_NODE", "SEALED_LENGTH", "CREATED_AT_MS", "STATE", "PROGRESS_BYTES", "CLAIM_EXPIRES_AT_MS");
        for (final ManagerListing.Task t : tasks)
        {
            final long total = totalBytes(t);
            out.printf("%-8d %-8s %-10d %-10d %-10d %-14s %-14d %-9s %-24s %s%n", t.taskId(), t.kind(), t.extentId(),
                t.streamId(), t.lostNodeId(), t.sealedLength() < 0 ? "open" : Long.toString(t.sealedLength()),
                t.createdAtMs(), taskState(t), t.progressBytes() + "/" + (total < 0 ? "?" : Long.toString(total)),
                0 == t.claimNodeId() ? "-" : Long.toString(t.claimExpiresAtMs()));
        }
        return 0;
    }

    /** @return "waiting" (never claimed) or "node N" (the claim holder; see the expiry for a lapsed claim). */
    private static String taskState(final ManagerListing.Task t)
    {
        return 0 == t.claimNodeId() ? "waiting" : "node " + t.claimNodeId();
    }

    /** @return bytes of blocks to copy (sealed length less the extent header), -1 while the extent is unsealed. */
    private static long totalBytes(final ManagerListing.Task t)
    {
        return t.sealedLength() < 0 ? -1 : Math.max(0, t.sealedLength() - 4096);
    }

    /**
     * Prints the partition table: a table, or with {@code --json} an array of objects.
     *
     * @param partitions as listed, in id order.
     * @return 0.
     */
    int printPartitions(final List<ManagerListing.Partition> partitions)
    {
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final ManagerListing.Partition p : partitions)
            {
                rows.add("{\"partitionId\":" + p.partitionId() + ",\"startKey\":" + quote(p.startKey()) +
                    ",\"endKey\":" + quote(p.endKey()) + ",\"version\":" + p.version() + ",\"ownerId\":" +
                    p.ownerId() + ",\"ownerLeaseId\":" + p.ownerLeaseId() + ",\"logStreamId\":" + p.logStreamId() +
                    ",\"tableStreamId\":" + p.tableStreamId() + ",\"metaStreamId\":" + p.metaStreamId() + "}");
            }
            out.println("[" + String.join(",", rows) + "]");
            return 0;
        }
        out.printf("%-10s %-8s %-10s %-10s %-24s %s%n", "PARTITION", "OWNER", "LEASE", "VERSION", "STREAMS(log,table,meta)",
            "RANGE");
        for (final ManagerListing.Partition p : partitions)
        {
            out.printf("%-10d %-8s %-10d %-10d %-24s [%s, %s)%n", p.partitionId(),
                p.ownerId() == 0 ? "-" : Integer.toString(p.ownerId()), p.ownerLeaseId(), p.version(),
                p.logStreamId() + "," + p.tableStreamId() + "," + p.metaStreamId(),
                p.startKey().isEmpty() ? "-inf" : quote(p.startKey()), p.endKey().isEmpty() ? "+inf" : quote(p.endKey()));
        }
        return 0;
    }

    private int snapshot(final ManagerClient client)
    {
        client.requestSnapshot();
        out.println(json ? "{\"snapshot\":\"requested\"}" : "snapshot requested; every member takes it");
        return 0;
    }

    private int get(final ManagerClient client, final String key)
    {
        final Kv.KeyValue kv = client.kvGet(key);
        if (kv == null)
        {
            throw new io.cairn.manager.ManagerException(null, "no key '" + key + "'");
        }
        printKvs(List.of(kv), -1, false);
        return 0;
    }

    private int put(final ManagerClient client, final String key, final String value, final long leaseId)
    {
        final long revision = client.kvPut(key, value.getBytes(StandardCharsets.UTF_8), leaseId);
        out.println(json ? "{\"revision\":" + revision + "}" : "put '" + key + "' at revision " + revision);
        return 0;
    }

    private int del(final ManagerClient client, final String key, final boolean prefix)
    {
        final Kv.Result result = client.kvDelete(key, prefix);
        out.println(json ? "{\"deleted\":" + result.deleted() + ",\"revision\":" + result.revision() + "}" :
            "deleted " + result.deleted() + " key(s); revision " + result.revision());
        return 0;
    }

    private int range(final ManagerClient client, final String prefix, final int maxCount)
    {
        final Kv.Result result = client.kvRange(prefix, true, maxCount);
        printKvs(result.kvs(), result.revision(), result.more());
        return 0;
    }

    private void printKvs(final List<Kv.KeyValue> kvs, final long revision, final boolean more)
    {
        if (json)
        {
            final List<String> rows = new ArrayList<>();
            for (final Kv.KeyValue kv : kvs)
            {
                rows.add("{\"key\":" + quote(kv.key()) + ",\"value\":" + quote(kv.valueString()) +
                    ",\"createRevision\":" + kv.createRevision() + ",\"modRevision\":" + kv.modRevision() +
                    ",\"version\":" + kv.version() + ",\"lease\":" + kv.leaseId() + "}");
            }
            out.println(revision < 0 ? rows.get(0) :
                "{\"revision\":" + revision + ",\"more\":" + more + ",\"kvs\":[" + String.join(",", rows) + "]}");
            return;
        }
        out.printf("%-32s %-10s %-10s %-8s %-8s %s%n", "KEY", "CREATE_REV", "MOD_REV", "VERSION", "LEASE", "VALUE");
        for (final Kv.KeyValue kv : kvs)
        {
            out.printf("%-32s %-10d %-10d %-8d %-8d %s%n", kv.key(), kv.createRevision(), kv.modRevision(),
                kv.version(), kv.leaseId(), kv.valueString());
        }
        if (revision >= 0)
        {
            out.println(kvs.size() + " key(s) at revision " + revision + (more ? " (more: raise --limit)" : ""));
        }
    }

    private int watch(final ManagerClient client, final String key, final boolean prefix, final long fromRevision,
        final long maxEvents, final long durationMs)
    {
        final long[] seen = { 0 };
        client.watch(key, prefix, fromRevision, (event) ->
        {
            seen[0]++;
            if (json)
            {
                out.println("{\"type\":" + quote(event.delete() ? "DELETE" : "PUT") + ",\"revision\":" +
                    event.revision() + ",\"key\":" + quote(event.key()) + ",\"value\":" +
                    quote(new String(event.value(), StandardCharsets.UTF_8)) + ",\"version\":" + event.version() +
                    ",\"lease\":" + event.leaseId() + "}");
            }
            else
            {
                out.println((event.delete() ? "DELETE " : "PUT    ") + event.revision() + " " + event.key() +
                    (event.delete() ? "" : " = " + new String(event.value(), StandardCharsets.UTF_8)));
            }
            out.flush();
        });
        final long startNs = System.nanoTime();
        final long durationNs = durationMs == Long.MAX_VALUE ? Long.MAX_VALUE : TimeUnit.MILLISECONDS.toNanos(durationMs);
        while (seen[0] < maxEvents && System.nanoTime() - startNs < durationNs)
        {
            if (client.poll() == 0)
            {
                sleepMs(1);
            }
        }
        return 0;
    }

    private static void sleepMs(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", ex);
        }
    }

    /**
     * @param text any string.
     * @return it as a JSON string literal.
     */
    public static String quote(final String text)
    {
        final StringBuilder sb = new StringBuilder(text.length() + 2).append('"');
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            switch (c)
            {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        sb.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    private static Action none(final List<String> args, final Action action)
    {
        if (!args.isEmpty())
        {
            throw new IllegalArgumentException("unexpected argument(s): " + String.join(" ", args));
        }
        return action;
    }

    private static boolean flag(final List<String> args, final String name)
    {
        return args.remove(name);
    }

    private static String option(final List<String> args, final String name)
    {
        final int index = args.indexOf(name);
        if (index < 0)
        {
            return null;
        }
        if (index + 1 >= args.size())
        {
            throw new IllegalArgumentException(name + " needs a value");
        }
        args.remove(index);
        return args.remove(index);
    }

    private static String positional(final List<String> args, final String name)
    {
        for (int i = 0; i < args.size(); i++)
        {
            if (!args.get(i).startsWith("--"))
            {
                return args.remove(i);
            }
        }
        throw new IllegalArgumentException("missing " + name);
    }

    private static long number(final String name, final String value, final long min, final long max)
    {
        final long parsed;
        try
        {
            parsed = Long.parseLong(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(name + " '" + value + "' is not a whole number");
        }
        if (parsed < min || parsed > max)
        {
            throw new IllegalArgumentException(name + " " + parsed + " must be in [" + min + ", " + max + "]");
        }
        return parsed;
    }
}
