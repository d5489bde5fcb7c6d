// The configuration views: a collection's auth options, the audit log and the settings. Each
// form sends only its own part (PATCH merges it into the rest).

import {
  SU, api, collect, collectionPath, el, enc, field, form, hidden, pager, readSession, say, shown, table,
} from './core.js';
import { mappedFields, providersSection } from './oauth2.js';
import { authCollections } from './records.js';

export async function optionsView([name]) {
  const c = await api('GET', collectionPath(name));
  if (c.type !== 'auth') return [el('h1', { text: name }), el('p', { text: 'Only auth collections have auth options.' })];
  const at = (path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), c);
  const f = (path, label, kind, opts = {}) => field(path, label, kind, { ...opts, value: at(path) });
  const group = (legend, ...fields) => el('fieldset', {}, el('legend', { text: legend }), fields);
  const templates = [
    ['verificationTemplate', 'Verification mail'],
    ['resetPasswordTemplate', 'Password reset mail'],
    ['confirmEmailChangeTemplate', 'Email change mail'],
    ['otp.emailTemplate', 'Email code mail'],
    ['authAlert.emailTemplate', 'New-location alert mail'],
    ['securityAlertTemplate', 'Security alert mail'],
  ];
  const options = form([
    group('Password',
      f('passwordAuth.enabled', 'Sign in with a password', 'bool'),
      f('passwordAuth.identityFields', 'Identity fields', 'list', { hint: 'Comma-separated, e.g. email, username.' })),
    group('Email codes (OTP)',
      f('otp.enabled', 'Sign in with a code sent by email', 'bool'),
      f('otp.duration', 'Code lifetime (seconds)', 'number'),
      f('otp.length', 'Code length', 'number')),
    group('Multi-factor authentication',
      f('mfa.enabled', 'Require a second step (for records the rule matches)', 'bool'),
      f('mfa.rule', 'Rule', 'text', { hint: 'A filter on the record; empty: everyone.' }),
      f('mfa.duration', 'Time for the second step (seconds)', 'number'),
      f('mfa.userOptIn', 'Users may turn on two-factor themselves', 'bool'),
      f('mfa.reauthWindow', 'Recent sign-in window for factor changes (seconds)', 'number'),
      f('mfa.trustedDeviceDuration', 'Trusted devices last (seconds; 0: never trust)', 'number')),
    group('Authenticator apps (TOTP)',
      f('totp.enabled', 'Allow authenticator apps', 'bool'),
      f('totp.issuer', 'Issuer shown in the app', 'text', { hint: 'Empty: the application name.' }),
      f('totp.digits', 'Digits', 'number'),
      f('totp.period', 'Period (seconds)', 'number'),
      f('totp.skew', 'Steps accepted either side', 'number'),
      f('totp.algorithm', 'Algorithm', 'select', { options: [['SHA1', 'SHA1'], ['SHA256', 'SHA256'], ['SHA512', 'SHA512']] })),
    group('Backup codes',
      f('backupCodes.enabled', 'Give backup codes', 'bool'),
      f('backupCodes.count', 'Codes per set', 'number')),
    group('Text messages (SMS)',
      f('sms.enabled', 'Allow codes by text message', 'bool'),
      f('sms.duration', 'Code lifetime (seconds)', 'number'),
      f('sms.length', 'Code length', 'number'),
      f('sms.template', 'Message', 'text', { hint: 'Placeholders: {APP_NAME}, {OTP}.' })),
    group('OAuth2',
      f('oauth2.enabled', 'Sign in with OAuth2 providers', 'bool', { hint: 'The providers are set up below the form.' }),
      mappedFields(c)),
    group('Mail templates',
      f('authAlert.enabled', 'Send the new-location alert', 'bool'),
      templates.map(([path, label]) => el('fieldset', {}, el('legend', { text: label }),
        f(`${path}.subject`, `${label}: subject`, 'text'),
        f(`${path}.body`, `${label}: body (HTML)`, 'textarea', { rows: 6 })))),
  ], async (sent) => {
    const body = collect(sent);
    if (!body) return;
    await api('PATCH', collectionPath(name), body);
    say(sent, 'ok', 'The auth options were saved.');
  });
  return [el('h1', { text: `Auth options of ${name}` }), options, providersSection(name, c)];
}

// The audit log.

const EVENT_TYPES = [
  'login.success', 'login.failure', 'login.new_location', 'mfa.required', 'mfa.success', 'mfa.failure',
  'mfa.stepUp', 'mfa.reset', 'otp.requested', 'factor.enrolled', 'factor.removed',
  'backupCodes.regenerated', 'backupCode.used', 'device.trusted', 'device.revoked', 'sms.capped',
  'impersonation', 'password.changed', 'password.reset_requested', 'verification.requested',
  'email.verified', 'email.change_requested', 'email.changed', 'settings.changed', 'settings.tested',
];
const AUDIT_FILTERS = ['type', 'collectionId', 'recordId', 'since', 'until'];

/** `datetime-local` works in local time without a zone; the API takes RFC 3339. */
const toApiTime = (local) => (local ? new Date(local).toISOString() : '');
function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export async function auditView(_, query) {
  const page = Math.max(1, parseInt(query.get('page') || '1', 10) || 1);
  const params = new URLSearchParams({ page: String(page), perPage: '30' });
  for (const key of AUDIT_FILTERS) if (query.get(key)) params.set(key, query.get(key));
  const [collections, list] = await Promise.all([
    api('GET', '/api/collections?perPage=500'),
    api('GET', `/api/audit?${params}`),
  ]);
  const names = new Map(collections.items.map((c) => [c.id, c.name]));
  const filters = form([
    field('type', 'Type', 'select', { value: query.get('type') || '', options: [['', 'Any type'], ...EVENT_TYPES.map((t) => [t, t])] }),
    field('collectionId', 'Collection', 'select', {
      value: query.get('collectionId') || '',
      options: [['', 'Any collection'], ...collections.items.map((c) => [c.id, c.name])],
    }),
    field('recordId', 'Record ID', 'text', { value: query.get('recordId') || '', maxlength: 100 }),
    field('since', 'From', 'datetime-local', { value: toLocalInput(query.get('since')) }),
    field('until', 'Until', 'datetime-local', { value: toLocalInput(query.get('until')) }),
  ], async (f) => {
    const v = collect(f);
    const chosen = new URLSearchParams();
    for (const key of AUDIT_FILTERS) {
      const value = key === 'since' || key === 'until' ? toApiTime(v[key]) : v[key];
      if (value) chosen.set(key, value);
    }
    location.hash = `#/audit?${chosen}`;
  }, 'Filter', { class: 'filters' });
  const rows = list.items.map((e) => [
    shown(e.created),
    e.type,
    shown(names.get(e.collectionId) || e.collectionId),
    e.recordId && names.get(e.collectionId)
      ? el('a', { href: `#/record/${enc(names.get(e.collectionId))}/${enc(e.recordId)}`, text: e.recordId })
      : shown(e.recordId),
    shown(e.method),
    shown(e.ip),
    el('code', { text: JSON.stringify(e.data || {}) }),
  ]);
  const here = new URLSearchParams();
  for (const key of AUDIT_FILTERS) if (query.get(key)) here.set(key, query.get(key));
  return [
    el('h1', { text: 'Audit log' }),
    filters,
    el('p', { role: 'status', text: `${list.totalItems} event${list.totalItems === 1 ? '' : 's'}.` }),
    rows.length ? table('Audit events', ['When', 'Type', 'Collection', 'Record', 'Method', 'IP', 'Details'], rows) : null,
    pager(list, (p) => {
      here.set('page', String(p));
      return `#/audit?${here}`;
    }),
  ];
}

// The server settings, one form per section.

export async function settingsView() {
  const [s, collections] = await Promise.all([api('GET', '/api/settings'), authCollections()]);
  const at = (path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), s);
  const f = (path, label, kind, opts = {}) => field(path, label, kind, { ...opts, value: at(path) });
  const secret = (path, label) => field(path, label, 'secret', { hint: 'Write-only: leave empty to keep the stored one.' });
  const section = (heading, ...nodes) => el('section', {}, el('h2', { text: heading }), nodes);
  // `adjust(body)` shapes what the form collected before it is sent.
  const saving = (message, adjust = () => {}) => async (sent) => {
    const body = collect(sent);
    if (!body) return;
    adjust(body);
    await api('PATCH', '/api/settings', body);
    for (const input of sent.querySelectorAll('[data-kind=secret]')) input.value = '';
    say(sent, 'ok', message);
  };
  const session = readSession() || {};

  const testMail = form([
    field('email', 'Send to', 'email', { value: session.email || '', required: true }),
    field('template', 'Template', 'select', {
      value: 'verification',
      options: [
        ['verification', 'Verification'], ['password-reset', 'Password reset'], ['email-change', 'Email change'],
        ['otp', 'Email code (OTP)'], ['login-alert', 'New-location alert'], ['security-alert', 'Security alert'],
      ],
    }),
    field('collection', 'Collection', 'select', { value: SU, options: collections.map((c) => [c.name, c.name]) }),
  ], async (sent) => {
    const body = collect(sent);
    await api('POST', '/api/settings/test/email', body);
    const current = await api('GET', '/api/settings');
    say(sent, 'ok', current.smtp.enabled
      ? `A test mail was sent to ${body.email}.`
      : `SMTP is off: the test mail to ${body.email} was written to the server's mail folder.`);
  }, 'Send a test mail', { class: 'test-send' });

  const testSms = form([
    field('phone', 'Send to (international format, e.g. +14155552671)', 'tel', { required: true, maxlength: 32 }),
  ], async (sent) => {
    const body = collect(sent);
    await api('POST', '/api/settings/test/sms', body);
    say(sent, 'ok', `A test message was sent to ${body.phone}.`);
  }, 'Send a test message', { class: 'test-send' });

  return [
    el('h1', { text: 'Settings' }),
    section('Application', form([
      f('meta.appName', 'Application name', 'text'),
      f('meta.appURL', 'Application URL', 'url'),
      f('meta.senderName', 'Sender name', 'text'),
      f('meta.senderAddress', 'Sender address', 'email'),
    ], saving('The application settings were saved.'))),
    section('Mail (SMTP)', form([
      f('smtp.enabled', 'Send mail over SMTP', 'bool', { hint: 'Off: mail is written to the server\'s mail folder.' }),
      f('smtp.host', 'Host', 'text'),
      f('smtp.port', 'Port', 'number'),
      f('smtp.username', 'User name', 'text'),
      secret('smtp.password', 'Password'),
      f('smtp.authMethod', 'Login method', 'select', { options: [['', 'Let the server choose'], ['PLAIN', 'PLAIN'], ['LOGIN', 'LOGIN']] }),
      f('smtp.tlsMode', 'Encryption', 'select', {
        options: [['starttls', 'STARTTLS (required)'], ['implicit', 'TLS from the start (port 465)'], ['none', 'None (plain text)']],
      }),
      f('smtp.allowInsecureAuth', 'Allow the password without TLS to another machine', 'bool'),
      f('smtp.localName', 'EHLO name', 'text', { hint: 'Empty: this machine\'s host name.' }),
    ], saving('The mail settings were saved.')),
    el('h3', { text: 'Test mail' }),
    el('p', { class: 'hint', text: 'Uses the saved settings.' }),
    testMail),
    section('Text messages (SMS)', form([
      f('sms.enabled', 'Send text messages', 'bool'),
      f('sms.provider', 'Provider', 'select', {
        options: [['log', 'None (write to the server\'s sms folder)'], ['twilio', 'Twilio'], ['vonage', 'Vonage'], ['webhook', 'Webhook']],
      }),
      f('sms.from', 'Sender (number or name)', 'text'),
      el('fieldset', {}, el('legend', { text: 'Twilio' }),
        f('sms.twilio.accountSid', 'Account SID', 'text'),
        secret('sms.twilio.authToken', 'Auth token'),
        f('sms.twilio.baseUrl', 'Base URL', 'url')),
      el('fieldset', {}, el('legend', { text: 'Vonage' }),
        f('sms.vonage.apiKey', 'API key', 'text'),
        secret('sms.vonage.apiSecret', 'API secret'),
        f('sms.vonage.baseUrl', 'Base URL', 'url')),
      el('fieldset', {}, el('legend', { text: 'Webhook' }),
        f('sms.webhook.url', 'URL', 'url'),
        secret('sms.webhook.secret', 'Signing secret')),
      f('sms.allowedCountries', 'Allowed country codes', 'list', { hint: 'Comma-separated, e.g. +1, +44; empty: every country.' }),
      el('fieldset', {}, el('legend', { text: 'Caps (0: no cap)' }),
        f('sms.caps.perNumberPerHour', 'Per number per hour', 'number'),
        f('sms.caps.perRecordPerDay', 'Per record per day', 'number'),
        f('sms.caps.perDay', 'Per day for the whole server', 'number')),
    ], saving('The text message settings were saved.')),
    el('h3', { text: 'Test message' }),
    el('p', { class: 'hint', text: 'Uses the saved settings; counts against the caps.' }),
    testSms),
    section('Rate limits', rateLimitsForm(s.rateLimits, saving('The rate limits were saved.', (body) => {
      // Arrays replace the stored ones: no rows left means no rules.
      body.rateLimits.rules = (body.rateLimits.rules || []).filter(Boolean);
    }))),
    section('Failed-password lockout', form([
      f('lockout.enabled', 'Lock out repeated wrong passwords', 'bool'),
      f('lockout.maxFailures', 'Wrong passwords before an IP is locked out', 'number'),
      f('lockout.duration', 'Window and lockout (seconds)', 'number'),
      f('lockout.slowdownAfter', 'Wrong passwords from any IP before answers slow down', 'number'),
    ], saving('The lockout settings were saved.'))),
    section('Proxies and superuser networks', form([
      f('trustedProxy.headers', 'Client IP headers', 'list', { hint: 'e.g. X-Forwarded-For; empty: the connection\'s address.' }),
      f('trustedProxy.useLeftmostIP', 'Use the leftmost address', 'bool'),
      f('trustedProxy.proxyIPs', 'Trusted proxies (IPs or CIDRs)', 'list', { hint: 'Empty: loopback and private networks.' }),
      f('superuserIPs', 'Superusers only from (IPs or CIDRs)', 'list', {
        hint: 'Empty: anywhere. A list without your own address locks you out of this dashboard.',
      }),
    ], saving('The network settings were saved.'))),
  ];
}

/** The rate-limit settings, with one table row per rule. */
function rateLimitsForm(limits, save) {
  const body = el('tbody');
  const audiences = [['', 'Everyone'], ['@guest', 'Guests'], ['@auth', 'Signed-in callers']];
  const addRow = (rule) => {
    const n = body.children.length;
    const input = (key, label, props) =>
      el('input', { 'data-path': `rateLimits.rules.${n}.${key}`, 'aria-label': `Rule ${n + 1}: ${label}`, ...props });
    const row = el('tr', {},
      el('td', {}, input('label', 'label', { 'data-kind': 'text', type: 'text', value: rule.label })),
      el('td', {}, el('select', { 'data-path': `rateLimits.rules.${n}.audience`, 'data-kind': 'select', 'aria-label': `Rule ${n + 1}: audience` },
        audiences.map(([v, text]) => el('option', { value: v, text, selected: v === rule.audience })))),
      el('td', {}, input('duration', 'seconds', { 'data-kind': 'number', type: 'number', value: String(rule.duration) })),
      el('td', {}, input('maxRequests', 'requests', { 'data-kind': 'number', type: 'number', value: String(rule.maxRequests) })),
      el('td', {}, el('button', {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          row.remove();
          renumber();
        },
      }, 'Remove', hidden(` rule ${n + 1}`))));
    body.append(row);
  };
  // Paths follow the rows, so a field error lands on the rule the server names.
  const renumber = () => {
    [...body.children].forEach((row, n) => {
      for (const input of row.querySelectorAll('[data-path]')) {
        const key = input.dataset.path.split('.').pop();
        input.dataset.path = `rateLimits.rules.${n}.${key}`;
        input.setAttribute('aria-label', input.getAttribute('aria-label').replace(/^Rule \d+/, `Rule ${n + 1}`));
      }
      row.querySelector('button .sr').textContent = ` rule ${n + 1}`;
    });
  };
  (limits.rules || []).forEach(addRow);
  return form([
    field('rateLimits.enabled', 'Limit requests per client IP', 'bool', { value: limits.enabled }),
    field('rateLimits.excludedIPs', 'Never limit (IPs or CIDRs)', 'list', { value: limits.excludedIPs }),
    el('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Rate-limit rules', tabindex: 0 }, el('table', {},
      el('caption', { class: 'sr', text: 'Rate-limit rules' }),
      el('thead', {}, el('tr', {}, ['Label', 'Audience', 'Seconds', 'Requests', 'Action'].map((h) => el('th', { scope: 'col', text: h })))),
      body)),
    el('button', { type: 'button', class: 'secondary', text: 'Add a rule', onclick: () => addRow({ label: '', audience: '', duration: 10, maxRequests: 100 }) }),
  ], save);
}
