// A webhook SMS provider on 127.0.0.1 for the tests: it keeps every message whose
// `X-Gatehouse-Signature` node's own HMAC confirms, and refuses (and counts) any other.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

/** A started sink: {url, messages, badSignatures, to(phone), code(phone), close()}. */
export async function startSmsSink(secret) {
  const sink = { messages: [], badSignatures: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-gatehouse-signature'] ?? ''));
      if (req.method !== 'POST' || got.length !== expected.length || !timingSafeEqual(got, expected)) {
        sink.badSignatures += 1;
        res.writeHead(401).end();
        return;
      }
      sink.messages.push(JSON.parse(raw.toString('utf8')));
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${server.address().port}/sms`;
  sink.close = () => new Promise((resolve) => server.close(resolve));
  sink.to = (phone) => sink.messages.filter((m) => m.to === phone);
  /** The code of the newest message to `phone`. */
  sink.code = (phone) => {
    const last = sink.to(phone).at(-1);
    assert.ok(last, `a message to ${phone}`);
    return last.message.match(/\d{6}/)[0];
  };
  return sink;
}
