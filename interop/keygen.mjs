#!/usr/bin/env node
// keygen.mjs: fresh ES256 (P-256) key pairs for private_key_jwt test clients,
// and encryption key pairs for clients that get encrypted ID tokens.
//
//   node keygen.mjs DIR NAME...
//
// For every NAME writes DIR/NAME.private.jwk (mode 0600) and DIR/NAME.public.jwk,
// each one JSON object on one line with kid = NAME, alg = ES256, use = sig.
// `enc-rsa:NAME` and `enc-ec:NAME` write DIR/NAME.enc.private.jwk and
// DIR/NAME.enc.public.jwk instead: RSA 2048 for RSA-OAEP-256, or P-256 for
// ECDH-ES+A256KW, with kid = NAME-enc and use = enc.
// Used by `cargo xtask interop` (which has no crypto of its own) to register
// private_key_jwt clients at op.mjs and at `ciba serve`.

import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...names] = process.argv.slice(2);
if (!dir || names.length === 0) {
  console.error('usage: node keygen.mjs DIR NAME...');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
for (const arg of names) {
  const [kind, name] = arg.includes(':') ? arg.split(':', 2) : ['sig', arg];
  if (!/^[A-Za-z0-9._-]+$/.test(name) || !['sig', 'enc-rsa', 'enc-ec'].includes(kind)) {
    console.error(`keygen: bad key name ${JSON.stringify(arg)}`);
    process.exit(2);
  }
  let pair;
  let extra;
  let file = name;
  if (kind === 'enc-rsa') {
    pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    extra = { kid: `${name}-enc`, alg: 'RSA-OAEP-256', use: 'enc' };
    file = `${name}.enc`;
  } else if (kind === 'enc-ec') {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    extra = { kid: `${name}-enc`, alg: 'ECDH-ES+A256KW', use: 'enc' };
    file = `${name}.enc`;
  } else {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    extra = { kid: name, alg: 'ES256', use: 'sig' };
  }
  const pub = { ...pair.publicKey.export({ format: 'jwk' }), ...extra };
  const priv = { ...pair.privateKey.export({ format: 'jwk' }), ...extra };
  writeFileSync(join(dir, `${file}.private.jwk`), `${JSON.stringify(priv)}\n`, { mode: 0o600 });
  writeFileSync(join(dir, `${file}.public.jwk`), `${JSON.stringify(pub)}\n`);
}
