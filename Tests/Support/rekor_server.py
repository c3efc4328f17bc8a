#!/usr/bin/env python3
"""TEST DOUBLE of a Rekor server: the two read calls a verifier makes, in Rekor's API shapes.

  POST /api/v1/index/retrieve   {"hash": "sha256:<hex>"} -> ["<uuid>", ...] (entries whose
                                logged content hash is that hash)
  GET  /api/v1/log/entries/<uuid> -> {"<uuid>": {body, integratedTime, logID, logIndex,
                                verification: {signedEntryTimestamp}}}

The entries are real: each is built from a cosign Rekor bundle (`{"SignedEntryTimestamp",
"Payload": {body, integratedTime, logID, logIndex}}`) signed by a test log key
(Tests/Support/Fixtures/make_signatures.py), so what a client verifies is a real SET.

usage: rekor_server.py PORT BUNDLES_JSON [DELAY_SECONDS]   (BUNDLES_JSON: a list of bundle texts)
"""
import base64
import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, DELAY = int(sys.argv[1]), float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
ENTRIES = {}
with open(sys.argv[2]) as f:
    for text in json.load(f):
        bundle = json.loads(text)
        payload = bundle["Payload"]
        entry = {**payload, "verification": {"signedEntryTimestamp": bundle["SignedEntryTimestamp"]}}
        uuid = hashlib.sha256(base64.b64decode(payload["body"])).hexdigest()
        ENTRIES[uuid] = entry


def logged_hash(entry):
    spec = json.loads(base64.b64decode(entry["body"]))["spec"]
    data = spec["data"]["hash"]
    return f'{data["algorithm"]}:{data["value"]}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        time.sleep(DELAY)
        if self.path != "/api/v1/index/retrieve":
            return self.answer(404, {"code": 404, "message": "not found"})
        self.answer(200, [uuid for uuid, entry in ENTRIES.items() if logged_hash(entry) == request.get("hash")])

    def do_GET(self):
        time.sleep(DELAY)
        uuid = self.path.rsplit("/", 1)[-1]
        if not self.path.startswith("/api/v1/log/entries/") or uuid not in ENTRIES:
            return self.answer(404, {"code": 404, "message": "entry not found"})
        self.answer(200, {uuid: ENTRIES[uuid]})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
