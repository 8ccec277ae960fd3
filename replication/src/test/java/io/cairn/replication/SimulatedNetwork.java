package io.cairn.replication;

import io.aeron.DirectBufferVector;
import io.aeron.Publication;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A deterministic in-memory network: sinks copy messages into a FIFO; {@link #deliverAll()} hands them to
 * the handler registered for (channel, stream). Messages to a partitioned channel are lost.
 */
final class SimulatedNetwork implements MessageTransport
{
    private final Map<String, Consumer<UnsafeBuffer>> handlers = new HashMap<>();
    private final ArrayDeque<Object[]> queue = new ArrayDeque<>();
    private final Set<String> partitioned = new HashSet<>();
    long delivered;

    void register(final String channel, final int streamId, final Consumer<UnsafeBuffer> handler)
    {
        handlers.put(channel + "#" + streamId, handler);
    }

    void partition(final String channel, final boolean cutOff)
    {
        if (cutOff)
        {
            partitioned.add(channel);
        }
        else
        {
            partitioned.remove(channel);
        }
    }

    int deliverAll()
    {
        int count = 0;
        while (!queue.isEmpty())
        {
            final Object[] message = queue.poll();
            final Consumer<UnsafeBuffer> handler = handlers.get((String)message[0]);
            if (null != handler)
            {
                handler.accept(new UnsafeBuffer((byte[])message[1]));
                count++;
                delivered++;
            }
            if (count > 1_000_000)
            {
                throw new IllegalStateException("message storm");
            }
        }
        return count;
    }

    public MessageSink open(final String channel, final int streamId)
    {
        if (!channel.startsWith("aeron:"))
        {
            throw new IllegalArgumentException("invalid channel " + channel);
        }
        final String key = channel + "#" + streamId;
        return new MessageSink()
        {
            public boolean isConnected()
            {
                return handlers.containsKey(key);
            }

            public long offer(final DirectBuffer buffer, final int offset, final int length)
            {
                final byte[] bytes = new byte[length];
                buffer.getBytes(offset, bytes);
                return enqueue(bytes);
            }

            public long offer(final DirectBufferVector[] vectors)
            {
                int length = 0;
                for (final DirectBufferVector v : vectors)
                {
                    length += v.length();
                }
                final byte[] bytes = new byte[length];
                int position = 0;
                for (final DirectBufferVector v : vectors)
                {
                    v.buffer().getBytes(v.offset(), bytes, position, v.length());
                    position += v.length();
                }
                return enqueue(bytes);
            }

            private long enqueue(final byte[] bytes)
            {
                if (!handlers.containsKey(key))
                {
                    return Publication.NOT_CONNECTED;
                }
                if (!partitioned.contains(channel))
                {
                    queue.add(new Object[]{ key, bytes });
                }
                return 1 + queue.size();
            }

            public void close()
            {
            }
        };
    }
}
