package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Format robustness: cookies that are missing, truncated, junk, for another node or disk, or of another
 * version; extent files that are truncated, junk or of format version 1.
 */
class DiskFormatTest
{
    Path dir;

    @BeforeEach
    void setUp() throws IOException
    {
        dir = Path.of("target", "test-data", "format-" + System.nanoTime()).toAbsolutePath();
    }

    @AfterEach
    void tearDown() throws IOException
    {
        if (Files.exists(dir))
        {
            try (Stream<Path> files = Files.walk(dir))
            {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    String refusal(final int nodeId, final int diskId)
    {
        return assertThrows(IOException.class, () -> DiskFormat.verify(dir, nodeId, diskId)).getMessage();
    }

    @Test
    void formattedDiskIsAcceptedOnlyByItsNodeAndIndex() throws IOException
    {
        final DiskFormat.Cookie cookie = DiskFormat.format(dir, 3, 1);
        assertEquals(cookie, DiskFormat.verify(dir, 3, 1));
        assertEquals(cookie, DiskFormat.format(dir, 3, 1), "format is idempotent");
        assertTrue(refusal(4, 1).contains("belongs to node 3 disk 1"), refusal(4, 1));
        assertTrue(refusal(3, 0).contains("belongs to node 3 disk 1"), refusal(3, 0));
        assertThrows(IOException.class, () -> DiskFormat.format(dir, 4, 1), "re-format for another node");
    }

    @Test
    void missingCookieSaysWhatToDo() throws IOException
    {
        assertTrue(refusal(1, 0).contains("not formatted"), refusal(1, 0));
        Files.createDirectories(dir.resolve(ExtentFiles.EXTENTS_DIR));
        Files.write(ExtentFiles.path(dir, 5), new byte[8192]);
        assertTrue(refusal(1, 0).contains("--upgrade"), refusal(1, 0));
        assertThrows(IOException.class, () -> DiskFormat.format(dir, 1, 0), "format refuses a non-empty directory");
    }

    @Test
    void truncatedJunkAndWrongVersionCookiesAreRefused() throws IOException
    {
        DiskFormat.format(dir, 1, 0);
        final Path cookie = dir.resolve(DiskFormat.COOKIE_FILE);
        final byte[] good = Files.readAllBytes(cookie);
        Files.write(cookie, Arrays.copyOf(good, 20));
        assertTrue(refusal(1, 0).contains("truncated"), refusal(1, 0));
        final byte[] junk = new byte[4096];
        new Random(1).nextBytes(junk);
        Files.write(cookie, junk);
        assertTrue(refusal(1, 0).contains("not a Cairn cookie"), refusal(1, 0));
        final byte[] flipped = good.clone();
        flipped[20] ^= 1;
        Files.write(cookie, flipped);
        assertTrue(refusal(1, 0).contains("corrupt"), refusal(1, 0));
        Files.write(cookie, new byte[0]);
        assertTrue(refusal(1, 0).contains("truncated"), refusal(1, 0));
        DiskFormat.writeCookie(dir, new DiskFormat.Cookie(DiskFormat.FORMAT_VERSION + 1, 1, 0, UUID.randomUUID()));
        assertTrue(refusal(1, 0).contains("use a newer build"), refusal(1, 0));
        DiskFormat.writeCookie(dir, new DiskFormat.Cookie(1, 1, 0, UUID.randomUUID()));
        assertTrue(refusal(1, 0).contains("--upgrade"), refusal(1, 0));
    }

    @Test
    void badExtentFilesAreSkippedWithTheReasonAndVersionOneIsUpgraded() throws IOException
    {
        DiskFormat.format(dir, 1, 0);
        Files.write(ExtentFiles.path(dir, 1), new byte[100]);
        final byte[] junk = new byte[3 * 4096];
        new Random(2).nextBytes(junk);
        Files.write(ExtentFiles.path(dir, 2), junk);
        Files.write(ExtentFiles.path(dir, 3), new byte[3 * 4096]);
        Files.write(ExtentFiles.path(dir, 4), versionOneExtent(4, 9));
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<RecoveredExtent> found = ExtentFiles.recover(UringDiskStorage.INSTANCE, dir, 0, new PrintStream(out));
        found.forEach(r -> closeQuietly(r.fd()));
        final String log = out.toString();
        assertEquals(0, found.size(), log);
        assertTrue(log.contains("1.ext: shorter than an extent header"), log);
        assertTrue(log.contains("2.ext: not an extent header"), log);
        assertTrue(log.contains("3.ext: not an extent header"), log);
        assertTrue(log.contains("4.ext: extent format version 1"), log);

        Files.delete(dir.resolve(DiskFormat.COOKIE_FILE));
        DiskFormat.upgrade(dir, 1, 0, new PrintStream(new ByteArrayOutputStream()));
        DiskFormat.verify(dir, 1, 0);
        found = ExtentFiles.recover(UringDiskStorage.INSTANCE, dir, 0, new PrintStream(new ByteArrayOutputStream()));
        found.forEach(r -> closeQuietly(r.fd()));
        assertEquals(1, found.size());
        assertEquals(4, found.get(0).extentId());
        assertEquals(9, found.get(0).streamId());
        assertEquals(BlockFormat.EXTENT_HEADER_LENGTH_BYTES, found.get(0).commitLength());
    }

    @Test
    void extentFormatTwoIsRefusedByNameAndAVersionOneExtentWithBlocksIsNotRelabelledThree() throws IOException
    {
        DiskFormat.format(dir, 1, 0);
        final ByteBuffer page = ByteBuffer.allocateDirect(3 * 4096).order(ByteOrder.LITTLE_ENDIAN);
        BlockFormat.encodeExtentHeader(page, new org.agrona.concurrent.UnsafeBuffer(page), new java.util.zip.CRC32C(),
            5, 9, 3 * 4096, 2);
        final byte[] v2 = new byte[3 * 4096];
        page.get(0, v2);
        Files.write(ExtentFiles.path(dir, 5), v2);
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<RecoveredExtent> found = ExtentFiles.recover(UringDiskStorage.INSTANCE, dir, 0, new PrintStream(out));
        found.forEach(r -> closeQuietly(r.fd()));
        assertEquals(0, found.size());
        assertTrue(out.toString().contains("5.ext: extent format version 2 (32-byte block headers, no records): " +
            "this build reads version " + BlockFormat.FORMAT_VERSION), out.toString());
        Files.delete(ExtentFiles.path(dir, 5));

        // A version-1 extent holding a block (32-byte header) stays readable only as format 2.
        final byte[] v1 = versionOneExtent(6, 9);
        ByteBuffer.wrap(v1).order(ByteOrder.LITTLE_ENDIAN).putInt(4096, BlockFormat.BLOCK_MAGIC);
        Files.write(ExtentFiles.path(dir, 6), v1);
        Files.delete(dir.resolve(DiskFormat.COOKIE_FILE));
        final ByteArrayOutputStream upgradeLog = new ByteArrayOutputStream();
        DiskFormat.upgrade(dir, 1, 0, new PrintStream(upgradeLog));
        assertTrue(upgradeLog.toString().contains("header rewritten in format 2"), upgradeLog.toString());
        final ByteArrayOutputStream after = new ByteArrayOutputStream();
        found = ExtentFiles.recover(UringDiskStorage.INSTANCE, dir, 0, new PrintStream(after));
        found.forEach(r -> closeQuietly(r.fd()));
        assertEquals(0, found.size());
        assertTrue(after.toString().contains("6.ext: extent format version 2"), after.toString());
    }

    static byte[] versionOneExtent(final long extentId, final long streamId)
    {
        final ByteBuffer page = ByteBuffer.allocate(3 * 4096).order(ByteOrder.LITTLE_ENDIAN);
        page.putInt(0, 0x4E524143).putInt(4, 1).putLong(8, extentId).putLong(16, streamId).putLong(24, 3 * 4096);
        final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(page.array(), 0, 32);
        page.putInt(32, (int)crc.getValue());
        return page.array();
    }

    static void closeQuietly(final int fd)
    {
        try
        {
            UringDiskStorage.INSTANCE.close(fd);
        }
        catch (final IOException ignore)
        {
            // test clean-up
        }
    }
}
