package io.cairn.replication;

import io.aeron.DirectBufferVector;
import org.agrona.DirectBuffer;

/**
 * Where encoded messages go: an Aeron publication in production, a simulated link in tests.
 * Return values follow {@link io.aeron.Publication#offer}: a positive position on success, else one of
 * {@code NOT_CONNECTED}, {@code BACK_PRESSURED}, {@code ADMIN_ACTION}, {@code CLOSED}, {@code MAX_POSITION_EXCEEDED}.
 */
public interface MessageSink extends AutoCloseable
{
    /**
     * @return true when a receiver is connected.
     */
    boolean isConnected();

    /**
     * @param buffer holding the message.
     * @param offset of the message.
     * @param length of the message.
     * @return new position, or a negative Aeron status.
     */
    long offer(DirectBuffer buffer, int offset, int length);

    /**
     * Offer one message gathered from several buffers (so a payload is not copied into a staging buffer).
     *
     * @param vectors the parts, in order.
     * @return new position, or a negative Aeron status.
     */
    long offer(DirectBufferVector[] vectors);

    /**
     * Release the sink.
     */
    @Override
    void close();
}
