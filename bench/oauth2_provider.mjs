// A stand-in GitLab for the oauth2-code benchmark (bench/oauth2.py): both servers exchange
// their codes here, on 127.0.0.1, so that neither pays for a real provider's latency.
//
//   node bench/oauth2_provider.mjs [PORT]     # prints "listening PORT" once it is up
//
// GitLab's two endpoints, answered as GitLab documents them:
//   POST /gitlab/token  (form: code, ...)  -> {"access_token": "at-N", "token_type": "Bearer", ...}
//   GET  /gitlab/user   (Bearer at-N)      -> user N, its address confirmed (`confirmed_at`)
//   GET  /stats                            -> {"requests": .., "connections": ..} so far
// A code is whatever the driver makes up as long as it reads `bench-N-<anything>`: it names
// the user N, and a fresh suffix makes each code new. No state is kept, so the answers cost
// next to nothing and the provider is never the bottleneck. No avatar_url: PocketBase would
// download it into the record's avatar field on sign-up, which is not what is measured.
// Node's standard library only.
import http from "node:http";

const CODE = /^bench-(\d{1,9})-[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^Bearer at-(\d{1,9})$/;
const MAX_BODY = 16 * 1024;
let requests = 0;
let connections = 0;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function user(n) {
  return {
    id: 100000 + n,
    username: `bench${n}`,
    name: `Bench User ${n}`,
    state: "active",
    email: `bench-oauth-${String(n).padStart(5, "0")}@example.com`,
    confirmed_at: "2024-01-02T03:04:05Z",
    two_factor_enabled: false,
  };
}

function token(req, res) {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => {
    body += chunk;
    if (body.length > MAX_BODY) req.destroy();
  });
  req.on("end", () => {
    const match = CODE.exec(new URLSearchParams(body).get("code") || "");
    if (!match) {
      send(res, 400, { error: "invalid_grant", error_description: "The provided authorization grant is invalid." });
      return;
    }
    send(res, 200, {
      access_token: `at-${match[1]}`,
      token_type: "Bearer",
      expires_in: 7200,
      refresh_token: `rt-${match[1]}`,
      scope: "read_user",
      created_at: 1607635748,
    });
  });
}

const server = http.createServer((req, res) => {
  requests += 1;
  const path = req.url.split("?", 1)[0];
  if (req.method === "POST" && path === "/gitlab/token") return token(req, res);
  if (req.method === "GET" && path === "/gitlab/user") {
    const match = TOKEN.exec(req.headers.authorization || "");
    if (match) return send(res, 200, user(Number(match[1])));
    return send(res, 401, { message: "401 Unauthorized" });
  }
  if (path === "/stats") return send(res, 200, { requests, connections });
  send(res, 404, { error: "404 Not Found" });
});
// A server that keeps its connections open between exchanges may: GET /stats counts both.
server.keepAliveTimeout = 60_000;
server.on("connection", () => {
  connections += 1;
});
server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
