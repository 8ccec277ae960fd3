package io.cairn.client;

import io.cairn.client.cli.DaemonCommands;
import io.cairn.client.cli.ManagerCommands;
import io.cairn.manager.ExtentInfo;
import io.cairn.manager.ManagerAuthenticator;
import io.cairn.manager.ManagerClient;
import io.cairn.manager.ManagerEndpoints;
import io.cairn.manager.ManagerException;
import io.cairn.manager.StreamInfo;
import io.cairn.replication.NodeProtocol;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * The {@code cairn} admin CLI. Exit codes: 0 success, 1 the operation failed, 2 bad usage.
 */
public final class CairnCli
{
    static final int EXIT_OK = 0;
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    /** {@code stream read} without {@code --replica}: any replica answers each block. */
    private static final int ANY_REPLICA = -1;

    static final String USAGE = """
        usage: cairn [--managers 0=host:port,1=host:port,2=host:port] [--timeout-ms N] [--json]
                     [--credentials ROLE:SECRET] COMMAND

        commands:
          status                           manager members, leader, term, log and snapshot positions
        %s
        %s
          stream create NAME               create a stream (its first extent goes on 3 distinct nodes)
          stream info STREAM_ID            extents of a stream, their replicas and sealed lengths
          stream append STREAM_ID (--data TEXT | --file PATH | --random-bytes N) [--count K] [--meta TEXT]
                                           append K records (default 1); each is acknowledged once all of
                                           it is durable on all 3 replicas (max %d bytes per record, sent
                                           in chunks of %d; --meta: user metadata, max %d bytes UTF-8)
          stream read STREAM_ID [--replica 0|1|2] [--out PATH]
                                           read every record (CRC32C of each block checked by the node),
                                           list them with their metadata, and with --out write the
                                           payloads there, concatenated; from any replica (hedged), or
                                           with --replica from that one alone
          stream seal STREAM_ID            take ownership, fence and seal the tail on its replicas at the
                                           smallest commit length, and have the manager add a new tail
          stream truncate --stream S --keep-from EXTENT [--owner-revision R]
                                           drop the stream's extents before EXTENT (never the tail); their
                                           nodes delete the files. Without --owner-revision it acts for the
                                           current owner (refused if a writer takes over meanwhile)
          stream punch --stream S --extent E [--owner-revision R]
                                           remove one sealed extent that is not the tail
          extent info EXTENT_ID            the manager's record and each replica's commit length, sealed
                                           state and owner revision

        --managers defaults to $CAIRN_MANAGERS, else the ./run.sh local cluster (%s).
        --json prints JSON instead of tables (manager commands).
        --credentials defaults to $CAIRN_MANAGER_CREDENTIALS, else the local cluster's client credentials; for
          'snapshot' and partition changes to $CAIRN_ADMIN_CREDENTIALS, else the local cluster's admin credentials.
        """.formatted(ManagerCommands.USAGE.stripTrailing(), DaemonCommands.USAGE.stripTrailing(),
        NodeProtocol.MAX_RECORD_BYTES, NodeProtocol.MAX_PAYLOAD_BYTES, NodeProtocol.MAX_USER_METADATA_BYTES,
        CairnClient.Context.MANAGERS_DEFAULT);

    private final PrintStream out;
    private final PrintStream err;

    /**
     * @param out where results go.
     * @param err where errors and usage go.
     */
    public CairnCli(final PrintStream out, final PrintStream err)
    {
        this.out = out;
        this.err = err;
    }

    public static void main(final String[] args)
    {
        final int exitCode = new CairnCli(System.out, System.err).run(args);
        System.out.flush();
        System.exit(exitCode);
    }

    /** Thrown for bad command lines; carries the message shown above the usage. */
    static final class UsageException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        UsageException(final String message)
        {
            super(message);
        }
    }

    /**
     * Runs one command line.
     *
     * @param argv the arguments after the program name.
     * @return the exit code: 0 success, 1 failed, 2 bad usage.
     */
    public int run(final String[] argv)
    {
        final List<String> args = new ArrayList<>(Arrays.asList(argv));
        final Command command;
        try
        {
            if (args.isEmpty() || args.contains("--help") || args.contains("-h"))
            {
                out.print(USAGE);
                return args.isEmpty() ? EXIT_USAGE : EXIT_OK;
            }
            command = parse(args);
        }
        catch (final UsageException ex)
        {
            err.println("cairn: " + ex.getMessage());
            err.print(USAGE);
            return EXIT_USAGE;
        }
        if (null != command.local())
        {
            return command.local().getAsInt(); // reads files on this machine: no client, no connection
        }

        // CairnClient builds its ManagerClient itself: hand the credentials over by the property its Context reads.
        final String previousCredentials = System.getProperty(ManagerClient.Context.CREDENTIALS_PROP_NAME);
        if (command.credentials != null)
        {
            System.setProperty(ManagerClient.Context.CREDENTIALS_PROP_NAME, command.credentials);
        }
        try (CairnClient client = CairnClient.connect(new CairnClient.Context()
            .managers(command.managers)
            .managerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(command.timeoutMs))
            .nodeTimeoutNs(TimeUnit.MILLISECONDS.toNanos(Math.min(command.timeoutMs, 5_000)))))
        {
            return command.action.run(client);
        }
        catch (final ManagerException | CairnException ex)
        {
            err.println("cairn: " + ex.getMessage());
            return EXIT_FAILED;
        }
        catch (final IOException ex)
        {
            err.println("cairn: " + ex);
            return EXIT_FAILED;
        }
        catch (final RuntimeException ex)
        {
            err.println("cairn: unexpected error: " + ex);
            return EXIT_FAILED;
        }
        finally
        {
            if (previousCredentials == null)
            {
                System.clearProperty(ManagerClient.Context.CREDENTIALS_PROP_NAME);
            }
            else
            {
                System.setProperty(ManagerClient.Context.CREDENTIALS_PROP_NAME, previousCredentials);
            }
        }
    }

    @FunctionalInterface
    interface Action
    {
        int run(CairnClient client) throws IOException;
    }

    record Command(String managers, long timeoutMs, String credentials, Action action,
        java.util.function.IntSupplier local)
    {
        Command(final String managers, final long timeoutMs, final String credentials, final Action action)
        {
            this(managers, timeoutMs, credentials, action, null);
        }

        Command(final String managers, final long timeoutMs, final Action action)
        {
            this(managers, timeoutMs, null, action, null);
        }
    }

    Command parse(final List<String> args)
    {
        String managers = System.getenv().getOrDefault("CAIRN_MANAGERS", CairnClient.Context.MANAGERS_DEFAULT);
        final String managersFlag = takeOption(args, "--managers");
        if (null != managersFlag)
        {
            managers = managersFlag;
        }
        try
        {
            ManagerEndpoints.parse(managers);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageException("--managers: " + ex.getMessage());
        }
        final String timeoutFlag = takeOption(args, "--timeout-ms");
        final long timeoutMs = null == timeoutFlag ? 20_000 : parseLong("--timeout-ms", timeoutFlag, 1, 600_000);
        final boolean json = args.remove("--json");
        String credentials = takeOption(args, "--credentials");
        if (credentials != null && credentials.indexOf(':') <= 0)
        {
            throw new UsageException("--credentials must be ROLE:SECRET");
        }
        final ManagerCommands managerCommands = new ManagerCommands(out, json);

        if (args.isEmpty())
        {
            throw new UsageException("missing command");
        }
        final String verb = args.remove(0);
        return switch (verb)
        {
            case "status" ->
            {
                final String members = managers;
                yield new Command(managers, timeoutMs, credentials, noMoreArgs(args,
                    client -> managerCommands.status(client.clusterStatus(), members)));
            }
            case "stream" -> new Command(managers, timeoutMs, credentials, parseStream(args, managerCommands));
            case "extent" -> new Command(managers, timeoutMs, credentials, parseExtent(args));
            case "nodes", "disks", "streams", "extents", "tasks", "partitions", "kv", "snapshot" ->
            {
                if (ManagerCommands.needsAdmin(verb, args) && credentials == null)
                {
                    credentials = System.getenv().getOrDefault(
                        "CAIRN_ADMIN_CREDENTIALS", ManagerAuthenticator.ADMIN_CREDENTIALS_DEFAULT);
                }
                final ManagerCommands.Action action;
                try
                {
                    action = managerCommands.parse(verb, args);
                }
                catch (final IllegalArgumentException ex)
                {
                    throw new UsageException(ex.getMessage());
                }
                yield new Command(managers, timeoutMs, credentials, client -> action.run(client.manager()));
            }
            case "stat", "health", "errors" ->
            {
                try
                {
                    yield new Command(managers, timeoutMs, credentials, null,
                        new DaemonCommands(out, err).prepare(verb, args, managers, json, timeoutMs));
                }
                catch (final IllegalArgumentException ex)
                {
                    throw new UsageException(ex.getMessage());
                }
            }
            default -> throw new UsageException("unknown command '" + verb + "'");
        };
    }

    private Action parseStream(final List<String> args, final ManagerCommands managerCommands)
    {
        if (args.isEmpty())
        {
            throw new UsageException("stream needs a subcommand: create, info, append, read, seal, truncate or punch");
        }
        final String sub = args.remove(0);
        switch (sub)
        {
            case "create":
            {
                final String name = positional(args, "NAME");
                if (name.isBlank() || name.getBytes(StandardCharsets.UTF_8).length > 256)
                {
                    throw new UsageException("stream name must be 1 to 256 bytes");
                }
                return noMoreArgs(args, client -> streamCreate(client, name));
            }
            case "info":
            {
                final long streamId = parseLong("STREAM_ID", positional(args, "STREAM_ID"), 1, Long.MAX_VALUE);
                return noMoreArgs(args, client -> streamInfo(client, streamId));
            }
            case "append":
                return parseAppend(args);
            case "read":
            {
                final String replicaFlag = takeOption(args, "--replica");
                final int replica = null == replicaFlag ? ANY_REPLICA :
                    (int)parseLong("--replica", replicaFlag, 0, NodeProtocol.REPLICA_COUNT - 1);
                final String outPath = takeOption(args, "--out");
                final long streamId = parseLong("STREAM_ID", positional(args, "STREAM_ID"), 1, Long.MAX_VALUE);
                return noMoreArgs(args, client -> streamRead(client, streamId, replica, outPath));
            }
            case "seal":
            {
                final long streamId = parseLong("STREAM_ID", positional(args, "STREAM_ID"), 1, Long.MAX_VALUE);
                return noMoreArgs(args, client -> streamSeal(client, streamId));
            }
            case "truncate":
            {
                final long streamId = requiredLong(args, "--stream", 1);
                final long keepFrom = requiredLong(args, "--keep-from", 1);
                final long revision = optionalRevision(args);
                return noMoreArgs(args,
                    client -> managerCommands.streamTruncate(client.manager(), streamId, keepFrom, revision));
            }
            case "punch":
            {
                final long streamId = requiredLong(args, "--stream", 1);
                final long extentId = requiredLong(args, "--extent", 1);
                final long revision = optionalRevision(args);
                return noMoreArgs(args,
                    client -> managerCommands.streamPunch(client.manager(), streamId, extentId, revision));
            }
            default:
                throw new UsageException("unknown stream subcommand '" + sub + "'");
        }
    }

    private static long requiredLong(final List<String> args, final String option, final long min)
    {
        final String value = takeOption(args, option);
        if (null == value)
        {
            throw new UsageException("missing " + option);
        }
        return parseLong(option, value, min, Long.MAX_VALUE);
    }

    private static long optionalRevision(final List<String> args)
    {
        final String value = takeOption(args, "--owner-revision");
        return null == value ? -1 : parseLong("--owner-revision", value, 0, Long.MAX_VALUE);
    }

    private Action parseExtent(final List<String> args)
    {
        if (args.isEmpty() || !"info".equals(args.remove(0)))
        {
            throw new UsageException("extent needs a subcommand: info EXTENT_ID");
        }
        final long extentId = parseLong("EXTENT_ID", positional(args, "EXTENT_ID"), 1, Long.MAX_VALUE);
        return noMoreArgs(args, client -> extentInfo(client, extentId));
    }

    /** Takes ownership of the stream, fences and seals its tail on the replicas, and has the manager add a new one. */
    private int streamSeal(final CairnClient client, final long streamId)
    {
        final StreamInfo before = client.openStream(streamId);
        final ExtentInfo tail = before.tail();
        final StreamInfo after = client.sealTail(streamId);
        final ExtentInfo sealed = after.extents().stream().filter((e) -> e.extentId() == tail.extentId())
            .findFirst().orElseThrow();
        out.println("sealed extent " + tail.extentId() + " of stream " + streamId + " at " + sealed.sealedLength() +
            " (owner revision " + before.ownerRevision() + "); new tail " + after.tail().extentId());
        printExtents(after);
        return EXIT_OK;
    }

    /** The manager's record of an extent and each replica's own view: commit length, sealed, owner revision. */
    private int extentInfo(final CairnClient client, final long extentId)
    {
        final io.cairn.manager.ManagerListing.Extent extent = client.manager().listExtents().stream()
            .filter((e) -> e.extentId() == extentId).findFirst()
            .orElseThrow(() -> new UsageException("no extent " + extentId));
        out.println("extent " + extentId + " stream " + extent.streamId() + " " +
            (extent.sealedLength() >= 0 ? "sealed at " + extent.sealedLength() : "open") + " refCount " +
            extent.refCount() + " ownerRevision " + extent.ownerRevision());
        out.printf("  %-6s %-14s %-7s %s%n", "NODE", "COMMIT_LENGTH", "SEALED", "OWNER_REVISION");
        int exit = EXIT_OK;
        for (final int nodeId : extent.replicas())
        {
            try
            {
                final CairnClient.ReplicaStatus r = client.replicaStatus(nodeId, extentId);
                out.printf("  %-6d %-14d %-7s %d%n", nodeId, r.commitLength(), r.sealed() ? "yes" : "no",
                    r.ownerRevision());
            }
            catch (final CairnException ex)
            {
                out.printf("  %-6d unreachable: %s%n", nodeId, ex.getMessage());
                exit = EXIT_FAILED;
            }
        }
        return exit;
    }

    private Action parseAppend(final List<String> args)
    {
        final String data = takeOption(args, "--data");
        final String file = takeOption(args, "--file");
        final String randomBytes = takeOption(args, "--random-bytes");
        final String countFlag = takeOption(args, "--count");
        final String metaFlag = takeOption(args, "--meta");
        final long streamId = parseLong("STREAM_ID", positional(args, "STREAM_ID"), 1, Long.MAX_VALUE);
        final byte[] meta = null == metaFlag ? new byte[0] : metaFlag.getBytes(StandardCharsets.UTF_8);
        if (meta.length > NodeProtocol.MAX_USER_METADATA_BYTES)
        {
            throw new UsageException("--meta is " + meta.length + " bytes in UTF-8; at most " +
                NodeProtocol.MAX_USER_METADATA_BYTES + " allowed");
        }
        final int sources = (null == data ? 0 : 1) + (null == file ? 0 : 1) + (null == randomBytes ? 0 : 1);
        if (1 != sources)
        {
            throw new UsageException("stream append needs exactly one of --data, --file, --random-bytes");
        }
        final long count = null == countFlag ? 1 : parseLong("--count", countFlag, 1, 10_000_000);
        final byte[] payload;
        if (null != data)
        {
            payload = data.getBytes(StandardCharsets.UTF_8);
        }
        else if (null != file)
        {
            try
            {
                payload = Files.readAllBytes(Path.of(file));
            }
            catch (final IOException ex)
            {
                throw new UsageException("--file " + file + ": cannot read: " + ex.getMessage());
            }
        }
        else
        {
            payload = new byte[(int)parseLong("--random-bytes", randomBytes, 1, NodeProtocol.MAX_RECORD_BYTES)];
            new java.util.Random().nextBytes(payload);
        }
        if (payload.length < 1 || payload.length > NodeProtocol.MAX_RECORD_BYTES)
        {
            throw new UsageException("a record must be 1 to " + NodeProtocol.MAX_RECORD_BYTES + " bytes, got " +
                payload.length);
        }
        return noMoreArgs(args, client -> streamAppend(client, streamId, meta, payload, count));
    }

    private int streamCreate(final CairnClient client, final String name)
    {
        final StreamInfo info = client.createStream(name);
        out.println("created stream " + info.streamId() + " '" + info.name() + "'");
        printExtents(info);
        return EXIT_OK;
    }

    private int streamInfo(final CairnClient client, final long streamId)
    {
        final StreamInfo info = client.streamInfo(streamId);
        out.println("stream " + info.streamId() + " '" + info.name() + "'");
        printExtents(info);
        return EXIT_OK;
    }

    private void printExtents(final StreamInfo info)
    {
        out.printf("  %-10s %-14s %s%n", "EXTENT", "SEALED_LENGTH", "REPLICAS (primary first)");
        for (final ExtentInfo extent : info.extents())
        {
            final StringBuilder replicas = new StringBuilder();
            for (final int nodeId : extent.replicas())
            {
                replicas.append(nodeId).append('@').append(info.nodeEndpoints().get(nodeId)).append(' ');
            }
            out.printf("  %-10d %-14s %s%n", extent.extentId(),
                extent.sealed() ? Long.toString(extent.sealedLength()) : "open", replicas.toString().trim());
        }
    }

    private int streamAppend(
        final CairnClient client, final long streamId, final byte[] meta, final byte[] payload, final long count)
    {
        final AppendResult result = new AppendResult();
        final org.agrona.concurrent.UnsafeBuffer buffer = new org.agrona.concurrent.UnsafeBuffer(payload);
        final org.agrona.concurrent.UnsafeBuffer metaBuffer = new org.agrona.concurrent.UnsafeBuffer(meta);
        for (long i = 0; i < count; i++)
        {
            client.append(streamId, metaBuffer, 0, meta.length, buffer, 0, payload.length, result);
            if (count <= 20 || i == count - 1 || (i + 1) % 1000 == 0)
            {
                out.println("appended " + payload.length + " bytes: " + result + "  (" + (i + 1) + "/" + count + ")");
            }
        }
        return EXIT_OK;
    }

    private int streamRead(final CairnClient client, final long streamId, final int replica, final String outPath)
        throws IOException
    {
        final CRC32C crc = new CRC32C();
        final byte[][] scratch = { new byte[4096] };
        try (OutputStream sink = null == outPath ? OutputStream.nullOutputStream() : Files.newOutputStream(Path.of(outPath)))
        {
            final long[] bytes = { 0 };
            final IOException[] failure = { null };
            final CairnClient.RecordHandler handler = (extentId, blockOffset, record) ->
            {
                final int length = record.lengthBytes();
                if (scratch[0].length < length)
                {
                    scratch[0] = new byte[length];
                }
                record.payload().getBytes(0, scratch[0], 0, length);
                crc.reset();
                crc.update(scratch[0], 0, length);
                out.printf("extent=%d offset=%d length=%d crc32c=%08x%s%n", extentId, blockOffset, length,
                    crc.getValue(), record.metadataLengthBytes() == 0 ? "" : " meta=" + quoted(record.metadata()));
                bytes[0] += length;
                try
                {
                    sink.write(scratch[0], 0, length);
                }
                catch (final IOException ex)
                {
                    failure[0] = ex;
                }
            };
            // --replica reads that replica alone (the diagnostic); without it, any replica, hedged, primary first.
            final long blocks = ANY_REPLICA == replica ? client.readStream(streamId, 0, handler) :
                client.readStreamFromReplica(streamId, replica, handler);
            if (null != failure[0])
            {
                throw failure[0];
            }
            out.println("read " + blocks + " records, " + bytes[0] + " bytes from " +
                (ANY_REPLICA == replica ? "any replica" : "replica " + replica) +
                (null == outPath ? "" : " into " + outPath));
        }
        return EXIT_OK;
    }

    /** Metadata as a quoted string: printable ASCII as is, every other byte as \xNN. */
    static String quoted(final byte[] bytes)
    {
        final StringBuilder text = new StringBuilder("\"");
        for (final byte b : bytes)
        {
            if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\')
            {
                text.append((char)b);
            }
            else
            {
                text.append(String.format("\\x%02x", b & 0xFF));
            }
        }
        return text.append('"').toString();
    }

    private static Action noMoreArgs(final List<String> args, final Action action)
    {
        if (!args.isEmpty())
        {
            throw new UsageException("unexpected argument(s): " + String.join(" ", args));
        }
        return action;
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
        throw new UsageException("missing " + name);
    }

    private static String takeOption(final List<String> args, final String name)
    {
        final int index = args.indexOf(name);
        if (index < 0)
        {
            return null;
        }
        if (index + 1 >= args.size())
        {
            throw new UsageException(name + " needs a value");
        }
        args.remove(index);
        final String value = args.remove(index);
        if (args.contains(name))
        {
            throw new UsageException(name + " given more than once");
        }
        return value;
    }

    static long parseLong(final String name, final String value, final long min, final long max)
    {
        final long parsed;
        try
        {
            parsed = Long.parseLong(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException(name + " '" + value + "' is not a whole number");
        }
        if (parsed < min || parsed > max)
        {
            throw new UsageException(name + " " + parsed + " must be in [" + min + ", " + max + "]");
        }
        return parsed;
    }
}
