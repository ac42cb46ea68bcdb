#!/usr/bin/env node
// selfcheck.mjs: runs both RP drivers against op.mjs and prints a table.
//
// 1. picks one free loopback port per driver for its ping receiver and writes a
//    clients.json (prefix oc- for openid-client, o4- for oauth4webapi) whose
//    ping clients point at http://127.0.0.1:<that port>/ciba/notify;
// 2. starts two OPs from it: "main" (CIBA_EXPIRES_IN=60) and "short"
//    (CIBA_EXPIRES_IN=4, for the expiry scenario);
// 3. per driver (the two drivers run side by side, each one scenario at a
//    time) runs the scenarios below, approving/denying through the admin API
//    (matched by a unique binding_message);
// 4. stops every process it started and exits 1 on any failure.
// Every wait is bounded; the whole run is capped at 110 s.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClients } from './clients.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const TOTAL_BUDGET_MS = 110_000;
const children = new Set();
const tmp = mkdtempSync(join(tmpdir(), 'ciba-selfcheck-'));
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

function cleanup() {
  for (const child of children) child.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
const budget = setTimeout(() => {
  console.error('selfcheck: overall time budget exceeded');
  cleanup();
  process.exit(1);
}, TOTAL_BUDGET_MS);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(1); });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Spawns a node script; resolves {code, stdout} at exit or kills it at timeout.
function run(script, args, { env, timeoutMs, label, onStdoutLine } = {}) {
  const child = spawn(process.execPath, [join(HERE, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    stdout += d;
    if (onStdoutLine && stdout.includes('\n')) onStdoutLine(stdout.slice(0, stdout.indexOf('\n')));
  });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => {
    const timer = timeoutMs && setTimeout(() => { stderr += '\n[selfcheck] timeout, killed'; child.kill('SIGKILL'); }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: code ?? signal, stdout, stderr, label });
    });
  });
  return { child, done };
}

async function startOp(label, clientsFile, expiresIn) {
  let ready;
  const readyLine = new Promise((resolve) => { ready = resolve; });
  const op = run('op.mjs', ['--clients', clientsFile], {
    env: { CIBA_EXPIRES_IN: String(expiresIn) },
    label,
    onStdoutLine: (line) => ready(line),
  });
  const line = await Promise.race([readyLine, op.done.then(() => null), sleep(15_000).then(() => null)]);
  if (!line) {
    const r = await Promise.race([op.done, sleep(100)]);
    throw new Error(`OP ${label} did not start: ${r?.stderr ?? '(no exit yet)'}`);
  }
  const info = JSON.parse(line);
  console.error(`[selfcheck] OP ${label}: ${info.issuer} (CIBA_EXPIRES_IN=${expiresIn})`);
  return { ...info, proc: op };
}

async function decide(op, bindingMessage, action) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const pending = await (await fetch(`${op.admin}/pending`)).json();
    const hit = pending.find((p) => p.binding_message === bindingMessage);
    if (hit) {
      const res = await fetch(`${op.admin}/${action}/${hit.auth_req_id}`, { method: 'POST' });
      if (!res.ok) throw new Error(`admin ${action}: ${res.status} ${await res.text()}`);
      return;
    }
    await sleep(150);
  }
  throw new Error(`no pending request with binding_message ${bindingMessage}`);
}

// ---- setup ---------------------------------------------------------------------
const DRIVERS = [
  { name: 'openid-client', script: 'rp-openid-client.mjs', prefix: 'oc-' },
  { name: 'oauth4webapi', script: 'rp-oauth4webapi.mjs', prefix: 'o4-' },
];
const clients = [];
const keys = {};
for (const d of DRIVERS) {
  d.notificationPort = await freePort();
  const built = buildClients({
    prefix: d.prefix,
    pingEndpoint: `http://127.0.0.1:${d.notificationPort}/ciba/notify`,
    keysDir: join(tmp, 'keys'),
  });
  clients.push(...built.clients);
  Object.assign(keys, built.keys);
}
const clientsFile = join(tmp, 'clients.json');
writeFileSync(clientsFile, JSON.stringify(clients, null, 2));

const SCENARIOS = [
  { mode: 'poll', expect: 'approve', auth: 'basic' },
  { mode: 'poll', expect: 'approve', auth: 'post' },
  // approved only after the first poll: exercises authorization_pending
  { mode: 'poll', expect: 'approve', auth: 'pkjwt', delayMs: 6500, minPolls: 2 },
  { mode: 'poll', expect: 'deny', auth: 'basic' },
  { mode: 'poll', expect: 'expire', auth: 'basic', op: 'short' },
  { mode: 'ping', expect: 'approve', auth: 'basic' },
  { mode: 'ping', expect: 'approve', auth: 'pkjwt' },
  { mode: 'ping', expect: 'deny', auth: 'post' },
];
const AUTH = { basic: 'client_secret_basic', post: 'client_secret_post', pkjwt: 'private_key_jwt' };

async function runScenario(ops, d, s, n) {
  const client = clients.find((c) => c.client_id === `${d.prefix}${s.mode}-${s.auth}`);
  const op = ops[s.op ?? 'main'];
  const bindingMessage = `${d.prefix}${n}`;
  const args = [
    '--issuer', op.issuer, '--client-id', client.client_id,
    '--auth-method', AUTH[s.auth], '--id-token-alg', client.id_token_signed_response_alg,
    '--login-hint', 'alice', '--scope', 'openid email profile',
    '--binding-message', bindingMessage, '--mode', s.mode, '--expect', s.expect,
  ];
  if (s.auth === 'pkjwt') args.push('--private-key', keys[client.client_id]);
  else args.push('--client-secret', client.client_secret);
  if (s.mode === 'ping') args.push('--notification-port', String(d.notificationPort));

  const started = Date.now();
  const proc = run(d.script, args, { timeoutMs: 45_000, label: `${d.name} ${s.mode} ${s.expect}` });
  let adminError;
  if (s.expect !== 'expire') {
    await sleep(s.delayMs ?? 0);
    await decide(op, bindingMessage, s.expect).catch((e) => { adminError = e.message; });
  }
  const r = await proc.done;
  let out;
  try { out = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { out = null; }
  const problems = [];
  if (adminError) problems.push(adminError);
  if (r.code !== 0) problems.push(`exit ${r.code}`);
  if (!out) problems.push('no JSON result line');
  if (out?.outcome === 'tokens' && out.claims?.sub !== 'alice') problems.push('sub != alice');
  if (out?.outcome === 'tokens' && out.claims?.email !== 'alice@example.com') problems.push('email claim missing');
  if (s.minPolls && !(out?.polls >= s.minPolls)) problems.push(`expected >= ${s.minPolls} polls`);
  if (s.mode === 'ping' && s.expect !== 'expire' && out?.notified !== true) problems.push('no ping received');
  const ok = problems.length === 0;
  if (!ok) console.error(`--- ${r.label} (${client.client_id}) stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`);
  return {
    driver: d.name, mode: s.mode, auth: AUTH[s.auth], expect: s.expect,
    outcome: out?.outcome ?? '-', polls: out?.polls ?? '-', secs: ((Date.now() - started) / 1000).toFixed(1),
    result: ok ? 'PASS' : `FAIL (${problems.join('; ')}${out?.error ? `; ${out.error}` : ''})`,
  };
}

// ---- run --------------------------------------------------------------------------
let rows = [];
let exitCode = 1;
try {
  const [main, short] = await Promise.all([
    startOp('main', clientsFile, 60),
    startOp('short', clientsFile, 4),
  ]);
  const ops = { main, short };
  const lanes = DRIVERS.map(async (d) => {
    const out = [];
    for (const [i, s] of SCENARIOS.entries()) out.push(await runScenario(ops, d, s, i));
    return out;
  });
  rows = (await Promise.all(lanes)).flat();

  const cols = ['driver', 'mode', 'auth', 'expect', 'outcome', 'polls', 'secs', 'result'];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...rows.map((r) => String(r[c]).length))]));
  const fmt = (r) => cols.map((c) => String(r[c]).padEnd(width[c])).join(' | ').trimEnd();
  console.log(fmt(Object.fromEntries(cols.map((c) => [c, c]))));
  console.log(cols.map((c) => '-'.repeat(width[c])).join('-|-'));
  for (const r of rows) console.log(fmt(r));
  const passed = rows.filter((r) => r.result === 'PASS').length;
  console.log(`${passed} passed, ${rows.length - passed} failed`);
  exitCode = passed === rows.length && rows.length === DRIVERS.length * SCENARIOS.length ? 0 : 1;
} catch (err) {
  console.error('selfcheck error:', err);
} finally {
  const procs = [...children];
  cleanup();
  await Promise.race([Promise.all(procs.map((p) => new Promise((r) => { if (p.exitCode !== null || p.signalCode) r(); else p.once('exit', r); }))), sleep(5000)]);
  clearTimeout(budget);
}
process.exit(exitCode);
