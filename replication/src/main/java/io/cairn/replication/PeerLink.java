package io.cairn.replication;

/**
 * A primary's connection to one secondary, as its client: publication to the secondary's request
 * channel, then Connect, then CONNECTED.
 */
final class PeerLink
{
    /** Connection state, explicit so timeouts can send it back to the start. */
    enum State
    {
        /** Waiting for the publication to connect, then send Connect. */
        CONNECTING,
        /** Connect sent; waiting for ConnectResponse. */
        AWAITING_CONNECT_RESPONSE,
        /** The secondary knows our clientId. */
        CONNECTED
    }

    int nodeId;
    String endpoint;
    MessageSink sink;
    State state = State.CONNECTING;
    long connectCorrelationId;
    long nextConnectNs;

    void reset()
    {
        state = State.CONNECTING;
        nextConnectNs = 0;
    }

    void close()
    {
        if (null != sink)
        {
            sink.close();
            sink = null;
        }
    }
}
