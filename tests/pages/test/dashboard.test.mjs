// The superuser dashboard at /_/ in a real browser: a superuser signs in (and one with an
// authenticator app passes the second step), finds a user by search, sees the user's factors,
// revokes a trusted device and resets two-factor (both checked through the API afterwards), gets
// an impersonation token, filters the audit log, changes the SMTP settings and sends a test mail
// that arrives at an SMTP server this test runs on 127.0.0.1, sees a field error next to its
// field, and is signed out when idle or when the token expires. axe-core checks every view; the
// console must stay free of errors (a blocked inline script or style would show there).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { startSmtpSink } from '../../sdk/smtp-sink.mjs';
import { account, apiOf, appCode, checkBoth, checkPage, haveChromium, openBrowser, watchConsole } from '../browser.mjs';

const PASSWORD = 'correct horse battery';
const STORE = 'gatehouse.dashboard';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;
const api = (path, options) => apiOf(server.url)(path, options);
let smtp;

before(async () => {
  if (skip) return;
  server = await startServer({ kind: 'gatehouse', limits: 'off' });
  smtp = await startSmtpSink();
});
after(async () => {
  await server?.stop();
  await smtp?.close();
});

async function superuserToken(identity = server.suEmail, password = server.suPassword) {
  const r = await api('/api/collections/_superusers/auth-with-password', { body: { identity, password } });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data.token;
}

/** Enrols an authenticator app for record `id` of `collection` with its own `token`. */
async function enrolTotp(collection, id, token) {
  const base = `/api/collections/${collection}/records/${id}/mfa`;
  const enrolment = await api(`${base}/totp`, { token, body: {} });
  assert.equal(enrolment.status, 200, JSON.stringify(enrolment.data));
  const acct = account(enrolment.data.uri);
  const confirmed = await api(`${base}/totp/confirm`, { token, body: { code: await appCode(acct) } });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.data));
  return acct;
}

/** A user with a name, an authenticator app and one trusted device. */
async function userWithDevice(email, name) {
  const created = await api('/api/collections/users/records', {
    body: { email, name, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  assert.equal(created.status, 200, JSON.stringify(created.data));
  const id = created.data.id;
  const login = await api('/api/collections/users/auth-with-password', { body: { identity: email, password: PASSWORD } });
  const acct = await enrolTotp('users', id, login.data.token);
  const challenge = await api('/api/collections/users/auth-with-password', { body: { identity: email, password: PASSWORD } });
  assert.equal(challenge.status, 401, JSON.stringify(challenge.data));
  const trusted = await api('/api/collections/users/auth-with-totp', {
    body: { mfaId: challenge.data.mfaId, code: await appCode(acct, 1), trustDevice: true },
  });
  assert.equal(trusted.status, 200, JSON.stringify(trusted.data));
  assert.ok(trusted.data.meta.deviceToken);
  return id;
}

async function signIn(page, identity = server.suEmail, password = server.suPassword) {
  await page.goto(`${server.url}/_/`);
  await page.getByRole('heading', { name: 'Superuser sign-in' }).waitFor();
  await page.getByLabel('Email', { exact: true }).fill(identity);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const section = (page, heading) => page.locator('section', { has: page.getByRole('heading', { name: heading, exact: true }) });
const stored = (page) => page.evaluate((key) => sessionStorage.getItem(key), STORE);

test('a superuser manages a user, the audit log and the settings from the dashboard', { skip }, async () => {
  const annId = await userWithDevice('ann@example.com', 'Ann Lee');
  await api('/api/collections/users/records', {
    body: { email: 'bob@example.com', name: 'Bob Stone', password: PASSWORD, passwordConfirm: PASSWORD },
  });
  const su = await superuserToken();
  const b = await openBrowser();
  const errors = watchConsole(b.page);
  const page = b.page;
  try {
    await page.goto(`${server.url}/_/`);
    await page.getByRole('heading', { name: 'Superuser sign-in' }).waitFor();
    await checkBoth(page, 'dash-01-sign-in');
    await signIn(page);
    await page.getByRole('heading', { name: 'Auth collections' }).waitFor();
    await checkBoth(page, 'dash-02-collections');
    const session = JSON.parse(await stored(page));
    assert.ok(session.token && session.expires > Date.now(), 'the token and its expiry are in sessionStorage');
    assert.ok(!page.url().includes(session.token), 'no token in the URL');

    // Find Ann by search, and only Ann.
    await page.getByRole('link', { name: 'Records of users' }).click();
    await page.getByRole('heading', { name: 'Records of users' }).waitFor();
    await page.getByLabel('Search by email or name').fill('Ann "Lee"\\');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No record matches.').waitFor();
    await page.getByLabel('Search by email or name').fill('ann');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'ann@example.com' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'bob@example.com' }).count(), 0);
    await checkBoth(page, 'dash-03-records');

    // Her factors and her trusted device.
    await page.getByRole('link', { name: 'ann@example.com' }).click();
    await page.getByRole('heading', { name: 'ann@example.com' }).waitFor();
    const mfa = section(page, 'Two-factor authentication');
    await mfa.getByRole('cell', { name: 'Authenticator app' }).waitFor();
    await checkBoth(page, 'dash-04-record');

    await section(page, 'Trusted devices').getByRole('button', { name: /^Revoke/ }).click();
    await page.getByText('The device was revoked').waitFor();
    const devices = await api(`/api/collections/users/records/${annId}/mfa/devices`, { method: 'GET', token: su });
    assert.deepEqual(devices.data, [], 'the API lists no device any more');

    await mfa.getByRole('button', { name: 'Reset two-factor…' }).click();
    await mfa.getByRole('button', { name: 'Yes, reset two-factor' }).click();
    await page.getByText('Two-factor authentication was reset.').waitFor();
    const overview = await api(`/api/collections/users/records/${annId}/mfa`, { method: 'GET', token: su });
    assert.deepEqual(overview.data.factors, [], 'the API shows no factor any more');
    await page.getByText('No second factors are set up.').waitFor();

    // An impersonation token, shown once, that works.
    const impersonate = section(page, 'Impersonate');
    await impersonate.getByRole('button', { name: 'Get a token' }).click();
    const token = await impersonate.getByLabel('Token (shown once)').inputValue();
    const asAnn = await api(`/api/collections/users/records/${annId}`, { method: 'GET', token });
    assert.equal(asAnn.status, 200, JSON.stringify(asAnn.data));
    assert.ok(!page.url().includes(token));
    await checkPage(page, 'dash-05-impersonate');

    // The audit log, filtered by type.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByLabel('Type').selectOption('device.revoked');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((u) => u.hash === '#/audit?type=device.revoked');
    await page.getByRole('status').filter({ hasText: '1 event.' }).waitFor();
    const types = await page.locator('tbody tr td:nth-child(2)').allInnerTexts();
    assert.deepEqual(types, ['device.revoked']);
    // A view leaves out what it has nothing for (here the pager of a single page) without a trace.
    assert.ok(!/\bnull\b|undefined/.test(await page.locator('main').innerText()), 'no stray null on the page');
    await checkBoth(page, 'dash-06-audit');

    // SMTP to this test's server, then a test mail through it.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    await checkBoth(page, 'dash-07-settings');
    const mail = section(page, 'Mail (SMTP)');
    await mail.getByLabel('Send mail over SMTP').check();
    await mail.getByLabel('Host').fill('127.0.0.1');
    await mail.getByLabel('Port').fill(String(smtp.port));
    await mail.getByLabel('Encryption').selectOption('none');
    await mail.getByRole('button', { name: 'Save' }).click();
    await mail.getByText('The mail settings were saved.').waitFor();
    const settings = await api('/api/settings', { method: 'GET', token: su });
    assert.equal(settings.data.smtp.enabled, true);
    assert.equal(settings.data.smtp.port, smtp.port);
    assert.equal(settings.data.smtp.tlsMode, 'none');

    await mail.getByLabel('Send to', { exact: true }).fill('tester@example.com');
    await mail.getByLabel('Template').selectOption('otp');
    await mail.getByRole('button', { name: 'Send a test mail' }).click();
    await mail.getByText('A test mail was sent to tester@example.com.').waitFor();
    const arrived = await smtp.waitFor((m) => m.to.includes('tester@example.com'), 10_000);
    assert.equal(arrived.subject, 'OTP for Gatehouse');
    assert.match(arrived.text, /123456/);

    // A refused value: the message next to the form, the field's own next to the field.
    const application = section(page, 'Application');
    await application.getByLabel('Sender address').fill('not an address');
    await application.getByRole('button', { name: 'Save' }).click();
    await application.getByRole('alert').waitFor();
    assert.match(await application.getByRole('alert').innerText(), /saving the new settings/);
    await application.locator('.field-error').getByText('Must be a valid email address.').waitFor();
    assert.equal(await application.getByLabel('Sender address').getAttribute('aria-invalid'), 'true');
    await checkPage(page, 'dash-08-settings-error');
    const unchanged = await api('/api/settings', { method: 'GET', token: su });
    assert.equal(unchanged.data.meta.senderAddress, 'support@example.com');

    // A collection's auth options.
    await page.getByRole('link', { name: 'Collections' }).click();
    await page.getByRole('link', { name: 'Auth options of users' }).click();
    await page.getByRole('heading', { name: 'Auth options of users' }).waitFor();
    await checkBoth(page, 'dash-09-auth-options');
    await page.getByLabel('Issuer shown in the app').fill('Acme');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The auth options were saved.').waitFor();
    const users = await api('/api/collections/users', { method: 'GET', token: su });
    assert.equal(users.data.totp.issuer, 'Acme');

    // Idle: signed out, token gone.
    await page.evaluate((key) => {
      const s = JSON.parse(sessionStorage.getItem(key));
      s.idleUntil = Date.now() - 1;
      sessionStorage.setItem(key, JSON.stringify(s));
    }, STORE);
    await page.getByText('You were signed out after 15 minutes without activity.').waitFor();
    await page.getByRole('heading', { name: 'Superuser sign-in' }).waitFor();
    assert.equal(await stored(page), null, 'the token is removed');
    await checkPage(page, 'dash-10-signed-out');

    assert.deepEqual(errors, [], 'no console errors');
  } catch (e) {
    console.log('the page showed:', await page.locator('main').innerText(), 'console errors:', errors);
    throw e;
  } finally {
    await b.close();
  }
});

test('a superuser with an authenticator app passes the second step; an expired token signs out', { skip }, async () => {
  const su = await superuserToken();
  const email = 'ops@example.com';
  const created = await api('/api/collections/_superusers/records', {
    token: su,
    body: { email, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  assert.equal(created.status, 200, JSON.stringify(created.data));
  const acct = await enrolTotp('_superusers', created.data.id, await superuserToken(email, PASSWORD));
  const b = await openBrowser();
  const errors = watchConsole(b.page);
  const page = b.page;
  try {
    await signIn(page, email, PASSWORD);
    await page.getByRole('heading', { name: 'Second step' }).waitFor();
    await checkBoth(page, 'dash-11-second-step');
    const app = section(page, 'Authenticator app');
    await app.getByLabel('Code from your authenticator app').fill(await appCode(acct, 1));
    await app.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Auth collections' }).waitFor();

    await page.evaluate((key) => {
      const s = JSON.parse(sessionStorage.getItem(key));
      s.expires = Date.now() - 1;
      sessionStorage.setItem(key, JSON.stringify(s));
    }, STORE);
    await page.getByText('Your session expired. Please sign in again.').waitFor();
    assert.equal(await stored(page), null, 'the token is removed');

    // The sign-out button ends the session at once.
    await signIn(page);
    await page.getByRole('heading', { name: 'Auth collections' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    assert.equal(await stored(page), null);
    assert.deepEqual(errors, [], 'no console errors');
  } finally {
    await b.close();
  }
});

test('PocketBase-style mail links on /_/ still reach the confirm pages', { skip }, async () => {
  const b = await openBrowser();
  try {
    await b.page.goto(`${server.url}/_/#/auth/confirm-password-reset/abc.def-ghi`);
    await b.page.waitForURL('**/_/auth/confirm-password-reset/abc.def-ghi');
  } finally {
    await b.close();
  }
});
