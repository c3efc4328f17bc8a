#!/usr/bin/env python3
"""A Ratify referrer store plugin for tests, written to Ratify's store plugin protocol
(pkg/referrerstore/plugin): the command, subject, version and arguments in RATIFY_STORE_*
environment variables, the store's settings as JSON on stdin, the answer on stdout.

It serves what the file named by the setting `content` holds:
  {"subjects": {"<reference>": descriptor}, "referrers": {"<subject digest>": [descriptor, ...]},
   "manifests": {"<digest>": reference manifest}, "blobs": {"<digest>": "<base64>"}}
Settings: `pageSize` (LISTREFERRERS answers in pages with nextToken), `fail` (a command that
exits 1 with a message on stderr), `corruptBlobs` (GETBLOB answers other bytes), `chatty` (log
lines on stderr, and on stdout around JSON answers, as Ratify plugins may write).
Every call is appended to <executable>.calls.jsonl as {"env": {...}, "config": {...}}.
"""
import base64
import json
import os
import sys

config = json.load(sys.stdin)
env = {k: v for k, v in os.environ.items() if k.startswith("RATIFY_STORE_")}
with open(os.path.abspath(sys.argv[0]) + ".calls.jsonl", "a") as f:
    f.write(json.dumps({"env": env, "config": config}) + "\n")
command, subject = env.get("RATIFY_STORE_COMMAND"), env.get("RATIFY_STORE_SUBJECT", "")
args = dict(pair.split("=", 1) for pair in env.get("RATIFY_STORE_ARGS", "").split(";") if pair)
if config.get("fail") == command:
    sys.stderr.write(json.dumps({"code": 8, "msg": f"{command} failed: registry unavailable"}))
    sys.exit(1)
with open(config["content"]) as f:
    content = json.load(f)
chatty = config.get("chatty")
if chatty:
    sys.stderr.write("level=info msg=plugin starting\n" * 50)
    if command != "GETBLOB":
        print("level=debug msg=answering " + str(command))

if command == "GETSUBJECTDESCRIPTOR":
    descriptor = content["subjects"].get(subject)
    if descriptor is None:
        sys.stderr.write(json.dumps({"code": 8, "msg": f"{subject} not found"}))
        sys.exit(1)
    print(json.dumps(descriptor))
elif command == "LISTREFERRERS":
    digest = subject.split("@", 1)[1]
    wanted = [t for t in args.get("artifactTypes", "").split(",") if t]
    referrers = [r for r in content["referrers"].get(digest, []) if not wanted or r.get("artifactType") in wanted]
    size = config.get("pageSize") or len(referrers) or 1
    start = int(args.get("nextToken") or 0)
    page = referrers[start:start + size]
    token = str(start + size) if start + size < len(referrers) else ""
    print(json.dumps({"referrers": page, "nextToken": token}))
elif command == "GETREFMANIFEST":
    print(json.dumps(content["manifests"][args["digest"]]))
elif command == "GETBLOB":
    data = base64.b64decode(content["blobs"][args["digest"]])
    sys.stdout.buffer.write(b"tampered" + data[8:] if config.get("corruptBlobs") else data)
else:
    sys.stderr.write(json.dumps({"code": 3, "msg": f"unknown command {command!r}"}))
    sys.exit(1)
