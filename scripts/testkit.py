"""Shared helpers for the Python test and benchmark scripts: loopback ports, Debian's
docker-registry started for a run, and a pass/fail counter that prints the closing line
"N passed, N failed"."""
import os
import socket
import subprocess
import sys
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for_port(port, attempts=200):
    for _ in range(attempts):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def start_registry(work, port=None, root=None):
    """docker-registry (distribution 2.8) on loopback: on `port` (default a free one), storage in
    `root` (default under `work`, which may already hold content laid out there)."""
    port = port or free_port()
    root = root or f"{work}/registry-{port}"
    config = os.path.join(work, f"registry-{port}.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {root}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port


def stop(*processes):
    """Terminates and reaps each process (servers a script started)."""
    for process in processes:
        process.terminate()
        process.wait(timeout=20)


class Checks:
    def __init__(self, label):
        self.label, self.passed, self.failed = label, 0, 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")

    def finish(self):
        print(f"{self.label}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
