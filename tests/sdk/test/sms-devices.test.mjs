// Gatehouse-only: SMS codes and trusted devices through the SDK, as an app meets them. The server
// sends its texts to a signed webhook: a sink on 127.0.0.1 (../sms-sink.mjs), which checks each
// message's `X-Gatehouse-Signature` with node's own HMAC before reading the code from it.
// PocketBase has neither, so nothing here runs against the oracle.
// Spec: mfa-design.md §3 (SMS second step, trusted devices), §7 (SMS caps), §9 (settings.sms,
// webhook signature, devices list, invalid device tokens).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  PASSWORD, client, decodeJwt, expectChallenge, expectSdkError, gatehouseOnly, newUser, superuserClient, useServer,
  waitUntil,
} from './helpers.mjs';
import { startSmsSink } from '../sms-sink.mjs';

const ctx = useServer();
const SINK_SECRET = 'sdk-sink-secret';
const CAPPED = 'Too many text messages were sent, please try again later.';
const DEVICE_HEADER = 'X-Gatehouse-Device';
const DEFAULT_CAPS = { perNumberPerHour: 5, perRecordPerDay: 10, perDay: 1000 };

const mfaPath = (id, rest = '') => `/api/collections/users/records/${id}/mfa${rest}`;
const post = (pb, path, body = {}, options = {}) => pb.send(path, { method: 'POST', body, ...options });

// Started on first use: root-level `before` hooks may run before the server is up.
let setup;
const sms = () =>
  (setup ??= (async () => {
    const sink = await startSmsSink(SINK_SECRET);
    const su = await superuserClient(ctx.server);
    await su.settings.update({
      sms: { enabled: true, provider: 'webhook', webhook: { url: sink.url, secret: SINK_SECRET }, caps: DEFAULT_CAPS },
    });
    await su.collections.update('users', { sms: { enabled: true } });
    return { sink, su };
  })());
after(async () => {
  const s = await setup;
  await s?.sink.close();
  if (s) assert.equal(s.sink.badSignatures, 0, 'every message was signed with the webhook secret');
});

// One number per test, so that no test meets another's per-number cap.
let nextPhone = 71;
const freshPhone = () => `+141555526${nextPhone++}`;

const passwordLogin = (email, password = PASSWORD, options = {}) =>
  client(ctx.server).collection('users').authWithPassword(email, password, options);

/** A user with a verified phone: {user, phone}. */
async function phoneUser() {
  const { sink } = await sms();
  const user = await newUser(ctx.server);
  const phone = freshPhone();
  const { otpId } = await post(user.pb, mfaPath(user.record.id, '/sms'), { phone });
  const confirmed = await post(user.pb, mfaPath(user.record.id, '/sms/confirm'), { otpId, code: sink.code(phone) });
  assert.equal(confirmed.backupCodes.length, 10);
  return { user, phone };
}

/** The SMS second step of a fresh login of `email`: the raw auth response (with `meta`). */
async function smsLogin(email, phone, { trustDevice = false } = {}) {
  const { sink } = await sms();
  const { mfaId } = await expectChallenge(passwordLogin(email));
  const { otpId } = await post(client(ctx.server), '/api/collections/users/request-sms-otp', { mfaId });
  return post(client(ctx.server), '/api/collections/users/auth-with-otp', {
    otpId, password: sink.code(phone), mfaId, trustDevice,
  });
}

const amrOf = (auth) => decodeJwt(auth.token).payload.amr;

test('enrol a phone, then log in with the SMS second step', gatehouseOnly, async () => {
  const { sink } = await sms();
  const { record, email, pb } = await newUser(ctx.server);
  const phone = freshPhone();
  const { otpId } = await post(pb, mfaPath(record.id, '/sms'), { phone });
  const enrolment = sink.to(phone);
  assert.equal(enrolment.length, 1);
  assert.equal(enrolment[0].type, 'otp');
  assert.match(enrolment[0].message, /^Your Gatehouse code: \d{6}$/);
  const { backupCodes } = await post(pb, mfaPath(record.id, '/sms/confirm'), { otpId, code: sink.code(phone) });
  assert.equal(backupCodes.length, 10);
  const overview = await pb.send(mfaPath(record.id), {});
  assert.equal(overview.factors[0].type, 'sms');
  assert.equal(overview.factors[0].status, 'verified');
  assert.ok(!JSON.stringify(overview).includes(phone.slice(2)), 'the number is masked');

  // The login: the challenge names the phone masked; the SDK's own authWithOTP finishes it.
  const challenge = await expectChallenge(passwordLogin(email));
  const entry = challenge.methods.find((m) => m.type === 'sms');
  assert.equal(entry?.sentTo, `+1 *** *** **${phone.slice(-2)}`, JSON.stringify(challenge));
  const app = client(ctx.server);
  const sent = await post(app, '/api/collections/users/request-sms-otp', { mfaId: challenge.mfaId });
  assert.equal(sink.to(phone).length, 2);
  // Without the session the code logs nobody in (and is not spent).
  await expectSdkError(app.collection('users').authWithOTP(sent.otpId, sink.code(phone)), 400);
  const auth = await app.collection('users').authWithOTP(sent.otpId, sink.code(phone), { mfaId: challenge.mfaId });
  assert.equal(app.authStore.record.id, record.id);
  assert.deepEqual(amrOf(auth), ['password', 'sms']);
  assert.equal(decodeJwt(auth.token).payload.aal, 2);
});

test('over an SMS cap: 429 and nothing sent', gatehouseOnly, async () => {
  const { sink, su } = await sms();
  const { user, phone } = await phoneUser(); // enrolment sent one message to the number
  await su.settings.update({ sms: { caps: { ...DEFAULT_CAPS, perNumberPerHour: 2 } } });
  try {
    const { mfaId } = await expectChallenge(passwordLogin(user.email));
    const app = client(ctx.server);
    await post(app, '/api/collections/users/request-sms-otp', { mfaId });
    assert.equal(sink.to(phone).length, 2);
    for (let i = 0; i < 2; i += 1) {
      await expectSdkError(post(app, '/api/collections/users/request-sms-otp', { mfaId }), 429, CAPPED);
    }
    assert.equal(sink.to(phone).length, 2, 'nothing was sent over the cap');
    const events = await su.send(`/api/collections/users/records/${user.record.id}/security-events`, {
      query: { type: 'sms.capped' },
    });
    assert.equal(events.totalItems, 2);
  } finally {
    await su.settings.update({ sms: { caps: DEFAULT_CAPS } });
  }
});

test('a trusted device skips MFA until it is revoked or the password changes', gatehouseOnly, async () => {
  const { user, phone } = await phoneUser();
  const first = await smsLogin(user.email, phone, { trustDevice: true });
  const deviceToken = first.meta?.deviceToken;
  assert.match(deviceToken ?? '', /^[a-z0-9]{50}$/, JSON.stringify(first.meta));
  const headers = { [DEVICE_HEADER]: deviceToken };

  // The header through authWithPassword's options, and through pb.beforeSend.
  const skipped = await passwordLogin(user.email, PASSWORD, { headers });
  assert.deepEqual(amrOf(skipped), ['password', 'device']);
  const app = client(ctx.server);
  app.beforeSend = (url, options) => ({ url, options: { ...options, headers: { ...options.headers, ...headers } } });
  await app.collection('users').authWithPassword(user.email, PASSWORD);
  assert.equal(app.authStore.record.id, user.record.id);
  await expectChallenge(passwordLogin(user.email));

  const devices = await user.pb.send(mfaPath(user.record.id, '/devices'), {});
  assert.equal(devices.length, 1);
  assert.deepEqual(Object.keys(devices[0]).sort(), ['created', 'expires', 'id', 'lastUsedAt', 'name']);
  assert.equal(devices[0].name, 'Node.js');
  assert.ok(!JSON.stringify(devices).includes(deviceToken), 'the list never shows a token');

  // Revoked: the header changes nothing.
  await user.pb.send(mfaPath(user.record.id, `/devices/${devices[0].id}`), { method: 'DELETE' });
  await expectChallenge(passwordLogin(user.email, PASSWORD, { headers }));
  assert.deepEqual(await user.pb.send(mfaPath(user.record.id, '/devices'), {}), []);

  // Trusted again, then a new password ends it.
  const again = await smsLogin(user.email, phone, { trustDevice: true });
  const headers2 = { [DEVICE_HEADER]: again.meta.deviceToken };
  assert.deepEqual(amrOf(await passwordLogin(user.email, PASSWORD, { headers: headers2 })), ['password', 'device']);
  const owner = client(ctx.server);
  owner.authStore.save(again.token, again.record);
  const newPassword = 'another-horse-2';
  await owner.collection('users').update(user.record.id, {
    oldPassword: PASSWORD, password: newPassword, passwordConfirm: newPassword,
  });
  await expectChallenge(passwordLogin(user.email, newPassword, { headers: headers2 }));
});

test('a trusted device expires after mfa.trustedDeviceDuration', gatehouseOnly, async () => {
  const { su } = await sms();
  const { user, phone } = await phoneUser();
  await su.collections.update('users', { mfa: { trustedDeviceDuration: 2 } });
  try {
    const auth = await smsLogin(user.email, phone, { trustDevice: true });
    const headers = { [DEVICE_HEADER]: auth.meta.deviceToken };
    assert.deepEqual(amrOf(await passwordLogin(user.email, PASSWORD, { headers })), ['password', 'device']);
    await waitUntil(
      async () => {
        try {
          await passwordLogin(user.email, PASSWORD, { headers });
          return false;
        } catch (e) {
          return e.status === 401 && typeof e.response.mfaId === 'string';
        }
      },
      10_000,
      'the trusted device to expire',
    );
  } finally {
    await su.collections.update('users', { mfa: { trustedDeviceDuration: 30 * 24 * 3600 } });
  }
});
