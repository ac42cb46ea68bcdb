#!/usr/bin/env node
// CIBA Relying Party driver built on openid-client 6.
//
//   node rp-openid-client.mjs --issuer URL --client-id ID
//     (--client-secret S | --private-key FILE.jwk)
//     [--auth-method client_secret_basic|client_secret_post|private_key_jwt]
//     [--login-hint alice] [--scope "openid email"] [--binding-message M]
//     [--requested-expiry SECONDS] [--id-token-alg RS256]
//     [--mode poll|ping] [--notification-port N] [--expect approve|deny|expire]
//     [--dpop] [--decryption-key FILE.jwk [--id-token-enc ENC]]
//
// Discovery, backchannel authentication request, then either polling
// (pollBackchannelAuthenticationGrant) or, in ping mode, waiting for the
// notification on its own 127.0.0.1 receiver and making one token request.
// The ID token's claims are validated by openid-client and its signature
// against the issuer's JWKS (enableNonRepudiationChecks). With --dpop every
// token request carries a DPoP proof of a fresh ES256 key (getDPoPHandle).
// With --decryption-key the client is registered for encrypted ID tokens:
// openid-client decrypts them (enableDecryptingResponses, only --id-token-enc
// allowed) and the result line reports how many parts the delivered ID token
// had (5 for a JWE).
// Prints one JSON line: {"outcome","claims","polls","error","id_token_parts"[,"notified"]};
// exit 0 iff outcome matches --expect.

import * as client from 'openid-client';
import {
  CIBA_GRANT, authenticationParameters, classifyError, finish, loadDecryptionKey, loadPrivateKey, log,
  parseDriverArgs, startNotificationReceiver,
} from './driver-common.mjs';

const a = parseDriverArgs();
const result = { polls: 0 };
let receiver;

try {
  let clientAuth;
  if (a.authMethod === 'client_secret_basic') clientAuth = client.ClientSecretBasic(a.clientSecret);
  else if (a.authMethod === 'client_secret_post') clientAuth = client.ClientSecretPost(a.clientSecret);
  else clientAuth = client.PrivateKeyJwt(await loadPrivateKey(a.privateKeyFile));

  const config = await client.discovery(
    new URL(a.issuer),
    a.clientId,
    { id_token_signed_response_alg: a.idTokenAlg },
    clientAuth,
    { execute: [client.allowInsecureRequests] }, // http on loopback
  );
  client.enableNonRepudiationChecks(config);
  if (a.decryptionKeyFile) {
    client.enableDecryptingResponses(config, [a.idTokenEnc], await loadDecryptionKey(a.decryptionKeyFile));
  }
  const tokenEndpoint = config.serverMetadata().token_endpoint;
  config[client.customFetch] = (url, options) => {
    if (url === tokenEndpoint) result.polls += 1;
    return fetch(url, options);
  };

  const DPoP = a.dpop
    ? client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'))
    : undefined;

  if (a.mode === 'ping') receiver = await startNotificationReceiver(a.notificationPort);
  const br = await client.initiateBackchannelAuthentication(
    config,
    authenticationParameters(a, receiver?.token),
  );
  log('auth_req_id', br.auth_req_id, 'expires_in', br.expires_in, 'interval', br.interval);

  let tokens;
  if (a.mode === 'poll') {
    // Own deadline past expires_in, so that expiry is reported by the server
    // (expired_token) and not by openid-client's default abort at expires_in.
    tokens = await client.pollBackchannelAuthenticationGrant(config, br, undefined, {
      signal: AbortSignal.timeout((br.expires_in + 30) * 1000),
      DPoP,
    });
  } else {
    result.notified = await receiver.waitFor(br.auth_req_id, (br.expires_in + 2) * 1000);
    tokens = await client.genericGrantRequest(
      config, CIBA_GRANT, { auth_req_id: br.auth_req_id }, { DPoP },
    );
  }

  const claims = tokens.claims();
  if (a.scope.split(' ').includes('openid') && !claims) throw new Error('no ID token in the token response');
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
