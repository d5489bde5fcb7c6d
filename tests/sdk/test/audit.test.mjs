// Gatehouse's audit log through the SDK (Gatehouse-only: PocketBase has no such endpoints), with
// pb.send() for `GET /api/audit` (superusers) and `GET /api/collections/{c}/records/{id}/security-events`
// (the record itself or a superuser). Events: login.success / login.failure (password logins),
// impersonation, password.changed and settings.changed (settings and collection PATCHes). Each test
// looks only at the events written after a `mark()` taken when it starts (or at a fresh record's
// events), so the tests do not depend on each other; the first one checks the server's start state.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  PASSWORD,
  SUPERUSERS_ID,
  USERS_ID,
  client,
  expectSdkError,
  gatehouseOnly,
  newUser,
  superuserClient,
  uniqueEmail,
  useServer,
} from './helpers.mjs';

// Limits off (the default): this file logs in and fails logins on purpose.
const ctx = useServer();

const ITEM_KEYS = ['collectionId', 'created', 'data', 'id', 'ip', 'method', 'recordId', 'type', 'userAgent'];
const LIST_KEYS = ['items', 'page', 'perPage', 'totalItems', 'totalPages'];
const PB_DATETIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/;
// Node's fetch (undici), which the SDK uses, sends `User-Agent: node`.
const NODE_UA = 'node';
const IP = '127.0.0.1';
const NO_TOKEN = 'The request requires valid record authorization token.';
const FORBIDDEN = 'The authorized record is not allowed to perform this action.';
const AUTH_RULE_REFUSED = "The request doesn't satisfy the collection requirements to authenticate.";

/** PocketBase datetime text (`2026-11-23 13:00:00.000Z`), the form `since`/`until` take. */
const pbDate = (ms) => new Date(ms).toISOString().replace('T', ' ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A point in time between everything already logged and everything logged next (the server
 * stamps events with the same clock, to the millisecond).
 */
async function mark() {
  await sleep(3);
  const at = pbDate(Date.now());
  await sleep(3);
  return at;
}

const auditList = (pb, query = {}) => pb.send('/api/audit', { method: 'GET', query });
const securityEvents = (pb, collection, id, query = {}) =>
  pb.send(`/api/collections/${collection}/records/${id}/security-events`, { method: 'GET', query });
/** Every event logged since `since` (and matching `query`), newest first. */
const eventsSince = async (su, since, query = {}) => (await auditList(su, { perPage: 500, since, ...query })).items;
const loginFailsWith = (pb, collection, identity, password, status = 400) =>
  expectSdkError(pb.collection(collection).authWithPassword(identity, password), status);

function assertItem(item, expected) {
  assert.deepEqual(Object.keys(item).sort(), ITEM_KEYS, JSON.stringify(item));
  assert.match(item.id, /^[a-z0-9]{15}$/);
  assert.match(item.created, PB_DATETIME);
  assert.equal(item.ip, IP);
  assert.equal(item.userAgent, NODE_UA);
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(item[key], value, `${key} of ${JSON.stringify(item)}`);
  }
}

function assertNewestFirst(items) {
  for (let i = 1; i < items.length; i++) {
    assert.ok(items[i - 1].created >= items[i].created, `newest first: ${items[i - 1].created} then ${items[i].created}`);
  }
}

const sorted = (xs) => [...xs].sort();

test('a fresh server: the harness login and settings save are logged; list and item shapes', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const suId = su.authStore.record.id;
  const list = await auditList(su);
  assert.deepEqual(Object.keys(list).sort(), LIST_KEYS);
  assert.equal(list.page, 1);
  assert.equal(list.perPage, 30);
  assert.equal(list.totalItems, 3, JSON.stringify(list.items));
  assert.equal(list.totalPages, 1);
  assertNewestFirst(list.items);
  const login = { type: 'login.success', collectionId: SUPERUSERS_ID, recordId: suId, method: 'password', data: {} };
  // Newest first: this test's login, the harness's settings PATCH (limits off), the harness's login.
  assertItem(list.items[0], login);
  assertItem(list.items[1], { type: 'settings.changed', collectionId: '', recordId: '', method: '' });
  assert.deepEqual(sorted(Object.keys(list.items[1].data)), ['by', 'keys']);
  assert.equal(list.items[1].data.by, suId);
  assert.deepEqual(sorted(list.items[1].data.keys), ['lockout', 'rateLimits']);
  assertItem(list.items[2], login);
  assert.equal(new Set(list.items.map((i) => i.id)).size, 3, 'ids are unique');
});

test('login.success and login.failure: wrong password, unknown identity, auth rule refusal', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const since = await mark();
  const user = await newUser(ctx.server);
  await loginFailsWith(client(ctx.server), 'users', user.email, 'wrong-password-1');
  await loginFailsWith(client(ctx.server), 'users', uniqueEmail('nobody'), 'wrong-password-2');

  // A collection whose authRule refuses unverified records: the password matches, the rule says no.
  const name = `gated_${randomBytes(3).toString('hex')}`;
  const gated = await su.collections.create({ name, type: 'auth', authRule: 'verified = true' });
  const email = uniqueEmail('gated');
  const rec = await su.collection(name).create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
  await expectSdkError(client(ctx.server).collection(name).authWithPassword(email, PASSWORD), 403, AUTH_RULE_REFUSED);

  const items = await eventsSince(su, since);
  assertNewestFirst(items);
  assert.equal(items.length, 4, JSON.stringify(items));
  const [refused, unknown, wrong, success] = items;
  const login = { collectionId: USERS_ID, method: 'password', data: {} };
  assertItem(success, { ...login, type: 'login.success', recordId: user.record.id });
  // The identity matched a record: its id is logged, though the password was wrong.
  assertItem(wrong, { ...login, type: 'login.failure', recordId: user.record.id });
  // An identity that matches no record: no record id (and never the identity itself).
  assertItem(unknown, { ...login, type: 'login.failure', recordId: '' });
  assertItem(refused, {
    type: 'login.failure',
    collectionId: gated.id,
    recordId: rec.id,
    method: 'password',
    data: { reason: AUTH_RULE_REFUSED },
  });
  // Nothing of the logins' input is in the log.
  const text = JSON.stringify(items);
  for (const typed of [user.email, email, 'wrong-password-1', 'wrong-password-2', PASSWORD, 'nobody-']) {
    assert.ok(!text.includes(typed), `${typed} in ${text}`);
  }
  // A validation error (blank password) stops before any password check: nothing is logged.
  await loginFailsWith(client(ctx.server), 'users', user.email, '');
  assert.equal((await eventsSince(su, since)).length, 4);
});

test('impersonation: the target as recordId, who did it and the token duration', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const suId = su.authStore.record.id;
  const user = await newUser(ctx.server);
  const other = await newUser(ctx.server);
  const since = await mark();

  await su.collection('users').impersonate(user.record.id, 60);
  // duration 0: the collection's authToken duration, which is what gets logged.
  await su.collection('users').impersonate(user.record.id, 0);
  // A normal user may not impersonate: 403, and no event.
  await expectSdkError(other.pb.collection('users').impersonate(user.record.id, 60), 403);

  const { duration } = (await su.collections.getOne('users')).authToken;
  const items = await eventsSince(su, since);
  assert.equal(items.length, 2, JSON.stringify(items));
  const expected = { type: 'impersonation', collectionId: USERS_ID, recordId: user.record.id, method: '' };
  assertItem(items[0], { ...expected, data: { by: suId, byCollectionId: SUPERUSERS_ID, duration } });
  assertItem(items[1], { ...expected, data: { by: suId, byCollectionId: SUPERUSERS_ID, duration: 60 } });
  // The impersonation token is not in the log (nor any other JWT).
  assert.ok(!JSON.stringify(items).includes('eyJ'));
});

test('password.changed: by the record itself, by a superuser; failed changes log nothing', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const suId = su.authStore.record.id;
  const user = await newUser(ctx.server);
  const other = await newUser(ctx.server);
  const id = user.record.id;
  const since = await mark();

  // Wrong oldPassword: 400, nothing changed, nothing logged.
  await expectSdkError(
    user.pb.collection('users').update(id, { oldPassword: 'not-the-password', password: 'new-password-1', passwordConfirm: 'new-password-1' }),
    400,
  );
  await user.pb.collection('users').update(id, { oldPassword: PASSWORD, password: 'new-password-1', passwordConfirm: 'new-password-1' });
  await su.collection('users').update(id, { password: 'new-password-2', passwordConfirm: 'new-password-2' });
  // The change and its event go together: an update that fails (the email is taken) keeps the
  // old password and logs no password.changed.
  await expectSdkError(
    su.collection('users').update(id, { email: other.email, password: 'new-password-3', passwordConfirm: 'new-password-3' }),
    400,
  );
  await client(ctx.server).collection('users').authWithPassword(user.email, 'new-password-2');
  // A record update without a password logs nothing either.
  await su.collection('users').update(id, { name: 'Renamed' });

  const changes = await eventsSince(su, since, { type: 'password.changed' });
  assert.equal(changes.length, 2, JSON.stringify(changes));
  const expected = { type: 'password.changed', collectionId: USERS_ID, recordId: id, method: '' };
  assertItem(changes[0], { ...expected, data: { by: suId, self: false } });
  assertItem(changes[1], { ...expected, data: { by: id, self: true } });
  // All of it, for this record: the two changes and the final login (no failure: the 400s above
  // were refused before any password check of a login).
  const mine = await eventsSince(su, since, { recordId: id });
  assert.deepEqual(mine.map((e) => e.type), ['login.success', 'password.changed', 'password.changed']);
});

test('settings.changed: PATCH /api/settings and PATCH /api/collections/{c}, keys but no values', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const suId = su.authStore.record.id;
  const user = await newUser(ctx.server);
  const name = `audited_${randomBytes(3).toString('hex')}`;
  const coll = await su.collections.create({ name, type: 'auth' });
  const previous = await su.settings.getAll();
  const since = await mark();

  await su.settings.update({ meta: { appName: 'Audited App' }, trustedProxy: previous.trustedProxy });
  // Refused saves log nothing: a validation error, and a normal user.
  await expectSdkError(su.settings.update({ meta: { appName: '' } }), 400);
  await expectSdkError(user.pb.settings.update({ meta: { appName: 'Nope' } }), 403);

  const tokenSecret = `collection-token-secret-${randomBytes(16).toString('hex')}`;
  await su.collections.update(name, { authToken: { secret: tokenSecret }, listRule: '' });
  await expectSdkError(su.collections.update(name, { listRule: 'nope ~~ (' }), 400);
  // A rename is logged under the new name.
  const renamed = `${name}_x`;
  await su.collections.update(name, { name: renamed });

  const items = await eventsSince(su, since);
  assert.equal(items.length, 3, JSON.stringify(items));
  assert.ok(items.every((e) => e.type === 'settings.changed'));
  const [rename, patch, settings] = items;
  assertItem(settings, { collectionId: '', recordId: '', method: '' });
  assert.deepEqual(sorted(Object.keys(settings.data)), ['by', 'keys']);
  assert.equal(settings.data.by, suId);
  assert.deepEqual(sorted(settings.data.keys), ['meta', 'trustedProxy']);

  const collectionEvent = { collectionId: coll.id, recordId: '', method: '' };
  assertItem(patch, collectionEvent);
  assert.deepEqual(sorted(Object.keys(patch.data)), ['by', 'collection', 'keys']);
  assert.equal(patch.data.by, suId);
  assert.equal(patch.data.collection, name);
  assert.deepEqual(sorted(patch.data.keys), ['authToken', 'listRule']);
  assertItem(rename, { ...collectionEvent, data: { collection: renamed, keys: ['name'], by: suId } });

  const text = JSON.stringify(items);
  assert.ok(!text.includes(tokenSecret), 'the token secret is not logged');
  assert.ok(!text.includes('Audited App'), 'values are not logged');
  // collectionId filters the collection's own events.
  assert.equal((await eventsSince(su, since, { collectionId: coll.id })).length, 2);
  await su.settings.update({ meta: { appName: previous.meta.appName } });
});

test('filters and paging: type, recordId, collectionId, since, until', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const since = await mark();
  const user = await newUser(ctx.server);
  const middle = await mark();
  for (let i = 0; i < 3; i++) await loginFailsWith(client(ctx.server), 'users', user.email, `wrong-password-${i}`);
  await loginFailsWith(client(ctx.server), 'users', uniqueEmail('nobody'), 'wrong-password-x');
  const end = await mark();
  const count = async (query) => (await auditList(su, query)).totalItems;

  assert.equal(await count({ since }), 5);
  assert.equal(await count({ since, type: 'login.failure' }), 4);
  assert.equal(await count({ since, type: 'login.success' }), 1);
  assert.equal(await count({ since, type: 'login.failure,login.success' }), 5);
  assert.equal(await count({ since, type: 'login.success, impersonation' }), 1, 'spaces around the commas');
  assert.equal(await count({ since, type: 'impersonation' }), 0);
  assert.equal(await count({ since, type: 'no.such.type' }), 0);
  // recordId needs no time window: the record is new.
  assert.equal(await count({ recordId: user.record.id }), 4);
  assert.equal(await count({ recordId: user.record.id, type: 'login.failure' }), 3);
  assert.equal(await count({ recordId: 'nosuchrecord123' }), 0);
  assert.equal(await count({ since, collectionId: USERS_ID }), 5);
  assert.equal(await count({ since, collectionId: SUPERUSERS_ID }), 0);
  // since is inclusive of what follows it, until of what precedes it.
  assert.equal(await count({ since, until: middle }), 1);
  assert.equal(await count({ since: middle }), 4);
  assert.equal(await count({ since: middle, until: end }), 4);
  assert.equal(await count({ since: end }), 0);
  assert.equal(await count({ since: '2999-01-01 00:00:00.000Z' }), 0);
  assert.equal(await count({ until: '2000-01-01 00:00:00.000Z' }), 0);

  // Paging over the record's 4 events: 3 + 1, then an empty page; the pages add up to the list.
  const all = (await auditList(su, { recordId: user.record.id })).items;
  assertNewestFirst(all);
  assert.deepEqual(all.map((e) => e.type), ['login.failure', 'login.failure', 'login.failure', 'login.success']);
  const page = (n) => auditList(su, { recordId: user.record.id, perPage: 3, page: n });
  const [p1, p2, p3] = [await page(1), await page(2), await page(3)];
  assert.deepEqual(
    [p1, p2, p3].map(({ page: n, perPage, totalItems, totalPages, items }) => [n, perPage, totalItems, totalPages, items.length]),
    [
      [1, 3, 4, 2, 3],
      [2, 3, 4, 2, 1],
      [3, 3, 4, 2, 0],
    ],
  );
  assert.deepEqual([...p1.items, ...p2.items].map((e) => e.id), all.map((e) => e.id));
  // perPage: 30 by default (also for 0 or less), at most 500.
  assert.equal((await auditList(su, { perPage: 0 })).perPage, 30);
  assert.equal((await auditList(su, { perPage: 1000 })).perPage, 500);
  assert.equal((await auditList(su, { page: 0, perPage: 1 })).page, 1);
});

test('no password or other secret typed into a form reaches the audit log', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const secret = (label) => `${label}-${randomBytes(6).toString('hex')}`;
  const userPassword = secret('user-password');
  const user = await newUser(ctx.server, { password: userPassword });
  const typed = {
    // A password typed into the identity field (unknown identity), with a wrong password.
    identityTypo: userPassword,
    otherField: secret('typed-into-password'),
    wrongPassword: secret('wrong-password'),
    newPassword: secret('new-password'),
    setBySuperuser: secret('set-by-superuser'),
  };
  const guest = () => client(ctx.server).collection('users');
  await expectSdkError(guest().authWithPassword(typed.identityTypo, typed.otherField), 400);
  await expectSdkError(guest().authWithPassword(user.email, typed.wrongPassword), 400);
  // Both fields hold the password (identity matches no record).
  await expectSdkError(guest().authWithPassword(userPassword, userPassword), 400);
  await expectSdkError(client(ctx.server).collection('_superusers').authWithPassword(ctx.server.suEmail, typed.wrongPassword), 400);
  // The password typed into the identity field of a superuser login.
  await expectSdkError(client(ctx.server).collection('_superusers').authWithPassword(ctx.server.suPassword, ctx.server.suPassword), 400);
  await user.pb.collection('users').update(user.record.id, {
    oldPassword: userPassword,
    password: typed.newPassword,
    passwordConfirm: typed.newPassword,
  });
  await su.collection('users').update(user.record.id, { password: typed.setBySuperuser, passwordConfirm: typed.setBySuperuser });
  const userPb = client(ctx.server);
  const logged = await userPb.collection('users').authWithPassword(user.email, typed.setBySuperuser);
  const imp = await su.collection('users').impersonate(user.record.id, 60);

  const all = await auditList(su, { perPage: 500 });
  assert.ok(all.totalItems <= 500, 'the whole log fits in one page');
  const texts = {
    '/api/audit': JSON.stringify(all),
    'security-events': JSON.stringify(await securityEvents(userPb, 'users', user.record.id, { perPage: 500 })),
  };
  const secrets = [...Object.values(typed), userPassword, ctx.server.suPassword, logged.token, imp.authStore.token, su.authStore.token];
  for (const [where, text] of Object.entries(texts)) {
    for (const s of secrets) assert.ok(!text.includes(s), `a secret (${s.slice(0, 14)}…) in ${where}`);
    assert.ok(!text.includes('eyJ'), `a JWT in ${where}`);
  }
  // The failures above are all there, identities included only as record ids.
  const failures = all.items.filter((e) => e.type === 'login.failure' && e.data && !e.data.reason);
  assert.ok(failures.some((e) => e.recordId === user.record.id));
  assert.ok(failures.some((e) => e.recordId === '' && e.collectionId === SUPERUSERS_ID));
  // The server's own log (audit lines go there too) has none of the typed secrets either.
  const serverLog = readFileSync(ctx.server.logFile, 'utf8');
  for (const s of secrets) assert.ok(!serverLog.includes(s), `a secret (${s.slice(0, 14)}…) in server.log`);
});

test('who may read: /api/audit for superusers only; security-events for the record or a superuser', gatehouseOnly, async () => {
  const su = await superuserClient(ctx.server);
  const ann = await newUser(ctx.server);
  const bob = await newUser(ctx.server);
  await su.collection('users').impersonate(bob.record.id, 60);
  await loginFailsWith(client(ctx.server), 'users', bob.email, 'wrong-password-1');

  await expectSdkError(auditList(client(ctx.server)), 401, NO_TOKEN);
  await expectSdkError(auditList(ann.pb), 403, FORBIDDEN);
  await expectSdkError(auditList(ann.pb, { recordId: ann.record.id }), 403, FORBIDDEN);

  // Bob reads his own events: his login, the impersonation and the failed login, newest first.
  const own = await securityEvents(bob.pb, 'users', bob.record.id);
  assert.deepEqual(Object.keys(own).sort(), LIST_KEYS);
  assert.deepEqual(own.items.map((e) => e.type), ['login.failure', 'impersonation', 'login.success']);
  for (const e of own.items) assertItem(e, { recordId: bob.record.id, collectionId: USERS_ID });
  // The collection may be named by id too; the list filters as /api/audit does.
  const byId = await securityEvents(bob.pb, USERS_ID, bob.record.id, { type: 'impersonation' });
  assert.deepEqual(byId.items.map((e) => e.id), [own.items[1].id]);
  // A recordId (or collectionId) in the query cannot widen the list to someone else's events.
  const widened = await securityEvents(bob.pb, 'users', bob.record.id, { recordId: ann.record.id, collectionId: SUPERUSERS_ID });
  assert.deepEqual(widened.items.map((e) => e.id), own.items.map((e) => e.id));
  // Paging.
  const paged = await securityEvents(bob.pb, 'users', bob.record.id, { perPage: 2, page: 2 });
  assert.deepEqual([paged.page, paged.perPage, paged.totalItems, paged.totalPages], [2, 2, 3, 2]);
  assert.deepEqual(paged.items.map((e) => e.id), [own.items[2].id]);

  // Another user: 403; a guest: 401; the same id under another collection is not "own": 403.
  await expectSdkError(securityEvents(ann.pb, 'users', bob.record.id), 403, FORBIDDEN);
  await expectSdkError(securityEvents(client(ctx.server), 'users', bob.record.id), 401, NO_TOKEN);
  await expectSdkError(securityEvents(bob.pb, '_superusers', bob.record.id), 403, FORBIDDEN);
  await expectSdkError(securityEvents(su, 'no_such_collection', bob.record.id), 404, 'Missing collection context.');

  // A superuser reads anyone's; under another collection the record has no events.
  const bySu = await securityEvents(su, 'users', bob.record.id);
  assert.deepEqual(bySu.items.map((e) => e.id), own.items.map((e) => e.id));
  assert.equal((await securityEvents(su, '_superusers', bob.record.id)).totalItems, 0);
  const suOwn = await securityEvents(su, '_superusers', su.authStore.record.id, { type: 'login.success' });
  assert.ok(suOwn.totalItems >= 1);
  assert.ok(suOwn.items.every((e) => e.collectionId === SUPERUSERS_ID && e.recordId === su.authStore.record.id));
});
