// Email OTP login through the SDK (requestOTP + authWithOTP), with a real SMTP exchange: the server
// under test is pointed (settings API) at an SMTP sink on 127.0.0.1 inside this process
// (../smtp-sink.mjs) and every code is read from the mail it actually sent.
// Each test works on a fresh auth collection, so collection options never leak between tests.
// Spec: pocketbase-auth-api.md §4.3, §4.4, §6, §7. PocketBase 0.40.6 is the oracle; what only
// Gatehouse promises (mfa-design.md §5: one consume wins) is marked gatehouseOnly.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientResponseError } from 'pocketbase';
import { SINK_APP_NAME, extractOtp, sentTo } from '../smtp-sink.mjs';
import {
  PASSWORD, client, decodeJwt, expectSdkError, gatehouseOnly, uniqueEmail, useMailSink, useServer, waitUntil,
} from './helpers.mjs';

const ctx = useServer();
const MAIL_TIMEOUT_MS = 5000;
const ID_RE = /^[a-z0-9]{15}$/;
const INVALID_OTP = 'Invalid or expired OTP.';
const TOO_MANY = 'Too many attempts, please try again later with a new OTP.';
const OTP_DISABLED = 'The collection is not configured to allow OTP authentication.';
const VALIDATION = 'An error occurred while validating the submitted data.';

let sink;
let su;
const mailbox = useMailSink(ctx);
const ready = async () => {
  ({ sink, su } = await mailbox.ready());
};

const otpOn = (extra = {}) => ({ otp: { enabled: true, duration: 180, length: 8, ...extra } });

/** A fresh auth collection (name returned) with the given options. */
async function authCollection(options = {}) {
  await ready();
  const name = `otp_${randomBytes(4).toString('hex')}`;
  await su.collections.create({ name, type: 'auth', ...options });
  return name;
}

/** A record created by the superuser (unverified unless told otherwise). */
async function newMember(col, extra = {}) {
  const email = uniqueEmail('otp');
  const record = await su.collection(col).create({ email, password: PASSWORD, passwordConfirm: PASSWORD, ...extra });
  return { email, record };
}

/** requestOTP as a guest, then the code from the mail that arrives for it. */
async function requestCode(col, email) {
  const seen = sink.messages.length;
  const { otpId } = await client(ctx.server).collection(col).requestOTP(email);
  const mail = await sink.waitFor((m) => sink.messages.indexOf(m) >= seen && sentTo(email)(m), MAIL_TIMEOUT_MS);
  return { otpId, code: extractOtp(mail, 8), mail };
}

const otherCode = (code) => `${(Number(code[0]) + 1) % 10}${code.slice(1)}`;
const authWithOTP = (col, otpId, code) => client(ctx.server).collection(col).authWithOTP(otpId, code);

/**
 * PocketBase stores the OTP's `sentTo` (which gates the email verification) only after its SMTP
 * session has ended, a moment after the sink already holds the mail. Where `_otps` is readable by
 * the superuser (PocketBase) wait for it; a server without that collection must store sentTo first.
 */
async function sentToStored(otpId) {
  try {
    await su.collection('_otps').getOne(otpId);
  } catch (err) {
    if (err.status === 404) return;
    throw err;
  }
  await waitUntil(async () => (await su.collection('_otps').getOne(otpId)).sentTo !== '', 3000, 'OTP sentTo');
}

test('requestOTP mails the code over SMTP; authWithOTP logs in and verifies the email', async () => {
  const { server } = ctx;
  const col = await authCollection(otpOn());
  const { email, record } = await newMember(col);
  assert.equal(record.verified, false);

  const { otpId, code, mail } = await requestCode(col, email);
  assert.match(otpId, ID_RE);
  assert.deepEqual(mail.to, [email]);
  assert.deepEqual(mail.envelope.rcptTo, [email]);
  assert.equal(mail.from, 'noreply@example.com');
  assert.equal(mail.fromName, 'Test');
  assert.equal(mail.subject, `OTP for ${SINK_APP_NAME}`);
  assert.match(code, /^\d{8}$/, 'otp.length digits');
  assert.match(mail.text, new RegExp(`one-time password is: ${code}`), 'text/plain part carries the code');
  assert.ok(mail.html.includes(`<strong>${code}</strong>`), 'HTML part carries the code');

  await sentToStored(otpId);
  const pb = client(server);
  const res = await pb.collection(col).authWithOTP(otpId, code);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.token, res.token);
  assert.equal(res.record.id, record.id);
  assert.equal(res.record.email, email, 'auth responses always show email');
  assert.equal(res.record.verified, true);
  const { payload } = decodeJwt(res.token);
  assert.equal(payload.type, 'auth');
  assert.equal(payload.id, record.id);
  assert.equal(payload.collectionId, record.collectionId);
  assert.equal(payload.refreshable, true);

  assert.equal((await su.collection(col).getOne(record.id)).verified, true, 'verified, seen by a superuser');
  // MFA is off, so the login that verified the email also replaced the password with a random one
  // (PocketBase's anti pre-hijacking rule, spec §4.4 step 5).
  await expectSdkError(client(server).collection(col).authWithPassword(email, PASSWORD), 400, 'Failed to authenticate.');
});

test('OTP login of an already verified record keeps its password', async () => {
  const col = await authCollection(otpOn());
  const { email, record } = await newMember(col, { verified: true });
  const { otpId, code } = await requestCode(col, email);
  await sentToStored(otpId);
  const res = await authWithOTP(col, otpId, code);
  assert.equal(res.record.id, record.id);
  assert.equal(res.record.verified, true);
  const again = await client(ctx.server).collection(col).authWithPassword(email, PASSWORD);
  assert.equal(again.record.id, record.id);
});

test('unknown email: same answer shape, a well-formed fake otpId, no mail', async () => {
  const col = await authCollection(otpOn());
  const { email } = await newMember(col);
  const real = await requestCode(col, email);

  const unknown = uniqueEmail('nobody');
  const fake = await client(ctx.server).collection(col).requestOTP(unknown);
  assert.deepEqual(Object.keys(fake), ['otpId']);
  assert.match(fake.otpId, ID_RE);
  assert.notEqual(fake.otpId, real.otpId);
  await assert.rejects(sink.waitFor(sentTo(unknown), 1000), /no matching mail/);
  assert.equal(sink.messages.filter(sentTo(unknown)).length, 0);
  await expectSdkError(authWithOTP(col, fake.otpId, '12345678'), 400, INVALID_OTP);
});

test('wrong code is refused (the OTP stays usable); a used code is refused', async () => {
  const col = await authCollection(otpOn());
  const { email, record } = await newMember(col);
  const { otpId, code } = await requestCode(col, email);

  const wrong = await expectSdkError(authWithOTP(col, otpId, otherCode(code)), 400, INVALID_OTP);
  assert.deepEqual(wrong.data, {});
  const ok = await authWithOTP(col, otpId, code);
  assert.equal(ok.record.id, record.id);
  await expectSdkError(authWithOTP(col, otpId, code), 400, INVALID_OTP);
});

test('an OTP expires after otp.duration (minimum 10 s)', async () => {
  const col = await authCollection(otpOn({ duration: 10 }));
  const tooShort = await expectSdkError(su.collections.update(col, { otp: { duration: 9 } }), 400, 'Failed to update collection.');
  assert.equal(tooShort.data.otp.duration.code, 'validation_min_greater_equal_than_required');
  assert.deepEqual(tooShort.data.otp.duration.params, { threshold: 10 });

  const { email } = await newMember(col);
  const requested = Date.now();
  const { otpId, code } = await requestCode(col, email);
  await sleep(Math.max(0, requested + 11_000 - Date.now()));
  await expectSdkError(authWithOTP(col, otpId, code), 400, INVALID_OTP);
});

test('validation errors: request-otp email, auth-with-otp otpId/password', async () => {
  const col = await authCollection(otpOn());
  const users = client(ctx.server).collection(col);

  let body = await expectSdkError(users.requestOTP('not-an-email'), 400, VALIDATION);
  assert.deepEqual(body.data, { email: { code: 'validation_is_email', message: 'Must be a valid email address.' } });
  body = await expectSdkError(users.requestOTP(''), 400, VALIDATION);
  assert.deepEqual(body.data, { email: { code: 'validation_required', message: 'Cannot be blank.' } });

  body = await expectSdkError(users.authWithOTP('', ''), 400, VALIDATION);
  assert.deepEqual(body.data, {
    otpId: { code: 'validation_required', message: 'Cannot be blank.' },
    password: { code: 'validation_required', message: 'Cannot be blank.' },
  });
  body = await expectSdkError(users.authWithOTP('abcdefghijklmno', '1'.repeat(72)), 400, VALIDATION);
  assert.deepEqual(body.data, {
    password: { code: 'validation_length_out_of_range', message: 'The length must be between 1 and 71.', params: { min: 1, max: 71 } },
  });
});

test('OTP disabled: 403 on both endpoints (before validation); auth-methods says so', async () => {
  const col = await authCollection(); // otp is off by default
  const { email } = await newMember(col);
  const users = client(ctx.server).collection(col);
  const calls = [
    () => users.requestOTP(email),
    () => users.requestOTP('not-an-email'),
    () => users.authWithOTP('abcdefghijklmno', '12345678'),
  ];
  for (const call of calls) {
    const body = await expectSdkError(call(), 403, OTP_DISABLED);
    assert.deepEqual(body.data, {});
  }
  assert.deepEqual((await users.listAuthMethods()).otp, { enabled: false, duration: 0 });
  await assert.rejects(sink.waitFor(sentTo(email), 500), /no matching mail/);
});

/** 8 concurrent authWithOTP calls with the same valid otpId+code, each on its own client. */
async function doubleSpend(n = 8) {
  const col = await authCollection(otpOn());
  const { email } = await newMember(col);
  const { otpId, code } = await requestCode(col, email);
  return Promise.all(
    Array.from({ length: n }, () =>
      authWithOTP(col, otpId, code).then(
        (res) => (res.token ? '200' : 'no token'),
        (err) => {
          if (!(err instanceof ClientResponseError)) throw err;
          return `${err.status} ${err.response?.message}`;
        },
      ),
    ),
  );
}

const tally = (outcomes) => outcomes.reduce((m, o) => ({ ...m, [o]: (m[o] ?? 0) + 1 }), {});
const RACE_ALLOWED = new Set(['200', `400 ${INVALID_OTP}`, `429 ${TOO_MANY}`]);

test('concurrent double-spend: every answer is a success, 400 or the guard 429', async (t) => {
  const outcomes = await doubleSpend();
  t.diagnostic(`outcomes: ${JSON.stringify(tally(outcomes))}`);
  for (const o of outcomes) assert.ok(RACE_ALLOWED.has(o), `unexpected outcome: ${o}`);
  assert.ok(outcomes.includes('200'), 'at least one call succeeds');
});

// PocketBase lets several concurrent calls through (observed: 3 to 5 of 8); Gatehouse consumes
// atomically (mfa-design.md §5). The per-(record, IP) guard of 5 attempts may answer 429 to some
// of the losers, so a loser gets 400 or 429, never 200.
test('Gatehouse: concurrent double-spend, exactly one call succeeds', gatehouseOnly, async (t) => {
  const outcomes = await doubleSpend();
  t.diagnostic(`outcomes: ${JSON.stringify(tally(outcomes))}`);
  assert.equal(outcomes.filter((o) => o === '200').length, 1, JSON.stringify(outcomes));
  for (const o of outcomes) assert.ok(RACE_ALLOWED.has(o), `unexpected outcome: ${o}`);
});

test('brute-force guard: the 6th attempt from one IP gets 429, even a right code or a new OTP', async () => {
  const col = await authCollection(otpOn());
  const { email } = await newMember(col);
  const { otpId, code } = await requestCode(col, email);
  for (let i = 1; i <= 5; i++) await expectSdkError(authWithOTP(col, otpId, otherCode(code)), 400, INVALID_OTP);
  const body = await expectSdkError(authWithOTP(col, otpId, code), 429, TOO_MANY);
  assert.deepEqual(body.data, {});
  // The guard is keyed on the record (and IP), not on the OTP: a fresh code is refused as well.
  const fresh = await requestCode(col, email);
  await expectSdkError(authWithOTP(col, fresh.otpId, fresh.code), 429, TOO_MANY);
});
