#!/usr/bin/env python3
"""`make bench-ab A=old B=new`: which of two ratify binaries spends less CPU per cold image.

On these machines the host's speed drifts within a minute and one fresh server of each
binary can differ by ±5 % for reasons of its own, so a difference of a few percent between
two `make bench` runs means nothing. Here both binaries run at once, each as SERVERS servers
(default 3) against one docker-registry, and cold images (the cost section's mix: a third
cosign-signed with two signatures, a third unsigned, a third tampered; tag keys) are sent to
the servers in turn, three keys at a time, so that every server sees the same moments of the
host. Each server's CPU is read around each of its requests.

Prints each server's CPU per image and signed cold p50, each binary's totals, B/A, and in how
many of the A/B server pairs B spent less. Exits 1 on a wrong verdict.

usage: bench_ab.py A B   (env SERVERS=3, IMAGES=300 per server)
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from testkit import start_registry, stop  # noqa: E402


def main():
    if len(sys.argv) != 3 or not all(os.access(b, os.X_OK) for b in sys.argv[1:]):
        sys.exit("usage: bench_ab.py A B   (two ratify binaries, e.g. a copy of the last release build and .build/release/ratify)")
    binaries = sys.argv[1:]
    per_binary = int(os.environ.get("SERVERS", "3"))
    per_server = int(os.environ.get("IMAGES", "300")) // 3 * 3
    count = 2 * per_binary * (per_server + 3)
    work = tempfile.mkdtemp(prefix="ratify-bench-ab-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bench.ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    registry, port = start_registry(work)
    servers = []
    try:
        print(f"bench-ab: seeding {count} images (cosign mix) ...", flush=True)
        keys, config, expected, _ = bench.seed_cosign_mix(work, port, "ab/app", count)
        for index in range(2 * per_binary):
            bench.BIN = binaries[index % 2]
            process, http_port, _ = bench.start_server(work, certs, ["-c", config])
            servers.append({"binary": index % 2, "process": process, "post": bench.verify_poster(http_port, expect=expected),
                            "cpu": 0.0, "images": 0, "signed": []})
        queue = iter(keys)
        for server in servers:  # connection, TLS session and first-use costs outside the measurement
            for _ in range(3):
                server["post"]([next(queue)])
        remaining = list(queue)
        for turn in range(len(remaining) // 3):
            server = servers[turn % len(servers)]
            for key in remaining[turn * 3:turn * 3 + 3]:
                before = bench.cpu_ns_ms(server["process"].pid)
                elapsed = server["post"]([key])
                server["cpu"] += bench.cpu_ns_ms(server["process"].pid) - before
                server["images"] += 1
                if expected[key]:
                    server["signed"].append(elapsed)
    finally:
        for server in servers:
            stop(server["process"])
        stop(registry)

    names = ["A", "B"]
    print(f"A = {binaries[0]}\nB = {binaries[1]}")
    print(f"{'server':>8} {'images':>7} {'CPU ms/image':>13} {'signed cold p50 ms':>19}")
    for index, server in enumerate(servers):
        print(f"{names[server['binary']] + str(index // 2):>8} {server['images']:>7} {server['cpu'] / server['images']:>13.3f}"
              f" {bench.percentile(server['signed'], 50):>19.2f}")
    totals = []
    for binary in (0, 1):
        mine = [s for s in servers if s["binary"] == binary]
        cpu = sum(s["cpu"] for s in mine) / sum(s["images"] for s in mine)
        p50 = bench.percentile([t for s in mine for t in s["signed"]], 50)
        totals.append((cpu, p50))
        print(f"{names[binary]:>8} {sum(s['images'] for s in mine):>7} {cpu:>13.3f} {p50:>19.2f}")
    pairs = list(zip(servers[0::2], servers[1::2]))
    wins = sum(1 for a, b in pairs if b["cpu"] / b["images"] < a["cpu"] / a["images"])
    print(f"B/A: CPU per cold image {totals[1][0] / totals[0][0]:.3f}, signed cold p50 {totals[1][1] / totals[0][1]:.3f};"
          f" B spent less CPU in {wins} of {len(pairs)} server pairs")


if __name__ == "__main__":
    main()
