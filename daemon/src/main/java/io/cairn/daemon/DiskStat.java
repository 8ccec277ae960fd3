package io.cairn.daemon;

import io.aeron.CncFileDescriptor;
import io.cairn.replication.AeronDefaults;
import io.cairn.replication.metrics.CncFile;
import org.agrona.concurrent.status.CountersReader;

import java.io.File;
import java.io.PrintStream;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code cairn-node stat --node-id N [--aeron-dir DIR]}: print the per-disk counters of a running node,
 * read from its media driver's CnC file (mapped read-only; the node is not disturbed). {@code cairn stat} shows every
 * metric (replication counters and latency histograms too); this stays for its one line per disk.
 * <p>
 * One line per disk: {@code node=N disk=D dir=PATH state=OK bytes_written=... fsyncs=... ...}.
 */
public final class DiskStat
{
    static final String USAGE = "usage: cairn-node stat --node-id N [--aeron-dir DIR]";

    private DiskStat()
    {
    }

    /**
     * @param args flags.
     * @param out  where to print.
     * @return exit status.
     */
    public static int run(final String[] args, final PrintStream out)
    {
        String aeronDir = null;
        int nodeId = 0;
        try
        {
            for (int i = 0; i < args.length; i += 2)
            {
                if (i + 1 >= args.length)
                {
                    throw new IllegalArgumentException(args[i] + " needs a value");
                }
                switch (args[i])
                {
                    case "--node-id" -> nodeId = Integer.parseInt(args[i + 1]);
                    case "--aeron-dir" -> aeronDir = args[i + 1];
                    default -> throw new IllegalArgumentException("unknown flag " + args[i]);
                }
            }
            if (nodeId <= 0 && null == aeronDir)
            {
                throw new IllegalArgumentException("--node-id or --aeron-dir is required");
            }
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-node stat: " + ex.getMessage());
            System.err.println(USAGE);
            return ExtentNode.EXIT_USAGE;
        }
        final File cnc = new File(null != aeronDir ? aeronDir : AeronDefaults.aeronDirectory("node-" + nodeId),
            CncFileDescriptor.CNC_FILE);
        if (!cnc.exists())
        {
            System.err.println("cairn-node stat: " + cnc + " not found: is the node running?");
            return 1;
        }
        // Mapped read-only: the node is never disturbed (the same reader as `cairn stat`).
        try (CncFile mapped = CncFile.map(cnc.getParent()))
        {
            print(read(mapped.counters()), out);
        }
        catch (final IllegalStateException ex)
        {
            System.err.println("cairn-node stat: " + ex.getMessage());
            return 1;
        }
        return 0;
    }

    /**
     * @param reader the node's counters.
     * @return per disk (key "node=N disk=D dir=PATH"), counter name to value.
     */
    static Map<String, Map<String, Long>> read(final CountersReader reader)
    {
        final Map<String, Map<String, Long>> disks = new TreeMap<>();
        reader.forEach((counterId, typeId, keyBuffer, label) ->
        {
            if (typeId >= DiskCounters.TYPE_ID_BASE && typeId < DiskCounters.TYPE_ID_BASE + DiskCounters.Kind.values().length &&
                label.startsWith("cairn node="))
            {
                final int kindAt = label.indexOf(" kind=");
                final int dirAt = label.indexOf(" dir=");
                if (kindAt > 0 && dirAt > kindAt)
                {
                    final String disk = label.substring("cairn ".length(), kindAt) + label.substring(dirAt);
                    disks.computeIfAbsent(disk, k -> new java.util.LinkedHashMap<>())
                        .put(label.substring(kindAt + " kind=".length(), dirAt), reader.getCounterValue(counterId));
                }
            }
        });
        return disks;
    }

    private static void print(final Map<String, Map<String, Long>> disks, final PrintStream out)
    {
        if (disks.isEmpty())
        {
            out.println("no Cairn disk counters in this driver (is it an extent node?)");
        }
        for (final Map.Entry<String, Map<String, Long>> disk : disks.entrySet())
        {
            final StringBuilder line = new StringBuilder(disk.getKey());
            for (final Map.Entry<String, Long> counter : disk.getValue().entrySet())
            {
                line.append(' ').append(counter.getKey()).append('=');
                if ("disk_state".equals(counter.getKey()))
                {
                    final long state = counter.getValue();
                    line.append(state == DiskCounters.STATE_OK ? "OK" : state == DiskCounters.STATE_FULL ? "FULL" : "FAILED");
                }
                else
                {
                    line.append(counter.getValue());
                }
            }
            out.println(line);
        }
    }
}
