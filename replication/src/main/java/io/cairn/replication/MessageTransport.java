package io.cairn.replication;

/**
 * Opens {@link MessageSink}s to channels: Aeron in production, a simulated network in tests.
 */
@FunctionalInterface
public interface MessageTransport
{
    /**
     * @param channel  Aeron channel URI.
     * @param streamId stream id.
     * @return a sink publishing there.
     * @throws RuntimeException when the channel is invalid or cannot be opened.
     */
    MessageSink open(String channel, int streamId);
}
