// The rate limiter (settings.rateLimits, spec §4.14 and §8): settings shape, `*:tag`, `collection:tag`,
// `METHOD /path`, `/path` and `/prefix/` labels, audiences, the 429 envelope, the window and its
// recovery, superuser exemption, excludedIPs, counters reset by a settings save, and rule validation.
// Gatehouse ships the limiter enabled with its own defaults and PocketBase ships it disabled, so every
// test sets the rules it needs and restores the previous rateLimits when it ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { client, expectSdkError, gatehouseOnly, newUser, superuserClient, useServer } from './helpers.mjs';

// The limiter keeps Gatehouse's shipped defaults here; the failed-password lockout is off so that
// repeated wrong logins are counted by the limiter alone, as in PocketBase.
const ctx = useServer({ limits: 'limiter' });
const TOO_MANY = { data: {}, message: 'Too Many Requests.', status: 429 };
const SAVE_FAILED = 'An error occurred while saving the new settings.';

/** Sets rateLimits (enabled unless told otherwise), runs fn, then puts the previous rateLimits back. */
async function withLimits(su, rateLimits, fn) {
  const previous = (await su.settings.getAll()).rateLimits;
  try {
    const saved = await su.settings.update({ rateLimits: { enabled: true, ...rateLimits } });
    return await fn(saved.rateLimits);
  } finally {
    await su.settings.update({ rateLimits: previous });
  }
}

/** The HTTP status of an SDK call (200 on success). */
async function statusOf(promise) {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (typeof err?.status !== 'number') throw err;
    return err.status;
  }
}

/** Runs `call` n times in a row and returns the statuses. */
async function statuses(n, call) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await statusOf(call()));
  return out;
}

// A guest's failed password login (400): counts against the `auth` tags without logging anyone in.
const badLogin = (collection = 'users') => client(ctx.server).collection(collection).authWithPassword('nobody@example.com', 'wrong-password-1');
// GET /api/health, rejecting like the SDK does on an error status.
const health = () =>
  fetch(`${ctx.server.url}/api/health`).then((r) => {
    if (!r.ok) throw Object.assign(new Error(`health ${r.status}`), { status: r.status });
  });

test('fresh Gatehouse server: limiter enabled with rules for the auth endpoints', gatehouseOnly, async () => {
  const { rateLimits } = await (await superuserClient(ctx.server)).settings.getAll();
  assert.equal(rateLimits.enabled, true);
  const labels = rateLimits.rules.map((r) => r.label);
  for (const label of ['*:auth', '*:requestOTP', '*:authWithOTP']) {
    assert.ok(labels.includes(label), `default rule for ${label}; got ${labels}`);
  }
});

test('settings carry rateLimits {enabled, rules} and trustedProxy; PATCH echoes the rule fields', async () => {
  const su = await superuserClient(ctx.server);
  const { rateLimits, trustedProxy } = await su.settings.getAll();
  assert.equal(typeof rateLimits.enabled, 'boolean');
  assert.ok(Array.isArray(rateLimits.rules));
  for (const rule of rateLimits.rules) {
    assert.equal(typeof rule.label, 'string');
    assert.ok(['', '@guest', '@auth'].includes(rule.audience), `audience ${rule.audience}`);
    assert.ok(Number.isInteger(rule.duration) && rule.duration >= 1);
    assert.ok(Number.isInteger(rule.maxRequests) && rule.maxRequests >= 1);
  }
  assert.ok(Array.isArray(trustedProxy.headers));
  assert.equal(typeof trustedProxy.useLeftmostIP, 'boolean');

  // The array replaces the old rules; an omitted audience comes back as "".
  const rules = [
    { label: '*:auth', maxRequests: 3, duration: 2 },
    { label: 'users:list', maxRequests: 5, duration: 7, audience: '@guest' },
  ];
  await withLimits(su, { rules }, async (saved) => {
    assert.equal(saved.enabled, true);
    assert.deepEqual(saved.rules, [
      { label: '*:auth', audience: '', duration: 2, maxRequests: 3 },
      { label: 'users:list', audience: '@guest', duration: 7, maxRequests: 5 },
    ]);
    assert.deepEqual((await su.settings.getAll()).rateLimits.rules, saved.rules);
  });
});

test('*:auth 3 per 2 s: the 4th guest login gets 429, then the window recovers', async () => {
  const su = await superuserClient(ctx.server);
  await withLimits(su, { rules: [{ label: '*:auth', maxRequests: 3, duration: 2, audience: '' }] }, async () => {
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 400]);
    const lastAllowed = Date.now();
    const body = await expectSdkError(badLogin(), 429, 'Too Many Requests.');
    assert.deepEqual(body, TOO_MANY);
    // The raw reply is the same envelope.
    const raw = await fetch(`${ctx.server.url}/api/collections/users/auth-with-password`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ identity: 'nobody@example.com', password: 'wrong-password-1' }),
    });
    assert.equal(raw.status, 429);
    assert.deepEqual(await raw.json(), TOO_MANY);

    // Counted per collection: another collection's login and a non-auth call still pass.
    assert.equal(await statusOf(badLogin('_superusers')), 400);
    assert.equal(await statusOf(client(ctx.server).collection('users').getList(1, 1)), 200);

    // Bounded wait for the window (2 s) to pass; it must not reopen almost at once.
    let status = 429;
    const deadline = Date.now() + 5000;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = await statusOf(badLogin());
    }
    assert.equal(status, 400, 'recovered within 5 s');
    assert.ok(Date.now() - lastAllowed >= 900, `recovered after ${Date.now() - lastAllowed} ms`);
  });
});

test('path labels: "METHOD /path", "/path" and the "/api/" prefix', async () => {
  const su = await superuserClient(ctx.server);
  const path = '/api/collections/users/auth-with-password';
  for (const label of [`POST ${path}`, path]) {
    await withLimits(su, { rules: [{ label, maxRequests: 2, duration: 10 }] }, async () => {
      assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 429], label);
      assert.deepEqual(await statuses(3, () => badLogin('_superusers')), [400, 400, 400], `${label}: other path`);
      assert.deepEqual(await statuses(3, health), [200, 200, 200], `${label}: health`);
    });
  }
  // A prefix rule covers every path under it; each collection route keeps its own counter.
  await withLimits(su, { rules: [{ label: '/api/', maxRequests: 2, duration: 10 }] }, async () => {
    assert.deepEqual(await statuses(3, health), [200, 200, 429]);
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 429]);
    assert.deepEqual(await statuses(3, () => badLogin('_superusers')), [400, 400, 429]);
  });
});

test('collection:tag labels: users:auth, users:list; the collection label wins over *:', async () => {
  const su = await superuserClient(ctx.server);
  await withLimits(su, { rules: [{ label: 'users:auth', maxRequests: 2, duration: 10 }] }, async () => {
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 429]);
    assert.deepEqual(await statuses(3, () => badLogin('_superusers')), [400, 400, 400]);
  });
  await withLimits(su, { rules: [{ label: 'users:list', maxRequests: 2, duration: 10 }] }, async () => {
    assert.deepEqual(await statuses(3, () => client(ctx.server).collection('users').getList(1, 1)), [200, 200, 429]);
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 400]);
  });
  const rules = [
    { label: '*:auth', maxRequests: 1, duration: 10 },
    { label: 'users:auth', maxRequests: 3, duration: 10 },
  ];
  await withLimits(su, { rules }, async () => {
    assert.deepEqual(await statuses(4, () => badLogin()), [400, 400, 400, 429]);
    assert.deepEqual(await statuses(2, () => badLogin('_superusers')), [400, 429]);
  });
});

test('audiences: @guest limits only guests, @auth only authenticated records', async () => {
  const su = await superuserClient(ctx.server);
  const user = await newUser(ctx.server);
  const userLogin = () => user.pb.collection('users').authWithPassword(user.email, 'wrong-password-1');
  await withLimits(su, { rules: [{ label: 'users:auth', maxRequests: 1, duration: 10, audience: '@guest' }] }, async () => {
    assert.deepEqual(await statuses(2, () => badLogin()), [400, 429]);
    assert.deepEqual(await statuses(3, userLogin), [400, 400, 400]);
  });
  await withLimits(su, { rules: [{ label: 'users:auth', maxRequests: 1, duration: 10, audience: '@auth' }] }, async () => {
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 400]);
    assert.deepEqual(await statuses(2, userLogin), [400, 429]);
  });
});

test('superuser requests are exempt, but a superuser login is a guest request', async () => {
  const su = await superuserClient(ctx.server);
  const rules = [
    { label: '/api/', maxRequests: 1, duration: 10 },
    { label: '*:auth', maxRequests: 1, duration: 10 },
  ];
  await withLimits(su, { rules }, async () => {
    assert.deepEqual(await statuses(3, () => su.collection('users').getList(1, 1)), [200, 200, 200]);
    assert.deepEqual(await statuses(3, () => su.settings.getAll()), [200, 200, 200]);
    // A login sent with a superuser token is exempt too (it fails on the password, not the limit).
    assert.deepEqual(await statuses(3, () => su.collection('users').authWithPassword('nobody@example.com', 'wrong-password-1')), [400, 400, 400]);
    // The guest counters were not touched by any of that.
    assert.deepEqual(await statuses(2, () => client(ctx.server).collection('users').getList(1, 1)), [200, 429]);

    const suLogin = () => client(ctx.server).collection('_superusers').authWithPassword(ctx.server.suEmail, ctx.server.suPassword);
    assert.deepEqual(await statuses(2, suLogin), [200, 429]);
  });
});

test('disabled limiter, excludedIPs, and a settings save resets the counters', async () => {
  const su = await superuserClient(ctx.server);
  const rules = [{ label: '*:auth', maxRequests: 2, duration: 10 }];
  await withLimits(su, { enabled: false, rules }, async () => {
    assert.deepEqual(await statuses(4, () => badLogin()), [400, 400, 400, 400]);
  });
  await withLimits(su, { rules, excludedIPs: ['127.0.0.1'] }, async (saved) => {
    assert.deepEqual(saved.excludedIPs, ['127.0.0.1']);
    assert.deepEqual(await statuses(4, () => badLogin()), [400, 400, 400, 400]);
  });
  await withLimits(su, { rules, excludedIPs: [] }, async () => {
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 429]);
    // Saving any setting starts every counter afresh.
    await su.settings.update({ meta: { appName: 'Rate Limit Test' } });
    assert.deepEqual(await statuses(3, () => badLogin()), [400, 400, 429]);
  });
});

test('rule validation: 400 with per-rule field errors; nothing is saved', async () => {
  const su = await superuserClient(ctx.server);
  const before = (await su.settings.getAll()).rateLimits;
  const rule = { label: '*:auth', maxRequests: 3, duration: 2, audience: '' };
  const required = { code: 'validation_required', message: 'Cannot be blank.' };
  const badFormat = { code: 'validation_match_invalid', message: 'Must be in a valid format.' };
  const atLeastOne = { code: 'validation_min_greater_equal_than_required', message: 'Must be no less than 1.', params: { threshold: 1 } };
  const cases = [
    [[{ ...rule, maxRequests: 0 }], { rules: { 0: { maxRequests: required } } }],
    [[{ ...rule, duration: 0 }], { rules: { 0: { duration: required } } }],
    [[{ ...rule, maxRequests: -1, duration: -5 }], { rules: { 0: { maxRequests: atLeastOne, duration: atLeastOne } } }],
    [[{ label: '*:auth' }], { rules: { 0: { maxRequests: required, duration: required } } }],
    [[{ ...rule, label: '' }], { rules: { 0: { label: required } } }],
    [[{ ...rule, label: 'bad label!' }], { rules: { 0: { label: badFormat } } }],
    [[rule, { ...rule, label: 'users auth' }], { rules: { 1: { label: badFormat } } }],
    [[{ ...rule, audience: '@nobody' }], { rules: { 0: { audience: { code: 'validation_in_invalid', message: 'Must be a valid value.' } } } }],
    [[], { rules: required }],
  ];
  const conflict = {
    code: 'validation_conflicting_rate_limit_rule',
    message: 'Rate limit rule configuration with label *:auth already exists or conflicts with another rule.',
    params: { label: '*:auth' },
  };
  // The same label twice conflicts, even with a different audience.
  cases.push([[rule, { ...rule, maxRequests: 5 }], { rules: { 1: { label: conflict } } }]);
  cases.push([[rule, { ...rule, audience: '@guest' }], { rules: { 1: { label: conflict } } }]);
  for (const [rules, expected] of cases) {
    const body = await expectSdkError(su.settings.update({ rateLimits: { enabled: true, rules } }), 400, SAVE_FAILED);
    assert.deepEqual(body.data, { rateLimits: expected }, JSON.stringify(rules));
  }
  // Rules are validated even while the limiter is disabled.
  const off = await expectSdkError(su.settings.update({ rateLimits: { enabled: false, rules: [{ ...rule, duration: 0 }] } }), 400, SAVE_FAILED);
  assert.deepEqual(off.data, { rateLimits: { rules: { 0: { duration: required } } } });
  const ips = await expectSdkError(su.settings.update({ rateLimits: { excludedIPs: ['not-an-ip'] } }), 400, SAVE_FAILED);
  // PocketBase's code really is spelled "invlaid".
  const badIp = { code: 'validation_invlaid_ip_or_subnet', message: 'Invalid IP or CIDR subnet.' };
  assert.deepEqual(ips.data, { rateLimits: { excludedIPs: { 0: badIp } } });
  assert.deepEqual((await su.settings.getAll()).rateLimits, before);

  // Every label form is accepted: "METHOD /path", "/path", "/prefix/", "collection:tag", "*:tag", "tag".
  const labels = ['POST /api/collections/users/auth-with-password', '/api/health', '/api/', 'users:auth', '*:create', 'list'];
  await withLimits(su, { enabled: false, rules: labels.map((label) => ({ label, maxRequests: 10, duration: 10 })) }, async (saved) => {
    assert.deepEqual(saved.rules.map((r) => r.label), labels);
  });
  // One label may have a @guest and an @auth rule (only "" conflicts with the others).
  const split = [{ ...rule, audience: '@guest' }, { ...rule, audience: '@auth', maxRequests: 9 }];
  await withLimits(su, { enabled: false, rules: split }, async (saved) => {
    assert.deepEqual(saved.rules.map((r) => r.audience), ['@guest', '@auth']);
  });
  assert.deepEqual((await su.settings.getAll()).rateLimits, before);
});
