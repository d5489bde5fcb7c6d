// The pages the story tests pass by: each is opened in the browser, screenshotted and checked by
// axe-core (no serious or critical violation), with what it must say. The confirm pages of the
// mailed links (their form, and their answer to a link that is not valid), the emailed-code step
// of the sign-in, the refusals (a form without its token, a redirect to another site, a
// collection that takes no sign-ups), and the account page's "confirm it's you" step.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { apiOf, checkPage, haveChromium, openBrowser } from '../browser.mjs';

const PASSWORD = 'correct horse battery';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;
let su;
const api = (path, options) => apiOf(server.url)(path, options);

before(async () => {
  if (skip) return;
  server = await startServer({ kind: 'gatehouse', limits: 'off' });
  const login = await api('/api/collections/_superusers/auth-with-password', {
    body: { identity: server.suEmail, password: server.suPassword },
  });
  su = login.data.token;
});
after(async () => {
  await server?.stop();
});

async function withBrowser(run) {
  const b = await openBrowser();
  try {
    await run(b.page, b.context);
  } finally {
    await b.close();
  }
}

async function pageSays(page, name, heading, text) {
  await page.getByRole('heading', { name: heading }).waitFor();
  if (text) await page.getByText(text).first().waitFor();
  await checkPage(page, name);
}

test("the mailed links' confirm pages, and their answer to a link that is not valid", { skip }, async () => {
  await withBrowser(async (page) => {
    const flows = [
      ['verification', 'Verify your email', 'Verify my email', []],
      ['password-reset', 'Choose a new password', 'Set new password', ['New password', 'New password again']],
      ['email-change', 'Confirm your new email', 'Confirm new email', ['Your current password']],
    ];
    for (const [flow, heading, button, fields] of flows) {
      await page.goto(`${server.url}/_/auth/confirm-${flow}/not.a-valid.token`);
      await pageSays(page, `every-confirm-${flow}`, heading);
      for (const label of fields) await page.getByLabel(label, { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: button }).click();
      await page.locator('.error').first().waitFor();
      await checkPage(page, `every-confirm-${flow}-refused`);
    }
  });
});

test('the emailed-code step of the sign-in', { skip }, async () => {
  const on = await api('/api/collections/users', { method: 'PATCH', token: su, body: { otp: { enabled: true } } });
  assert.equal(on.status, 200, JSON.stringify(on.data));
  await withBrowser(async (page) => {
    await page.goto(`${server.url}/_/login?collection=users`);
    await page.getByLabel('Or get a code by email').fill('nobody@example.com');
    await page.getByRole('button', { name: 'Email me a code' }).click();
    // The same answer whether or not the address has an account.
    await pageSays(page, 'every-email-code', 'Enter your code', 'If the address has an account');
  });
});

test('refusals: a form without its token, a redirect to another site, no sign-ups', { skip }, async () => {
  const staff = await api('/api/collections', {
    token: su,
    body: { name: 'staff', type: 'auth', createRule: null },
  });
  assert.equal(staff.status, 200, JSON.stringify(staff.data));
  await withBrowser(async (page, context) => {
    await page.goto(`${server.url}/_/login?redirect=${encodeURIComponent('https://elsewhere.example/')}`);
    await pageSays(page, 'every-redirect-refused', 'Sign-in refused', 'not allowed');

    await page.goto(`${server.url}/_/login`);
    await context.clearCookies();
    await page.getByLabel('Email', { exact: true }).fill('ann@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await pageSays(page, 'every-form-expired', 'Form expired', 'Nothing was changed');

    await page.goto(`${server.url}/_/signup?collection=staff`);
    await pageSays(page, 'every-signup-closed', 'Sign up', 'does not take sign-ups');
  });
});

test("the account page's confirm-it's-you step", { skip }, async () => {
  // A window of 0 s: any change of the second steps asks for the password again.
  const window = await api('/api/collections/users', {
    method: 'PATCH',
    token: su,
    body: { mfa: { reauthWindow: 0 }, totp: { enabled: true } },
  });
  assert.equal(window.status, 200, JSON.stringify(window.data));
  const email = 'rae@example.com';
  const created = await api('/api/collections/users/records', {
    body: { email, password: PASSWORD, passwordConfirm: PASSWORD },
  });
  assert.equal(created.status, 200, JSON.stringify(created.data));
  await withBrowser(async (page) => {
    await page.goto(`${server.url}/_/account?collection=users`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await new Promise((resolve) => setTimeout(resolve, 1100)); // older than the window
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await pageSays(page, 'every-reauth', "Confirm it's you");
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('img', { name: /QR code/ }).waitFor();
  });
});
