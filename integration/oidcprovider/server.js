// panva/oidc-provider on loopback, for the integration tests of oauthkit
// (integration/oidcprovider_test.go starts it). Test use only: it generates
// throwaway keys, accepts any login, and sends its outgoing requests
// (back-channel logout tokens) to loopback addresses, which the provider's
// own SSRF guard forbids.
//
// Configuration: one JSON object, from the OIDC_PROVIDER_CONFIG environment
// variable or the first argument:
//
//   {"port": 0, "clients": [{"client_id": "...", "client_secret": "...",
//     "redirect_uris": [...], "post_logout_redirect_uris": [...],
//     "backchannel_logout_uri": "...", "backchannel_logout_session_required": true,
//     "token_endpoint_auth_method": "client_secret_basic",
//     "grant_types": ["authorization_code", "refresh_token"]}]}
//
// The client objects are oidc-provider client metadata, passed as they are.
// Once listening it prints one line to stdout, {"issuer":"http://127.0.0.1:PORT"},
// then one line per back-channel logout outcome ({"backchannel":"success"|"error",...}).
// It exits when its stdin closes, so a killed test never leaves it running.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const raw = process.env.OIDC_PROVIDER_CONFIG || process.argv[2] || '{}';
let config;
try {
  config = JSON.parse(raw);
} catch (err) {
  console.error(`server.js: configuration is not JSON: ${err.message}`);
  process.exit(2);
}

// Exit when the parent goes away (its end of our stdin closes).
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });
signingKey.use = 'sig';
signingKey.alg = 'RS256';
signingKey.kid = randomBytes(8).toString('hex');

const server = createServer();
server.listen(Number(config.port) || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: config.clients || [],
    jwks: { keys: [signingKey] },
    // RP-Initiated Logout 1.0 §2 has OPs accept POST at the end-session
    // endpoint; oidc-provider 9 only does with enableHttpPostMethods, which
    // it allows only with SameSite=None cookies (sent without Secure over
    // http: browsers would refuse them, Go's cookie jar keeps them).
    enableHttpPostMethods: true,
    cookies: {
      keys: [randomBytes(32).toString('hex')],
      long: { httpOnly: true, sameSite: 'none' },
      short: { httpOnly: true, sameSite: 'none' },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id, email: `${id}@example.test`, email_verified: true, name: `User ${id}`,
          };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      // PAR is on (a client registered with
      // require_pushed_authorization_requests must use it), and every DPoP
      // request must carry a server nonce, so clients meet the
      // use_dpop_nonce challenge on their first token and UserInfo call.
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
    },
    // Every client, confidential ones included, must send an S256 PKCE
    // challenge (oidc-provider's default only requires it of public clients).
    pkce: { required: () => true },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    // Test use only: drop the SSRF-guarding dispatcher and the 2.5 s abort
    // signal oidc-provider puts on every outgoing request, so back-channel
    // logout reaches a 127.0.0.1 test server however loaded the machine is.
    fetch(url, { dispatcher, signal, ...options }) {
      return globalThis.fetch(url, options);
    },
  });

  provider.on('backchannel.success', (_ctx, client, accountId, sid) => {
    emit({ backchannel: 'success', client_id: client.clientId, sub: accountId, sid });
  });
  provider.on('backchannel.error', (_ctx, err, client, accountId, sid) => {
    emit({
      backchannel: 'error', client_id: client.clientId, sub: accountId, sid, error: String(err),
    });
    console.error(`backchannel logout to ${client.backchannelLogoutUri} failed:`, err);
  });
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'end_session.error',
    'end_session_confirm.error', 'revocation.error', 'userinfo.error']) {
    provider.on(event, (_ctx, err) => console.error(`${event}:`, err));
  }

  server.on('request', provider.callback());
  emit({ issuer });
});
