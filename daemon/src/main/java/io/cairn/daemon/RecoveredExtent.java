package io.cairn.daemon;

import io.cairn.replication.BlockFormat;
import io.cairn.replication.BlockIndex;

/**
 * An extent found on disk at start, verified as described in {@link ExtentFiles}.
 *
 * @param extentId         from the file name, confirmed by the header.
 * @param streamId         from the header.
 * @param diskIndex        which data directory holds it.
 * @param fd               the open O_DIRECT descriptor, handed to that directory's {@link DiskIoAgent}.
 * @param commitLength     end of the last valid block (the sealed length when sealed).
 * @param sizeBytes        the extent's size limit.
 * @param allocatedBytes   the file's current size (preallocated so far).
 * @param index            its readable blocks.
 * @param header           the decoded header.
 * @param state            the state written at recovery (new epoch, checkpoint = commitLength).
 * @param previousState    the state in the other slot (null when none).
 * @param corruptFrom      start of a range below the checkpoint whose block headers are unreadable (reads
 *                         there answer CORRUPT), or -1.
 * @param corruptTo        end of that range.
 */
public record RecoveredExtent(
    long extentId,
    long streamId,
    int diskIndex,
    int fd,
    long commitLength,
    long sizeBytes,
    long allocatedBytes,
    BlockIndex index,
    BlockFormat.ExtentHeaderPage header,
    BlockFormat.ExtentStatePage state,
    BlockFormat.ExtentStatePage previousState,
    long corruptFrom,
    long corruptTo)
{
    /**
     * @return whether the extent is sealed.
     */
    boolean sealed()
    {
        return state.sealed;
    }
}
