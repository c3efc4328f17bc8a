#!/usr/bin/env python3
"""Evaluates library/ ConstraintTemplates — ours, and Ratify 1.4's own (Tests/rego/ratify-1.4, which
users apply from Ratify's site) — with a real Rego engine (regopy, rego-cpp) against
ProviderResponses produced by the real `ratify serve` for real images in Debian's docker-registry:
cosign-signed, unsigned, signed with an untrusted key, unknown, and one on a registry that never
answers (a timeout).

Gatekeeper's `external_data` builtin is not in regopy. The harness substitutes it: the template's
`external_data(` calls are rewritten to `data.harness.external_data(`, a function returning the
recorded answer converted exactly as Gatekeeper's NewRegoResponse does (items with an error go to
`errors`, the rest to `responses`, plus `status_code` and `system_error`). Nothing else in the
templates is changed.

usage: test_library.py path/to/ratify    (prints "N passed, N failed")
"""
import base64
import http.client
import json
import re
import os
import ssl
import subprocess
import sys
import tempfile
import time

import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from regopy import Interpreter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import oci_push  # noqa: E402
from testkit import Checks, free_port, start_registry, wait_for_port  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "ratify")
checks = Checks("rego")
check = checks.check


RATIFY_TEMPLATES = ["default", "multi-tenancy-validation", "notation-issuer-validation", "notation-nested-validation",
                    "notation-validation", "sbom-validation", "vulnerability-report-validation"]


def template_rego(name):
    """Ours by library/ directory name, Ratify's as `ratify:<name>`."""
    if name.startswith("ratify:"):
        path = os.path.join(ROOT, "Tests", "rego", "ratify-1.4", name.split(":", 1)[1] + ".yaml")
    else:
        path = os.path.join(ROOT, "library", name, "template.yaml")
    with open(path) as f:
        template = yaml.safe_load(f)
    rego = template["spec"]["targets"][0]["rego"]
    # rego-cpp refuses `x[_]` inside an array literal (Ratify's multi-tenancy template); the same
    # comprehension, written with a variable.
    rego = re.sub(r'\[img \| img = concat\("", \["\[",input\.review\.object\.metadata\.namespace,"\]",input\.review\.object\.spec\.(\w+)\[_\]\.image\]\)\]',
                  r'[img | c := input.review.object.spec.\1[_]; img = concat("", ["[",input.review.object.metadata.namespace,"]",c.image])]', rego)
    # rego-cpp does not enumerate an iteration variable that appears only inside a function call's
    # argument (vulnerability-report-validation's `time.parse_rfc3339_ns(vuln_results[i]…)`): the
    # same comprehension with the element bound first.
    rego = rego.replace('{diff_in_ns: i | diff_in_ns := time.now_ns() - time.parse_rfc3339_ns(vuln_results[i].extensions["createdAt"])}',
                        '{diff_in_ns: i | some i; report := vuln_results[i]; diff_in_ns := time.now_ns() - time.parse_rfc3339_ns(report.extensions["createdAt"])}')
    return rego, template["spec"]["crd"]["spec"]["names"]["kind"].lower()


PARSE_RFC3339 = """
parse_rfc3339_ns(s) := ns if {
	endswith(s, "Z")
	count(s) == 20
	y := to_number(substring(s, 0, 4))
	m := to_number(substring(s, 5, 2))
	d := to_number(substring(s, 8, 2))
	a := floor((14 - m) / 12)
	y2 := (y + 4800) - a
	m2 := (m + (12 * a)) - 3
	jdn := ((((((d + floor(((153 * m2) + 2) / 5)) + (365 * y2)) + floor(y2 / 4)) - floor(y2 / 100)) + floor(y2 / 400)) - 32045)
	seconds := ((((jdn - 2440588) * 86400) + (to_number(substring(s, 11, 2)) * 3600)) + (to_number(substring(s, 14, 2)) * 60)) + to_number(substring(s, 17, 2))
	ns := seconds * 1000000000
}
"""


def rego_response(status, answer):
    """Gatekeeper's externaldata.NewRegoResponse."""
    response = answer.get("response", {})
    responses, errors = [], []
    for item in response.get("items", []):
        if item.get("error"):
            errors.append([item.get("key"), item["error"]])
        else:
            responses.append([item.get("key"), item.get("value")])
    return {"responses": responses, "errors": errors, "status_code": status, "system_error": response.get("systemError", "")}


def regopy_valid(policy, data_input):
    """data.ratify.policy.valid by regopy (false when undefined or an error, as Ratify treats it)."""
    policy = policy.replace("time.parse_rfc3339_ns(", "data.harness.parse_rfc3339_ns(")
    policy = policy.replace('{diff_in_ns: i | diff_in_ns := time.now_ns() - data.harness.parse_rfc3339_ns(vuln_results[i].extensions["createdAt"])}',
                            '{diff_in_ns: i | some i; report := vuln_results[i]; diff_in_ns := time.now_ns() - data.harness.parse_rfc3339_ns(report.extensions["createdAt"])}')
    interpreter = Interpreter()
    interpreter.add_module("policy", policy)
    interpreter.add_module("harness", "package harness\n\nimport rego.v1\n" + PARSE_RFC3339)
    interpreter.set_input_term(json.dumps(data_input))
    out = str(interpreter.query("x := data.ratify.policy.valid"))
    return out.startswith("{") and json.loads(out)["bindings"]["x"] is True


def violations(template, recorded, pod, parameters=None, require_signature=False):
    rego, package = template_rego(template)
    if require_signature:
        # Ratify's sbom / vulnerability-report templates: "change to true to require notary project signature".
        rego = rego.replace("default require_signature := false", "default require_signature := true")
    interpreter = Interpreter()
    # rego-cpp has no time.parse_rfc3339_ns (vulnerability-report-validation calls it): the harness
    # supplies it in Rego for the UTC "YYYY-MM-DDTHH:MM:SSZ" form the tests' reports carry.
    rego = rego.replace("external_data(", "data.harness.external_data(").replace("time.parse_rfc3339_ns(", "data.harness.parse_rfc3339_ns(")
    interpreter.add_module("template", rego)
    interpreter.add_module("harness", "package harness\n\nimport rego.v1\n\nexternal_data(_) := data.recorded\n" + PARSE_RFC3339)
    interpreter.add_data_json(json.dumps({"recorded": recorded}))
    interpreter.set_input_term(json.dumps({"review": {"object": pod}, "parameters": parameters or {}}))
    # Ratify's templates use v0 `violation[{"msg": msg}] { … }` rules; asking for each message
    # marshalled works for those and for our v1 sets alike.
    result = json.loads(str(interpreter.query(f"[m | some v; data.{package}.violation[v]; m := json.marshal(v.msg)]")))
    return sorted(_message(m) for m in result["expressions"][0])


def _message(marshalled):
    """A marshalled message; rego-cpp's sprintf of an array (Ratify's templates) can leave a stray
    quote that is not valid JSON — then the text between the outer quotes."""
    try:
        return json.loads(marshalled)
    except json.JSONDecodeError:
        return marshalled[1:-1]


def pod(*images, init=()):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)],
                     "initContainers": [{"name": f"i{i}", "image": image} for i, image in enumerate(init)]}}


def main():
    work = tempfile.mkdtemp(prefix="ratify-rego-")
    subprocess.run([os.path.join(ROOT, "scripts", "dev-certs.sh"), os.path.join(work, "certs")], check=True, capture_output=True)
    registry, port = start_registry(work)
    server = None
    try:
        base, host = f"http://127.0.0.1:{port}", f"127.0.0.1:{port}"
        trusted, untrusted = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        with open(os.path.join(work, "trusted.pub"), "wb") as f:
            f.write(trusted.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        images = {}
        for name, key in [("signed", trusted), ("tampered", untrusted), ("unsigned", None)]:
            digest = oci_push.image(base, "app", name)["digest"]
            if key:
                payload = json.dumps({"critical": {"identity": {"docker-reference": f"{host}/app"},
                                                   "image": {"docker-manifest-digest": digest},
                                                   "type": "cosign container image signature"}, "optional": None}).encode()
                oci_push.cosign_signatures(base, "app", digest, payload,
                                           [base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()])
            images[name] = f"{host}/app:{name}"
        # A notation-signed image: JWS ES256 envelope and trust store from make_notation_fixtures.py.
        notation_image = oci_push.image(base, "notation", "signed")
        notation_dir = os.path.join(work, "notation")
        images["unknown"] = f"{host}/app:does-not-exist"
        # Supply-chain artifacts (issue #18): real SBOMs and SARIF reports (Tests/Conformance/supply-chain),
        # attached as referrers the way oras attach does; the SBOM of `clean` and the image itself signed.
        data = os.path.join(ROOT, "Tests", "Conformance", "supply-chain")

        def read(path):
            with open(os.path.join(data, path), "rb") as f:
                return f.read()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        spdx, sarif = "application/spdx+json", "application/sarif+json"
        supply = {name: oci_push.image(base, "supply", name) for name in ("clean", "zlib", "vulnerable", "stale", "unsigned-sbom")}
        clean_sbom = oci_push.attach(base, "supply", supply["clean"]["digest"], spdx, read("ratify/sbom/ratify-sbom-bom.spdx.json"), spdx)
        oci_push.attach(base, "supply", supply["clean"]["digest"], sarif, read("trivy/trivy-alpine-310.sarif.json"), sarif,
                        annotations={"org.opencontainers.image.created": now})
        oci_push.attach(base, "supply", supply["zlib"]["digest"], spdx, read("ratify/sbom/ratify-sbom-syftbom.spdx.json"), spdx)
        oci_push.attach(base, "supply", supply["vulnerable"]["digest"], sarif, read("ratify/vulnerabilityreport/ratify-trivy_scan_report.sarif.json"),
                        sarif, annotations={"org.opencontainers.image.created": now})
        oci_push.attach(base, "supply", supply["stale"]["digest"], sarif, read("trivy/trivy-alpine-310.sarif.json"), sarif,
                        annotations={"org.opencontainers.image.created": "2023-01-01T00:00:00Z"})
        oci_push.attach(base, "supply", supply["unsigned-sbom"]["digest"], spdx, read("ratify/sbom/ratify-sbom-bom.spdx.json"), spdx)
        for name in supply:
            images[f"supply-{name}"] = f"{host}/supply:{name}"
        subjects = os.path.join(work, "subjects.json")
        with open(subjects, "w") as f:
            json.dump([{"mediaType": oci_push.OCI_MANIFEST, **supply["clean"]}, {"mediaType": oci_push.OCI_MANIFEST, **clean_sbom}], f)
        subprocess.run([sys.executable, os.path.join(ROOT, "Tests", "Support", "Fixtures", "make_notation_fixtures.py"), notation_dir,
                        oci_push.OCI_MANIFEST, notation_image["digest"], str(notation_image["size"]), "--subjects", subjects],
                       check=True, capture_output=True)
        with open(os.path.join(notation_dir, "jws-es256.jws"), "rb") as f:
            oci_push.attach(base, "notation", notation_image["digest"], "application/vnd.cncf.notary.signature", f.read(),
                            layer_media_type="application/jose+json")
        for index, (repo_digest) in enumerate([supply["clean"]["digest"], clean_sbom["digest"]]):
            with open(os.path.join(notation_dir, f"subject-{index}.jws"), "rb") as f:
                oci_push.attach(base, "supply", repo_digest, "application/vnd.cncf.notary.signature", f.read(),
                                layer_media_type="application/jose+json")
        images["notation"] = f"{host}/notation:signed"
        # A registry that accepts connections and never answers: the key times out.
        import socket
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        images["timeout"] = f"127.0.0.1:{silent.getsockname()[1]}/app:v1"
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump({"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": True, "cosignEnabled": True}]},
                       "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy"}},
                       "executor": {"verificationRequestTimeout": 1500},
                       "verifier": {"version": "1.0.0", "plugins": [{
                           "name": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
                           "trustPolicies": [{"name": "default", "scopes": ["*"],
                                              "keys": [{"file": os.path.join(work, "trusted.pub")}], "tLogVerify": False}]}, {
                           "name": "notation", "artifactTypes": "application/vnd.cncf.notary.signature",
                           "verificationCerts": [os.path.join(notation_dir, "truststore")],
                           "trustPolicyDoc": {"version": "1.0", "trustPolicies": [{
                               "name": "default", "registryScopes": ["*"], "signatureVerification": {"level": "strict"},
                               "trustStores": ["ca:wabbit"], "trustedIdentities": ["*"]}]}}, {
                           "name": "sbom", "artifactTypes": "application/spdx+json", "disallowedLicenses": ["Zlib"],
                           "nestedReferences": "application/vnd.cncf.notary.signature"}, {
                           "name": "vulnerabilityreport", "artifactTypes": "application/sarif+json", "maximumAge": "24h",
                           "disallowedSeverities": ["critical"], "denylistCVEs": ["CVE-2021-44228"]}]}}, f)
        http_port, health = free_port(), free_port()
        server = subprocess.Popen([BINARY, "serve", "--http", f"127.0.0.1:{http_port}", "--health-port", f"127.0.0.1:{health}",
                                   "--metrics-port", "off", "--cert-dir", os.path.join(work, "certs"), "-c", config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(health)
        connection = http.client.HTTPSConnection("127.0.0.1", http_port, context=ssl._create_unverified_context())

        def ask(keys, api_version="externaldata.gatekeeper.sh/v1beta1"):
            connection.request("POST", "/ratify/gatekeeper/v1/verify",
                               json.dumps({"apiVersion": api_version, "kind": "ProviderRequest", "request": {"keys": keys}}),
                               {"Content-Type": "application/json"})
            answer = connection.getresponse()
            return rego_response(answer.status, json.loads(answer.read()))

        def evaluate(template, p, parameters=None, tenant=False, require_signature=False):
            keys = [c["image"] for field in ("containers", "initContainers") for c in p["spec"][field]]
            if tenant:
                keys = [f"[{p['metadata']['namespace']}]{key}" for key in keys]
            return violations(template, ask(keys), p, parameters, require_signature)

        signed, unsigned, tampered, unknown = images["signed"], images["unsigned"], images["tampered"], images["unknown"]
        got = evaluate("default", pod(signed))
        check("default: a cosign-signed image is admitted", got == [], got)
        got = evaluate("default", pod(unsigned))
        check("default: an unsigned image is denied with REFERRERS_NOT_FOUND and a fix",
              len(got) == 1 and unsigned in got[0] and "REFERRERS_NOT_FOUND" in got[0] and "fix: sign the image" in got[0], got)
        got = evaluate("default", pod(tampered))
        check("default: a signature by an untrusted key is denied, naming the verifier and reason",
              len(got) == 1 and "cosign:" in got[0] and "SIGNATURE_VERIFICATION_FAILED" in got[0], got)
        got = evaluate("default", pod(signed, unsigned))
        check("default: only the failing image of a pod is named", len(got) == 1 and unsigned in got[0] and signed not in got[0], got)
        got = evaluate("default", pod(signed, init=[unsigned]))
        check("default: init containers are verified too", len(got) == 1 and unsigned in got[0], got)
        got = evaluate("default", pod(unknown))
        check("default: an image that cannot be resolved is denied with the provider's error",
              len(got) == 1 and "could not be verified" in got[0] and "GET_SUBJECT_DESCRIPTOR_FAILURE" in got[0], got)
        recorded = ask([signed], api_version="v0")
        got = violations("default", recorded, pod(signed))
        check("default: a systemError denies", len(got) == 1 and "system error" in got[0] and "INVALID_API_VERSION" in got[0], got)

        got = evaluate("cosign-validation", pod(signed))
        check("cosign-validation: a valid cosign signature is admitted", got == [], got)
        got = evaluate("cosign-validation", pod(tampered))
        check("cosign-validation: an untrusted cosign signature is denied", len(got) == 1 and "has no valid cosign signature" in got[0], got)

        got = evaluate("notation-validation", pod(signed))
        check("notation-validation: a cosign-only image has no notation signature",
              len(got) == 1 and "has no accepted notation signature" in got[0], got)
        got = evaluate("notation-validation", pod(signed), {"issuers": ["CN=Example CA,O=Example,C=US"]})
        check("notation-validation: the issuer list appears in the denial", len(got) == 1 and "from issuers" in got[0], got)
        notation = images["notation"]
        got = evaluate("notation-validation", pod(notation))
        check("notation-validation: a notation-signed image is admitted", got == [], got)
        issuer = next((r.get("extensions", {}).get("Issuer") for r in ask([notation])["responses"][0][1]["verifierReports"]
                       if r.get("verifierType") == "notation"), None)
        check("notation-validation: the report names the signing certificate's issuer", bool(issuer), issuer)
        got = evaluate("notation-validation", pod(notation), {"issuers": [issuer, "CN=Other CA"]})
        check("notation-validation: an issuer on the list is admitted", got == [], got)
        got = evaluate("notation-validation", pod(notation), {"issuers": ["CN=Other CA,O=Example,C=US"]})
        check("notation-validation: an issuer not on the list is denied",
              len(got) == 1 and "has no accepted notation signature from issuers" in got[0], got)
        got = evaluate("cosign-validation", pod(notation))
        check("cosign-validation: a notation-only image has no cosign signature", len(got) == 1, got)

        got = evaluate("default", pod(images["timeout"]))
        check("default: an image whose registry never answers is denied once, with the timeout",
              len(got) == 1 and "VERIFY_TIMEOUT" in got[0], got)

        # Ratify 1.4's own templates (users apply them from Ratify's site): every one denies an
        # image that cannot be resolved, that timed out, that carries an untrusted signature, and
        # a system error. notation-validation reads only `responses`: the failing value we send
        # after each item error is what makes it deny.
        parameters = {"notation-issuer-validation": {"issuer": "CN=Example CA,O=Example,C=US"}}
        for name in RATIFY_TEMPLATES:
            tenant = name == "multi-tenancy-validation"
            for label, image in [("an unresolvable image", unknown), ("a timed-out image", images["timeout"]),
                                 ("an image with an untrusted signature", tampered), ("an unsigned image", unsigned)]:
                got = evaluate(f"ratify:{name}", pod(image), parameters.get(name), tenant=tenant)
                check(f"ratify {name}: {label} is denied", len(got) >= 1, got)
            recorded = ask([signed], api_version="v0")
            got = violations(f"ratify:{name}", recorded, pod(signed), parameters.get(name))
            check(f"ratify {name}: a system error denies", len(got) >= 1, got)
        got = evaluate("ratify:default", pod(signed))
        check("ratify default: a cosign-signed image is admitted", got == [], got)
        # Each template also admits what it is meant to admit (a test of denials alone would pass
        # if everything were denied); the supply-chain ones are above.
        for name, image, params, tenant in [("notation-validation", notation, None, False),
                                            ("notation-issuer-validation", notation, {"issuer": issuer}, False),
                                            ("multi-tenancy-validation", signed, None, True)]:
            got = evaluate(f"ratify:{name}", pod(image), params, tenant=tenant)
            check(f"ratify {name}: a correctly signed image is admitted", got == [], got)
        # The supply-chain templates (Ratify's, shipped in library/) on reports our server made from
        # real SBOMs and trivy reports.
        clean, zlib = images["supply-clean"], images["supply-zlib"]
        got = evaluate("sbom-validation", pod(clean))
        check("sbom-validation: a clean, signed SBOM is admitted", got == [], got)
        got = evaluate("sbom-validation", pod(clean), require_signature=True)
        check("sbom-validation: with require_signature, the SBOM's notation signature is found in nestedResults", got == [], got)
        got = evaluate("sbom-validation", pod(zlib))
        check("sbom-validation: syft's SBOM of alpine names Zlib: denied", len(got) == 1 and zlib in got[0], got)
        got = evaluate("sbom-validation", pod(images["supply-unsigned-sbom"]))
        check("sbom-validation: an SBOM without its required signature is denied", len(got) == 1, got)
        got = evaluate("sbom-validation", pod(signed))
        check("sbom-validation: an image without an SBOM is denied", len(got) == 1, got)
        got = evaluate("vulnerability-report-validation", pod(clean))
        check("vulnerability-report-validation: a fresh report with MEDIUM findings only is admitted", got == [], got)
        got = evaluate("vulnerability-report-validation", pod(images["supply-vulnerable"]))
        check("vulnerability-report-validation: a report with CRITICAL findings is denied", len(got) == 1, got)
        got = evaluate("vulnerability-report-validation", pod(images["supply-stale"]))
        check("vulnerability-report-validation: a report older than maximumAge is denied", len(got) == 1, got)
        got = evaluate("vulnerability-report-validation", pod(signed))
        check("vulnerability-report-validation: an image without a report is denied", len(got) == 1, got)
        got = evaluate("vulnerability-report-validation", pod(clean), require_signature=True)
        check("vulnerability-report-validation: with require_signature, an unsigned report is denied", len(got) == 1, got)
        got = evaluate("notation-nested-validation", pod(clean))
        check("notation-nested-validation: a signed image whose SBOM is signed is admitted", got == [], got)
        got = evaluate("notation-nested-validation", pod(notation))
        check("notation-nested-validation: a signed image with nothing nested is admitted", got == [], got)
        got = evaluate("notation-nested-validation", pod(images["supply-unsigned-sbom"]))
        check("notation-nested-validation: an unsigned image with an unsigned SBOM is denied", len(got) == 1, got)
        got = evaluate("notation-nested-validation", pod(signed))
        check("notation-nested-validation: a cosign-only image has no notary signature: denied", len(got) == 1, got)
        sbom_report = next(r for r in ask([images["supply-unsigned-sbom"]])["responses"][0][1]["verifierReports"] if r.get("verifierType") == "sbom")
        check("an SBOM without its nested signature carries a failing nested result (as Ratify's), not none",
              sbom_report["nestedResults"] and sbom_report["nestedResults"][0]["isSuccess"] is False, sbom_report)
        got = evaluate("ratify:notation-issuer-validation", pod(notation), {"issuer": "CN=Other CA,O=Example,C=US"})
        check("ratify notation-issuer-validation: another issuer is denied", len(got) >= 1 and "CN=Other CA" in got[0], got)
        answer = ask([unknown])
        check("an unresolvable key is answered with the item error, then a failing value (for templates reading only responses)",
              answer["errors"] and answer["errors"][0][0] == unknown and answer["responses"] and answer["responses"][0][0] == unknown
              and answer["responses"][0][1]["isSuccess"] is False
              and answer["responses"][0][1]["verifierReports"][0]["errorReason"] == "GET_SUBJECT_DESCRIPTOR_FAILURE", answer)

        # Ratify's regoPolicy (issue #19): the chart's policy, library/rego and the documented
        # examples, loaded unchanged by our server (each as policy.plugin.policyPath); for every
        # image its verdict must be the one regopy gives for the same policy on the reports our
        # server produced (Ratify's input: {"verifierReports": [...]}, the 1.1.0 answer's own list).
        rego_dir = os.path.join(ROOT, "Tests", "Conformance", "ratify-rego")
        base_config = json.load(open(config))
        rego_images = ["signed", "tampered", "notation", "supply-clean", "supply-zlib", "supply-vulnerable", "supply-unsigned-sbom"]
        for policy_file in sorted(os.listdir(rego_dir)):
            if not policy_file.endswith(".rego"):
                continue
            rego_config = os.path.join(work, f"rego-{policy_file}.json")
            with open(rego_config, "w") as f:
                json.dump({**base_config, "policy": {"version": "1.0.0", "plugin": {"name": "regoPolicy", "policyPath": os.path.join(rego_dir, policy_file)}}}, f)
            rego_port, rego_health = free_port(), free_port()
            rego_server = subprocess.Popen([BINARY, "serve", "--http", f"127.0.0.1:{rego_port}", "--health-port", f"127.0.0.1:{rego_health}",
                                            "--metrics-port", "off", "--cert-dir", os.path.join(work, "certs"), "-c", rego_config],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for_port(rego_health)
                rego_connection = http.client.HTTPSConnection("127.0.0.1", rego_port, context=ssl._create_unverified_context())
                keys = [images[name] for name in rego_images]
                rego_connection.request("POST", "/ratify/gatekeeper/v1/verify",
                                        json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}}),
                                        {"Content-Type": "application/json"})
                items = json.loads(rego_connection.getresponse().read())["response"]["items"]
                policy_text = open(os.path.join(rego_dir, policy_file)).read()
                verdicts = []
                for name, item in zip(rego_images, items):
                    value = item.get("value") or {}
                    reference = regopy_valid(policy_text, {"verifierReports": value.get("verifierReports", [])})
                    verdicts.append((name, value.get("isSuccess"), reference, value.get("version")))
                check(f"regoPolicy {policy_file}: our verdicts are regopy's on our reports",
                      all(ours == theirs and version == "1.1.0" for _, ours, theirs, version in verdicts), verdicts)
                if policy_file == "helm-policy-useRego.rego":
                    # Every report must pass and every artifact have one: an SBOM that passes counts as
                    # much as a signature here (the policy's choice, as in Ratify).
                    check("regoPolicy (chart default): images whose every artifact verified pass, the rest fail",
                          [v[1] for v in verdicts] == [True, False, True, True, False, False, True], verdicts)
            finally:
                rego_server.terminate()
                rego_server.wait(timeout=20)

        with open(os.path.join(ROOT, "library", "mutation", "mutation.yaml")) as f:
            assigns = list(yaml.safe_load_all(f))
        check("mutation: three Assigns use ratify-mutation-provider",
              len(assigns) == 3 and all(a["spec"]["parameters"]["assign"]["externalData"]["provider"] == "ratify-mutation-provider"
                                        for a in assigns), assigns)
    finally:
        try:
            silent.close()
        except NameError:
            pass
        if server:
            server.terminate()
            server.wait(timeout=20)
        registry.terminate()
        registry.wait(timeout=20)
    checks.finish()


if __name__ == "__main__":
    main()
