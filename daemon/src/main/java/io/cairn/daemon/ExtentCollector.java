package io.cairn.daemon;

import io.cairn.manager.ManagerClient;
import io.cairn.manager.ManagerListing;
import io.cairn.manager.ManagerStateMachine;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The node side of extent deletion (docs/internals/replication.md, "Extent lifecycle"). Runs on the
 * {@link ManagerHeartbeat} thread after each heartbeat, with the heartbeat's manager client:
 * <ol>
 *   <li><b>Reconciliation at start</b>: the first time, it lists every extent file of every data directory and asks
 *       the manager (ExtentReconcile, {@link ManagerStateMachine#MAX_RECONCILE_IDS} ids a call) which must go. So a
 *       node that was down when its extents were dropped, and files of extents the manager does not place on this
 *       node (an abandoned re-replication copy, a replica moved away while the node was dead), are deleted.</li>
 *   <li>Every time after, it asks with the ids {@link #suspect(long) suspected} since (the recovery worker's
 *       abandoned copies); the answer also carries the garbage extents still pending on this node, at most
 *       {@link ManagerStateMachine#MAX_DELETES_PER_RESPONSE}.</li>
 *   <li>It hands each id to the {@link ExtentDeleteAgent} (the store's thread closes and deletes the file and fsyncs
 *       the directory) and, once a delete finished, confirms it to the manager (ExtentDeleted).</li>
 * </ol>
 * The manager decides what may be deleted; this node never deletes a file on its own. The manager's rule: the
 * extent is not placed on this node, its id is below the manager's id high-water mark (so a create the manager has
 * not applied yet is never deleted), and this node holds no live claim on a recovery task for it. The one race
 * left, a local recovery copy started after the manager answered, is closed here: an id is not deleted while the
 * recovery worker works on it ({@link #recoveringExtent(LongSupplier)}), and the worker does not start on an id
 * being deleted ({@link #isDeleting(long)}); each publishes its mark before it checks the other's.
 */
public final class ExtentCollector
{
    /** Ids suspected between two collections; more are dropped (the next start reconciles them). */
    public static final int SUSPECT_CAPACITY = 64;

    private final int nodeId;
    private final List<Path> dataDirs;
    private final ExtentDeleteAgent deleteAgent;
    private final PrintStream log;
    private final Set<Long> deleting = ConcurrentHashMap.newKeySet();
    private final ManyToOneConcurrentArrayQueue<Long> suspects = new ManyToOneConcurrentArrayQueue<>(SUSPECT_CAPACITY);
    private final LongArrayList confirmPending = new LongArrayList();
    private final long[] ids = new long[ManagerStateMachine.MAX_RECONCILE_IDS];
    private volatile LongSupplier recoveringExtent = () -> ManagerStateMachine.NULL_ID;
    private volatile boolean reconciledAtStart;
    private volatile long filesDeleted;
    private volatile long bytesReclaimed;
    private volatile long deleteFailures;
    private volatile long collections;
    private volatile String lastError = "";

    /**
     * @param nodeId      this node.
     * @param dataDirs    its data directories.
     * @param deleteAgent runs the deletes on the store's thread.
     * @param log         where deletes and failures are reported.
     */
    public ExtentCollector(
        final int nodeId, final List<Path> dataDirs, final ExtentDeleteAgent deleteAgent, final PrintStream log)
    {
        this.nodeId = nodeId;
        this.dataDirs = List.copyOf(dataDirs);
        this.deleteAgent = deleteAgent;
        this.log = log;
    }

    /**
     * @param supplier the extent the local recovery worker is copying or about to claim, or -1.
     */
    public void recoveringExtent(final LongSupplier supplier)
    {
        this.recoveringExtent = supplier;
    }

    /**
     * Any thread: ask the manager about this extent's local file at the next collection (e.g. an abandoned copy).
     *
     * @param extentId the extent.
     * @return false when {@link #SUSPECT_CAPACITY} are queued already.
     */
    public boolean suspect(final long extentId)
    {
        return suspects.offer(extentId);
    }

    /**
     * Any thread.
     *
     * @param extentId an extent.
     * @return whether its file is being deleted (or the delete awaits confirmation).
     */
    public boolean isDeleting(final long extentId)
    {
        return deleting.contains(extentId);
    }

    /**
     * One collection: take finished deletes, confirm them, ask the manager what to delete and start those deletes.
     * Failures are recorded ({@link #lastError()}) and retried at the next collection; nothing is thrown.
     *
     * @param client the heartbeat's connected manager client.
     */
    public void collect(final ManagerClient client)
    {
        try
        {
            takeResults();
            confirm(client);
            if (!reconciledAtStart)
            {
                final long[] held = listExtentFiles();
                for (int from = 0; from < held.length; from += ManagerStateMachine.MAX_RECONCILE_IDS)
                {
                    final int count = Math.min(ManagerStateMachine.MAX_RECONCILE_IDS, held.length - from);
                    schedule(client.reconcileExtents(nodeId, held, from, count));
                }
                if (held.length == 0)
                {
                    schedule(client.reconcileExtents(nodeId, held, 0, 0));
                }
                reconciledAtStart = true;
                log.println("cairn-node: reconciled " + held.length + " extent files with the manager");
            }
            else
            {
                int count = 0;
                Long id;
                while (count < ids.length && null != (id = suspects.poll()))
                {
                    ids[count++] = id;
                }
                try
                {
                    schedule(client.reconcileExtents(nodeId, ids, 0, count));
                }
                catch (final RuntimeException ex)
                {
                    for (int i = 0; i < count; i++)
                    {
                        suspects.offer(ids[i]); // asked again next time
                    }
                    throw ex;
                }
            }
            collections++;
        }
        catch (final RuntimeException | IOException ex)
        {
            lastError = String.valueOf(ex.getMessage());
        }
    }

    private void schedule(final ManagerListing.Reconcile answer)
    {
        for (final long extentId : answer.deletes())
        {
            if (deleting.size() >= ExtentDeleteAgent.QUEUE_CAPACITY)
            {
                return; // the rest is answered again next time
            }
            if (!deleting.add(extentId))
            {
                continue; // already being deleted or awaiting confirmation
            }
            // Marked before the check: the recovery worker marks its extent before checking isDeleting.
            if (recoveringExtent.getAsLong() == extentId || !deleteAgent.offerDelete(extentId))
            {
                deleting.remove(extentId);
            }
        }
    }

    private void takeResults()
    {
        ExtentDeleteAgent.Result result;
        while (null != (result = deleteAgent.pollResult()))
        {
            if (result.ok())
            {
                filesDeleted++;
                bytesReclaimed += result.reclaimedBytes();
                confirmPending.addLong(result.extentId());
                log.println("cairn-node: deleted extent " + result.extentId() + " (" + result.reclaimedBytes() +
                    " bytes reclaimed)");
            }
            else
            {
                deleteFailures++;
                deleting.remove(result.extentId()); // the manager lists it again; a failed orphan at the next start
                log.println("cairn-node: deleting extent " + result.extentId() + " failed; retried later");
            }
        }
    }

    private void confirm(final ManagerClient client)
    {
        while (!confirmPending.isEmpty())
        {
            final int count = Math.min(ManagerStateMachine.MAX_RECONCILE_IDS, confirmPending.size());
            for (int i = 0; i < count; i++)
            {
                ids[i] = confirmPending.getLong(i);
            }
            client.confirmExtentsDeleted(nodeId, ids, 0, count);
            for (int i = 0; i < count; i++)
            {
                deleting.remove(ids[i]);
            }
            for (int i = count - 1; i >= 0; i--)
            {
                confirmPending.removeAt(i);
            }
        }
    }

    private long[] listExtentFiles() throws IOException
    {
        final LongArrayList found = new LongArrayList();
        for (final Path dataDir : dataDirs)
        {
            final Path dir = dataDir.resolve(ExtentFiles.EXTENTS_DIR);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + ExtentFiles.SUFFIX))
            {
                for (final Path file : files)
                {
                    final String name = file.getFileName().toString();
                    try
                    {
                        found.addLong(Long.parseLong(name.substring(0, name.length() - ExtentFiles.SUFFIX.length())));
                    }
                    catch (final NumberFormatException ex)
                    {
                        // Not an extent file name: never ours to delete.
                    }
                }
            }
            catch (final NoSuchFileException ex)
            {
                // A data directory without extents yet.
            }
        }
        return found.toLongArray();
    }

    /** @return extent files deleted since start. */
    public long filesDeleted()
    {
        return filesDeleted;
    }

    /** @return bytes of the files deleted since start. */
    public long bytesReclaimed()
    {
        return bytesReclaimed;
    }

    /** @return deletes that failed (retried). */
    public long deleteFailures()
    {
        return deleteFailures;
    }

    /** @return collections that completed. */
    public long collections()
    {
        return collections;
    }

    /** @return whether the reconciliation at start completed. */
    public boolean reconciledAtStart()
    {
        return reconciledAtStart;
    }

    /** @return the last failure's message, or "". */
    public String lastError()
    {
        return lastError;
    }
}
