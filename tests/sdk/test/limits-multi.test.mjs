// Two Gatehouse instances on one PostgreSQL database (the same schema) count one rate limit
// together: the counters live in the database, and so does the settings save that resets them.
// Gatehouse-only, and PostgreSQL-only (on SQLite the counters are in each process's memory).
// The second instance is the harness's `sibling` of the first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../harness.mjs';
import { KIND, client, expectSdkError, gatehouseOnly, superuserClient, useServer } from './helpers.mjs';

const skip = KIND === 'pocketbase' ? gatehouseOnly.skip : process.env.GATEHOUSE_TEST_PG_URL ? false : 'needs GATEHOUSE_TEST_PG_URL (PostgreSQL)';
// The limiter on (rules set below), the failed-password lockout off: only the limiter counts.
const ctx = skip ? null : useServer({ limits: 'limiter' });
// Each instance caches the settings for up to 1 s.
const SETTINGS_CACHE_MS = 1200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The status of a guest's failed password login on `server` (400, or 429 once limited). */
async function badLogin(server) {
  try {
    await client(server).collection('users').authWithPassword('nobody@example.com', 'wrong-password-1');
  } catch (err) {
    if (typeof err?.status !== 'number') throw err;
    return err.status;
  }
  throw new Error('the bad login succeeded');
}

/** Bad logins on the servers in turn; returns the statuses. */
async function alternate(servers, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await badLogin(servers[i % servers.length]));
  return out;
}

test('two instances on one database share one *:auth limit; a settings save resets it on both', { skip }, async (t) => {
  const a = ctx.server;
  const b = await startServer({ sibling: a });
  let failed = true;
  t.after(async () => {
    if (failed) console.error(`--- sibling server log (${b.logFile}) ---\n${b.log()}`);
    await b.stop();
  });
  assert.equal(b.dbUrl, a.dbUrl);
  assert.notEqual(b.url, a.url);

  // One superuser, one token for both: the token minted by A is accepted by B.
  const suA = await superuserClient(a);
  const suB = client(b);
  suB.authStore.save(suA.authStore.token, suA.authStore.record);

  const rateLimits = { enabled: true, rules: [{ label: '*:auth', maxRequests: 3, duration: 60 }] };
  await suA.settings.update({ rateLimits });
  await sleep(SETTINGS_CACHE_MS);
  assert.deepEqual((await suB.settings.getAll()).rateLimits.rules, [{ label: '*:auth', audience: '', duration: 60, maxRequests: 3 }]);

  // A, B, A: three allowed; then both refuse, whichever is asked.
  assert.deepEqual(await alternate([a, b], 6), [400, 400, 400, 429, 429, 429]);
  const body = await expectSdkError(client(a).collection('users').authWithPassword('nobody@example.com', 'wrong-password-1'), 429, 'Too Many Requests.');
  assert.deepEqual(body, { data: {}, message: 'Too Many Requests.', status: 429 });

  // Saving any setting, on either instance, starts the shared window afresh.
  await suB.settings.update({ meta: { appName: 'Two Instances' } });
  await sleep(SETTINGS_CACHE_MS);
  assert.deepEqual(await alternate([b, a], 5), [400, 400, 400, 429, 429]);

  // Both instances write to the one audit log: a login.failure per 400 above (the 429s were
  // refused before the login handler ran).
  const failures = await suB.send('/api/audit', { method: 'GET', query: { type: 'login.failure' } });
  assert.equal(failures.totalItems, 6);
  failed = false;
});
