package io.cairn.replication;

/**
 * A connected client (or a primary acting as one): where its responses go.
 */
final class ClientSession
{
    long clientId;
    String responseChannel;
    int responseStreamId;
    MessageSink sink;
    boolean connectAnswered;
    long connectCorrelationId;
    long connectDeadlineNs;

    void close()
    {
        if (null != sink)
        {
            sink.close();
            sink = null;
        }
        responseChannel = null;
    }
}
