package io.cairn.bindings;

import io.cairn.bindings.generated.cairn_shim_h;

/**
 * errno values of the running platform, read from the native shim (never hard-coded), for
 * comparing against {@link NativeIoException#errno()} and negative completion results.
 */
public final class Errno
{
    static
    {
        CairnShim.load();
    }

    public static final int EAGAIN = cairn_shim_h.cairn_const_eagain();
    public static final int EINTR = cairn_shim_h.cairn_const_eintr();
    public static final int ENOENT = cairn_shim_h.cairn_const_enoent();
    public static final int EEXIST = cairn_shim_h.cairn_const_eexist();
    public static final int EINVAL = cairn_shim_h.cairn_const_einval();
    public static final int EIO = cairn_shim_h.cairn_const_eio();
    public static final int ENOSPC = cairn_shim_h.cairn_const_enospc();
    public static final int EBUSY = cairn_shim_h.cairn_const_ebusy();
    public static final int EBADF = cairn_shim_h.cairn_const_ebadf();
    /** Result of an op whose linked predecessor failed or completed short. */
    public static final int ECANCELED = cairn_shim_h.cairn_const_ecanceled();

    private Errno()
    {
    }
}
