package io.cairn.bindings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test files live under target/ (a real file system: O_DIRECT is refused by tmpfs). */
final class TestDirectories
{
    private TestDirectories()
    {
    }

    static Path newTestDirectory(final String prefix) throws IOException
    {
        final Path root = Path.of("target", "io-tests");
        Files.createDirectories(root);
        return Files.createTempDirectory(root, prefix);
    }
}
