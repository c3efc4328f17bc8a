#!/usr/bin/env python3
"""`make bench`: load the real `ratify serve` binary over HTTPS with keep-alive and print a table.

Today the executor is the unconfigured one (each key is answered with an error string, no
registry traffic), so the numbers measure the server itself: TLS, HTTP parsing, JSON decode and
encode, dispatch to the executor and back. Verification rows (cold/warm, registry requests per
verification) join when the executor does.

Load comes from wrk (Debian's package) on the same 2-core machine, so absolute numbers include
wrk's own CPU use; compare runs on one machine, and prefer ratios within a run.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("RATIFY_BIN", os.path.join(ROOT, ".build", "release", "ratify"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,16,256").split(",")]
KEYS = ["registry.example.com/team/app:1.0.0"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_wrk(url, script, connections, seconds):
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    return {"rps": rps, "p50": to_ms(dist["50"]), "p99": to_ms(dist["99"]), "requests": total, "errors": errors}


def main():
    if not os.path.exists(BIN):
        sys.exit(f"bench: {BIN} not found; run `make bench` (it builds the release binary)")
    work = tempfile.mkdtemp(prefix="ratify-bench-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    http, health = free_port(), free_port()
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([BIN, "serve", "--http", f"127.0.0.1:{http}", "--health-port", f"127.0.0.1:{health}",
                               "--metrics-port", "off", "--cert-dir", certs, "--log-level", "warning"],
                              stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", health), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        body = ('{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":['
                + ",".join(f'"{k}"' for k in KEYS) + ']}}')
        script = os.path.join(work, "post.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = '{body}'\n")
        url = f"https://127.0.0.1:{http}/ratify/gatekeeper/v1/verify"
        idle_rss = status_kb(server.pid, "VmRSS")
        run_wrk(url, script, 4, 1)  # warm-up: page in code, fill allocator caches
        rows = []
        for c in CONNECTIONS:
            result = run_wrk(url, script, c, SECONDS)
            result["connections"] = c
            result["rss"] = status_kb(server.pid, "VmRSS")
            rows.append(result)
        peak = status_kb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=20)

    print()
    print(f"ratify serve (release), POST /ratify/gatekeeper/v1/verify over HTTPS keep-alive, "
          f"{len(KEYS)} key/request, trivial (unconfigured) executor, wrk {SECONDS}s per row, {os.cpu_count()} cores")
    print(f"{'conns':>6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7} {'RSS MiB':>8}")
    for r in rows:
        print(f"{r['connections']:>6} {r['rps']:>10.0f} {r['p50']:>8.3f} {r['p99']:>8.3f} {r['requests']:>9} "
              f"{r['errors']:>7} {r['rss'] / 1024:>8.1f}")
    print(f"idle RSS {idle_rss / 1024:.1f} MiB, peak RSS (VmHWM) {peak / 1024:.1f} MiB")
    if any(r["errors"] for r in rows):
        sys.exit("bench: some requests failed (see errors column)")


if __name__ == "__main__":
    main()
