#!/usr/bin/env python3
"""Server CPU of a second step alone: auth-with-totp and auth-with-backup-code against
auth-refresh, driven the same way (see bench/README.md, "A second step alone").

    bench/second_step.py                                  # target/release/gatehouse
    bench/second_step.py --gatehouse-bin PATH --batch 200 --rounds 5
    bench/second_step.py --callgrind --requests 200       # instructions per request

The target (bench/README.md, "Targets"): a second step costs < 0.2 ms of server CPU beyond
its HTTP handling, read as a second step's CPU per request minus auth-refresh's, same client.

Timed mode. Seeds a fresh Gatehouse (bench/run's Server and SMTP sink: the factor collection
with TOTP and 50 backup codes a user, the limiter off), then runs `--rounds` rounds of one
batch per kind, the kinds' order turning each round (totp, backup, refresh; backup, refresh,
totp; …) so drift on a shared machine hits all three alike. A second-step batch: `--batch`
logins to the 401 (untimed, CORES threads), then, with the server idle, their `--batch`
second steps on one keep-alive connection (each request in one write, header and body
together, as wrk and the SDKs send it), the server's utime + stime (/proc/<pid>/stat) read
before the first and after the last once the SMTP sink has been quiet for 0.3 s (a used backup
code mails its owner after the answer). An auth-refresh batch: `--batch` refreshes of a token
from a second step, on one keep-alive connection, read the same way. Prints ms per request of
each batch and of all of them (sum ÷ sum), split user/system, and the differences.

`--callgrind`. The same, counted in instructions: the logins run first on the plain server
(a password hash under valgrind takes a second), then the server restarts on its data dir
under `valgrind --tool=callgrind --instr-atstart=no`; a few second steps of each kind warm it
up, then each kind's `--requests` requests are counted alone (instrumentation on around them),
and the dumps stay in bench/results/second_step/ for `callgrind_annotate`. Instructions do not
count the kernel (thread switches, file I/O), which the timed mode does.
"""
import argparse
import concurrent.futures
import glob
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.machinery import SourceFileLoader
from pathlib import Path

BENCH = Path(__file__).resolve().parent
run = SourceFileLoader("bench_run", str(BENCH / "run")).load_module()
OUT = run.RESULTS / "second_step"
KINDS = ("totp", "backup", "refresh")
TARGET_MS = 0.2
QUIET_S = 0.3
# The hashing pool gives back a thread's argon2 memory (an munmap of 19 MiB) 0.5 s after its
# last hash: a batch waits that out after its logins, so that the step is not charged with it.
HASH_RELEASE_S = 0.7
WARMUP = 20
BASE = f"/api/collections/{run.FACTOR_COLLECTION}"


class OneWrite(http.client.HTTPConnection):
    """Sends a request's header and body in one write, as wrk, node's fetch (the SDKs) and
    browsers do with a small body. http.client writes them apart: the server then reads a
    second packet and waits for it once more, a cost of this client only, which auth-refresh
    (no body) would not pay and a second step would."""

    held = None

    def request(self, *args, **kwargs):
        self.held = []
        try:
            super().request(*args, **kwargs)
        finally:
            held, self.held = self.held, None
            super().send(b"".join(held))

    def send(self, data):
        if self.held is None:
            super().send(data)
        else:
            self.held.append(data)


class Client:
    """One keep-alive connection; every answer must have the expected status."""

    def __init__(self, port):
        self.conn = OneWrite("127.0.0.1", port, timeout=300)

    def post(self, path, body=None, token=None, expect=200):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = token
        # auth-refresh goes with an empty body, as wrk's, browsers' and the SDKs' do.
        payload = "" if body is None else json.dumps(body)
        self.conn.request("POST", path, body=payload, headers=headers)
        resp = self.conn.getresponse()
        data = json.loads(resp.read() or b"null")
        if resp.status != expect:
            shown = {k: v for k, v in (body or {}).items() if k != "code"}  # no secrets in the log
            run.die(f"POST {path} {json.dumps(shown)} -> {resp.status} (expected {expect}) {str(data)[:300]}")
        return data

    def close(self):
        self.conn.close()


class Users:
    """Enrolled users of the factor collection: a TOTP secret, unused backup codes, and the
    last TOTP step each has used. A step is accepted once per user and must be above the last
    one the server accepted, inside now-1 … now+1: a user whose last step is ≤ the current one
    has a step in hand (the current one, or the next)."""

    def __init__(self, server):
        self.server, self.lock = server, threading.Lock()
        self.totp = []    # [address, secret, last step]
        self.backup = []  # (address, code), each used once

    def enrol(self, n):
        t0, first = time.monotonic(), len(self.totp)
        addresses = [run.TOTP_EMAIL.format(i) for i in range(first, first + n)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=2 * run.CORES) as workers:
            enrolled = list(workers.map(self.server.enrol_factor_user, addresses))
        for address, (secret, codes) in zip(addresses, enrolled):
            self.totp.append([address, secret, 0])
            self.backup += [(address, code) for code in codes]
        run.log(f"enrolled {n} users ({len(self.totp)} in all) in {time.monotonic() - t0:.1f} s")

    def totp_batch(self, n):
        """n distinct users with a step in hand, enrolling more when too few have one."""
        now = run.totp_step_now()
        ready = [u for u in self.totp if u[2] <= now]
        if len(ready) < n:
            self.enrol(n - len(ready))
            ready = [u for u in self.totp if u[2] <= now]
        return ready[:n]

    def backup_batch(self, n):
        """n unused codes, no two of one user (a user's codes are spent one at a time)."""
        taken, batch, rest = set(), [], []
        for address, code in self.backup:
            if len(batch) < n and address not in taken:
                taken.add(address)
                batch.append((address, code))
            else:
                rest.append((address, code))
        if len(batch) < n:
            self.enrol(n - len(batch))
            return self.backup_batch(n)
        self.backup = rest
        return batch


def log_in(port, addresses):
    """The 401's mfaId of each address, logged in from CORES threads."""
    def one(address):
        client = Client(port)
        try:
            data = client.post(f"{BASE}/auth-with-password",
                               {"identity": address, "password": run.FACTOR_PASSWORD}, expect=401)
        finally:
            client.close()
        if not data.get("mfaId"):
            run.die(f"the login of {address} answered no mfaId: {str(data)[:300]}")
        return data["mfaId"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=run.CORES) as workers:
        return list(workers.map(one, addresses))


def prepare(kind, users, port, n):
    """The requests of one batch as (path, body) pairs, their logins done; TOTP codes are
    computed when sent (see `second_steps`)."""
    if kind == "totp":
        batch = users.totp_batch(n)
        return [("totp", user, mfa_id) for user, mfa_id in zip(batch, log_in(port, [u[0] for u in batch]))]
    batch = users.backup_batch(n)
    ids = log_in(port, [address for address, _ in batch])
    return [("backup", code, mfa_id) for (_, code), mfa_id in zip(batch, ids)]


def second_steps(client, jobs):
    """Sends each prepared second step; the last answer's token."""
    token = None
    for kind, what, mfa_id in jobs:
        if kind == "totp":
            step = max(what[2] + 1, run.totp_step_now())
            what[2] = step
            body = {"mfaId": mfa_id, "code": run.totp_code(what[1], step)}
            data = client.post(f"{BASE}/auth-with-totp", body)
        else:
            data = client.post(f"{BASE}/auth-with-backup-code", {"mfaId": mfa_id, "code": what})
        token = data.get("token") or run.die(f"a second step answered no token: {str(data)[:300]}")
    return token


def refreshes(client, token, n):
    for _ in range(n):
        data = client.post(f"{BASE}/auth-refresh", token=token)
        token = data.get("token") or run.die(f"auth-refresh answered no token: {str(data)[:300]}")
    return token


def cpu_split(pid):
    """(utime, stime) of the whole process in ms, in clock ticks (10 ms)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) * 1000 / run.CLK_TCK, int(fields[12]) * 1000 / run.CLK_TCK


def thread_ns(pid):
    """{thread id: ns on a CPU} from each thread's schedstat: to the nanosecond, where
    /proc/<pid>/stat counts 10 ms ticks."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[task.name] = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended meanwhile
    return out


def ns_between(before, after):
    """CPU ns between two `thread_ns` readings. A thread that ended in between is left out
    (the blocking pool ends threads idle for 10 s, so it ran next to nothing)."""
    return sum(ns - before.get(tid, 0) for tid, ns in after.items())


def start_server(binary, workdir):
    server = run.Server("gatehouse", binary, workdir)
    server.logfile.write_bytes(b"")
    server.sink = run.SmtpSink()
    server.sink.start()
    server.upsert_superuser()
    server.spawn()
    return server


def seed(server):
    """The superuser, the limiter off, mail to the sink, the factor collection."""
    su = server.request("POST", "/api/collections/_superusers/auth-with-password",
                        {"identity": run.SUPERUSER[0], "password": run.SUPERUSER[1]})
    server.su_token = su["token"]
    server.request("PATCH", "/api/settings", {"rateLimits": {"enabled": False}, "lockout": {"enabled": False}},
                   token=server.su_token)
    server.request("PATCH", "/api/settings",
                   {"smtp": {"enabled": True, "host": "127.0.0.1", "port": server.sink.port, "tls": False,
                             "tlsMode": "none"}}, token=server.su_token)
    server.seed_factor_collection()


class PerfRecord:
    """`perf record` of the server, one per kind, each on only around that kind's batches
    (perf's control FIFO), into bench/results/second_step/perf.<kind>.data."""

    def __init__(self, pid):
        self.procs, self.fifos = {}, {}
        for kind in KINDS:
            ctl, ack = OUT / f"perf.{kind}.ctl", OUT / f"perf.{kind}.ack"
            for fifo in (ctl, ack):
                fifo.unlink(missing_ok=True)
                os.mkfifo(fifo)
            cmd = ["perf", "record", "-e", "cpu-clock", "-F", "5000", "-g", "-p", str(pid), "-D", "-1",
                   "--control", f"fifo:{ctl},{ack}", "-o", str(OUT / f"perf.{kind}.data")]
            self.procs[kind] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.fifos[kind] = (open(ctl, "w"), open(ack, "r"))

    def switch(self, kind, on):
        ctl, ack = self.fifos[kind]
        ctl.write("enable\n" if on else "disable\n")
        ctl.flush()
        ack.readline()

    def stop(self):
        for kind, proc in self.procs.items():
            proc.send_signal(2)
            proc.wait()
            for f in self.fifos[kind]:
                f.close()


def timed(server, users, args):
    """Rounds of one batch per kind; {kind: [(requests, user ms, system ms, schedstat ms)]}."""
    readings = {k: [] for k in KINDS}
    perf = PerfRecord(server.proc.pid) if args.perf else None
    client = Client(server.port)
    token = second_steps(client, prepare("totp", users, server.port, WARMUP))
    second_steps(client, prepare("backup", users, server.port, WARMUP))
    refreshes(client, token, WARMUP)
    client.close()
    for r in range(args.rounds):
        order = KINDS[r % 3:] + KINDS[:r % 3]
        for kind in order:
            jobs = None if kind == "refresh" else prepare(kind, users, server.port, args.batch)
            time.sleep(HASH_RELEASE_S)
            run.wait_idle([server])
            server.sink.wait_quiet(quiet=QUIET_S)
            # A new connection each batch: the server closes one left idle during the logins.
            client = Client(server.port)
            u0, s0 = cpu_split(server.proc.pid)
            t0 = thread_ns(server.proc.pid)
            if perf:
                perf.switch(kind, True)
            if kind == "refresh":
                token = refreshes(client, token, args.batch)
            else:
                token = second_steps(client, jobs)
            server.sink.wait_quiet(quiet=QUIET_S)
            t1 = thread_ns(server.proc.pid)
            u1, s1 = cpu_split(server.proc.pid)
            if perf:
                perf.switch(kind, False)
            client.close()
            readings[kind].append((args.batch, u1 - u0, s1 - s0, ns_between(t0, t1) / 1e6))
            run.log(f"round {r + 1} {kind}: {ns_between(t0, t1) / 1e6 / args.batch:.3f} ms/request")
    if perf:
        perf.stop()
    return readings


def report_timed(readings):
    """Prints the readings; {kind: ms per request over all its batches}."""
    def per_request(rows, column):
        return sum(r[column] for r in rows) / sum(r[0] for r in rows)

    def batch_ms(kind):
        return [r[3] / r[0] for r in readings[kind]]

    names = {"totp": "auth-with-totp", "backup": "auth-with-backup-code", "refresh": "auth-refresh"}
    print("server CPU ms per request: each batch (threads' schedstat); all batches, sum ÷ sum, and")
    print("the same from /proc/<pid>/stat ticks as user + system:")
    total = {}
    for kind in KINDS:
        total[kind] = per_request(readings[kind], 3)
        user, system = per_request(readings[kind], 1), per_request(readings[kind], 2)
        batches = ", ".join(f"{ms:.3f}" for ms in batch_ms(kind))
        print(f"  {names[kind]:<22} {batches}  →  {total[kind]:.3f}   (stat: {user:.3f} + {system:.3f})")
    for kind in ("totp", "backup"):
        extra = total[kind] - total["refresh"]
        median = statistics.median(batch_ms(kind)) - statistics.median(batch_ms("refresh"))
        verdict = "PASS" if extra < TARGET_MS else "FAIL"
        print(f"  {names[kind]} beyond auth-refresh: {extra:.3f} ms (of the medians: {median:.3f}); "
              f"target < {TARGET_MS} ms: {verdict}")
    return total


def callgrind(server, users, args):
    """Logins on the plain server, then the server under callgrind; {kind: instructions/request}."""
    jobs = {kind: prepare(kind, users, server.port, args.requests + WARMUP) for kind in ("totp", "backup")}
    server.stop()
    out = OUT / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
           str(server.binary), "serve", "--http", f"127.0.0.1:{server.port}", "--dir", str(server.data)]
    log = open(OUT / "valgrind.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)

    def control(*a):
        subprocess.run(["callgrind_control", *a, str(proc.pid)], check=True, capture_output=True)

    try:
        deadline = time.monotonic() + 120
        while not server.healthy():
            if proc.poll() is not None or time.monotonic() > deadline:
                run.die(f"gatehouse under valgrind did not start; see {OUT / 'valgrind.log'}")
            time.sleep(0.5)
        client = Client(server.port)
        token = second_steps(client, jobs["totp"][:WARMUP])
        second_steps(client, jobs["backup"][:WARMUP])
        refreshes(client, token, WARMUP)
        counts = {}
        for n, kind in enumerate(KINDS, start=1):
            server.sink.wait_quiet(quiet=1.0)
            control("-z")
            control("-i", "on")
            if kind == "refresh":
                token = refreshes(client, token, args.requests)
            else:
                token = second_steps(client, jobs[kind][WARMUP:])
            server.sink.wait_quiet(quiet=1.0)  # the backup code's mail, sent after the answer
            control("-i", "off")
            control("-d", kind)
            counts[kind] = dump_total(out, n) / args.requests
        client.close()
        return counts
    finally:
        os.killpg(proc.pid, 15)
        proc.wait()
        log.close()


def dump_total(out, n):
    """The instruction total of the n-th dump (callgrind writes it when asked; wait for it)."""
    dump = Path(f"{out}.{n}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = dump.exists() and re.search(r"^totals: (\d+)", dump.read_text(), re.M)
        if found:
            return int(found.group(1))
        time.sleep(0.2)
    run.die(f"callgrind wrote no {dump}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gatehouse-bin", type=Path, default=run.GATEHOUSE_BIN, metavar="PATH")
    ap.add_argument("--batch", type=int, default=200, help="requests per batch (default 200)")
    ap.add_argument("--rounds", type=int, default=5, help="batches of each kind (default 5)")
    ap.add_argument("--callgrind", action="store_true", help="count instructions instead (needs valgrind)")
    ap.add_argument("--requests", type=int, default=100, help="--callgrind: requests per kind (default 100)")
    ap.add_argument("--perf", action="store_true",
                    help="also `perf record` each kind's batches (bench/results/second_step/perf.<kind>.data)")
    args = ap.parse_args()
    if min(args.batch, args.rounds, args.requests) < 1:
        ap.error("--batch, --rounds and --requests must be ≥ 1")
    if not args.gatehouse_bin.exists():
        run.die(f"{args.gatehouse_bin} not found: cargo build --release -p gatehouse")
    tools = ("valgrind", "callgrind_control") if args.callgrind else ("perf",) if args.perf else ()
    for tool in tools:
        if not shutil.which(tool):
            run.die(f"{tool} not found")
    OUT.mkdir(parents=True, exist_ok=True)
    if args.callgrind:
        for old in glob.glob(str(OUT / "callgrind.out*")):
            os.remove(old)
    (run.RESULTS / "logs").mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="gh-second-step-") as work:
        server = start_server(args.gatehouse_bin, Path(work))
        try:
            seed(server)
            users = Users(server)
            print(f"{args.gatehouse_bin}:")
            if args.callgrind:
                counts = callgrind(server, users, args)
                print(f"instructions per request ({args.requests} requests a kind):")
                for kind in KINDS:
                    print(f"  {kind}: {counts[kind]:,.0f}")
                for kind in ("totp", "backup"):
                    print(f"  {kind} beyond refresh: {counts[kind] - counts['refresh']:,.0f}")
                result = {"instructions": counts}
            else:
                readings = timed(server, users, args)
                result = {"ms_per_request": report_timed(readings), "batches": readings}
        finally:
            server.stop()
            server.sink.stop()
    result["binary"] = str(args.gatehouse_bin)
    (run.RESULTS / "second_step.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
