package io.cairn.manager;

import io.aeron.cluster.codecs.AdminRequestDecoder;
import io.aeron.cluster.codecs.AdminRequestType;
import io.aeron.security.Authenticator;
import io.aeron.security.AuthorisationService;
import io.aeron.security.SessionProxy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Authenticates every client session on the manager's cluster ingress with a per-role shared secret.
 * <p>
 * A client's credentials are the UTF-8 text {@code role:secret}. The member is configured with one secret per role
 * ({@link #parseSecrets(String)}: {@code "client=S1,admin=S2"}). A session whose role is unknown or whose secret does
 * not match is rejected, so an unknown client can neither read nor change metadata. An authenticated session's
 * principal is its role name; {@link #AUTHORISATION} lets only {@link #ROLE_ADMIN} sessions issue cluster admin
 * requests (snapshot). Secrets are compared in constant time.
 */
public final class ManagerAuthenticator implements Authenticator
{
    /** Role of extent nodes, clients and the CLI's ordinary commands. */
    public static final String ROLE_CLIENT = "client";
    /** Role that may also issue admin requests (snapshot). */
    public static final String ROLE_ADMIN = "admin";
    /**
     * Secrets of the local development cluster (run.sh, tests): documented, so NOT secret. Production sets its own
     * with {@code --secrets} or {@code CAIRN_MANAGER_SECRETS} on members and credentials on clients.
     */
    public static final String SECRETS_DEFAULT = "client=cairn-local,admin=cairn-local-admin";
    /** Client credentials matching {@link #SECRETS_DEFAULT}'s client role. */
    public static final String CLIENT_CREDENTIALS_DEFAULT = "client:cairn-local";
    /** Admin credentials matching {@link #SECRETS_DEFAULT}'s admin role. */
    public static final String ADMIN_CREDENTIALS_DEFAULT = "admin:cairn-local-admin";
    /** Connect requests awaiting their session at once; older ones are forgotten (and so rejected). */
    static final int PENDING_MAX = 1024;

    /** Only admin sessions may ask for a snapshot; every other admin action stays denied. */
    public static final AuthorisationService AUTHORISATION =
        (protocolId, actionId, type, encodedPrincipal) ->
            protocolId == io.aeron.cluster.codecs.MessageHeaderDecoder.SCHEMA_ID &&
            actionId == AdminRequestDecoder.TEMPLATE_ID &&
            type == AdminRequestType.SNAPSHOT &&
            encodedPrincipal != null &&
            Arrays.equals(encodedPrincipal, ROLE_ADMIN.getBytes(StandardCharsets.UTF_8));

    private final Map<String, byte[]> secretsByRole;
    private final LinkedHashMap<Long, byte[]> principalBySession = new LinkedHashMap<>(16, 0.75f, false)
    {
        private static final long serialVersionUID = 1L;

        protected boolean removeEldestEntry(final Map.Entry<Long, byte[]> eldest)
        {
            return size() > PENDING_MAX;
        }
    };
    private long rejected;

    /**
     * @param secretsByRole role name to secret; copied.
     */
    public ManagerAuthenticator(final Map<String, String> secretsByRole)
    {
        final TreeMap<String, byte[]> copy = new TreeMap<>();
        secretsByRole.forEach((role, secret) -> copy.put(role, secret.getBytes(StandardCharsets.UTF_8)));
        this.secretsByRole = copy;
    }

    /**
     * @param text {@code role=secret,role=secret}; roles and secrets non-empty, without ',' or '='.
     * @return role to secret.
     * @throws IllegalArgumentException naming what is wrong (never the secret).
     */
    public static Map<String, String> parseSecrets(final String text)
    {
        if (text == null || text.isBlank())
        {
            throw new IllegalArgumentException("secrets are empty");
        }
        final TreeMap<String, String> secrets = new TreeMap<>();
        for (final String entry : text.split(","))
        {
            final int eq = entry.indexOf('=');
            if (eq <= 0 || eq == entry.length() - 1)
            {
                throw new IllegalArgumentException("secrets entry #" + (secrets.size() + 1) + " is not role=secret");
            }
            final String role = entry.substring(0, eq).trim();
            if (secrets.put(role, entry.substring(eq + 1)) != null)
            {
                throw new IllegalArgumentException("role " + role + " appears twice in secrets");
            }
        }
        if (!secrets.containsKey(ROLE_ADMIN))
        {
            throw new IllegalArgumentException("secrets need an '" + ROLE_ADMIN + "' role");
        }
        return secrets;
    }

    /**
     * {@inheritDoc}
     */
    public void onConnectRequest(final long sessionId, final byte[] encodedCredentials, final long nowMs)
    {
        principalBySession.put(sessionId, authenticate(encodedCredentials));
    }

    private byte[] authenticate(final byte[] credentials)
    {
        if (credentials == null)
        {
            return null;
        }
        final String text = new String(credentials, StandardCharsets.UTF_8);
        final int colon = text.indexOf(':');
        if (colon <= 0)
        {
            return null;
        }
        final String role = text.substring(0, colon);
        final byte[] expected = secretsByRole.get(role);
        final byte[] given = text.substring(colon + 1).getBytes(StandardCharsets.UTF_8);
        return expected != null && MessageDigest.isEqual(expected, given) ? role.getBytes(StandardCharsets.UTF_8) : null;
    }

    /**
     * {@inheritDoc}
     */
    public void onChallengeResponse(final long sessionId, final byte[] encodedCredentials, final long nowMs)
    {
        // No challenges are issued.
    }

    /**
     * {@inheritDoc}
     */
    public void onConnectedSession(final SessionProxy sessionProxy, final long nowMs)
    {
        final byte[] principal = principalBySession.remove(sessionProxy.sessionId());
        if (principal != null)
        {
            sessionProxy.authenticate(principal);
        }
        else
        {
            rejected++;
            sessionProxy.reject();
        }
    }

    /**
     * {@inheritDoc}
     */
    public void onChallengedSession(final SessionProxy sessionProxy, final long nowMs)
    {
        principalBySession.remove(sessionProxy.sessionId());
        rejected++;
        sessionProxy.reject();
    }

    /**
     * @return sessions rejected so far.
     */
    public long rejected()
    {
        return rejected;
    }
}
