// Malformed requests the SDK would never send, checked with raw fetch: status, message, envelope.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, assertErrorEnvelope, useServer } from './helpers.mjs';

const ctx = useServer();
const LOGIN = '/api/collections/users/auth-with-password';
const LOADING = 'An error occurred while loading the submitted data.';
const VALIDATING = 'An error occurred while validating the submitted data.';

async function expectError(res, status, message) {
  assert.equal(res.status, status, `body: ${res.text.slice(0, 300)}`);
  assert.ok(res.json, `a JSON body, got ${JSON.stringify(res.text.slice(0, 100))}`);
  assertErrorEnvelope(res.json, status, message);
  return res.json;
}

test('invalid JSON is a loading error', async () => {
  const res = await api(ctx.server, 'POST', LOGIN, { body: '{"identity": ', headers: { 'Content-Type': 'application/json' } });
  const body = await expectError(res, 400, LOADING);
  assert.deepEqual(body.data, {});
});

test('missing fields are validation errors per field', async () => {
  const body = await expectError(await api(ctx.server, 'POST', LOGIN, { body: {} }), 400, VALIDATING);
  assert.equal(body.data.identity.code, 'validation_required');
  assert.equal(body.data.identity.message, 'Cannot be blank.');
  assert.equal(body.data.password.code, 'validation_required');

  const onlyIdentity = await expectError(await api(ctx.server, 'POST', LOGIN, { body: { identity: 'a@example.com' } }), 400, VALIDATING);
  assert.deepEqual(Object.keys(onlyIdentity.data), ['password']);
});

test('an empty body binds as all-zero fields (validation, not loading, error)', async () => {
  const res = await api(ctx.server, 'POST', LOGIN, { body: '', headers: { 'Content-Type': 'application/json' } });
  const body = await expectError(res, 400, VALIDATING);
  assert.deepEqual(Object.keys(body.data).sort(), ['identity', 'password']);
});

test('an identityField that is not configured is validation_in_invalid', async () => {
  const res = await api(ctx.server, 'POST', LOGIN, { body: { identity: 'a@example.com', password: 'x', identityField: 'name' } });
  const body = await expectError(res, 400, VALIDATING);
  assert.equal(body.data.identityField.code, 'validation_in_invalid');
});

test('a wrongly typed field is a loading error', async () => {
  const body = await expectError(await api(ctx.server, 'POST', LOGIN, { body: { identity: 123, password: 'x' } }), 400, LOADING);
  assert.deepEqual(body.data, {});
});

test('an unsupported Content-Type with a body is refused', async () => {
  const res = await api(ctx.server, 'POST', LOGIN, { body: 'identity=a', headers: { 'Content-Type': 'text/plain' } });
  await expectError(res, 400, 'Unsupported Content-Type.');
});

test('a body over 33 MiB is 413', async () => {
  // Over PocketBase's 32 MiB limit and over Gatehouse's smaller one.
  const big = Buffer.concat([
    Buffer.from('{"identity":"'),
    Buffer.alloc(33 * 1024 * 1024 + 1, 'a'),
    Buffer.from('","password":"x"}'),
  ]);
  const res = await api(ctx.server, 'POST', LOGIN, { body: big, headers: { 'Content-Type': 'application/json' } });
  await expectError(res, 413);
});

test('unknown collection on a login is 404', async () => {
  const res = await api(ctx.server, 'POST', '/api/collections/nope/auth-with-password', { body: { identity: 'a@example.com', password: 'x' } });
  await expectError(res, 404, 'Missing or invalid collection context.');
});

test('records of an unknown collection is 404', async () => {
  await expectError(await api(ctx.server, 'GET', '/api/collections/nope/records'), 404, 'Missing collection context.');
});

test('security headers on success and error responses', async () => {
  const responses = [
    await api(ctx.server, 'GET', '/api/health'),
    await api(ctx.server, 'GET', '/api/collections/users/auth-methods'),
    await api(ctx.server, 'POST', LOGIN, { body: { identity: 'a@example.com', password: 'wrong-password' } }),
    await api(ctx.server, 'GET', '/api/collections/nope/auth-methods'),
  ];
  for (const res of responses) {
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `status ${res.status}`);
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN', `status ${res.status}`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  }
});
