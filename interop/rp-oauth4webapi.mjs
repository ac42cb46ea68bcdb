#!/usr/bin/env node
// CIBA Relying Party driver built on oauth4webapi 3 (same command line and
// output as rp-openid-client.mjs):
//
//   node rp-oauth4webapi.mjs --issuer URL --client-id ID
//     (--client-secret S | --private-key FILE.jwk)
//     [--auth-method client_secret_basic|client_secret_post|private_key_jwt]
//     [--login-hint alice] [--scope "openid email"] [--binding-message M]
//     [--requested-expiry SECONDS] [--id-token-alg RS256]
//     [--mode poll|ping] [--notification-port N] [--expect approve|deny|expire]
//     [--dpop]
//
// Polling is written out here (oauth4webapi has no poll loop): wait
// `interval` (5 s when the OP sends none), request, repeat on
// authorization_pending, add 5 s on slow_down. The ID token's claims are
// validated by processBackchannelAuthenticationGrantResponse and its signature
// by validateApplicationLevelSignature against the issuer's JWKS.

import * as oauth from 'oauth4webapi';
import {
  authenticationParameters, classifyError, finish, loadPrivateKey, log,
  parseDriverArgs, sleep, startNotificationReceiver,
} from './driver-common.mjs';

const a = parseDriverArgs();
const result = { polls: 0 };
const opts = { [oauth.allowInsecureRequests]: true }; // http on loopback
let receiver;

try {
  const issuer = new URL(a.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oidc' }),
  );
  const c = { client_id: a.clientId, id_token_signed_response_alg: a.idTokenAlg };
  let auth;
  if (a.authMethod === 'client_secret_basic') auth = oauth.ClientSecretBasic(a.clientSecret);
  else if (a.authMethod === 'client_secret_post') auth = oauth.ClientSecretPost(a.clientSecret);
  else auth = oauth.PrivateKeyJwt(await loadPrivateKey(a.privateKeyFile));

  // --dpop: every token request carries a DPoP proof of a fresh ES256 key.
  const DPoP = a.dpop ? oauth.DPoP(c, await oauth.generateKeyPair('ES256')) : undefined;

  if (a.mode === 'ping') receiver = await startNotificationReceiver(a.notificationPort);
  const br = await oauth.processBackchannelAuthenticationResponse(
    as,
    c,
    await oauth.backchannelAuthenticationRequest(
      as, c, auth, authenticationParameters(a, receiver?.token), opts,
    ),
  );
  log('auth_req_id', br.auth_req_id, 'expires_in', br.expires_in, 'interval', br.interval);

  let interval = br.interval ?? 5;
  const deadline = Date.now() + (br.expires_in + 30) * 1000;
  if (a.mode === 'ping') {
    result.notified = await receiver.waitFor(br.auth_req_id, (br.expires_in + 2) * 1000);
  }
  let response;
  let tokens;
  for (;;) {
    if (a.mode === 'poll') await sleep(interval * 1000);
    if (Date.now() > deadline) throw new Error('gave up polling: past expires_in + 30 s');
    result.polls += 1;
    response = await oauth.backchannelAuthenticationGrantRequest(
      as, c, auth, br.auth_req_id, { ...opts, DPoP },
    );
    try {
      tokens = await oauth.processBackchannelAuthenticationGrantResponse(as, c, response);
      break;
    } catch (err) {
      if (a.mode === 'poll' && err instanceof oauth.ResponseBodyError) {
        if (err.error === 'authorization_pending') continue;
        if (err.error === 'slow_down') { interval += 5; continue; }
      }
      throw err;
    }
  }

  const claims = oauth.getValidatedIdTokenClaims(tokens);
  if (claims) await oauth.validateApplicationLevelSignature(as, response, opts);
  else if (a.scope.split(' ').includes('openid')) throw new Error('no ID token in the token response');
  Object.assign(result, {
    outcome: 'tokens', claims, token_type: tokens.token_type,
    id_token_parts: tokens.id_token?.split('.').length,
  });
} catch (err) {
  Object.assign(result, classifyError(err));
} finally {
  receiver?.close();
}
finish(a.expect, result);
