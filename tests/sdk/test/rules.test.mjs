// List rules (spec §2.2, §4.12) and the records list `filter` query parameter: rules on record
// fields and on the caller (@request.auth.*), null vs "" rules, filter operators and modifiers,
// dates and @now, safe parameter binding with pb.filter(), rule ∩ filter, paging of filtered sets,
// and the errors for malformed, unknown-field, hidden-field and @request filters.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PASSWORD, client, expectSdkError, newUser, superuserClient, uniqueEmail, useServer } from './helpers.mjs';

const ctx = useServer();
const GENERIC_400 = 'Something went wrong while processing your request.';

// Four records covering every field type the filters below use. `cat` is lower-case on purpose.
const PEOPLE = {
  ann: { name: 'Ann', role: 'member', verified: true, plan: 'pro', age: 30, active: true, tags: ['a', 'b'],
    meta: { plan: 'pro', seats: 5 }, joined: '2024-01-01 00:00:00.000Z' },
  ben: { name: 'Ben', role: 'member', verified: false, plan: 'free', age: 20, active: false, tags: ['b'],
    meta: { plan: 'free' }, joined: '2025-06-01 12:00:00.000Z' },
  cat: { name: 'cat', role: 'admin', verified: true, plan: 'pro', age: 40, active: true, tags: ['c'],
    meta: null, joined: '' },
  dan: { name: 'Dan', role: 'member', verified: true, plan: 'free', age: 25, active: true, tags: [],
    meta: { plan: 'team' }, joined: '2023-03-03 08:00:00.000Z' },
};

/** A fresh auth collection with PEOPLE in it. Returns {name, ids:{ann,...}, emails:{ann,...}, su}. */
async function seed(listRule) {
  const su = await superuserClient(ctx.server);
  const name = `people_${randomBytes(3).toString('hex')}`;
  await su.collections.create({
    name,
    type: 'auth',
    listRule,
    fields: [
      { name: 'name', type: 'text' },
      { name: 'role', type: 'select', values: ['member', 'admin'], maxSelect: 1 },
      { name: 'plan', type: 'text' },
      { name: 'age', type: 'number' },
      { name: 'active', type: 'bool' },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
      { name: 'meta', type: 'json' },
      { name: 'joined', type: 'date' },
      { name: 'contact', type: 'email' },
      { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    ],
  });
  const ids = {};
  const emails = {};
  for (const [key, data] of Object.entries(PEOPLE)) {
    emails[key] = uniqueEmail(key);
    const rec = await su.collection(name).create({ email: emails[key], password: PASSWORD, passwordConfirm: PASSWORD, ...data });
    ids[key] = rec.id;
  }
  return { name, ids, emails, su };
}

/** Asserts a list result holds exactly the given PEOPLE keys (any order) and counts them. */
function expectPeople(res, fx, keys, what = '') {
  const want = keys.map((k) => fx.ids[k]).sort();
  assert.deepEqual(res.items.map((r) => r.id).sort(), want, `${what}: got ${res.items.map((r) => r.name)}`);
  assert.equal(res.totalItems, keys.length, `${what}: totalItems`);
}

async function login(fx, key) {
  const pb = client(ctx.server);
  await pb.collection(fx.name).authWithPassword(fx.emails[key], PASSWORD);
  return pb;
}

test('list rule on record fields: users and guests see exactly the matching records', async () => {
  const fx = await seed("verified = true && role = 'member'");
  const user = await newUser(ctx.server);
  expectPeople(await user.pb.collection(fx.name).getList(1, 50), fx, ['ann', 'dan'], 'user');
  // The rule does not mention @request.auth, so a guest gets the same rows.
  expectPeople(await client(ctx.server).collection(fx.name).getList(1, 50), fx, ['ann', 'dan'], 'guest');
  // A superuser bypasses the rule.
  expectPeople(await fx.su.collection(fx.name).getList(1, 50), fx, ['ann', 'ben', 'cat', 'dan'], 'superuser');

  await fx.su.collections.update(fx.name, { listRule: "@request.auth.id != '' && verified = true" });
  const guest = await client(ctx.server).collection(fx.name).getList(1, 50);
  assert.deepEqual(guest.items, []);
  assert.equal(guest.totalItems, 0);
  expectPeople(await user.pb.collection(fx.name).getList(1, 50), fx, ['ann', 'cat', 'dan'], 'user after rule change');
});

test('list rule on the caller: plan = @request.auth.plan, id = @request.auth.id', async () => {
  const fx = await seed("@request.auth.id != '' && plan = @request.auth.plan");
  const ann = await login(fx, 'ann');
  const ben = await login(fx, 'ben');
  expectPeople(await ann.collection(fx.name).getList(1, 50), fx, ['ann', 'cat'], 'ann (pro)');
  expectPeople(await ben.collection(fx.name).getList(1, 50), fx, ['ben', 'dan'], 'ben (free)');
  // A `users` record has no `plan` field: the comparison matches nothing, no error.
  const other = await newUser(ctx.server);
  expectPeople(await other.pb.collection(fx.name).getList(1, 50), fx, [], 'users record');
  expectPeople(await client(ctx.server).collection(fx.name).getList(1, 50), fx, [], 'guest');
  // The same lists again, interleaved (the server keeps each caller's compiled rule), and again
  // after the caller's own plan changed: the rule reads the caller as they are now.
  expectPeople(await ann.collection(fx.name).getList(1, 50), fx, ['ann', 'cat'], 'ann again');
  expectPeople(await ben.collection(fx.name).getList(1, 50), fx, ['ben', 'dan'], 'ben again');
  await fx.su.collection(fx.name).update(fx.ids.ann, { plan: 'free' });
  expectPeople(await ann.collection(fx.name).getList(1, 50), fx, ['ann', 'ben', 'dan'], 'ann (now free)');
  expectPeople(await ben.collection(fx.name).getList(1, 50), fx, ['ann', 'ben', 'dan'], 'ben, ann now free');
  // A superuser's filter may read the request: each value gives its own rows.
  const byQuery = (plan) => fx.su.collection(fx.name).getList(1, 50, { filter: 'plan = @request.query.plan', plan });
  expectPeople(await byQuery('pro'), fx, ['cat'], 'filter, ?plan=pro');
  expectPeople(await byQuery('free'), fx, ['ann', 'ben', 'dan'], 'filter, ?plan=free');
  expectPeople(await byQuery('pro'), fx, ['cat'], 'filter, ?plan=pro again');

  await fx.su.collections.update(fx.name, { listRule: 'id = @request.auth.id' });
  expectPeople(await ann.collection(fx.name).getList(1, 50), fx, ['ann'], 'own record only');
  expectPeople(await other.pb.collection(fx.name).getList(1, 50), fx, [], 'other collection');
});

test('listRule null: 403 for everyone but superusers; "" lets everyone list; a bad rule is rejected', async () => {
  const fx = await seed(null);
  const user = await newUser(ctx.server);
  const onlySu = 'Only superusers can perform this action.';
  await expectSdkError(client(ctx.server).collection(fx.name).getList(1, 50), 403, onlySu);
  await expectSdkError(user.pb.collection(fx.name).getList(1, 50), 403, onlySu);
  // Even a record of the collection itself is refused.
  await expectSdkError((await login(fx, 'ann')).collection(fx.name).getList(1, 50), 403, onlySu);
  expectPeople(await fx.su.collection(fx.name).getList(1, 50), fx, ['ann', 'ben', 'cat', 'dan'], 'superuser');

  await fx.su.collections.update(fx.name, { listRule: '' });
  expectPeople(await client(ctx.server).collection(fx.name).getList(1, 50), fx, ['ann', 'ben', 'cat', 'dan'], 'guest');
  expectPeople(await user.pb.collection(fx.name).getList(1, 50), fx, ['ann', 'ben', 'cat', 'dan'], 'user');

  for (const rule of ['nosuch = 1', 'name = ']) {
    const body = await expectSdkError(fx.su.collections.update(fx.name, { listRule: rule }), 400, 'Failed to update collection.');
    assert.equal(body.data.listRule?.code, 'validation_invalid_rule', `${rule}: ${JSON.stringify(body.data)}`);
  }
  assert.equal((await fx.su.collections.getOne(fx.name)).listRule, '');
});

test('filter operators, modifiers, json keys and multi-select fields', async () => {
  const fx = await seed('');
  const users = (await newUser(ctx.server)).pb.collection(fx.name);
  const cases = [
    ["name = 'Ann'", ['ann']],
    ["name != 'Ann'", ['ben', 'cat', 'dan']],
    ['age > 25', ['ann', 'cat']],
    ['age >= 25', ['ann', 'cat', 'dan']],
    ['age < 25', ['ben']],
    ['age <= 25', ['ben', 'dan']],
    ['age = 30.0', ['ann']],
    ["name ~ 'AN'", ['ann', 'dan']], // contains, case-insensitive
    ["name !~ 'an'", ['ben', 'cat']],
    ['active = true', ['ann', 'cat', 'dan']],
    ['active = false', ['ben']],
    ['verified = false', ['ben']],
    ['meta = null', ['cat']],
    ["joined = ''", ['cat']],
    ['joined = null', ['cat']],
    ["name:lower = 'ann'", ['ann']],
    ["name = 'ann'", []], // = is case-sensitive
    ["meta.plan = 'pro'", ['ann']],
    ['meta.seats >= 5', ['ann']],
    ["role = 'member' && active = true", ['ann', 'dan']],
    ["role = 'admin' || plan = 'free'", ['ben', 'cat', 'dan']],
    ["(age > 25 || plan = 'free') && active = true", ['ann', 'cat', 'dan']],
    ["age > 35 || (plan = 'pro' && active = false)", ['cat']],
    // Any-of on a multi-select needs :each; without it the field is its stored JSON text.
    ["tags:each ?= 'b'", ['ann', 'ben']],
    ["tags:each ?= 'a'", ['ann']],
    ["tags ?= 'b'", []],
    ["tags ~ 'b'", ['ann', 'ben']],
    ['tags:length >= 2', ['ann']],
    ['tags:length = 0', ['dan']],
  ];
  for (const [filter, keys] of cases) {
    expectPeople(await users.getList(1, 50, { filter }), fx, keys, filter);
  }
});

test('dates: created and a date field against literals and @now', async () => {
  const before = new Date(Date.now() - 60_000);
  const fx = await seed('');
  const guest = client(ctx.server).collection(fx.name);
  const all = ['ann', 'ben', 'cat', 'dan'];
  const cases = [
    [fx.su.filter('created >= {:d}', { d: before }), all],
    ["created >= '2020-01-01 00:00:00.000Z'", all],
    ["created >= '2020-01-01'", all],
    ['created <= @now', all],
    ['created > @now', []],
    ["joined > '2024-06-01 00:00:00.000Z'", ['ben']],
    ["joined >= '2024-01-01 00:00:00.000Z' && joined < '2025-01-01'", ['ann']],
    ["joined != '' && joined < @now", ['ann', 'ben', 'dan']],
  ];
  for (const [filter, keys] of cases) {
    expectPeople(await guest.getList(1, 50, { filter }), fx, keys, filter);
  }
});

test('pb.filter binds parameters safely; injection attempts match nothing', async () => {
  const fx = await seed('');
  const users = (await newUser(ctx.server)).pb.collection(fx.name);
  const f = (raw, params) => fx.su.filter(raw, params);
  expectPeople(await users.getList(1, 50, { filter: f('name = {:n}', { n: 'Ann' }) }), fx, ['ann'], 'bound name');
  const typed = f('active = {:a} && age >= {:min}', { a: true, min: 30 });
  expectPeople(await users.getList(1, 50, { filter: typed }), fx, ['ann', 'cat'], 'bound bool+number');
  expectPeople(await users.getList(1, 50, { filter: f('meta = {:m}', { m: null }) }), fx, ['cat'], 'bound null');
  const quoted = f('name = {:a} || name = {:b}', { a: "Ann' || '1' = '1", b: 'Dan' });
  expectPeople(await users.getList(1, 50, { filter: quoted }), fx, ['dan'], 'bound quote');

  for (const filter of [
    `name = "x' OR 1=1 --"`,
    `name = 'x\\' OR 1=1 --'`,
    `name = "x' || 1=1 --"`,
    f('name = {:n}', { n: "x' OR 1=1 --" }),
    f('name = {:n}', { n: 'x" || name != "' }),
  ]) {
    const res = await users.getList(1, 50, { filter });
    expectPeople(res, fx, [], filter);
  }
  // Unbound, a literal tautology is just a filter: it adds nothing to what the rule allows.
  expectPeople(await users.getList(1, 50, { filter: "name = 'x' || '1' = '1'" }), fx, ['ann', 'ben', 'cat', 'dan'], 'tautology');
});

test('filter intersects the list rule; sort and paging count the filtered set', async () => {
  const fx = await seed("verified = true && role = 'member'");
  const users = (await newUser(ctx.server)).pb.collection(fx.name);
  expectPeople(await users.getList(1, 50, { filter: "plan = 'free'" }), fx, ['dan'], 'rule ∩ filter');
  expectPeople(await users.getList(1, 50, { filter: "role = 'admin'" }), fx, [], 'a filter cannot widen the rule');
  expectPeople(await users.getList(1, 50, { filter: "verified = false || role = 'admin'" }), fx, [], 'not even with ||');

  await fx.su.collections.update(fx.name, { listRule: '' });
  const opts = { filter: 'active = true', sort: '-age' };
  const p1 = await users.getList(1, 2, opts);
  assert.deepEqual(p1.items.map((r) => r.id), [fx.ids.cat, fx.ids.ann]);
  assert.equal(p1.totalItems, 3);
  assert.equal(p1.totalPages, 2);
  assert.equal(p1.perPage, 2);
  const p2 = await users.getList(2, 2, opts);
  assert.deepEqual(p2.items.map((r) => r.id), [fx.ids.dan]);
  assert.equal(p2.page, 2);
  assert.equal(p2.totalItems, 3);
  const asc = await users.getList(1, 10, { filter: "plan = 'free'", sort: 'age' });
  assert.deepEqual(asc.items.map((r) => r.id), [fx.ids.ben, fx.ids.dan]);
  assert.equal(asc.totalItems, 2);
});

test('bad filters: malformed or unknown/hidden field → 400, @request → 403', async () => {
  const fx = await seed('');
  const users = (await newUser(ctx.server)).pb.collection(fx.name);
  const guest = client(ctx.server).collection(fx.name);
  for (const filter of ["name = ", "name === 'x'", "(name = 'Ann'", "name = 'Ann' &&", "nosuch = 1", "meta.plan.x = 1 && nosuch != ''"]) {
    const body = await expectSdkError(users.getList(1, 50, { filter }), 400, GENERIC_400);
    assert.deepEqual(body.data, {}, filter);
  }
  // Unknown field for a superuser too, and in sort.
  await expectSdkError(fx.su.collection(fx.name).getList(1, 50, { filter: 'nosuch = 1' }), 400, GENERIC_400);
  await expectSdkError(users.getList(1, 50, { sort: '-nosuch' }), 400, GENERIC_400);

  // Hidden fields cannot be filtered on by non-superusers (the superuser may).
  for (const filter of ["tokenKey != ''", "password = 'x'"]) {
    await expectSdkError(users.getList(1, 50, { filter }), 400, GENERIC_400);
    await expectSdkError(guest.getList(1, 50, { filter }), 400, GENERIC_400);
  }
  expectPeople(await fx.su.collection(fx.name).getList(1, 50, { filter: "tokenKey != ''" }), fx, ['ann', 'ben', 'cat', 'dan'], 'su tokenKey');

  await expectSdkError(users.getList(1, 50, { filter: "@request.auth.id != ''" }), 403, 'Only superusers can filter by @request.');
  await expectSdkError(guest.getList(1, 50, { filter: "@request.auth.id = ''" }), 403, 'Only superusers can filter by @request.');
});

test('a non-superuser email filter only matches emails with emailVisibility on', async () => {
  const fx = await seed('');
  await fx.su.collection(fx.name).update(fx.ids.ben, { emailVisibility: true });
  const ann = (await login(fx, 'ann')).collection(fx.name);
  expectPeople(await ann.getList(1, 50, { filter: `email = '${fx.emails.ben}'` }), fx, ['ben'], 'visible email');
  expectPeople(await ann.getList(1, 50, { filter: `email = '${fx.emails.dan}'` }), fx, [], 'hidden email');
  // Not even your own hidden email matches.
  expectPeople(await ann.getList(1, 50, { filter: `email = '${fx.emails.ann}'` }), fx, [], 'own hidden email');
  expectPeople(await ann.getList(1, 50, { filter: "email ~ '@example.com'" }), fx, ['ben'], 'email contains');
  expectPeople(await fx.su.collection(fx.name).getList(1, 50, { filter: `email = '${fx.emails.dan}'` }), fx, ['dan'], 'superuser');
});
