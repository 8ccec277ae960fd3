package io.cairn.manager;

/**
 * A registered extent node.
 *
 * @param nodeId         from the node's configuration, > 0.
 * @param endpoint       host:port of the node's Aeron request channel.
 * @param diskCount      disks the node serves.
 * @param capacityBytes  total capacity.
 * @param registeredAtMs cluster time of its last registration.
 */
public record NodeInfo(int nodeId, String endpoint, int diskCount, long capacityBytes, long registeredAtMs)
{
}
