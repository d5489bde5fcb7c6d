// A superuser creates and configures a second auth collection through the SDK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, allKeys, client, expectSdkError, newUser, superuserClient, uniqueEmail, useServer } from './helpers.mjs';

const ctx = useServer();

test('superuser creates an auth collection, patches it, and its records can log in', async () => {
  const { server } = ctx;
  const su = await superuserClient(server);
  const created = await su.collections.create({ name: 'service_accounts', type: 'auth', fields: [{ name: 'label', type: 'text' }] });
  assert.equal(created.name, 'service_accounts');
  assert.equal(created.type, 'auth');
  assert.match(created.id, /^pbc_\d+$/);
  const names = created.fields.map((f) => f.name);
  for (const f of ['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified', 'label']) {
    assert.ok(names.includes(f), `field ${f} present`);
  }
  // Auth scaffold defaults (spec §2.2).
  assert.deepEqual(created.passwordAuth, { enabled: true, identityFields: ['email'] });
  assert.equal(created.otp.enabled, false);
  assert.equal(created.otp.duration, 180);
  assert.equal(created.otp.length, 8);
  assert.equal(created.authToken.duration, 432000);

  const read = await su.collections.getOne('service_accounts');
  assert.equal(read.id, created.id);
  // Token secrets are write-only: never serialized, at any depth.
  assert.equal(allKeys(read).has('secret'), false);
  assert.equal(allKeys(created).has('secret'), false);
  assert.equal(allKeys(read).has('clientSecret'), false);

  const patched = await su.collections.update('service_accounts', {
    otp: { enabled: true },
    passwordAuth: { identityFields: ['email'] },
  });
  assert.equal(patched.otp.enabled, true);
  // PATCH merges nested objects: untouched keys keep their values.
  assert.equal(patched.otp.duration, read.otp.duration);
  assert.equal(patched.otp.length, read.otp.length);
  assert.deepEqual(patched.otp.emailTemplate, read.otp.emailTemplate);
  assert.deepEqual(patched.passwordAuth, { enabled: true, identityFields: ['email'] });
  assert.equal(allKeys(patched).has('secret'), false);

  const methods = await client(server).collection('service_accounts').listAuthMethods();
  assert.deepEqual(methods.otp, { enabled: true, duration: read.otp.duration });
  assert.deepEqual(methods.password, { enabled: true, identityFields: ['email'] });

  // The new collection's rules are null (superuser only); the superuser creates an account.
  const email = uniqueEmail('svc');
  const rec = await su.collection('service_accounts').create({ email, password: PASSWORD, passwordConfirm: PASSWORD, label: 'ci-bot' });
  assert.equal(rec.label, 'ci-bot');
  assert.equal(rec.collectionName, 'service_accounts');

  const bot = client(server);
  const auth = await bot.collection('service_accounts').authWithPassword(email, PASSWORD);
  assert.equal(auth.record.id, rec.id);
  assert.equal(auth.record.email, email);
  assert.equal(bot.authStore.isValid, true);
  assert.equal(bot.authStore.isSuperuser, false);
});

test('collections API: guest 401, non-superuser 403, unknown 404', async () => {
  const { server } = ctx;
  await expectSdkError(client(server).collections.getList(1, 10), 401, 'The request requires valid record authorization token.');
  const u = await newUser(server);
  await expectSdkError(u.pb.collections.getList(1, 10), 403, 'The authorized record is not allowed to perform this action.');
  const su = await superuserClient(server);
  await expectSdkError(su.collections.getOne('no_such_collection'), 404, "The requested resource wasn't found.");
  // The default users collection is there, with its fixed id, and also exposes no secret.
  const users = await su.collections.getOne('users');
  assert.equal(users.id, '_pb_users_auth_');
  assert.equal(allKeys(users).has('secret'), false);
});
