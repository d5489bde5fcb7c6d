#!/usr/bin/env python3
"""The hosted pages' benchmark (bench/README.md, "Hosted pages"): Gatehouse only.

    bench/pages.py                        # builds Gatehouse (release) unless --no-build
    bench/pages.py --renders 4000 --flows 60

Two readings, both server CPU (utime + stime of the server process) on one
keep-alive connection, one request at a time:

1. The sign-in page: `GET /_/login` rendered `--renders` times, against
   `GET /api/health` the same number of times on the same connection (HTTP
   handling alone). Target: < 1 ms of server CPU per page.
2. A whole sign-in with an authenticator app, both ways, alternated in blocks so
   that a change of the machine's speed falls on both alike:
   - API: `POST auth-with-password` (401 with mfaId) + `POST auth-with-totp`;
   - page: `GET /_/login` + `POST /_/login` (the second-step form) +
     `POST /_/login/factor` (303 to the app with the session cookie).
   Target: the page flow costs at most the API flow + 10%.

Reuses bench/run's server, seeding and TOTP helpers. Python 3 stdlib only.
Writes bench/results/pages.md and prints it.
"""
import argparse
import http.client
import re
import tempfile
import time
import urllib.parse
from pathlib import Path

from bench_run import run

COLLECTION = run.FACTOR_COLLECTION
PAGE_TARGET_MS = 1.0
FLOW_TARGET = 1.10
BLOCK = 10  # flows of one kind before the other kind's turn


class Client:
    """One keep-alive connection that keeps the pages' cookies (no jar: two names)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies = {}

    def send(self, method, path, body=None, content_type=None, token=None):
        headers = {}
        if body is not None:
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = token
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        for header in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return resp.status, raw, resp.headers

    def form(self, path, fields):
        return self.send("POST", path, urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")

    def json(self, path, body, token=None):
        return self.send("POST", path, run.json.dumps(body), "application/json", token)


def hidden(html, name):
    m = re.search(rb'name="' + re.escape(name.encode()) + rb'" value="([^"]*)"', html)
    if not m:
        run.die(f"no hidden field {name!r} in the page")
    return m.group(1).decode().replace("&#43;", "+")


def page_flow(client, address, code):
    """GET the sign-in page, POST the password, POST the TOTP code: a 303 with the session."""
    login = f"/_/login?collection={COLLECTION}&redirect=/app"
    status, html, _ = client.send("GET", login)
    if status != 200:
        run.die(f"GET {login} -> {status}")
    csrf = hidden(html, "csrf")
    base = {"csrf": csrf, "collection": COLLECTION, "redirect": "/app"}
    status, html, _ = client.form("/_/login", {**base, "identity": address, "password": run.FACTOR_PASSWORD})
    if status != 200 or b"mfaId" not in html:
        run.die(f"POST /_/login -> {status}, no second-step form")
    fields = {**base, "mfaId": hidden(html, "mfaId"), "methods": hidden(html, "methods"),
              "identity": address, "type": "totp", "code": code}
    status, _, headers = client.form("/_/login/factor", fields)
    if status != 303 or "gh_session" not in (headers.get("Set-Cookie") or ""):
        run.die(f"POST /_/login/factor -> {status}, no session handed back")
    client.cookies.pop("gh_session", None)


def api_flow(client, address, code):
    base = f"/api/collections/{COLLECTION}"
    status, raw, _ = client.json(f"{base}/auth-with-password",
                                 {"identity": address, "password": run.FACTOR_PASSWORD})
    mfa_id = run.json.loads(raw).get("mfaId") if status == 401 else None
    if not mfa_id:
        run.die(f"auth-with-password -> {status}, no mfaId")
    status, raw, _ = client.json(f"{base}/auth-with-totp", {"mfaId": mfa_id, "code": code})
    if status != 200 or not run.json.loads(raw).get("token"):
        run.die(f"auth-with-totp -> {status}")


def cpu_per_request(server, client, path, n):
    before = run.proc_cpu_ms(server.proc.pid)
    for _ in range(n):
        status, _, _ = client.send("GET", path)
        if status != 200:
            run.die(f"GET {path} -> {status}")
    return (run.proc_cpu_ms(server.proc.pid) - before) / n


def measure_flows(server, users, flows):
    """`flows` of each kind, alternated in blocks of BLOCK; each flow takes a TOTP step
    of its own (a user's current step or the next, never one used before)."""
    pool = run.TotpPool()
    pool.add([(address, secret, None) for address, secret in users])
    client = Client(server.port)
    spent = {"api": 0.0, "page": 0.0}
    done = {"api": 0, "page": 0}
    kinds = [("api", api_flow), ("page", page_flow)]
    turn = 0
    while min(done.values()) < flows:
        name, flow = kinds[turn % 2]
        turn += 1
        block = min(BLOCK, flows - done[name])
        jobs = [pool.take() for _ in range(block)]
        if any(job is None for job in jobs):
            run.die("the TOTP pool ran dry: enrol more users (--flows sets how many)")
        codes = [(job[1], run.totp_code(job[2], job[3])) for job in jobs]
        run.wait_idle([server])
        before = run.proc_cpu_ms(server.proc.pid)
        for address, code in codes:
            flow(client, address, code)
        spent[name] += run.proc_cpu_ms(server.proc.pid) - before
        done[name] += block
        for job in jobs:
            pool.release(job)
    return {k: spent[k] / done[k] for k in spent}


def report(renders, page_ms, health_ms, flows, per_flow, version):
    ratio = per_flow["page"] / per_flow["api"]
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    return "\n".join([
        f"# Hosted pages benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"{version}; server CPU per request on one keep-alive connection.",
        "",
        "| reading | server CPU | target | |",
        "|---|---:|---|---|",
        f"| `GET /_/login` ({renders} renders) | {page_ms:.3f} ms | < {PAGE_TARGET_MS} ms | "
        f"{verdict(page_ms < PAGE_TARGET_MS)} |",
        f"| `GET /api/health` (HTTP handling alone, {renders}) | {health_ms:.3f} ms | | |",
        f"| API sign-in: password + TOTP ({flows} flows) | {per_flow['api']:.2f} ms | | |",
        f"| page sign-in: GET + POST password + POST TOTP ({flows} flows) | {per_flow['page']:.2f} ms | "
        f"≤ API × {FLOW_TARGET:.2f} | {verdict(ratio <= FLOW_TARGET)} ({ratio:.3f}×) |",
        "",
    ])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renders", type=int, default=3000, help="sign-in page renders (default 3000)")
    ap.add_argument("--flows", type=int, default=60, help="sign-ins of each kind (default 60)")
    ap.add_argument("--gatehouse-bin", type=Path, default=run.GATEHOUSE_BIN)
    ap.add_argument("--no-build", action="store_true", help="use the binary as it is")
    args = ap.parse_args()
    if not args.no_build:
        run.ensure_gatehouse(True)
    (run.RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gh-pages-bench-") as tmp:
        server = run.Server("gatehouse", args.gatehouse_bin, Path(tmp))
        server.sink = run.SmtpSink()
        server.sink.start()
        server.data.mkdir(parents=True)
        server.upsert_superuser()
        server.spawn()
        try:
            server.seed()
            server.request("PATCH", "/api/settings",
                           {"smtp": {"enabled": True, "host": "127.0.0.1", "port": server.sink.port,
                                     "tls": False, "tlsMode": "none"}},
                           token=server.su_token)
            server.seed_factor_collection()
            # Each user gives two flows (its current TOTP step and the next).
            count = args.flows + 2
            run.log(f"enrolling {count} users with an authenticator app")
            users = [(a, s) for a, s, _ in
                     ((a, *server.enrol_factor_user(a)) for a in
                      (run.TOTP_EMAIL.format(i) for i in range(count)))]
            client = Client(server.port)
            path = f"/_/login?collection={COLLECTION}"
            cpu_per_request(server, client, path, 200)  # warm-up
            run.wait_idle([server])
            page_ms = cpu_per_request(server, client, path, args.renders)
            run.wait_idle([server])
            health_ms = cpu_per_request(server, client, "/api/health", args.renders)
            run.log(f"measuring {args.flows} sign-ins of each kind")
            per_flow = measure_flows(server, users, args.flows)
            version = run.version_of(args.gatehouse_bin)
        finally:
            server.stop()
            server.sink.stop()
    md = report(args.renders, page_ms, health_ms, args.flows, per_flow, version)
    (run.RESULTS / "pages.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
