// The JS SDK's all-in-one OAuth2 flow in a real browser: a page of the test's own calls
// `pb.collection('users').authWithOAuth2({provider: 'oidc'})`; the SDK opens the realtime stream
// and the popup; a person signs in on the provider's login page and allows access on its consent
// page (panva's oidc-provider, tests/oidc/provider.mjs --interactive); the provider sends the
// popup to /api/oauth2-redirect, which hands the code to the page's realtime client; the SDK
// exchanges it. The test checks the SDK's authStore (and the token with auth-refresh), then the
// same flow when the collection asks for a second factor: the 401 with mfaId, then the password
// as second step.
//
// The page and the SDK are served by the test on their own port, with every other path passed
// on to Gatehouse, so the SDK talks to its own origin as an app behind one address does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../sdk/harness.mjs';
import { apiOf, haveChromium, openBrowser, watchConsole } from '../browser.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK = join(HERE, '../../sdk/node_modules/pocketbase/dist/pocketbase.es.mjs');
const PROVIDER = join(HERE, '../../oidc/provider.mjs');
const ACCOUNT = { sub: 'popup-sub', email: 'popup@example.com', email_verified: true, name: 'Pat Popup' };
const PASSWORD = 'popup-password-123';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';

let server;
let app;
let idp;
const api = (path, options) => apiOf(server.url)(path, options);

const PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Popup test app</title></head>
<body><main><h1>Popup test app</h1><button id="oauth2" type="button">Sign in with Test IdP</button></main>
<script type="module">
import PocketBase from '/sdk.js';
const pb = new PocketBase(location.origin);
window.pb = pb;
document.getElementById('oauth2').addEventListener('click', async () => {
  try {
    const answer = await pb.collection('users').authWithOAuth2({ provider: 'oidc' });
    window.result = { ok: true, meta: answer.meta };
  } catch (e) {
    window.result = { ok: false, status: e.status, response: e.response, message: e.message };
  }
});
</script></body></html>`;

/** The test app's origin: the page, the SDK, and everything else passed on to Gatehouse. */
function startApp(target) {
  const sdk = readFileSync(SDK);
  const srv = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(PAGE);
    }
    if (req.url === '/sdk.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      return res.end(sdk);
    }
    // The stream on a connection of its own, as a browser's first one is: Gatehouse serves
    // such a stream outside its HTTP library (crates/gatehouse/src/stream_handoff.rs).
    const agent = req.url.startsWith('/api/realtime') && req.method === 'GET' ? false : undefined;
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({ url: `http://127.0.0.1:${srv.address().port}`, srv })));
}

/** The provider, started with a login and a consent page and the app's redirect URI. */
async function startProvider(redirectUri) {
  const child = spawn('node', [PROVIDER, '--interactive', '--redirect-uri', redirectUri], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((ok, fail) => {
    lines.once('line', ok);
    child.once('exit', (code) => fail(new Error(`provider exited (${code}): run npm ci in tests/oidc`)));
  });
  const port = /^LISTENING (\d+)$/.exec(first)?.[1];
  assert.ok(port, `provider did not start: ${first}`);
  return { issuer: `http://127.0.0.1:${port}`, stop: () => child.stdin.end() };
}

async function superuserToken() {
  const r = await api('/api/collections/_superusers/auth-with-password', {
    body: { identity: server.suEmail, password: server.suPassword },
  });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data.token;
}

before(async () => {
  if (skip) return;
  server = await startServer({ kind: 'gatehouse', limits: 'off' });
  app = await startApp(server.url);
  idp = await startProvider(`${app.url}/api/oauth2-redirect`);
  const created = await fetch(`${idp.issuer}/test/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ACCOUNT),
  });
  assert.equal(created.status, 200);
  const r = await api('/api/collections/users', {
    method: 'PATCH',
    token: await superuserToken(),
    body: {
      oauth2: {
        enabled: true,
        providers: [{
          name: 'oidc', displayName: 'Test IdP', clientId: 'gatehouse', clientSecret: 'gatehouse-test-secret',
          authURL: `${idp.issuer}/auth`, tokenURL: `${idp.issuer}/token`, userInfoURL: '',
          extra: { jwksURL: `${idp.issuer}/jwks`, issuers: [idp.issuer] },
        }],
      },
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.data));
});

after(async () => {
  idp?.stop();
  app?.srv.close();
  await server?.stop();
});

/** Clicks the page's button and signs in through the popup as a person would; the page's result. */
async function signInThroughPopup(page) {
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByRole('button', { name: 'Sign in with Test IdP' }).click()]);
  await popup.getByRole('heading', { name: 'Sign in to Test IdP' }).waitFor();
  await popup.getByLabel('User name').fill(ACCOUNT.sub);
  await popup.getByRole('button', { name: 'Sign in' }).click();
  await popup.getByRole('heading', { name: 'Allow access' }).waitFor();
  const closed = popup.waitForEvent('close');
  await popup.getByRole('button', { name: 'Allow' }).click();
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 });
  await closed;
  return page.evaluate(() => window.result);
}

test('the SDK signs in through the OAuth2 popup', { skip }, async () => {
  const b = await openBrowser();
  const errors = watchConsole(b.page);
  try {
    await b.page.goto(app.url);
    const result = await signInThroughPopup(b.page);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.meta.isNew, true);
    assert.equal(result.meta.email, ACCOUNT.email);

    const store = await b.page.evaluate(() => ({
      valid: window.pb.authStore.isValid,
      token: window.pb.authStore.token,
      email: window.pb.authStore.record?.email,
      name: window.pb.authStore.record?.name,
    }));
    assert.equal(store.valid, true);
    assert.equal(store.email, ACCOUNT.email);
    assert.equal(store.name, ACCOUNT.name);
    // The token is a real one: Gatehouse refreshes it.
    const refreshed = await api('/api/collections/users/auth-refresh', { token: store.token });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.data));
    assert.equal(refreshed.data.record.email, ACCOUNT.email);
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
  }
});

test('an OAuth2 first step, then the password as second factor', { skip }, async () => {
  const su = await superuserToken();
  const users = await api(`/api/collections/users/records?filter=${encodeURIComponent(`email="${ACCOUNT.email}"`)}`, {
    method: 'GET',
    token: su,
  });
  assert.equal(users.data.items.length, 1, JSON.stringify(users.data));
  const id = users.data.items[0].id;
  const pw = await api(`/api/collections/users/records/${id}`, {
    method: 'PATCH',
    token: su,
    body: { password: PASSWORD, passwordConfirm: PASSWORD },
  });
  assert.equal(pw.status, 200, JSON.stringify(pw.data));
  const mfa = await api('/api/collections/users', { method: 'PATCH', token: su, body: { mfa: { enabled: true } } });
  assert.equal(mfa.status, 200, JSON.stringify(mfa.data));

  const b = await openBrowser();
  try {
    await b.page.goto(app.url);
    const result = await signInThroughPopup(b.page);
    assert.equal(result.ok, false, JSON.stringify(result));
    assert.equal(result.status, 401);
    const mfaId = result.response.mfaId;
    assert.ok(mfaId, JSON.stringify(result));
    assert.equal(await b.page.evaluate(() => window.pb.authStore.isValid), false);

    const second = await b.page.evaluate(
      ([email, password, mfaId]) => window.pb.collection('users').authWithPassword(email, password, { mfaId })
        .then((r) => ({ ok: true, record: r.record }), (e) => ({ ok: false, status: e.status, response: e.response })),
      [ACCOUNT.email, PASSWORD, mfaId],
    );
    assert.equal(second.ok, true, JSON.stringify(second));
    assert.equal(second.record.id, id);
    const token = await b.page.evaluate(() => window.pb.authStore.token);
    const refreshed = await api('/api/collections/users/auth-refresh', { token });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.data));
  } finally {
    await b.close();
  }
});
