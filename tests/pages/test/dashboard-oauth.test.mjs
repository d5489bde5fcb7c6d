// A collection's OAuth2 providers in the dashboard's auth options, in a real browser: a superuser
// adds an OpenID Connect provider with a client secret, sees a refused URL's error next to its
// field, saves, sees the provider listed (never its secret, which the API does not answer either),
// edits it without retyping the secret (the stored one is kept), sets the mapped fields and
// removes the provider. axe-core checks the view with the editor open; the console stays clean.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer } from '../../sdk/harness.mjs';
import { apiOf, checkBoth, checkPage, haveChromium, openBrowser, watchConsole } from '../browser.mjs';

const SECRET = 'client-secret-7f3a9c1e';
const skip = haveChromium() ? false : 'no chromium at /usr/bin/chromium';
let server;
const api = (path, options) => apiOf(server.url)(path, options);

before(async () => {
  if (skip) return;
  server = await startServer({ kind: 'gatehouse', limits: 'off' });
});
after(async () => {
  await server?.stop();
});

async function superuserToken() {
  const r = await api('/api/collections/_superusers/auth-with-password', {
    body: { identity: server.suEmail, password: server.suPassword },
  });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data.token;
}

const section = (page, heading) => page.locator('section', { has: page.getByRole('heading', { name: heading, exact: true }) });

test('a superuser adds, edits and removes an OpenID Connect provider of a collection', { skip }, async () => {
  const su = await superuserToken();
  const users = async () => (await api('/api/collections/users', { method: 'GET', token: su })).data;
  const b = await openBrowser();
  const errors = watchConsole(b.page);
  const page = b.page;
  try {
    await page.goto(`${server.url}/_/`);
    await page.getByLabel('Email', { exact: true }).fill(server.suEmail);
    await page.getByLabel('Password', { exact: true }).fill(server.suPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Auth options of users' }).click();
    await page.getByRole('heading', { name: 'Auth options of users' }).waitFor();
    const providers = section(page, 'OAuth2 providers');
    await providers.getByText('No providers yet.').waitFor();
    await providers.getByText(`${server.url}/api/oauth2-redirect`, { exact: false }).waitFor();

    // The editor, keyboard first: the button takes Enter and focus lands on the first field.
    await providers.getByRole('button', { name: 'Add a provider' }).focus();
    await page.keyboard.press('Enter');
    const editor = page.getByRole('form', { name: 'Add a provider' });
    const name = editor.getByLabel('Name', { exact: true });
    assert.ok(await name.evaluate((n) => n === document.activeElement), 'focus is on the name');
    assert.deepEqual(await name.locator('option').evaluateAll((os) => os.map((o) => o.value)), ['oidc', 'oidc2', 'oidc3']);
    await editor.getByText('Named providers (Google, GitHub, …) are coming.').waitFor();
    await checkBoth(page, 'dash-oauth-01-editor');

    await name.selectOption('oidc');
    await editor.getByLabel('Display name').fill('Acme ID');
    await editor.getByLabel('Client ID').fill('gatehouse-app');
    await editor.getByLabel('Client secret').fill(SECRET);
    await editor.getByLabel('Authorization URL').fill('not a url');
    await editor.getByLabel('Token URL').fill('https://id.example.com/token');
    await editor.getByLabel('JWKS URL').fill('https://id.example.com/jwks');
    await editor.getByLabel('Accepted issuers').fill('https://id.example.com\nhttps://login.example.com');
    assert.ok(await editor.getByLabel('Use PKCE').isChecked(), 'PKCE is on by default');

    // A refused URL: its error next to its field, nothing stored.
    await editor.getByRole('button', { name: 'Save the provider' }).click();
    const authUrl = editor.getByLabel('Authorization URL');
    await editor.locator('.field-error').getByText('Must be a valid URL.').waitFor();
    assert.equal(await authUrl.getAttribute('aria-invalid'), 'true');
    // The message sits in the field's own box and is read out with it.
    const said = await authUrl.evaluate((input) => ({
      inBox: input.closest('.field').querySelector('.field-error')?.textContent,
      described: (input.getAttribute('aria-describedby') || '').split(' ')
        .map((id) => document.getElementById(id)?.textContent).join(' | '),
    }));
    assert.equal(said.inBox, 'Must be a valid URL.');
    assert.match(said.described, /Must be a valid URL\./);
    assert.equal(await editor.locator('.field-error').count(), 1, 'only the bad field is marked');
    await editor.getByRole('alert').waitFor();
    await checkPage(page, 'dash-oauth-02-field-error');
    assert.deepEqual((await users()).oauth2.providers, [], 'nothing was stored');

    await authUrl.fill('https://id.example.com/authorize');
    await editor.getByRole('button', { name: 'Save the provider' }).click();
    await page.getByText('The provider oidc was saved.').waitFor();
    await providers.getByRole('cell', { name: 'Acme ID' }).waitFor();
    await providers.getByRole('cell', { name: 'gatehouse-app' }).waitFor();
    assert.ok(!(await page.content()).includes(SECRET), 'the secret is never on the page');
    await checkPage(page, 'dash-oauth-03-listed');

    let stored = (await users()).oauth2.providers;
    assert.equal(stored.length, 1);
    assert.equal(stored[0].name, 'oidc');
    assert.equal(stored[0].displayName, 'Acme ID');
    assert.equal(stored[0].authURL, 'https://id.example.com/authorize');
    assert.equal(stored[0].pkce, true);
    assert.equal(stored[0].extra.jwksURL, 'https://id.example.com/jwks');
    assert.deepEqual(stored[0].extra.issuers, ['https://id.example.com', 'https://login.example.com']);
    assert.ok(!('clientSecret' in stored[0]), 'the API does not answer the secret');
    assert.ok(!JSON.stringify(stored).includes(SECRET));

    // Edited without retyping the secret: the stored one is kept (else the API would refuse
    // the save: a provider needs one).
    await providers.getByRole('button', { name: 'Edit oidc' }).click();
    const edit = page.getByRole('form', { name: 'Edit the provider oidc' });
    assert.equal(await edit.getByLabel('Client secret').inputValue(), '', 'the secret field starts empty');
    assert.equal(await edit.getByLabel('Display name').inputValue(), 'Acme ID');
    await edit.getByLabel('Display name').fill('Acme');
    await edit.getByLabel('Use PKCE').uncheck();
    await edit.getByRole('button', { name: 'Save oidc' }).click();
    // The first save's message is still on the page: wait for the saved list to show the edit.
    await providers.getByRole('cell', { name: 'Acme', exact: true }).waitFor();
    await page.getByText('The provider oidc was saved.').waitFor();
    stored = (await users()).oauth2.providers;
    assert.equal(stored[0].displayName, 'Acme');
    assert.equal(stored[0].pkce, false);
    assert.equal(stored[0].clientId, 'gatehouse-app');

    // The mapped fields go with the rest of the auth options.
    await page.getByLabel('User name into').selectOption('name');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('The auth options were saved.').waitFor();
    assert.equal((await users()).oauth2.mappedFields.username, 'name');
    assert.equal((await users()).oauth2.providers.length, 1, 'saving the options keeps the providers');

    // Removed, after a confirmation.
    await providers.getByRole('button', { name: 'Remove oidc' }).click();
    await providers.getByRole('button', { name: 'Yes, remove oidc' }).click();
    await page.getByText('The provider oidc was removed.').waitFor();
    await providers.getByText('No providers yet.').waitFor();
    assert.deepEqual((await users()).oauth2.providers, []);

    assert.deepEqual(errors, [], 'no console errors');
  } catch (e) {
    console.log('the page showed:', await page.locator('main').innerText(), 'console errors:', errors);
    throw e;
  } finally {
    await b.close();
  }
});
