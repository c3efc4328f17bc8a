#!/usr/bin/env python3
"""Mutation check for trust rules (issue #17): each mutation disables one check in the sources;
the named tests must then fail. Restores every file. Usage: scripts/mutate.py MUTATIONS.json
where the file lists {"name", "file", "old", "new", "filter"}. Prints one line per mutation:
CAUGHT (some test failed) or MISSED (all tests still pass)."""
import json, subprocess, sys

mutations = json.load(open(sys.argv[1]))
results = []
for m in mutations:
    src = open(m["file"]).read()
    if src.count(m["old"]) != 1:
        print(f"SKIP   {m['name']}: pattern found {src.count(m['old'])} times", flush=True)
        continue
    try:
        open(m["file"], "w").write(src.replace(m["old"], m["new"]))
        build = subprocess.run(["swift", "build", "--build-tests"], capture_output=True, text=True)
        if build.returncode != 0:
            print(f"BUILD  {m['name']}: {build.stdout[-400:]}", flush=True)
            continue
        test = subprocess.run(["swift", "test", "--skip-build", "--filter", m["filter"]], capture_output=True, text=True)
        failed = [l for l in test.stdout.splitlines() if l.startswith("✘ Test") and "recorded an issue" not in l and "failed after" in l]
        verdict = "CAUGHT" if test.returncode != 0 else "MISSED"
        print(f"{verdict} {m['name']}: {'; '.join(x[7:80] for x in failed[:3])}", flush=True)
    finally:
        open(m["file"], "w").write(src)
