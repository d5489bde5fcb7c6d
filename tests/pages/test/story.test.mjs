// The whole story of the hosted pages, in one real browser per person, the way people would use
// them: Eve signs up on /_/signup, sets up an authenticator app on her account page from the QR
// image (decoded by jsQR, codes from otplib), saves her backup codes, signs out, signs in with the
// app, then with a backup code while trusting the device, and revokes that device. Then a
// superuser finds her in the dashboard, resets her two-factor and reads her audit log; after
// that her password alone signs her in. Every page is screenshotted and checked by axe-core.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { account, appCode, checkBoth, checkPage, haveChromium, openBrowser, readQr, watchConsole } from '../browser.mjs';

const EMAIL = 'eve@example.com';
const PASSWORD = 'correct horse battery';
const ACCOUNT = '/_/account?collection=users';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;

before(async () => {
  if (!skip) server = await startServer({ kind: 'gatehouse', limits: 'off' });
});
after(async () => {
  await server?.stop();
});

async function onAccountPage(page) {
  await page.waitForURL(`**${ACCOUNT}*`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
}

async function signIn(page) {
  await page.goto(`${server.url}/_/login?collection=users&redirect=${encodeURIComponent(ACCOUNT)}`);
  await page.getByLabel('Email', { exact: true }).fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

async function signOut(b) {
  await b.page.getByRole('button', { name: 'Sign out' }).click();
  await b.page.waitForURL('**/_/login?**');
  assert.ok(!(await b.context.cookies()).some((c) => c.name === 'gh_session'), 'the session cookie is gone');
}

test('sign up, two-factor, backup codes, a trusted device, and a superuser who resets it all', { skip }, async () => {
  const eve = await openBrowser();
  let codes;
  try {
    // Sign up: the sign-in page links to the form, which signs the new account in.
    await eve.page.goto(`${server.url}/_/login?collection=users&redirect=${encodeURIComponent(ACCOUNT)}`);
    await eve.page.getByRole('link', { name: 'Create an account' }).click();
    await eve.page.getByRole('heading', { name: 'Create an account' }).waitFor();
    await checkBoth(eve.page, 'story-01-sign-up');
    await eve.page.getByLabel('Email').fill(EMAIL);
    await eve.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await eve.page.getByLabel('Repeat password').fill('a different one');
    await eve.page.getByRole('button', { name: 'Create account' }).click();
    await eve.page.getByRole('alert').first().waitFor();
    await checkPage(eve.page, 'story-02-sign-up-refused');
    await eve.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await eve.page.getByLabel('Repeat password').fill(PASSWORD);
    await eve.page.getByRole('button', { name: 'Create account' }).click();
    await onAccountPage(eve.page);

    // An authenticator app from the QR image; the manual key beside it is the same secret.
    await eve.page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const acct = account(await readQr(eve.page));
    const key = (await eve.page.locator('code.key').innerText()).replace(/\s/g, '');
    assert.equal(key, acct.secret);
    await eve.page.getByLabel('Code from the app').fill(await appCode(acct));
    await eve.page.getByRole('button', { name: 'Confirm' }).click();
    await eve.page.getByRole('heading', { name: 'Save your backup codes' }).waitFor();
    codes = await eve.page.locator('ul.codes li').allInnerTexts();
    assert.equal(codes.length, 10);
    const link = eve.page.getByRole('link', { name: 'Download the codes' });
    const [download] = await Promise.all([eve.page.waitForEvent('download'), link.click()]);
    const saved = readFileSync(await download.path(), 'utf8');
    for (const code of codes) assert.ok(saved.includes(code), 'every code is in the saved file');
    await eve.page.getByRole('link', { name: /back to my account/ }).click();
    await onAccountPage(eve.page);
    await signOut(eve);

    // Signing in now takes the app's next code.
    await signIn(eve.page);
    await eve.page.getByRole('heading', { name: 'Authenticator app' }).waitFor();
    await eve.page.getByLabel('Code from your authenticator app').fill(await appCode(acct, 1));
    await eve.page.getByRole('button', { name: 'Verify' }).click();
    await onAccountPage(eve.page);
    await signOut(eve);

    // Or a backup code, trusting this browser: the next sign-in skips the second step.
    await signIn(eve.page);
    const backup = eve.page.locator('form', { has: eve.page.getByLabel(/One of your backup codes/) });
    await backup.getByLabel(/One of your backup codes/).fill(codes[0]);
    await backup.getByLabel('Trust this device').check();
    await backup.getByRole('button', { name: 'Use backup code' }).click();
    await onAccountPage(eve.page);
    await signOut(eve);
    await signIn(eve.page);
    await onAccountPage(eve.page);

    // Revoked on the account page, the browser is asked for the second step again.
    await eve.page.getByRole('button', { name: /^Revoke / }).click();
    await eve.page.getByRole('status').waitFor();
    await checkBoth(eve.page, 'story-03-account');
    await signOut(eve);
    await signIn(eve.page);
    await eve.page.getByRole('heading', { name: 'Authenticator app' }).waitFor();
  } finally {
    await eve.close();
  }

  // A superuser finds Eve, sees her factors, resets them and reads her audit log.
  const admin = await openBrowser();
  const errors = watchConsole(admin.page);
  try {
    const page = admin.page;
    await page.goto(`${server.url}/_/`);
    await page.getByLabel('Email', { exact: true }).fill(server.suEmail);
    await page.getByLabel('Password', { exact: true }).fill(server.suPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Records of users' }).click();
    await page.getByLabel('Search by email or name').fill('eve');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: EMAIL }).click();
    await page.getByRole('heading', { name: EMAIL }).waitFor();
    const mfa = page.locator('section', { has: page.getByRole('heading', { name: 'Two-factor authentication' }) });
    await mfa.getByRole('cell', { name: 'Authenticator app' }).waitFor();
    await checkBoth(page, 'story-04-dashboard-record');
    await mfa.getByRole('button', { name: 'Reset two-factor…' }).click();
    await mfa.getByRole('button', { name: 'Yes, reset two-factor' }).click();
    await page.getByText('Two-factor authentication was reset.').waitFor();

    await page.getByRole('link', { name: `Audit log of ${EMAIL}` }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const types = await page.locator('tbody tr td:nth-child(2)').allInnerTexts();
    for (const expected of ['backupCode.used', 'device.revoked']) {
      assert.ok(types.includes(expected), `the audit log shows ${expected}: ${types.join(', ')}`);
    }
    assert.ok(types.some((t) => t.startsWith('mfa.reset')), `the reset is in the audit log: ${types.join(', ')}`);
    await checkBoth(page, 'story-05-dashboard-audit');
    assert.deepEqual(errors, [], 'no error in the console');
  } finally {
    await admin.close();
  }

  // With her factors reset, the password alone signs Eve in again.
  const again = await openBrowser();
  try {
    await signIn(again.page);
    await onAccountPage(again.page);
  } finally {
    await again.close();
  }
});
