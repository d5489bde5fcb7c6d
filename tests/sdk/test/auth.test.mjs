// Password login, refresh, password change and auth-methods, through the SDK as an app uses it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KIND, PASSWORD, SUPERUSERS_ID, USERS_ID, api, client, decodeJwt, expectSdkError, gatehouseOnly,
  newUser, nowSeconds, uniqueEmail, waitUntil, useServer,
} from './helpers.mjs';

const ctx = useServer();
const BASE_CLAIMS = ['collectionId', 'exp', 'id', 'refreshable', 'type'];
// Gatehouse adds these (mfa-design.md §6); PocketBase must emit exactly BASE_CLAIMS.
const GATEHOUSE_CLAIMS = ['aal', 'amr', 'authTime'];

function assertAuthClaims(token, { collectionId, id, refreshable, lifetime }) {
  const { header, payload } = decodeJwt(token);
  assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
  assert.equal(payload.type, 'auth');
  assert.equal(payload.collectionId, collectionId);
  assert.equal(payload.id, id);
  assert.equal(payload.refreshable, refreshable);
  assert.ok(Number.isInteger(payload.exp), 'exp is integer seconds');
  // Default authToken.duration: 86400 for _superusers, 432000 for users (spec §2.2).
  assert.ok(Math.abs(payload.exp - (nowSeconds() + lifetime)) <= 60, `exp ~ now+${lifetime}, got ${payload.exp}`);
  for (const claim of ['iat', 'nbf', 'iss']) assert.equal(claim in payload, false, `no ${claim} claim`);
  const allowed = KIND === 'gatehouse' ? [...BASE_CLAIMS, ...GATEHOUSE_CLAIMS] : BASE_CLAIMS;
  for (const k of Object.keys(payload)) assert.ok(allowed.includes(k), `unexpected claim ${k}`);
  for (const k of BASE_CLAIMS) assert.ok(k in payload, `missing claim ${k}`);
  return payload;
}

test('superuser logs in with the SDK; token claims and authStore', async () => {
  const { server } = ctx;
  const pb = client(server);
  const res = await pb.collection('_superusers').authWithPassword(server.suEmail, server.suPassword);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.isSuperuser, true);
  assert.equal(pb.authStore.token, res.token);
  assert.equal(res.record.collectionId, SUPERUSERS_ID);
  assert.equal(res.record.collectionName, '_superusers');
  assert.equal(res.record.email, server.suEmail);
  assert.equal(res.record.verified, true);
  assert.equal('password' in res.record, false);
  assert.equal('tokenKey' in res.record, false);
  assertAuthClaims(res.token, { collectionId: SUPERUSERS_ID, id: res.record.id, refreshable: true, lifetime: 86400 });
});

test('user password login returns the record with email and a valid token', async () => {
  const { server } = ctx;
  const email = uniqueEmail();
  await client(server).collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD, name: 'Ann' });
  const pb = client(server);
  const res = await pb.collection('users').authWithPassword(email, PASSWORD);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.isSuperuser, false);
  assert.equal(res.record.email, email, 'auth responses always show email');
  assert.equal(res.record.emailVisibility, false);
  assert.equal(res.record.name, 'Ann');
  assert.equal(res.record.collectionName, 'users');
  assert.equal('password' in res.record, false);
  assert.equal('tokenKey' in res.record, false);
  assertAuthClaims(res.token, { collectionId: USERS_ID, id: res.record.id, refreshable: true, lifetime: 432000 });
  // The token works: the user can read their own record.
  const own = await pb.collection('users').getOne(res.record.id);
  assert.equal(own.id, res.record.id);
  assert.equal(own.email, email, 'a record sees its own email');
});

test('authRefresh returns a new valid token and the record', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const old = decodeJwt(u.pb.authStore.token).payload;
  // Tokens have no iat, so a refresh within the same second is byte-identical: wait for the next second.
  const issuedAt = old.exp - 432000;
  await waitUntil(() => nowSeconds() > issuedAt, 3000, 'the next second');
  const oldToken = u.pb.authStore.token;
  const res = await u.pb.collection('users').authRefresh();
  assert.notEqual(res.token, oldToken);
  assert.equal(u.pb.authStore.token, res.token);
  assert.equal(u.pb.authStore.isValid, true);
  assert.equal(res.record.id, u.record.id);
  assert.equal(res.record.email, u.email);
  const fresh = assertAuthClaims(res.token, { collectionId: USERS_ID, id: u.record.id, refreshable: true, lifetime: 432000 });
  assert.ok(fresh.exp > old.exp);
});

test('password change needs the old password and kills the old token', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const users = u.pb.collection('users');
  const oldToken = u.pb.authStore.token;
  const next = 'brand-new-pass-2';

  let body = await expectSdkError(users.update(u.record.id, { password: next, passwordConfirm: next }), 400, 'Failed to update record.');
  assert.equal(body.data.oldPassword.code, 'validation_required');
  body = await expectSdkError(
    users.update(u.record.id, { oldPassword: 'not-the-password', password: next, passwordConfirm: next }),
    400,
    'Failed to update record.',
  );
  assert.equal(body.data.oldPassword.code, 'validation_invalid_old_password');

  const updated = await users.update(u.record.id, { oldPassword: u.password, password: next, passwordConfirm: next });
  assert.equal(updated.id, u.record.id);
  assert.equal('password' in updated, false);

  // tokenKey rotated: the token issued before the change is now refused.
  const stale = client(server);
  stale.authStore.save(oldToken, u.record);
  await expectSdkError(stale.collection('users').authRefresh(), 401, 'The request requires valid record authorization token.');

  await expectSdkError(client(server).collection('users').authWithPassword(u.email, u.password), 400, 'Failed to authenticate.');
  const res = await client(server).collection('users').authWithPassword(u.email, next);
  assert.equal(res.record.id, u.record.id);
});

test('wrong password and unknown email give byte-identical 400 bodies', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const path = '/api/collections/users/auth-with-password';
  const wrong = await api(server, 'POST', path, { body: { identity: u.email, password: 'wrong-password' } });
  const unknown = await api(server, 'POST', path, { body: { identity: uniqueEmail('ghost'), password: 'wrong-password' } });
  assert.equal(wrong.status, 400);
  assert.equal(unknown.status, 400);
  assert.deepEqual(wrong.json, { data: {}, message: 'Failed to authenticate.', status: 400 });
  assert.equal(wrong.text, unknown.text, 'no user enumeration through the body');
  // The SDK surfaces it as a ClientResponseError with the server's message.
  await expectSdkError(client(server).collection('users').authWithPassword(u.email, 'wrong-password'), 400, 'Failed to authenticate.');
});

test('listAuthMethods() shape for the default users collection', async () => {
  const { server } = ctx;
  const methods = await client(server).collection('users').listAuthMethods();
  assert.deepEqual(methods, {
    password: { enabled: true, identityFields: ['email'] },
    oauth2: { enabled: false, providers: [] },
    mfa: { enabled: false, duration: 0 },
    otp: { enabled: false, duration: 0 },
  });
});

test('raw auth-methods keeps the legacy keys; ?fields picks', async () => {
  const { server } = ctx;
  const full = await api(server, 'GET', '/api/collections/users/auth-methods');
  assert.equal(full.status, 200);
  assert.deepEqual(full.json, {
    password: { enabled: true, identityFields: ['email'] },
    oauth2: { enabled: false, providers: [] },
    mfa: { enabled: false, duration: 0 },
    otp: { enabled: false, duration: 0 },
    // Gatehouse's second factors (mfa-design.md §4); the SDK's listAuthMethods() asks for PocketBase's keys only.
    ...(KIND === 'gatehouse' ? {
      totp: { enabled: true, digits: 6, period: 30, algorithm: 'SHA1' },
      backupCodes: { enabled: true },
      sms: { enabled: false, duration: 0 },
    } : {}),
    authProviders: [],
    usernamePassword: false,
    emailPassword: true,
  });
  const picked = await api(server, 'GET', '/api/collections/users/auth-methods?fields=password');
  assert.equal(picked.status, 200);
  assert.deepEqual(picked.json, { password: { enabled: true, identityFields: ['email'] } });
});

test('auth-methods of an unknown collection is 404', async () => {
  const { server } = ctx;
  await expectSdkError(client(server).collection('no_such_collection').listAuthMethods(), 404, 'Missing or invalid collection context.');
});

test('Gatehouse claims after a password login: authTime, amr, aal', gatehouseOnly, async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const { payload } = decodeJwt(u.pb.authStore.token);
  assert.equal(typeof payload.authTime, 'number');
  assert.ok(Math.abs(payload.authTime - nowSeconds()) <= 60, 'authTime is the login time');
  assert.deepEqual(payload.amr, ['password']);
  assert.equal(payload.aal, 1);
});

test('Gatehouse: refresh keeps authTime, amr and aal (a refresh is not a new login)', gatehouseOnly, async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const first = decodeJwt(u.pb.authStore.token).payload;
  await waitUntil(() => nowSeconds() > first.authTime, 3000, 'the next second');
  const { token } = await u.pb.collection('users').authRefresh();
  const second = decodeJwt(token).payload;
  assert.equal(second.authTime, first.authTime);
  assert.deepEqual(second.amr, first.amr);
  assert.equal(second.aal, first.aal);
});
