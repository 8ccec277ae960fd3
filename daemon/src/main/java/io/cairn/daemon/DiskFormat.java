package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.sbe.disk.DiskCookieDecoder;
import io.cairn.sbe.disk.DiskCookieEncoder;
import io.cairn.sbe.disk.MessageHeaderDecoder;
import io.cairn.sbe.disk.MessageHeaderEncoder;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * Disk identity: the cookie (superblock) of a data directory, {@code <dataDir>/CAIRN-COOKIE}, an SBE
 * {@code DiskCookie} (schema 300) naming the node, the disk index, a random uuid and the disk format version.
 * <p>
 * A node starts only on data directories whose cookie names it, at the index it is given, in the format
 * version this build writes ({@link #FORMAT_VERSION}). That catches a disk moved to the wrong node or slot,
 * an unmounted mount point (an empty directory where a formatted disk should be), and an old layout.
 * <p>
 * Format versions and their upgrade path ({@code cairn-node format --upgrade}, offline):
 * <ul>
 *   <li>1: the walking skeleton: no cookie; extent header page = fixed 36-byte header ("CARN").</li>
 *   <li>2: cookie; extent header page = SBE ExtentHeader + two ExtentState slots; blocks carry an epoch.
 *       Upgrading 1 to 2 rewrites each extent's header page (epoch 1, checkpoint at the first block, so the
 *       next start verifies every block) and then writes the cookie. v1 blocks carry epoch 0 and stay valid.</li>
 * </ul>
 */
public final class DiskFormat
{
    /** The disk format version this build writes and reads. */
    public static final int FORMAT_VERSION = 2;
    /** The cookie's file name in a data directory. */
    public static final String COOKIE_FILE = "CAIRN-COOKIE";
    /** Magic of a cookie: "RNCOOKIE". */
    public static final long COOKIE_MAGIC = 0x45494B4F4F434E52L;
    /** Cookie file length (one page). */
    static final int COOKIE_LENGTH_BYTES = 4096;

    private static final int V1_EXTENT_MAGIC = 0x4E524143;

    /**
     * The identity read from a cookie.
     *
     * @param formatVersion disk format version.
     * @param nodeId        node.
     * @param diskId        disk index.
     * @param uuid          unique id of this formatting.
     */
    public record Cookie(int formatVersion, int nodeId, int diskId, UUID uuid)
    {
    }

    private DiskFormat()
    {
    }

    /**
     * Format a data directory for a node: create it and its extents directory, write the cookie durably.
     * Idempotent for the same node and disk; refuses a directory formatted for another, and one that holds
     * data of an older format (use {@link #upgrade}).
     *
     * @param dataDir the data directory.
     * @param nodeId  node id.
     * @param diskId  index of the directory in the node's --data-dir list.
     * @return the cookie (the existing one when already formatted for this node and disk).
     * @throws IOException with a message that says what to do.
     */
    public static Cookie format(final Path dataDir, final int nodeId, final int diskId) throws IOException
    {
        final Path cookieFile = dataDir.resolve(COOKIE_FILE);
        if (Files.exists(cookieFile))
        {
            return verify(dataDir, nodeId, diskId);
        }
        if (!isEmpty(dataDir))
        {
            throw new IOException(dataDir + " is not empty and has no " + COOKIE_FILE + ": it holds data of disk format " +
                "version 1 or something else; run `cairn-node format --upgrade` for version 1 data, else empty it");
        }
        Files.createDirectories(dataDir.resolve(ExtentFiles.EXTENTS_DIR));
        final Cookie cookie = new Cookie(FORMAT_VERSION, nodeId, diskId, UUID.randomUUID());
        writeCookie(dataDir, cookie);
        return cookie;
    }

    /**
     * Upgrade a data directory from format version 1 (offline: the node must not run).
     *
     * @param dataDir the data directory.
     * @param nodeId  node id.
     * @param diskId  disk index.
     * @param log     where each upgraded extent is reported.
     * @return the new cookie.
     * @throws IOException when it cannot be upgraded.
     */
    public static Cookie upgrade(final Path dataDir, final int nodeId, final int diskId, final PrintStream log)
        throws IOException
    {
        if (Files.exists(dataDir.resolve(COOKIE_FILE)))
        {
            final Cookie cookie = readCookie(dataDir);
            if (cookie.formatVersion() == FORMAT_VERSION)
            {
                return verify(dataDir, nodeId, diskId);
            }
            throw new IOException(dataDir + ": no upgrade path from disk format version " + cookie.formatVersion());
        }
        final Path extents = dataDir.resolve(ExtentFiles.EXTENTS_DIR);
        Files.createDirectories(extents);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(extents, "*" + ExtentFiles.SUFFIX))
        {
            for (final Path file : files)
            {
                upgradeExtentV1(file, log);
            }
        }
        UringDiskStorage.INSTANCE.syncDirectory(extents);
        final Cookie cookie = new Cookie(FORMAT_VERSION, nodeId, diskId, UUID.randomUUID());
        writeCookie(dataDir, cookie);
        return cookie;
    }

    private static void upgradeExtentV1(final Path file, final PrintStream log) throws IOException
    {
        final ByteBuffer page = ByteBuffer.allocateDirect(BlockFormat.EXTENT_HEADER_LENGTH_BYTES)
            .order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            if (channel.read(page, 0) != page.capacity() || page.getInt(0) != V1_EXTENT_MAGIC || page.getInt(4) != 1)
            {
                log.println("cairn-node format --upgrade: leaving " + file + ": not a version 1 extent");
                return;
            }
            final CRC32C crc = new CRC32C();
            crc.update(page.duplicate().limit(32).position(0));
            if ((int)crc.getValue() != page.getInt(32))
            {
                log.println("cairn-node format --upgrade: leaving " + file + ": version 1 header CRC mismatch");
                return;
            }
            final long extentId = page.getLong(8);
            final long streamId = page.getLong(16);
            final long sizeBytes = page.getLong(24);
            // Version-1 blocks have 32-byte headers, readable only by extent format 2 (see extent-format.md).
            page.clear().limit(4);
            final boolean hasBlocks = channel.read(page, BlockFormat.EXTENT_HEADER_LENGTH_BYTES) == 4 &&
                page.getInt(0) == BlockFormat.BLOCK_MAGIC;
            final int version = hasBlocks ? 2 : BlockFormat.FORMAT_VERSION;
            page.clear();
            BlockFormat.encodeExtentHeader(page, new UnsafeBuffer(page), crc, extentId, streamId, sizeBytes, version);
            page.clear();
            channel.write(page, 0);
            channel.force(false);
            log.println("cairn-node format --upgrade: extent " + extentId + " header rewritten in format " +
                version + " (" + file + ")" + (hasBlocks ? ": it holds blocks with 32-byte headers, which this " +
                "build does not read; see docs/internals/extent-format.md" : ""));
        }
    }

    /**
     * Check the cookie of a data directory against the node's configuration.
     *
     * @param dataDir the data directory.
     * @param nodeId  this node.
     * @param diskId  this directory's index.
     * @return the cookie.
     * @throws IOException with a message that names the directory, what is wrong and what to do.
     */
    public static Cookie verify(final Path dataDir, final int nodeId, final int diskId) throws IOException
    {
        if (!Files.exists(dataDir.resolve(COOKIE_FILE)))
        {
            throw new IOException("data directory " + dataDir + " has no " + COOKIE_FILE + ": " +
                (isEmpty(dataDir) ? "it is not formatted (or the disk is not mounted); run `cairn-node format " +
                    "--node-id " + nodeId + " --data-dir " + dataDir + "` or start with --format-if-empty" :
                    "it holds disk format version 1 data; run `cairn-node format --upgrade --node-id " + nodeId +
                        " --data-dir " + dataDir + "`"));
        }
        final Cookie cookie = readCookie(dataDir);
        if (cookie.formatVersion() != FORMAT_VERSION)
        {
            throw new IOException("data directory " + dataDir + " is in disk format version " + cookie.formatVersion() +
                "; this build reads version " + FORMAT_VERSION +
                (cookie.formatVersion() < FORMAT_VERSION ? ": run `cairn-node format --upgrade`" : ": use a newer build"));
        }
        if (cookie.nodeId() != nodeId || cookie.diskId() != diskId)
        {
            throw new IOException("data directory " + dataDir + " belongs to node " + cookie.nodeId() + " disk " +
                cookie.diskId() + " (uuid " + cookie.uuid() + "), not node " + nodeId + " disk " + diskId +
                ": wrong disk, wrong --node-id, or --data-dir flags in another order");
        }
        return cookie;
    }

    /**
     * @param dataDir a data directory.
     * @return its cookie.
     * @throws IOException when it is missing, truncated or corrupt.
     */
    public static Cookie readCookie(final Path dataDir) throws IOException
    {
        final Path file = dataDir.resolve(COOKIE_FILE);
        final byte[] bytes = Files.readAllBytes(file);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        final MessageHeaderDecoder header = new MessageHeaderDecoder();
        final int needed = MessageHeaderDecoder.ENCODED_LENGTH + DiskCookieDecoder.BLOCK_LENGTH;
        if (bytes.length < needed)
        {
            throw new IOException(file + " is truncated (" + bytes.length + " bytes): the cookie is damaged; " +
                "restore it or re-format the disk (its data is then lost to this node)");
        }
        header.wrap(buffer, 0);
        if (header.schemaId() != DiskCookieDecoder.SCHEMA_ID || header.templateId() != DiskCookieDecoder.TEMPLATE_ID ||
            header.blockLength() != DiskCookieDecoder.BLOCK_LENGTH)
        {
            throw new IOException(file + " is not a Cairn cookie (schema " + header.schemaId() + ", template " +
                header.templateId() + ")");
        }
        final DiskCookieDecoder decoder = new DiskCookieDecoder();
        decoder.wrap(buffer, MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
        final CRC32C crc = new CRC32C();
        crc.update(bytes, 0, MessageHeaderDecoder.ENCODED_LENGTH + DiskCookieDecoder.crc32cEncodingOffset());
        if (decoder.magic() != COOKIE_MAGIC || (int)crc.getValue() != decoder.crc32c())
        {
            throw new IOException(file + " is corrupt (bad magic or CRC32C)");
        }
        return new Cookie(decoder.formatVersion(), decoder.nodeId(), decoder.diskId(),
            new UUID(decoder.uuidMsb(), decoder.uuidLsb()));
    }

    static void writeCookie(final Path dataDir, final Cookie cookie) throws IOException
    {
        final byte[] bytes = new byte[COOKIE_LENGTH_BYTES];
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        final DiskCookieEncoder encoder = new DiskCookieEncoder()
            .wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .magic(COOKIE_MAGIC)
            .formatVersion(cookie.formatVersion())
            .nodeId(cookie.nodeId())
            .diskId(cookie.diskId())
            .uuidMsb(cookie.uuid().getMostSignificantBits())
            .uuidLsb(cookie.uuid().getLeastSignificantBits())
            .formattedEpochMs(System.currentTimeMillis());
        final CRC32C crc = new CRC32C();
        crc.update(bytes, 0, MessageHeaderEncoder.ENCODED_LENGTH + DiskCookieEncoder.crc32cEncodingOffset());
        encoder.crc32c((int)crc.getValue());
        // Write aside, sync, rename, sync the directory: a crash leaves the old cookie or the new, never half.
        final Path tmp = dataDir.resolve(COOKIE_FILE + ".tmp");
        try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            channel.write(ByteBuffer.wrap(bytes));
            channel.force(true);
        }
        Files.move(tmp, dataDir.resolve(COOKIE_FILE), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        UringDiskStorage.INSTANCE.syncDirectory(dataDir);
    }

    /**
     * @param dataDir a directory.
     * @return true when it does not exist, or holds nothing but an empty extents directory.
     * @throws IOException when it cannot be read.
     */
    public static boolean isEmpty(final Path dataDir) throws IOException
    {
        if (!Files.isDirectory(dataDir))
        {
            return !Files.exists(dataDir);
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dataDir))
        {
            for (final Path entry : entries)
            {
                final boolean emptyExtentsDir = entry.getFileName().toString().equals(ExtentFiles.EXTENTS_DIR) &&
                    Files.isDirectory(entry) && isEmptyDirectory(entry);
                if (!emptyExtentsDir)
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isEmptyDirectory(final Path dir) throws IOException
    {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir))
        {
            return !entries.iterator().hasNext();
        }
    }
}
