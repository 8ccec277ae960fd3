package io.cairn.daemon;

import io.cairn.replication.BlockIndex;

/**
 * An extent found on disk at start, verified block by block.
 *
 * @param extentId        from the file name, confirmed by the header.
 * @param streamId        from the header.
 * @param diskIndex       which data directory holds it.
 * @param fd              the open O_DIRECT descriptor, handed to that directory's {@link DiskIoAgent}.
 * @param commitLength    end of the last valid block.
 * @param sizeBytes       the extent's size limit (its preallocated length).
 * @param index           its valid blocks.
 */
record RecoveredExtent(long extentId, long streamId, int diskIndex, int fd, long commitLength, long sizeBytes,
    BlockIndex index)
{
}
