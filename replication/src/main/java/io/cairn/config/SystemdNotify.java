package io.cairn.config;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Tells systemd about the daemon's state ({@code Type=notify} units): {@code READY=1} once it is really serving,
 * {@code STOPPING=1} when it starts draining. Calls libsystemd's {@code sd_notify} through FFM: the JDK has no
 * AF_UNIX datagram socket, and the {@code systemd-notify} helper runs as another process, which a unit with
 * {@code NotifyAccess=main} ignores. Outside systemd ({@code $NOTIFY_SOCKET} unset) every call does nothing.
 * Kept apart from the io_uring bindings: it is not part of the shim's ABI.
 */
public final class SystemdNotify
{
    /** The variable systemd sets for Type=notify services. */
    public static final String NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET";
    /** The library that exports sd_notify (Debian: libsystemd0, installed with systemd). */
    public static final String LIBRARY = "libsystemd.so.0";

    private SystemdNotify()
    {
    }

    /**
     * @return whether the process runs under a Type=notify unit.
     */
    public static boolean enabled()
    {
        final String socket = System.getenv(NOTIFY_SOCKET_ENV);
        return null != socket && !socket.isEmpty();
    }

    /**
     * Send one state to systemd, e.g. {@code "READY=1\nSTATUS=serving"}. Does nothing outside systemd.
     *
     * @param state newline-separated assignments, see sd_notify(3).
     * @throws IllegalStateException when $NOTIFY_SOCKET is set but libsystemd cannot be loaded or the send
     *                               failed: systemd would otherwise wait for READY until its start timeout.
     */
    public static void notify(final String state)
    {
        if (!enabled())
        {
            return;
        }
        final int result;
        try (Arena arena = Arena.ofConfined())
        {
            result = (int)Holder.SD_NOTIFY.invokeExact(0, arena.allocateFrom(state));
        }
        catch (final Throwable ex)
        {
            throw new IllegalStateException("sd_notify(\"" + state.replace('\n', ' ') + "\") failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new IllegalStateException("sd_notify(\"" + state.replace('\n', ' ') + "\") to $" +
                NOTIFY_SOCKET_ENV + "=" + System.getenv(NOTIFY_SOCKET_ENV) + " failed: errno " + -result);
        }
    }

    /** Loaded on first use, so processes outside systemd never need libsystemd. */
    private static final class Holder
    {
        static final MethodHandle SD_NOTIFY = load();

        private static MethodHandle load()
        {
            final SymbolLookup lookup;
            try
            {
                lookup = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalStateException("$" + NOTIFY_SOCKET_ENV + " is set (a Type=notify unit) but " + LIBRARY +
                    " cannot be loaded: install libsystemd0", ex);
            }
            return Linker.nativeLinker().downcallHandle(lookup.findOrThrow("sd_notify"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        }
    }
}
