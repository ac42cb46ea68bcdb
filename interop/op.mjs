#!/usr/bin/env node
// op.mjs: a test-only OpenID Provider (oidc-provider 9.x) with CIBA (poll and
// ping) enabled, listening on 127.0.0.1 on a port chosen by the OS, plus a small
// admin API that plays the end-user's authentication device.
//
// Usage:
//   node op.mjs [--clients FILE] [--ping-endpoint URL] [--keys-dir DIR]
//               [--expires-in SECONDS] [--port N]
// Env equivalents: CIBA_CLIENTS, CIBA_PING_ENDPOINT, CIBA_KEYS_DIR,
// CIBA_EXPIRES_IN. When ready it prints ONE JSON line to stdout:
//   {"issuer":"http://127.0.0.1:N","port":N,"admin":"http://127.0.0.1:N/admin",
//    "clients":[...ids],"keys":{client_id: private JWK file}}
// Logs go to stderr. SIGINT/SIGTERM stop it. Built-in default clients (no
// --clients): see clients.mjs; their private JWKs go to --keys-dir or a temp
// dir that is removed on exit.
//
// Admin API (same server, not part of OIDC, no authentication, loopback only):
//   GET  /admin/pending             pending, unexpired, undecided requests
//   POST /admin/approve/{auth_req_id}   end-user approves
//   POST /admin/deny/{auth_req_id}      end-user denies (access_denied)
// Both POSTs complete the request through provider.backchannelResult(), so the
// ping notification (for ping clients) is sent by oidc-provider itself.
//
// WHAT IS RELAXED FOR LOOPBACK TESTING (and nothing else):
// 1. backchannel_client_notification_endpoint: oidc-provider's client schema
//    only accepts https URLs for it (HTTPS_URI in lib/consts/client_attributes.js).
//    For a static client whose endpoint is http on a loopback host
//    (127.0.0.1, localhost, [::1]) we register it with the same URL but scheme
//    https (so the schema passes), then, before the OP serves any request, set
//    the instantiated client's backchannelClientNotificationEndpoint back to the
//    original http URL (provider.Client.find() returns the cached static
//    client instance). Non-loopback http endpoints are still rejected.
// 2. SSRF protection: oidc-provider's outgoing requests (lib/helpers/
//    fetch_request.js) get an undici dispatcher that destroys sockets whose
//    remote address is special-use (127.0.0.0/8, ::1, private ranges...), so a
//    ping to 127.0.0.1 would fail ("hostname resolves to a special-use IP
//    address"). The `fetch` configuration option (default: globalThis.fetch)
//    receives that dispatcher in options.dispatcher; for URLs whose host is a
//    loopback literal (127.x.x.x, [::1], localhost) ours removes it, every
//    other URL keeps the protection. Method, headers (Bearer
//    client_notification_token) and body ({"auth_req_id"}) are untouched.
// 3. http issuer: nothing needed, oidc-provider 9 accepts an http:// Issuer
//    Identifier (it only requires a web URI); cookies are not used by CIBA.
// Other test choices: in-memory adapter (default), fresh signing keys each run,
// conformIdTokenClaims=false (scope claims are also put in the ID token),
// login_hint_token is decoded WITHOUT signature verification (test only).

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Provider, { errors } from 'oidc-provider';
import { buildClients } from './clients.mjs';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: process.env.CIBA_CLIENTS },
    'ping-endpoint': {
      type: 'string',
      default: process.env.CIBA_PING_ENDPOINT ?? 'http://127.0.0.1:8090/ciba/notify',
    },
    'keys-dir': { type: 'string', default: process.env.CIBA_KEYS_DIR },
    'expires-in': { type: 'string', default: process.env.CIBA_EXPIRES_IN ?? '120' },
    port: { type: 'string', default: '0' },
  },
});

const log = (...a) => console.error('[op]', ...a);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const isLoopbackUrl = (u) => {
  const { hostname } = new URL(u);
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
};

const EXPIRES_IN = Number.parseInt(args['expires-in'], 10);
if (!Number.isSafeInteger(EXPIRES_IN) || EXPIRES_IN < 1) {
  throw new Error('--expires-in / CIBA_EXPIRES_IN must be a positive integer');
}

// ---- clients -------------------------------------------------------------
let clients;
let keys = {};
let ownKeysDir; // removed again on exit
if (args.clients) {
  const parsed = JSON.parse(readFileSync(args.clients, 'utf8'));
  clients = Array.isArray(parsed) ? parsed : parsed.clients;
} else {
  if (!args['keys-dir']) ownKeysDir = mkdtempSync(join(tmpdir(), 'ciba-op-keys-'));
  const keysDir = args['keys-dir'] ?? ownKeysDir;
  ({ clients, keys } = buildClients({ pingEndpoint: args['ping-endpoint'], keysDir }));
}

// Relaxation 1 (see top): register loopback http notification endpoints as https.
const httpNotificationEndpoints = new Map();
clients = clients.map((c) => {
  const ep = c.backchannel_client_notification_endpoint;
  if (typeof ep === 'string' && ep.startsWith('http://') && isLoopbackUrl(ep)) {
    httpNotificationEndpoints.set(c.client_id, ep);
    return { ...c, backchannel_client_notification_endpoint: `https://${ep.slice('http://'.length)}` };
  }
  return c;
});

// ---- accounts --------------------------------------------------------------
const ACCOUNTS = {
  alice: {
    email: 'alice@example.com', email_verified: true,
    name: 'Alice Example', given_name: 'Alice', family_name: 'Example', user_code: '1234',
  },
  bob: {
    email: 'bob@example.com', email_verified: false,
    name: 'Bob Example', given_name: 'Bob', family_name: 'Example', user_code: '5678',
  },
};
const accountIdFor = (hint) => {
  if (typeof hint !== 'string') return undefined;
  if (Object.hasOwn(ACCOUNTS, hint)) return hint;
  return Object.keys(ACCOUNTS).find((id) => ACCOUNTS[id].email === hint);
};

// ---- pending requests (the "authentication device") ---------------------
/** auth_req_id -> summary; filled by triggerAuthenticationDevice */
const pending = new Map();

// ---- signing keys ----------------------------------------------------------
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const configuration = {
  clients,
  jwks: { keys: [{ ...rsa, kid: 'op-rsa', use: 'sig' }, { ...ec, kid: 'op-ec', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  conformIdTokenClaims: false,
  enabledJWA: {
    idTokenEncryptionAlgValues: ['RSA-OAEP-256', 'ECDH-ES+A256KW'],
    idTokenEncryptionEncValues: ['A128CBC-HS256', 'A256GCM'],
  },
  async findAccount(ctx, sub) {
    if (!Object.hasOwn(ACCOUNTS, sub)) return undefined;
    const { user_code: _ignored, ...claims } = ACCOUNTS[sub];
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  ttl: {
    AccessToken: 600,
    IdToken: 600,
    Grant: 600,
    Interaction: 600,
    Session: 600,
    BackchannelAuthenticationRequest(ctx) {
      const requested = Number(ctx?.oidc?.params?.requested_expiry);
      return requested > 0 ? Math.min(EXPIRES_IN, requested) : EXPIRES_IN;
    },
  },
  features: {
    devInteractions: { enabled: false },
    // DPoP-bound tokens for clients that send proofs (the DPoP cells of the matrix).
    dPoP: { enabled: true },
    // Encrypted ID tokens for clients registered with id_token_encrypted_response_alg
    // (the JWE cells of the matrix: `ciba login --decryption-key`).
    encryption: { enabled: true },
    ciba: {
      enabled: true,
      deliveryModes: ['poll', 'ping'],
      async validateRequestContext(ctx, requestContext) {
        // accepted as-is (opaque to this OP)
      },
      async validateBindingMessage(ctx, bindingMessage) {
        if (bindingMessage !== undefined && !/^[a-zA-Z0-9-._+/!?#]{1,20}$/.test(bindingMessage)) {
          throw new errors.InvalidBindingMessage(
            'binding_message must be 1-20 characters of [a-zA-Z0-9-._+/!?#]',
          );
        }
      },
      async verifyUserCode(ctx, account, userCode) {
        if (ctx.oidc.client.backchannelUserCodeParameter && !userCode) {
          throw new errors.MissingUserCode('user_code is required for this client');
        }
        if (userCode !== undefined && userCode !== ACCOUNTS[account.accountId]?.user_code) {
          throw new errors.InvalidUserCode('user_code does not match');
        }
      },
      async processLoginHint(ctx, loginHint) {
        return accountIdFor(loginHint); // undefined -> unknown_user_id
      },
      async processLoginHintToken(ctx, loginHintToken) {
        // TEST ONLY: payload of a JWT read WITHOUT verifying its signature.
        try {
          const payload = JSON.parse(Buffer.from(loginHintToken.split('.')[1], 'base64url'));
          return accountIdFor(payload.sub_id?.email ?? payload.sub_id?.sub ?? payload.sub ?? payload.email);
        } catch {
          throw new errors.InvalidRequest('login_hint_token must be a JWT');
        }
      },
      async triggerAuthenticationDevice(ctx, request, account, client) {
        pending.set(request.jti, {
          auth_req_id: request.jti,
          client_id: client.clientId,
          delivery_mode: client.backchannelTokenDeliveryMode,
          account_id: account.accountId,
          login_hint: request.params.login_hint ?? null,
          binding_message: request.params.binding_message ?? null,
          scope: request.scope,
          expires_at: Math.floor(Date.now() / 1000) + request.expiration,
        });
        log('pending', request.jti, client.clientId, request.params.binding_message ?? '');
      },
    },
  },
  // Relaxation 2 (see top): no SSRF dispatcher for loopback targets only.
  async fetch(url, options) {
    if (isLoopbackUrl(url)) delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
};

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => log('server_error', err));
provider.on('backchannel.error', (ctx, err) => log('backchannel.error', err?.message));

// Instantiate (= validate) every static client now, and (relaxation 1, second
// half) restore the real http loopback notification endpoint on the instance.
for (const { client_id: clientId } of clients) {
  const client = await provider.Client.find(clientId);
  if (httpNotificationEndpoints.has(clientId)) {
    client.backchannelClientNotificationEndpoint = httpNotificationEndpoints.get(clientId);
  }
}

// ---- admin API ---------------------------------------------------------------
const now = () => Math.floor(Date.now() / 1000);
const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function admin(req, res, path) {
  if (req.method === 'GET' && path === '/admin/pending') {
    for (const [id, p] of pending) if (p.expires_at <= now()) pending.delete(id);
    return json(res, 200, [...pending.values()]);
  }
  const m = /^\/admin\/(approve|deny)\/([^/]+)$/.exec(path);
  if (req.method !== 'POST' || !m) return json(res, 404, { error: 'not_found' });
  const [, action, id] = m;
  const request = await provider.BackchannelAuthenticationRequest.find(id, { ignoreExpiration: true });
  if (!request) return json(res, 404, { error: 'unknown auth_req_id' });
  if (request.isExpired) return json(res, 409, { error: 'expired' });
  if (!pending.has(id)) return json(res, 409, { error: 'already decided' });
  pending.delete(id);
  if (action === 'approve') {
    const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
    grant.addOIDCScope(request.scope);
    const requestedClaims = [
      ...Object.keys(request.claims?.id_token ?? {}),
      ...Object.keys(request.claims?.userinfo ?? {}),
    ];
    if (requestedClaims.length) grant.addOIDCClaims(requestedClaims);
    for (const resource of [request.resource ?? []].flat()) grant.addResourceScope(resource, request.scope);
    await grant.save();
    await provider.backchannelResult(request, grant, { authTime: now(), amr: ['hwk'] });
  } else {
    await provider.backchannelResult(
      request,
      new errors.AccessDenied('end-user denied the authentication request'),
    );
  }
  log(action, id);
  return json(res, 200, { auth_req_id: id, result: action });
}

const oidc = provider.callback();
server.on('request', (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  if (path === '/admin' || path.startsWith('/admin/')) {
    admin(req, res, path).catch((err) => {
      log('admin error', err);
      // backchannelResult() may fail after the result was saved (e.g. the ping
      // receiver is down); report it, the request state is already final.
      if (!res.headersSent) json(res, 500, { error: String(err?.message ?? err) });
    });
  } else {
    oidc(req, res);
  }
});

const stop = () => {
  if (ownKeysDir) rmSync(ownKeysDir, { recursive: true, force: true });
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

process.stdout.write(`${JSON.stringify({
  issuer, port, admin: `${issuer}/admin`, clients: clients.map((c) => c.client_id), keys,
})}\n`);
