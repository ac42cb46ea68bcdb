#!/usr/bin/env node
// keygen.mjs: fresh ES256 (P-256) key pairs for private_key_jwt test clients.
//
//   node keygen.mjs DIR NAME...
//
// For every NAME writes DIR/NAME.private.jwk (mode 0600) and DIR/NAME.public.jwk,
// each one JSON object on one line with kid = NAME, alg = ES256, use = sig.
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
for (const name of names) {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    console.error(`keygen: bad key name ${JSON.stringify(name)}`);
    process.exit(2);
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const extra = { kid: name, alg: 'ES256', use: 'sig' };
  const pub = { ...publicKey.export({ format: 'jwk' }), ...extra };
  const priv = { ...privateKey.export({ format: 'jwk' }), ...extra };
  writeFileSync(join(dir, `${name}.private.jwk`), `${JSON.stringify(priv)}\n`, { mode: 0o600 });
  writeFileSync(join(dir, `${name}.public.jwk`), `${JSON.stringify(pub)}\n`);
}
