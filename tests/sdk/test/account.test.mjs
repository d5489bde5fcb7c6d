// Verification, password reset, email change and the new-location alert through the SDK, with a
// real SMTP exchange (../smtp-sink.mjs): every token is read from the link in the mail the server
// sent. Each test works on a fresh auth collection. Spec: pocketbase-auth-api.md §4.0 step 6,
// §4.9–4.11, §7. PocketBase 0.40.6 is the oracle; Gatehouse's confirm pages are gatehouseOnly.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sentTo } from '../smtp-sink.mjs';
import {
  PASSWORD, api, client, decodeJwt, expectSdkError, gatehouseOnly, uniqueEmail, useMailSink, useServer,
} from './helpers.mjs';

const ctx = useServer();
const mailbox = useMailSink(ctx);
const VALIDATION = 'An error occurred while validating the submitted data.';
// Long enough for a background send that should not happen to show up.
const QUIET_MS = 400;

/** A fresh auth collection, and a record in it (unverified) made by the superuser. */
async function collectionWithMember(options = {}) {
  const { su } = await mailbox.ready();
  const name = `acct_${randomBytes(4).toString('hex')}`;
  await su.collections.create({ name, type: 'auth', ...options });
  const email = uniqueEmail('acct');
  const record = await su.collection(name).create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
  return { name, email, record };
}

/** The token of the `flow` link (confirm-verification, …) in the next mail to `email` after `seen`. */
async function linkToken(email, flow, seen) {
  const { sink } = mailbox;
  const mail = await sink.waitFor((m) => sink.messages.indexOf(m) >= seen && sentTo(email)(m), 5000);
  const m = new RegExp(`${flow}/([\\w.-]+)`).exec(mail.text);
  assert.ok(m, `no ${flow} link in: ${mail.text}`);
  return { token: m[1], mail };
}

const mailsTo = (email) => mailbox.sink.messages.filter(sentTo(email)).length;
const tokenCode = (body) => body.data?.token?.code;

test('verification: same answer for unknown addresses, a link that verifies, PocketBase token claims', async () => {
  const { name, email, record } = await collectionWithMember();
  const pb = client(ctx.server);
  const seen = mailbox.sink.messages.length;
  assert.equal(await pb.collection(name).requestVerification('nobody-here@example.com'), true);
  assert.equal(await pb.collection(name).requestVerification(email), true);
  const { token, mail } = await linkToken(email, 'confirm-verification', seen);
  assert.match(mail.subject, /^Verify your .+ email$/);
  const claims = decodeJwt(token).payload;
  assert.deepEqual(Object.keys(claims), ['collectionId', 'email', 'exp', 'id', 'type']);
  assert.equal(claims.type, 'verification');
  assert.equal(claims.email, email);
  assert.equal(claims.id, record.id);
  await sleep(QUIET_MS);
  assert.equal(mailsTo('nobody-here@example.com'), 0);

  const err = await expectSdkError(pb.collection(name).confirmVerification('not-a-token'), 400, VALIDATION);
  assert.equal(tokenCode(err), 'validation_invalid_token_claims');
  assert.equal(await pb.collection(name).confirmVerification(token), true);
  const { su } = mailbox;
  assert.equal((await su.collection(name).getOne(record.id)).verified, true);
  // Reusable until it expires (PocketBase); a verified address gets no more mails.
  assert.equal(await pb.collection(name).confirmVerification(token), true);
  const before = mailsTo(email);
  assert.equal(await pb.collection(name).requestVerification(email), true);
  await sleep(QUIET_MS);
  assert.equal(mailsTo(email), before);
});

test('verification: a token of another collection and superusers are refused', async () => {
  const a = await collectionWithMember();
  const b = await collectionWithMember();
  const pb = client(ctx.server);
  const seen = mailbox.sink.messages.length;
  await pb.collection(a.name).requestVerification(a.email);
  const { token } = await linkToken(a.email, 'confirm-verification', seen);
  const err = await expectSdkError(pb.collection(b.name).confirmVerification(token), 400, VALIDATION);
  assert.equal(tokenCode(err), 'validation_token_collection_mismatch');
  await expectSdkError(pb.collection('_superusers').requestVerification(ctx.server.suEmail), 400,
    'All superusers are verified by default.');
});

test('password reset: the link sets a new password once and ends every session', async () => {
  const { name, email } = await collectionWithMember();
  const user = client(ctx.server);
  await user.collection(name).authWithPassword(email, PASSWORD);
  const oldToken = user.authStore.token;
  const pb = client(ctx.server);
  assert.equal(await pb.collection(name).requestPasswordReset('nobody-here@example.com'), true);
  const seen = mailbox.sink.messages.length;
  assert.equal(await pb.collection(name).requestPasswordReset(email), true);
  const { token } = await linkToken(email, 'confirm-password-reset', seen);
  assert.equal(decodeJwt(token).payload.type, 'passwordReset');

  let err = await expectSdkError(pb.collection(name).confirmPasswordReset(token, 'short', 'short'), 400, VALIDATION);
  assert.equal(err.data.password.code, 'validation_length_out_of_range');
  err = await expectSdkError(pb.collection(name).confirmPasswordReset(token, 'new-password-1', 'other-password-1'), 400, VALIDATION);
  assert.equal(err.data.passwordConfirm.code, 'validation_values_mismatch');
  assert.equal(await pb.collection(name).confirmPasswordReset(token, 'new-password-1', 'new-password-1'), true);

  err = await expectSdkError(pb.collection(name).confirmPasswordReset(token, 'new-password-2', 'new-password-2'), 400, VALIDATION);
  assert.equal(tokenCode(err), 'validation_invalid_token');
  const refresh = await api(ctx.server, 'POST', `/api/collections/${name}/auth-refresh`, { token: oldToken });
  assert.equal(refresh.status, 401, 'the old session must end');
  await expectSdkError(pb.collection(name).authWithPassword(email, PASSWORD), 400);
  const fresh = await pb.collection(name).authWithPassword(email, 'new-password-1');
  assert.equal(fresh.record.verified, true, 'the link proved the address');
});

test('email change: a link to the new address, confirmed with the password, ends the old session', async () => {
  const { name, email } = await collectionWithMember();
  const other = await mailbox.su.collection(name).create({
    email: uniqueEmail('taken'), password: PASSWORD, passwordConfirm: PASSWORD,
  });
  const user = client(ctx.server);
  await user.collection(name).authWithPassword(email, PASSWORD);
  const oldToken = user.authStore.token;

  let err = await expectSdkError(user.collection(name).requestEmailChange(other.email), 400, VALIDATION);
  assert.equal(err.data.newEmail.code, 'validation_invalid_new_email');
  err = await expectSdkError(user.collection(name).requestEmailChange(email), 400, VALIDATION);
  assert.equal(err.data.newEmail.code, 'validation_not_in_invalid');
  await expectSdkError(client(ctx.server).collection(name).requestEmailChange(uniqueEmail()), 401);

  const newEmail = uniqueEmail('moved');
  const seen = mailbox.sink.messages.length;
  assert.equal(await user.collection(name).requestEmailChange(newEmail), true);
  const { token } = await linkToken(newEmail, 'confirm-email-change', seen);
  const claims = decodeJwt(token).payload;
  assert.equal(claims.type, 'emailChange');
  assert.equal(claims.email, email);
  assert.equal(claims.newEmail, newEmail);

  err = await expectSdkError(user.collection(name).confirmEmailChange(token, 'wrong-password-1'), 400, VALIDATION);
  assert.equal(err.data.password.code, 'validation_invalid_password');
  assert.equal(user.authStore.isValid, true);
  // The SDK clears its store when the token is for the record it holds.
  assert.equal(await user.collection(name).confirmEmailChange(token, PASSWORD), true);
  assert.equal(user.authStore.isValid, false);
  const refresh = await api(ctx.server, 'POST', `/api/collections/${name}/auth-refresh`, { token: oldToken });
  assert.equal(refresh.status, 401);
  const pb = client(ctx.server);
  const fresh = await pb.collection(name).authWithPassword(newEmail, PASSWORD);
  assert.equal(fresh.record.email, newEmail);
  assert.equal(fresh.record.verified, true);
  err = await expectSdkError(pb.collection(name).confirmEmailChange(token, PASSWORD), 400, VALIDATION);
  assert.equal(tokenCode(err), 'validation_invalid_token');
});

test('new-location alert: none on the first login, one per new place', async () => {
  const { name, email } = await collectionWithMember();
  const loginFrom = (agent) => api(ctx.server, 'POST', `/api/collections/${name}/auth-with-password`, {
    body: { identity: email, password: PASSWORD },
    headers: { 'User-Agent': agent },
  });
  assert.equal((await loginFrom('sdk-test/1')).status, 200);
  assert.equal((await loginFrom('sdk-test/1')).status, 200);
  await sleep(QUIET_MS);
  assert.equal(mailsTo(email), 0, 'first login and a known place: no alert');
  const seen = mailbox.sink.messages.length;
  assert.equal((await loginFrom('sdk-test/2')).status, 200);
  const alert = await mailbox.sink.waitFor((m) => mailbox.sink.messages.indexOf(m) >= seen && sentTo(email)(m), 5000);
  assert.equal(alert.subject, 'Login from a new location');
  assert.match(alert.text, /127\.0\.0\.1 sdk-test\/2/);
});

test('Gatehouse: the mailed link opens a form that works without JavaScript', gatehouseOnly, async () => {
  const { name, email, record } = await collectionWithMember();
  const seen = mailbox.sink.messages.length;
  await client(ctx.server).collection(name).requestVerification(email);
  const { mail } = await linkToken(email, 'confirm-verification', seen);
  const link = /https?:\/\/\S+\/_\/auth\/confirm-verification\/[\w.-]+/.exec(mail.text)[0];
  const path = new URL(link).pathname;
  const form = await fetch(ctx.server.url + path);
  assert.equal(form.status, 200);
  assert.equal(form.headers.get('referrer-policy'), 'no-referrer');
  const html = await form.text();
  const action = /<form method="post" action="([^"]+)">/.exec(html)[1];
  const token = /name="token" value="([^"]+)"/.exec(html)[1];
  assert.equal((await mailbox.su.collection(name).getOne(record.id)).verified, false, 'opening the link changes nothing');
  const done = await fetch(ctx.server.url + action, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  assert.equal(done.status, 200);
  assert.match(await done.text(), /Email verified/);
  assert.equal((await mailbox.su.collection(name).getOne(record.id)).verified, true);
});
