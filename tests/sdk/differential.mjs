#!/usr/bin/env node
// Differential check: runs one scripted scenario against the real PocketBase and against
// Gatehouse, then compares per request the status code, the set of JSON key paths
// (recursively; array items merged under "[]"; JWT payloads under "token{jwt}") and, for
// errors, the message and validation codes. Known differences are listed in KNOWN_DIFFERENCES
// with a reason: Gatehouse's own additions, or *gaps* (PocketBase features Gatehouse lacks), which
// are reported as gaps, never as "same". Exits 1 on any unexplained difference.
//
//   node differential.mjs          (GATEHOUSE_BIN / POCKETBASE_BIN / GATEHOUSE_TEST_PG_URL as in harness.mjs)
import { existsSync } from 'node:fs';
import { gatehouseBin, pocketbaseBin, startServer } from './harness.mjs';

// A key path present on only one side is explained when it matches one of these. `gap: true`
// marks a PocketBase feature that Gatehouse does not have.
const KNOWN_DIFFERENCES = [
  { side: 'pocketbase', gap: true, pattern: /(^|\.)avatar$/, reason: 'users.avatar is a file field; file fields are out of scope for Gatehouse' },
  { side: 'gatehouse', pattern: /^token\{jwt\}\.(authTime|amr|aal)$/, reason: 'Gatehouse token claims (mfa-design.md §6)' },
  { side: 'gatehouse', pattern: /^mfa\.(userOptIn|reauthWindow|trustedDeviceDuration)$/, reason: 'Gatehouse MFA collection options (mfa-design.md §4)' },
  { side: 'gatehouse', pattern: /^trustedProxy\.proxyIPs(\[|$)/, reason: 'Gatehouse: proxy headers are believed only from these peers (README: Security notes)' },
  { side: 'gatehouse', pattern: /^rateLimits\.ipv6Prefix$/, reason: 'Gatehouse: an IPv6 client counts as its /64 for limits and lockout (README: Security notes)' },
  { side: 'gatehouse', pattern: /^lockout(\.|$)/, reason: 'Gatehouse failed-password lockout settings (README: Security notes)' },
  { side: 'gatehouse', pattern: /^retention(\.|$)/, reason: 'Gatehouse retention of audit rows and mail-folder files (README: Security notes)' },
  { side: 'gatehouse', pattern: /^smtp\.(tlsMode|allowInsecureAuth)$/, reason: 'Gatehouse SMTP TLS mode and clear-text AUTH opt-out (README: Mail)' },
  { side: 'pocketbase', gap: true, pattern: /^(backups|s3|batch|logs)(\.|\[|$)/, reason: 'PocketBase features Gatehouse does not have (file backups, S3 storage, batch API, request logs)' },
  { side: 'gatehouse', pattern: /^(totp|sms|backupCodes)(\.|$)/, reason: 'Gatehouse second-factor collection options / SMS settings (mfa-design.md §4, §9)' },
  { side: 'gatehouse', pattern: /^securityAlertTemplate(\.|$)/, reason: 'Gatehouse mail to the owner when second factors change (README: Two-factor authentication)' },
  { side: 'gatehouse', pattern: /^pages(\.|$)/, reason: 'Gatehouse hosted sign-in page: origins it may hand back to (README: Hosted sign-in page)' },
];

const USER = { email: 'alice@example.com', password: 'alice-password-1' };
const json = (body) => ({ body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
const auth = (token) => ({ Authorization: token });

// Each step builds its request from the variables saved by earlier steps (per server).
const SCENARIO = [
  { name: 'health', req: () => ['GET', '/api/health'] },
  {
    name: 'superuser login',
    req: (v) => ['POST', '/api/collections/_superusers/auth-with-password', json({ identity: v.suEmail, password: v.suPassword })],
    save: (r, v) => { v.suToken = r.json?.token; },
  },
  { name: 'auth-methods (raw, legacy keys)', req: () => ['GET', '/api/collections/users/auth-methods'] },
  {
    name: 'guest sign-up',
    req: () => ['POST', '/api/collections/users/records', json({ ...USER, passwordConfirm: USER.password, name: 'Alice' })],
  },
  {
    name: 'sign-up passwordConfirm mismatch',
    req: () => ['POST', '/api/collections/users/records', json({ email: 'bob@example.com', password: 'bob-password-1', passwordConfirm: 'nope-nope-1' })],
  },
  {
    name: 'sign-up duplicate email',
    req: () => ['POST', '/api/collections/users/records', json({ ...USER, passwordConfirm: USER.password })],
  },
  {
    name: 'user login',
    req: () => ['POST', '/api/collections/users/auth-with-password', json({ identity: USER.email, password: USER.password })],
    save: (r, v) => { v.userToken = r.json?.token; v.userId = r.json?.record?.id; },
  },
  { name: 'login wrong password', req: () => ['POST', '/api/collections/users/auth-with-password', json({ identity: USER.email, password: 'wrong-password' })] },
  { name: 'login missing fields', req: () => ['POST', '/api/collections/users/auth-with-password', json({})] },
  { name: 'auth-refresh (user)', req: (v) => ['POST', '/api/collections/users/auth-refresh', { headers: auth(v.userToken) }] },
  { name: 'auth-refresh garbage token', req: () => ['POST', '/api/collections/users/auth-refresh', { headers: auth('garbage') }] },
  { name: 'auth-refresh superuser on users', req: (v) => ['POST', '/api/collections/users/auth-refresh', { headers: auth(v.suToken) }] },
  { name: 'view own record', req: (v) => ['GET', `/api/collections/users/records/${v.userId}`, { headers: auth(v.userToken) }] },
  {
    name: 'password change without oldPassword',
    req: (v) => ['PATCH', `/api/collections/users/records/${v.userId}`, { ...json({ password: 'new-password-1', passwordConfirm: 'new-password-1' }), headers: { 'Content-Type': 'application/json', ...auth(v.userToken) } }],
  },
  {
    name: 'impersonate (superuser)',
    req: (v) => ['POST', `/api/collections/users/impersonate/${v.userId}`, { ...json({ duration: 60 }), headers: { 'Content-Type': 'application/json', ...auth(v.suToken) } }],
  },
  {
    name: 'impersonate (non-superuser)',
    req: (v) => ['POST', `/api/collections/users/impersonate/${v.userId}`, { ...json({ duration: 60 }), headers: { 'Content-Type': 'application/json', ...auth(v.userToken) } }],
  },
  { name: 'list users (superuser)', req: (v) => ['GET', '/api/collections/users/records?page=1&perPage=2&sort=-created', { headers: auth(v.suToken) }] },
  {
    name: 'create auth collection',
    req: (v) => ['POST', '/api/collections', { ...json({ name: 'service_accounts', type: 'auth', fields: [{ name: 'label', type: 'text' }] }), headers: { 'Content-Type': 'application/json', ...auth(v.suToken) } }],
  },
  {
    name: 'patch collection otp',
    req: (v) => ['PATCH', '/api/collections/service_accounts', { ...json({ otp: { enabled: true } }), headers: { 'Content-Type': 'application/json', ...auth(v.suToken) } }],
  },
  { name: 'settings (superuser)', req: (v) => ['GET', '/api/settings', { headers: auth(v.suToken) }] },
  // The realtime connection and the OAuth2 popup's redirect (the stream stays open meanwhile).
  { name: 'realtime connect (PB_CONNECT)', stream: '/api/realtime', save: (r, v) => { v.clientId = r.json?.clientId; } },
  { name: 'realtime subscribe unknown client', req: () => ['POST', '/api/realtime', json({ clientId: 'nope', subscriptions: ['@oauth2'] })] },
  { name: 'realtime subscribe empty body', req: () => ['POST', '/api/realtime', json({})] },
  { name: 'realtime subscribe malformed', req: (v) => ['POST', '/api/realtime', json({ clientId: v.clientId, subscriptions: [1] })] },
  { name: 'realtime subscribe too many', req: (v) => ['POST', '/api/realtime', json({ clientId: v.clientId, subscriptions: Array(1001).fill('users/*') })] },
  { name: 'realtime subscribe @oauth2 (guest)', req: (v) => ['POST', '/api/realtime', json({ clientId: v.clientId, subscriptions: ['@oauth2'] })] },
  {
    name: 'realtime subscribe as the user (guest → auth)',
    req: (v) => ['POST', '/api/realtime', { ...json({ clientId: v.clientId, subscriptions: ['@oauth2'] }), headers: { 'Content-Type': 'application/json', ...auth(v.userToken) } }],
  },
  {
    name: 'realtime subscribe as another record',
    req: (v) => ['POST', '/api/realtime', { ...json({ clientId: v.clientId, subscriptions: ['@oauth2'] }), headers: { 'Content-Type': 'application/json', ...auth(v.suToken) } }],
  },
  { name: 'oauth2-redirect without state', req: () => ['GET', '/api/oauth2-redirect', { redirect: 'manual' }] },
  { name: 'oauth2-redirect unknown state', req: () => ['GET', '/api/oauth2-redirect?state=nobody&code=x', { redirect: 'manual' }] },
  { name: 'oauth2-redirect to the client', req: (v) => ['GET', `/api/oauth2-redirect?state=${v.clientId}&code=abc`, { redirect: 'manual' }] },
  { name: 'oauth2-redirect again (spent)', req: (v) => ['GET', `/api/oauth2-redirect?state=${v.clientId}&code=abc`, { redirect: 'manual' }] },
];

const looksLikeJwt = (s) => typeof s === 'string' && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(s);

function jwtPayload(token) {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

/** Key paths of a JSON value: "record.email", "items[].id", "token{jwt}.exp". */
function keyPaths(value, prefix = '', out = new Set()) {
  if (Array.isArray(value)) {
    for (const item of value) keyPaths(item, `${prefix}[]`, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${k}` : k;
      out.add(path);
      if (k === 'token' && looksLikeJwt(v)) keyPaths(jwtPayload(v), `${path}{jwt}`, out);
      else keyPaths(v, path, out);
    }
  }
  return out;
}

/** For errors: message and every validation code, which are part of the contract too. */
function errorFacts(res) {
  if (res.status < 400 || !res.json) return [];
  const facts = [`message=${res.json.message}`];
  for (const [field, err] of Object.entries(res.json.data ?? {})) facts.push(`data.${field}.code=${err?.code}`);
  return facts;
}

/** Opens a server-sent event stream and reads its first event: `{status, json: <its data>}`. */
async function openStream(url, streams) {
  const res = await fetch(url);
  const reader = res.body.getReader();
  streams.push(reader);
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  const data = /^data:(.*)$/m.exec(text)?.[1];
  return { status: res.status, json: data ? JSON.parse(data) : null };
}

async function runScenario(kind) {
  const server = await startServer({ kind });
  const vars = { suEmail: server.suEmail, suPassword: server.suPassword };
  const results = [];
  const streams = [];
  try {
    for (const step of SCENARIO) {
      if (step.stream) {
        const r = await openStream(server.url + step.stream, streams);
        step.save?.(r, vars);
        results.push(r);
        continue;
      }
      const [method, path, init = {}] = step.req(vars);
      const res = await fetch(server.url + path, { method, ...init });
      const text = await res.text();
      let body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // non-JSON body: compared as having no keys
      }
      const r = { status: res.status, json: body };
      step.save?.(r, vars);
      results.push(r);
    }
  } catch (err) {
    console.error(`${kind} scenario failed: ${err.message}\n--- ${kind} log ---\n${server.log()}`);
    throw err;
  } finally {
    for (const reader of streams) await reader.cancel().catch(() => {});
    await server.stop();
  }
  return results;
}

function explain(path, side) {
  return KNOWN_DIFFERENCES.find((d) => d.side === side && d.pattern.test(path));
}

function compare(pb, gh) {
  const problems = [];
  const explained = [];
  const gaps = [];
  if (pb.status !== gh.status) problems.push(`status ${pb.status} vs ${gh.status}`);
  const pk = keyPaths(pb.json);
  const gk = keyPaths(gh.json);
  for (const [side, mine, theirs] of [['pocketbase', pk, gk], ['gatehouse', gk, pk]]) {
    for (const path of mine) {
      if (theirs.has(path)) continue;
      const known = explain(path, side);
      if (known?.gap) gaps.push({ path, reason: `PocketBase only: ${known.reason}` });
      else if (known) explained.push({ path, reason: `${side} only: ${known.reason}` });
      else problems.push(`key ${path} only in ${side}`);
    }
  }
  const pf = errorFacts(pb);
  const gf = errorFacts(gh);
  for (const f of pf) if (!gf.includes(f)) problems.push(`pocketbase ${f} / gatehouse ${gf.join(', ') || 'none'}`);
  for (const f of gf) if (!pf.includes(f)) problems.push(`gatehouse has ${f}`);
  return { problems: [...new Set(problems)], explained, gaps };
}

/** One line per reason, naming the top-level keys it covers. */
function summarize(items) {
  const byReason = new Map();
  for (const { path, reason } of items) {
    const top = path.split(/[.[]/)[0];
    if (!byReason.has(reason)) byReason.set(reason, new Set());
    byReason.get(reason).add(top);
  }
  return [...byReason].map(([reason, tops]) => `${[...tops].join(', ')}: ${reason}`);
}

async function main() {
  const gh = gatehouseBin();
  if (!existsSync(gh)) {
    console.error(`Gatehouse binary not found at ${gh}: build it (cargo build --release) or set GATEHOUSE_BIN.`);
    process.exit(1);
  }
  pocketbaseBin(); // fails early with an install hint

  const pbResults = await runScenario('pocketbase');
  const ghResults = await runScenario('gatehouse');

  let failures = 0;
  let gapSteps = 0;
  const rows = SCENARIO.map((step, i) => {
    const { problems, explained, gaps } = compare(pbResults[i], ghResults[i]);
    failures += problems.length ? 1 : 0;
    gapSteps += !problems.length && gaps.length ? 1 : 0;
    return { step, pb: pbResults[i].status, gh: ghResults[i].status, problems, explained, gaps };
  });

  const w = Math.max(...SCENARIO.map((s) => s.name.length));
  console.log(`${'#'.padStart(2)}  ${'step'.padEnd(w)}  PB   GH   result`);
  rows.forEach((r, i) => {
    const result = r.problems.length ? 'DIFF'
      : r.gaps.length ? 'GAP (PocketBase has more)'
      : r.explained.length ? 'same (Gatehouse adds)' : 'same';
    console.log(`${String(i + 1).padStart(2)}  ${r.step.name.padEnd(w)}  ${r.pb}  ${r.gh}  ${result}`);
    for (const p of r.problems) console.log(`${' '.repeat(w + 6)}! ${p}`);
    for (const line of summarize(r.gaps)) console.log(`${' '.repeat(w + 6)}- ${line}`);
    for (const line of summarize(r.explained)) console.log(`${' '.repeat(w + 6)}~ ${line}`);
  });
  const same = rows.length - failures - gapSteps;
  console.log(`\n${same} same, ${gapSteps} with known gaps, ${failures} different`);
  process.exit(failures ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
