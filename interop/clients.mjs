// Builds a set of statically registered CIBA test clients for op.mjs.
//
// Used by op.mjs for its built-in default set and by selfcheck.mjs to write a
// clients.json whose ping clients point at notification receivers it chose.
//
// Per delivery mode (poll, ping) there is one client per authentication method:
//   <prefix><mode>-basic  client_secret_basic  id_token RS256
//   <prefix><mode>-post   client_secret_post   id_token ES256
//   <prefix><mode>-pkjwt  private_key_jwt (ES256 assertion)  id_token PS256
// The private_key_jwt clients get a fresh P-256 key pair: the public half goes
// into the client's `jwks`, the private JWK is written to
// <keysDir>/<client_id>.private.jwk and its path returned in `keys`.
// Secrets of the client_secret_* clients are "<client_id>-secret" (test only).

import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

const METHODS = [
  { suffix: 'basic', auth: 'client_secret_basic', idTokenAlg: 'RS256' },
  { suffix: 'post', auth: 'client_secret_post', idTokenAlg: 'ES256' },
  { suffix: 'pkjwt', auth: 'private_key_jwt', idTokenAlg: 'PS256' },
];

function ecKeyPair(kid) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const extra = { kid, alg: 'ES256', use: 'sig' };
  return {
    publicJwk: { ...publicKey.export({ format: 'jwk' }), ...extra },
    privateJwk: { ...privateKey.export({ format: 'jwk' }), ...extra },
  };
}

/**
 * @param {object} opts
 * @param {string} [opts.prefix]        client_id prefix, e.g. "oc-"
 * @param {string} opts.pingEndpoint    backchannel_client_notification_endpoint of the ping clients
 * @param {string} opts.keysDir         where private JWKs are written
 * @returns {{clients: object[], keys: Record<string,string>}}
 */
export function buildClients({ prefix = '', pingEndpoint, keysDir }) {
  mkdirSync(keysDir, { recursive: true });
  const clients = [];
  const keys = {};
  for (const mode of ['poll', 'ping']) {
    for (const m of METHODS) {
      const clientId = `${prefix}${mode}-${m.suffix}`;
      const client = {
        client_id: clientId,
        client_name: `ciba interop ${clientId}`,
        grant_types: [CIBA_GRANT],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: m.auth,
        id_token_signed_response_alg: m.idTokenAlg,
        backchannel_token_delivery_mode: mode,
      };
      if (mode === 'ping') client.backchannel_client_notification_endpoint = pingEndpoint;
      if (m.auth === 'private_key_jwt') {
        const { publicJwk, privateJwk } = ecKeyPair(`${clientId}-key`);
        client.jwks = { keys: [publicJwk] };
        const file = join(keysDir, `${clientId}.private.jwk`);
        writeFileSync(file, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600 });
        keys[clientId] = file;
      } else {
        client.client_secret = `${clientId}-secret`; // test-only, predictable on purpose
      }
      clients.push(client);
    }
  }
  return { clients, keys };
}
