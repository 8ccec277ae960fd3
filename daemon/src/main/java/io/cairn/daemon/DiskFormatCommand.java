package io.cairn.daemon;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code cairn-node format --node-id N --data-dir DIR [--data-dir DIR ...] [--upgrade]}: write the cookie of
 * each data directory (its index in the list is its disk id, as at start), or upgrade version 1 data.
 * Idempotent for directories already formatted for this node and index.
 */
final class DiskFormatCommand
{
    static final String USAGE = "usage: cairn-node format --node-id N --data-dir DIR [--data-dir DIR ...] [--upgrade]";

    private DiskFormatCommand()
    {
    }

    static int run(final String[] args)
    {
        int nodeId = 0;
        boolean upgrade = false;
        final List<Path> dirs = new ArrayList<>();
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                switch (args[i])
                {
                    case "--upgrade" -> upgrade = true;
                    case "--node-id" -> nodeId = Integer.parseInt(value(args, ++i, "--node-id"));
                    case "--data-dir" -> dirs.add(Path.of(value(args, ++i, "--data-dir")));
                    default -> throw new IllegalArgumentException("unknown flag " + args[i]);
                }
            }
            if (nodeId <= 0 || dirs.isEmpty())
            {
                throw new IllegalArgumentException("--node-id (> 0) and at least one --data-dir are required");
            }
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("cairn-node format: " + ex.getMessage());
            System.err.println(USAGE);
            return ExtentNode.EXIT_USAGE;
        }
        for (int d = 0; d < dirs.size(); d++)
        {
            try
            {
                final DiskFormat.Cookie cookie = upgrade ?
                    DiskFormat.upgrade(dirs.get(d), nodeId, d, System.out) : DiskFormat.format(dirs.get(d), nodeId, d);
                System.out.println("cairn-node format: " + dirs.get(d) + " node=" + cookie.nodeId() + " disk=" +
                    cookie.diskId() + " uuid=" + cookie.uuid() + " formatVersion=" + cookie.formatVersion());
            }
            catch (final IOException ex)
            {
                System.err.println("cairn-node format: " + ex.getMessage());
                return 1;
            }
        }
        return 0;
    }

    private static String value(final String[] args, final int i, final String flag)
    {
        if (i >= args.length)
        {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }
}
