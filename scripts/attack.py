#!/usr/bin/env python3
"""`make attack`: the attack campaign of issue #16, kept in the repo and re-run against the
release `ratify serve` on loopback. Each attack prints what it measured and whether the server
held: no wrong verdict, an answer within the request deadline, health answered meanwhile, and
memory that comes back. Exits non-zero when one did not hold.

  json        a ProviderRequest holding a 100k-member object (1.1 MB), and 20k members
  registry    a hostile registry listing 25,000 referrers, 3 at a time, 3 rounds (RSS must settle)
  idle        4,000 idle TLS connections from 5 loopback addresses, then Gatekeeper's request
  chunks      bodies in 1-byte chunks, and chunks stuffed with extensions
  handshakes  3,000 half-open TLS handshakes, twice (RSS after vs before)
  slowloris   300 connections sending a header byte a second, then a normal request
  config      hot reloads of invalid documents (refused, the old config keeps serving)

usage: attack.py [name ...]   (default: all; env RATIFY_BIN)
"""
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from testkit import free_port, stop, wait_for_port  # noqa: E402

RESULTS = []


def record(name, ok, detail):
    RESULTS.append((name, ok, detail))
    print(f"{'held' if ok else 'FAIL':>4}  {name}: {detail}", flush=True)


def rss(pid):
    return bench.status_kb(pid, "VmRSS") / 1024


def health_ms(port):
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ok = s.recv(64).startswith(b"HTTP/1.1 200")
    return (time.perf_counter() - t0) * 1000 if ok else float("inf")


class Server:
    def __init__(self, work, certs, extra=(), config=None):
        self.http, self.health = free_port(), free_port()
        args = [bench.BIN, "serve", "--http", f"127.0.0.1:{self.http}", "--health-port", f"127.0.0.1:{self.health}",
                "--metrics-port", "off", "--cert-dir", certs, "--log-level", "error", *extra]
        if config:
            args += ["-c", config, "--config-watch-interval", "0.2"]
        self.log = open(os.path.join(work, f"server-{self.http}.log"), "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        wait_for_port(self.health)

    def post(self, body, timeout=30):
        connection = http.client.HTTPSConnection("127.0.0.1", self.http, context=ssl._create_unverified_context(), timeout=timeout)
        t0 = time.perf_counter()
        connection.request("POST", "/ratify/gatekeeper/v1/verify", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return response.status, data, (time.perf_counter() - t0) * 1000

    def stop(self):
        stop(self.process)


def provider_request(keys, extra=""):
    return '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":' + json.dumps(keys) + extra + "}}"


def attack_json(work, certs):
    server = Server(work, certs)
    try:
        for members in (100_000, 20_000):
            extra = "," + ",".join(f'"k{i}":0' for i in range(members))
            probes = []
            done = threading.Event()

            def probe():
                while not done.is_set():
                    probes.append(health_ms(server.health))
                    time.sleep(0.05)
            t = threading.Thread(target=probe)
            t.start()
            status, body, ms = server.post(provider_request(["x"], extra))
            done.set()
            t.join()
            record(f"json {members:,}-member object", ms < 2900 and status in (200, 400) and max(probes or [0]) < 1000,
                   f"HTTP {status} in {ms:.0f} ms ({body[:80]!r}), /healthz worst {max(probes or [0]):.1f} ms")
    finally:
        server.stop()


class HostileRegistry(http.server.ThreadingHTTPServer):
    """Answers every image with one digest, and its referrers API with `count` descriptors."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the server under attack hangs up on a listing it refuses: expected, not news

    def __init__(self, count):
        digest = "sha256:" + "a" * 64
        entries = [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:%064x" % i, "size": 100,
                    "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json"} for i in range(count)]
        self.index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
        self.digest = digest

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Docker-Content-Digest", digest)
                self.send_header("Content-Length", "100")
                self.end_headers()

            def do_GET(self):
                if "/referrers/" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/vnd.oci.image.index.v1+json")
                    self.send_header("Content-Length", str(len(outer.index)))
                    self.end_headers()
                    self.wfile.write(outer.index)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
        outer = self
        super().__init__(("127.0.0.1", 0), Handler)


def start_hostile_registry(work, count=25_000):
    """A HostileRegistry serving in the background, and a config (cosign, a real key that signed
    nothing) that verifies its images through it: (registry, port, config path)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    registry = HostileRegistry(count)
    threading.Thread(target=registry.serve_forever, daemon=True).start()
    key = os.path.join(work, "hostile.pub")
    with open(key, "wb") as f:
        f.write(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    config = os.path.join(work, "hostile.json")
    with open(config, "w") as f:
        json.dump({"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": True, "cosignEnabled": True}]},
                   "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy"}},
                   "verifier": {"version": "1.0.0", "plugins": [{"name": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
                                                               "trustPolicies": [{"name": "t", "version": "1.0.0", "scopes": ["*"],
                                                                                  "keys": [{"file": key}], "tLogVerify": False}]}]}}, f)
    return registry, registry.server_address[1], config


def attack_registry(work, certs):
    registry, port, config = start_hostile_registry(work)
    server = Server(work, certs, config=config)
    try:
        settled = []
        for round_ in range(3):
            answers = []

            def one(i):
                answers.append(server.post(provider_request([f"127.0.0.1:{port}/hostile/app{round_}-{i}:v1"])))
            threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
            cpu0 = bench.cpu_ns_ms(server.process.pid)
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(1.5)
            cpu = bench.cpu_ns_ms(server.process.pid) - cpu0
            settled.append(rss(server.process.pid))
            wrong = [a for a in answers if a[0] != 200 or b'"isSuccess":true' in a[1]]
            record(f"registry round {round_ + 1}: 3 images with 25,000 referrers each",
                   not wrong and max(a[2] for a in answers) < 2900 and cpu < 3000,
                   f"answers in {', '.join('%.0f' % a[2] for a in answers)} ms, {cpu:.0f} ms CPU, RSS settled {settled[-1]:.1f} MiB, "
                   f"reason: {answers[0][1].split(b'errorReason')[1][:40] if b'errorReason' in answers[0][1] else answers[0][1][:120]!r}")
        record("registry: RSS does not climb round to round", settled[-1] - settled[0] < 20, f"{' -> '.join('%.1f' % r for r in settled)} MiB")
    finally:
        server.stop()
        registry.shutdown()


def open_tls(port, source, handshake=True):
    raw = socket.socket()
    raw.bind((source, 0))
    raw.connect(("127.0.0.1", port))
    if not handshake:
        raw.setblocking(False)
        tls = ssl._create_unverified_context().wrap_socket(raw, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        return tls
    return ssl._create_unverified_context().wrap_socket(raw)


def attack_idle(work, certs):
    server = Server(work, certs)
    try:
        held = []
        for i in range(4000):
            try:
                held.append(open_tls(server.http, f"127.0.0.{2 + i // 800}"))
            except OSError:
                break
        status, body, ms = server.post(provider_request(["registry.example.com/Team/app:1"]))
        ready = health_ms(server.health)
        record(f"idle: {len(held)} idle TLS connections, then Gatekeeper's request", status == 200 and ready < 1000,
               f"HTTP {status} in {ms:.0f} ms, /healthz {ready:.1f} ms")
        for s in held:
            s.close()
    finally:
        server.stop()


def attack_chunks(work, certs):
    server = Server(work, certs)
    try:
        for name, chunk, count in (("1-byte chunks", b"1\r\na\r\n", 20_000), ("chunks with 1,000-byte extensions", b"1;" + b"x" * 1000 + b"\r\na\r\n", 5_000)):
            tls = open_tls(server.http, "127.0.0.1")
            tls.settimeout(30)
            t0 = time.perf_counter()
            cpu0 = bench.cpu_ns_ms(server.process.pid)
            tls.sendall(b"POST /ratify/gatekeeper/v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                for _ in range(count):
                    tls.sendall(chunk)
            except OSError:
                pass
            try:
                answer = tls.recv(64)
            except OSError:
                answer = b""
            ms = (time.perf_counter() - t0) * 1000
            cpu = bench.cpu_ns_ms(server.process.pid) - cpu0
            record(f"chunks: {name}", answer.startswith(b"HTTP/1.1 413") and cpu < 2000,
                   f"{answer[:12]!r} after {ms:.0f} ms, server CPU {cpu:.0f} ms")
            tls.close()
    finally:
        server.stop()


def attack_handshakes(work, certs):
    server = Server(work, certs)
    try:
        time.sleep(0.5)
        baseline = rss(server.process.pid)
        for round_ in range(2):
            held = [open_tls(server.http, f"127.0.0.{2 + i // 1000}", handshake=False) for i in range(3000)]
            time.sleep(1)
            peak = rss(server.process.pid)
            for s in held:
                s.close()
            time.sleep(2)
            after = rss(server.process.pid)
            record(f"handshakes: 3,000 half-open, round {round_ + 1}", after < baseline + 30,
                   f"RSS {baseline:.1f} -> {peak:.1f} -> {after:.1f} MiB")
    finally:
        server.stop()


def attack_slowloris(work, certs):
    server = Server(work, certs)
    try:
        held = [open_tls(server.http, f"127.0.0.{2 + i // 100}") for i in range(300)]
        for s in held:
            s.sendall(b"POST /ratify/gatekeeper/v1/verify HTTP/1.1\r\n")
        for _ in range(3):
            time.sleep(1)
            for s in held:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
        status, _, ms = server.post(provider_request(["registry.example.com/Team/app:1"]))
        record("slowloris: 300 connections trickling a header", status == 200, f"a normal request meanwhile: HTTP {status} in {ms:.0f} ms")
        for s in held:
            s.close()
    finally:
        server.stop()


def attack_config(work, certs):
    config = os.path.join(work, "reload.json")
    with open(config, "w") as f:
        f.write('{"executor":{"verificationRequestTimeout":2900}}')
    server = Server(work, certs, config=config)
    try:
        for bad in ('{"store":[]}', '{"store":{"plugins":[]}}', '{"verifier":"x"}', '', '{"a":1,"a":2}'):
            with open(config, "w") as f:
                f.write(bad)
            time.sleep(0.6)
            status, _, _ = server.post(provider_request(["registry.example.com/Team/app:1"]))
            record(f"config: reload of {bad or '(empty)'!s}", status == 200 and server.process.poll() is None, f"still serving: HTTP {status}")
    finally:
        server.stop()


ATTACKS = {"json": attack_json, "registry": attack_registry, "idle": attack_idle, "chunks": attack_chunks,
           "handshakes": attack_handshakes, "slowloris": attack_slowloris, "config": attack_config}


def main():
    if not os.path.exists(bench.BIN):
        sys.exit(f"attack: {bench.BIN} not found; run `make attack` (it builds the release binary)")
    work = tempfile.mkdtemp(prefix="ratify-attack-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(bench.ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    for name in sys.argv[1:] or list(ATTACKS):
        ATTACKS[name](work, certs)
    failed = [r for r in RESULTS if not r[1]]
    print(f"attack: {len(RESULTS) - len(failed)} held, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
