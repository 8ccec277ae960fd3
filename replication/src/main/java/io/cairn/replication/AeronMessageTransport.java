package io.cairn.replication;

import io.aeron.Aeron;
import io.aeron.DirectBufferVector;
import io.aeron.ExclusivePublication;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;

/**
 * {@link MessageTransport} over Aeron exclusive publications (one writer thread each, cheaper offers).
 */
public final class AeronMessageTransport implements MessageTransport
{
    private final Aeron aeron;

    /**
     * @param aeron connected client, owned by the caller.
     */
    public AeronMessageTransport(final Aeron aeron)
    {
        this.aeron = aeron;
    }

    /** {@inheritDoc} */
    public MessageSink open(final String channel, final int streamId)
    {
        return new PublicationSink(aeron.addExclusivePublication(channel, streamId));
    }

    private record PublicationSink(ExclusivePublication publication) implements MessageSink
    {
        public boolean isConnected()
        {
            return publication.isConnected();
        }

        public long offer(final DirectBuffer buffer, final int offset, final int length)
        {
            return publication.offer(buffer, offset, length);
        }

        public long offer(final DirectBufferVector[] vectors)
        {
            return publication.offer(vectors);
        }

        public void close()
        {
            CloseHelper.quietClose(publication);
        }
    }
}
