#!/usr/bin/env python3
"""Memory the server must give back. Issue #16, defect 7: after a burst of half-open TLS
handshakes. Issue #15: after registries answer with large referrer listings.

Each handshake a client starts and never finishes holds ~40 KB of OpenSSL state. After a
burst, glibc kept the freed memory and RSS stayed at the burst's peak (320-355 MB after 4,000,
baseline ~40 MB). The server now gives memory back once the connection count has fallen by half
(malloc_trim); a leak would not come back. Two bursts of 1,500 connections from two loopback
source addresses (the per-peer bound is 1,024), each closed by the client.

Large listings: a registry that lists 25,000 referrers (~4.5 MB) for every image, four rounds
of three such verifications at once. With glibc's moving mmap threshold the large blocks came
from thread arenas whose tops malloc_trim does not shrink, and the verification threads (the
provider loops' lanes and the pool) kept 20-35 MiB more for good, round 1 to 3 (`make attack`);
`ratify serve` fixes the threshold (ProcessMemory.mapAllocations).

usage: test_memory.py path/to/ratify
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from testkit import Checks, free_port, wait_for_port  # noqa: E402


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "ratify")
    checks = Checks("memory")
    work = tempfile.mkdtemp(prefix="ratify-memory-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    http, health = free_port(), free_port()
    server = subprocess.Popen([binary, "serve", "--http", f"127.0.0.1:{http}", "--health-port", f"127.0.0.1:{health}",
                               "--metrics-port", "off", "--cert-dir", certs, "--log-level", "error"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(health)
        time.sleep(0.5)
        baseline = rss_mib(server.pid)
        context = ssl._create_unverified_context()
        for burst in range(2):
            sockets = []
            for i in range(1500):
                raw = socket.socket()
                raw.bind((f"127.0.0.{2 + i // 1000}", 0))
                raw.connect(("127.0.0.1", http))
                raw.setblocking(False)
                tls = context.wrap_socket(raw, do_handshake_on_connect=False)
                try:
                    tls.do_handshake()
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                sockets.append(tls)
            time.sleep(1.0)
            peak = rss_mib(server.pid)
            for tls in sockets:
                try:
                    tls.close()
                except OSError:
                    pass
            after = peak
            for _ in range(40):  # the server notices the closes, then its next sweep (250 ms)
                time.sleep(0.25)
                after = rss_mib(server.pid)
                if after < baseline + (peak - baseline) / 2:
                    break
            print(f"burst {burst}: baseline {baseline:.1f} MiB, 1,500 half-open handshakes {peak:.1f} MiB, after {after:.1f} MiB")
            checks.check(f"burst {burst}: the burst's memory is given back (RSS falls more than half way to the baseline)",
                         peak - baseline > 20 and after < baseline + (peak - baseline) / 2,
                         f"baseline {baseline:.1f}, peak {peak:.1f}, after {after:.1f} MiB")
        with socket.create_connection(("127.0.0.1", health)) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            checks.check("healthy afterwards", probe.recv(100).startswith(b"HTTP/1.1 200"))
    finally:
        server.terminate()
        server.wait(timeout=20)
    large_listings(binary, checks)
    checks.finish()


def large_listings(binary, checks):
    import threading
    import attack
    import bench
    bench.BIN = binary
    work = tempfile.mkdtemp(prefix="ratify-memory-listings-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    registry, port, config = attack.start_hostile_registry(work)
    server = attack.Server(work, certs, config=config)
    try:
        time.sleep(0.5)
        idle = rss_mib(server.process.pid)
        settled = []
        for round_ in range(4):
            answers = []
            threads = [threading.Thread(target=lambda i=i: answers.append(server.post(attack.provider_request([f"127.0.0.1:{port}/big/app{round_}-{i}:v1"]))))
                       for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(1.5)
            settled.append(rss_mib(server.process.pid))
            checks.check(f"large listings round {round_ + 1}: three answers, none a pass", len(answers) == 3 and all(
                a[0] == 200 and b'"isSuccess":true' not in a[1] for a in answers), f"{[(a[0], a[1][:80]) for a in answers]}")
        print(f"large listings: idle {idle:.1f} MiB, settled after each round {' -> '.join('%.1f' % r for r in settled)} MiB")
        checks.check("large listings: RSS does not climb from round 1 to round 4 (within 10 MiB)", settled[-1] - settled[0] < 10,
                     f"{' -> '.join('%.1f' % r for r in settled)} MiB")
        checks.check("large listings: RSS settles within 20 MiB of idle", max(settled) - idle < 20, f"idle {idle:.1f}, settled {max(settled):.1f} MiB")
    finally:
        server.stop()
        registry.shutdown()


if __name__ == "__main__":
    main()
