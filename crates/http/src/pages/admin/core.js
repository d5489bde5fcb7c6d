// The dashboard's building blocks: DOM helpers, the session, API calls and forms.
//
// Safety rules kept here: every piece of data reaches the page through textContent or an
// attribute (never parsed as HTML); the token lives only in sessionStorage (gone with the tab), never
// in a URL; a session ends when the token expires or after IDLE_MS without activity.

export const SU = '_superusers';
export const PER_PAGE = 20;
const STORE = 'gatehouse.dashboard';
const IDLE_MS = 15 * 60 * 1000;

/** Set by the entry script: draws the current view (or the sign-in form). */
export const hooks = { render: () => {} };

// ---------------------------------------------------------------- DOM helpers

let lastId = 0;
export const uid = (prefix) => `${prefix}-${++lastId}`;
export const enc = encodeURIComponent;

/** An element: `props` are attributes, except text, class, on* handlers and live properties. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (['value', 'checked', 'selected', 'disabled', 'hidden'].includes(key)) node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const hidden = (text) => el('span', { class: 'sr', text });
export const yesNo = (b) => (b ? 'Yes' : 'No');
export const shown = (s) => (s === '' || s === undefined || s === null ? '—' : String(s));

export function table(caption, headers, rows) {
  // A region that scrolls sideways on a phone: focusable, so the keyboard can scroll it too.
  return el('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 },
    el('table', {},
      el('caption', { class: 'sr', text: caption }),
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c)))))));
}

export function pager(list, hrefOf) {
  if (!list.totalPages || list.totalPages <= 1) return null;
  return el('nav', { class: 'pager', 'aria-label': 'Pages' },
    list.page > 1 ? el('a', { href: hrefOf(list.page - 1), text: 'Previous page' }) : null,
    el('span', { text: `Page ${list.page} of ${list.totalPages}` }),
    list.page < list.totalPages ? el('a', { href: hrefOf(list.page + 1), text: 'Next page' }) : null);
}

// ---------------------------------------------------------------- session

let signedOutMessage = '';

/** The message of the last sign-out, once. */
export function takeSignedOutMessage() {
  const message = signedOutMessage;
  signedOutMessage = '';
  return message;
}

export function readSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    return s && typeof s.token === 'string' ? s : null;
  } catch {
    return null;
  }
}

/** Why the session `s` is over ('' while it is good). */
export function sessionOver(s) {
  const now = Date.now();
  if (now >= s.expires) return 'Your session expired. Please sign in again.';
  if (now >= s.idleUntil) return 'You were signed out after 15 minutes without activity.';
  return '';
}

/** The session if it is still good; an expired or idle one is ended here. */
export function liveSession() {
  const s = readSession();
  if (!s) return null;
  const over = sessionOver(s);
  if (!over) return s;
  endSession(over);
  return null;
}

/** Forgets the token and shows the sign-in form with `message`. */
export function endSession(message) {
  sessionStorage.removeItem(STORE);
  signedOutMessage = message;
  hooks.render();
}

/** The `exp` claim of a JWT, in milliseconds (0 when unreadable). */
function tokenExpiry(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part + '==='.slice((part.length + 3) % 4)));
    return Number(claims.exp) * 1000 || 0;
  } catch {
    return 0;
  }
}

export function startSession(auth) {
  const now = Date.now();
  const expires = tokenExpiry(auth.token) || now + IDLE_MS;
  const email = (auth.record && auth.record.email) || '';
  sessionStorage.setItem(STORE, JSON.stringify({ token: auth.token, email, expires, idleUntil: now + IDLE_MS }));
  hooks.render();
}

// Activity keeps a live session going; an ended one stays ended. Written at most every 5 s.
let lastTouch = 0;
function touch() {
  const now = Date.now();
  if (now - lastTouch < 5000) return;
  const s = readSession();
  if (!s || sessionOver(s)) return;
  lastTouch = now;
  s.idleUntil = now + IDLE_MS;
  sessionStorage.setItem(STORE, JSON.stringify(s));
}

/** Starts watching activity and the clock. */
export function watchSession() {
  for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, touch, { passive: true });
  setInterval(() => {
    if (readSession()) liveSession();
  }, 1000);
}

// ---------------------------------------------------------------- API

export class ApiError extends Error {
  constructor(status, body) {
    const message = body && typeof body.message === 'string' && body.message;
    super(message || (status ? `The request failed (${status}).` : 'The server could not be reached.'));
    this.status = status;
    this.body = body && typeof body === 'object' ? body : {};
    this.data = this.body.data && typeof this.body.data === 'object' ? this.body.data : {};
  }
}

/** One API call with the session's token (`anonymous`: without one, for signing in). */
export async function api(method, path, body, { anonymous = false } = {}) {
  const s = anonymous ? null : liveSession();
  if (!anonymous && !s) throw new ApiError(401, { message: 'Please sign in.' });
  const headers = { Accept: 'application/json' };
  if (s) headers.Authorization = s.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    if (response.status === 401 && s) endSession('Your session is no longer valid. Please sign in again.');
    throw new ApiError(response.status, json);
  }
  return json;
}

export const collectionPath = (name) => `/api/collections/${enc(name)}`;

// ---------------------------------------------------------------- forms

/** An input bound to `path` of a JSON body. Kinds: text, email, url, tel, password, number,
 * bool, list (comma-separated), lines (a list one per line or comma-separated), secret
 * (write-only: empty keeps the stored one), select, textarea. */
export function field(path, label, kind = 'text', opts = {}) {
  const id = uid('f');
  const hintId = opts.hint ? uid('h') : undefined;
  const common = { id, 'data-path': path, 'data-kind': kind, 'aria-describedby': hintId };
  const hint = opts.hint ? el('p', { class: 'hint', id: hintId, text: opts.hint }) : null;
  const value = opts.value;
  if (kind === 'bool') {
    const box = el('input', { ...common, type: 'checkbox', checked: Boolean(value) });
    return el('div', { class: 'field check' }, box, el('label', { for: id, text: label }), hint);
  }
  let input;
  if (kind === 'select') {
    input = el('select', common, opts.options.map(([v, text]) => el('option', { value: v, text, selected: v === value })));
  } else if (kind === 'textarea') {
    input = el('textarea', { ...common, rows: opts.rows || 5, value: value ?? '' });
  } else if (kind === 'lines') {
    input = el('textarea', { ...common, rows: opts.rows || 3, value: (value || []).join('\n') });
  } else {
    const type = { list: 'text', secret: 'password' }[kind] || kind;
    const shownValue = kind === 'list' ? (value || []).join(', ') : kind === 'secret' ? '' : value ?? '';
    input = el('input', {
      ...common,
      type,
      value: String(shownValue),
      autocomplete: opts.autocomplete || (kind === 'secret' ? 'new-password' : 'off'),
      inputmode: opts.inputmode,
      maxlength: opts.maxlength,
      required: opts.required,
      step: kind === 'number' ? 'any' : undefined,
    });
  }
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), input, hint);
}

function setPath(target, path, value) {
  const keys = path.split('.');
  let node = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      node[key] = value;
      return;
    }
    if (node[key] === undefined) node[key] = /^\d+$/.test(keys[i + 1]) ? [] : {};
    node = node[key];
  });
}

/** The form's values as a nested JSON body (null when one is not valid; it is marked). */
export function collect(form) {
  const body = {};
  let valid = true;
  for (const input of form.querySelectorAll('[data-path]')) {
    const raw = input.value;
    let value;
    switch (input.dataset.kind) {
      case 'bool':
        value = input.checked;
        break;
      case 'number':
        if (raw.trim() === '' || !Number.isFinite(Number(raw))) {
          markInvalid(input, 'Must be a number.');
          valid = false;
          continue;
        }
        value = Number(raw);
        break;
      case 'list':
      case 'lines':
        value = raw.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
        break;
      case 'secret':
        if (!raw) continue;
        value = raw;
        break;
      case 'textarea':
      case 'password':
        value = raw;
        break;
      default:
        value = raw.trim();
    }
    setPath(body, input.dataset.path, value);
  }
  return valid ? body : null;
}

function markInvalid(input, message) {
  const id = uid('e');
  input.setAttribute('aria-invalid', 'true');
  const describedBy = [input.getAttribute('aria-describedby'), id].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', describedBy);
  (input.closest('.field') || input).append(el('p', { class: 'field-error', id, text: message }));
}

function clearErrors(form) {
  for (const n of form.querySelectorAll('.field-error')) n.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    const kept = (input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id.startsWith('h-'));
    if (kept.length) input.setAttribute('aria-describedby', kept.join(' '));
    else input.removeAttribute('aria-describedby');
  }
  say(form, null);
}

/** A message in the form's status line: `error` (an alert), `ok`, or null to clear it. */
export function say(form, kind, text) {
  const box = form.querySelector('.form-status');
  if (!box) return;
  if (!kind) return box.replaceChildren();
  box.replaceChildren(el('p', { class: kind === 'error' ? 'error' : 'ok', role: kind === 'error' ? 'alert' : 'status', text }));
}

/** Leaf errors of PocketBase's `data` as [path, message] pairs. */
function fieldErrors(data, prefix = '', out = []) {
  for (const [key, v] of Object.entries(data || {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v && typeof v === 'object' && typeof v.code === 'string' && typeof v.message === 'string') out.push([path, v.message]);
    else if (v && typeof v === 'object') fieldErrors(v, path, out);
  }
  return out;
}

/** An API error shown next to the form: the message, and each field's error at its field. */
export function showError(form, err) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    err = new ApiError(500, { message: 'Something went wrong.' });
  }
  const elsewhere = [];
  for (const [path, message] of fieldErrors(err.data)) {
    const input = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (input) markInvalid(input, message);
    else elsewhere.push(`${path}: ${message}`);
  }
  say(form, 'error', [err.message, ...elsewhere].join(' '));
}

/** A form sent by `submit(form)`; its errors land in its status line. */
export function form(children, submit, label = 'Save', props = {}) {
  const f = el('form', { novalidate: true, ...props },
    children,
    el('div', { class: 'actions' }, el('button', { type: 'submit', text: label })),
    el('div', { class: 'form-status' }));
  f.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(f);
    const button = f.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await submit(f);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && !readSession()) return;
      showError(f, err);
    } finally {
      button.disabled = false;
    }
  });
  return f;
}

/** A button that runs `run()`; its errors land in the status line of `f` (a form or a box). */
export function actionButton(f, label, run, props = {}) {
  return el('button', {
    type: 'button',
    class: 'secondary',
    ...props,
    onclick: async (event) => {
      const button = event.currentTarget;
      clearErrors(f);
      button.disabled = true;
      try {
        await run();
      } catch (err) {
        showError(f, err);
        button.disabled = false;
      }
    },
  }, label);
}


// ---------------------------------------------------------------- flash messages

let flash = '';

/** A message for the next view drawn (after an action that redraws the page). */
export function setFlash(text) {
  flash = text;
}

export function takeFlash() {
  const text = flash;
  flash = '';
  return text;
}

export const METHOD_NAMES = {
  totp: 'Authenticator app',
  backupCode: 'Backup code',
  otp: 'Code by email',
  sms: 'Code by text message',
};

export const title = (s) => s.charAt(0).toUpperCase() + s.slice(1);
