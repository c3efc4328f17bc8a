#!/usr/bin/env python3
"""High availability: three `ratify serve` replicas share one real `redis-server`.

  - replica B answers an image replica A verified with 0 registry requests (tag keys: the
    resolved tag and the verdict both come from Redis);
  - a pass forged in Redis (plain bytes, or a genuine pass copied onto another image's key) is
    never served: the replica verifies for itself and the unsigned image still fails;
  - Redis killed in the middle of a load over all three replicas: 0 wrong verdicts, 0 errors;
  - Redis back on the same port: picked up again (B again answers A's work with 0 requests).

Images are signed with cosign's layout (ECDSA P-256 signatures made here with Python's
`cryptography`) in Debian's docker-registry; the replicas' registry requests are read from
their own ratify_registry_request_count.

usage: test_ha.py path/to/ratify
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import oci_push  # noqa: E402
from testkit import Checks, free_port, start_registry, wait_for_port  # noqa: E402

COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json"
SECRET = "7" * 48


def start_redis(port):
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def seal(key, value):
    """SealedEntry's format, made here independently: 01 | expiry ms (8 bytes, big-endian) |
    HMAC-SHA256(secret, "ratify-shared-v1" 00 key 00 expiry value) | value."""
    import hashlib
    import hmac
    expiry = (int(time.time() * 1000) + 60_000).to_bytes(8, "big")
    mac = hmac.new(SECRET.encode(), b"ratify-shared-v1\0" + key.encode() + b"\0" + expiry + value, hashlib.sha256).digest()
    return b"\x01" + expiry + mac + value


def redis_cli_stdin(port, key, value):
    subprocess.run(["redis-cli", "-p", str(port), "-x", "SET", key], input=value, capture_output=True, check=True)


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True).stdout


class Replica:
    def __init__(self, binary, work, name, config, redis_port, secret=SECRET):
        self.name = name
        self.http, self.health, self.metrics = free_port(), free_port(), free_port()
        self.log = os.path.join(work, f"{name}.log")
        env = dict(os.environ, RATIFY_REDIS_KEY=secret)
        self.process = subprocess.Popen(
            [binary, "serve", "-c", config, "--http", f"127.0.0.1:{self.http}", "--health-port", f"127.0.0.1:{self.health}",
             "--metrics-port", f"127.0.0.1:{self.metrics}", "--cache-type", "redis", "--redis-address", f"127.0.0.1:{redis_port}",
             # Generous: under a loaded CI machine a late Redis answer would count as a miss.
             "--redis-timeout", "1000"],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.health)

    def verify(self, keys):
        body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.http}/ratify/gatekeeper/v1/verify", data=body,
                                         headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(request, timeout=10).read())["response"]

    def registry_requests(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics").read().decode()
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("ratify_registry_request_count{"))

    def shared(self, result):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics").read().decode()
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(f'ratify_shared_cache_total{{result="{result}"}}'))

    def verified_here(self, key):
        """Whether this replica verified `key` itself: the result line is logged only for a
        verification computed here, never for a verdict taken from Redis."""
        with open(self.log) as f:
            return f"verify result for subject {key}@" in f.read()

    def stop(self):
        self.process.kill()
        self.process.wait()


def verdicts(response):
    """key -> True / False / "error: ..." for each item."""
    out = {}
    for item in response.get("items", []):
        out[item["key"]] = ("error: " + item["error"]) if item.get("error") else item["value"]["isSuccess"]
    return out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "ratify")
    checks = Checks("ha")
    work = tempfile.mkdtemp(prefix="ratify-ha-")
    registry, port = start_registry(work)
    redis_port = free_port()
    redis = start_redis(redis_port)
    replicas = []
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.generate_private_key(ec.SECP256R1())
        public = os.path.join(work, "cosign.pub")
        with open(public, "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        base = f"http://127.0.0.1:{port}"
        expected = {}
        for i in range(24):
            image = oci_push.image(base, "ha/app", f"v{i}")
            signed = i % 3 != 2
            if signed:
                payload = json.dumps({"critical": {"identity": {"docker-reference": f"127.0.0.1:{port}/ha/app"},
                                                   "image": {"docker-manifest-digest": image["digest"]},
                                                   "type": "cosign container image signature"}, "optional": None},
                                     separators=(",", ":")).encode()
                signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
                oci_push.cosign_signatures(base, "ha/app", image["digest"], payload, [signature])
            expected[f"127.0.0.1:{port}/ha/app:v{i}"] = signed
        keys = list(expected)
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump({"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": True, "cosignEnabled": True}]},
                       "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy"}},
                       "verifier": {"version": "1.0.0", "plugins": [{
                           "name": "cosign", "artifactTypes": COSIGN,
                           "trustPolicies": [{"name": "ha", "version": "1.0.0", "scopes": ["*"],
                                              "keys": [{"file": public}], "tLogVerify": False}]}]}}, f)
        replicas = [Replica(binary, work, name, config, redis_port) for name in ("a", "b", "c")]
        a, b, c = replicas

        # 1. What A verified, B answers without the registry.
        first = [keys[0], keys[2]]  # signed, unsigned
        got = verdicts(a.verify(first))
        checks.check("replica A verifies a signed and an unsigned image", got == {k: expected[k] for k in first}, got)
        time.sleep(0.3)  # A's stores to Redis are asynchronous
        before = b.registry_requests()
        got = verdicts(b.verify(first))
        spent = b.registry_requests() - before
        checks.check("replica B gives the same verdicts", got == {k: expected[k] for k in first}, got)
        checks.check("replica B made 0 registry requests for them", spent == 0, f"{spent} requests")
        checks.check("replica B counted shared-cache hits", b.shared("hit") >= 2, b.shared("hit"))
        checks.check("replica B logged no verification of its own for them (A's verdicts)",
                     a.verified_here(keys[0]) and not any(b.verified_here(k) for k in first), "")

        # 2. Forged passes in Redis are refused. The unsigned image's verdict entry is overwritten
        #    with plain JSON, then with a genuine sealed pass of a signed image copied over it.
        got = verdicts(a.verify([keys[5]]))
        time.sleep(0.3)
        verdict_keys = [k for k in redis_cli(redis_port, "--scan", "--pattern", "ratify:v1:verdict:*").split() if k]
        digest5 = oci_push.digest(oci_push.get_manifest(base, "ha/app", "v5"))
        digest0 = oci_push.digest(oci_push.get_manifest(base, "ha/app", "v0"))
        target = [k for k in verdict_keys if k.endswith(digest5)]
        genuine = [k for k in verdict_keys if k.endswith(digest0)]
        checks.check("the unsigned image's verdict is in Redis", len(target) == 1 and len(genuine) == 1, verdict_keys)
        if target and genuine:
            forged = json.dumps({"subject": f"127.0.0.1:{port}/ha/app@{digest5}", "isSuccess": True, "verifierReports": [
                {"isSuccess": True, "verifierName": "cosign", "verifierType": "cosign", "artifactType": COSIGN}]})
            redis_cli(redis_port, "SET", target[0], forged)
            rejected = c.shared("rejected")
            got = verdicts(c.verify([keys[5]]))
            checks.check("a plain forged pass is refused: C still denies the unsigned image", got == {keys[5]: False}, got)
            checks.check("C counted the rejected entry", c.shared("rejected") > rejected, c.shared("rejected"))
            time.sleep(2.2)  # C's own failure verdict (2 s) and local copy expire
            redis_cli(redis_port, "COPY", genuine[0], target[0], "REPLACE")
            got = verdicts(c.verify([keys[5]]))
            checks.check("a genuine pass copied onto the unsigned image's key is refused", got == {keys[5]: False}, got)

            # A properly sealed entry (the test holds the replicas' secret) larger than a shared
            # entry may be: refused by size — it is never read whole (GETRANGE), never decoded.
            time.sleep(2.2)
            value = json.dumps({"subject": f"127.0.0.1:{port}/ha/app@{digest5}", "isSuccess": False, "verifierReports": [
                {"isSuccess": False, "verifierName": "padding", "verifierType": "padding", "message": "x" * (1536 * 1024)}]}).encode()
            redis_cli_stdin(redis_port, target[0], seal(target[0], value))
            rejected = c.shared("rejected")
            got = verdicts(c.verify([keys[5]]))
            checks.check("a sealed entry over the size bound is refused (C verifies for itself)",
                         got == {keys[5]: False} and c.shared("rejected") > rejected, f"{got} rejected {c.shared('rejected') - rejected}")

        # 2b. A replica holding another secret: what it writes is refused by the others.
        stranger = Replica(binary, work, "stranger", config, redis_port, secret="9" * 48)
        replicas.append(stranger)
        got = verdicts(stranger.verify([keys[4]]))
        time.sleep(0.3)
        before, rejected = b.registry_requests(), b.shared("rejected")
        got_b = verdicts(b.verify([keys[4]]))
        checks.check("entries sealed with another secret are refused: B verifies for itself",
                     got == got_b == {keys[4]: expected[keys[4]]} and b.registry_requests() > before and b.shared("rejected") > rejected,
                     f"{got_b} requests {b.registry_requests() - before} rejected {b.shared('rejected') - rejected}")
        stranger.stop()
        replicas.remove(stranger)

        # 2c. Another configuration (a different policy) does not reuse these verdicts.
        other_config = os.path.join(work, "other.json")
        with open(config) as f:
            document = json.load(f)
        document["policy"]["plugin"]["artifactVerificationPolicies"] = {COSIGN: "any"}
        with open(other_config, "w") as f:
            json.dump(document, f)
        other = Replica(binary, work, "other-config", other_config, redis_port)
        replicas.append(other)
        got = verdicts(other.verify([keys[0]]))
        # (The registry content it needs may come from Redis: same store configuration.)
        checks.check("a replica with another configuration verifies for itself",
                     got == {keys[0]: True} and other.verified_here(keys[0]), got)
        other.stop()
        replicas.remove(other)

        # 3. Redis killed in the middle of a load over all three replicas.
        results, errors, stop = [], [], threading.Event()

        def load(replica, offset):
            n = offset
            while not stop.is_set():
                batch = [keys[(n + j) % len(keys)] for j in range(4)]
                n += 4
                try:
                    results.append((batch, verdicts(replica.verify(batch))))
                except Exception as error:  # a failed request is an error too
                    errors.append(f"{replica.name}: {error}")
        threads = [threading.Thread(target=load, args=(r, i * 7)) for i, r in enumerate(replicas)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        redis.kill()
        redis.wait()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join()
        wrong = [(k, v) for batch, got in results for k, v in got.items() if v is not expected[k]]
        checks.check(f"load over 3 replicas with Redis killed midway ({len(results)} requests): 0 wrong verdicts, 0 errors",
                     len(results) > 20 and not wrong and not errors, f"wrong={wrong[:3]} errors={errors[:3]}")

        # 4. Redis back: picked up.
        redis = start_redis(redis_port)
        time.sleep(1.5)  # the replicas leave a failed Redis alone for 1 s
        fresh = [keys[22], keys[23]]
        for r in replicas:
            r.verify([keys[1]])  # a first request after the pause reconnects
        time.sleep(0.2)
        got = verdicts(a.verify(fresh))
        time.sleep(0.3)
        before = b.registry_requests()
        got_b = verdicts(b.verify(fresh))
        spent = b.registry_requests() - before
        checks.check("Redis back: B answers A's new verdicts with 0 registry requests",
                     got == got_b == {k: expected[k] for k in fresh} and spent == 0, f"{got} {got_b} {spent} requests")
    finally:
        for r in replicas:
            r.stop()
        redis.kill()
        registry.kill()
    checks.finish()


if __name__ == "__main__":
    main()
