package io.cairn.manager;

import java.util.ArrayList;
import java.util.List;

/**
 * The list of manager members as given on command lines and to {@link ManagerClient.Context#managers(String)}:
 * {@code "0=127.0.0.1:20110,1=127.0.0.1:20120,2=127.0.0.1:20130"}. Each entry's port is that member's port base;
 * see {@link ManagerMember} for the ports derived from it. The base port is the client-facing ingress port, so the
 * same string serves as Aeron Cluster's ingress endpoints.
 */
public final class ManagerEndpoints
{
    /** Ports a member uses from its base: ingress, consensus, log, catch-up, archive control. */
    public static final int PORTS_PER_MEMBER = 5;
    /** Offset from the base port of client ingress. */
    public static final int INGRESS_PORT_OFFSET = 0;
    /** Offset from the base port of member-to-member consensus traffic. */
    public static final int CONSENSUS_PORT_OFFSET = 1;
    /** Offset from the base port of the replicated log. */
    public static final int LOG_PORT_OFFSET = 2;
    /** Offset from the base port of follower catch-up. */
    public static final int CATCHUP_PORT_OFFSET = 3;
    /** Offset from the base port of the member's archive control channel. */
    public static final int ARCHIVE_CONTROL_PORT_OFFSET = 4;

    /**
     * One member.
     *
     * @param memberId Aeron Cluster member id, >= 0.
     * @param host     host name or address.
     * @param basePort first of the member's {@link #PORTS_PER_MEMBER} ports.
     */
    public record Member(int memberId, String host, int basePort)
    {
        /**
         * @param offset one of the {@code *_PORT_OFFSET} constants.
         * @return {@code host:port} of that port.
         */
        public String endpoint(final int offset)
        {
            return host + ":" + (basePort + offset);
        }
    }

    private final List<Member> members;
    private final String text;

    private ManagerEndpoints(final List<Member> members, final String text)
    {
        this.members = List.copyOf(members);
        this.text = text;
    }

    /**
     * @param text {@code "id=host:port,..."}, ids distinct.
     * @return the parsed members.
     * @throws IllegalArgumentException naming what is wrong.
     */
    public static ManagerEndpoints parse(final String text)
    {
        if (text == null || text.isBlank())
        {
            throw new IllegalArgumentException("managers is empty; expected \"0=host:port,1=host:port,...\"");
        }
        final List<Member> members = new ArrayList<>();
        for (final String entry : text.split(","))
        {
            final int eq = entry.indexOf('=');
            final int colon = entry.lastIndexOf(':');
            if (eq <= 0 || colon <= eq + 1 || colon == entry.length() - 1)
            {
                throw new IllegalArgumentException("managers entry '" + entry + "' is not id=host:port");
            }
            final int memberId;
            final int port;
            try
            {
                memberId = Integer.parseInt(entry.substring(0, eq).trim());
                port = Integer.parseInt(entry.substring(colon + 1).trim());
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("managers entry '" + entry + "' is not id=host:port", ex);
            }
            if (memberId < 0 || port <= 0 || port + PORTS_PER_MEMBER - 1 > 65535)
            {
                throw new IllegalArgumentException("managers entry '" + entry + "': id must be >= 0 and port in [1, " +
                    (65536 - PORTS_PER_MEMBER) + "]");
            }
            for (final Member other : members)
            {
                if (other.memberId() == memberId)
                {
                    throw new IllegalArgumentException("managers lists member id " + memberId + " twice");
                }
            }
            members.add(new Member(memberId, entry.substring(eq + 1, colon).trim(), port));
        }

        return new ManagerEndpoints(members, text);
    }

    /**
     * @return the members in the order given.
     */
    public List<Member> members()
    {
        return members;
    }

    /**
     * @param memberId to find.
     * @return the member, or null when not listed.
     */
    public Member member(final int memberId)
    {
        for (final Member member : members)
        {
            if (member.memberId() == memberId)
            {
                return member;
            }
        }
        return null;
    }

    /**
     * @return Aeron Cluster's {@code clusterMembers} string: {@code id,ingress,consensus,log,catchup,archive|...}.
     */
    public String clusterMembers()
    {
        final StringBuilder sb = new StringBuilder();
        for (final Member m : members)
        {
            sb.append(m.memberId())
                .append(',').append(m.endpoint(INGRESS_PORT_OFFSET))
                .append(',').append(m.endpoint(CONSENSUS_PORT_OFFSET))
                .append(',').append(m.endpoint(LOG_PORT_OFFSET))
                .append(',').append(m.endpoint(CATCHUP_PORT_OFFSET))
                .append(',').append(m.endpoint(ARCHIVE_CONTROL_PORT_OFFSET))
                .append('|');
        }
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    /**
     * @return Aeron Cluster client's {@code ingressEndpoints}: {@code id=host:ingressPort,...}.
     */
    public String ingressEndpoints()
    {
        final StringBuilder sb = new StringBuilder();
        for (final Member m : members)
        {
            sb.append(m.memberId()).append('=').append(m.endpoint(INGRESS_PORT_OFFSET)).append(',');
        }
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    /**
     * {@inheritDoc}
     */
    public String toString()
    {
        return text;
    }
}
