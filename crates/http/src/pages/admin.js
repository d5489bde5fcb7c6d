// The superuser dashboard at /_/: plain JavaScript modules over the same JSON API the SDKs use
// (no build step). This entry draws the view the hash names (#/records/users, #/audit, …) or,
// without a live session, the sign-in form with its second step.
//
// PocketBase-style mail links (#/auth/confirm-…/TOKEN) are forward.js's: it runs first and
// moves them to the confirm pages, so nothing here touches them.

import {
  ApiError, METHOD_NAMES, SU, api, collect, collectionPath, el, endSession, field, form, hooks,
  readSession, sessionOver, startSession, takeFlash, takeSignedOutMessage, watchSession,
} from './admin/core.js';
import { auditView, optionsView, settingsView } from './admin/config.js';
import { collectionsView, recordView, recordsView } from './admin/records.js';

const app = document.getElementById('app');
const nav = document.getElementById('nav');
let renderCount = 0;

function route() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  let parts;
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    parts = [];
  }
  return { parts, query: new URLSearchParams(query) };
}

const views = {
  '': collectionsView,
  records: recordsView,
  record: recordView,
  collection: optionsView,
  audit: auditView,
  settings: settingsView,
};

async function render() {
  const mine = ++renderCount;
  const s = readSession();
  if (!s) return signInView();
  if (sessionOver(s)) return endSession(sessionOver(s));
  const { parts, query } = route();
  drawNav(parts[0] || '');
  const view = views[parts[0] || ''] || notFoundView;
  app.replaceChildren(el('p', { role: 'status', text: 'Loading…' }));
  let nodes;
  try {
    nodes = await view(parts.slice(1), query);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !readSession()) return;
    nodes = [el('h1', { text: 'Something went wrong' }), el('p', { class: 'error', role: 'alert', text: err.message })];
  }
  if (mine !== renderCount) return;
  const flash = takeFlash();
  const note = flash ? el('p', { class: 'ok flash', role: 'status', text: flash }) : null;
  // Views leave out what they have nothing for as null: replaceChildren would print "null".
  app.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
  if (note) app.querySelector('h1')?.after(note);
  settle();
}

/** After a view is drawn: the title says where we are, and focus goes to its heading. */
function settle() {
  const heading = app.querySelector('h1');
  document.title = `${heading ? heading.textContent : 'Dashboard'} · Gatehouse`;
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

function drawNav(current) {
  const link = (href, text, key) =>
    el('a', { href, text, 'aria-current': current === key ? 'page' : undefined });
  nav.replaceChildren(
    el('ul', {},
      el('li', {}, link('#/', 'Collections', '')),
      el('li', {}, link('#/audit', 'Audit log', 'audit')),
      el('li', {}, link('#/settings', 'Settings', 'settings')),
      el('li', {}, el('button', {
        type: 'button',
        class: 'secondary',
        text: 'Sign out',
        onclick: () => endSession('You are signed out.'),
      }))));
  nav.hidden = false;
}

// Signing in.

function signInView() {
  nav.hidden = true;
  nav.replaceChildren();
  const message = takeSignedOutMessage();
  const f = form([
    field('identity', 'Email', 'email', { autocomplete: 'username', required: true }),
    field('password', 'Password', 'password', { autocomplete: 'current-password', required: true }),
  ], async (f) => {
    const { identity, password } = collect(f);
    try {
      startSession(await api('POST', `${collectionPath(SU)}/auth-with-password`, { identity, password }, { anonymous: true }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && err.body.mfaId) return secondStepView(err.body, identity);
      throw err;
    }
  }, 'Sign in');
  app.replaceChildren(
    el('h1', { text: 'Superuser sign-in' }),
    message ? el('p', { class: 'ok', role: 'status', text: message }) : null,
    f);
  document.title = 'Superuser sign-in · Gatehouse';
  f.querySelector('input').focus();
}

/** The second step of a superuser with MFA: one form per method the 401 offered. */
function secondStepView(challenge, identity) {
  const mfaId = challenge.mfaId;
  const methods = Array.isArray(challenge.methods) ? challenge.methods : [{ type: 'otp' }];
  const sections = [];
  const finish = async (path, body) =>
    startSession(await api('POST', `${collectionPath(SU)}/${path}`, { ...body, mfaId }, { anonymous: true }));
  const codeForm = (label, path, extra = () => ({})) =>
    form([field('code', label, 'text', { autocomplete: 'one-time-code', required: true, maxlength: 64 })],
      async (f) => finish(path, { ...extra(), ...codeBody(path, collect(f).code) }), 'Verify');
  for (const method of methods) {
    const title = METHOD_NAMES[method.type];
    if (!title || method.alternate) continue;
    const heading = el('h2', { text: title });
    const sentTo = method.sentTo ? el('p', { class: 'hint', text: `Sent to ${method.sentTo}` }) : null;
    if (method.type === 'totp') {
      sections.push(el('section', {}, heading, codeForm('Code from your authenticator app', 'auth-with-totp')));
    } else if (method.type === 'backupCode') {
      sections.push(el('section', {}, heading, codeForm('One of your backup codes', 'auth-with-backup-code')));
    } else {
      let otpId = '';
      const verify = codeForm('The code you received', 'auth-with-otp', () => ({ otpId }));
      verify.hidden = true;
      const send = form([], async () => {
        const answer = method.type === 'sms'
          ? await api('POST', `${collectionPath(SU)}/request-sms-otp`, { mfaId }, { anonymous: true })
          : await api('POST', `${collectionPath(SU)}/request-otp`, { email: identity }, { anonymous: true });
        otpId = answer.otpId;
        verify.hidden = false;
        verify.querySelector('input').focus();
      }, method.type === 'sms' ? 'Text me a code' : 'Email me a code');
      sections.push(el('section', {}, heading, sentTo, send, verify));
    }
  }
  if (challenge.enrollmentRequired || sections.length === 0) {
    sections.push(el('p', {},
      'This account has to set up a second factor before it can sign in here. Set one up on the ',
      el('a', { href: '/_/login?collection=_superusers', text: 'hosted sign-in page' }),
      ', then come back.'));
  }
  app.replaceChildren(
    el('h1', { text: 'Second step' }),
    el('p', { text: 'Your password was right. Prove it is you with one of these:' }),
    ...sections,
    el('p', {}, el('button', { type: 'button', class: 'secondary', text: 'Start over', onclick: () => signInView() })));
  settle();
}

/** The body of a second step: `auth-with-otp` calls the code `password` (PocketBase's name). */
const codeBody = (path, code) => (path === 'auth-with-otp' ? { password: code } : { code });

function notFoundView() {
  return [el('h1', { text: 'Not found' }), el('p', {}, el('a', { href: '#/', text: 'Back to the collections' }))];
}

if (!/^#\/auth\//.test(location.hash)) {
  hooks.render = render;
  window.addEventListener('hashchange', render);
  watchSession();
  render();
}
