#!/usr/bin/env python3
"""A test double of a Docker registry token service (docker/distribution "token.md"), for tests.

It answers GET /token?service=…&scope=… with a JWT that distribution's `token` auth accepts:
ES256, signed with Python's `cryptography` (independent of the code under test), the signing
certificate in the `x5c` header, claims iss/sub/aud/exp/nbf/iat/jti/access. Basic credentials
are required when USER is set. Every request is counted in COUNT_FILE (one line each).

usage: token_server.py PORT KEY_PEM CERT_PEM ISSUER SERVICE USER PASSWORD COUNT_FILE
"""
import base64
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

port, key_pem, cert_pem, issuer, service, user, password, count_file = sys.argv[1:9]
key = serialization.load_pem_private_key(open(key_pem, "rb").read(), password=None)
cert = x509.load_pem_x509_certificate(open(cert_pem, "rb").read())
x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        """The OAuth2 refresh-token grant (distribution's oauth.md): a form with grant_type,
        refresh_token (here: the PASSWORD), client_id, scope and service."""
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        with open(count_file, "a") as f:
            f.write(f"POST {self.path} grant_type={form.get('grant_type', [''])[0]} scope={form.get('scope', [''])[0]} "
                    f"content-type={self.headers.get('Content-Type')}\n")
        if urlparse(self.path).path != "/token" or form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [password]:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.issue(form.get("scope", []), form.get("service", [service])[0])

    def do_GET(self):
        with open(count_file, "a") as f:
            f.write(self.path + "\n")
        url = urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        if user:
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
        query = parse_qs(url.query)
        self.issue(query.get("scope", []), query.get("service", [service])[0])

    def issue(self, scopes, audience):
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": issuer, "sub": user or "anonymous", "aud": audience,
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
        body = json.dumps({"token": sign(claims), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
