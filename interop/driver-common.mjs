// Shared plumbing of the two RP drivers: command line, private key loading,
// the loopback ping notification receiver, and the one-line JSON result.

import { createServer } from 'node:http';
import { randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
const EXPECTED = { approve: 'tokens', deny: 'access_denied', expire: 'expired_token' };

export const log = (...a) => console.error('[rp]', ...a);
export const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

export function parseDriverArgs() {
  const { values: v } = parseArgs({
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'private-key': { type: 'string' },
      'auth-method': { type: 'string', default: 'client_secret_basic' },
      'login-hint': { type: 'string', default: 'alice' },
      scope: { type: 'string', default: 'openid' },
      'binding-message': { type: 'string' },
      'requested-expiry': { type: 'string' },
      'id-token-alg': { type: 'string', default: 'RS256' },
      mode: { type: 'string', default: 'poll' },
      'notification-port': { type: 'string', default: '0' },
      expect: { type: 'string', default: 'approve' },
      dpop: { type: 'boolean', default: false },
      'decryption-key': { type: 'string' },
      'id-token-enc': { type: 'string', default: 'A128CBC-HS256' },
    },
  });
  const fail = (msg) => { console.error(`usage error: ${msg}`); process.exit(2); };
  if (!v.issuer || !v['client-id']) fail('--issuer and --client-id are required');
  if (!['poll', 'ping'].includes(v.mode)) fail('--mode must be poll or ping');
  if (!EXPECTED[v.expect]) fail('--expect must be approve, deny or expire');
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(v['auth-method'])) {
    fail('--auth-method must be client_secret_basic, client_secret_post or private_key_jwt');
  }
  if (v['auth-method'] === 'private_key_jwt' ? !v['private-key'] : !v['client-secret']) {
    fail(`--auth-method ${v['auth-method']} needs ${v['auth-method'] === 'private_key_jwt' ? '--private-key' : '--client-secret'}`);
  }
  return {
    issuer: v.issuer,
    clientId: v['client-id'],
    clientSecret: v['client-secret'],
    privateKeyFile: v['private-key'],
    authMethod: v['auth-method'],
    loginHint: v['login-hint'],
    scope: v.scope,
    bindingMessage: v['binding-message'],
    requestedExpiry: v['requested-expiry'],
    idTokenAlg: v['id-token-alg'],
    mode: v.mode,
    notificationPort: Number(v['notification-port']),
    expect: v.expect,
    dpop: v.dpop,
    decryptionKeyFile: v['decryption-key'],
    idTokenEnc: v['id-token-enc'],
  };
}

// Private JWK file -> { key: CryptoKey, kid } usable by both libraries.
export async function loadPrivateKey(file) {
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : 'RS256');
  const params = {
    ES256: { name: 'ECDSA', namedCurve: 'P-256' },
    ES384: { name: 'ECDSA', namedCurve: 'P-384' },
    RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  }[alg];
  if (!params) throw new Error(`unsupported private key alg ${alg}`);
  const key = await webcrypto.subtle.importKey('jwk', jwk, params, false, ['sign']);
  return { key, kid: jwk.kid };
}

// Private encryption JWK file (RSA-OAEP-256 or ECDH-ES+A256KW) -> { key, alg, kid },
// the DecryptionKey shape of openid-client's enableDecryptingResponses.
export async function loadDecryptionKey(file) {
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  const { alg } = jwk;
  const params = {
    'RSA-OAEP-256': [{ name: 'RSA-OAEP', hash: 'SHA-256' }, ['decrypt', 'unwrapKey']],
    'ECDH-ES+A256KW': [{ name: 'ECDH', namedCurve: 'P-256' }, ['deriveBits']],
  }[alg];
  if (!params) throw new Error(`unsupported decryption key alg ${alg}`);
  const { use: _use, key_ops: _ops, alg: _alg, ...bare } = jwk;
  const key = await webcrypto.subtle.importKey('jwk', bare, params[0], false, params[1]);
  return { key, alg, kid: jwk.kid };
}

// The CIBA request parameters common to both drivers.
export function authenticationParameters(a, clientNotificationToken) {
  const p = { scope: a.scope, login_hint: a.loginHint };
  if (a.bindingMessage) p.binding_message = a.bindingMessage;
  if (a.requestedExpiry) p.requested_expiry = a.requestedExpiry;
  if (clientNotificationToken) p.client_notification_token = clientNotificationToken;
  return p;
}

// Tiny ping receiver on 127.0.0.1:<port> (0 = any free port). It accepts a
// POST on any path carrying "Authorization: Bearer <token>" and a JSON body
// {"auth_req_id": ...}, answers 204, and remembers the auth_req_id.
export async function startNotificationReceiver(port) {
  const token = randomBytes(24).toString('base64url');
  const seen = new Set();
  const waiters = new Set();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      let id;
      try { id = JSON.parse(body).auth_req_id; } catch {}
      const ok = req.method === 'POST' && req.headers.authorization === `Bearer ${token}`
        && typeof id === 'string';
      log('notification', req.method, req.url, ok ? `auth_req_id=${id}` : 'REJECTED');
      res.writeHead(ok ? 204 : 400).end();
      if (!ok) return;
      seen.add(id);
      for (const w of waiters) w();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}/`;
  log('notification receiver listening on', url);
  return {
    url,
    token,
    // resolves true when notified for authReqId, false after timeoutMs
    waitFor(authReqId, timeoutMs) {
      return new Promise((resolve) => {
        const check = () => {
          if (!seen.has(authReqId)) return;
          clearTimeout(timer); waiters.delete(check); resolve(true);
        };
        const timer = setTimeout(() => { waiters.delete(check); resolve(false); }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() { server.closeAllConnections(); server.close(); },
  };
}

// Maps a thrown error to { outcome, error }.
export function classifyError(err) {
  // OAuth error response: ResponseBodyError has .error; a 401 with a
  // WWW-Authenticate challenge (e.g. invalid_client) has it in the challenge.
  const challenge = Array.isArray(err?.cause) ? err.cause[0]?.parameters : undefined;
  const code = err?.error ?? challenge?.error;
  const description = err?.error_description ?? challenge?.error_description;
  if (typeof code === 'string') {
    const outcome = ['access_denied', 'expired_token'].includes(code) ? code : 'error';
    return { outcome, error: description ? `${code}: ${description}` : code };
  }
  // openid-client wraps the oauth4webapi error in a ClientError: show both.
  let error = `${err?.name ?? 'Error'}: ${err?.message ?? err}`;
  if (err?.cause instanceof Error) error += ` <- ${err.cause.name}: ${err.cause.message}`;
  const code2 = err?.cause?.code ?? err?.code;
  return { outcome: 'error', error: code2 ? `${error} (${code2})` : error };
}

// Prints the one-line result and exits 0 iff the outcome is the expected one.
export function finish(expect, result) {
  const line = {
    outcome: result.outcome,
    claims: result.claims ?? {},
    polls: result.polls ?? 0,
    error: result.error ?? null,
    token_type: result.token_type ?? null,
  };
  if (result.notified !== undefined) line.notified = result.notified;
  if (result.id_token_parts !== undefined) line.id_token_parts = result.id_token_parts;
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(line.outcome === EXPECTED[expect] ? 0 : 1);
}
