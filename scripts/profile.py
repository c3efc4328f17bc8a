#!/usr/bin/env python3
"""`make profile`: where ratify's CPU goes in cold verification.

Seeds docker-registry with N images (a mix: cosign-signed with two signatures, unsigned, and
tampered), starts the release `ratify serve`, and samples it with `perf record -e cpu-clock`
(software clock: works where hardware counters are not exposed) while one cold ProviderRequest
per image is sent, as Gatekeeper does for one-container pods. Prints CPU ms per image and the
top symbols by self time. (valgrind 3.19 cannot read Swift 6's DWARF 5 and crashes on the
stripped binary, so callgrind is not used.)

usage: profile.py [N]   (default 600; env RATIFY_BIN)
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from testkit import start_registry, stop  # noqa: E402


def main():
    import shutil
    if not shutil.which("perf"):
        sys.exit("profile: perf is not installed (Debian: apt-get install linux-perf)")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    work = tempfile.mkdtemp(prefix="ratify-profile-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bench.ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    registry, port = start_registry(work)
    data = os.path.join(work, "perf.data")
    try:
        keys, config, expected, _ = bench.seed_cosign_mix(work, port, "profile/app", count)
        server, http_port, _ = bench.start_server(work, certs, ["-c", config])
        try:
            post = bench.verify_poster(http_port, expect=expected)
            post([keys[0]])
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "4000", "-g", "-o", data, "-p", str(server.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            cpu0 = bench.cpu_ms(server.pid)
            for key in keys[1:]:
                post([key])
            cpu = (bench.cpu_ms(server.pid) - cpu0) / (len(keys) - 1)
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        finally:
            stop(server)
    finally:
        stop(registry)
    print(f"ratify CPU per cold image: {cpu:.3f} ms over {len(keys) - 1} images (1/3 signed, 1/3 unsigned, 1/3 tampered)")
    by_dso = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso", "--stdio", "-g", "none",
                             "--percent-limit", "1"], capture_output=True, text=True).stdout
    print("by library:")
    for line in by_dso.splitlines():
        if line.strip() and not line.startswith("#"):
            print(line[:120])
    if os.environ.get("PROFILE_KEEP"):
        print(f"perf data kept: {data}")
    print("by symbol:")
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio", "-g", "none",
                             "--percent-limit", "0.7"], capture_output=True, text=True).stdout
    for line in report.splitlines():
        if line.strip() and not line.startswith("#"):
            print(line[:180])


if __name__ == "__main__":
    main()
