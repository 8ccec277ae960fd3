package io.cairn.perf;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.logbuffer.FragmentHandler;
import io.cairn.replication.AeronDefaults;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ShutdownSignalBarrier;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The network limit: raw Aeron UDP with no Cairn logic, on the same driver settings and idle strategy as Cairn
 * ({@link AeronDefaults}). A message is {@code [int replyPort][long id][payload]}; the server answers on
 * {@code 127.0.0.1:replyPort}.
 * <ul>
 *     <li>plain echo server: returns the whole message (payload both ways);</li>
 *     <li>{@code --ack-only}: returns the 12-byte header only (payload one way, like an append's small answer);</li>
 *     <li>{@code --peers A,B}: forwards the message to the peer echo servers (started with {@code --ack-only}) and
 *     answers its client only when every peer has answered: the exact message shape of a replicated append
 *     (client to primary, primary to two secondaries, acks back), without disks or protocol.</li>
 * </ul>
 */
final class AeronEcho
{
    static final int REQUEST_STREAM_ID = 7001;
    static final int RESPONSE_STREAM_ID = 7002;
    static final int HEADER_BYTES = Integer.BYTES + Long.BYTES;
    static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(5);

    static final String USAGE = """
        usage: cairn-bench echo-server --port P [--ack-only] [--peers HOST:PORT,HOST:PORT]
          a raw Aeron UDP echo on 127.0.0.1:P (own embedded media driver), until SIGTERM/SIGINT
        """;

    private AeronEcho()
    {
    }

    private static String channel(final String hostPort)
    {
        return "aeron:udp?endpoint=" + hostPort;
    }

    static int boundPort(final Subscription subscription)
    {
        final IdleStrategy idle = AeronDefaults.idleStrategy();
        for (int i = 0; i < 10_000; i++)
        {
            final List<String> addresses = subscription.localSocketAddresses();
            if (!addresses.isEmpty())
            {
                final String a = addresses.get(0);
                return Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
            }
            idle.idle();
        }
        throw new IllegalStateException("subscription " + subscription.channel() + " has no bound port");
    }

    static void offer(final Publication pub, final DirectBuffer buffer, final int offset, final int length)
    {
        final long deadlineNs = System.nanoTime() + TIMEOUT_NS;
        final IdleStrategy idle = AeronDefaults.idleStrategy();
        long result;
        while ((result = pub.offer(buffer, offset, length)) < 0)
        {
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED ||
                System.nanoTime() - deadlineNs >= 0)
            {
                throw new IllegalStateException("offer to " + pub.channel() + " failed: " + result);
            }
            idle.idle();
        }
    }

    /** The server: {@code cairn-bench echo-server}. */
    static void serverMain(final String[] args)
    {
        int port = -1;
        boolean ackOnly = false;
        final List<String> peers = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--port" -> port = (int)BenchArgs.number(args, ++i, "--port", 1, 65535);
                case "--ack-only" -> ackOnly = true;
                case "--peers" -> peers.addAll(List.of(BenchArgs.value(args, ++i, "--peers").split(",")));
                default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
            }
        }
        if (port < 0)
        {
            throw new IllegalArgumentException("--port is required");
        }
        // Agrona 2's barrier holds the JVM's shutdown until it is closed: closed last, after the driver.
        try (ShutdownSignalBarrier barrier = new ShutdownSignalBarrier();
            MediaDriver driver = MediaDriver.launchEmbedded(
            AeronDefaults.driverContext("echo-" + port + "-" + ProcessHandle.current().pid()));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            Server server = new Server(aeron, port, ackOnly, peers))
        {
            System.out.println("echo-server ready on 127.0.0.1:" + port + (ackOnly ? " (ack only)" : "") +
                (peers.isEmpty() ? "" : " forwarding to " + peers));
            final Thread worker = new Thread(server::run, "echo-server");
            worker.start();
            barrier.await();
            server.running = false;
            worker.join(5000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** One forwarded request waiting for its peers. */
    private static final class Pending
    {
        int clientPort;
        long clientId;
        int remaining;
    }

    static final class Server implements AutoCloseable
    {
        private final Aeron aeron;
        private final boolean ackOnly;
        private final Subscription requests;
        private final Subscription peerResponses;
        private final int peerReplyPort;
        private final List<Publication> peers = new ArrayList<>();
        private final Int2ObjectHashMap<Publication> clients = new Int2ObjectHashMap<>();
        private final Long2ObjectHashMap<Pending> pending = new Long2ObjectHashMap<>();
        private final UnsafeBuffer ack = new UnsafeBuffer(ByteBuffer.allocateDirect(HEADER_BYTES));
        private final UnsafeBuffer forward = new UnsafeBuffer(ByteBuffer.allocateDirect(AeronDefaults.maxMessageLength()));
        private long nextForwardId = 1;
        volatile boolean running = true;

        Server(final Aeron aeron, final int port, final boolean ackOnly, final List<String> peerEndpoints)
        {
            this.aeron = aeron;
            this.ackOnly = ackOnly;
            this.requests = aeron.addSubscription(channel("127.0.0.1:" + port), REQUEST_STREAM_ID);
            if (peerEndpoints.isEmpty())
            {
                this.peerResponses = null;
                this.peerReplyPort = 0;
            }
            else
            {
                this.peerResponses = aeron.addSubscription(channel("127.0.0.1:0"), RESPONSE_STREAM_ID);
                this.peerReplyPort = boundPort(peerResponses);
                for (final String p : peerEndpoints)
                {
                    peers.add(aeron.addExclusivePublication(channel(p), REQUEST_STREAM_ID));
                }
            }
        }

        void run()
        {
            final IdleStrategy idle = AeronDefaults.idleStrategy();
            final FragmentHandler onRequest = new FragmentAssembler(this::onRequest);
            final FragmentHandler onPeerResponse = new FragmentAssembler(this::onPeerResponse);
            while (running)
            {
                int work = requests.poll(onRequest, 16);
                if (null != peerResponses)
                {
                    work += peerResponses.poll(onPeerResponse, 16);
                }
                idle.idle(work);
            }
        }

        private Publication client(final int port)
        {
            Publication pub = clients.get(port);
            if (null == pub)
            {
                pub = aeron.addExclusivePublication(channel("127.0.0.1:" + port), RESPONSE_STREAM_ID);
                final long deadlineNs = System.nanoTime() + TIMEOUT_NS;
                while (!pub.isConnected() && System.nanoTime() - deadlineNs < 0)
                {
                    Thread.onSpinWait();
                    Thread.yield();
                }
                clients.put(port, pub);
            }
            return pub;
        }

        private void onRequest(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header h)
        {
            final int replyPort = buffer.getInt(offset);
            if (peers.isEmpty())
            {
                offer(client(replyPort), buffer, offset, ackOnly ? HEADER_BYTES : length);
                return;
            }
            final long forwardId = nextForwardId++;
            final Pending p = new Pending();
            p.clientPort = replyPort;
            p.clientId = buffer.getLong(offset + Integer.BYTES);
            p.remaining = peers.size();
            pending.put(forwardId, p);
            forward.putBytes(0, buffer, offset, length);
            forward.putInt(0, peerReplyPort);
            forward.putLong(Integer.BYTES, forwardId);
            for (final Publication peer : peers)
            {
                offer(peer, forward, 0, length);
            }
        }

        private void onPeerResponse(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header h)
        {
            final long forwardId = buffer.getLong(offset + Integer.BYTES);
            final Pending p = pending.get(forwardId);
            if (null != p && --p.remaining == 0)
            {
                pending.remove(forwardId);
                ack.putInt(0, p.clientPort);
                ack.putLong(Integer.BYTES, p.clientId);
                offer(client(p.clientPort), ack, 0, HEADER_BYTES);
            }
        }

        public void close()
        {
            CloseHelper.quietCloseAll(clients.values());
            CloseHelper.quietCloseAll(peers);
            CloseHelper.quietCloseAll(requests, peerResponses);
        }
    }

    /** One load-rig worker's client: one request in flight, answered by id. */
    static final class Client implements LoadRig.Operation, AutoCloseable
    {
        private final Publication publication;
        private final Subscription responses;
        private final int replyPort;
        private final int sizeBytes;
        private final UnsafeBuffer message;
        private final IdleStrategy idle = AeronDefaults.idleStrategy();
        private final FragmentAssembler assembler = new FragmentAssembler(this::onResponse);
        private long expectedId;
        private boolean answered;

        Client(final Aeron aeron, final String server, final int sizeBytes)
        {
            this.sizeBytes = sizeBytes;
            this.message = new UnsafeBuffer(ByteBuffer.allocateDirect(HEADER_BYTES + sizeBytes));
            this.responses = aeron.addSubscription(channel("127.0.0.1:0"), RESPONSE_STREAM_ID);
            this.replyPort = boundPort(responses);
            this.publication = aeron.addExclusivePublication(channel(server), REQUEST_STREAM_ID);
            final long deadlineNs = System.nanoTime() + TIMEOUT_NS;
            while (!publication.isConnected())
            {
                if (System.nanoTime() - deadlineNs >= 0)
                {
                    throw new IllegalStateException("no echo server at " + server);
                }
                idle.idle();
            }
            // One answered request before the clock starts: the server's reply publication is set up here, not in
            // the first measured request.
            execute(-1);
        }

        public void execute(final long sequence)
        {
            expectedId = sequence;
            answered = false;
            message.putInt(0, replyPort);
            message.putLong(Integer.BYTES, sequence);
            offer(publication, message, 0, HEADER_BYTES + sizeBytes);
            final long deadlineNs = System.nanoTime() + TIMEOUT_NS;
            idle.reset();
            while (!answered)
            {
                final int work = responses.poll(assembler, 8);
                if (0 == work && System.nanoTime() - deadlineNs >= 0)
                {
                    throw new IllegalStateException("echo " + sequence + " not answered in 5 s");
                }
                idle.idle(work);
            }
        }

        private void onResponse(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header h)
        {
            if (buffer.getLong(offset + Integer.BYTES) == expectedId)
            {
                answered = true;
            }
        }

        public void close()
        {
            CloseHelper.quietCloseAll(publication, responses);
        }
    }
}
