#!/usr/bin/env node
// The Node reference for ciba-bench's `client_rate`: how many CIBA token responses one thread
// processes per second with oauth4webapi, ID token signature included.
//
//   node interop/bench/oauth4webapi_rate.mjs [--seconds 2]
//
// One unit of work, as an oauth4webapi CIBA client does it:
//   processBackchannelAuthenticationGrantResponse(as, client, response)
//     (status, JSON body, access_token / token_type / expires_in, and the ID token's claims:
//      iss, aud, exp, iat, sub, azp, the algorithm the client registered)
//   validateApplicationLevelSignature(as, response, { [jwksCache]: ... })
//     (the opt-in JWS signature check, with the OP's JWK Set given in a fresh cache, so
//      there is no network; oauth4webapi keeps the imported CryptoKey between calls)
// The Response is built in process for every iteration (a body is read once). The ID
// tokens are signed in set-up with ciba-core's test keys (crates/ciba-core/testdata) and
// carry the same claims as the Rust side's: iss, sub, aud, iat, exp, the
// urn:openid:params:jwt:claim:auth_req_id claim, at_hash and rt_hash. oauth4webapi does not
// check at_hash, rt_hash or the auth_req_id claim; ciba-core does.
//
// Output (one line per algorithm, as ciba-bench's client_rate prints):
//   RESULT {"kind":"client_rate","impl":"oauth4webapi","alg":"RS256","per_s":...,...}
//   RESULT {"kind":"missing","what":"oauth4webapi"}   (when the package cannot be loaded:
//                                                     run `npm ci` in interop/)

import { createHash, createPrivateKey, sign, constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const TESTDATA = new URL('../../crates/ciba-core/testdata/', import.meta.url);
const ISSUER = 'https://op.example';
const CLIENT_ID = 'bench-client';
const AUTH_REQ_ID = '1c266114-a1be-4252-8ad1-04986c5b9ac1';
const ACCESS_TOKEN = '2YotnFZFEjr1zCsicMWpAA-bench-access-token';
const REFRESH_TOKEN = 'tGzv3JOkF0XG5Qx2TlKWIA-bench-refresh-token';
const ALGS = [
  ['RS256', 'rs256'],
  ['PS256', 'ps256'],
  ['ES256', 'es256'],
  ['EdDSA', 'eddsa'],
];
const WARM_UP_MS = 300;
const CHUNK = 16;

function emit(value) {
  console.log(`RESULT ${JSON.stringify(value)}`);
}

function secondsFromArgs() {
  const args = process.argv.slice(2);
  let seconds = 2;
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--seconds') {
      seconds = Number(args[i + 1]);
      i += 1;
      if (!Number.isFinite(seconds) || seconds <= 0) {
        throw new Error(`--seconds ${args[i]} is not a positive number`);
      }
    } else {
      throw new Error(`unknown argument ${args[i]} (usage: oauth4webapi_rate.mjs [--seconds N])`);
    }
  }
  return seconds;
}

const b64u = (bytes) => Buffer.from(bytes).toString('base64url');

/** The left half of the hash for at_hash / rt_hash (SHA-512 for EdDSA, as ciba-core does). */
function leftHalfHash(alg, value) {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(value).digest();
  return b64u(digest.subarray(0, digest.length / 2));
}

function signJws(alg, jwk, claims) {
  const key = createPrivateKey({ key: jwk, format: 'jwk' });
  const input = `${b64u(JSON.stringify({ alg, kid: jwk.kid }))}.${b64u(JSON.stringify(claims))}`;
  const data = Buffer.from(input);
  let signature;
  switch (alg) {
    case 'RS256':
      signature = sign('sha256', data, key);
      break;
    case 'PS256':
      signature = sign('sha256', data, {
        key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
      });
      break;
    case 'ES256':
      signature = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
      break;
    case 'EdDSA':
      signature = sign(null, data, key);
      break;
    default:
      throw new Error(`no signer for ${alg}`);
  }
  return `${input}.${b64u(signature)}`;
}

function publicJwk(jwk) {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}

async function measure(oauth, alg, file, seconds) {
  const jwk = JSON.parse(readFileSync(new URL(`${file}.jwk.json`, TESTDATA), 'utf8'));
  const iat = Math.floor(Date.now() / 1000);
  const idToken = signJws(alg, jwk, {
    iss: ISSUER,
    sub: 'alice',
    aud: CLIENT_ID,
    iat,
    exp: iat + 600,
    'urn:openid:params:jwt:claim:auth_req_id': AUTH_REQ_ID,
    at_hash: leftHalfHash(alg, ACCESS_TOKEN),
    'urn:openid:params:jwt:claim:rt_hash': leftHalfHash(alg, REFRESH_TOKEN),
  });
  const body = JSON.stringify({
    access_token: ACCESS_TOKEN,
    token_type: 'Bearer',
    expires_in: 3600,
    refresh_token: REFRESH_TOKEN,
    scope: 'openid',
    id_token: idToken,
  });
  const as = {
    issuer: ISSUER,
    token_endpoint: `${ISSUER}/token`,
    jwks_uri: `${ISSUER}/jwks`,
    backchannel_authentication_endpoint: `${ISSUER}/bc-authorize`,
    id_token_signing_alg_values_supported: ALGS.map(([a]) => a),
  };
  const client = { client_id: CLIENT_ID, id_token_signed_response_alg: alg };
  const keys = ALGS.map(([, f]) => publicJwk(JSON.parse(readFileSync(new URL(`${f}.jwk.json`, TESTDATA), 'utf8'))));
  const options = { [oauth.jwksCache]: { jwks: { keys }, uat: Math.floor(Date.now() / 1000) } };

  const once = async () => {
    const response = new Response(body, {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    });
    const tokens = await oauth.processBackchannelAuthenticationGrantResponse(as, client, response);
    await oauth.validateApplicationLevelSignature(as, response, options);
    if (oauth.getValidatedIdTokenClaims(tokens)?.sub !== 'alice') {
      throw new Error('the ID token was not validated');
    }
  };
  const run = async (limitMs) => {
    const started = performance.now();
    let iterations = 0;
    for (;;) {
      for (let i = 0; i < CHUNK; i += 1) await once();
      iterations += CHUNK;
      const elapsed = performance.now() - started;
      if (elapsed >= limitMs) return { iterations, elapsed };
    }
  };
  await run(WARM_UP_MS);
  return run(seconds * 1000);
}

const seconds = secondsFromArgs();
let oauth;
try {
  oauth = await import('oauth4webapi');
} catch (err) {
  console.error(`oauth4webapi_rate: cannot load oauth4webapi (run npm ci in interop/): ${err.message}`);
  emit({ kind: 'missing', what: 'oauth4webapi' });
  process.exit(0);
}
const version = JSON.parse(
  readFileSync(new URL('../node_modules/oauth4webapi/package.json', import.meta.url), 'utf8'),
).version;

let failed = false;
for (const [alg, file] of ALGS) {
  try {
    const { iterations, elapsed } = await measure(oauth, alg, file, seconds);
    emit({
      kind: 'client_rate',
      impl: 'oauth4webapi',
      version,
      node: process.version,
      alg,
      per_s: Math.round((iterations / (elapsed / 1000)) * 10) / 10,
      iterations,
      seconds: Math.round(elapsed) / 1000,
      threads: 1,
    });
  } catch (err) {
    console.error(`oauth4webapi_rate: ${alg}: ${err.stack ?? err}`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
