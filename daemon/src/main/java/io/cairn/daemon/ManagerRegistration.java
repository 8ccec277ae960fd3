package io.cairn.daemon;

import io.cairn.manager.ManagerClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Registers an extent node with the manager cluster once at start, then closes the client
 * (the node has no keep-alive duty with the manager yet: liveness comes with the manager issue).
 */
final class ManagerRegistration
{
    private ManagerRegistration()
    {
    }

    /**
     * @param managers           manager members string.
     * @param aeronDirectoryName the node's media driver directory.
     * @param nodeId             node id.
     * @param endpoint           node endpoint.
     * @param dataDirs           data directories (disk count and capacity).
     */
    static void register(
        final String managers, final String aeronDirectoryName, final int nodeId, final String endpoint,
        final List<Path> dataDirs)
    {
        long capacityBytes = 0;
        for (final Path dir : dataDirs)
        {
            try
            {
                capacityBytes += Files.getFileStore(dir).getUsableSpace();
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException("cannot read the capacity of " + dir, ex);
            }
        }
        try (ManagerClient client = ManagerClient.connect(
            new ManagerClient.Context().managers(managers).aeronDirectoryName(aeronDirectoryName)
                .egressChannel(egressChannel(endpoint))))
        {
            client.registerNode(nodeId, endpoint, dataDirs.size(), capacityBytes);
        }
    }

    /**
     * The manager answers on the node's own address (the host of its --endpoint): the default, 127.0.0.1, reaches
     * the node only when the managers run on the same host. A wildcard endpoint host keeps that default.
     *
     * @param endpoint the node's host:port.
     * @return the egress channel for the node's manager clients.
     */
    static String egressChannel(final String endpoint)
    {
        final String host = endpoint.substring(0, endpoint.lastIndexOf(':'));
        return host.isEmpty() || "0.0.0.0".equals(host) ? ManagerClient.Context.EGRESS_CHANNEL_DEFAULT :
            "aeron:udp?endpoint=" + host + ":0";
    }
}
