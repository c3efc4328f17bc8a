#!/usr/bin/env python3
"""A Ratify verifier plugin for tests, written to Ratify's plugin protocol (pkg/verifier/plugin):
command, subject and version in RATIFY_VERIFIER_* environment variables, {config, storeConfig,
referenceDesc} on stdin, one VerifierResult JSON line as the answer.

What it answers comes from the verifier's own config (`behavior`), so one copy serves every case:
  pass     isSuccess true, with extensions echoing what it was given
  fail     isSuccess false with a message
  exit     writes to stderr and exits 3
  nojson   prints only log lines
  twojson  prints two results
  hang     sleeps far past any deadline
  log      log lines on stderr before the result on stdout (Ratify reads both)
  orphan   leaves a child behind that holds stdout open for a minute, then answers and exits
Every request is recorded next to the executable as <exe>.request.json.
"""
import json
import os
import sys
import time

request = json.load(sys.stdin)
record = {
    "env": {k: v for k, v in os.environ.items() if k.startswith("RATIFY_VERIFIER_")},
    "stdin": request,
}
with open(os.path.abspath(sys.argv[0]) + ".request.json", "w") as f:
    json.dump(record, f)

config = request.get("config", {})
behavior = config.get("behavior", "pass")
name = config.get("name", "plugin")
result = {"name": name, "type": config.get("type", name), "isSuccess": True,
          "message": "checked " + request["referenceDesc"]["digest"],
          "extensions": {"subject": os.environ.get("RATIFY_VERIFIER_SUBJECT"),
                         "artifactType": request["referenceDesc"].get("artifactType")}}
if behavior == "fail":
    result.update(isSuccess=False, message="license GPL-3.0 is not allowed")
elif behavior == "exit":
    sys.stderr.write("plugin crashed: cannot read config\n")
    sys.exit(3)
elif behavior == "nojson":
    print("starting up")
    print("done")
    sys.exit(0)
elif behavior == "twojson":
    print(json.dumps(result))
elif behavior == "hang":
    time.sleep(600)
elif behavior == "orphan":
    import subprocess
    subprocess.Popen(["sleep", "60"], stdout=sys.stdout, stderr=sys.stderr)
elif behavior == "log":
    sys.stderr.write("level=info msg=reading sbom\n")
print(json.dumps(result))
