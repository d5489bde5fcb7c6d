// PocketBase's MFA flow (mfaId) through the SDK: a first step (password or email OTP) answers 401
// {mfaId}; a second step with a different method and that mfaId logs in. OTP codes come from real
// mails: the server under test sends them to an SMTP sink on 127.0.0.1 in this process
// (../smtp-sink.mjs). Each test works on a fresh auth collection with password + OTP + MFA on.
// Spec: pocketbase-auth-api.md §4.1, §5; mfa-design.md §2 (the 401 `methods` list), §6 (amr/aal
// claims) — those Gatehouse additions are marked gatehouseOnly.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientResponseError } from 'pocketbase';
import { extractOtp, sentTo } from '../smtp-sink.mjs';
import {
  PASSWORD, api, client, decodeJwt, expectSdkError, gatehouseOnly, uniqueEmail, useMailSink, useServer,
} from './helpers.mjs';

const ctx = useServer();
const MAIL_TIMEOUT_MS = 5000;
const ID_RE = /^[a-z0-9]{15}$/;
const EXPIRED_SESSION = 'Invalid or expired MFA session.';
const FOREIGN_SESSION = 'Invalid MFA session.';
const SAME_METHOD = 'A different authentication method is required.';

let sink;
let su;
const mailbox = useMailSink(ctx);
const ready = async () => {
  ({ sink, su } = await mailbox.ready());
};

const MFA_ON = { enabled: true, duration: 600, rule: '' };

/** A fresh auth collection with password, OTP and MFA enabled (options override). */
async function mfaCollection({ mfa = {}, ...rest } = {}) {
  await ready();
  const name = `mfa_${randomBytes(4).toString('hex')}`;
  await su.collections.create({
    name,
    type: 'auth',
    otp: { enabled: true, duration: 180, length: 8 },
    mfa: { ...MFA_ON, ...mfa },
    ...rest,
  });
  return name;
}

async function newMember(col, extra = {}) {
  const email = uniqueEmail('mfa');
  const record = await su.collection(col).create({ email, password: PASSWORD, passwordConfirm: PASSWORD, ...extra });
  return { email, record };
}

/** requestOTP as a guest, then the code from the mail that arrives for it. */
async function requestCode(col, email) {
  const seen = sink.messages.length;
  const { otpId } = await client(ctx.server).collection(col).requestOTP(email);
  const mail = await sink.waitFor((m) => sink.messages.indexOf(m) >= seen && sentTo(email)(m), MAIL_TIMEOUT_MS);
  return { otpId, code: extractOtp(mail, 8) };
}

/** Awaits a first step that must answer the MFA 401: body {mfaId} and no error envelope. */
async function expectMfa(promise) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ClientResponseError, `expected the MFA 401, got ${err ?? 'a success'}`);
  assert.equal(err.status, 401, JSON.stringify(err.response));
  assert.match(err.response.mfaId, ID_RE);
  for (const key of ['status', 'message', 'data']) {
    assert.equal(key in err.response, false, `the MFA 401 is not an error envelope (has ${key})`);
  }
  return err.response;
}

const passwordStep = (col, email, opts) => client(ctx.server).collection(col).authWithPassword(email, PASSWORD, opts);
async function otpStep(col, email, opts) {
  const { otpId, code } = await requestCode(col, email);
  return client(ctx.server).collection(col).authWithOTP(otpId, code, opts);
}

/** password → 401 {mfaId} → OTP with mfaId → 200. Returns {res, pb, record, first}. */
async function passwordThenOtp() {
  const col = await mfaCollection();
  const { email, record } = await newMember(col);
  const first = await expectMfa(passwordStep(col, email));
  const { otpId, code } = await requestCode(col, email);
  const pb = client(ctx.server);
  const res = await pb.collection(col).authWithOTP(otpId, code, { mfaId: first.mfaId });
  return { res, pb, record, first };
}

/** OTP → 401 {mfaId} → password with mfaId → 200. */
async function otpThenPassword() {
  const col = await mfaCollection();
  const { email, record } = await newMember(col);
  const { otpId, code } = await requestCode(col, email);
  const first = await expectMfa(client(ctx.server).collection(col).authWithOTP(otpId, code));
  const pb = client(ctx.server);
  const res = await pb.collection(col).authWithPassword(email, PASSWORD, { mfaId: first.mfaId });
  return { res, pb, record, first, col, otpId, code };
}

function assertLoggedIn({ res, pb, record }) {
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.token, res.token);
  assert.equal(res.record.id, record.id);
  const { payload } = decodeJwt(res.token);
  assert.equal(payload.type, 'auth');
  assert.equal(payload.id, record.id);
  assert.equal(payload.collectionId, record.collectionId);
  return payload;
}

test('password first → 401 {mfaId}; OTP with mfaId → 200 with a token', async () => {
  const flow = await passwordThenOtp();
  assertLoggedIn(flow);
});

test('OTP first → 401 {mfaId} (the OTP is spent); password with mfaId → 200', async () => {
  const flow = await otpThenPassword();
  assertLoggedIn(flow);
  await expectSdkError(client(ctx.server).collection(flow.col).authWithOTP(flow.otpId, flow.code), 400, 'Invalid or expired OTP.');
});

test('the second step also reads mfaId from the JSON body', async () => {
  const col = await mfaCollection();
  const { email, record } = await newMember(col);
  const { otpId, code } = await requestCode(col, email);
  const { mfaId } = await expectMfa(client(ctx.server).collection(col).authWithOTP(otpId, code));
  const res = await api(ctx.server, 'POST', `/api/collections/${col}/auth-with-password`, {
    body: { identity: email, password: PASSWORD, mfaId },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.record.id, record.id);
});

test('the same method twice is refused; the session survives for another method', async () => {
  const col = await mfaCollection();
  const { email, record } = await newMember(col);
  const { mfaId } = await expectMfa(passwordStep(col, email));
  const body = await expectSdkError(passwordStep(col, email, { mfaId }), 400, SAME_METHOD);
  assert.deepEqual(body.data, {});
  const res = await otpStep(col, email, { mfaId });
  assert.equal(res.record.id, record.id);
});

test('unknown, foreign and reused mfaIds are refused', async () => {
  const col = await mfaCollection();
  const alice = await newMember(col);
  const bob = await newMember(col);
  const a = await expectMfa(passwordStep(col, alice.email));
  const b = await expectMfa(passwordStep(col, bob.email));

  const unknown = randomBytes(8).toString('hex').slice(0, 15);
  await expectSdkError(otpStep(col, alice.email, { mfaId: unknown }), 400, EXPIRED_SESSION);
  // Bob's session, offered with a method Bob has not used yet, by Alice.
  await expectSdkError(otpStep(col, alice.email, { mfaId: b.mfaId }), 400, FOREIGN_SESSION);

  const ok = await otpStep(col, alice.email, { mfaId: a.mfaId });
  assert.equal(ok.record.id, alice.record.id);
  await expectSdkError(otpStep(col, alice.email, { mfaId: a.mfaId }), 400, EXPIRED_SESSION);

  // Alice's attempt left Bob's session intact.
  const bobOk = await otpStep(col, bob.email, { mfaId: b.mfaId });
  assert.equal(bobOk.record.id, bob.record.id);
});

test('an mfaId expires after mfa.duration (minimum 10 s)', async () => {
  const col = await mfaCollection({ mfa: { duration: 10 } });
  const tooShort = await expectSdkError(su.collections.update(col, { mfa: { duration: 9 } }), 400, 'Failed to update collection.');
  assert.equal(tooShort.data.mfa.duration.code, 'validation_min_greater_equal_than_required');
  assert.deepEqual(tooShort.data.mfa.duration.params, { threshold: 10 });

  const { email } = await newMember(col);
  const started = Date.now();
  const { mfaId } = await expectMfa(passwordStep(col, email));
  const { otpId, code } = await requestCode(col, email);
  await sleep(Math.max(0, started + 11_000 - Date.now()));
  await expectSdkError(client(ctx.server).collection(col).authWithOTP(otpId, code, { mfaId }), 400, EXPIRED_SESSION);
});

test('mfa.rule selects who needs MFA (verified = true)', async () => {
  const col = await mfaCollection({ mfa: { rule: 'verified = true' } });
  const vip = await newMember(col, { verified: true });
  const plain = await newMember(col, { verified: false });
  await expectMfa(passwordStep(col, vip.email));
  const pb = client(ctx.server);
  const res = await pb.collection(col).authWithPassword(plain.email, PASSWORD);
  assertLoggedIn({ res, pb, record: plain.record });
});

test('auth-methods reports mfa {enabled, duration}', async () => {
  const col = await mfaCollection();
  const users = client(ctx.server).collection(col);
  let methods = await users.listAuthMethods();
  assert.deepEqual(methods.mfa, { enabled: true, duration: 600 });
  assert.deepEqual(methods.otp, { enabled: true, duration: 180 });
  await su.collections.update(col, { mfa: { enabled: false } });
  methods = await users.listAuthMethods();
  assert.deepEqual(methods.mfa, { enabled: false, duration: 0 });
});

test('MFA needs at least two auth methods enabled', async () => {
  await ready();
  const name = `mfa_${randomBytes(4).toString('hex')}`;
  // Password only. Gatehouse's own second-step methods are switched off too (mfa-design.md §9 lets
  // them count towards MFA); PocketBase ignores those keys.
  const off = { enabled: false };
  await su.collections.create({ name, type: 'auth', otp: off, totp: off, sms: off, backupCodes: off });
  const body = await expectSdkError(su.collections.update(name, { mfa: MFA_ON }), 400, 'Failed to update collection.');
  assert.deepEqual(body.data, {
    mfa: { enabled: { code: 'validation_mfa_not_enough_auths', message: 'MFA requires at least 2 auth methods to be enabled.' } },
  });
});

test('Gatehouse: tokens after password+OTP and OTP+password carry amr [password, otp] and aal 2', gatehouseOnly, async () => {
  for (const flow of [await passwordThenOtp(), await otpThenPassword()]) {
    const payload = assertLoggedIn(flow);
    assert.ok(Array.isArray(payload.amr), `amr: ${JSON.stringify(payload)}`);
    assert.ok(payload.amr.includes('password') && payload.amr.includes('otp'), `amr: ${payload.amr}`);
    assert.equal(payload.aal, 2);
  }
});

test('Gatehouse: the MFA 401 lists the usable methods, OTP with a masked address', gatehouseOnly, async () => {
  const col = await mfaCollection();
  const { email } = await newMember(col);
  const body = await expectMfa(passwordStep(col, email));
  assert.ok(Array.isArray(body.methods), `methods: ${JSON.stringify(body)}`);
  for (const m of body.methods) assert.equal(typeof m.type, 'string');
  const otp = body.methods.find((m) => m.type === 'otp');
  assert.ok(otp, `an otp entry: ${JSON.stringify(body.methods)}`);
  // Always checked: a missing sentTo must fail here, not skip the masking checks.
  assert.equal(typeof otp.sentTo, 'string', `an otp entry with sentTo: ${JSON.stringify(otp)}`);
  assert.ok(!otp.sentTo.includes(email), `sentTo must be masked, got ${otp.sentTo}`);
  assert.ok(!otp.sentTo.includes(email.split('@')[0]), `the local part must be masked, got ${otp.sentTo}`);
  const [local, domain] = email.split('@');
  assert.match(otp.sentTo, /\*/, `sentTo must show the masking, got ${otp.sentTo}`);
  assert.equal(otp.sentTo[0], local[0], `sentTo keeps the first letter, got ${otp.sentTo}`);
  assert.ok(otp.sentTo.endsWith(domain.slice(domain.lastIndexOf('.'))), `sentTo keeps the top-level domain, got ${otp.sentTo}`);
});
