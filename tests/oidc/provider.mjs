// A real OpenID Connect provider (panva's oidc-provider) on 127.0.0.1 for Gatehouse's OAuth2
// tests. Prints `LISTENING <port>` once it accepts connections. Logins need no form: the
// interaction takes the account from the authorize request's `login_hint`.
//
// Options (for the browser test of the popup flow):
//   --interactive          a person signs in: a login page (the account's `sub` as user name)
//                          and a consent page, both plain HTML forms
//   --redirect-uri URL     another redirect URI the test client may use (repeatable)
//
// Test-only endpoints:
//   POST /test/accounts  {sub, email, email_verified, name, preferred_username}  registers an account
//   POST /test/rotate    a new signing key (a new kid); the old key is no longer published
//   GET  /test/other-jwks  a JWKS with the current kid but another key (a forged set)
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const INTERACTIVE = args.includes('--interactive');
const extraRedirects = args.flatMap((a, i) => (a === '--redirect-uri' && args[i + 1] ? [args[i + 1]] : []));

const CLIENT = {
  client_id: 'gatehouse',
  client_secret: 'gatehouse-test-secret',
  redirect_uris: ['http://127.0.0.1/oauth2-redirect', ...extraRedirects],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};

const accounts = new Map();
let generation = 0;
let provider;
let currentKid;

function newKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

function publicOf(jwk) {
  const { kty, n, e, kid, use, alg } = jwk;
  return { kty, n, e, kid, use, alg };
}

function build(issuer) {
  generation += 1;
  currentKid = `key-${generation}`;
  const p = new Provider(issuer, {
    clients: [CLIENT],
    jwks: { keys: [newKey(currentKid)] },
    // The id_token carries the scopes' claims (Gatehouse may read the account from it).
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'picture'],
    },
    pkce: { required: () => false },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, ...(accounts.get(sub) || {}) }),
    }),
  });
  p.proxy = false;
  return p;
}

async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = details.params.login_hint || 'anonymous';
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, title, body) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// The interactive pages: GET shows the prompt's form, POST .../login and .../consent answer it.
async function interact(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return json(res, 400, { error: 'interaction mismatch' });
  if (req.method === 'GET') {
    if (details.prompt.name === 'login') {
      return page(res, 'Sign in to Test IdP', `<form method="post" action="/interaction/${uid}/login">
<label>User name <input name="login" autocomplete="username" required></label>
<button type="submit">Sign in</button></form>`);
    }
    const scopes = escapeHtml(details.params.scope);
    return page(res, 'Allow access', `<p>The app asks for: ${scopes}</p>
<form method="post" action="/interaction/${uid}/consent"><button type="submit">Allow</button></form>`);
  }
  if (action === 'login') {
    const accountId = (await readForm(req)).get('login') || '';
    if (!accounts.has(accountId)) return page(res, 'Sign in to Test IdP', '<p role="alert">Unknown user.</p>');
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname.startsWith('/interaction/')) {
      return INTERACTIVE ? await interact(req, res, url) : await finishInteraction(req, res);
    }
    if (req.method === 'POST' && url.pathname === '/test/accounts') {
      const account = await readJson(req);
      accounts.set(account.sub, account);
      return json(res, 200, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/test/rotate') {
      provider = build(issuer);
      return json(res, 200, { kid: currentKid });
    }
    if (url.pathname === '/test/other-jwks') {
      return json(res, 200, { keys: [publicOf(newKey(currentKid))] });
    }
    return provider.callback()(req, res);
  } catch (e) {
    json(res, 500, { error: String(e) });
  }
});

let issuer;
server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  provider = build(issuer);
  console.log(`LISTENING ${server.address().port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
