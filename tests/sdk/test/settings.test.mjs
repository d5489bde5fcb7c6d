// App settings: superuser only, PATCH deep-merges and persists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { client, expectSdkError, newUser, superuserClient, useServer } from './helpers.mjs';

const ctx = useServer();

test('superuser reads and updates settings; the change persists', async () => {
  const su = await superuserClient(ctx.server);
  const settings = await su.settings.getAll();
  assert.equal(typeof settings.meta.appName, 'string');
  assert.ok(settings.meta.appName.length > 0);
  assert.ok(!settings.smtp?.password, 'the SMTP password is write-only');

  // Write-only with a password actually stored: neither the update's answer nor a read shows it.
  const secret = 'smtp-secret-4711';
  const withSecret = await su.settings.update({
    smtp: { enabled: false, host: 'smtp.example.com', port: 587, username: 'mailer', password: secret },
  });
  assert.equal(withSecret.smtp.username, 'mailer');
  assert.ok(!JSON.stringify(withSecret).includes(secret), 'the update answer shows the SMTP password');
  const read = await su.settings.getAll();
  assert.equal(read.smtp.host, 'smtp.example.com');
  assert.ok(!JSON.stringify(read).includes(secret), 'a read shows the SMTP password');

  const updated = await su.settings.update({ meta: { appName: 'Gatehouse SDK Test' } });
  assert.equal(updated.meta.appName, 'Gatehouse SDK Test');
  // Deep merge: the other meta keys are kept.
  assert.equal(updated.meta.senderAddress, settings.meta.senderAddress);
  assert.equal(updated.meta.appURL, settings.meta.appURL);

  const again = await (await superuserClient(ctx.server)).settings.getAll();
  assert.equal(again.meta.appName, 'Gatehouse SDK Test');
});

test('settings: guest 401, non-superuser 403', async () => {
  const { server } = ctx;
  const needAuth = 'The request requires valid record authorization token.';
  await expectSdkError(client(server).settings.getAll(), 401, needAuth);
  await expectSdkError(client(server).settings.update({ meta: { appName: 'nope' } }), 401, needAuth);
  const u = await newUser(server);
  const forbidden = 'The authorized record is not allowed to perform this action.';
  await expectSdkError(u.pb.settings.getAll(), 403, forbidden);
  await expectSdkError(u.pb.settings.update({ meta: { appName: 'nope' } }), 403, forbidden);
  const su = await superuserClient(server);
  assert.notEqual((await su.settings.getAll()).meta.appName, 'nope');
});
