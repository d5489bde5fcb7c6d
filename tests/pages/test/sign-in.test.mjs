// The hosted sign-in page in a real browser: a user who set up an authenticator app through the
// API signs in with a code from an independent TOTP library, with a backup code, trusts the
// device, and a user of a collection that requires two-step sign-in sets it up from the page's QR
// image (decoded by an independent decoder). Each page is screenshotted and checked by axe-core.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { account, apiOf, appCode, checkPage, haveChromium, openBrowser, readQr } from '../browser.mjs';

const PASSWORD = 'correct horse battery';
const LANDING = '/api/health';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;
const api = (path, options) => apiOf(server.url)(path, options);

before(async () => {
  if (!skip) server = await startServer({ kind: 'gatehouse', limits: 'off' });
});
after(async () => {
  await server?.stop();
});

async function signUp(email) {
  const created = await api('/api/collections/users/records', {
    body: { email, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  assert.equal(created.status, 200, JSON.stringify(created.data));
  const login = await api('/api/collections/users/auth-with-password', { body: { identity: email, password: PASSWORD } });
  return { id: created.data.id, token: login.data.token };
}

async function enrolThroughApi(email) {
  const user = await signUp(email);
  const base = `/api/collections/users/records/${user.id}/mfa`;
  const enrolment = await api(`${base}/totp`, { token: user.token, body: {} });
  assert.equal(enrolment.status, 200, JSON.stringify(enrolment.data));
  const acct = account(enrolment.data.uri);
  const confirmed = await api(`${base}/totp/confirm`, { token: user.token, body: { code: await appCode(acct) } });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.data));
  return { acct, backupCodes: confirmed.data.backupCodes };
}

async function signInWithPassword(page, email, name) {
  await page.goto(`${server.url}/_/login?collection=users&redirect=${encodeURIComponent(LANDING)}`);
  if (name) {
    await checkPage(page, name);
    // The same page in dark mode: its colours must pass axe's contrast checks too.
    await page.emulateMedia({ colorScheme: 'dark' });
    await checkPage(page, `${name}-dark`);
    await page.emulateMedia({ colorScheme: 'light' });
  }
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

async function assertLanded(page, context) {
  assert.equal(new URL(page.url()).pathname, LANDING);
  const session = (await context.cookies()).find((c) => c.name === 'gh_session');
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  assert.ok(!page.url().includes(session.value), 'no token in the URL');
  const refreshed = await api('/api/collections/users/auth-refresh', { token: session.value, body: {} });
  assert.equal(refreshed.status, 200, 'the cookie holds a working session');
}

test('sign in with an authenticator code, then with a backup code, then from a trusted device', { skip }, async () => {
  const email = 'ann@example.com';
  const { acct, backupCodes } = await enrolThroughApi(email);

  const first = await openBrowser();
  try {
    await signInWithPassword(first.page, email, '01-sign-in');
    await first.page.getByRole('heading', { name: 'Authenticator app' }).waitFor();
    await checkPage(first.page, '02-second-step');
    // The next step: the current one was spent confirming the app.
    await first.page.getByLabel('Code from your authenticator app').fill(await appCode(acct, 1));
    await first.page.getByRole('button', { name: 'Verify' }).click();
    await first.page.waitForURL(`**${LANDING}`);
    await assertLanded(first.page, first.context);
  } finally {
    await first.close();
  }

  const second = await openBrowser();
  try {
    await signInWithPassword(second.page, email);
    await second.page.getByLabel(/One of your backup codes/).fill(backupCodes[0]);
    const backupForm = second.page.locator('form', { has: second.page.getByLabel(/One of your backup codes/) });
    await backupForm.getByLabel('Trust this device').check();
    await backupForm.getByRole('button', { name: 'Use backup code' }).click();
    await second.page.waitForURL(`**${LANDING}`);
    await assertLanded(second.page, second.context);
    const device = (await second.context.cookies()).find((c) => c.name === 'gh_device');
    assert.ok(device?.httpOnly, 'the device cookie is set, HttpOnly');
    // The trusted device skips the second step.
    await second.context.clearCookies({ name: 'gh_session' });
    await signInWithPassword(second.page, email);
    await second.page.waitForURL(`**${LANDING}`);
    await assertLanded(second.page, second.context);
  } finally {
    await second.close();
  }
});

test('a wrong code shows the message on the page and keeps the form', { skip }, async () => {
  const email = 'bob@example.com';
  await enrolThroughApi(email);
  const b = await openBrowser();
  try {
    await signInWithPassword(b.page, email);
    await b.page.getByLabel('Code from your authenticator app').fill('000000');
    await b.page.getByRole('button', { name: 'Verify' }).click();
    await b.page.getByRole('alert').waitFor();
    assert.equal(await b.page.getByRole('alert').innerText(), 'Invalid or expired code.');
    await checkPage(b.page, '03-wrong-code');
    assert.ok(!(await b.context.cookies()).some((c) => c.name === 'gh_session'));
  } finally {
    await b.close();
  }
});

test('the whole sign-in works with the keyboard alone, and signing out clears the session', { skip }, async () => {
  const email = 'dee@example.com';
  const { acct } = await enrolThroughApi(email);
  const b = await openBrowser();
  try {
    // No redirect: the page itself says "signed in" and offers to sign out.
    await b.page.goto(`${server.url}/_/login`);
    await b.page.locator('#identity:focus').waitFor(); // the page puts the focus there
    await b.page.keyboard.type(email);
    await b.page.keyboard.press('Tab');
    await b.page.keyboard.type(PASSWORD);
    await b.page.keyboard.press('Enter');
    await b.page.getByRole('heading', { name: 'Authenticator app' }).waitFor();
    await b.page.keyboard.press('Tab'); // the first field of the page: the app's code
    await b.page.keyboard.type(await appCode(acct, 1));
    await b.page.keyboard.press('Enter');
    await b.page.getByText('You are signed in.').waitFor();
    await checkPage(b.page, '06-signed-in');
    assert.ok((await b.context.cookies()).some((c) => c.name === 'gh_session'));
    await b.page.keyboard.press('Tab'); // the only control: Sign out
    await b.page.keyboard.press('Enter');
    await b.page.getByText('You are signed out.').waitFor();
    await checkPage(b.page, '07-signed-out');
    assert.ok(!(await b.context.cookies()).some((c) => c.name === 'gh_session'), 'the session cookie is gone');
  } finally {
    await b.close();
  }
});

test('a collection that requires two-step sign-in sets it up from the QR code', { skip }, async () => {
  const su = await api('/api/collections/_superusers/auth-with-password', {
    body: { identity: server.suEmail, password: server.suPassword },
  });
  const required = await api('/api/collections/users', {
    method: 'PATCH',
    token: su.data.token,
    body: { mfa: { enabled: true }, otp: { enabled: false }, totp: { enabled: true } },
  });
  assert.equal(required.status, 200, JSON.stringify(required.data));
  const email = 'cy@example.com';
  await signUp(email).catch(() => {});
  const b = await openBrowser();
  try {
    await signInWithPassword(b.page, email);
    await b.page.getByRole('img', { name: /QR code/ }).waitFor();
    await checkPage(b.page, '04-enrolment');
    const uri = await readQr(b.page);
    const acct = account(uri);
    const key = await b.page.locator('code.key').innerText();
    assert.equal(key, acct.secret, 'the manual key is the QR code\'s secret');
    await b.page.getByLabel('Code from the app').fill(await appCode(acct));
    await b.page.getByRole('button', { name: 'Confirm' }).click();
    await b.page.getByText('Save your backup codes').waitFor();
    assert.equal(await b.page.locator('ul.codes li').count(), 10);
    await checkPage(b.page, '05-backup-codes');
    await b.page.getByRole('button', { name: /continue/ }).click();
    await b.page.getByLabel('Code from your authenticator app').fill(await appCode(acct, 1));
    await b.page.getByRole('button', { name: 'Verify' }).click();
    await b.page.waitForURL(`**${LANDING}`);
    await assertLanded(b.page, b.context);
  } finally {
    await b.close();
  }
});
