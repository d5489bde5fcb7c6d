// Adding a phone on the account page in a real browser: the server texts to a signed webhook
// sink on 127.0.0.1 (tests/sdk/sms-sink.mjs); a wrong code keeps the form, "send a new code"
// texts again, the right code shows the backup codes once, and the next sign-in offers the text
// message as its second step, which signs in with the code texted. axe-core checks every page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { startSmsSink } from '../../sdk/sms-sink.mjs';
import { apiOf, checkPage, haveChromium, openBrowser } from '../browser.mjs';

const PASSWORD = 'correct horse battery';
const PHONE = '+14155552671';
const SINK_SECRET = 'pages-sink-secret';
const ACCOUNT = '/_/account?collection=users';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;
let sink;
const api = (path, options) => apiOf(server.url)(path, options);

before(async () => {
  if (skip) return;
  server = await startServer({ kind: 'gatehouse', limits: 'off' });
  sink = await startSmsSink(SINK_SECRET);
  const su = await api('/api/collections/_superusers/auth-with-password', {
    body: { identity: server.suEmail, password: server.suPassword },
  });
  assert.equal(su.status, 200, JSON.stringify(su.data));
  const token = su.data.token;
  const sms = { enabled: true, provider: 'webhook', webhook: { url: sink.url, secret: SINK_SECRET } };
  const settings = await api('/api/settings', { method: 'PATCH', token, body: { sms } });
  assert.equal(settings.status, 200, JSON.stringify(settings.data));
  const users = await api('/api/collections/users', { method: 'PATCH', token, body: { sms: { enabled: true } } });
  assert.equal(users.status, 200, JSON.stringify(users.data));
});
after(async () => {
  await server?.stop();
  await sink?.close();
  if (sink) assert.equal(sink.badSignatures, 0, 'every message was signed with the webhook secret');
});

async function signIn(page, email) {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

async function onAccountPage(page) {
  await page.waitForURL(`**${ACCOUNT}*`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
}

test('add a phone on the account page, then sign in with a texted code', { skip }, async () => {
  const email = 'phone@example.com';
  const created = await api('/api/collections/users/records', {
    body: { email, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  assert.equal(created.status, 200, JSON.stringify(created.data));
  const b = await openBrowser();
  try {
    await b.page.goto(`${server.url}${ACCOUNT}`);
    await b.page.waitForURL('**/_/login?**');
    await signIn(b.page, email);
    await onAccountPage(b.page);

    // A number the API refuses: its message under the field, nothing texted.
    await b.page.getByLabel(/Phone number/).fill('555-0100');
    await b.page.getByRole('button', { name: 'Add a phone number' }).click();
    await b.page.getByText(/international format/).first().waitFor();
    assert.equal(sink.messages.length, 0);
    await checkPage(b.page, 'account-sms-01-refused-number');

    await b.page.getByLabel(/Phone number/).fill(PHONE);
    await b.page.getByRole('button', { name: 'Add a phone number' }).click();
    await b.page.getByRole('heading', { name: 'Add a phone number' }).waitFor();
    assert.match(await b.page.locator('main').innerText(), new RegExp(`text message to \\${PHONE}`));
    assert.equal(sink.to(PHONE).length, 1);
    await checkPage(b.page, 'account-sms-02-code-sent');

    await b.page.getByLabel('Code').fill('000000');
    await b.page.getByRole('button', { name: 'Confirm' }).click();
    await b.page.getByRole('alert').waitFor();
    assert.equal(await b.page.getByRole('alert').innerText(), 'Invalid or expired code.');

    await b.page.getByRole('button', { name: 'Send a new code' }).click();
    await b.page.waitForLoadState();
    assert.equal(sink.to(PHONE).length, 2, 'texted again');
    await b.page.getByLabel('Code').fill(sink.code(PHONE));
    await b.page.getByRole('button', { name: 'Confirm' }).click();
    await b.page.getByRole('heading', { name: 'Save your backup codes' }).waitFor();
    assert.equal((await b.page.locator('ul.codes li').allInnerTexts()).length, 10);
    await checkPage(b.page, 'account-sms-03-backup-codes');

    await b.page.getByRole('link', { name: /back to my account/ }).click();
    await onAccountPage(b.page);
    assert.match(await b.page.locator('main').innerText(), /Text message \(\+1 \*\*\* \*\*\* \*\*71\)/);
    assert.equal(await b.page.getByRole('button', { name: 'Add a phone number' }).count(), 0);

    // The next sign-in asks for the texted code.
    await b.page.getByRole('button', { name: 'Sign out' }).click();
    await b.page.waitForURL('**/_/login?**');
    await signIn(b.page, email);
    await b.page.getByRole('button', { name: 'Text me a code' }).click();
    await b.page.waitForLoadState();
    assert.equal(sink.to(PHONE).length, 3);
    await b.page.getByLabel('Code').fill(sink.code(PHONE));
    await b.page.getByRole('button', { name: 'Continue' }).click();
    await onAccountPage(b.page);
  } finally {
    await b.close();
  }
});
