package io.cairn.bindings;

import io.cairn.bindings.generated.cairn_shim_h;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NativeIoTest
{
    @Test
    void openOfAMissingDirectoryCarriesErrnoOperationAndPath() throws Exception
    {
        final Path missing = TestDirectories.newTestDirectory("open").resolve("no-such-dir").resolve("extent.dat");
        final NativeIoException ex = assertThrows(NativeIoException.class, () -> NativeIo.openDirect(missing, true));
        assertEquals(Errno.ENOENT, ex.errno());
        assertEquals("open", ex.operation());
        assertEquals(missing.toString(), ex.path());
        assertEquals(NativeIoException.NO_FD, ex.fd());
        assertTrue(ex.getMessage().contains(missing.toString()), ex.getMessage());
        assertTrue(ex.getMessage().contains("No such file or directory"), ex.getMessage());
        assertTrue(ex.getMessage().startsWith("open failed"), ex.getMessage());
    }

    @Test
    void openWithoutCreateOfAMissingFileFails() throws Exception
    {
        final Path missing = TestDirectories.newTestDirectory("open").resolve("absent.dat");
        final NativeIoException ex = assertThrows(NativeIoException.class, () -> NativeIo.openDirect(missing, false));
        assertEquals(Errno.ENOENT, ex.errno());
    }

    @Test
    void fallocateGrowsTheFile() throws Exception
    {
        final Path file = TestDirectories.newTestDirectory("fallocate").resolve("extent.dat");
        final int fd = NativeIo.openDirect(file, true);
        try
        {
            assertEquals(0, NativeIo.fileSizeBytes(fd));
            NativeIo.fallocate(fd, 0, 1 << 20);
            assertEquals(1 << 20, NativeIo.fileSizeBytes(fd));
            NativeIo.fallocate(fd, 1 << 20, 1 << 20);
            assertEquals(2 << 20, NativeIo.fileSizeBytes(fd));
            NativeIo.fdatasync(fd);
        }
        finally
        {
            NativeIo.close(fd);
        }
        assertEquals(2 << 20, Files.size(file));
    }

    @Test
    void errorsOnABadFdCarryTheFdAndOffset()
    {
        final int notOpen = 100_000;
        final NativeIoException fallocate = assertThrows(NativeIoException.class,
            () -> NativeIo.fallocate(notOpen, 8192, 4096));
        assertEquals(Errno.EBADF, fallocate.errno());
        assertEquals("fallocate", fallocate.operation());
        assertEquals(notOpen, fallocate.fd());
        assertEquals(8192, fallocate.offsetBytes());
        assertNull(fallocate.path());
        assertTrue(fallocate.getMessage().contains("fd=" + notOpen), fallocate.getMessage());
        assertTrue(fallocate.getMessage().contains("offset=8192"), fallocate.getMessage());

        assertEquals(Errno.EBADF, assertThrows(NativeIoException.class, () -> NativeIo.fdatasync(notOpen)).errno());
        assertEquals(Errno.EBADF, assertThrows(NativeIoException.class, () -> NativeIo.close(notOpen)).errno());
        assertEquals(Errno.EBADF, assertThrows(NativeIoException.class, () -> NativeIo.fileSizeBytes(notOpen)).errno());
    }

    @Test
    void fallocateRejectsNonsenseRanges()
    {
        assertThrows(IllegalArgumentException.class, () -> NativeIo.fallocate(0, -1, 4096));
        assertThrows(IllegalArgumentException.class, () -> NativeIo.fallocate(0, 0, 0));
    }

    @Test
    void platformConstantsComeFromTheShim()
    {
        assertNotEquals(0, NativeIo.oDirectFlag());
        if ("amd64".equals(System.getProperty("os.arch")))
        {
            assertEquals(040000, NativeIo.oDirectFlag());
            assertEquals(2, Errno.ENOENT);
        }
        assertEquals("No such file or directory", NativeIo.strerror(Errno.ENOENT));
    }

    @Test
    void loadIsIdempotent()
    {
        CairnShim.load();
        CairnShim.load();
        assertTrue(CairnShim.isLoaded());
        assertEquals(cairn_shim_h.CAIRN_SHIM_VERSION(), CairnShim.shimVersion());
        assertEquals(5, CairnShim.shimVersion());
    }
}
