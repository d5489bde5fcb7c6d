// A collection's OAuth2 providers in its auth options: the list with edit and remove, and the
// editor of one provider. Every change sends the whole `oauth2.providers` array (PATCH replaces
// arrays); the providers left as they were go without `clientSecret`, which the API then keeps.

import {
  actionButton, api, collect, collectionPath, el, field, form, hidden, hooks, setFlash, shown, table,
} from './core.js';

/** The names the server accepts today: PocketBase's generic OpenID Connect slots. */
const NAMES = ['oidc', 'oidc2', 'oidc3'];

/** The section under the auth options of collection `name` (`c` as the API answered it). */
export function providersSection(name, c) {
  const providers = c.oauth2.providers || [];
  const status = el('div', { class: 'form-status' });
  const box = el('div', {}, status);
  const editor = el('div', { class: 'editor' });
  const confirm = el('div', { class: 'confirm', hidden: true });
  const free = NAMES.filter((n) => !providers.some((p) => p.name === n));

  const save = async (list, message) => {
    await api('PATCH', collectionPath(name), { oauth2: { providers: list } });
    setFlash(message);
    hooks.render();
  };
  const askRemove = (p, i) => {
    confirm.hidden = false;
    confirm.replaceChildren(
      el('p', { text: `Remove the provider ${p.name}? Sign-in with it stops at once.` }),
      actionButton(box, `Yes, remove ${p.name}`,
        () => save(providers.filter((_, j) => j !== i), `The provider ${p.name} was removed.`), { class: 'danger' }),
      el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => { confirm.hidden = true; } }));
    confirm.querySelector('button').focus();
  };
  const open = (i) => {
    confirm.hidden = true;
    editor.replaceChildren(...providerEditor(providers, i, free, save, () => {
      editor.replaceChildren();
      add?.focus();
    }));
    editor.querySelector('input, select')?.focus();
  };

  const rows = providers.map((p, i) => [
    el('code', { text: p.name }),
    shown(p.displayName),
    shown(p.clientId),
    shown(p.authURL),
    el('div', { class: 'row-actions' },
      el('button', { type: 'button', class: 'secondary', onclick: () => open(i) }, 'Edit', hidden(` ${p.name}`)),
      el('button', { type: 'button', class: 'secondary', onclick: () => askRemove(p, i) }, 'Remove', hidden(` ${p.name}`))),
  ]);
  box.prepend(rows.length
    ? table('OAuth2 providers', ['Name', 'Display name', 'Client ID', 'Authorization URL', 'Actions'], rows)
    : el('p', { text: 'No providers yet.' }));
  const add = free.length
    ? el('button', { type: 'button', class: 'secondary', text: 'Add a provider', onclick: () => open(providers.length) })
    : null;

  return el('section', {},
    el('h2', { text: 'OAuth2 providers' }),
    el('p', { class: 'hint' },
      'Register with the provider the redirect URL of the page of your app that receives ',
      el('code', { text: '?code=…&state=…' }), ' (the popup flow, when it comes, will use ',
      el('code', { text: `${location.origin}/api/oauth2-redirect` }), '). The scopes asked for are ',
      el('code', { text: 'openid email profile' }), '.'),
    box,
    confirm,
    add ?? el('p', { class: 'hint', text: 'All three OpenID Connect slots are in use.' }),
    editor);
}

/** The editor of provider `i` of `providers` (`i` past the end: a new one). Its fields carry the
 * path the API's errors name (`oauth2.providers.<i>.<field>`), so each lands at its field. */
function providerEditor(providers, i, free, save, close) {
  const old = providers[i];
  const at = (key) => `oauth2.providers.${i}.${key}`;
  const f = (key, label, kind, opts = {}) => field(at(key), label, kind, { ...opts, value: key.split('.').reduce((o, k) => o?.[k], old) });
  const heading = old ? `Edit the provider ${old.name}` : 'Add a provider';
  const editing = form([
    old
      ? null
      : field(at('name'), 'Name', 'select', {
        options: free.map((n) => [n, `${n} (OpenID Connect)`]),
        hint: 'The generic OpenID Connect slots. Named providers (Google, GitHub, …) are coming.',
      }),
    f('displayName', 'Display name', 'text', { maxlength: 1024, hint: 'Shown on sign-in buttons; empty: the name.' }),
    f('clientId', 'Client ID', 'text', { maxlength: 1024, required: true }),
    field(at('clientSecret'), 'Client secret', 'secret', {
      maxlength: 1024,
      required: !old,
      hint: old ? 'Write-only: leave empty to keep the stored one.' : 'Write-only: it is never shown again.',
    }),
    f('authURL', 'Authorization URL', 'url', { maxlength: 2048, required: true }),
    f('tokenURL', 'Token URL', 'url', { maxlength: 2048, required: true }),
    f('userInfoURL', 'User info URL', 'url', {
      maxlength: 2048,
      hint: 'Empty: the account comes from the id_token, checked with the JWKS URL.',
    }),
    field(at('pkce'), 'Use PKCE', 'bool', { value: old ? old.pkce ?? true : true }),
    f('extra.jwksURL', 'JWKS URL', 'url', { maxlength: 2048, hint: 'Where the provider publishes the keys of its id_tokens.' }),
    f('extra.issuers', 'Accepted issuers', 'lines', { hint: 'One per line or comma-separated; empty: any issuer.' }),
  ], async (sent) => {
    const body = collect(sent);
    if (!body) return;
    const p = body.oauth2.providers[i];
    if (old) p.name = old.name;
    // Keys of `extra` this editor does not show are kept.
    p.extra = { ...(old?.extra || {}), ...p.extra };
    if (!p.extra.jwksURL) delete p.extra.jwksURL;
    const list = providers.map((o, j) => (j === i ? p : o));
    if (!old) list.push(p);
    await save(list, `The provider ${p.name} was saved.`);
  }, old ? `Save ${old.name}` : 'Save the provider', { 'aria-label': heading });
  editing.querySelector('.actions').append(
    el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: close }));
  return [el('h3', { text: heading }), editing];
}

/** `oauth2.mappedFields`: which fields of a new record the provider's account fills. */
export function mappedFields(c) {
  const mapped = c.oauth2.mappedFields || {};
  const of = (types) => (c.fields || []).filter((x) => types.includes(x.type) && !x.hidden).map((x) => x.name);
  const choice = (key, label, types) => {
    const names = of(types);
    const value = mapped[key] || '';
    if (value && !names.includes(value)) names.push(value);
    return field(`oauth2.mappedFields.${key}`, label, 'select', {
      value,
      options: [['', 'Not filled'], ...names.map((n) => [n, n])],
    });
  };
  return el('fieldset', {}, el('legend', { text: 'Fields filled from the provider\'s account (new records)' }),
    choice('id', 'Account ID into', ['text']),
    choice('name', 'Name into', ['text']),
    choice('username', 'User name into', ['text']),
    choice('avatarURL', 'Avatar URL into', ['text', 'url']));
}
