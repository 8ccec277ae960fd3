package io.cairn.manager;

import io.aeron.driver.MediaDriver;
import org.agrona.CloseHelper;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * A manager client in its own process, driven line by line over stdin, so that a test can run it inside a network
 * namespace ({@code ip netns exec NS java ... LineKvClient MANAGERS EGRESS_HOST}). Commands and answers:
 * {@code put K V} : {@code ok REVISION}; {@code get K} : {@code val V} or {@code none}; {@code leader} :
 * {@code leader ID}; any failure : {@code err MESSAGE}; {@code quit} ends it. Prints {@code ready} once connected.
 */
public final class LineKvClient
{
    private LineKvClient()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final MediaDriver driver = ClientDriver.launch("line-kv-client");
        ManagerClient client = null;
        try
        {
            client = ManagerClient.connect(new ManagerClient.Context()
                .managers(args[0])
                .egressChannel("aeron:udp?endpoint=" + args[1] + ":0")
                .aeronDirectoryName(driver.aeronDirectoryName())
                .responseTimeoutNs(TimeUnit.SECONDS.toNanos(15)));
            System.out.println("ready");
            final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null && !"quit".equals(line))
            {
                System.out.println(execute(client, line.split(" ")));
            }
        }
        finally
        {
            CloseHelper.closeAll(client, driver);
        }
    }

    private static String execute(final ManagerClient client, final String[] words)
    {
        try
        {
            return switch (words[0])
            {
                case "put" -> "ok " + client.kvPut(words[1], words[2].getBytes(StandardCharsets.UTF_8), 0);
                case "get" ->
                {
                    final Kv.KeyValue kv = client.kvGet(words[1]);
                    yield kv == null ? "none" : "val " + kv.valueString();
                }
                case "leader" -> "leader " + client.leaderMemberId();
                default -> "err unknown command " + words[0];
            };
        }
        catch (final RuntimeException ex)
        {
            return "err " + ex.getMessage().replace('\n', ' ');
        }
    }
}
