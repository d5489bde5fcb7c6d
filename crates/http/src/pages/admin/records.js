// The records views: the auth collections, a collection's records with search, and one
// record's second factors, trusted devices and impersonation.

import {
  METHOD_NAMES, PER_PAGE, actionButton, api, collect, collectionPath, el, enc, field, form, hidden,
  hooks, pager, say, setFlash, shown, table, title, uid, yesNo,
} from './core.js';

export async function authCollections() {
  const list = await api('GET', '/api/collections?perPage=500');
  return list.items.filter((c) => c.type === 'auth').sort((a, b) => a.name.localeCompare(b.name));
}

export async function collectionsView() {
  const collections = await authCollections();
  return [
    el('h1', { text: 'Auth collections' }),
    table('Auth collections', ['Collection', 'Records', 'Auth options'], collections.map((c) => [
      c.name,
      el('a', { href: `#/records/${enc(c.name)}` }, 'Records', hidden(` of ${c.name}`)),
      el('a', { href: `#/collection/${enc(c.name)}` }, 'Auth options', hidden(` of ${c.name}`)),
    ])),
  ];
}

/** A filter-language string literal: backslashes and quotes escaped. */
const literal = (text) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export async function recordsView([name], query) {
  const c = await api('GET', collectionPath(name));
  const q = (query.get('q') || '').slice(0, 200);
  const page = Math.max(1, parseInt(query.get('page') || '1', 10) || 1);
  const textFields = c.fields.filter((f) => ['name', 'username'].includes(f.name) && f.type === 'text').map((f) => f.name);
  const searchable = ['email', ...textFields];
  const params = new URLSearchParams({ page: String(page), perPage: String(PER_PAGE), sort: '-created' });
  if (q) params.set('filter', searchable.map((f) => `${f} ~ ${literal(q)}`).join(' || '));
  const list = await api('GET', `${collectionPath(name)}/records?${params}`);
  const base = `#/records/${enc(name)}`;
  const search = form([
    field('q', `Search by ${searchable.join(' or ')}`, 'search', { value: q, maxlength: 200 }),
  ], async (f) => {
    const term = f.querySelector('[data-path=q]').value.trim();
    location.hash = term ? `${base}?q=${enc(term)}` : base;
  }, 'Search', { role: 'search', class: 'inline' });
  const rows = list.items.map((r) => [
    el('a', { href: `#/record/${enc(name)}/${enc(r.id)}`, text: r.email || r.id }),
    ...textFields.map((f) => shown(r[f])),
    yesNo(r.verified),
    shown(r.created),
  ]);
  return [
    el('h1', { text: `Records of ${name}` }),
    search,
    rows.length
      ? table(`Records of ${name}`, ['Email', ...textFields.map(title), 'Verified', 'Created'], rows)
      : el('p', { text: q ? 'No record matches.' : 'No records yet.' }),
    pager(list, (p) => `${base}?${new URLSearchParams(q ? { q, page: p } : { page: p })}`),
  ];
}

export async function recordView([name, id]) {
  const base = `${collectionPath(name)}/records/${enc(id)}`;
  const [record, mfa, devices] = await Promise.all([
    api('GET', base),
    api('GET', `${base}/mfa`),
    api('GET', `${base}/mfa/devices`),
  ]);
  const label = record.email || record.id;
  const facts = [['ID', record.id], ['Email', record.email], ['Verified', yesNo(record.verified)]];
  for (const key of ['name', 'username']) if (key in record) facts.push([title(key), record[key]]);
  facts.push(['Created', record.created], ['Updated', record.updated]);
  return [
    el('p', {}, el('a', { href: `#/records/${enc(name)}`, text: `Back to the records of ${name}` })),
    el('h1', { text: label }),
    el('dl', { class: 'facts' }, facts.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: shown(v) })])),
    mfaSection(name, base, label, mfa),
    devicesSection(base, devices),
    impersonateSection(name, id),
    el('section', {},
      el('h2', { text: 'Security events' }),
      el('p', {}, el('a', { href: `#/audit?${new URLSearchParams({ recordId: id })}`, text: `Audit log of ${label}` }))),
  ];
}

const FACTOR_NAMES = { ...METHOD_NAMES, email: 'Code by email', backupCodes: 'Backup codes' };

function mfaSection(name, base, label, mfa) {
  const factors = mfa.factors.map((f) => [
    FACTOR_NAMES[f.type] || f.type,
    f.status,
    shown(f.sentTo),
    shown(f.createdAt),
    shown(f.lastUsedAt),
  ]);
  const confirm = el('div', { class: 'confirm', hidden: true });
  const f = form([
    el('p', { text: `Second step required at sign-in: ${yesNo(mfa.required)}. Backup codes left: ${mfa.backupCodesRemaining}.` }),
    factors.length
      ? table('Second factors', ['Factor', 'Status', 'Sent to', 'Added', 'Last used'], factors)
      : el('p', { text: 'No second factors are set up.' }),
    confirm,
  ], async () => {
    confirm.hidden = false;
    confirm.replaceChildren(
      el('p', { text: `This removes every second factor, backup code and trusted device of ${label}. They are told by mail.` }),
      actionButton(f, 'Yes, reset two-factor', async () => {
        await api('DELETE', `${base}/mfa`);
        setFlash('Two-factor authentication was reset.');
        hooks.render();
      }, { class: 'danger' }),
      el('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => { confirm.hidden = true; } }));
    confirm.querySelector('button').focus();
  }, 'Reset two-factor…');
  return el('section', {}, el('h2', { text: 'Two-factor authentication' }), f);
}

function devicesSection(base, devices) {
  const f = el('div', {}, el('div', { class: 'form-status' }));
  const rows = devices.map((d) => [
    d.name || 'Unnamed device',
    shown(d.created),
    shown(d.lastUsedAt),
    shown(d.expires),
    actionButton(f, ['Revoke', hidden(` ${d.name || 'device'}`)], async () => {
      await api('DELETE', `${base}/mfa/devices/${enc(d.id)}`);
      setFlash('The device was revoked: it needs the second step again.');
      hooks.render();
    }),
  ]);
  f.prepend(rows.length
    ? table('Trusted devices', ['Device', 'Added', 'Last used', 'Expires', 'Action'], rows)
    : el('p', { text: 'No trusted devices.' }));
  return el('section', {}, el('h2', { text: 'Trusted devices' }), f);
}

function impersonateSection(name, id) {
  const out = el('div', { class: 'token-out' });
  const f = form([
    el('p', { text: 'A token that acts as this record and cannot be refreshed. It is shown once, here; copy it now.' }),
    field('duration', 'Valid for (seconds; 0: the collection default)', 'number', { value: 3600 }),
    out,
  ], async (f) => {
    const body = collect(f);
    if (!body) return;
    const answer = await api('POST', `${collectionPath(name)}/impersonate/${enc(id)}`, body);
    const boxId = uid('t');
    const box = el('textarea', { id: boxId, readonly: true, rows: 3, class: 'token', value: answer.token });
    out.replaceChildren(
      el('label', { for: boxId, text: 'Token (shown once)' }),
      box,
      el('button', {
        type: 'button',
        class: 'secondary',
        text: 'Copy token',
        onclick: async () => {
          box.select();
          try {
            await navigator.clipboard.writeText(box.value);
          } catch {
            document.execCommand('copy');
          }
          say(f, 'ok', 'The token was copied.');
        },
      }));
    box.focus();
  }, 'Get a token');
  return el('section', {}, el('h2', { text: 'Impersonate' }), f);
}
