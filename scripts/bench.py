#!/usr/bin/env python3
"""`make bench`: load the real `ratify serve` binary over HTTPS with keep-alive and print tables.

Part 1, the server: wrk POSTs a ProviderRequest whose key is refused before any registry work
(an invalid reference), so the numbers measure TLS, HTTP parsing, JSON decode/encode and the
dispatch to the executor and back.

Part 2, verification against Debian's docker-registry on loopback: every image carries two
cosign signatures (ECDSA P-256, made here with Python's `cryptography`), verified by the built-in
cosign verifier with a key trust policy. Cold and warm latency for one image per request and for
100 images x 2 signatures in one request, with registry requests per verification read from the
server's own ratify_registry_request_count.

The cost section: ratify's CPU per cold image next to one openssl P-256 verify, and what that
CPU is made of, measured in the same run: a plain C client on libcurl (scripts/bench_floor.c,
compiled here) making the same registry requests, the HTTPS request itself (the same keys
answered from cache), the signature checks, and the rest, which is ratify's own work.

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

from testkit import free_port, start_registry, stop, wait_for_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("RATIFY_BIN", os.path.join(ROOT, ".build", "release", "ratify"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,16,256").split(",")]
KEYS = ["registry.example.com/Team/app:1.0.0"]  # uppercase: refused by the reference parser


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


def start_server(work, certs, extra):
    http, health, metrics = free_port(), free_port(), free_port()
    log = open(os.path.join(work, f"server-{http}.log"), "w")
    server = subprocess.Popen([BIN, "serve", "--http", f"127.0.0.1:{http}", "--health-port", f"127.0.0.1:{health}",
                               "--metrics-port", f"127.0.0.1:{metrics}", "--cert-dir", certs, "--log-level", "warning"] + extra,
                              stdout=log, stderr=log)
    wait_for_port(health)
    return server, http, metrics


def registry_requests(metrics_port):
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("ratify_registry_request_count{"))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def print_rows(rows):
    """The verification table: (request, latencies in ms, registry requests per verification)."""
    print(f"{'request':>28} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'registry req/verification':>26}")
    for name, values, per in rows:
        print(f"{name:>28} {len(values):>5} {percentile(values, 50):>8.2f} {percentile(values, 99):>8.2f} {per:>26.2f}")


def cpu_ns_ms(pid):
    """CPU time of a process so far in milliseconds with nanosecond resolution: the sum of its
    threads' /proc/<pid>/task/*/schedstat (clock ticks are 10 ms, too coarse per image)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e6


def cpu_ms(pid):
    """User + system CPU time of a process so far, in milliseconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class KeepAliveClient:
    """HTTP/1.1 over one keep-alive connection (TLS or not), each request sent in one write as
    Gatekeeper's Go client does (Python's http.client sends the head and the body in two, which
    costs the server a second wake-up and TLS record Gatekeeper never causes). Responses are
    read by Content-Length. Used for both sides of a ratio: ratify's answers and the registry's."""

    def __init__(self, port, tls=False):
        import ssl
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.sock = ssl._create_unverified_context().wrap_socket(self.sock)
        self.host = f"127.0.0.1:{port}"
        self.buffer = b""

    def request(self, method, path, body=b"", headers=()):
        self.send(method, path, body, headers)
        return self.receive(method)

    def send(self, method, path, body=b"", headers=()):
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"] + [f"{k}: {v}" for k, v in headers]
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def receive(self, method):
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        raw, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if method == "HEAD":
            length = 0
        while len(self.buffer) < length:
            self.buffer += self._recv()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, payload

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        return data


def verify_poster(http_port, expect=True):
    """post(keys) -> milliseconds for one ProviderRequest over one HTTPS keep-alive connection.
    expect=True: exits when any key fails to verify (a benchmark of failures measures nothing);
    expect=None: any verdict will do; a dict key -> verdict: exits on a wrong one."""
    import json
    connection = KeepAliveClient(http_port, tls=True)

    def post(batch):
        body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": batch}}).encode()
        t0 = time.perf_counter()
        _, payload = connection.request("POST", "/ratify/gatekeeper/v1/verify", body, [("Content-Type", "application/json")])
        answer = json.loads(payload)
        elapsed = (time.perf_counter() - t0) * 1000
        items = answer["response"].get("items", [])
        if len(items) != len(batch):
            sys.exit(f"bench: verification request failed: {json.dumps(answer)[:400]}")
        if expect is True and any("error" in item or not item["value"]["isSuccess"] for item in items):
            sys.exit(f"bench: verification request failed: {json.dumps(answer)[:400]}")
        if isinstance(expect, dict) and any(item.get("value", {}).get("isSuccess") is not expect[item["key"]] for item in items):
            sys.exit(f"bench: wrong verdict: {json.dumps(answer)[:400]}")
        return elapsed
    return post


def cosign_config(work, port, public_key, repo):
    """config.json for the cosign sections: the oras store over plain HTTP with cosign tags, an
    `all` rule for cosign signatures, one trusted key, no transparency log."""
    config = os.path.join(work, f"cosign-{repo.replace('/', '-')}.json")
    import json
    with open(config, "w") as f:
        json.dump({"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": True, "cosignEnabled": True}]},
                   "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy",
                              "artifactVerificationPolicies": {"application/vnd.dev.cosign.artifact.sig.v1+json": "all"}}},
                   "verifier": {"version": "1.0.0", "plugins": [{
                       "name": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
                       "trustPolicies": [{"name": "bench", "version": "1.0.0", "scopes": ["*"],
                                          "keys": [{"file": public_key}], "tLogVerify": False}]}]}}, f)
    return config


def seed_cosign_mix(work, port, repo, count):
    """`count` images in `repo`: a third cosign-signed (two signatures, the second key trusted), a
    third unsigned, a third tampered (the signature covers other bytes). Returns (tag keys,
    config, {key: expected verdict}, {tag key: digest key})."""
    import base64
    import json
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import oci_push
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    signing_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    public = os.path.join(work, f"mix-{port}.pub")
    with open(public, "wb") as f:
        f.write(signing_keys[1].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    base = f"http://127.0.0.1:{port}"
    keys, expected, pinned = [], {}, {}
    for i in range(count):
        image = oci_push.image(base, repo, f"v{i}")
        key = f"127.0.0.1:{port}/{repo}:v{i}"
        kind = ("signed", "unsigned", "tampered")[i % 3]
        if kind != "unsigned":
            payload = json.dumps({"critical": {"identity": {"docker-reference": f"127.0.0.1:{port}/{repo}"},
                                               "image": {"docker-manifest-digest": image["digest"]},
                                               "type": "cosign container image signature"}, "optional": None},
                                 separators=(",", ":")).encode()
            signed = payload if kind == "signed" else payload.replace(b"cosign container", b"forged container")
            signatures = [base64.b64encode(k.sign(signed, ec.ECDSA(hashes.SHA256()))).decode() for k in signing_keys]
            oci_push.cosign_signatures(base, repo, image["digest"], payload, signatures)
        keys.append(key)
        expected[key] = kind == "signed"
        pinned[key] = f"127.0.0.1:{port}/{repo}@{image['digest']}"
        expected[pinned[key]] = kind == "signed"
    return keys, cosign_config(work, port, public, repo), expected, pinned


def registry_timer(port, path, method="GET"):
    """timer() -> milliseconds of one registry request over one keep-alive connection, timed with
    the client the verify requests use: the registry's own answer time."""
    connection = KeepAliveClient(port)

    def timer():
        t0 = time.perf_counter()
        status, _ = connection.request(method, path, headers=[("Accept", "application/vnd.oci.image.manifest.v1+json")])
        elapsed = (time.perf_counter() - t0) * 1000
        if status != 200:
            sys.exit(f"bench: the registry answered {method} {path} with {status}")
        return elapsed
    return timer


def registry_pattern_timer(port, head_path, together):
    """timer() -> milliseconds of what a cold tag key asks of the registry: a HEAD, then the
    `together` paths at once (the tag schema and cosign's .sig tag), each on its own connection
    as curl sends them. The floor a cold verification cannot go below."""
    accept = [("Accept", "application/vnd.oci.image.manifest.v1+json")]
    head, others = KeepAliveClient(port), [KeepAliveClient(port) for _ in together]

    def timer():
        t0 = time.perf_counter()
        head.request("HEAD", head_path, headers=accept)
        for client, path in zip(others, together):
            client.send("GET", path, headers=accept)
        for client in others:
            client.receive("GET")
        return (time.perf_counter() - t0) * 1000
    return timer


def registry_p50(port, path, n=300, method="GET"):
    """p50 of `n` registry requests (see registry_timer)."""
    timer = registry_timer(port, path, method)
    return percentile([timer() for _ in range(n)], 50)


def openssl_p256_verify_ms():
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "ecdsap256"], capture_output=True, text=True).stdout
    per_second = float(re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+\S+\s+([\d.]+)", out).group(1))
    return 1000 / per_second


def c_client_floor(work, port, repo, first, count):
    """CPU ms per image of scripts/bench_floor.c (a plain C libcurl client making a cold tag
    key's registry requests), or None when no C compiler is at hand."""
    import shutil
    compiler = next((c for c in ("cc", "clang", "gcc") if shutil.which(c)), None)
    if compiler is None:
        print("bench: no C compiler; the C client floor is not measured", file=sys.stderr)
        return None
    binary = os.path.join(work, "bench_floor")
    subprocess.run([compiler, "-O2", "-o", binary, os.path.join(ROOT, "scripts", "bench_floor.c"), "-lcurl"], check=True)
    out = subprocess.run([binary, str(port), repo, str(first), str(count)], capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def cost_bench(work, certs):
    """The issue's ratios, measured in one run: ratify's CPU per cold image (mix of signed,
    unsigned, tampered) next to one P-256 verify; cold 1-image p50 next to the registry's own
    request p50; registry requests per image for tag and digest-pinned keys."""
    registry, port = start_registry(work)
    try:
        # 300 tag keys cold, 147 digest keys, and 150 images for the C floor client.
        keys, config, expected, pinned = seed_cosign_mix(work, port, "cost/app", 600)
        verify_before = openssl_p256_verify_ms()
        server, http_port, metrics_port = start_server(work, certs, ["-c", config])
        try:
            post = verify_poster(http_port, expect=expected)
            post([keys[0]])  # connection, TLS session and first-use costs outside the measurement
            measured = keys[3:303]
            # The registry's own GET is timed alongside each cold request (one before each), so
            # that both see the same machine: these hosts' speed drifts within a minute.
            # The floor of a cold tag key is timed alongside too: two dependent requests (resolve;
            # the .sig manifest, with the referrers tag alongside), as the registry answers them.
            # (The payload blob, the third and slowest, is not fetched when it is cosign's default
            # payload: see SimpleSigning.)
            import json
            sys.path.insert(0, os.path.join(ROOT, "scripts"))
            import oci_push
            digest0 = pinned[keys[0]].split("@")[1]
            sig_tag = digest0.replace(":", "-") + ".sig"
            registry_get = registry_timer(port, "/v2/cost/app/manifests/v1")
            registry_head = registry_timer(port, "/v2/cost/app/manifests/v0", method="HEAD")
            registry_sig = registry_timer(port, f"/v2/cost/app/manifests/{sig_tag}")
            pattern = registry_pattern_timer(port, "/v2/cost/app/manifests/v0",
                                             [f"/v2/cost/app/manifests/{digest0.replace(':', '-')}", f"/v2/cost/app/manifests/{sig_tag}"])
            cpu0, req0 = cpu_ns_ms(server.pid), registry_requests(metrics_port)
            cold, registry_times, floors, patterns = [], [], [], []
            for k in measured:
                if expected[k]:
                    registry_times.append(registry_get())
                    floors.append(registry_head() + registry_sig())
                    patterns.append(pattern())
                cold.append(post([k]))
            cpu_per_image = (cpu_ns_ms(server.pid) - cpu0) / len(measured)
            # openssl's verify before and after the cold run: the host's speed drifts.
            verify_ms = (verify_before + openssl_p256_verify_ms()) / 2
            tag_requests = (registry_requests(metrics_port) - req0) / len(measured)
            signed_cold = [t for k, t in zip(measured, cold) if expected[k]]
            reg_p50, floor, pattern_p50 = percentile(registry_times, 50), percentile(floors, 50), percentile(patterns, 50)
            # The same keys again, answered from the verdict cache: the HTTPS round trip itself.
            cpu0 = cpu_ns_ms(server.pid)
            signed_warm = [post([k]) for k in measured if expected[k]]
            warm_cpu = (cpu_ns_ms(server.pid) - cpu0) / len(signed_warm)
            floor_cpu = c_client_floor(work, port, "cost/app", 450, 150)
            digest_keys = [pinned[k] for k in keys[303:450]]
            req0 = registry_requests(metrics_port)
            for k in digest_keys:
                post([k])
            digest_requests = (registry_requests(metrics_port) - req0) / len(digest_keys)
            payload = json.loads(oci_push.get_manifest(f"http://127.0.0.1:{port}", "cost/app", sig_tag))["layers"][0]["digest"]
            blob_p50 = registry_p50(port, f"/v2/cost/app/blobs/{payload}")
        finally:
            stop(server)
    finally:
        stop(registry)
    cold_p50 = percentile(signed_cold, 50)
    print()
    print("cost of a cold verification (cosign, 300 tag keys: 1/3 signed with 2 signatures, 1/3 unsigned, 1/3 tampered; fresh server)")
    print(f"{'measure':>44} {'value':>10} {'reference':>24} {'ratio':>7} {'target':>7}")
    print(f"{'ratify CPU per cold image (ms)':>44} {cpu_per_image:>10.3f} {'P-256 verify %.4f ms' % verify_ms:>24} {cpu_per_image / verify_ms:>7.1f} {'<= 15':>7}")
    print(f"{'cold 1-image p50, signed (ms)':>44} {cold_p50:>10.2f} {'registry GET p50 %.2f ms' % reg_p50:>24} {cold_p50 / reg_p50:>7.2f} {'<= 3.5':>7}")
    print(f"{'  the same, against its 2 dependent requests':>44} {cold_p50:>10.2f} {'HEAD+GET .sig %.2f ms' % floor:>24} {cold_p50 / floor:>7.2f} {'':>7}")
    print(f"{'  (a blob GET, not on that path, p50 ms)':>44} {blob_p50:>10.2f}")
    warm_p50 = percentile(signed_warm, 50)
    print(f"{'  warm p50 of the same keys (HTTPS round trip)':>44} {warm_p50:>10.2f}")
    print(f"{'  the registry pattern of a cold tag key (ms)':>44} {pattern_p50:>10.2f} {'HEAD, then 2 GETs at once':>24}")
    # The registry alone needs that pattern (two dependent rounds): the ratio to it is what a
    # verifier can still change; the ratio to one GET has the registry's pattern as its floor.
    print(f"{'  cold 1-image p50 against that pattern':>44} {cold_p50:>10.2f} {'pattern p50 %.2f ms' % pattern_p50:>24} {cold_p50 / pattern_p50:>7.2f}")
    print(f"{'  cold - warm - that pattern (ours, ms)':>44} {cold_p50 - warm_p50 - pattern_p50:>10.2f}")
    if floor_cpu is not None:
        # What the CPU per cold image is made of: the parts any implementation pays, and ours.
        verifies = 4 / 3  # per image of the mix: 2 for signed, 2 for tampered, 0 for unsigned
        print(f"{'  of which: a C libcurl client, same requests':>44} {floor_cpu:>10.3f} {'%.1f x P-256' % (floor_cpu / verify_ms):>24}")
        print(f"{'            the HTTPS request itself (warm)':>44} {warm_cpu:>10.3f} {'%.1f x P-256' % (warm_cpu / verify_ms):>24}")
        print(f"{'            the signature checks (4/3 per image)':>44} {verifies * verify_ms:>10.3f} {'%.1f x P-256' % verifies:>24}")
        rest = cpu_per_image - floor_cpu - warm_cpu - verifies * verify_ms
        print(f"{'            the rest: ours':>44} {rest:>10.3f} {'%.1f x P-256' % (rest / verify_ms):>24}")
    print(f"{'registry requests per image, tag keys':>44} {tag_requests:>10.2f} {'':>24} {'':>7} {'<= 4':>7}")
    print(f"{'registry requests per image, digest keys':>44} {digest_requests:>10.2f} {'':>24} {'':>7} {'<= 3':>7}")


def verification_bench(work, certs):
    import http.client
    import json
    import ssl
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import oci_push

    registry, port = start_registry(work)
    try:
        import base64
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        signing_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
        public_keys = []
        for n, key in enumerate(signing_keys):
            path = os.path.join(work, f"cosign-{n}.pub")
            with open(path, "wb") as f:
                f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
            public_keys.append(path)
        base = f"http://127.0.0.1:{port}"
        started = time.time()
        keys = []
        for i in range(150):
            image = oci_push.image(base, "bench/app", f"v{i}")
            payload = json.dumps({"critical": {"identity": {"docker-reference": f"127.0.0.1:{port}/bench/app"},
                                               "image": {"docker-manifest-digest": image["digest"]},
                                               "type": "cosign container image signature"}, "optional": None},
                                 separators=(",", ":")).encode()
            signatures = [base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode() for key in signing_keys]
            oci_push.cosign_signatures(base, "bench/app", image["digest"], payload, signatures)
            keys.append(f"127.0.0.1:{port}/bench/app:v{i}")
        push_seconds = time.time() - started
        config = cosign_config(work, port, public_keys[1], "bench/app")
        server, http_port, metrics_port = start_server(work, certs, ["-c", config])
        try:
            post = verify_poster(http_port)

            rows = []
            single = keys[:50]
            before = registry_requests(metrics_port)
            cold = [post([k]) for k in single]
            after = registry_requests(metrics_port)
            rows.append(("1 image, cold", cold, (after - before) / len(single)))
            warm = [post([k]) for k in single for _ in range(4)]
            rows.append(("1 image, warm", warm, (registry_requests(metrics_port) - after) / len(warm)))
            batch = keys[50:150]
            before = registry_requests(metrics_port)
            cpu_before = (cpu_ms(server.pid), cpu_ms(registry.pid))
            cold_batch = [post(batch)]
            cpu_split = (cpu_ms(server.pid) - cpu_before[0], cpu_ms(registry.pid) - cpu_before[1])
            after = registry_requests(metrics_port)
            rows.append(("100 images x 2 sigs, cold", cold_batch, (after - before) / len(batch)))
            warm_batch = [post(batch) for _ in range(20)]
            rows.append(("100 images x 2 sigs, warm", warm_batch, (registry_requests(metrics_port) - after) / (20 * len(batch))))
            # Warm verification under load: wrk at 16 connections asking for one verified image.
            script = os.path.join(work, "verify.lua")
            body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
                               "request": {"keys": [keys[0]]}})
            with open(script, "w") as f:
                f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n' f"wrk.body = '{body}'\n")
            warm_load = run_wrk(f"https://127.0.0.1:{http_port}/ratify/gatekeeper/v1/verify", script, 16, SECONDS)
            peak = status_kb(server.pid, "VmHWM")
        finally:
            stop(server)
    finally:
        stop(registry)
    print()
    print(f"cosign verification (ECDSA P-256, 2 signatures per image, the second key trusted) against docker-registry "
          f"on loopback ({push_seconds:.1f}s to push 150 images)")
    print_rows(rows)
    print(f"CPU during the cold 100-image request: ratify {cpu_split[0]:.0f} ms, docker-registry {cpu_split[1]:.0f} ms "
          f"(2 cores: the registry's share bounds the wall time)")
    print(f"warm verification under wrk, 16 connections: {warm_load['rps']:.0f} req/s, p50 {warm_load['p50']:.3f} ms, "
          f"p99 {warm_load['p99']:.3f} ms, {warm_load['errors']} errors")
    print(f"peak RSS (VmHWM) {peak / 1024:.1f} MiB")
    if warm_load["errors"]:
        sys.exit("bench: warm verification requests failed")


def notation_bench(work, certs):
    """Notation (JWS, ES256 leaf → intermediate → root, strict policy) against docker-registry:
    signatures attached through the referrers tag schema, envelopes made by the fixture generator."""
    import http.client
    import json
    import ssl
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import oci_push

    registry, port = start_registry(work)
    try:
        base = f"http://127.0.0.1:{port}"
        images = [oci_push.image(base, "bench/notation", f"v{i}") for i in range(100)]
        subjects = os.path.join(work, "subjects.json")
        with open(subjects, "w") as f:
            json.dump([{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": i["digest"], "size": i["size"]} for i in images], f)
        fixtures = os.path.join(work, "notation")
        subprocess.run([sys.executable, os.path.join(ROOT, "Tests", "Support", "Fixtures", "make_notation_fixtures.py"), fixtures,
                        "application/vnd.oci.image.manifest.v1+json", images[0]["digest"], str(images[0]["size"]), "--basic",
                        "--subjects", subjects], check=True)
        for index, image in enumerate(images):
            with open(os.path.join(fixtures, f"subject-{index}.jws"), "rb") as f:
                oci_push.attach(base, "bench/notation", image["digest"], "application/vnd.cncf.notary.signature", f.read(),
                                layer_media_type="application/jose+json")
        keys = [f"127.0.0.1:{port}/bench/notation:v{i}" for i in range(100)]
        config = os.path.join(work, "notation.json")
        with open(config, "w") as f:
            json.dump({"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": True}]},
                       "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy"}},
                       "verifier": {"version": "1.0.0", "plugins": [{
                           "name": "notation", "artifactTypes": "application/vnd.cncf.notary.signature",
                           "verificationCerts": [os.path.join(fixtures, "truststore")],
                           "trustPolicyDoc": {"version": "1.0", "trustPolicies": [{
                               "name": "bench", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
                               "trustStores": ["ca:wabbit"], "trustedIdentities": ["*"]}]}}]}}, f)
        server, http_port, metrics_port = start_server(work, certs, ["-c", config])
        try:
            post = verify_poster(http_port)

            rows = []
            before = registry_requests(metrics_port)
            cold = [post([k]) for k in keys[:50]]
            after = registry_requests(metrics_port)
            rows.append(("1 image, cold", cold, (after - before) / 50))
            warm = [post([k]) for k in keys[:50] for _ in range(4)]
            rows.append(("1 image, warm", warm, (registry_requests(metrics_port) - after) / len(warm)))
            before = registry_requests(metrics_port)
            cold_batch = [post(keys[50:100])]
            rows.append(("50 images, cold", cold_batch, (registry_requests(metrics_port) - before) / 50))
            peak = status_kb(server.pid, "VmHWM")
        finally:
            stop(server)
    finally:
        stop(registry)
    print()
    print("notation verification (JWS ES256, chain of 3, strict trust policy) against docker-registry on loopback (referrers tag schema)")
    print_rows(rows)
    print(f"peak RSS (VmHWM) {peak / 1024:.1f} MiB")


def write_registry_layout(root, repo, count, port, signing_keys):
    """A fast pusher: writes `count` distinct images, each with a cosign signature manifest of two
    signatures, straight into distribution's filesystem storage layout (blobs by digest, the
    repository's layer and revision links, tag links) before the registry starts. The registry
    serves them as if they had been pushed; seeding is not what is measured."""
    import base64
    import hashlib
    import json
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    v2 = os.path.join(root, "docker", "registry", "v2")
    repository = os.path.join(v2, "repositories", repo)

    def write(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def blob(data, layer_link=True):
        hexdigest = hashlib.sha256(data).hexdigest()
        write(os.path.join(v2, "blobs", "sha256", hexdigest[:2], hexdigest, "data"), data)
        if layer_link:
            write(os.path.join(repository, "_layers", "sha256", hexdigest, "link"), f"sha256:{hexdigest}".encode())
        return {"digest": f"sha256:{hexdigest}", "size": len(data)}

    def manifest(document, tag):
        data = json.dumps(document, separators=(",", ":")).encode()
        described = blob(data, layer_link=False)
        hexdigest = described["digest"][7:]
        write(os.path.join(repository, "_manifests", "revisions", "sha256", hexdigest, "link"), described["digest"].encode())
        write(os.path.join(repository, "_manifests", "tags", tag, "current", "link"), described["digest"].encode())
        write(os.path.join(repository, "_manifests", "tags", tag, "index", "sha256", hexdigest, "link"), described["digest"].encode())
        return described

    config = blob(b'{"architecture":"amd64","os":"linux"}')
    layer = blob(b"the one layer every scale image shares")
    sig_config = blob(b'{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}')
    keys = []
    for i in range(count):
        image = manifest({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
                          "annotations": {"bench.index": str(i)}}, f"v{i}")
        payload = json.dumps({"critical": {"identity": {"docker-reference": f"127.0.0.1:{port}/{repo}"},
                                           "image": {"docker-manifest-digest": image["digest"]},
                                           "type": "cosign container image signature"}, "optional": None},
                             separators=(",", ":")).encode()
        described = blob(payload)
        layers = [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **described,
                   "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(k.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()}}
                  for k in signing_keys]
        manifest({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **sig_config}, "layers": layers},
                 image["digest"].replace(":", "-") + ".sig")
        keys.append(f"127.0.0.1:{port}/{repo}:v{i}")
    return keys


def scale_bench(work, certs):
    """10,000 distinct images x 2 cosign signatures through one server, in ProviderRequests of
    10 keys from 8 concurrent clients (Gatekeeper-like), every image cold once: throughput,
    request p50/p99 and peak RSS (the issue's bound: < 128 MiB)."""
    import json
    import threading
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    count = int(os.environ.get("BENCH_SCALE_IMAGES", "10000"))
    clients = 8
    port = free_port()
    root = os.path.join(work, f"scale-{port}")
    signing_keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
    public = os.path.join(work, "scale.pub")
    with open(public, "wb") as f:
        f.write(signing_keys[1].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    started = time.time()
    keys = write_registry_layout(root, "scale/app", count, port, signing_keys)
    seed_seconds = time.time() - started
    registry, _ = start_registry(work, port=port, root=root)
    try:
        config = cosign_config(work, port, public, "scale/app")
        server, http_port, metrics_port = start_server(work, certs, ["-c", config])
        try:
            batches = [keys[i:i + 10] for i in range(0, len(keys), 10)]
            latencies, lock, failures = [], threading.Lock(), []
            cursor = iter(range(len(batches)))

            def client():
                post = verify_poster(http_port)
                while True:
                    with lock:
                        index = next(cursor, None)
                    if index is None:
                        return
                    elapsed = post(batches[index])
                    with lock:
                        latencies.append(elapsed)
            peak_rss = [0]
            done = threading.Event()

            def watch():
                while not done.is_set():
                    peak_rss[0] = max(peak_rss[0], status_kb(server.pid, "VmRSS"))
                    time.sleep(0.2)
            watcher = threading.Thread(target=watch)
            watcher.start()
            t0 = time.time()
            threads = [threading.Thread(target=client) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.time() - t0
            done.set()
            watcher.join()
            requests_per_image = registry_requests(metrics_port) / count
            peak = status_kb(server.pid, "VmHWM")
            settled = status_kb(server.pid, "VmRSS")
        finally:
            stop(server)
    finally:
        stop(registry)
    print()
    print(f"scale: {count} distinct images x 2 cosign signatures (seeded in {seed_seconds:.1f}s straight into the registry's storage), "
          f"ProviderRequests of 10 keys from {clients} concurrent clients, every image cold")
    print(f"{'images':>7} {'requests':>9} {'seconds':>8} {'images/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'reg req/image':>14} {'peak RSS MiB':>13} {'after MiB':>10}")
    print(f"{count:>7} {len(latencies):>9} {seconds:>8.1f} {count / seconds:>9.0f} {percentile(latencies, 50):>8.1f} "
          f"{percentile(latencies, 99):>8.1f} {requests_per_image:>14.2f} {peak / 1024:>13.1f} {settled / 1024:>10.1f}")
    if peak / 1024 >= 128:
        sys.exit(f"bench: peak RSS {peak / 1024:.1f} MiB is over the 128 MiB bound")


def main():
    if not os.path.exists(BIN):
        sys.exit(f"bench: {BIN} not found; run `make bench` (it builds the release binary)")
    work = tempfile.mkdtemp(prefix="ratify-bench-")
    certs = os.path.join(work, "certs")
    subprocess.run([os.path.join(ROOT, "scripts", "dev-certs.sh"), certs], check=True, capture_output=True)
    print(host_line())
    only = os.environ.get("BENCH_ONLY")  # one section: server, cost, cosign, notation, scale
    if only:
        {"cost": cost_bench, "cosign": verification_bench, "notation": notation_bench,
         "scale": scale_bench}.get(only, lambda *_: server_bench(work, certs))(work, certs)
        return
    server_bench(work, certs)
    cost_bench(work, certs)
    verification_bench(work, certs)
    notation_bench(work, certs)
    scale_bench(work, certs)


def host_line():
    """The CPU model, cores and OpenSSL: the ratios to `openssl speed` depend on the CPU model
    (OpenSSL's P-256 has AVX-512 IFMA code that some hosts run and others do not), so two runs
    compare only on the same model."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
            f.seek(0)
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
        if "avx512ifma" in flags:
            model += " (avx512ifma)"
    except OSError:
        pass
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return f"host: {model}, {os.cpu_count()} cores, {openssl}"


def server_bench(work, certs):
    http, health = free_port(), free_port()
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([BIN, "serve", "--http", f"127.0.0.1:{http}", "--health-port", f"127.0.0.1:{health}",
                               "--metrics-port", "off", "--cert-dir", certs, "--log-level", "warning"],
                              stdout=log, stderr=log)
    try:
        wait_for_port(health)
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
        stop(server)

    print()
    print(f"ratify serve (release), POST /ratify/gatekeeper/v1/verify over HTTPS keep-alive, "
          f"{len(KEYS)} key/request refused by the reference parser (no registry work), wrk {SECONDS}s per row, {os.cpu_count()} cores")
    print(f"{'conns':>6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7} {'RSS MiB':>8}")
    for r in rows:
        print(f"{r['connections']:>6} {r['rps']:>10.0f} {r['p50']:>8.3f} {r['p99']:>8.3f} {r['requests']:>9} "
              f"{r['errors']:>7} {r['rss'] / 1024:>8.1f}")
    print(f"idle RSS {idle_rss / 1024:.1f} MiB, peak RSS (VmHWM) {peak / 1024:.1f} MiB")
    if any(r["errors"] for r in rows):
        sys.exit("bench: some requests failed (see errors column)")


if __name__ == "__main__":
    main()
