// Shared helpers for the SDK test files. Each test file calls useServer() once: it gets its
// own server (Gatehouse or PocketBase, see harness.mjs) for the file's lifetime.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, afterEach, before } from 'node:test';
import { ClientResponseError } from 'pocketbase';
import { startServer, targetKind } from '../harness.mjs';
import { smtpSettings, startSmtpSink } from '../smtp-sink.mjs';

export const KIND = targetKind();
export const SUPERUSERS_ID = 'pbc_3142635823';
export const USERS_ID = '_pb_users_auth_';
export const PASSWORD = 'correct-horse-1';

/** Test option that skips Gatehouse-only tests when the oracle (PocketBase) is the target. */
export const gatehouseOnly = {
  skip: KIND === 'pocketbase' ? 'Gatehouse-only (SDK_TARGET=pocketbase)' : false,
};

/**
 * Registers before/after hooks that start and stop a server for this test file.
 * Returns an object whose `server` property is set once `before` has run.
 * The server log is printed when any test of the file failed.
 */
export function useServer(options = {}) {
  const ctx = { server: null };
  let failed = false;
  before(async () => {
    ctx.server = await startServer(options);
  });
  afterEach((t) => {
    if (t.passed === false) failed = true;
  });
  after(async () => {
    if (!ctx.server) return;
    if (failed) console.error(`--- ${ctx.server.kind} server log (${ctx.server.logFile}) ---\n${ctx.server.log()}`);
    await ctx.server.stop();
  });
  return ctx;
}

/**
 * An SMTP sink (../smtp-sink.mjs) the file's server sends its mail to. `await mail.ready()` before
 * use: it starts the sink and points the server's settings at it on first call, because Node 20
 * runs root-level `before` hooks concurrently (the server may not be up yet). Then `mail.sink` and
 * `mail.su` (a superuser client) are set.
 */
export function useMailSink(ctx) {
  const mail = { sink: null, su: null };
  let setup;
  mail.ready = () =>
    (setup ??= (async () => {
      mail.sink = await startSmtpSink();
      mail.su = await superuserClient(ctx.server);
      await mail.su.settings.update(smtpSettings(mail.sink));
      return mail;
    })());
  after(async () => {
    await mail.sink?.close();
  });
  return mail;
}

/** A fresh SDK client. Auto-cancellation is off so that identical calls never cancel each other. */
export function client(server) {
  const pb = server.pb();
  pb.autoCancellation(false);
  return pb;
}

export async function superuserClient(server) {
  const pb = client(server);
  await pb.collection('_superusers').authWithPassword(server.suEmail, server.suPassword);
  return pb;
}

export function uniqueEmail(prefix = 'user') {
  return `${prefix}-${randomBytes(4).toString('hex')}@example.com`;
}

/** Signs up a user as a guest (like an app would), then logs in. Returns {record, email, password, pb}. */
export async function newUser(server, { name = 'Test User', password = PASSWORD } = {}) {
  const email = uniqueEmail();
  await client(server).collection('users').create({ email, password, passwordConfirm: password, name });
  const pb = client(server);
  const { record } = await pb.collection('users').authWithPassword(email, password);
  return { record, email, password, pb };
}

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

export function decodeJwt(token) {
  const [h, p, s] = token.split('.');
  return { header: b64json(h), payload: b64json(p), signature: s };
}

/** Builds an HS256 JWT with any payload and key (for forged/tampered tokens). */
export function signJwt(payload, key, header = { alg: 'HS256', typ: 'JWT' }) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc(header)}.${enc(payload)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Bounded poll: resolves once cond() is true, fails after timeoutMs. */
export async function waitUntil(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Raw HTTP call, for what the SDK would not send (bad bodies, odd headers).
 * `body` objects are JSON-encoded; strings/Buffers are sent as-is.
 */
export async function api(server, method, path, { body, token, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.Authorization = token;
  let payload = body;
  if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) {
    payload = JSON.stringify(body);
    h['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(server.url + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // left null: the caller asserts on json when it expects one
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Every error (except the MFA 401) is {status, message, data:{...}} with nothing else. */
export function assertErrorEnvelope(json, status, message) {
  assert.equal(typeof json, 'object');
  assert.deepEqual(Object.keys(json).sort(), ['data', 'message', 'status']);
  assert.equal(json.status, status);
  assert.equal(typeof json.data, 'object');
  assert.ok(json.data !== null && !Array.isArray(json.data), 'data must be an object');
  if (message !== undefined) assert.equal(json.message, message);
}

/**
 * Awaits an SDK call that must fail; checks status (and message) and the error envelope.
 * Returns the parsed error body for further assertions.
 */
export async function expectSdkError(promise, status, message) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected the call to fail with ${status}`);
  assert.ok(err instanceof ClientResponseError, `expected ClientResponseError, got ${err}`);
  assert.equal(err.status, status, `status; body: ${JSON.stringify(err.response)}`);
  assertErrorEnvelope(err.response, status, message);
  return err.response;
}

/** Awaits a password login that must answer the MFA 401 (no error envelope); returns its body. */
export async function expectChallenge(promise) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ClientResponseError, `expected the MFA 401, got ${err ?? 'a success'}`);
  assert.equal(err.status, 401, JSON.stringify(err.response));
  assert.match(err.response.mfaId, /^[a-z0-9]{15}$/);
  assert.ok(Array.isArray(err.response.methods), JSON.stringify(err.response));
  return err.response;
}

/** All object keys found anywhere in a JSON value (for "no secret anywhere" checks). */
export function allKeys(value, out = new Set()) {
  if (Array.isArray(value)) value.forEach((v) => allKeys(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      allKeys(v, out);
    }
  }
  return out;
}
