package io.cairn.replication.metrics;

/**
 * Every metric a Cairn daemon exports: the counter type id it is stored under (in the daemon's Aeron CnC file,
 * where {@code cairn stat} and the Prometheus endpoint both read it), its Prometheus name (units in the name), its
 * type and what it means. {@code docs/operating/metrics.md} documents each one (a test checks that it does).
 * <p>
 * Type ids from 4200 up are Cairn's; the few below 1000 are Aeron Cluster's own counters, exported read-only.
 */
public enum Metric
{
    // Per disk, labels node, disk, dir: DiskCounters.Kind maps onto these in order (type id 4200 + ordinal).
    /** Bytes written (blocks and header pages). */
    DISK_WRITTEN_BYTES(4200, "cairn_disk_written_bytes_total", Type.COUNTER, "Bytes written and made durable"),
    /** Blocks written. */
    DISK_BLOCKS_WRITTEN(4201, "cairn_disk_blocks_written_total", Type.COUNTER, "Blocks written and made durable"),
    /** Bytes read. */
    DISK_READ_BYTES(4202, "cairn_disk_read_bytes_total", Type.COUNTER, "Bytes read"),
    /** Blocks read. */
    DISK_BLOCKS_READ(4203, "cairn_disk_blocks_read_total", Type.COUNTER, "Blocks read and verified"),
    /** fdatasync calls. */
    DISK_FDATASYNCS(4204, "cairn_disk_fdatasyncs_total", Type.COUNTER, "fdatasync calls completed"),
    /** Batches submitted. */
    DISK_BATCHES(4205, "cairn_disk_batches_total", Type.COUNTER, "Batches submitted to io_uring"),
    /** Commands in all batches. */
    DISK_BATCHED_COMMANDS(4206, "cairn_disk_batched_commands_total", Type.COUNTER, "Commands taken by all batches"),
    /** Largest batch. */
    DISK_BATCH_COMMANDS_MAX(4207, "cairn_disk_batch_commands_max", Type.GAUGE, "Largest batch so far, in commands"),
    /** Queue depth. */
    DISK_QUEUE_DEPTH(4208, "cairn_disk_queue_depth_commands", Type.GAUGE,
        "Commands queued for the disk when the last batch started"),
    /** I/O errors. */
    DISK_IO_ERRORS(4209, "cairn_disk_io_errors_total", Type.COUNTER,
        "I/O errors (write, read, fdatasync, fallocate, open)"),
    /** Corrupt blocks. */
    DISK_CORRUPT_BLOCKS(4210, "cairn_disk_corrupt_blocks_total", Type.COUNTER,
        "Blocks found corrupt (on read, at recovery, by the scrubber)"),
    /** Checkpoints. */
    DISK_CHECKPOINTS(4211, "cairn_disk_checkpoints_total", Type.COUNTER, "Checkpoints written to extent header pages"),
    /** Preallocations. */
    DISK_PREALLOCATIONS(4212, "cairn_disk_preallocations_total", Type.COUNTER, "Preallocation steps (fallocate)"),
    /** Disk state. */
    DISK_STATE(4213, "cairn_disk_state", Type.GAUGE, "Disk state: 0 OK, 1 FULL (read-only for new extents), 2 FAILED"),
    /** Scrubbed bytes. */
    DISK_SCRUBBED_BYTES(4214, "cairn_disk_scrubbed_bytes_total", Type.COUNTER,
        "Bytes the scrubber read back from sealed extents"),
    /** Scrubbed blocks. */
    DISK_SCRUBBED_BLOCKS(4215, "cairn_disk_scrubbed_blocks_total", Type.COUNTER, "Blocks the scrubber verified good"),
    /** Scrubber's bad blocks. */
    DISK_SCRUB_BAD_BLOCKS(4216, "cairn_disk_scrub_bad_blocks_total", Type.COUNTER,
        "Distinct bad blocks the scrubber found"),
    /** Scrubber passes. */
    DISK_SCRUB_PASSES(4217, "cairn_disk_scrub_passes_total", Type.COUNTER,
        "Completed scrubber passes over every sealed extent of the disk"),
    /** Repaired blocks. */
    DISK_SCRUB_REPAIRED_BLOCKS(4218, "cairn_disk_scrub_repaired_blocks_total", Type.COUNTER,
        "Bad blocks of sealed extents rewritten from a good replica and verified"),
    /** Failed repairs. */
    DISK_REPAIR_FAILURES(4219, "cairn_disk_repair_failures_total", Type.COUNTER,
        "Repairs of bad blocks that ended without a verified rewrite (no good copy, refused copy, I/O error)"),
    /** Repair queue drops. */
    DISK_REPAIR_QUEUE_DROPS(4220, "cairn_disk_repair_queue_drops_total", Type.COUNTER,
        "Repair requests dropped because the repair queue was full"),
    /** Extent files deleted. */
    DISK_EXTENTS_DELETED(4221, "cairn_disk_extents_deleted_total", Type.COUNTER,
        "Extent files deleted (garbage extents, orphans the manager does not place on the node)"),
    /** Bytes reclaimed by deletes. */
    DISK_RECLAIMED_BYTES(4222, "cairn_disk_reclaimed_bytes_total", Type.COUNTER,
        "Bytes of extent files deleted (their allocated size)"),
    /** Writes made durable by a gathered dsync write. */
    DISK_GROUPED_WRITES(4223, "cairn_disk_grouped_writes_total", Type.COUNTER,
        "Block writes that went to the disk inside one gathered RWF_DSYNC write (group commit of contiguous appends)"),
    /** Write durable latency. */
    DISK_WRITE_DURABLE_LATENCY(4230, "cairn_disk_write_durable_latency_seconds", Type.HISTOGRAM,
        "From a block write's submission to io_uring to the fdatasync covering it completing"),
    /** fdatasync latency. */
    DISK_SYNC_LATENCY(4231, "cairn_disk_sync_latency_seconds", Type.HISTOGRAM,
        "From an fdatasync's submission to its completion"),

    // Replication agent, label node: ReplicationCounters.Counter maps onto these in order (type id 4300 + ordinal).
    /** Undecodable fragments. */
    REPLICATION_MALFORMED_DROPPED(4300, "cairn_replication_malformed_dropped_total", Type.COUNTER,
        "Fragments that could not be decoded at all, dropped"),
    /** Malformed requests answered. */
    REPLICATION_MALFORMED_ANSWERED(4301, "cairn_replication_malformed_answered_total", Type.COUNTER,
        "Malformed requests answered with BAD_REQUEST"),
    /** Unknown clients. */
    REPLICATION_UNKNOWN_CLIENT_DROPPED(4302, "cairn_replication_unknown_client_dropped_total", Type.COUNTER,
        "Requests from a client that has not connected, dropped"),
    /** Connects refused. */
    REPLICATION_CONNECT_REFUSED(4303, "cairn_replication_connect_refused_total", Type.COUNTER,
        "Connect requests refused (client table full or bad channel)"),
    /** Responses dropped. */
    REPLICATION_RESPONSES_DROPPED(4304, "cairn_replication_responses_dropped_total", Type.COUNTER,
        "Responses not sent (client gone or back pressure beyond the retry limit)"),
    /** Peer sends failed. */
    REPLICATION_PEER_SENDS_FAILED(4305, "cairn_replication_peer_sends_failed_total", Type.COUNTER,
        "Requests to secondaries that could not be sent"),
    /** Unmatched peer responses. */
    REPLICATION_PEER_RESPONSES_UNMATCHED(4306, "cairn_replication_peer_responses_unmatched_total", Type.COUNTER,
        "Responses from secondaries matching nothing in flight (late or duplicate)"),
    /** Appends acked. */
    REPLICATION_APPENDS_ACKED(4307, "cairn_replication_appends_acked_total", Type.COUNTER,
        "Appends acknowledged OK by this node as primary"),
    /** Appends busy. */
    REPLICATION_APPENDS_BUSY(4308, "cairn_replication_appends_busy_total", Type.COUNTER, "Appends answered BUSY"),
    /** Extents failed. */
    REPLICATION_EXTENTS_FAILED(4309, "cairn_replication_extents_failed_total", Type.COUNTER,
        "Extents that stopped taking appends after a replica failure"),
    /** Replicates written. */
    REPLICATION_REPLICATES_WRITTEN(4310, "cairn_replication_replicates_written_total", Type.COUNTER,
        "Blocks written as a secondary"),
    /** Reads OK. */
    REPLICATION_READS_OK(4311, "cairn_replication_reads_ok_total", Type.COUNTER, "Reads answered OK"),
    /** Reads corrupt. */
    REPLICATION_READS_CORRUPT(4312, "cairn_replication_reads_corrupt_total", Type.COUNTER,
        "Reads that found a corrupt block"),
    /** Fenced. */
    REPLICATION_FENCED_REFUSALS(4313, "cairn_replication_fenced_refusals_total", Type.COUNTER,
        "Requests refused LOCKED_BY_OTHER (an older owner revision)"),
    /** Deduplicated appends. */
    REPLICATION_APPENDS_DEDUPLICATED(4314, "cairn_replication_appends_deduplicated_total", Type.COUNTER,
        "Retried appends answered from the primary's window instead of written again"),
    /** Seals. */
    REPLICATION_SEALS(4315, "cairn_replication_seals_total", Type.COUNTER, "Extents sealed on this node"),
    /** Append latency at the primary. */
    REPLICATION_APPEND_LATENCY(4330, "cairn_replication_append_latency_seconds", Type.HISTOGRAM,
        "Replicated append service time at the primary: request taken to acknowledgement sent (all 3 durable)"),

    // Every daemon, label node or member.
    /** Duty cycles of the daemon's main agent. */
    DUTY_CYCLES(4400, "cairn_agent_duty_cycles_total", Type.COUNTER,
        "Duty cycles of the daemon's main agent (advances while it is alive, even idle)"),

    /** Errors recorded. */
    ERRORS(4410, "cairn_errors_total", Type.COUNTER,
        "Errors the daemon's agents reported (every observation, de-duplicated in the error log; see cairn errors)"),
    /** Errors not recorded. */
    ERROR_LOG_DROPPED(4411, "cairn_error_log_dropped_total", Type.COUNTER,
        "Distinct errors not recorded because the error log file was full"),
    /** Log lines suppressed. */
    LOG_SUPPRESSED(4412, "cairn_log_suppressed_total", Type.COUNTER,
        "Event log lines suppressed by the per-event rate limiter"),

    // Manager member, label member.
    /** Commands applied. */
    MANAGER_COMMANDS(4500, "cairn_manager_commands_total", Type.COUNTER,
        "Commands applied by this member's state machine (from the Raft log)"),
    /** Command apply latency. */
    MANAGER_COMMAND_LATENCY(4501, "cairn_manager_command_apply_latency_seconds", Type.HISTOGRAM,
        "Time the state machine took to apply one command and encode its answer"),

    // Aeron Cluster's own counters in a member's CnC file (io.aeron.cluster.ConsensusModule.Configuration).
    /** Consensus module state. */
    CLUSTER_CONSENSUS_STATE(200, "cairn_cluster_consensus_module_state", Type.GAUGE,
        "Aeron consensus module state: 0 INIT, 1 ACTIVE, 2 SUSPENDED, 3 SNAPSHOT, 4 QUITTING, 5 TERMINATING, 6 CLOSED"),
    /** Role. */
    CLUSTER_ROLE(201, "cairn_cluster_role", Type.GAUGE, "This member's role: 0 FOLLOWER, 1 CANDIDATE, 2 LEADER"),
    /** Commit position. */
    CLUSTER_COMMIT_POSITION(203, "cairn_cluster_commit_position_bytes", Type.GAUGE,
        "Raft log position committed (bytes)"),
    /** Election state. */
    CLUSTER_ELECTION_STATE(207, "cairn_cluster_election_state", Type.GAUGE,
        "Aeron election state: 17 CLOSED (no election running), anything else an election in progress"),
    /** Consensus module errors. */
    CLUSTER_ERRORS(212, "cairn_cluster_consensus_module_errors_total", Type.COUNTER,
        "Errors reported by the Aeron consensus module");

    /** Prometheus metric types used. */
    public enum Type
    {
        /** Only goes up. */
        COUNTER,
        /** Goes up and down. */
        GAUGE,
        /** {@link LatencyHistogram} buckets, exported cumulatively with a sum and count. */
        HISTOGRAM
    }

    /** Aeron consensus module state ACTIVE. */
    public static final long CONSENSUS_STATE_ACTIVE = 1;
    /** Aeron cluster role FOLLOWER. */
    public static final long ROLE_FOLLOWER = 0;
    /** Aeron cluster role LEADER. */
    public static final long ROLE_LEADER = 2;
    /** Aeron election state CLOSED. */
    public static final long ELECTION_CLOSED = 17;
    /** {@link #DISK_STATE} FAILED. */
    public static final long DISK_STATE_FAILED = 2;

    private static final Metric[] BY_TYPE_ID;

    static
    {
        int max = 0;
        for (final Metric m : values())
        {
            max = Math.max(max, m.typeId);
        }
        BY_TYPE_ID = new Metric[max + 1];
        for (final Metric m : values())
        {
            if (null != BY_TYPE_ID[m.typeId])
            {
                throw new IllegalStateException("type id " + m.typeId + " used twice: " + m + ", " + BY_TYPE_ID[m.typeId]);
            }
            BY_TYPE_ID[m.typeId] = m;
        }
    }

    private final int typeId;
    private final String promName;
    private final Type type;
    private final String help;

    Metric(final int typeId, final String promName, final Type type, final String help)
    {
        this.typeId = typeId;
        this.promName = promName;
        this.type = type;
        this.help = help;
    }

    /** @return the counter type id. */
    public int typeId()
    {
        return typeId;
    }

    /** @return the Prometheus name, unit included. */
    public String promName()
    {
        return promName;
    }

    /** @return the Prometheus type. */
    public Type type()
    {
        return type;
    }

    /** @return what it means. */
    public String help()
    {
        return help;
    }

    /** @return whether Aeron (not Cairn) owns the counter. */
    public boolean aeronOwned()
    {
        return typeId < 1000;
    }

    /**
     * @param typeId a counter type id.
     * @return the metric, or null when the counter is not one Cairn exports.
     */
    public static Metric byTypeId(final int typeId)
    {
        return typeId >= 0 && typeId < BY_TYPE_ID.length ? BY_TYPE_ID[typeId] : null;
    }
}
