#!/usr/bin/env python3
"""The `oauth2-code` benchmark (bench/README.md, "OAuth2 sign-in"): Gatehouse vs PocketBase.

    bench/oauth2.py                       # builds Gatehouse (release) unless --no-build
    bench/oauth2.py --no-build --users 200 --duration 5 --rounds 2

Both servers exchange their codes with the same stand-in GitLab on 127.0.0.1
(bench/oauth2_provider.mjs, a node server with no dependencies): its token endpoint
accepts any code `bench-N-<suffix>` the driver makes up and answers for user N, its
user info endpoint answers user N with a confirmed address. Each server has `gitlab`
configured in the `users` collection's `oauth2.providers` with the provider's three
URLs pointed there (`PATCH /api/collections/users`, the same body on both), its
limiter off as in bench/run, and its mail going to an SMTP sink of its own.

1. Sign-ups: `--users` users, each once, from 8 threads: every answer a 200 with
   `meta.isNew` true. Reported apart (a new record is a password hash on both).
2. `oauth2-code`: `POST /api/collections/users/auth-with-oauth2` {provider, code,
   codeVerifier, redirectURL} with a fresh code each request, the users in turn (all
   linked now: every request is a sign-in), driven by wrk (bench/wrk/oauth2-code.lua)
   at c=1 and c=8. Per point: a `--warmup` wrk run nobody counts, then `--rounds`
   measured runs of `--duration` s, the servers' order turning each round; the
   server's CPU (utime + stime from /proc) read around each measured run.

Reported per server and concurrency: sign-ins/s, server CPU per sign-in, p50 (mean of
the rounds') and p99 (the worst round's) latency, errors (non-2xx and socket errors;
must be 0), the provider's CPU and new connections per sign-in, the cores the server,
the provider, wrk and the whole machine kept busy, and the mails sent meanwhile (none
expected). Target: Gatehouse's rate ≥ PocketBase's. Afterwards the user count is
checked: sign-ins created no record.

Reuses bench/run's tools (wrk, PocketBase's install, Server, SmtpSink). Python 3 stdlib
only, plus node for the provider. Writes bench/results/oauth2.md and prints it.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_run import run

BENCH = Path(__file__).resolve().parent
PROVIDER = "gitlab"
CLIENT = ("bench-oauth2-app", "bench-oauth2-client-secret")
# The same as bench/wrk/oauth2-code.lua's: PKCE's verifier, and where the app was sent back.
VERIFIER = "bench-code-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
REDIRECT = "http://127.0.0.1/oauth2-redirect"
PATH = "/api/collections/users/auth-with-oauth2"
CONCURRENCY = (1, 8)
SIGNUP_THREADS = 8


class Provider:
    """The stand-in GitLab: `node bench/oauth2_provider.mjs` on a free loopback port."""

    def __init__(self):
        if not run.shutil.which("node"):
            run.die("node not found: the stand-in provider is a node script (Debian's `nodejs`)")
        self.proc = subprocess.Popen(["node", str(BENCH / "oauth2_provider.mjs"), "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            self.stop()
            run.die(f"the stand-in provider did not start: {' '.join(line)}")
        self.port = int(line[1])
        self.url = f"http://127.0.0.1:{self.port}/{PROVIDER}"

    def config(self):
        """The collection's provider entry, as PocketBase stores it."""
        return {"name": PROVIDER, "clientId": CLIENT[0], "clientSecret": CLIENT[1],
                "authURL": f"{self.url}/authorize", "tokenURL": f"{self.url}/token",
                "userInfoURL": f"{self.url}/user"}

    def cpu_ms(self):
        return run.proc_cpu_ms(self.proc.pid)

    def connections(self):
        """TCP connections accepted so far (a server that reuses none opens one per request)."""
        status, data = run.http_json(self.port, "GET", "/stats")
        if status != 200:
            run.die(f"the stand-in provider's /stats -> {status}")
        return data["connections"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def code_body(user, suffix):
    return {"provider": PROVIDER, "code": f"bench-{user}-{suffix}", "codeVerifier": VERIFIER,
            "redirectURL": REDIRECT}


def configure(server, provider):
    """The limiter off (Gatehouse), mail to the sink, and `gitlab` on `users`."""
    server.seed_admin()
    server.seed_smtp()
    data = server.request("PATCH", "/api/collections/users",
                          {"oauth2": {"enabled": True, "providers": [provider.config()]}},
                          token=server.su_token)
    oauth2 = data.get("oauth2") or {}
    listed = [p.get("tokenURL") for p in oauth2.get("providers") or []]
    if oauth2.get("enabled") is not True or listed != [provider.config()["tokenURL"]]:
        run.die(f"{server.name}: PATCH /api/collections/users did not configure {PROVIDER}: {oauth2}")


def post(conn, body):
    """One auth-with-oauth2 on a keep-alive connection: (status, answer, seconds)."""
    t = time.perf_counter()
    conn.request("POST", PATH, body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    seconds = time.perf_counter() - t
    try:
        return resp.status, json.loads(raw), seconds
    except ValueError:
        return resp.status, raw.decode(errors="replace"), seconds


def expect_sign_in(status, data, user, new):
    """The answer of a code exchange for `user`: a 200 with the token and the record."""
    ok = status == 200 and isinstance(data, dict) and data.get("token") and \
        data.get("meta", {}).get("isNew") is new and \
        data.get("record", {}).get("email") == f"bench-oauth-{user:05d}@example.com"
    return None if ok else f"user {user}: {status} {str(data)[:300]}"


def sign_ups(server, users):
    """Every user's first code exchange (its sign-up), SIGNUP_THREADS at a time."""
    run.wait_idle([server])
    before = server.cpu_ms()

    def one_thread(part):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        out = []
        for user in part:
            status, data, seconds = post(conn, code_body(user, "signup"))
            out.append((seconds, expect_sign_in(status, data, user, True)))
        conn.close()
        return out

    parts = [range(i, users, SIGNUP_THREADS) for i in range(SIGNUP_THREADS)]
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(SIGNUP_THREADS) as pool:
        out = [o for part in pool.map(one_thread, parts) for o in part]
    seconds = time.monotonic() - t0
    failures = [f for _, f in out if f]
    if failures:
        run.die(f"{server.name}: {len(failures)} sign-ups failed, the first: {failures[0]}")
    lat = sorted(s * 1e6 for s, _ in out)
    return {"requests": users, "errors": 0, "rps": users / seconds,
            "cpu_ms_per_req": (server.cpu_ms() - before) / users,
            "p50_us": lat[len(lat) // 2], "p99_us": lat[int(0.99 * (len(lat) - 1))]}


def check_sign_in(server, user):
    """One sign-in of a linked user: the same record, not a new one."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    status, data, _ = post(conn, code_body(user, "check"))
    conn.close()
    failure = expect_sign_in(status, data, user, False)
    if failure:
        run.die(f"{server.name}: a linked user's sign-in: {failure}")


def user_count(server):
    data = server.request("GET", "/api/collections/users/records?perPage=1", token=server.su_token)
    return data.get("totalItems")


def wrk_run(server, users, conns, seconds, tag):
    env = dict(os.environ, BENCH_OAUTH2_USERS=str(users), BENCH_OAUTH2_TAG=tag, BENCH_OAUTH2_PROVIDER=PROVIDER)
    cmd = ["wrk", f"-t{run.WRK_THREADS}", f"-c{conns}", f"-d{seconds}s", "--timeout", run.WRK_TIMEOUT,
           "-s", str(BENCH / "wrk" / "oauth2-code.lua"), f"http://127.0.0.1:{server.port}{PATH}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return run.wrk_result(proc, seconds)


def errors_of(res):
    return res["non_2xx"] + sum(res["errors"].values())


def measured_run(server, provider, users, conns, seconds, tag):
    """One counted wrk run with the server's and the provider's CPU read around it."""
    run.wait_idle([server])
    connections = provider.connections()
    before = (server.cpu_ms(), provider.cpu_ms(), run.children_cpu_ms(), run.machine_busy_ms())
    res = wrk_run(server, users, conns, seconds, tag)
    res["connections"] = provider.connections() - connections
    res["cpu_ms"] = server.cpu_ms() - before[0]
    res["provider_ms"] = provider.cpu_ms() - before[1]
    res["wrk_ms"] = run.children_cpu_ms() - before[2]
    res["busy_ms"] = run.machine_busy_ms() - before[3]
    res["load"] = os.getloadavg()[0]
    server.check_alive(f"oauth2-code c={conns}")
    return res


def merge(runs):
    """One point from a server's rounds: rates and CPU over all requests together."""
    n = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    return {"requests": n, "rps": n / seconds, "errors": sum(errors_of(r) for r in runs),
            "cpu_ms_per_req": sum(r["cpu_ms"] for r in runs) / n if n else None,
            "provider_ms_per_req": sum(r["provider_ms"] for r in runs) / n if n else None,
            "connections_per_req": sum(r["connections"] for r in runs) / n if n else None,
            "p50_us": statistics.fmean(r["latency_us"]["p50"] for r in runs),
            "p99_us": max(r["latency_us"]["p99"] for r in runs),
            "rounds_rps": [r["requests"] / (r["duration_us"] / 1e6) for r in runs],
            # Cores busy while measured: the server, the provider, wrk, the whole machine.
            "cores": [sum(r[k] for r in runs) / 1000 / seconds for k in ("cpu_ms", "provider_ms", "wrk_ms", "busy_ms")],
            "load": max(r["load"] for r in runs)}


def measure(servers, provider, users, args):
    """{conns: {server name: point}}; the servers' order turns each round."""
    points = {}
    run_id = secrets.token_hex(3)
    for conns in CONCURRENCY:
        for server in servers:
            wrk_run(server, users, conns, args.warmup, f"w{run_id}c{conns}")
        runs = {s.name: [] for s in servers}
        for r in range(args.rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for server in order:
                res = measured_run(server, provider, users, conns, args.duration, f"m{run_id}c{conns}r{r}")
                runs[server.name].append(res)
                run.log(f"{server.name:10} oauth2-code c={conns} round {r + 1}: "
                        f"{res['requests'] / (res['duration_us'] / 1e6):8.1f} req/s  "
                        f"cpu {res['cpu_ms'] / max(res['requests'], 1):.3f} ms/req  "
                        f"p50 {res['latency_us']['p50'] / 1000:.2f} ms  p99 {res['latency_us']['p99'] / 1000:.2f} ms  "
                        f"errors {errors_of(res)}  load {res['load']:.1f}")
        points[conns] = {name: merge(rs) for name, rs in runs.items()}
    return points


def ms(us):
    return f"{us / 1000:.2f} ms"


def report(args, users, versions, signups, points, load, mails):
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    names = list(versions)
    lines = [f"# oauth2-code benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             "; ".join(f"{n}: {v}" for n, v in versions.items()) +
             f"; {run.CORES} cores, load average {load[0]:.1f} / {load[1]:.1f} before the run.", "",
             f"`POST {PATH}` with a fresh code each request against the stand-in GitLab on 127.0.0.1, "
             f"{users} users signed up first, so every measured request signs in a linked user; "
             f"{args.rounds} rounds of {args.duration} s per point, after {args.warmup} s of warm-up.", "",
             "| point | server | sign-ins/s | server CPU / sign-in | p50 | p99 | errors | provider CPU / sign-in "
             "| provider connections / sign-in | cores: server / provider / wrk / machine |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for conns, point in points.items():
        for name in names:
            p = point[name]
            lines.append(f"| c={conns} | {name} | {p['rps']:.1f} | {p['cpu_ms_per_req']:.3f} ms | "
                         f"{ms(p['p50_us'])} | {ms(p['p99_us'])} | {p['errors']} | {p['provider_ms_per_req']:.3f} ms | {p['connections_per_req']:.2f} | "
                         f"{' / '.join(f'{c:.2f}' for c in p['cores'])} |")
    lines += ["", "Mails the servers sent during the sign-ins (a new-login alert would be one): " +
              ", ".join(f"{n} {mails[n]}" for n in names) + "."]
    lines += ["", f"Sign-ups ({users} new users, {SIGNUP_THREADS} threads, counted apart):", "",
              "| server | sign-ups/s | server CPU / sign-up | p50 | p99 | errors |", "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        s = signups[name]
        lines.append(f"| {name} | {s['rps']:.1f} | {s['cpu_ms_per_req']:.2f} ms | {ms(s['p50_us'])} | "
                     f"{ms(s['p99_us'])} | {s['errors']} |")
    if {"gatehouse", "pocketbase"} <= set(names):
        lines += ["", "| target | point | Gatehouse ÷ PocketBase | |", "|---|---|---:|---|"]
        for conns, point in points.items():
            g, p = point["gatehouse"], point["pocketbase"]
            ok = g["rps"] >= p["rps"] and g["errors"] == 0 and p["errors"] == 0
            lines.append(f"| sign-ins/s ≥ PocketBase's rate | c={conns} | {g['rps'] / p['rps']:.2f}× "
                         f"(CPU {g['cpu_ms_per_req'] / p['cpu_ms_per_req']:.2f}×) | {verdict(ok)} |")
    return "\n".join(lines + [""])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=200, help="users signed up, then signed in in turn (default 200)")
    ap.add_argument("--duration", type=int, default=5, help="seconds of one measured run (default 5)")
    ap.add_argument("--rounds", type=int, default=2, help="measured runs per server and point (default 2)")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of the uncounted run per point (default 2)")
    ap.add_argument("--only", choices=("gatehouse", "pocketbase"), help="one server only (no target line)")
    ap.add_argument("--gatehouse-bin", type=Path, default=run.GATEHOUSE_BIN)
    ap.add_argument("--no-build", action="store_true", help="use the binary as it is")
    args = ap.parse_args()
    if not 1 <= args.users <= 100_000 or not 1 <= args.duration <= 600 or not 1 <= args.rounds <= 20 \
            or not 1 <= args.warmup <= 60:
        run.die("--users 1..100000, --duration 1..600, --rounds 1..20, --warmup 1..60")
    run.ensure_wrk()
    binaries = {}
    if args.only != "pocketbase":
        if not args.no_build:
            run.ensure_gatehouse(True)
        binaries["gatehouse"] = args.gatehouse_bin
    if args.only != "gatehouse":
        binaries["pocketbase"] = run.ensure_pocketbase()
    (run.RESULTS / "logs").mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    provider = Provider()
    servers = []
    try:
        with tempfile.TemporaryDirectory(prefix="gh-oauth2-bench-") as tmp:
            for name, binary in binaries.items():
                server = run.Server(name, binary, Path(tmp))
                server.sink = run.SmtpSink()
                server.sink.start()
                servers.append(server)
                server.upsert_superuser()
                server.spawn()
                configure(server, provider)
            signups = {}
            for server in servers:
                run.log(f"{server.name}: signing up {args.users} users")
                signups[server.name] = sign_ups(server, args.users)
                check_sign_in(server, 0)
            mails_before = {s.name: s.sink.count() for s in servers}
            points = measure(servers, provider, args.users, args)
            mails = {s.name: s.sink.wait_quiet(quiet=0.5) - mails_before[s.name] for s in servers}
            for server in servers:
                count = user_count(server)
                if count != args.users:
                    run.die(f"{server.name}: {count} users after the sign-ins, not {args.users}")
            versions = {s.name: run.version_of(s.binary) for s in servers}
    finally:
        for server in servers:
            server.stop()
            server.sink.stop()
        provider.stop()
    md = report(args, args.users, versions, signups, points, load, mails)
    (run.RESULTS / "oauth2.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
