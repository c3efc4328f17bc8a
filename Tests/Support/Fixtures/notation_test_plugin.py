#!/usr/bin/env python3
"""A Notary Project verification plugin for tests (plugin-extensibility.md, verification side),
standing in for vendor plugins such as notation-venafi-csp. Installed as `notation-<name>`; its
behaviour comes from `<executable>.json` next to it:

  {"name": "com.example.nv2plugin", "version": "1.0.0",
   "capabilities": ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"],
   "results": {"SIGNATURE_VERIFIER.TRUSTED_IDENTITY": {"success": false, "reason": "..."}},
   "processed": [...],                                # default: every unprocessed attribute
   "get-plugin-metadata": {"sleep": s, "exit": n, "stdout": "...", "stderr": "..."},
   "verify-signature": {...same overrides...}}

Without that file (a plugin pulled as a dynamic plugin) it is the plugin `<name>` of its file name
`notation-<name>`, with both capabilities, answering success.

Each request it receives is written to `<executable>.<command>.request.json`."""
import json
import sys
import time

executable = sys.argv[0]
command = sys.argv[1] if len(sys.argv) > 1 else ""
try:
    with open(executable + ".json") as f:
        behavior = json.load(f)
except FileNotFoundError:
    import os
    behavior = {"name": os.path.basename(executable).removeprefix("notation-")}
request = sys.stdin.read()
with open(f"{executable}.{command}.request.json", "w") as f:
    f.write(request)
override = behavior.get(command, {})
if override.get("sleep"):
    time.sleep(override["sleep"])
if "stderr" in override:
    sys.stderr.write(override["stderr"])
if "stdout" in override:
    sys.stdout.write(override["stdout"])
    sys.exit(override.get("exit", 0))
if override.get("exit"):
    sys.exit(override["exit"])
if command == "get-plugin-metadata":
    print(json.dumps({"name": behavior["name"], "description": "a test verification plugin", "version": behavior.get("version", "1.0.0"),
                      "url": "https://plugins.example.test", "supportedContractVersions": ["1.0"],
                      "capabilities": behavior.get("capabilities", ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"])}))
elif command == "verify-signature":
    parsed = json.loads(request)
    results = {capability: behavior.get("results", {}).get(capability, {"success": True})
               for capability in parsed["trustPolicy"]["signatureVerification"]}
    processed = behavior.get("processed", parsed["signature"]["unprocessedAttributes"] or [])
    print(json.dumps({"verificationResults": results, "processedAttributes": processed}))
else:
    sys.stderr.write(json.dumps({"errorCode": "VALIDATION_ERROR", "errorMessage": f"unknown command {command!r}"}))
    sys.exit(1)
