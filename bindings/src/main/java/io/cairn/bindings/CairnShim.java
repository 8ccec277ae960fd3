package io.cairn.bindings;

import io.cairn.bindings.generated.cairn_cqe;
import io.cairn.bindings.generated.cairn_op;
import io.cairn.bindings.generated.cairn_shim_h;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Loads the native shim ({@code libcairn_shim.so}, packaged in this jar) into the JVM.
 * <p>
 * The library is extracted once to a temporary file, {@link System#load(String) loaded}, and the
 * file is deleted straight away (the mapping outlives the file on Linux), so a killed JVM leaves
 * nothing behind. The generated bindings find the symbols through
 * {@code SymbolLookup.loaderLookup()}, so this must run before any of them is touched; every class
 * of this package calls it from its static initialiser.
 * <p>
 * After loading, the shim's ABI version and struct sizes are checked against the generated
 * bindings; a mismatch means the jar was built from inconsistent sources and stops the load.
 */
public final class CairnShim
{
    /** Class-path location of the shared library inside the bindings jar. */
    public static final String LIBRARY_RESOURCE = "/io/cairn/bindings/native/libcairn_shim.so";

    private static volatile boolean loaded;

    private CairnShim()
    {
    }

    /**
     * Loads the shim, extracting it under {@code java.io.tmpdir}. Idempotent and thread-safe.
     *
     * @throws IllegalStateException if the library is missing from the class path, cannot be
     *                               extracted or loaded, or does not match the generated bindings.
     */
    public static void load()
    {
        if (!loaded)
        {
            load(Path.of(System.getProperty("java.io.tmpdir")));
        }
    }

    /**
     * Loads the shim, extracting it into {@code extractDirectory} (for hosts whose default temporary
     * directory is mounted {@code noexec}). Idempotent and thread-safe: only the first call loads.
     *
     * @param extractDirectory an existing directory on an exec-mountable file system.
     */
    public static synchronized void load(final Path extractDirectory)
    {
        if (loaded)
        {
            return;
        }
        final Path extracted = extract(extractDirectory);
        try
        {
            System.load(extracted.toAbsolutePath().toString());
        }
        catch (final UnsatisfiedLinkError ex)
        {
            throw new IllegalStateException("cannot load the Cairn native shim extracted to " + extracted, ex);
        }
        finally
        {
            deleteQuietly(extracted);
        }
        verifyMatchesBindings();
        loaded = true;
    }

    /** Whether {@link #load()} has completed in this JVM. */
    public static boolean isLoaded()
    {
        return loaded;
    }

    /** The ABI version reported by the loaded shim. Loads it if needed. */
    public static int shimVersion()
    {
        load();
        return cairn_shim_h.cairn_shim_version();
    }

    private static Path extract(final Path directory)
    {
        try (InputStream in = CairnShim.class.getResourceAsStream(LIBRARY_RESOURCE))
        {
            if (in == null)
            {
                throw new IllegalStateException("the Cairn native shim " + LIBRARY_RESOURCE +
                    " is not on the class path (was cairn-native built before cairn-bindings?)");
            }
            final Path file = Files.createTempFile(directory, "libcairn_shim-", ".so");
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            return file;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot extract the Cairn native shim into " + directory, ex);
        }
    }

    private static void verifyMatchesBindings()
    {
        final int shimVersion = cairn_shim_h.cairn_shim_version();
        final int bindingsVersion = cairn_shim_h.CAIRN_SHIM_VERSION();
        if (shimVersion != bindingsVersion)
        {
            throw new IllegalStateException("native shim ABI version " + shimVersion +
                " does not match the generated bindings' version " + bindingsVersion + " (run bindings/regen.sh)");
        }
        verifySize("cairn_op", cairn_shim_h.cairn_sizeof_op(), cairn_op.layout().byteSize());
        verifySize("cairn_cqe", cairn_shim_h.cairn_sizeof_cqe(), cairn_cqe.layout().byteSize());
    }

    private static void verifySize(final String struct, final int nativeSize, final long javaSize)
    {
        if (nativeSize != javaSize)
        {
            throw new IllegalStateException("struct " + struct + " is " + nativeSize +
                " bytes in the shim but " + javaSize + " bytes in the generated bindings (run bindings/regen.sh)");
        }
    }

    private static void deleteQuietly(final Path file)
    {
        try
        {
            Files.deleteIfExists(file);
        }
        catch (final IOException ignore)
        {
            // A leftover temp file is harmless; the library is already mapped (or failed to load).
        }
    }
}
