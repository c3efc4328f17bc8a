#!/usr/bin/env python3
"""The seed documents (../shared/seeds), followed as a Ratify user follows them, one walk-through
per page, in the page's order:

  helm install ... --set/--set-file (the page's flags)   -> charts/ratify rendered by Helm's own
                                                             engine (helm-python-sdk), the chart's
                                                             resources applied (they are pre-install hooks)
  kubectl apply -f <the page's YAML>                     -> Tests/Support/kube_api_server.py, the
                                                             Kubernetes API test double
  the ratify pod                                         -> `ratify serve` with the Deployment's
                                                             rendered args and env, its volumes
                                                             written from the rendered Secrets/ConfigMap
  kubectl run <pod>                                      -> what Gatekeeper does: the mutation
                                                             Provider (tag -> digest), then the
                                                             validation Provider over mTLS with the
                                                             Provider's caBundle, then the page's
                                                             ConstraintTemplate in a Rego engine (regopy)
  kubectl logs deploy/ratify                             -> the server's output

Stand-ins for what is out of reach here, each named where it is used: Debian's docker-registry on
loopback for ECR/GHCR (so `--set oras.useHttp=true`), a test Rekor key and trusted root for
sigstore's public-good instance, and for Venafi CodeSign Protect a signature made like
`notation sign --plugin venafi-csp` does (Tests/Support/Fixtures/make_venafi_signature.py) and
our notation test plugin published as the OCI artifact the guide's Verifier pulls.

usage: test_seeds.py path/to/ratify    (prints "N passed, N failed")
"""
import base64
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import helm_python
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "Tests", "rego"))
import oci_push  # noqa: E402
from testkit import Checks, free_port, start_registry, wait_for_port  # noqa: E402
from test_library import rego_response, violations  # noqa: E402

BINARY = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "ratify"))
FIXTURES = os.path.join(ROOT, "Tests", "Support", "Fixtures")
NAMESPACE = "gatekeeper-system"
GROUP = "config.ratify.deislabs.io/v1beta1"
PLURALS = {"Verifier": "verifiers", "Store": "stores", "Policy": "policies", "KeyManagementProvider": "keymanagementproviders",
           "CertificateStore": "certificatestores", "NamespacedVerifier": "namespacedverifiers", "NamespacedStore": "namespacedstores",
           "NamespacedPolicy": "namespacedpolicies", "NamespacedKeyManagementProvider": "namespacedkeymanagementproviders"}
checks = Checks("seeds")
check = checks.check


# ---- helm ---------------------------------------------------------------------------------------
def typed(text):
    """Helm's --set typing: true/false, integers, else a string."""
    if text in ("true", "false"):
        return text == "true"
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def assign(values, path, value):
    """`a.b[0].c=value` into nested dicts and lists, as helm --set does."""
    parts = [p for p in re.findall(r"[^.\[\]]+|\[\d+\]", path)]
    node = values
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following = parts[i + 1] if not last else None
        empty = [] if following and following.startswith("[") else {}
        if part.startswith("["):
            index = int(part[1:-1])
            while len(node) <= index:
                node.append(None)
            if last:
                node[index] = value
            else:
                node[index] = node[index] if node[index] is not None else empty
                node = node[index]
        else:
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, empty)


def helm_values(command):
    """The values of a `helm install` command line (its --set and --set-file flags)."""
    values = {}
    words = command.split()
    for flag, argument in zip(words, words[1:]):
        if flag in ("--set", "--set-file"):
            key, value = argument.split("=", 1)
            if flag == "--set-file":
                with open(value) as f:
                    value = f.read()
            else:
                value = typed(value)
            assign(values, key, value)
    return values


def helm_install(command):
    chart = helm_python.Chart.load(os.path.join(ROOT, "charts", "ratify"))
    rendered = chart.render(helm_values(command), name="ratify", namespace=NAMESPACE, is_install=True)
    return [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]


# ---- the cluster --------------------------------------------------------------------------------
class ProviderConnection(http.client.HTTPSConnection):
    """Gatekeeper's connection to the Provider URL's host (ratify.gatekeeper-system), here on loopback:
    the server certificate is checked against that name."""

    def __init__(self, port, context, server_name):
        super().__init__("127.0.0.1", port, context=context, timeout=10)
        self.server_name = server_name

    def connect(self):
        self.sock = self._context.wrap_socket(socket.create_connection(("127.0.0.1", self.port), self.timeout),
                                              server_hostname=self.server_name)



class Cluster:
    """The API double, the ratify "pod" from the rendered Deployment, and Gatekeeper's calls."""

    def __init__(self, work, docs):
        self.work, self.docs, self.children = work, docs, []
        self.api_port, self.token = free_port(), "seed-token"
        self.children.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Support", "kube_api_server.py"),
                                               str(self.api_port), self.token], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(self.api_port)
        # helm install: the chart's resources (pre-install hooks) exist before ratify starts.
        for doc in docs:
            if doc["apiVersion"] == GROUP:
                self.apply(doc)

    def api(self, method, path, body=None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def collection(self, doc):
        plural = PLURALS[doc["kind"]]
        namespace = doc["metadata"].get("namespace") or (NAMESPACE if plural.startswith("namespaced") or plural == "certificatestores" else None)
        return f"/apis/{GROUP}/namespaces/{namespace}/{plural}" if namespace else f"/apis/{GROUP}/{plural}"

    def apply(self, doc):
        """kubectl apply: create, or replace what exists."""
        body = {"metadata": {"name": doc["metadata"]["name"]}, "spec": doc["spec"]}
        status, _ = self.api("POST", self.collection(doc), body)
        if status == 409:
            status, _ = self.api("PUT", f"{self.collection(doc)}/{doc['metadata']['name']}", body)
        assert status in (200, 201), f"kubectl apply {doc['kind']}/{doc['metadata']['name']}: HTTP {status}"

    def status(self, doc):
        return self.api("GET", f"{self.collection(doc)}/{doc['metadata']['name']}")[1].get("status")

    def start_ratify(self):
        """The ratify container of the rendered Deployment: its volumes written from the rendered
        ConfigMap and Secrets (Gatekeeper's client CA from a CA made here), its args and env with
        mount paths mapped to those directories, the listeners on loopback, and a kubeconfig for
        the API double in place of the in-cluster service account."""
        deployment = next(d for d in self.docs if d["kind"] == "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {}
        for mount in container["volumeMounts"]:
            local = os.path.join(self.work, "pod", mount["name"])
            os.makedirs(local, exist_ok=True)
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                cm = next(d for d in self.docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["configMap"]["name"])
                for key, value in cm["data"].items():
                    with open(os.path.join(local, key), "w") as f:
                        f.write(value)
            elif "secret" in volume and volume["secret"]["secretName"] == "gatekeeper-webhook-server-cert":
                with open(os.path.join(local, "ca.crt"), "wb") as f:
                    f.write(self.gatekeeper_ca())
            elif "secret" in volume:
                secret = next(d for d in self.docs if d["kind"] == "Secret" and d["metadata"]["name"] == volume["secret"]["secretName"])
                items = {i["key"]: i["path"] for i in volume["secret"].get("items", [])}
                for key, value in secret["data"].items():
                    if not items or key in items:
                        with open(os.path.join(local, items.get(key, key)), "wb") as f:
                            f.write(base64.b64decode(value))
            mounts[mount["mountPath"]] = local

        def local(text):
            for path in sorted(mounts, key=len, reverse=True):
                if text == path or text.startswith(path + "/"):
                    return mounts[path] + text[len(path):]
            return text

        self.http, health, metrics = free_port(), free_port(), free_port()
        args = []
        for arg in container["args"]:
            flag, _, value = arg.partition("=")
            if flag == "--http":
                value = f"127.0.0.1:{self.http}"
            elif flag == "--health-port":
                value = f"127.0.0.1:{health}"
            elif flag == "--metrics-port":
                value = f"127.0.0.1:{metrics}"
            args.append(f"{flag}={local(value)}" if value else flag)
        kubeconfig = os.path.join(self.work, "kubeconfig")
        with open(kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                       "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                       "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{self.api_port}"}}],
                       "users": [{"name": "u", "user": {"token": self.token}}]}, f)
        args.append(f"--kubeconfig={kubeconfig}")
        env = {"PATH": os.environ["PATH"], "HOME": os.path.join(self.work, "home")}
        for entry in container.get("env", []):
            if "valueFrom" in entry:
                assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace", entry
                env[entry["name"]] = NAMESPACE
            else:
                env[entry["name"]] = local(entry["value"])
        self.env, self.args = env, args
        self.log = os.path.join(self.work, "ratify.log")
        with open(self.log, "w") as log:
            self.children.append(subprocess.Popen([BINARY] + args, env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_for_port(health)
        # Gatekeeper verifies the server against the Provider's caBundle and presents its client certificate.
        provider = next(d for d in self.docs if d["kind"] == "Provider" and d["metadata"]["name"] == "ratify-provider")
        self.context = ssl.create_default_context(cadata=base64.b64decode(provider["spec"]["caBundle"]).decode())
        self.context.load_cert_chain(self.client_cert, self.client_key)
        self.server_name = provider["spec"]["url"].split("//")[1].split(":")[0]

    def gatekeeper_ca(self):
        """Gatekeeper's webhook CA (secret gatekeeper-webhook-server-cert) and a client certificate it signed."""
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatekeeper-ca")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
              .not_valid_after(now + datetime.timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
        client = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatekeeper-webhook")]))
                  .issuer_name(ca_name).public_key(client_key.public_key()).serial_number(x509.random_serial_number())
                  .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                  .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                  .sign(ca_key, hashes.SHA256()))
        self.client_cert, self.client_key = os.path.join(self.work, "gk-client.crt"), os.path.join(self.work, "gk-client.key")
        with open(self.client_cert, "wb") as f:
            f.write(client.public_bytes(serialization.Encoding.PEM))
        with open(self.client_key, "wb") as f:
            f.write(client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return ca.public_bytes(serialization.Encoding.PEM)

    def provider(self, path, keys):
        connection = ProviderConnection(self.http, self.context, self.server_name)
        connection.request("POST", f"/ratify/gatekeeper/v1/{path}",
                           json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}}),
                           {"Content-Type": "application/json"})
        answer = connection.getresponse()
        status, body = answer.status, json.loads(answer.read())
        connection.close()
        return status, body

    def kubectl_run(self, template, image, namespace="default", parameters=None):
        """Admission of `kubectl run`: the mutation Assign pins the image to its digest (when the
        chart enabled mutation), then the template decides with the validation Provider's answer."""
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo", "namespace": namespace},
               "spec": {"containers": [{"name": "demo", "image": image}]}}
        if any(d["kind"] == "Assign" for d in self.docs):
            _, mutated = self.provider("mutate", [image])
            item = mutated["response"]["items"][0]
            if item.get("value"):
                pod["spec"]["containers"][0]["image"] = item["value"]
        status, answer = self.provider("verify", [c["image"] for c in pod["spec"]["containers"]])
        return violations(template, rego_response(status, answer), pod, parameters), pod["spec"]["containers"][0]["image"]

    def eventually(self, template, image, admitted, what, parameters=None):
        """Resources reach ratify through a watch: retry until the verdict settles (10 s)."""
        end = time.time() + 10
        mutating = any(d["kind"] == "Assign" for d in self.docs)
        while True:
            denials, pinned = self.kubectl_run(template, image, parameters=parameters)
            # With the mutation on, the steady state also has the image pinned (a mutation that
            # missed its deadline on a loaded machine leaves the tag: try again, as a re-applied
            # pod would be).
            settled = (not denials) == admitted and (not mutating or pinned != image)
            if settled or time.time() > end:
                check(what, (not denials) == admitted, denials or "admitted")
                return denials, pinned
            time.sleep(0.2)

    def logs(self):
        with open(self.log) as f:
            return f.read()

    def result_line(self, subject):
        """The `verify result for subject <subject>: {...}` report of `kubectl logs`, parsed (the
        logfmt msg value is a quoted string: read it up to its closing quote, then unquote)."""
        # A tag the mutation could not pin in time (a loaded machine) is logged with the digest
        # it resolved to: `<subject>@sha256:…`. For a pinned subject, the tag's line counts too:
        # once the tag was verified, the pinned key is answered from the verdict cache (the same
        # image by digest), and logs nothing more.
        if "@" in subject:
            name, digest = subject.split("@", 1)
            pattern = re.escape(name) + r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@" + re.escape(digest)
        else:
            pattern = re.escape(subject) + r"(@sha256:[0-9a-f]{64})?"
        marker = re.compile("verify result for subject " + pattern + ": ")
        # The line is written next to the answer, not before it: wait for it (a loaded machine
        # can take a while to flush it).
        deadline = time.time() + 15
        while True:
            for line in reversed(self.logs().splitlines()):
                found = marker.search(line)
                if found:
                    rest, raw, escaped = line[found.end():], [], False
                    for char in rest:
                        if char == '"' and not escaped:
                            break
                        raw.append(char)
                        escaped = char == "\\" and not escaped
                    return json.loads(json.loads('"' + "".join(raw) + '"'))
            if time.time() > deadline:
                return None
            time.sleep(0.1)

    def stop(self):
        for child in self.children:
            child.kill()
            child.wait()


# ---- the walk-throughs --------------------------------------------------------------------------
def cosign_page(work, registry):
    """001: the cosign verifier page's "Demo: Multi-key, Multi-image Verification"."""
    host = f"127.0.0.1:{registry}"
    base = f"http://{host}"
    # Prerequisites: two images in a 'dev' and a 'test' namespace of the registry, each signed with
    # its own cosign key pair (signatures with Rekor bundles: tLogVerify is on by default).
    roots, images = [], {}
    for env in ("dev", "test"):
        pushed = oci_push.image(base, f"{env}/net-monitor", "v1")
        out = os.path.join(work, f"cosign-{env}")
        subprocess.run([sys.executable, os.path.join(FIXTURES, "make_signatures.py"), out, pushed["digest"]], check=True)
        with open(os.path.join(out, "signatures.json")) as f:
            signatures = json.load(f)
        payload = base64.b64decode(signatures["payload"])
        config = oci_push.push_blob(base, f"{env}/net-monitor", b'{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}')
        layer = oci_push.push_blob(base, f"{env}/net-monitor", payload)
        oci_push.push_manifest(base, f"{env}/net-monitor", pushed["digest"].replace(":", "-") + ".sig", {
            "schemaVersion": 2, "mediaType": oci_push.OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **layer, "annotations": {
                "dev.cosignproject.cosign/signature": signatures["signatures"]["ec256"],
                "dev.sigstore.cosign/bundle": signatures["bundles"]["valid"]}}]}, oci_push.OCI_MANIFEST)
        with open(os.path.join(out, "trusted_root.json")) as f:
            roots.append(json.load(f))
        images[env] = (f"{host}/{env}/net-monitor:v1", pushed["digest"], os.path.join(out, "ec256.pub"))
    # A 'dev' image signed with the *test* key: the dev policy must not accept it.
    crossed = oci_push.image(base, "dev/other", "v1")
    out = os.path.join(work, "cosign-crossed")
    subprocess.run([sys.executable, os.path.join(FIXTURES, "make_signatures.py"), out, crossed["digest"]], check=True)
    # Stand-in for sigstore's public-good Rekor: the test logs' keys, one trusted root.
    root = roots[0]
    root["tlogs"] = [log for r in roots for log in r["tlogs"]]
    with open(os.path.join(work, "trusted_root.json"), "w") as f:
        json.dump(root, f)

    # 1. Install Ratify (the page's flags; stand-ins: plain-HTTP registry, the test trusted root).
    docs = helm_install(f"helm install ratify ratify/ratify --atomic --namespace gatekeeper-system --set cosign.enabled=true "
                        f"--set featureFlags.RATIFY_CERT_ROTATION=true --set-file cosignKeys[0]={images['dev'][2]} "
                        f"--set-file cosignKeys[1]={images['test'][2]} "
                        f"--set oras.useHttp=true --set-file cosign.trustedRoot={work}/trusted_root.json")
    cluster = Cluster(work, docs)
    try:
        cluster.start_ratify()
        check("cosign page: ratify serve runs with the chart's rendered arguments", "--enable-crd-manager" in cluster.args, cluster.args)
        # 2. Constraint and ConstraintTemplate: Ratify's library/default (Tests/rego/ratify-1.4).
        template = "ratify:default"
        # 3. The page's cosign verifier. The page names key management providers it never shows
        #    being created; they hold the dev and test public keys.
        for env in ("dev", "test"):
            with open(images[env][2]) as f:
                cluster.apply({"kind": "KeyManagementProvider", "metadata": {"name": f"keymanagementprovider-{env}"},
                               "spec": {"type": "inline", "parameters": {"contentType": "key", "value": f.read()}}})
        verifier = yaml.safe_load(f"""
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: verifier-cosign
spec:
  name: cosign
  artifactTypes: application/vnd.dev.cosign.artifact.sig.v1+json
  parameters:
    trustPolicies:
      - name: dev
        scopes:
          - "{host}/dev*"
        keys:
          - provider: keymanagementprovider-dev
      - name: test
        scopes:
          - "{host}/test*"
        keys:
          - provider: keymanagementprovider-test
""")
        cluster.apply(verifier)
        # 4./5. kubectl run demo (dev) and demo2 (test): both succeed.
        _, dev_pinned = cluster.eventually(template, images["dev"][0], True, "cosign page: kubectl run demo (dev image) is admitted")
        _, test_pinned = cluster.eventually(template, images["test"][0], True, "cosign page: kubectl run demo2 (test image) is admitted")
        check("cosign page: the mutation pinned the images to their digests",
              dev_pinned.endswith("@" + images["dev"][1]) and test_pinned.endswith("@" + images["test"][1]), (dev_pinned, test_pinned))
        denials, _ = cluster.kubectl_run(template, f"{host}/dev/other:v1")
        check("cosign page: a dev image signed with the test key is denied", len(denials) == 1, denials)
        status = cluster.status(verifier)
        check("cosign page: the applied Verifier reports success", status and status.get("issuccess") is True, status)
        # 6. kubectl logs: each image verified with its namespace's policy and key.
        for env in ("dev", "test"):
            subject = f"{host}/{env}/net-monitor@{images[env][1]}"
            report = cluster.result_line(subject)
            cosign = (report or {}).get("verifierReports", [{}])[0]
            check(f"cosign page: kubectl logs shows the {env} image verified by trust policy {env}",
                  report and report.get("isSuccess") is True and cosign.get("extensions", {}).get("trustPolicy") == env
                  and "Rekor bundle verified offline" in json.dumps(cosign), report)
    finally:
        cluster.stop()


def venafi_guide(work, registry):
    """000: Ratify with Venafi CodeSign Protect."""
    host = f"127.0.0.1:{registry}"
    base = f"http://{host}"
    # Prepare and sign the container image (notation sign through the venafi-csp plugin).
    image = oci_push.image(base, "net-monitor", "v1")
    out = os.path.join(work, "venafi")
    subprocess.run([sys.executable, os.path.join(FIXTURES, "make_venafi_signature.py"), out, oci_push.OCI_MANIFEST,
                    image["digest"], str(image["size"])], check=True)
    with open(os.path.join(out, "signature.jws"), "rb") as f:
        oci_push.attach(base, "net-monitor", image["digest"], "application/vnd.cncf.notary.signature", f.read(),
                        layer_media_type="application/jose+json")
    oci_push.image(base, "busybox", "latest")  # stand-in for docker.io/library/busybox: unsigned
    # The plugin artifact the guide's Verifier pulls (stand-in for ghcr.io/venafi/notation-venafi-csp).
    with open(os.path.join(FIXTURES, "notation_test_plugin.py"), "rb") as f:
        plugin = oci_push.push_blob(base, "venafi/notation-venafi-csp", f.read())
    empty = oci_push.push_blob(base, "venafi/notation-venafi-csp", b"{}")
    plugin_manifest = oci_push.push_manifest(base, "venafi/notation-venafi-csp", "linux-amd64-latest", {
        "schemaVersion": 2, "mediaType": oci_push.OCI_MANIFEST, "artifactType": "application/vnd.ratify.plugin",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **plugin}]}, oci_push.OCI_MANIFEST)

    # Deploy Ratify (the guide's flags; stand-in: plain-HTTP registry).
    docs = helm_install("helm install ratify ratify/ratify --atomic --namespace gatekeeper-system "
                        "--set featureFlags.RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS=true --set featureFlags.RATIFY_CERT_ROTATION=true "
                        "--set oras.useHttp=true")
    cluster = Cluster(work, docs)
    try:
        cluster.start_ratify()
        # Gatekeeper policy: Ratify's notation-validation template (Tests/rego/ratify-1.4).
        template = "ratify:notation-validation"
        with open(os.path.join(out, "root.crt")) as f:
            root = f.read()
        guide = yaml.safe_load_all(f"""
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: notation-venafi-csp-plugin
spec:
  name: notation-venafi-csp
  artifactTypes: application/vnd.oci.image.manifest.v1+json
  source:
    artifact: {host}/venafi/notation-venafi-csp:linux-amd64-latest
---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: CertificateStore
metadata:
  name: ratify-notation-inline-cert
  namespace: gatekeeper-system
spec:
  provider: inline
  parameters:
    value: |
{''.join('      ' + line + chr(10) for line in root.strip().splitlines())}---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: verifier-notation
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores:
      signingAuthority:
        certs:
          - ratify-notation-inline-cert
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: default
          registryScopes:
            - "*"
          signatureVerification:
            level: strict
          trustStores:
            - signingAuthority:certs
          trustedIdentities:
            - "x509.subject: CN=signer.example.com,O=Acme,L=Cupertino,ST=CA,C=US"
""")
        guide = list(guide)
        for doc in guide:
            cluster.apply(doc)
        # kubectl run demosigned: admitted.
        _, pinned = cluster.eventually(template, f"{host}/net-monitor:v1", True, "Venafi guide: kubectl run demosigned is admitted")
        plugin_status = cluster.status(guide[0])
        installed = os.path.join(cluster.env["RATIFY_CONFIG"], "plugins", "notation-venafi-csp")
        check("Venafi guide: the dynamic plugin was pulled, pinned to its digest, into the plugin directory",
              plugin_status and plugin_status.get("properties", {}).get("pluginDigest") == plugin_manifest["digest"]
              and os.access(installed, os.X_OK), plugin_status)
        request_file = installed + ".verify-signature.request.json"
        request = json.load(open(request_file)) if os.path.exists(request_file) else {}
        check("Venafi guide: the signature was handed to notation-venafi-csp (verify-signature) with the trusted identity",
              request.get("trustPolicy", {}).get("trustedIdentities") == ["x509.subject: CN=signer.example.com,O=Acme,L=Cupertino,ST=CA,C=US"]
              and request.get("signature", {}).get("criticalAttributes", {}).get("signingScheme") == "notary.x509.signingAuthority", request)
        report = cluster.result_line(pinned)
        notation = (report or {}).get("verifierReports", [{}])[0]
        check("Venafi guide: kubectl logs shows the verify result with the signer",
              report and report.get("isSuccess") is True and notation.get("artifactType") == "application/vnd.cncf.notary.signature"
              and "signer.example.com" in json.dumps(notation.get("extensions", {})), report)
        # kubectl run demounsigned --image busybox: denied.
        denials, pinned = cluster.kubectl_run(template, f"{host}/busybox:latest")
        check("Venafi guide: kubectl run demounsigned is denied", len(denials) == 1 and "busybox" in denials[0], denials)
        report = cluster.result_line(pinned)
        check("Venafi guide: kubectl logs shows the unsigned image's failure (REFERRERS_NOT_FOUND)",
              report and report.get("isSuccess") is False and "REFERRERS_NOT_FOUND" in json.dumps(report), report)
        # With the feature flag off, the plugin Verifier says why it is refused.
    finally:
        cluster.stop()
    docs = helm_install("helm install ratify ratify/ratify --namespace gatekeeper-system --set oras.useHttp=true")
    flag_off = os.path.join(work, "flag-off")
    os.makedirs(flag_off)
    cluster = Cluster(flag_off, docs)
    try:
        cluster.start_ratify()
        cluster.apply(guide[0])
        end, status = time.time() + 10, None
        while time.time() < end and not (status and "error" in status):
            time.sleep(0.2)
            status = cluster.status(guide[0])
        check("Venafi guide without RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS: the plugin Verifier says why it is refused",
              status and status.get("issuccess") is False and "dynamic plugins are disabled" in status.get("error", ""), status)
    finally:
        cluster.stop()


def notation_page(work, registry):
    """002: the notation verifier page — verificationCertStores naming key management providers
    (`<NAMESPACE>/<NAME>`), the trust policy, and the timestamping variant with a tsa store."""
    host = f"127.0.0.1:{registry}"
    base = f"http://{host}"
    image = oci_push.image(base, "notation/app", "v1")
    out = os.path.join(work, "notation")
    subprocess.run([sys.executable, os.path.join(FIXTURES, "make_notation_fixtures.py"), out, oci_push.OCI_MANIFEST,
                    image["digest"], str(image["size"])], check=True, capture_output=True)
    for case, media in [("jws-es256", "application/jose+json")]:
        with open(os.path.join(out, f"{case}.jws"), "rb") as f:
            oci_push.attach(base, "notation/app", image["digest"], "application/vnd.cncf.notary.signature", f.read(), layer_media_type=media)
    timestamped = oci_push.image(base, "notation/timestamped", "v1")
    out_ts = os.path.join(work, "notation-ts")
    subprocess.run([sys.executable, os.path.join(FIXTURES, "make_notation_fixtures.py"), out_ts, oci_push.OCI_MANIFEST,
                    timestamped["digest"], str(timestamped["size"])], check=True, capture_output=True)
    with open(os.path.join(out_ts, "jws-timestamp-openssl.jws"), "rb") as f:
        oci_push.attach(base, "notation/timestamped", timestamped["digest"], "application/vnd.cncf.notary.signature", f.read(),
                        layer_media_type="application/jose+json")
    unsigned = oci_push.image(base, "notation/unsigned", "v1")

    docs = helm_install("helm install ratify ratify/ratify --namespace gatekeeper-system --set oras.useHttp=true")
    cluster = Cluster(work, docs)
    try:
        cluster.start_ratify()
        template = "ratify:notation-validation"
        # The page's key management providers (stand-ins for its Azure Key Vault ones: inline, same names).
        for name, path in [("kmp-akv-ca", os.path.join(out, "truststore/x509/ca/wabbit/root.crt"))]:
            with open(path) as f:
                cluster.apply({"kind": "NamespacedKeyManagementProvider", "metadata": {"name": name, "namespace": NAMESPACE},
                               "spec": {"type": "inline", "parameters": {"contentType": "certificate", "value": f.read()}}})
        verifier = yaml.safe_load("""
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: verifier-notation
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores:
      ca:
        ca-certs:
          - gatekeeper-system/kmp-akv-ca
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: default
          registryScopes:
            - "*"
          signatureVerification:
            level: strict
          trustStores:
            - ca:ca-certs
          trustedIdentities:
            - "*"
""")
        cluster.apply(verifier)
        _, pinned = cluster.eventually(template, f"{host}/notation/app:v1", True, "notation page: an image signed under the ca-certs trust store is admitted")
        report = cluster.result_line(pinned)
        check("notation page: kubectl logs shows the notation report with the signer and issuer",
              report and report.get("isSuccess") is True and {"Issuer", "SN"} <= set(report["verifierReports"][0].get("extensions", {})), report)
        denials, _ = cluster.kubectl_run(template, f"{host}/notation/unsigned:v1")
        check("notation page: an unsigned image is denied", len(denials) == 1, denials)
        # Timestamping configuration: a tsa store; verifyTimestamp always.
        for name, path in [("kmp-akv-ca", os.path.join(out_ts, "truststore/x509/ca/wabbit/root.crt")),
                           ("kmp-akv-tsa", os.path.join(out_ts, "truststore/x509/tsa/tsa/tsa-root.crt"))]:
            with open(path) as f:
                cluster.apply({"kind": "NamespacedKeyManagementProvider", "metadata": {"name": name, "namespace": NAMESPACE},
                               "spec": {"type": "inline", "parameters": {"contentType": "certificate", "value": f.read()}}})
        verifier["spec"]["parameters"]["verificationCertStores"]["tsa"] = {"tsa-certs": ["gatekeeper-system/kmp-akv-tsa"]}
        policy = verifier["spec"]["parameters"]["trustPolicyDoc"]["trustPolicies"][0]
        policy["signatureVerification"]["verifyTimestamp"] = "always"
        policy["trustStores"].append("tsa:tsa-certs")
        cluster.apply(verifier)
        _, pinned = cluster.eventually(template, f"{host}/notation/timestamped:v1", True,
                                       "notation page (timestamping): a timestamped signature is admitted with the tsa store")
        report = cluster.result_line(pinned)
        check("notation page (timestamping): the report carries the timestamp", report and "imestamp" in json.dumps(report), report)
    finally:
        cluster.stop()


def main():
    work = tempfile.mkdtemp(prefix="ratify-seeds-")
    if os.environ.get("KEEP"):
        print("work directory:", work)
    registry_process, registry = start_registry(work)
    try:
        for walk in (cosign_page, venafi_guide, notation_page):
            directory = os.path.join(work, walk.__name__)
            os.makedirs(directory)
            try:
                walk(directory, registry)
            except Exception as error:  # a step that breaks fails its walk-through, the others still run
                import traceback
                traceback.print_exc()
                check(f"{walk.__name__} ran to the end", False, error)
    finally:
        registry_process.kill()
        registry_process.wait()
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    checks.finish()


if __name__ == "__main__":
    main()
