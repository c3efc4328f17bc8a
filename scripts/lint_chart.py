#!/usr/bin/env python3
"""`make lint-chart`: Helm v4's own engine (helm-python-sdk, offline) lints and renders
charts/ratify for several value sets; every rendered Kubernetes manifest and every CRD is
validated against the Kubernetes schemas (kubernetes-validate, strict); Gatekeeper kinds are
checked for the fields Gatekeeper requires; Ratify's documented CR samples
(config/crd-samples) are validated against our CRD schemas. Prints "N passed, N failed"."""
import base64
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
FILE_MODE = {"crdManager": {"enabled": False}}
VALUE_SETS = {
    "defaults": {},
    "cosign keys + mutation, file mode": {**FILE_MODE, "cosignKeys": [KEY, KEY], "provider": {"enableMutation": True, "mutationFormat": "keep-tag"}},
    "notation certs + given TLS, no mTLS, file mode": {**FILE_MODE, "notationCerts": [CERT], "cosign": {"enabled": False},
                                                       "provider": {"tls": {"crt": CERT, "key": "k", "cabundle": CERT, "disableMutualTLS": True}}},
    "file mode, Ratify trust stores by notationCerts index": {**FILE_MODE, "notationCerts": [CERT, CERT], "notation": {"trustPolicies": [
        {"name": "prod", "registryScopes": ["*"], "trustStores": ["ca:notationCerts[0]", "tsa:notationCerts[1]"]}]}},
    "notation trust policies, file mode": {**FILE_MODE, "notationCerts": [CERT], "notation": {"trustPolicies": [
        {"name": "prod", "registryScopes": ["registry.example.com/prod/app"], "trustedIdentities": ["x509.subject: C=US, ST=WA, O=acme"]},
        {"signatureVerification": {"level": "audit"}}]}},
    "cosign keyless, file mode": {**FILE_MODE, "cosign": {"tLogVerify": True, "trustedRoot": '{"tlogs": []}',
                                  "keyless": {"enabled": True, "certificateIdentityRegExp": "^https://github.com/acme/",
                                              "certificateOIDCIssuer": "https://token.actions.githubusercontent.com"}}},
    "CRD mode with notation and cosign keys": {"notationCerts": [CERT, CERT], "cosignKeys": [KEY],
                                               "oras": {"authProviders": {"dockerConfigSecret": "regcred"}}},
    "CRD mode, Ratify trust stores by notationCerts index": {"notationCerts": [CERT, CERT], "notation": {"trustPolicies": [
        {"name": "prod", "registryScopes": ["*"], "trustStores": ["ca:notationCerts[0]", "tsa:notationCerts[1]"], "level": "permissive"}]}},
    "TUF refresh from a mirror with its own root": {"cosign": {"tuf": {"mirror": "https://tuf.example.com", "root": '{"signed": {}}', "refreshIntervalSeconds": 600}}},
    "cert-manager TLS": {"provider": {"tls": {"cabundle": CERT, "certManager": {"enabled": True, "issuerRef": {"name": "ratify-ca", "kind": "ClusterIssuer"}}}}},
    "registry auth, 2 replicas, json logs, this chart's old timeout keys": {
        **FILE_MODE, "oras": {"authProviders": {"dockerConfigSecret": "regcred"}, "useHttp": True},
        "replicaCount": 2, "logger": {"formatter": "json", "level": "debug"},
        "provider": {"timeout": {"validationTimeoutSeconds": None, "mutationTimeoutSeconds": None, "validation": 3, "mutation": 1}}},
    # Ratify's HA guide: --set replicaCount=3, the HA feature flag, provider.cache.type=dapr.
    "HA: 3 replicas sharing Redis (Ratify's HA guide flags)": {
        "replicaCount": 3, "featureFlags": {"RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY": True},
        "provider": {"cache": {"type": "dapr", "name": "dapr-redis"}}},
    "HA: own Redis, no password, named key secret": {
        "replicaCount": 2, "featureFlags": {"RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY": True},
        "provider": {"cache": {"type": "redis", "redis": {"address": "redis.cache:6379", "passwordSecret": {"name": ""},
                                                          "keySecret": {"name": "ratify-shared", "key": "hmac"}}}}},
    # Ratify's sample values for the supply-chain verifiers (built in since issue #18).
    "multi-platform images: every platform must be signed": {"policy": {"multiPlatform": "children"}},
    "the rego policy provider (policy.useRego)": {"policy": {"useRego": True}},
    "the rego policy provider, file mode": {**FILE_MODE, "policy": {"useRego": True}},
    "multi-platform, file mode": {**FILE_MODE, "policy": {"multiPlatform": "either"}},
    "SBOM and vulnerability-report verifiers": {
        "sbom": {"enabled": True, "notaryProjectSignatureRequired": True, "disallowedLicenses": ["GPL-3.0-only", "Zlib"],
                 "disallowedPackages": [{"name": "busybox", "version": "1.36.1-r0"}, {"name": "log4j"}]},
        "vulnerabilityreport": {"enabled": True, "maximumAge": "24h", "disallowedSeverities": ["high", "critical"],
                                "denylistCVEs": ["CVE-2021-44228"], "notaryProjectSignatureRequired": True,
                                "schemaURL": "https://json.schemastore.org/sarif-2.1.0-rtm.5.json"}},
    "Ratify 1.4.4 values file (every key set)": yaml.safe_load(open(os.path.join(CHART, "ci", "ratify-1.4.4-values.yaml"))),
    # Issue #20: cloud identity, as Ratify's chart renders it.
    "Azure workload identity + Key Vault certificates and keys": {
        "azureWorkloadIdentity": {"clientId": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11"},
        "oras": {"authProviders": {"azureWorkloadIdentityEnabled": True, "azureContainerRegistryEndpoints": ["myacr.azurecr.io", "*.azurecr.us"]}},
        "azurekeyvault": {"enabled": True, "vaultURI": "https://ratify.vault.azure.net/", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                          "certificates": [{"name": "signing", "version": ""}, {"name": "pinned", "version": "0123abcd"}],
                          "keys": [{"name": "cosign-key"}], "refreshInterval": "1h"},
        "notation": {"trustPolicies": [{"name": "akv", "registryScopes": ["*"], "trustStores": ["ca:azurekeyvault"]}]}},
    "legacy akvCertConfig (cert1Name / cert2Name)": {
        "azureWorkloadIdentity": {"clientId": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11"},
        "akvCertConfig": {"enabled": True, "vaultURI": "https://ratify.vault.azure.net/", "cert1Name": "c1", "cert1Version": "v1",
                          "cert2Name": "c2", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
    "Azure managed identity": {
        "azureManagedIdentity": {"clientId": "5b4f0d3c-0000-4000-8000-00000000abcd", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
        "oras": {"authProviders": {"azureManagedIdentityEnabled": True}}},
    "Azure workload identity, client id from the service account (no clientId), no chart service account": {
        "serviceAccount": {"create": False, "name": "ratify-wi"},
        "oras": {"authProviders": {"azureWorkloadIdentityEnabled": True}}},
    "AWS ECR (IRSA) with an API override": {
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ratify"}},
        "oras": {"authProviders": {"awsEcrBasicEnabled": True, "awsApiOverride": {
            "enabled": True, "endpoint": "https://vpce-0a1b.api.ecr.us-west-2.vpce.amazonaws.com", "partition": "aws", "region": "us-west-2"}}}},
    "Alibaba Cloud ACR (RRSA), file mode": {**FILE_MODE,
        "alibabacloudAcrConfig": {"defaultInstanceId": "cri-default", "acrInstancesConfig": [{"instanceName": "ratify", "instanceId": "cri-ratify"}]},
        "oras": {"authProviders": {"alibabacloudAcrBasicEnabled": True}}},
}
CLOUD = {
    "Azure workload identity + Key Vault certificates and keys": {
        "authProvider": {"name": "azureWorkloadIdentity", "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11", "endpoints": ["myacr.azurecr.io", "*.azurecr.us"]},
        "kmp": {"type": "azurekeyvault", "refreshInterval": "1h", "parameters": {
            "vaultURI": "https://ratify.vault.azure.net/", "certificates": [{"name": "signing", "version": ""}, {"name": "pinned", "version": "0123abcd"}],
            "keys": [{"name": "cosign-key", "version": ""}], "tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11"}},
        "label": True, "env": {}},
    "legacy akvCertConfig (cert1Name / cert2Name)": {
        "authProvider": None,
        "kmp": {"type": "azurekeyvault", "parameters": {
            "vaultURI": "https://ratify.vault.azure.net/", "certificates": [{"name": "c1", "version": "v1"}, {"name": "c2", "version": ""}],
            "keys": [], "tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47", "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11"}},
        "label": True, "env": {}},
    "Azure workload identity, client id from the service account (no clientId), no chart service account": {
        "authProvider": {"name": "azureWorkloadIdentity", "clientID": "", "endpoints": []}, "kmp": None, "label": True, "env": {}},
    "Azure managed identity": {
        "authProvider": {"name": "azureManagedIdentity", "clientID": "5b4f0d3c-0000-4000-8000-00000000abcd", "endpoints": []},
        "kmp": None, "label": False, "env": {"AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
    "AWS ECR (IRSA) with an API override": {
        "authProvider": {"name": "awsEcrBasic"}, "kmp": None, "label": False,
        "env": {"AWS_API_OVERRIDE_ENDPOINT": "https://vpce-0a1b.api.ecr.us-west-2.vpce.amazonaws.com", "AWS_API_OVERRIDE_PARTITION": "aws",
                "AWS_API_OVERRIDE_REGION": "us-west-2"}},
    "Alibaba Cloud ACR (RRSA), file mode": {
        "authProvider": {"name": "alibabacloudAcrBasic", "defaultInstanceId": "cri-default",
                         "acrInstancesConfig": [{"instanceName": "ratify", "instanceId": "cri-ratify"}]},
        "kmp": None, "label": False, "env": {}},
}
# Keys whose feature is another issue's: set, the chart refuses to render (never drops them).
REFUSED = {
    "instrumentation.metricsType otlp": {"instrumentation": {"metricsType": "otlp"}},
}
# Inconsistent HA settings: refused with what to set.
MISCONFIGURED = {
    "an unknown multiPlatform mode": ({"policy": {"multiPlatform": "all"}}, "policy.multiPlatform all is not supported"),
    "provider.cache.type dapr without the HA flag": ({"provider": {"cache": {"type": "dapr"}}}, "needs featureFlags.RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY"),
    "the HA flag with the in-process cache": ({"featureFlags": {"RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY": True}}, "needs provider.cache.enabled and provider.cache.type dapr"),
    "an unknown cache type": ({"provider": {"cache": {"type": "memcached"}}}, "provider.cache.type memcached is not supported"),
    "two auth providers at once": ({"oras": {"authProviders": {"awsEcrBasicEnabled": True, "k8secretsEnabled": True}}},
                                   "the store has one auth provider: choose one of"),
    "Key Vault in file mode": ({**FILE_MODE, "azureWorkloadIdentity": {"clientId": "c"}, "azurekeyvault": {
        "enabled": True, "vaultURI": "https://v.vault.azure.net", "tenantId": "t", "keys": [{"name": "k"}]}}, "need crdManager.enabled"),
    "Key Vault without vaultURI": ({"azureWorkloadIdentity": {"clientId": "c"}, "azurekeyvault": {"enabled": True, "tenantId": "t"}},
                                   "vaultURI must be provided when azurekeyvault is enabled"),
    "Key Vault without a workload identity client id": ({"azurekeyvault": {"enabled": True, "vaultURI": "https://v.vault.azure.net", "tenantId": "t"}},
                                                        "clientID must be provided when use workload identity in akv"),
    "an incomplete awsApiOverride": ({"oras": {"authProviders": {"awsEcrBasicEnabled": True, "awsApiOverride": {"enabled": True, "region": "us-west-2"}}}},
                                     "awsApiOverride needs endpoint, partition and region"),
}


def flatten(values, prefix=""):
    """Dotted keys of a values tree (leaves: scalars, lists and empty maps)."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix


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
        if name == "multi-platform images: every platform must be signed":
            policy = next((d["spec"] for d in docs if d["kind"] == "Policy"), {})
            check(f"[{name}] the Policy carries multiPlatform", policy.get("parameters", {}).get("multiPlatform") == "children", policy)
        if name.startswith("the rego policy provider"):
            rego_text = open(os.path.join(ROOT, "Tests", "Conformance", "ratify-rego", "helm-policy-useRego.rego")).read().rstrip("\n")
            if "file mode" in name:
                maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.json" in d.get("data", {})]
                plugin = json.loads(maps[0]["data"]["config.json"])["policy"]["plugin"] if maps else {}
            else:
                policy = next((d["spec"] for d in docs if d["kind"] == "Policy"), {})
                check(f"[{name}] the Policy is rego-policy", policy.get("type") == "rego-policy", policy)
                plugin = policy.get("parameters", {})
            check(f"[{name}] Ratify's default rego policy, verbatim", plugin.get("policy", "").rstrip("\n") == rego_text, plugin)
            check(f"[{name}] passthrough off", plugin.get("passthroughEnabled") is False, plugin)
        if name == "multi-platform, file mode":
            maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.json" in d.get("data", {})]
            plugin = json.loads(maps[0]["data"]["config.json"])["policy"]["plugin"] if maps else {}
            check(f"[{name}] config.json's policy carries multiPlatform", plugin.get("multiPlatform") == "either", plugin)
        if name == "SBOM and vulnerability-report verifiers":
            verifiers = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Verifier"}
            sbom, vuln = verifiers.get("verifier-sbom", {}), verifiers.get("verifier-vulnerabilityreport", {})
            check(f"[{name}] sbom Verifier as Ratify renders it", sbom.get("name") == "sbom" and sbom.get("artifactTypes") == "application/spdx+json"
                  and sbom.get("parameters") == {"disallowedPackages": [{"name": "busybox", "version": "1.36.1-r0"}, {"name": "log4j"}],
                                                 "disallowedLicenses": ["GPL-3.0-only", "Zlib"],
                                                 "nestedReferences": "application/vnd.cncf.notary.signature"}, sbom)
            check(f"[{name}] vulnerabilityreport Verifier as Ratify renders it", vuln.get("name") == "vulnerabilityreport"
                  and vuln.get("artifactTypes") == "application/sarif+json"
                  and vuln.get("parameters") == {"nestedReferences": "application/vnd.cncf.notary.signature", "maximumAge": "24h",
                                                 "schemaURL": "https://json.schemastore.org/sarif-2.1.0-rtm.5.json",
                                                 "disallowedSeverities": ["high", "critical"], "denylistCVEs": ["CVE-2021-44228"]}, vuln)
        if name in CLOUD:
            want = CLOUD[name]
            file_mode = not values.get("crdManager", {}).get("enabled", True)
            if file_mode:
                maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.json" in d.get("data", {})]
                store = json.loads(maps[0]["data"]["config.json"])["store"]["plugins"][0] if maps else {}
            else:
                store = next((d["spec"]["parameters"] for d in docs if d["kind"] == "Store"), {})
            check(f"[{name}] the store's authProvider as Ratify's chart renders it", store.get("authProvider") == want["authProvider"], store)
            kmp = next((d["spec"] for d in docs if d["kind"] == "KeyManagementProvider" and d["metadata"]["name"] == "kmprovider-akv"), None)
            check(f"[{name}] kmprovider-akv as Ratify's chart renders it", kmp == want["kmp"], kmp)
            deployment = next(d for d in docs if d["kind"] == "Deployment")
            pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
            accounts = [d for d in docs if d["kind"] == "ServiceAccount"]
            check(f"[{name}] azure.workload.identity/use on the pod when the workload identity is used, on the service account with a client id",
                  (pod_labels.get("azure.workload.identity/use") == "true") == want["label"]
                  and all((a["metadata"]["labels"].get("azure.workload.identity/use") == "true") == bool(values.get("azureWorkloadIdentity", {}).get("clientId"))
                          for a in accounts), pod_labels)
            environment = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
            check(f"[{name}] the provider's environment", all(environment.get(k) == v for k, v in want["env"].items())
                  and not any(k.startswith(("AWS_API_OVERRIDE", "AZURE_TENANT")) for k in set(environment) - set(want["env"])), environment)
            if want["kmp"] and want["kmp"]["parameters"]["keys"]:
                cosign = next(d["spec"] for d in docs if d["kind"] == "Verifier" and d["metadata"]["name"] == "verifier-cosign")
                check(f"[{name}] cosign trusts the vault's keys", {"provider": "kmprovider-akv"} in cosign["parameters"]["trustPolicies"][0]["keys"], cosign)
            if want["kmp"]:
                notation = next(d["spec"] for d in docs if d["kind"] == "Verifier" and d["metadata"]["name"] == "verifier-notation")
                stores = notation["parameters"]["verificationCertStores"]
                check(f"[{name}] notation trusts the vault's certificates", "kmprovider-akv" in json.dumps(stores), stores)
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
        crd_mode = values.get("crdManager", {}).get("enabled", True)
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        args, env = container["args"], {e["name"]: e.get("value") for e in container["env"]}
        check(f"[{name}] config.json has the executor and logger (and in file mode Ratify's other sections)",
              {"executor", "logger", "crl"} <= parsed.keys() and (crd_mode or {"store", "policy", "verifier"} <= parsed.keys()), parsed.keys())
        check(f"[{name}] --enable-crd-manager exactly in CRD mode", ("--enable-crd-manager" in args) == crd_mode, args)
        # Gatekeeper's client certificate is required (mTLS) unless provider.tls.disableMutualTLS.
        mtls = not values.get("provider", {}).get("tls", {}).get("disableMutualTLS", False)
        check(f"[{name}] --ca-cert-file (mutual TLS) exactly when disableMutualTLS is unset",
              ("--ca-cert-file=/usr/local/tls/client-ca/ca.crt" in args) == mtls, args)
        if values.get("cosign", {}).get("tuf", {}).get("mirror"):
            check(f"[{name}] TUF flags rendered", {"--tuf-mirror=https://tuf.example.com", "--tuf-cache=/.ratify/tuf", "--tuf-refresh-interval=600",
                                                    "--tuf-root=/usr/local/ratify-certs/cosign/tuf_root.json"} <= set(args), args)
        check(f"[{name}] feature flags as 1/0 and the namespace in the environment",
              env.get("RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS") in ("0", "1") and env.get("RATIFY_CERT_ROTATION") in ("0", "1")
              and "RATIFY_NAMESPACE" in env and env.get("RATIFY_CONFIG") == "/.ratify", env)
        if not crd_mode:
            items = next((v["secret"].get("items") for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "notation-certs"), None)
            policies = values.get("notation", {}).get("trustPolicies") or [{}]
            if items is not None and any(p.get("trustStores") for p in policies):
                check(f"[{name}] file mode: each certificate only in the trust stores its policy names",
                      all(i["path"].startswith(("x509/ca/", "x509/tsa/", "x509/signingAuthority/")) for i in items), items)
        if values.get("notationCerts") and not crd_mode:
            notation = next(p for p in parsed["verifier"]["plugins"] if p["name"] == "notation")
            policies = notation["trustPolicyDoc"]["trustPolicies"]
            wanted = values.get("notation", {}).get("trustPolicies") or [{}]
            check(f"[{name}] notation trust policies rendered with defaults",
                  len(policies) == len(wanted) and all((p["trustStores"] == ["ca:certs"] or w.get("trustStores")) and "level" in p["signatureVerification"]
                                                       for p, w in zip(policies, wanted))
                  and all(all(policy[k] == v for k, v in given.items() if k not in ("signatureVerification", "trustStores")) for policy, given in zip(policies, wanted)), policies)
        if crd_mode:
            kmps = {d["metadata"]["name"] for d in docs if d["kind"] == "KeyManagementProvider"}
            notation = next((d for d in docs if d["kind"] == "Verifier" and d["metadata"]["name"] == "verifier-notation"), None)
            cosign = next((d for d in docs if d["kind"] == "Verifier" and d["metadata"]["name"] == "verifier-cosign"), None)
            named = set()
            if notation:
                for stores in notation["spec"]["parameters"]["verificationCertStores"].values():
                    for entry in (stores.values() if isinstance(stores, dict) else [stores]):
                        named |= set(entry)
            if cosign and "keys" in cosign["spec"]["parameters"]["trustPolicies"][0]:
                named |= {k["provider"] for k in cosign["spec"]["parameters"]["trustPolicies"][0]["keys"]}
            # With no certificate (no key), the verifier still exists, as in Ratify's chart, naming the
            # provider notationCerts[0] (cosignKeys[0]) would create: those signatures fail, never go unverified.
            placeholders = set()
            akv = values.get("azurekeyvault", {}).get("enabled") or values.get("akvCertConfig", {}).get("enabled")
            if not (values.get("notationCerts") or values.get("notationCert") or akv):
                placeholders.add("ratify-notation-inline-cert-0")
            if not (values.get("cosignKeys") or values.get("cosign", {}).get("key") or values.get("cosign", {}).get("keyless", {}).get("enabled")
                    or (values.get("azurekeyvault", {}).get("enabled") and values.get("azurekeyvault", {}).get("keys"))):
                placeholders.add("ratify-cosign-inline-key-0")
            check(f"[{name}] CRD mode: verifiers name exactly the rendered key management providers (or the one a first certificate/key would create)",
                  named == kmps | placeholders and notation is not None and cosign is not None, (kmps, named))
            hooks = [d for d in docs if d["apiVersion"].startswith("config.ratify.deislabs.io")]
            check(f"[{name}] CRD mode: resources are pre-install hooks, as in Ratify",
                  all(d["metadata"].get("annotations", {}).get("helm.sh/hook") == "pre-install,pre-upgrade" for d in hooks)
                  and {"Store", "Policy"} <= {d["kind"] for d in hooks}, [d["metadata"]["name"] for d in hooks])
            if name.startswith("CRD mode, Ratify trust stores"):
                params = notation["spec"]["parameters"]
                check(f"[{name}] Ratify's trustStores mapping", params["verificationCertStores"] == {
                    "ca": {"cert-0": ["ratify-notation-inline-cert-0"]}, "tsa": {"cert-1": ["ratify-notation-inline-cert-1"]}}
                      and params["trustPolicyDoc"]["trustPolicies"][0]["trustStores"] == ["ca:cert-0", "tsa:cert-1"]
                      and params["trustPolicyDoc"]["trustPolicies"][0]["signatureVerification"]["level"] == "permissive", params)
        keyless = values.get("cosign", {}).get("keyless", {})
        if keyless.get("enabled") and not crd_mode:
            cosign = next(p for p in parsed["verifier"]["plugins"] if p["name"] == "cosign")
            policy = cosign["trustPolicies"][0]
            check(f"[{name}] keyless trust policy rendered", "keys" not in policy and policy["keyless"] == {
                "ctLogVerify": True, "certificateIdentityRegExp": keyless["certificateIdentityRegExp"],
                "certificateOIDCIssuer": keyless["certificateOIDCIssuer"]} and policy["tLogVerify"] is True
                  and cosign["trustedRoot"] == "/usr/local/ratify-certs/cosign/trusted_root.json", cosign)
        account = deployment["spec"]["template"]["spec"].get("serviceAccountName", "default")
        rendered_accounts = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
        user_account = values.get("serviceAccount", {}).get("create") is False and values.get("serviceAccount", {}).get("name") == account
        check(f"[{name}] the pod's service account exists (rendered, given by the user, or default)",
              account in rendered_accounts or account == "default" or user_account, (account, rendered_accounts))
        replicas = values.get("replicaCount", 1)
        pod = deployment["spec"]["template"]["spec"]
        pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
        check(f"[{name}] a PodDisruptionBudget and spreading over nodes exactly with more than one replica",
              (len(pdbs) == 1 and pdbs[0]["spec"]["minAvailable"] == 1 and "podAntiAffinity" in pod.get("affinity", {})) == (replicas > 1)
              or (replicas > 1 and values.get("affinity")), (pdbs, pod.get("affinity")))
        shared = values.get("featureFlags", {}).get("RATIFY_EXPERIMENTAL_HIGH_AVAILABILITY", False)
        env_from = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
        if shared:
            redis = values["provider"]["cache"].get("redis", {})
            key_secret = redis.get("keySecret", {}).get("name") or "ratify-shared-cache-key"
            generated = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "ratify-shared-cache-key"]
            check(f"[{name}] shared cache: Redis address, password and sealing key from Secrets in the environment",
                  env.get("RATIFY_REDIS_ADDRESS") == redis.get("address", "redis-master.gatekeeper-system.svc.cluster.local:6379")
                  and env_from.get("RATIFY_REDIS_KEY", {}).get("name") == key_secret
                  and (("RATIFY_REDIS_PASSWORD" in env_from) == (redis.get("passwordSecret", {}).get("name", "redis") != ""))
                  and f"--cache-type={values['provider']['cache']['type']}" in args and "--redis-timeout=100" in args, (env, env_from, args))
            check(f"[{name}] the sealing key Secret is generated exactly when none is named (48 random characters)",
                  (len(generated) == 1 and len(base64.b64decode(generated[0]["data"]["key"])) == 48) == (key_secret == "ratify-shared-cache-key"), generated)
        else:
            check(f"[{name}] no Redis settings without a shared cache", not any(k.startswith("RATIFY_REDIS") for k in env_from)
                  and not any(a.startswith("--redis") for a in args), args)
        provider = next(d for d in docs if d["kind"] == "Provider" and d["metadata"]["name"] == "ratify-provider")
        fullname = deployment["metadata"]["name"]
        check(f"[{name}] provider url", provider["spec"]["url"] == f"https://{fullname}.gatekeeper-system:6001/ratify/gatekeeper/v1/verify",
              provider["spec"]["url"])
        check(f"[{name}] hardened container", container["securityContext"]["readOnlyRootFilesystem"]
              and deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
              and container["livenessProbe"]["httpGet"]["port"] == "healthz", container["securityContext"])
    # Every key of Ratify 1.4.4's values.yaml (charts/ratify/README.md's table) is one of ours, and
    # the Ratify values file used above sets every one of them.
    with open(os.path.join(CHART, "README.md")) as f:
        ratify_keys = [line.split("`")[1] for line in f if line.startswith("| `")]
    with open(os.path.join(CHART, "values.yaml")) as f:
        ours = set(flatten(yaml.safe_load(f)))
    ci_keys = set(flatten(VALUE_SETS["Ratify 1.4.4 values file (every key set)"]))
    check("README table lists Ratify 1.4.4's 119 keys", len(ratify_keys) == 119, len(ratify_keys))
    missing = [k for k in ratify_keys if k not in ours and not any(o.startswith(k + ".") for o in ours)]
    check("every Ratify 1.4.4 key is in values.yaml", not missing, missing)
    unset = [k for k in ratify_keys if k not in ci_keys and not any(o.startswith(k + ".") for o in ci_keys)]
    check("the Ratify values file sets every key", not unset, unset)
    for label, values in REFUSED.items():
        try:
            chart.render(values, name="ratify", namespace="gatekeeper-system", is_install=True)
            check(f"{label} is refused, named", False, "rendered")
        except Exception as error:
            check(f"{label} is refused, named", "not available in this version of ratify" in str(error) and label.split()[0] in str(error), error)
    for label, (values, message) in MISCONFIGURED.items():
        try:
            chart.render(values, name="ratify", namespace="gatekeeper-system", is_install=True)
            check(f"{label} is refused", False, "rendered")
        except Exception as error:
            check(f"{label} is refused", message in str(error), error)
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
