package io.cairn.replication;

import io.aeron.DirectBufferVector;
import io.aeron.Publication;
import org.agrona.DirectBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Bounded-retry offers shared by the publishers.
 */
final class Outbound
{
    /** Error messages on the wire are capped so they fit the small encode buffers. */
    static final int MAX_ERROR_MESSAGE_CHARS = 256;
    static final byte[] EMPTY = new byte[0];

    private Outbound()
    {
    }

    static boolean offer(final MessageSink sink, final DirectBuffer buffer, final int length, final int retries)
    {
        for (int i = 0; i <= retries; i++)
        {
            final long result = sink.offer(buffer, 0, length);
            if (result > 0)
            {
                return true;
            }
            if (!retryable(result))
            {
                return false;
            }
            Thread.yield();
        }
        return false;
    }

    static boolean offer(final MessageSink sink, final DirectBufferVector[] vectors, final int retries)
    {
        for (int i = 0; i <= retries; i++)
        {
            final long result = sink.offer(vectors);
            if (result > 0)
            {
                return true;
            }
            if (!retryable(result))
            {
                return false;
            }
            Thread.yield();
        }
        return false;
    }

    static byte[] utf8(final String message)
    {
        if (null == message || message.isEmpty())
        {
            return EMPTY;
        }
        final String capped = message.length() > MAX_ERROR_MESSAGE_CHARS ?
            message.substring(0, MAX_ERROR_MESSAGE_CHARS) : message;
        return capped.getBytes(StandardCharsets.UTF_8);
    }

    private static boolean retryable(final long result)
    {
        return result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION;
    }
}
