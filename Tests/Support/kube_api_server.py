#!/usr/bin/env python3
"""TEST DOUBLE of the Kubernetes API server — only what Ratify's CRD manager uses, speaking the
real wire format for the config.ratify.deislabs.io/v1beta1 resources (and core/v1 secrets):

  GET    /apis/<group>/<version>/<plural>                      list (all namespaces for namespaced kinds)
  GET    /apis/<group>/<version>/namespaces/<ns>/<plural>       list in a namespace
  GET    ...?watch=1&resourceVersion=N[&allowWatchBookmarks=true][&timeoutSeconds=S]
         chunked newline-delimited events {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...};
         a resourceVersion older than the retained history gets an ERROR event with a 410 Status
  POST   <collection>                                           create (201; 409 when it exists)
  PUT    <object> with metadata.resourceVersion                409 Conflict unless it is the current one
  PUT    <collection>/<name>                                    replace (generation +1 when the spec changes)
  DELETE <collection>/<name>                                    delete
  PATCH  <collection>/<name>/status                             JSON merge patch of .status (generation unchanged)
  GET    <collection>/<name>, /api/v1/namespaces/<ns>/secrets/<name>; POST /api/v1/namespaces/<ns>/secrets
  POST   /__compact        drop the event history and end every open watch stream, in one step: a watch
                            resuming from any version seen so far gets 410
                            (?status=1: as the HTTP status of the watch request, else as an ERROR event)
  A watch without resourceVersion (or 0) starts with ADDED events for the existing objects; events
  are streamed several to a chunk and split across chunks.
  POST   /__close-watches  end every open watch stream (clients must reconnect)

Every request must carry `Authorization: Bearer <token>` (401 otherwise). Lists, objects and
Status bodies are shaped like the real API's responses.

usage: kube_api_server.py PORT TOKEN
"""
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, TOKEN = int(sys.argv[1]), sys.argv[2]  # [argv[3] cert, argv[4] key: serve TLS]
GROUP, VERSION = "config.ratify.deislabs.io", "v1beta1"
KINDS = {"verifiers": "Verifier", "stores": "Store", "policies": "Policy", "keymanagementproviders": "KeyManagementProvider",
         "certificatestores": "CertificateStore", "namespacedverifiers": "NamespacedVerifier", "namespacedstores": "NamespacedStore",
         "namespacedpolicies": "NamespacedPolicy", "namespacedkeymanagementproviders": "NamespacedKeyManagementProvider"}

lock = threading.Condition()
state = {"rv": 100, "objects": {}, "events": [], "oldest": 100, "generation": 0, "gone_as_status": False}   # objects: (plural, ns, name) -> object


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def record(event_type, plural, obj):
    """Called with the lock held: bumps the resourceVersion and appends the event."""
    state["rv"] += 1
    obj["metadata"]["resourceVersion"] = str(state["rv"])
    state["events"].append((state["rv"], event_type, plural, json.loads(json.dumps(obj))))
    lock.notify_all()


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch, as the API server applies application/merge-patch+json:
    objects merge recursively, null removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def namespaced(plural):
    """Ratify's Namespaced* kinds, and CertificateStore (namespaced too, as in Ratify's CRDs)."""
    return plural.startswith("namespaced") or plural == "certificatestores"


def object_key(target):
    """(plural, namespace, name): namespaced kinds are keyed by namespace, cluster kinds are not."""
    return target and (target["plural"], target["namespace"] if namespaced(target["plural"]) else None, target["name"])


def parse_path(path):
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"] and len(parts) == 5 and parts[2] == "namespaces" and parts[4] and parts[3]:
        return None
    if parts[:3] != ["apis", GROUP, VERSION]:
        return None
    rest, namespace = parts[3:], None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in KINDS:
        return None
    return {"plural": rest[0], "namespace": namespace, "name": rest[1] if len(rest) > 1 else None, "sub": rest[2] if len(rest) > 2 else None}


# Core objects the manager reads (get only): registry secrets and the service accounts whose
# imagePullSecrets name them.
CORE_KINDS = {"secrets": "Secret", "serviceaccounts": "ServiceAccount"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, body):
        # A request's body is read before any answer, even a refusal: left unread on a keep-alive
        # connection it would be parsed as the next request.
        self.raw_body()
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def parse_request(self):
        self._body = None  # a new request on the connection: its body is not read yet
        return super().parse_request()

    def raw_body(self):
        if self._body is None:
            self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return self._body

    def body(self):
        return json.loads(self.raw_body() or b"{}")

    def authorized(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return False
        return True

    def do_POST(self):
        url = urlparse(self.path)
        if url.path == "/__compact":
            with lock:
                # ?status=1: a watch from a compacted version is refused with HTTP 410 itself (as
                # the API server does when it knows before streaming), else with an ERROR event.
                state["gone_as_status"] = parse_qs(url.query).get("status", ["0"])[0] == "1"
                # Everything up to now is compacted: resuming a watch from any version seen so far
                # gets 410; a fresh list hands out a version at the new horizon.
                state["events"].clear()
                state["rv"] += 1
                state["oldest"] = state["rv"]
                # Open streams end under the same lock. Were this a second call, a stream could
                # send a bookmark at the new horizon in between, and its client would resume
                # there without ever seeing the 410 this endpoint exists to provoke.
                state["generation"] += 1
                lock.notify_all()
            return self.send_json(200, {})
        if url.path == "/__close-watches":
            with lock:
                state["generation"] += 1
                lock.notify_all()
            return self.send_json(200, {})
        if not self.authorized():
            return
        parts = [p for p in url.path.split("/") if p]
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 5 and parts[4] in CORE_KINDS:
            obj = self.body()
            obj.update({"apiVersion": "v1", "kind": CORE_KINDS[parts[4]]})
            obj["metadata"]["namespace"] = parts[3]
            with lock:
                state["objects"][(parts[4], parts[3], obj["metadata"]["name"])] = obj
            return self.send_json(201, obj)
        target = parse_path(url.path)
        if not target or target["name"]:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        obj = self.body()
        name = obj.get("metadata", {}).get("name")
        namespace = target["namespace"] if namespaced(target["plural"]) else None
        key = (target["plural"], namespace, name)
        with lock:
            if key in state["objects"]:
                return self.send_json(409, status(409, "AlreadyExists", f'{target["plural"]}.{GROUP} "{name}" already exists'))
            obj["apiVersion"], obj["kind"] = f"{GROUP}/{VERSION}", KINDS[target["plural"]]
            obj["metadata"].update({"uid": str(uuid.uuid4()), "generation": 1, "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            if namespace:
                obj["metadata"]["namespace"] = namespace
            state["objects"][key] = obj
            record("ADDED", target["plural"], obj)
            return self.send_json(201, obj)

    def existing(self):
        """The request's target and object key, or (None, None) after answering 404. Call with the lock held."""
        target = parse_path(urlparse(self.path).path)
        key = object_key(target)
        if not target or key not in state["objects"]:
            self.send_json(404, status(404, "NotFound", "not found"))
            return None, None
        return target, key

    def do_PUT(self):
        if not self.authorized():
            return
        with lock:
            target, key = self.existing()
            if not key:
                return
            current, obj = state["objects"][key], self.body()
            # Optimistic concurrency: an update naming another resourceVersion than the current
            # one is refused with 409 Conflict (none named: unconditional, as the API allows).
            given = obj.get("metadata", {}).get("resourceVersion")
            if given and given != current["metadata"]["resourceVersion"]:
                return self.send_json(409, status(409, "Conflict", f'Operation cannot be fulfilled on {target["plural"]}.{GROUP} "{current["metadata"]["name"]}": the object has been modified; please apply your changes to the latest version and try again'))
            if obj.get("spec") != current.get("spec"):
                current["metadata"]["generation"] += 1
            current["spec"] = obj.get("spec")
            record("MODIFIED", target["plural"], current)
            return self.send_json(200, current)

    def do_PATCH(self):
        if not self.authorized():
            return
        target = parse_path(urlparse(self.path).path)
        if not target or target["sub"] != "status" or self.headers.get("Content-Type") != "application/merge-patch+json":
            return self.send_json(415 if target else 404, status(415, "UnsupportedMediaType", "status merge patches only"))
        with lock:
            target, key = self.existing()
            if not key:
                return
            current = state["objects"][key]
            current["status"] = merge_patch(current.get("status", {}), self.body().get("status", {}))
            record("MODIFIED", target["plural"], current)
            return self.send_json(200, current)

    def do_DELETE(self):
        if not self.authorized():
            return
        with lock:
            target, key = self.existing()
            if not key:
                return
            obj = state["objects"].pop(key)
            record("DELETED", target["plural"], obj)
            return self.send_json(200, obj)

    def do_GET(self):
        if not self.authorized():
            return
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 6 and parts[4] in CORE_KINDS:
            obj = state["objects"].get((parts[4], parts[3], parts[5]))
            return self.send_json(200, obj) if obj else self.send_json(404, status(404, "NotFound", f'{parts[4]} "{parts[5]}" not found'))
        target = parse_path(url.path)
        if not target:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        plural, namespace = target["plural"], target["namespace"]

        def matches(key):
            return key[0] == plural and (namespace is None or key[1] == namespace)

        if target["name"]:
            with lock:
                obj = state["objects"].get(object_key(target))
            return self.send_json(200, obj) if obj else self.send_json(404, status(404, "NotFound", "not found"))
        if query.get("watch", ["0"])[0] in ("1", "true"):
            with lock:
                gone = state["gone_as_status"] and 0 < int(query.get("resourceVersion", ["0"])[0] or 0) < state["oldest"]
            if gone:
                return self.send_json(410, status(410, "Expired", "too old resource version"))
            return self.watch(plural, matches, int(query.get("resourceVersion", ["0"])[0] or 0),
                              query.get("allowWatchBookmarks", ["false"])[0] == "true", int(query.get("timeoutSeconds", ["300"])[0]))
        with lock:
            items = [obj for key, obj in sorted(state["objects"].items(), key=lambda kv: str(kv[0])) if matches(key)]
            version = str(state["rv"])
        self.send_json(200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": KINDS[plural] + "List", "metadata": {"resourceVersion": version}, "items": items})

    def watch(self, plural, matches, since, bookmarks, timeout):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send_all(events):
            """As a real API server's stream may arrive: several events in one chunk, and an
            event split across two chunks (clients must not assume one event per chunk)."""
            data = b"".join(json.dumps(event).encode() + b"\n" for event in events)
            half = max(1, len(data) // 2)
            for part in (data[:half], data[half:]):
                if part:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()

        def send(event):
            send_all([event])

        deadline = time.time() + timeout
        with lock:
            generation = state["generation"]
            if since == 0:
                # No resourceVersion ("start at most recent" / "any"): synthetic ADDED events for
                # every existing object, then changes from the current version.
                existing = [obj for key, obj in sorted(state["objects"].items(), key=lambda kv: str(kv[0])) if matches(key)]
                since = state["rv"]
                if existing:
                    send_all([{"type": "ADDED", "object": obj} for obj in existing])
            if since < state["oldest"]:
                send({"type": "ERROR", "object": status(410, "Expired", f"too old resource version: {since} ({state['oldest']})")})
                self.wfile.write(b"0\r\n\r\n")
                return
        last_bookmark = time.time()
        try:
            while time.time() < deadline:
                with lock:
                    def ours():
                        return [e for e in state["events"] if e[0] > since and e[2] == plural
                                and matches((e[2], e[3]["metadata"].get("namespace"), None))]
                    if not ours() and state["generation"] == generation:
                        lock.wait(timeout=0.2)
                    # Read the events, the head and the close flag together, after any wait: a
                    # bookmark at `newest` must not skip an event that arrived during the wait.
                    pending = ours()
                    closed = state["generation"] != generation
                    newest = state["rv"]
                if pending:
                    send_all([{"type": kind, "object": obj} for rv, kind, _, obj in pending])
                    since = pending[-1][0]
                if closed:
                    break
                if bookmarks and time.time() - last_bookmark > 1:
                    send({"type": "BOOKMARK", "object": {"kind": KINDS[plural], "apiVersion": f"{GROUP}/{VERSION}",
                                                         "metadata": {"resourceVersion": str(max(since, newest))}}})
                    since = max(since, newest)
                    last_bookmark = time.time()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if len(sys.argv) > 4:
    # TLS, as the API server always speaks it in a cluster: argv[3] certificate chain, argv[4] key.
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
