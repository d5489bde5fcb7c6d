// Gatehouse-only: two-factor authentication with an authenticator app (TOTP) and backup codes, the
// way an app's user meets it, through the SDK (`pb.send` for the endpoints PocketBase lacks).
// What users' own tools would do is done by code that is not Gatehouse's: the QR code is read back
// with pngjs + jsQR (as a phone camera would) and the codes come from otplib (as an authenticator
// app would). PocketBase has no TOTP, so nothing here runs against the oracle.
// Spec: mfa-design.md §2 (the 401 challenge), §3 (second steps), §4 (enrolment and reset), §5
// (replay), §6 (amr/aal), §9 (shapes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsQR from 'jsqr';
import { generate } from 'otplib';
import { PNG } from 'pngjs';
import {
  PASSWORD, client, decodeJwt, expectChallenge, expectSdkError, gatehouseOnly, newUser, nowSeconds, superuserClient,
  useServer,
} from './helpers.mjs';

const ctx = useServer();
const INVALID_CODE = 'Invalid or expired code.';
const BACKUP_CODE_RE = /^[a-z2-7]{5}-[a-z2-7]{5}$/;
// PocketBase's date format; "" until set.
const DATE_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const mfaPath = (id, rest = '') => `/api/collections/users/records/${id}/mfa${rest}`;
const post = (pb, path, body = {}) => pb.send(path, { method: 'POST', body });

/** Reads the QR code in a `data:image/png;base64,…` URL the way a phone camera app would. */
function readQr(dataUrl) {
  const prefix = 'data:image/png;base64,';
  assert.ok(dataUrl.startsWith(prefix), `a PNG data URL, got ${dataUrl.slice(0, 40)}`);
  const png = PNG.sync.read(Buffer.from(dataUrl.slice(prefix.length), 'base64'));
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(found, `jsQR finds a QR code in the ${png.width}x${png.height} PNG`);
  return found.data;
}

/** The authenticator app's side: the parameters it takes from the otpauth URI. */
function appAccount(uri) {
  const url = new URL(uri);
  const q = url.searchParams;
  return {
    secret: q.get('secret'),
    algorithm: (q.get('algorithm') ?? 'SHA1').toLowerCase(),
    digits: Number(q.get('digits') ?? 6),
    period: Number(q.get('period') ?? 30),
  };
}

/** The code the app shows `offset` seconds from now. */
const appCode = (account, offset = 0) => generate({ ...account, epoch: nowSeconds() + offset });

const passwordLogin = (email) => client(ctx.server).collection('users').authWithPassword(email, PASSWORD);

/** A second step as an app sends it; `pb` (a fresh client unless given) is not logged in by it. */
const secondStep = (kind, mfaId, code, pb = client(ctx.server)) =>
  post(pb, `/api/collections/users/auth-with-${kind}`, { mfaId, code });

/** A user who enrolled an authenticator app: {user, account, backupCodes}. */
async function enrolledUser() {
  const user = await newUser(ctx.server);
  const enrolment = await post(user.pb, mfaPath(user.record.id, '/totp'));
  const account = appAccount(enrolment.uri);
  const { backupCodes } = await post(user.pb, mfaPath(user.record.id, '/totp/confirm'), {
    code: await appCode(account),
  });
  return { user, account, backupCodes };
}

/** Status of the next call made through `pb` (the SDK turns a 204 into `{}`). */
function statusOf(pb) {
  const seen = { status: 0 };
  pb.afterSend = (response, data) => {
    seen.status = response.status;
    return data;
  };
  return seen;
}

test('the whole story: enrol from the QR code, log in with the app, lose the phone, get reset', gatehouseOnly, async () => {
  // Sign up and log in (helpers.newUser), then enrol an authenticator app.
  const { record, email, pb } = await newUser(ctx.server);
  const enrolment = await post(pb, mfaPath(record.id, '/totp'));
  assert.deepEqual(Object.keys(enrolment).sort(), ['qr', 'qrSvg', 'secret', 'uri']);
  assert.equal(readQr(enrolment.qr), enrolment.uri, 'the QR code decodes to exactly the URI');
  assert.ok(enrolment.qrSvg.startsWith('<svg'), enrolment.qrSvg.slice(0, 40));

  const uri = new URL(enrolment.uri);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  const label = decodeURIComponent(uri.pathname.slice(1));
  const issuer = uri.searchParams.get('issuer');
  assert.equal(label, `${issuer}:${email}`);
  const account = appAccount(enrolment.uri);
  assert.equal(account.secret, enrolment.secret);
  assert.deepEqual([account.algorithm, account.digits, account.period], ['sha1', 6, 30]);

  // Confirm with the code the app shows now: the first verified factor brings 10 backup codes.
  const confirmCode = await appCode(account);
  const { backupCodes } = await post(pb, mfaPath(record.id, '/totp/confirm'), { code: confirmCode });
  assert.equal(backupCodes.length, 10);
  for (const code of backupCodes) assert.match(code, BACKUP_CODE_RE);
  assert.equal(new Set(backupCodes).size, 10);

  // Log out; the password alone is no longer enough.
  pb.authStore.clear();
  const challenge = await expectChallenge(pb.collection('users').authWithPassword(email, PASSWORD));
  const types = challenge.methods.map((m) => m.type);
  assert.deepEqual(types, ['totp', 'backupCode'], JSON.stringify(challenge.methods));
  assert.equal(challenge.methods[1].remaining, 10);

  // The confirm used up its time step: the same code does not log in (whenever it is sent).
  await expectSdkError(secondStep('totp', challenge.mfaId, confirmCode), 400, INVALID_CODE);
  // The app's next code (30 s on) is within the skew and finishes the login on the same mfaId.
  const login = await secondStep('totp', challenge.mfaId, await appCode(account, 30), pb);
  assert.equal(login.record.id, record.id);
  const claims = decodeJwt(login.token).payload;
  assert.equal(claims.aal, 2);
  assert.deepEqual(claims.amr, ['password', 'totp']);
  assert.equal(claims.type, 'auth');
  assert.equal(claims.id, record.id);
  pb.authStore.save(login.token, login.record);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.record.id, record.id);

  // Lost phone: log in with a backup code instead.
  const lost = client(ctx.server);
  const again = await expectChallenge(lost.collection('users').authWithPassword(email, PASSWORD));
  const [first, second] = backupCodes;
  const recovered = await secondStep('backup-code', again.mfaId, first, lost);
  assert.equal(recovered.record.id, record.id);
  assert.deepEqual(recovered.meta, { backupCodesRemaining: 9 });
  assert.deepEqual(decodeJwt(recovered.token).payload.amr, ['password', 'backupCode']);
  assert.equal(decodeJwt(recovered.token).payload.aal, 2);
  lost.authStore.save(recovered.token, recovered.record);

  // The same backup code twice: refused.
  const third = await expectChallenge(passwordLogin(email));
  assert.equal(third.methods.find((m) => m.type === 'backupCode').remaining, 9);
  await expectSdkError(secondStep('backup-code', third.mfaId, first), 400, INVALID_CODE);

  // New codes (the fresh login counts as recent): the old ones stop working, the new ones work.
  const regenerated = await post(lost, mfaPath(record.id, '/backup-codes'));
  assert.equal(regenerated.backupCodes.length, 10);
  for (const code of regenerated.backupCodes) assert.match(code, BACKUP_CODE_RE);
  assert.equal(regenerated.backupCodes.some((c) => backupCodes.includes(c)), false);
  await expectSdkError(secondStep('backup-code', third.mfaId, second), 400, INVALID_CODE);
  // Typed as people type: upper case, hyphen left out.
  const typed = regenerated.backupCodes[0].replace('-', '').toUpperCase();
  const withNew = await secondStep('backup-code', third.mfaId, typed);
  assert.deepEqual(withNew.meta, { backupCodesRemaining: 9 });

  // A superuser resets the user's two-factor settings (say, after a support call).
  const su = await superuserClient(ctx.server);
  const seen = statusOf(su);
  await su.send(mfaPath(record.id), { method: 'DELETE' });
  assert.equal(seen.status, 204);
  const overview = await su.send(mfaPath(record.id), { method: 'GET' });
  assert.deepEqual(overview, { required: false, factors: [], backupCodesRemaining: 0 });

  // The password alone logs in again: a token, no 401.
  const plain = client(ctx.server);
  const direct = await plain.collection('users').authWithPassword(email, PASSWORD);
  assert.equal(direct.record.id, record.id);
  assert.equal(plain.authStore.isValid, true);
  const directClaims = decodeJwt(direct.token).payload;
  assert.deepEqual(directClaims.amr, ['password']);
  assert.equal(directClaims.aal, 1);

  // A superuser's own factors cannot be reset through the API (that is the server's CLI).
  const own = statusOf(su);
  const refusal = await expectSdkError(
    su.send(`/api/collections/_superusers/records/${su.authStore.record.id}/mfa`, { method: 'DELETE' }),
    403,
  );
  assert.equal(own.status, 403);
  assert.match(refusal.message, /reset-mfa/);
});

test('an accepted TOTP code is not accepted again', gatehouseOnly, async () => {
  const { user, account, backupCodes } = await enrolledUser();
  const code = await appCode(account, 30);
  const { mfaId } = await expectChallenge(passwordLogin(user.email));
  const ok = await secondStep('totp', mfaId, code);
  assert.equal(ok.record.id, user.record.id);

  const replay = await expectChallenge(passwordLogin(user.email));
  await expectSdkError(secondStep('totp', replay.mfaId, code), 400, INVALID_CODE);
  // A wrong code leaves the MFA session alive: a backup code still finishes this login.
  const recovered = await secondStep('backup-code', replay.mfaId, backupCodes[0]);
  assert.deepEqual(recovered.meta, { backupCodesRemaining: 9 });
});

test('GET …/mfa lists the factors; lastUsedAt is "" after the confirm and set by a login', gatehouseOnly, async () => {
  const { user, account } = await enrolledUser();
  const before = await user.pb.send(mfaPath(user.record.id), { method: 'GET' });
  assert.equal(before.required, true);
  assert.equal(before.backupCodesRemaining, 10);
  const byType = (o) => Object.fromEntries(o.factors.map((f) => [f.type, f]));
  const factors = byType(before);
  assert.deepEqual(Object.keys(factors).sort(), ['backupCode', 'totp']);
  for (const f of before.factors) {
    assert.deepEqual(Object.keys(f).sort(), ['createdAt', 'lastUsedAt', 'status', 'type']);
    assert.equal(f.status, 'verified');
    assert.match(f.createdAt, DATE_RE);
  }
  assert.equal(factors.totp.lastUsedAt, '', 'confirming at enrolment is not a use');

  const { mfaId } = await expectChallenge(passwordLogin(user.email));
  await secondStep('totp', mfaId, await appCode(account, 30));
  const after = byType(await user.pb.send(mfaPath(user.record.id), { method: 'GET' }));
  assert.match(after.totp.lastUsedAt, DATE_RE);
  assert.equal(after.totp.createdAt, factors.totp.createdAt);
  assert.ok(after.totp.lastUsedAt >= after.totp.createdAt, `${after.totp.lastUsedAt} >= ${after.totp.createdAt}`);
});
