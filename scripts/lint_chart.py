#!/usr/bin/env python3
"""`make lint-chart`: Helm v4's own engine (helm-python-sdk, offline) lints and renders
charts/ratify for several value sets; every rendered Kubernetes manifest and every CRD is
validated against the Kubernetes schemas (kubernetes-validate, strict); Gatekeeper kinds are
checked for the fields Gatekeeper requires; Ratify's documented CR samples
(config/crd-samples) are validated against our CRD schemas. Prints "N passed, N failed"."""
import glob
import json
import os
import sys

import helm_python
import jsonschema
import kubernetes_validate
import yaml
from testkit import Checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "charts", "ratify")
KUBE = "1.30.0"
KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
VALUE_SETS = {
    "defaults": {},
    "cosign keys + mutation": {"cosignKeys": [KEY, KEY], "provider": {"enableMutation": True, "mutationFormat": "strip-tag"}},
    "notation certs + given TLS, no mTLS": {"notationCerts": [CERT], "cosign": {"enabled": False},
                                            "provider": {"tls": {"crt": CERT, "key": "k", "cabundle": CERT, "disableMutualTLS": True}}},
    "notation trust policies": {"notationCerts": [CERT], "notation": {"trustPolicies": [
        {"name": "prod", "registryScopes": ["registry.example.com/prod/app"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=acme"]},
        {"signatureVerification": {"level": "audit"}}]}},
    "cosign keyless": {"cosign": {"tLogVerify": True, "trustedRoot": '{"tlogs": []}',
                                  "keyless": {"enabled": True, "certificateIdentityRegExp": "^https://github.com/acme/",
                                              "certificateOIDCIssuer": "https://token.actions.githubusercontent.com"}}},
    "CRD manager with notation and cosign keys": {"crdManager": {"enabled": True}, "notationCerts": [CERT, CERT], "cosignKeys": [KEY],
                                                   "oras": {"authProviders": {"dockerConfigSecret": "regcred"}}},
    "cert-manager TLS": {"provider": {"tls": {"cabundle": CERT, "certManager": {"enabled": True, "issuerRef": {"name": "ratify-ca", "kind": "ClusterIssuer"}}}}},
    "registry auth, 2 replicas, json logs": {"oras": {"authProviders": {"dockerConfigSecret": "regcred"}, "useHttp": True},
                                              "replicaCount": 2, "logger": {"formatter": "json", "level": "debug"},
                                              "provider": {"timeout": {"validation": 3, "mutation": 1}}},
}
checks = Checks("lint-chart")
check = checks.check


def gatekeeper_ok(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "Provider":
        return spec.get("url", "").startswith("https://") and isinstance(spec.get("timeout"), int) and spec.get("caBundle")
    if doc["kind"] == "Assign":
        data = spec.get("parameters", {}).get("assign", {}).get("externalData", {})
        return spec.get("location") and data.get("provider") == "ratify-mutation-provider"
    return False


def main():
    chart = helm_python.Chart.load(CHART)
    try:
        chart.render({"provider": {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "x"}}}}},
                     name="ratify", namespace="gatekeeper-system", is_install=True)
        check("cert-manager without cabundle is refused", False, "rendered")
    except Exception as error:  # the template's fail
        check("cert-manager without cabundle is refused", "needs provider.tls.cabundle" in str(error), error)
    schemas = {}
    for path in sorted(glob.glob(os.path.join(CHART, "crds", "*.yaml"))):
        with open(path) as f:
            crd = yaml.safe_load(f)
        try:
            kubernetes_validate.validate(crd, KUBE, strict=True)
            check(f"CRD {crd['metadata']['name']}", True)
        except Exception as error:
            check(f"CRD {crd['metadata']['name']}", False, error)
        schemas[crd["spec"]["names"]["kind"]] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for name, values in VALUE_SETS.items():
        report = helm_python.lint(CHART, values, strict=True, namespace="gatekeeper-system", kube_version="v" + KUBE)
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        check(f"[{name}] helm lint --strict", not problems, problems)
        rendered = chart.render(values, name="ratify", namespace="gatekeeper-system", is_install=True)
        docs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
        for doc in docs:
            label = f"[{name}] {doc['kind']}/{doc['metadata']['name']}"
            if doc["apiVersion"].split("/")[0] in ("externaldata.gatekeeper.sh", "mutations.gatekeeper.sh"):
                check(label + " (Gatekeeper fields)", gatekeeper_ok(doc), doc.get("spec"))
                continue
            if doc["apiVersion"] == "cert-manager.io/v1":
                spec = doc.get("spec", {})
                check(label + " (cert-manager fields)", doc["kind"] == "Certificate" and spec.get("secretName") == "ratify-tls"
                      and "ratify.gatekeeper-system" in spec.get("dnsNames", []) and spec.get("issuerRef", {}).get("name"), spec)
                continue
            if doc["apiVersion"].split("/")[0] == "config.ratify.deislabs.io":
                schema = json.loads(json.dumps(schemas.get(doc["kind"], {})).replace('"x-kubernetes-preserve-unknown-fields": true', '"additionalProperties": true'))
                try:
                    jsonschema.validate(doc, schema)
                    check(label + " fits its CRD", doc["kind"] in schemas)
                except jsonschema.ValidationError as error:
                    check(label + " fits its CRD", False, error.message)
                continue
            try:
                kubernetes_validate.validate(doc, KUBE, strict=True)
                check(label, True)
            except Exception as error:  # ValidationError, SchemaNotFoundError
                check(label, False, error)
        config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["config.json"]
        parsed = json.loads(config)
        check(f"[{name}] config.json has Ratify's sections", {"store", "policy", "verifier", "executor"} <= parsed.keys(), parsed.keys())
        if values.get("notationCerts"):
            notation = next(p for p in parsed["verifier"]["plugins"] if p["name"] == "notation")
            policies = notation["trustPolicyDoc"]["trustPolicies"]
            wanted = values.get("notation", {}).get("trustPolicies") or [{}]
            check(f"[{name}] notation trust policies rendered with defaults",
                  len(policies) == len(wanted) and all(p["trustStores"] == ["ca:certs"] and "level" in p["signatureVerification"] for p in policies)
                  and all(all(policy[k] == v for k, v in given.items()) for policy, given in zip(policies, wanted)), policies)
        if values.get("crdManager", {}).get("enabled"):
            args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
            kmps = {d["metadata"]["name"] for d in docs if d["kind"] == "KeyManagementProvider"}
            notation = next((d for d in docs if d["kind"] == "Verifier" and d["metadata"]["name"] == "verifier-notation"), None)
            cosign = next((d for d in docs if d["kind"] == "Verifier" and d["metadata"]["name"] == "verifier-cosign"), None)
            named = set(notation["spec"]["parameters"]["verificationCertStores"]["ca"]["ca-certs"]) | {k["provider"] for k in cosign["spec"]["parameters"]["trustPolicies"][0]["keys"]}
            check(f"[{name}] CRD mode: --enable-crd-manager and verifiers naming the rendered key management providers",
                  "--enable-crd-manager" in args and named == kmps and len(kmps) == 3
                  and notation["spec"]["parameters"]["trustPolicyDoc"]["trustPolicies"][0]["trustStores"] == ["ca:ca-certs"], (args, kmps, named))
        keyless = values.get("cosign", {}).get("keyless", {})
        if keyless.get("enabled"):
            cosign = next(p for p in parsed["verifier"]["plugins"] if p["name"] == "cosign")
            policy = cosign["trustPolicies"][0]
            check(f"[{name}] keyless trust policy rendered", "keys" not in policy and policy["keyless"] == {
                "ctLogVerify": True, "certificateIdentityRegExp": keyless["certificateIdentityRegExp"],
                "certificateOIDCIssuer": keyless["certificateOIDCIssuer"]} and policy["tLogVerify"] is True
                  and cosign["trustedRoot"] == "/usr/local/ratify-certs/cosign/trusted_root.json", cosign)
        provider = next(d for d in docs if d["kind"] == "Provider" and d["metadata"]["name"] == "ratify-provider")
        check(f"[{name}] provider url", provider["spec"]["url"] == "https://ratify.gatekeeper-system:6001/ratify/gatekeeper/v1/verify",
              provider["spec"]["url"])
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        check(f"[{name}] hardened container", container["securityContext"]["readOnlyRootFilesystem"]
              and deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
              and container["livenessProbe"]["httpGet"]["port"] == "health", container["securityContext"])
    for path in sorted(glob.glob(os.path.join(ROOT, "config", "crd-samples", "*.yaml"))):
        with open(path) as f:
            sample = yaml.safe_load(f)
        schema = json.loads(json.dumps(schemas.get(sample["kind"], {})).replace('"x-kubernetes-preserve-unknown-fields": true', '"additionalProperties": true'))
        try:
            jsonschema.validate(sample, schema)
            check(f"sample {os.path.basename(path)} fits the {sample['kind']} CRD", sample["kind"] in schemas)
        except jsonschema.ValidationError as error:
            check(f"sample {os.path.basename(path)}", False, error.message)
    checks.finish()


if __name__ == "__main__":
    main()
