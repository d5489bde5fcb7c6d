// A real SMTP server on 127.0.0.1 inside the test process (nodemailer's `smtp-server`), so that the
// server under test sends its OTP and other mails over an actual SMTP exchange. Messages are parsed
// with `mailparser` and recorded as {to, from, subject, text, html, envelope}.
//
// Plain TCP only: no TLS and no STARTTLS offered (Go's net/smtp upgrades whenever STARTTLS is
// advertised), so the server under test is told `tlsMode: 'none'`. AUTH is optional; any
// credentials are accepted.
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

const HOST = '127.0.0.1';

const addressList = (field) =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((a) => a.value.map((v) => v.address.toLowerCase()));

/**
 * Starts the sink on a free port. Returns {port, messages, waitFor(predicate, timeoutMs), close()}.
 * `waitFor` resolves with the first recorded message matching `predicate` (already recorded or
 * arriving later) and rejects after `timeoutMs`.
 */
export async function startSmtpSink() {
  const messages = [];
  const waiters = new Set();

  const record = (msg) => {
    messages.push(msg);
    for (const w of [...waiters]) {
      if (w.predicate(msg)) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(msg);
      }
    }
  };

  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onAuth(auth, _session, cb) {
      cb(null, { user: auth.username || 'anonymous' });
    },
    onData(stream, session, cb) {
      simpleParser(stream)
        .then((parsed) => {
          record({
            to: addressList(parsed.to),
            from: addressList(parsed.from)[0] ?? '',
            fromName: parsed.from?.value?.[0]?.name ?? '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            contentType: parsed.headers.get('content-type')?.value ?? '',
            envelope: {
              mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              rcptTo: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            },
          });
          cb();
        })
        .catch((err) => cb(err));
    },
  });
  server.on('error', (err) => console.error(`smtp sink error: ${err.message}`));

  await new Promise((ok, fail) => {
    server.server.once('error', fail);
    server.listen(0, HOST, () => {
      server.server.removeListener('error', fail);
      ok();
    });
  });
  const { port } = server.server.address();

  function waitFor(predicate, timeoutMs = 5000) {
    const hit = messages.find(predicate);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve };
      w.timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`no matching mail within ${timeoutMs} ms (${messages.length} received)`));
      }, timeoutMs);
      waiters.add(w);
    });
  }

  function close() {
    for (const w of waiters) clearTimeout(w.timer);
    waiters.clear();
    return new Promise((r) => server.close(() => r()));
  }

  return { port, messages, waitFor, close };
}

/** Predicate: the mail is addressed (header To or envelope) to `email`. */
export const sentTo = (email) => (m) =>
  m.to.includes(email.toLowerCase()) || m.envelope.rcptTo.includes(email.toLowerCase());

/**
 * The OTP code in a mail: the digits after "one-time password" (PocketBase's default template says
 * "Your one-time password is: <strong>{OTP}</strong>"), else the first run of `length` digits.
 */
export function extractOtp(msg, length = 8) {
  for (const body of [msg.text, msg.html]) {
    const m = /one-time password[^0-9]{0,80}?(\d{4,})/i.exec(body || '');
    if (m) return m[1];
  }
  for (const body of [msg.text, msg.html]) {
    const m = new RegExp(`(?<!\\d)\\d{${length}}(?!\\d)`).exec(body || '');
    if (m) return m[0];
  }
  throw new Error(`no OTP code found in mail "${msg.subject}": ${msg.text}`);
}

/** The app name the mail tests set, so subjects are predictable ("OTP for SdkTest"). */
export const SINK_APP_NAME = 'SdkTest';

/** Settings patch (PATCH /api/settings) that points the server's mailer at the sink. */
export function smtpSettings(sink) {
  return {
    smtp: { enabled: true, host: '127.0.0.1', port: sink.port, tls: false, tlsMode: 'none', username: '', password: '', authMethod: '' },
    meta: { appName: SINK_APP_NAME, senderAddress: 'noreply@example.com', senderName: 'Test' },
  };
}
