package io.cairn.manager;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.ImageFragmentAssembler;
import io.aeron.Publication;
import io.aeron.cluster.ClusterControl;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.Header;
import io.cairn.sbe.manager.ClusterStatusResponseEncoder;
import io.cairn.sbe.manager.MessageHeaderDecoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import io.cairn.replication.metrics.CounterAllocator;
import io.cairn.replication.metrics.LatencyHistogram;
import io.cairn.replication.metrics.Metric;
import io.cairn.replication.metrics.MetricLabels;
import org.agrona.concurrent.status.AtomicCounter;

import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The manager as an Aeron Cluster service: an adapter between the cluster log and {@link ManagerStateMachine}.
 * Each command in the log is applied by the state machine; on the leader the answer goes back on the sending
 * session's egress (followers' offers are mocked by the cluster).
 * <p>
 * An answer that cannot be offered after {@link #EGRESS_OFFER_ATTEMPTS_MAX} attempts is dropped and counted: the
 * client retries with the same correlationId and the state machine's de-duplication answers it again.
 * <p>
 * Time-driven work (lease expiry, node liveness) runs on one cluster timer, {@link #DEADLINE_TIMER_ID}, kept armed for
 * {@link ManagerStateMachine#nextDeadlineMs()}: every member arms it the same way from the log, the leader's fires and
 * its event is in the log, so every member applies the expiry at the same log position and cluster time. The timer
 * is armed lazily: only moved earlier, never later; a timer that fires with nothing due just re-arms.
 * <p>
 * Periodic snapshots: when this member leads and the log has grown by {@link #snapshotIntervalBytes()} since the last
 * snapshot, it sets its consensus module's control toggle to SNAPSHOT (as {@code ClusterTool snapshot} does).
 */
public final class ManagerService implements ClusteredService
{
    /** Attempts to offer one answer before dropping it; bounded so a slow client cannot stall the cluster. */
    public static final int EGRESS_OFFER_ATTEMPTS_MAX = 16;
    /** Idle cycles allowed while a snapshot publication is back-pressured before the snapshot fails. */
    public static final long SNAPSHOT_OFFER_IDLES_MAX = 1_000_000;
    /** Correlation id of the one cluster timer the manager uses. */
    public static final long DEADLINE_TIMER_ID = 1;
    /** Default log growth between automatic snapshots. */
    public static final long SNAPSHOT_INTERVAL_BYTES_DEFAULT = 64L * 1024 * 1024;

    private final ManagerStateMachine stateMachine;
    private final long snapshotIntervalBytes;
    private long armedDeadlineMs = Long.MAX_VALUE;
    private volatile long leadershipTermId = -1;
    private volatile long lastSnapshotLogPosition = -1;
    private long snapshotBaseLogPosition;
    private AtomicCounter controlToggle;
    private long watchEventsDropped;
    private final UnsafeBuffer responseBuffer =
        new UnsafeBuffer(new byte[ManagerStateMachine.RESPONSE_BUFFER_LENGTH_MIN]);
    private final MessageHeaderDecoder responseHeaderDecoder = new MessageHeaderDecoder();
    private final Consumer<String> eventLog;
    private Cluster cluster;
    private volatile Cluster.Role role = Cluster.Role.FOLLOWER;
    private long droppedResponses;
    // --- metrics (issue 7): in the member's CnC file, read by `cairn stat` and the Prometheus endpoint ---
    private AtomicCounter commandsApplied;
    private AtomicCounter dutyCycles;
    private LatencyHistogram commandLatency;
    private int metricsMemberId = -1;

    /**
     * @param memberId the member id the counters are labelled with.
     * @return this.
     */
    public ManagerService metricsMemberId(final int memberId)
    {
        this.metricsMemberId = memberId;
        return this;
    }

    /**
     * A service that reports nothing.
     */
    public ManagerService()
    {
        this((event) -> {});
    }

    /**
     * @param eventLog receives rare lifecycle events (snapshot loaded or taken, role changes); never per command.
     */
    public ManagerService(final Consumer<String> eventLog)
    {
        this(eventLog, new ManagerStateMachine(), SNAPSHOT_INTERVAL_BYTES_DEFAULT);
    }

    /**
     * @param eventLog              receives rare lifecycle events.
     * @param stateMachine          a fresh state machine (its liveness timeouts must be equal on every member).
     * @param snapshotIntervalBytes log growth after which the leader takes a snapshot; 0 or less: never automatically.
     */
    public ManagerService(
        final Consumer<String> eventLog, final ManagerStateMachine stateMachine, final long snapshotIntervalBytes)
    {
        this.eventLog = eventLog;
        this.stateMachine = stateMachine;
        this.snapshotIntervalBytes = snapshotIntervalBytes;
        stateMachine.watchSink(this::deliverWatchEvent);
    }

    /**
     * @return log growth between automatic snapshots; 0 or less when disabled.
     */
    public long snapshotIntervalBytes()
    {
        return snapshotIntervalBytes;
    }

    /**
     * {@inheritDoc}
     */
    public void onStart(final Cluster cluster, final Image snapshotImage)
    {
        this.cluster = cluster;
        allocateCounters(cluster);
        snapshotBaseLogPosition = cluster.logPosition();
        if (snapshotImage != null)
        {
            loadSnapshot(snapshotImage, cluster.idleStrategy());
            eventLog.accept("loaded snapshot: " + stateMachine.nodeCount() + " nodes, " + stateMachine.streamCount() +
                " streams, " + stateMachine.extentCount() + " extents");
        }
    }

    /**
     * {@inheritDoc}
     */
    public void onSessionOpen(final ClientSession session, final long timestamp)
    {
        // The principal travels in the log's session-open event, so every member (and a replay) sees the same role.
        stateMachine.onSessionOpen(session.id(), session.encodedPrincipal());
    }

    /**
     * {@inheritDoc}
     */
    public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
    {
        stateMachine.onSessionClose(session.id());
    }

    /**
     * {@inheritDoc}
     */
    public void onSessionMessage(
        final ClientSession session,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        if (session == null)
        {
            return; // a message from another service: none exist
        }
        if (cluster.role() != Cluster.Role.LEADER && ManagerStateMachine.isReadOnly(buffer, offset, length))
        {
            return; // a read changes nothing and a follower's answer is never sent: skip the work
        }
        final long clusterTimeMs = cluster.timeUnit().toMillis(timestamp);
        final long startNs = System.nanoTime(); // measured around the state machine, which itself never reads a clock
        final int responseLength = stateMachine.onCommand(
            session.id(), buffer, offset, length, clusterTimeMs, responseBuffer, 0);
        if (null != commandLatency)
        {
            commandLatency.record(System.nanoTime() - startNs);
            commandsApplied.incrementRelease();
        }
        patchClusterStatus(responseLength);
        offerResponse(session, responseLength);
        armDeadlineTimer();
        maybeRequestSnapshot();
    }

    private void allocateCounters(final Cluster cluster)
    {
        if (null != commandsApplied)
        {
            return;
        }
        // The container does not know its member id at start (Cluster.memberId() is -1 there): the member tells it.
        final String labels = "member=" + (metricsMemberId >= 0 ? metricsMemberId : cluster.memberId());
        final CounterAllocator allocator = cluster.aeron()::addCounter;
        commandsApplied = allocator.allocate(Metric.MANAGER_COMMANDS.typeId(), MetricLabels.label(labels, "commands"));
        commandLatency = new LatencyHistogram(allocator, Metric.MANAGER_COMMAND_LATENCY, labels);
        dutyCycles = allocator.allocate(Metric.DUTY_CYCLES.typeId(), MetricLabels.label(labels, "duty_cycles"));
    }

    /**
     * Counts the service's duty cycles, so a health check can tell a live member from a stuck one.
     *
     * @param nowNs the container's clock.
     * @return 0: counting is not work.
     */
    public int doBackgroundWork(final long nowNs)
    {
        if (null != dutyCycles)
        {
            dutyCycles.incrementRelease();
        }
        return 0;
    }

    private void armDeadlineTimer()
    {
        final long deadlineMs = stateMachine.nextDeadlineMs();
        if (deadlineMs < armedDeadlineMs)
        {
            final long deadline = cluster.timeUnit().convert(deadlineMs, TimeUnit.MILLISECONDS);
            if (cluster.scheduleTimer(DEADLINE_TIMER_ID, deadline))
            {
                armedDeadlineMs = deadlineMs;
            }
        }
    }

    private void maybeRequestSnapshot()
    {
        if (snapshotIntervalBytes <= 0 || role != Cluster.Role.LEADER ||
            cluster.logPosition() - snapshotBaseLogPosition < snapshotIntervalBytes)
        {
            return;
        }
        if (controlToggle == null)
        {
            controlToggle = ClusterControl.findControlToggle(
                cluster.aeron().countersReader(), cluster.context().clusterId());
        }
        if (controlToggle != null && ClusterControl.ToggleState.SNAPSHOT.toggle(controlToggle))
        {
            snapshotBaseLogPosition = cluster.logPosition(); // not again until it has grown by another interval
            eventLog.accept("log grew by " + snapshotIntervalBytes + " bytes: snapshot requested");
        }
    }

    private void deliverWatchEvent(final long sessionId, final DirectBuffer buffer, final int offset, final int length)
    {
        final ClientSession session = cluster.getClientSession(sessionId);
        if (session == null || !offer(session, buffer, offset, length))
        {
            watchEventsDropped++;
        }
    }

    private void patchClusterStatus(final int responseLength)
    {
        // memberId and logPosition differ between members, so the service fills them and the state machine stays pure.
        responseHeaderDecoder.wrap(responseBuffer, 0);
        if (responseHeaderDecoder.templateId() == ClusterStatusResponseEncoder.TEMPLATE_ID &&
            responseLength >= MessageHeaderDecoder.ENCODED_LENGTH + ClusterStatusResponseEncoder.BLOCK_LENGTH)
        {
            responseBuffer.putInt(MessageHeaderDecoder.ENCODED_LENGTH +
                ClusterStatusResponseEncoder.memberIdEncodingOffset(), cluster.memberId(),
                ByteOrder.LITTLE_ENDIAN);
            responseBuffer.putLong(MessageHeaderDecoder.ENCODED_LENGTH +
                ClusterStatusResponseEncoder.logPositionEncodingOffset(), cluster.logPosition(),
                ByteOrder.LITTLE_ENDIAN);
            responseBuffer.putLong(MessageHeaderDecoder.ENCODED_LENGTH +
                ClusterStatusResponseEncoder.leadershipTermIdEncodingOffset(), leadershipTermId,
                ByteOrder.LITTLE_ENDIAN);
            responseBuffer.putLong(MessageHeaderDecoder.ENCODED_LENGTH +
                ClusterStatusResponseEncoder.snapshotLogPositionEncodingOffset(), lastSnapshotLogPosition,
                ByteOrder.LITTLE_ENDIAN);
        }
    }

    private void offerResponse(final ClientSession session, final int length)
    {
        if (!offer(session, responseBuffer, 0, length))
        {
            droppedResponses++;
        }
    }

    private boolean offer(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        final IdleStrategy idle = cluster.idleStrategy();
        idle.reset();
        for (int attempt = 0; attempt < EGRESS_OFFER_ATTEMPTS_MAX; attempt++)
        {
            final long result = session.offer(buffer, offset, length);
            if (result > 0 || result == ClientSession.MOCKED_OFFER)
            {
                return true;
            }
            if (result == Publication.CLOSED || result == Publication.NOT_CONNECTED ||
                result == Publication.MAX_POSITION_EXCEEDED)
            {
                break;
            }
            idle.idle();
        }
        return false;
    }

    /**
     * {@inheritDoc}
     */
    public void onTimerEvent(final long correlationId, final long timestamp)
    {
        if (correlationId != DEADLINE_TIMER_ID)
        {
            return;
        }
        armedDeadlineMs = Long.MAX_VALUE;
        stateMachine.onTimer(cluster.timeUnit().toMillis(timestamp));
        armDeadlineTimer();
    }

    /**
     * {@inheritDoc}
     */
    public void onNewLeadershipTermEvent(
        final long leadershipTermId,
        final long logPosition,
        final long timestamp,
        final long termBaseLogPosition,
        final int leaderMemberId,
        final int logSessionId,
        final TimeUnit timeUnit,
        final int appVersion)
    {
        this.leadershipTermId = leadershipTermId;
    }

    /**
     * {@inheritDoc}
     */
    public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
    {
        final IdleStrategy idle = cluster.idleStrategy();
        stateMachine.takeSnapshot((buffer, offset, length) -> offerSnapshot(snapshotPublication, idle,
            buffer, offset, length));
        lastSnapshotLogPosition = cluster.logPosition();
        snapshotBaseLogPosition = lastSnapshotLogPosition;
        eventLog.accept("took snapshot at log position " + cluster.logPosition());
    }

    private static void offerSnapshot(
        final ExclusivePublication publication,
        final IdleStrategy idle,
        final DirectBuffer buffer,
        final int offset,
        final int length)
    {
        idle.reset();
        for (long idles = 0; idles < SNAPSHOT_OFFER_IDLES_MAX; idles++)
        {
            final long result = publication.offer(buffer, offset, length);
            if (result > 0)
            {
                return;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                throw new IllegalStateException("snapshot publication failed: " + Publication.errorString(result));
            }
            idle.idle();
        }
        throw new IllegalStateException("snapshot publication back-pressured for " + SNAPSHOT_OFFER_IDLES_MAX +
            " idle cycles");
    }

    private void loadSnapshot(final Image image, final IdleStrategy idle)
    {
        stateMachine.beginRestore();
        final ImageFragmentAssembler assembler = new ImageFragmentAssembler(
            (buffer, offset, length, header) -> stateMachine.onSnapshotMessage(buffer, offset, length));
        idle.reset();
        while (stateMachine.isRestoring())
        {
            final int fragments = image.poll(assembler, 1);
            if (fragments == 0)
            {
                if (image.isClosed() || image.isEndOfStream())
                {
                    throw new IllegalStateException("manager snapshot ended before SnapshotEnd");
                }
                idle.idle();
            }
        }
    }

    /**
     * {@inheritDoc}
     */
    public void onRoleChange(final Cluster.Role newRole)
    {
        role = newRole;
        eventLog.accept("role " + newRole);
    }

    /**
     * {@inheritDoc}
     */
    public void onTerminate(final Cluster cluster)
    {
    }

    /**
     * @return this member's role as last notified; readable from any thread.
     */
    public Cluster.Role role()
    {
        return role;
    }

    /**
     * @return watch events that could not be delivered (session gone or back-pressured); the client re-creates its
     * watch from the last revision it saw.
     */
    public long watchEventsDropped()
    {
        return watchEventsDropped;
    }

    /**
     * @return log position of this member's last snapshot, -1 when it took none since it started.
     */
    public long lastSnapshotLogPosition()
    {
        return lastSnapshotLogPosition;
    }

    /**
     * @return answers dropped because the session's egress stayed back-pressured or disconnected.
     */
    public long droppedResponses()
    {
        return droppedResponses;
    }

    /**
     * @return the state machine, for tests that run the service in-process.
     */
    ManagerStateMachine stateMachine()
    {
        return stateMachine;
    }
}
