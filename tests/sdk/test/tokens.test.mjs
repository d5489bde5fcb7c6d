// Impersonation tokens and every way a token must be refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  api, client, decodeJwt, expectSdkError, gatehouseOnly, newUser, nowSeconds, signJwt, superuserClient,
  waitUntil, useServer,
} from './helpers.mjs';

const ctx = useServer();
const NEED_AUTH = 'The request requires valid record authorization token.';

/** A client whose store holds `token` as if the app had persisted it. */
function withToken(server, token, record = {}) {
  const pb = client(server);
  pb.authStore.save(token, record);
  return pb;
}

test('superuser impersonates a user: non-refreshable token, refresh returns the same token', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const su = await superuserClient(server);
  const imp = await su.collection('users').impersonate(u.record.id, 60);
  assert.notEqual(imp, su, 'impersonate returns a new client');
  assert.equal(imp.authStore.isValid, true);
  assert.equal(imp.authStore.isSuperuser, false);
  assert.equal(imp.authStore.record.id, u.record.id);
  assert.equal(imp.authStore.record.email, u.email);

  const { payload } = decodeJwt(imp.authStore.token);
  assert.equal(payload.type, 'auth');
  assert.equal(payload.id, u.record.id);
  assert.equal(payload.refreshable, false);
  assert.ok(Math.abs(payload.exp - (nowSeconds() + 60)) <= 5, `exp ~ now+60, got ${payload.exp}`);

  const token = imp.authStore.token;
  const refreshed = await imp.collection('users').authRefresh();
  assert.equal(refreshed.token, token, 'a non-refreshable token comes back unchanged');
  assert.equal(refreshed.record.id, u.record.id);
  // The superuser's own session is untouched.
  assert.equal(su.authStore.isSuperuser, true);
});

test('impersonate: non-superuser 403, guest 401, negative duration 400, unknown id 404', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const other = await newUser(server);
  await expectSdkError(
    other.pb.collection('users').impersonate(u.record.id, 60),
    403,
    'The authorized record is not allowed to perform this action.',
  );
  await expectSdkError(client(server).collection('users').impersonate(u.record.id, 60), 401, NEED_AUTH);

  const su = await superuserClient(server);
  const body = await expectSdkError(
    su.collection('users').impersonate(u.record.id, -1),
    400,
    'An error occurred while validating the submitted data.',
  );
  assert.equal(body.data.duration.code, 'validation_min_greater_equal_than_required');
  assert.deepEqual(body.data.duration.params, { threshold: 0 });
  await expectSdkError(su.collection('users').impersonate('nosuchid1234567', 60), 404, "The requested resource wasn't found.");
});

test('an expired token is refused', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const su = await superuserClient(server);
  const imp = await su.collection('users').impersonate(u.record.id, 1);
  const { exp } = decodeJwt(imp.authStore.token).payload;
  // Bounded wait until the token's exp second is over (at most ~2 s).
  await waitUntil(() => nowSeconds() > exp, 5000, 'the impersonation token to expire');
  assert.equal(imp.authStore.isValid, false, 'the SDK sees it as expired too');
  await expectSdkError(imp.collection('users').authRefresh(), 401, NEED_AUTH);
});

test('tampered and wrongly signed tokens are refused', async () => {
  const { server } = ctx;
  const alice = await newUser(server);
  const bob = await newUser(server);
  const [h, p, s] = alice.pb.authStore.token.split('.');
  const claims = decodeJwt(alice.pb.authStore.token).payload;

  // Bob's id with Alice's signature.
  const swapped = Buffer.from(JSON.stringify({ ...claims, id: bob.record.id })).toString('base64url');
  // One payload character changed.
  const flipped = p.slice(0, 10) + (p[10] === 'A' ? 'B' : 'A') + p.slice(11);
  const forged = signJwt(claims, 'not-the-real-key-not-the-real-key-1234567890');
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${p}.`;
  const extended = signJwt({ ...claims, exp: claims.exp + 1000 }, 'x'); // longer life, bad signature

  for (const token of [`${h}.${swapped}.${s}`, `${h}.${flipped}.${s}`, forged, unsigned, extended, `${h}.${p}.${s}x`]) {
    await expectSdkError(withToken(server, token).collection('users').authRefresh(), 401, NEED_AUTH);
  }
  // The genuine token still works.
  const ok = await withToken(server, alice.pb.authStore.token).collection('users').authRefresh();
  assert.equal(ok.record.id, alice.record.id);
});

test('a _superusers token on users/auth-refresh is 403', async () => {
  const { server } = ctx;
  const su = await superuserClient(server);
  await expectSdkError(su.collection('users').authRefresh(), 403, 'The request requires auth record from _superusers collection.');
});

test('a users token on _superusers/auth-refresh is 403 naming the users collection', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  await expectSdkError(u.pb.collection('_superusers').authRefresh(), 403, 'The request requires auth record from users collection.');
});

test('a garbage Authorization header is treated as a guest', async () => {
  const { server } = ctx;
  await newUser(server); // so that an authenticated list would not be empty
  const list = await api(server, 'GET', '/api/collections/users/records', { token: 'garbage' });
  assert.equal(list.status, 200, 'not 401: invalid tokens are ignored');
  assert.deepEqual(list.json.items, [], 'the guest sees no users (listRule id = @request.auth.id)');
  const refresh = await api(server, 'POST', '/api/collections/users/auth-refresh', { token: 'garbage' });
  assert.equal(refresh.status, 401);
  assert.equal(refresh.json.message, NEED_AUTH);
});

test('a "Bearer " prefix is accepted', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const res = await api(server, 'GET', `/api/collections/users/records/${u.record.id}`, { token: `Bearer ${u.pb.authStore.token}` });
  assert.equal(res.status, 200);
  assert.equal(res.json.id, u.record.id);
});

test('Gatehouse: an impersonation token carries amr (an array)', gatehouseOnly, async () => {
  const { server } = ctx;
  const u = await newUser(server);
  const su = await superuserClient(server);
  const imp = await su.collection('users').impersonate(u.record.id, 60);
  const { payload } = decodeJwt(imp.authStore.token);
  assert.ok(Array.isArray(payload.amr), `amr is an array, got ${JSON.stringify(payload.amr)}`);
});
