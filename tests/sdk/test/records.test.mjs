// Sign-up validation and the default `users` rules (id = @request.auth.id), plus list paging.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PASSWORD, USERS_ID, client, expectSdkError, newUser, superuserClient, uniqueEmail, useServer } from './helpers.mjs';

const ctx = useServer();
const signup = (server, data) => client(server).collection('users').create(data);

test('guest sign-up: no email (emailVisibility false), no password or tokenKey', async () => {
  const { server } = ctx;
  const email = uniqueEmail();
  const rec = await signup(server, { email, password: PASSWORD, passwordConfirm: PASSWORD, name: 'Guest Made' });
  assert.match(rec.id, /^[a-z0-9]{15}$/);
  assert.equal(rec.collectionId, USERS_ID);
  assert.equal(rec.collectionName, 'users');
  assert.equal(rec.name, 'Guest Made');
  assert.equal(rec.emailVisibility, false);
  assert.equal(rec.verified, false);
  for (const hidden of ['email', 'password', 'passwordConfirm', 'tokenKey']) {
    assert.equal(hidden in rec, false, `${hidden} must not be returned to a guest`);
  }
  assert.match(rec.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('sign-up validation errors', async () => {
  const { server } = ctx;
  const cases = [
    ['passwordConfirm', 'validation_values_mismatch', { password: PASSWORD, passwordConfirm: 'something-else' }],
    ['password', 'validation_min_text_constraint', { password: 'short', passwordConfirm: 'short' }],
    ['email', 'validation_is_email', { email: 'not-an-email' }],
  ];
  for (const [field, code, data] of cases) {
    const body = await expectSdkError(
      signup(server, { email: uniqueEmail(), password: PASSWORD, passwordConfirm: PASSWORD, ...data }),
      400,
      'Failed to create record.',
    );
    assert.equal(body.data[field]?.code, code, `${field}: ${JSON.stringify(body.data)}`);
  }
});

test('sign-up with an email already taken: validation_not_unique', async () => {
  const { server } = ctx;
  const email = uniqueEmail();
  await signup(server, { email, password: PASSWORD, passwordConfirm: PASSWORD });
  const body = await expectSdkError(signup(server, { email, password: PASSWORD, passwordConfirm: PASSWORD }), 400, 'Failed to create record.');
  assert.equal(body.data.email.code, 'validation_not_unique');
});

test('another user cannot view, update or delete a record (404); list shows only your own', async () => {
  const { server } = ctx;
  const alice = await newUser(server, { name: 'Alice' });
  const bob = await newUser(server, { name: 'Bob' });
  const bobUsers = bob.pb.collection('users');
  const notFound = "The requested resource wasn't found.";
  await expectSdkError(bobUsers.getOne(alice.record.id), 404, notFound);
  await expectSdkError(bobUsers.update(alice.record.id, { name: 'hacked' }), 404, notFound);
  await expectSdkError(bobUsers.delete(alice.record.id), 404, notFound);

  const list = await bobUsers.getList(1, 30);
  assert.deepEqual(list.items.map((r) => r.id), [bob.record.id]);
  assert.equal(list.totalItems, 1);

  // Alice is untouched and can still update herself.
  const mine = await alice.pb.collection('users').update(alice.record.id, { name: 'Alice 2' });
  assert.equal(mine.name, 'Alice 2');
});

test('a user deletes their own record; the SDK clears its store', async () => {
  const { server } = ctx;
  const u = await newUser(server);
  await u.pb.collection('users').delete(u.record.id);
  assert.equal(u.pb.authStore.isValid, false);
  await expectSdkError(client(server).collection('users').authWithPassword(u.email, u.password), 400, 'Failed to authenticate.');
});

test('superuser list: paging, sort and skipTotal', async () => {
  const { server } = ctx;
  const su = await superuserClient(server);
  // Superusers may create records directly (and see every email).
  const emails = [];
  for (let i = 0; i < 3; i++) {
    const email = uniqueEmail(`page${i}`);
    emails.push(email);
    await su.collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD, name: `P${i}` });
  }
  const total = (await su.collection('users').getList(1, 1)).totalItems;
  assert.ok(total >= 3);

  const page = await su.collection('users').getList(1, 2, { sort: '-created' });
  assert.deepEqual(Object.keys(page).sort(), ['items', 'page', 'perPage', 'totalItems', 'totalPages']);
  assert.equal(page.page, 1);
  assert.equal(page.perPage, 2);
  assert.equal(page.totalItems, total);
  assert.equal(page.totalPages, Math.ceil(total / 2));
  assert.equal(page.items.length, 2);
  assert.ok(page.items[0].created >= page.items[1].created, 'sorted by -created');
  assert.equal(page.items[0].email, emails[2], 'the newest record comes first, email visible to a superuser');

  const skipped = await su.collection('users').getList(1, 2, { sort: '-created', skipTotal: true });
  assert.equal(skipped.totalItems, -1);
  assert.equal(skipped.totalPages, -1);
  assert.deepEqual(skipped.items.map((r) => r.id), page.items.map((r) => r.id));

  const last = await su.collection('users').getList(page.totalPages, 2, { sort: '-created' });
  assert.equal(last.page, page.totalPages);
  assert.equal(last.items.length, total % 2 || 2);
});
