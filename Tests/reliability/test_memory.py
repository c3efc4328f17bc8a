#!/usr/bin/env python3
"""Issue #16, defect 7: memory after a burst of half-open TLS handshakes.

Each handshake a client starts and never finishes holds ~40 KB of OpenSSL state. After a
burst, glibc kept the freed memory and RSS stayed at the burst's peak (320-355 MB after 4,000,
baseline ~40 MB). The server now gives memory back once the connection count has fallen by half
(malloc_trim); a leak would not come back. Two bursts of 1,500 connections from two loopback
source addresses (the per-peer bound is 1,024), each closed by the client.

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
    checks.finish()


if __name__ == "__main__":
    main()
