// The account page in a real browser: a person signs in, sets up an authenticator app from the
// page's QR image (decoded by an independent decoder, codes from an independent TOTP library),
// saves the backup codes (the download link holds them), signs out, signs in with the app, with
// a backup code while trusting the device, and revokes that device on the account page. A
// password change signs the browser out. Each page is screenshotted and checked by axe-core.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { account, appCode, checkPage, haveChromium, openBrowser, readQr } from '../browser.mjs';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new password 42';
const ACCOUNT = '/_/account?collection=users';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;

before(async () => {
  if (!skip) server = await startServer({ kind: 'gatehouse', limits: 'off' });
});
after(async () => {
  await server?.stop();
});

async function signUp(email) {
  const response = await fetch(`${server.url}/api/collections/users/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, passwordConfirm: PASSWORD }),
  });
  assert.equal(response.status, 200, await response.text());
}

/** The sign-in form the account page sent the browser to; comes back to the account page. */
async function signIn(page, email, password = PASSWORD) {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

async function onAccountPage(page) {
  await page.waitForURL(`**${ACCOUNT}*`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
}

async function signOut(b) {
  await b.page.getByRole('button', { name: 'Sign out' }).click();
  // Signed out, the account page sends the browser to sign in (and back here after).
  await b.page.waitForURL('**/_/login?**');
  assert.ok(!(await b.context.cookies()).some((c) => c.name === 'gh_session'), 'the session cookie is gone');
}

test('set up an app on the account page, sign in with it and a backup code, revoke the trusted device', { skip }, async () => {
  const email = 'acct@example.com';
  await signUp(email);
  const b = await openBrowser();
  try {
    await b.page.goto(`${server.url}${ACCOUNT}`);
    await b.page.waitForURL('**/_/login?**');
    await signIn(b.page, email);
    await onAccountPage(b.page);
    await checkPage(b.page, 'account-01-page');
    await b.page.emulateMedia({ colorScheme: 'dark' });
    await checkPage(b.page, 'account-01-page-dark');
    await b.page.emulateMedia({ colorScheme: 'light' });

    await b.page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await b.page.getByRole('img', { name: /QR code/ }).waitFor();
    await checkPage(b.page, 'account-02-setup');
    const uri = await readQr(b.page);
    const acct = account(uri);
    const key = (await b.page.locator('code.key').innerText()).replace(/\s/g, '');
    assert.equal(key, acct.secret, "the manual key is the QR code's secret");

    await b.page.getByLabel('Code from the app').fill('000000');
    await b.page.getByRole('button', { name: 'Confirm' }).click();
    await b.page.getByRole('alert').waitFor();
    assert.equal(await b.page.getByRole('alert').innerText(), 'Invalid or expired code.');
    assert.equal(await readQr(b.page), uri, 'the same QR code again');
    await checkPage(b.page, 'account-03-wrong-code');

    await b.page.getByLabel('Code from the app').fill(await appCode(acct));
    await b.page.getByRole('button', { name: 'Confirm' }).click();
    await b.page.getByRole('heading', { name: 'Save your backup codes' }).waitFor();
    const codes = await b.page.locator('ul.codes li').allInnerTexts();
    assert.equal(codes.length, 10);
    const print = b.page.getByRole('button', { name: 'Print the codes' });
    assert.ok(await print.isVisible(), 'the print script ran under the CSP');
    const link = b.page.getByRole('link', { name: 'Download the codes' });
    const href = await link.getAttribute('href');
    const listed = decodeURIComponent(href.slice(href.indexOf(',') + 1));
    for (const code of codes) assert.ok(listed.includes(code), `${code} is in the download`);
    const [download] = await Promise.all([b.page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'backup-codes.txt');
    const saved = readFileSync(await download.path(), 'utf8');
    for (const code of codes) assert.ok(saved.includes(code), `${code} is in the saved file`);
    await checkPage(b.page, 'account-04-backup-codes');

    await b.page.getByRole('link', { name: /back to my account/ }).click();
    await onAccountPage(b.page);
    assert.ok(await b.page.getByText(/10 left/).isVisible());
    for (const code of codes) assert.ok(!(await b.page.content()).includes(code), 'codes are shown once');
    await signOut(b);

    // The app's next code on the sign-in's second step.
    await signIn(b.page, email);
    await b.page.getByLabel('Code from your authenticator app').fill(await appCode(acct, 1));
    await b.page.getByRole('button', { name: 'Verify' }).click();
    await onAccountPage(b.page);
    await signOut(b);

    // A backup code, trusting this device.
    await signIn(b.page, email);
    const backup = b.page.locator('form', { has: b.page.getByLabel(/One of your backup codes/) });
    await backup.getByLabel(/One of your backup codes/).fill(codes[0]);
    await backup.getByLabel('Trust this device').check();
    await backup.getByRole('button', { name: 'Use backup code' }).click();
    await onAccountPage(b.page);
    assert.ok(await b.page.getByText(/9 left/).isVisible());
    const revoke = b.page.getByRole('button', { name: /^Revoke / });
    assert.equal(await revoke.count(), 1, 'the trusted device is listed');
    await checkPage(b.page, 'account-05-trusted-device');
    await signOut(b);

    // The trusted device skips the second step...
    await signIn(b.page, email);
    await onAccountPage(b.page);
    // ...until the account page revokes it.
    await b.page.getByRole('button', { name: /^Revoke / }).click();
    await b.page.getByRole('status').waitFor();
    assert.match(await b.page.getByRole('status').innerText(), /device was revoked/);
    assert.equal(await b.page.getByRole('button', { name: /^Revoke / }).count(), 0);
    await checkPage(b.page, 'account-06-device-revoked');
    await signOut(b);
    await signIn(b.page, email);
    await b.page.getByRole('heading', { name: 'Authenticator app' }).waitFor();
  } finally {
    await b.close();
  }
});

test('a password change on the account page signs the browser out', { skip }, async () => {
  const email = 'pat@example.com';
  await signUp(email);
  const b = await openBrowser();
  try {
    await b.page.goto(`${server.url}${ACCOUNT}`);
    await signIn(b.page, email);
    await onAccountPage(b.page);
    await b.page.getByLabel('Current password').fill('not the password');
    await b.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await b.page.getByLabel('New password again').fill(NEW_PASSWORD);
    await b.page.getByRole('button', { name: 'Change password' }).click();
    await b.page.getByText('Missing or invalid old password.').waitFor();
    await checkPage(b.page, 'account-07-password-refused');

    await b.page.getByLabel('Current password').fill(PASSWORD);
    await b.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await b.page.getByLabel('New password again').fill(NEW_PASSWORD);
    await b.page.getByRole('button', { name: 'Change password' }).click();
    await b.page.getByRole('heading', { name: 'Password changed' }).waitFor();
    await checkPage(b.page, 'account-08-password-changed');
    assert.ok(!(await b.context.cookies()).some((c) => c.name === 'gh_session'), 'signed out');

    await b.page.getByRole('link', { name: 'Back to sign-in' }).click();
    await signIn(b.page, email, NEW_PASSWORD);
    await onAccountPage(b.page);
  } finally {
    await b.close();
  }
});
