package io.cairn.replication;

import io.aeron.DirectBufferVector;
import io.aeron.Publication;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A seeded simulated network for the replication simulation: every message gets a random latency (so messages
 * overtake each other), and may be lost or duplicated; pairs of endpoints can be partitioned. Senders are
 * named ({@link #transportFor(String)}) so a partition cuts one direction between two parties.
 */
final class FaultyNetwork
{
    private record Message(long deliverAtNs, long sequence, String key, byte[] bytes)
    {
    }

    private final Random random;
    private final Map<String, Consumer<UnsafeBuffer>> handlers = new HashMap<>();
    private final Map<String, String> ownerOfKey = new HashMap<>();
    private final Set<String> cut = new HashSet<>();
    private final PriorityQueue<Message> queue = new PriorityQueue<>(
        (a, b) -> a.deliverAtNs != b.deliverAtNs ? Long.compare(a.deliverAtNs, b.deliverAtNs) :
            Long.compare(a.sequence, b.sequence));
    private long sequence;
    private long nowNs;
    double lossProbability;
    double duplicateProbability;
    long maxLatencyNs;
    long lost;
    long duplicated;

    FaultyNetwork(final Random random)
    {
        this.random = random;
    }

    void register(final String owner, final String channel, final int streamId, final Consumer<UnsafeBuffer> handler)
    {
        handlers.put(channel + "#" + streamId, handler);
        ownerOfKey.put(channel + "#" + streamId, owner);
    }

    void unregister(final String channel, final int streamId)
    {
        handlers.remove(channel + "#" + streamId);
    }

    void partition(final String from, final String to, final boolean on)
    {
        if (on)
        {
            cut.add(from + ">" + to);
        }
        else
        {
            cut.remove(from + ">" + to);
        }
    }

    void healAll()
    {
        cut.clear();
        lossProbability = 0;
        duplicateProbability = 0;
    }

    /**
     * Deliver every message due by {@code nowNs}.
     */
    int deliver(final long nowNs)
    {
        this.nowNs = nowNs;
        int count = 0;
        while (!queue.isEmpty() && queue.peek().deliverAtNs <= nowNs)
        {
            final Message message = queue.poll();
            final Consumer<UnsafeBuffer> handler = handlers.get(message.key);
            if (null != handler)
            {
                handler.accept(new UnsafeBuffer(message.bytes));
                count++;
            }
            if (count > 1_000_000)
            {
                throw new IllegalStateException("message storm");
            }
        }
        return count;
    }

    MessageTransport transportFor(final String sender)
    {
        return (channel, streamId) -> sink(sender, channel + "#" + streamId);
    }

    private MessageSink sink(final String sender, final String key)
    {
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
                final String receiver = ownerOfKey.get(key);
                if (cut.contains(sender + ">" + receiver) || random.nextDouble() < lossProbability)
                {
                    lost++;
                    return 1; // a UDP send succeeds; the datagram is lost on the way
                }
                queue.add(new Message(nowNs + latency(), sequence++, key, bytes));
                if (random.nextDouble() < duplicateProbability)
                {
                    duplicated++;
                    queue.add(new Message(nowNs + latency(), sequence++, key, bytes));
                }
                return 1;
            }

            public void close()
            {
            }
        };
    }

    private long latency()
    {
        return maxLatencyNs <= 0 ? 0 : 1 + (long)(random.nextDouble() * maxLatencyNs);
    }
}
