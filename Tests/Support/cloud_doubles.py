#!/usr/bin/env python3
"""Test doubles of the cloud identity services ratify talks to, on one loopback port. Each
follows the provider's documented wire format; none is the real service (label: DOUBLE).

  Entra ID   POST /<tenant>/oauth2/v2.0/token        client-credentials grant, client assertion =
                                                     the federated (service account) token
  IMDS       GET  /metadata/identity/oauth2/token    `Metadata: true`, resource, client_id
  ACR        POST /oauth2/exchange                   Entra token -> ACR refresh token
             POST /oauth2/token (refresh_token grant) or GET with Basic 0000…:<refresh>
                                                     -> ACR access token for a repository scope
  AWS STS    POST / Action=AssumeRoleWithWebIdentity  (form; unsigned, as the API defines it)
  AWS ECR    POST / X-Amz-Target …GetAuthorizationToken  SigV4 checked with botocore's own signer
  Alibaba    POST /?Action=AssumeRoleWithOIDC        (STS, anonymous)
             POST /?InstanceId=…  x-acs-action: GetAuthorizationToken  (ACS3-HMAC-SHA256 checked)
  Key Vault  GET  /certificates|secrets|keys/<name>[/<version>]?api-version=7.4  (Bearer, challenge)
  Registry   /v2/…  authenticated as the configured service does it ("acr": bearer tokens from
             /oauth2/token; "ecr" and "alibaba": Basic with the issued password), then proxied
             to an open docker-registry.

The configuration is a JSON file re-read on every request (a test changes lifetimes, clock skew or
Key Vault versions mid-run); every request is appended to LOG as one JSON line.

usage: cloud_doubles.py PORT CONFIG_JSON LOG
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import secrets
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

port, config_path, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
issued = {}  # token -> {"kind", "expires", ...}


def config():
    with open(config_path) as f:
        return json.load(f)


def now(cfg):
    """The service's clock: ours moved by `clockSkewSeconds`."""
    return time.time() + cfg.get("clockSkewSeconds", 0)


def issue(kind, lifetime, **extra):
    token = f"{kind}.{secrets.token_hex(16)}"
    with lock:
        issued[token] = dict(kind=kind, expires=time.time() + lifetime, **extra)
    return token


def valid(token, kind):
    with lock:
        entry = issued.get(token)
    if entry and entry["kind"] == kind and entry["expires"] > time.time():
        return entry
    return None


def pem_to_jwk(pem, hsm):
    """A public key as Key Vault's JWK (RFC 7517/7518: base64url without padding), with Python's
    `cryptography` — independent of the code under test."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def b64(number, size=None):
        raw = number.to_bytes(size or (number.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    key = serialization.load_pem_public_key(pem.encode())
    suffix = "-HSM" if hsm else ""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA" + suffix, "key_ops": ["verify"], "n": b64(numbers.n), "e": b64(numbers.e)}
    numbers = key.public_numbers()
    crv, size = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48), "secp521r1": ("P-521", 66)}[key.curve.name]
    return {"kty": "EC" + suffix, "key_ops": ["verify"], "crv": crv, "x": b64(numbers.x, size), "y": b64(numbers.y, size)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def log_error(self, format, *args):
        # Protocol errors (a request line that does not parse, a method with no do_*) go to
        # double.log with the line as received, so a failing test can say what arrived.
        sys.stderr.write("%s: %s; request line %r\n" % (self.client_address, format % args, getattr(self, "raw_requestline", b"")[:300]))
        sys.stderr.flush()

    def date_time_string(self, timestamp=None):
        """The service's clock (send_response's Date header): ours moved by clockSkewSeconds."""
        return formatdate(now(config()), usegmt=True)

    def note(self, what, **extra):
        with open(log_path, "a") as f:
            f.write(json.dumps(dict(what=what, method=self.command, path=self.path, **extra)) + "\n")

    def reply(self, status, body=b"", content_type="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        cfg = self.cfg
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def form(self, body):
        return {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}

    # ---- routing ----
    def do_GET(self):
        self.route(b"")

    def do_HEAD(self):
        self.route(b"")

    def do_POST(self):
        self.route(self.read_body())

    def route(self, body):
        self.cfg = config()
        url = urlparse(self.path)
        if url.path.startswith("/v2/"):
            return self.registry(body)
        if url.path == "/huge":  # a hostile identity endpoint: 2 MiB of JSON-looking bytes
            self.note("huge")
            return self.reply(200, b'{"access_token":"' + b"a" * (2 * 1024 * 1024) + b'"}')
        if url.path == "/redirect":  # a 307 to /redirected: a client following it re-sends its body
            self.note("redirect")
            return self.reply(307, b"", headers=[("Location", "/redirected")])
        if url.path == "/redirected":
            self.note("redirected", body=body.decode(errors="replace"))
            return self.reply(200, {})
        if url.path.endswith("/oauth2/v2.0/token"):
            return self.entra(body)
        if url.path == "/metadata/identity/oauth2/token":
            return self.imds()
        if url.path == "/oauth2/exchange":
            return self.acr_exchange(body)
        if url.path == "/oauth2/token":
            return self.acr_token(body)
        if self.headers.get("X-Amz-Target"):
            return self.ecr(body)
        if self.command == "POST" and url.path == "/" and "x-acs-action" in {k.lower() for k in self.headers.keys()}:
            return self.alibaba_cr(body)
        if self.command == "POST" and "Action=AssumeRoleWithOIDC" in url.query:
            return self.alibaba_sts(body)
        if self.command == "POST" and url.path == "/":
            return self.sts(body)
        for kind in ("certificates", "secrets", "keys"):
            if url.path.startswith(f"/{kind}/"):
                return self.keyvault(kind, url)
        self.note("unknown")
        self.reply(404, {"error": "no such endpoint in the double"})

    # ---- Entra ID ----
    def entra(self, body):
        az = self.cfg["azure"]
        form = self.form(body)
        tenant = urlparse(self.path).path.split("/")[1]
        self.note("entra", scope=form.get("scope"), tenant=tenant)
        with open(az["federatedTokenFile"]) as f:
            assertion = f.read().strip()
        if tenant != az["tenantID"]:
            return self.reply(400, {"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."})
        if form.get("grant_type") != "client_credentials" or \
                form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return self.reply(400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: unsupported grant"})
        if form.get("client_id") != az["clientID"]:
            return self.reply(400, {"error": "unauthorized_client", "error_description": f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found in the directory."})
        if form.get("client_assertion") != assertion:
            return self.reply(401, {"error": "invalid_client", "error_description": "AADSTS700024: Client assertion is not within its valid time range."})
        lifetime = az.get("tokenLifetime", 3600)
        token = issue("aad", lifetime, scope=form.get("scope"))
        self.reply(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})

    def imds(self):
        az = self.cfg["azure"]
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        self.note("imds", resource=query.get("resource"), client_id=query.get("client_id"))
        if self.headers.get("Metadata") != "true":
            return self.reply(400, {"error": "invalid_request", "error_description": "Required metadata header not specified"})
        if query.get("api-version") is None or query.get("resource") is None:
            return self.reply(400, {"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"})
        if az.get("managedClientID") and query.get("client_id") != az["managedClientID"]:
            return self.reply(400, {"error": "invalid_request", "error_description": "Identity not found"})
        lifetime = az.get("tokenLifetime", 3600)
        token = issue("aad", lifetime, scope=query["resource"] + "/.default")
        self.reply(200, {"access_token": token, "expires_in": str(lifetime), "expires_on": str(int(now(self.cfg) + lifetime)),
                         "resource": query["resource"], "token_type": "Bearer"})

    # ---- ACR ----
    def acr_exchange(self, body):
        form = self.form(body)
        self.note("acr-exchange", service=form.get("service"))
        entry = valid(form.get("access_token", ""), "aad")
        if form.get("grant_type") != "access_token" or entry is None or entry["scope"] != "https://containerregistry.azure.net/.default":
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid or expired AAD access token"}]})
        lifetime = self.cfg["azure"].get("refreshLifetime", 10800)
        self.reply(200, {"refresh_token": issue("acr-refresh", lifetime)})

    def acr_token(self, body):
        if self.command == "POST":
            form = self.form(body)
            refresh, scope = form.get("refresh_token", ""), form.get("scope", "")
            grant = form.get("grant_type")
        else:
            query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            scope, grant = query.get("scope", ""), "basic"
            user, _, refresh = base64.b64decode(self.headers.get("Authorization", "Basic ")[6:] or b"").decode().partition(":")
        self.note("acr-token", grant=grant, scope=scope)
        if valid(refresh, "acr-refresh") is None:
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid or expired refresh token"}]})
        lifetime = self.cfg["azure"].get("accessLifetime", 3600)
        self.reply(200, {"access_token": issue("acr-access", lifetime, scope=scope), "expires_in": lifetime})

    # ---- AWS ----
    def sts(self, body):
        aws = self.cfg["aws"]
        form = self.form(body)
        self.note("sts", action=form.get("Action"))
        with open(aws["webIdentityTokenFile"]) as f:
            expected = f.read().strip()
        if form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("Version") != "2011-06-15":
            return self.reply(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>bad action</Message></Error></ErrorResponse>", "text/xml")
        if form.get("WebIdentityToken") != expected or form.get("RoleArn") != aws["roleARN"]:
            return self.reply(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn&apos;t retrieve verification key from your identity provider</Message></Error></ErrorResponse>", "text/xml")
        lifetime = aws.get("sessionLifetime", 3600)
        key = "ASIA" + secrets.token_hex(8).upper()
        secret, session = secrets.token_urlsafe(30), secrets.token_urlsafe(60)
        with lock:
            issued[key] = dict(kind="aws-session", secret=secret, session=session, expires=time.time() + lifetime)
        expiration = datetime.datetime.fromtimestamp(now(self.cfg) + lifetime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:gatekeeper-system:ratify-admin</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>{session}</SessionToken>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <Expiration>{expiration}</Expiration>
      <AccessKeyId>{key}</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>""", "text/xml")

    def ecr(self, body):
        aws = self.cfg["aws"]
        target = self.headers.get("X-Amz-Target")
        authorization = self.headers.get("Authorization", "")
        self.note("ecr", target=target)
        if target != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken":
            return self.reply(400, {"__type": "UnknownOperationException"}, "application/x-amz-json-1.1")
        try:
            credential = authorization.split("Credential=")[1].split(",")[0]
            key, day, region, service, _ = credential.split("/")
        except Exception:
            return self.reply(403, {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}, "application/x-amz-json-1.1")
        with lock:
            session = issued.get(key)
        if not session or session["kind"] != "aws-session" or session["expires"] < time.time() or \
                self.headers.get("X-Amz-Security-Token") != session["session"]:
            return self.reply(403, {"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}, "application/x-amz-json-1.1")
        stamp = self.headers.get("X-Amz-Date", "")
        signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        if abs(signed_at - now(self.cfg)) > 15 * 60:
            server = datetime.datetime.fromtimestamp(now(self.cfg), datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            return self.reply(400, {"__type": "InvalidSignatureException",
                                    "message": f"Signature expired: {stamp} is now earlier than {server} (15 min)"}, "application/x-amz-json-1.1")
        # botocore's own signer over the request as received, at the request's own time.
        request = AWSRequest(method="POST", url=f"http://{self.headers['Host']}{self.path}", data=body)
        signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        for name in signed_names:
            request.headers[name] = self.headers.get(name, "")
        request.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(key, session["secret"], session["session"]), service, region)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        given = authorization.split("Signature=")[1].strip()
        if service != "ecr" or region != aws.get("region", region) or not hmac.compare_digest(expected, given):
            return self.reply(403, {"__type": "InvalidSignatureException",
                                    "message": "The request signature we calculated does not match the signature you provided."}, "application/x-amz-json-1.1")
        lifetime = aws.get("tokenLifetime", 43200)
        password = issue("ecr-password", lifetime)
        token = base64.b64encode(f"AWS:{password}".encode()).decode()
        self.reply(200, {"authorizationData": [{"authorizationToken": token, "expiresAt": now(self.cfg) + lifetime,
                                                "proxyEndpoint": f"https://{aws.get('registryHost', 'registry')}"}]},
                   "application/x-amz-json-1.1")

    # ---- Alibaba Cloud ----
    def alibaba_sts(self, body):
        ali = self.cfg["alibaba"]
        form = self.form(body)
        self.note("alibaba-sts")
        with open(ali["oidcTokenFile"]) as f:
            expected = f.read().strip()
        if form.get("OIDCToken") != expected or form.get("RoleArn") != ali["roleARN"] or form.get("OIDCProviderArn") != ali["oidcProviderARN"]:
            return self.reply(400, {"Code": "AuthenticationFail.OIDCToken.Invalid", "Message": "The OIDC token is invalid."})
        lifetime = ali.get("sessionLifetime", 3600)
        key, secret, token = "STS." + secrets.token_hex(8), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        with lock:
            issued[key] = dict(kind="ali-session", secret=secret, session=token, expires=time.time() + lifetime)
        expiration = datetime.datetime.fromtimestamp(now(self.cfg) + lifetime, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, {"RequestId": secrets.token_hex(8), "Credentials": {"AccessKeyId": key, "AccessKeySecret": secret,
                                                                         "SecurityToken": token, "Expiration": expiration}})

    def alibaba_cr(self, body):
        """ACS3-HMAC-SHA256, computed here from Alibaba Cloud's published V3 signature algorithm."""
        ali = self.cfg["alibaba"]
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query, keep_blank_values=True).items()}
        self.note("alibaba-cr", action=headers.get("x-acs-action"), instance=query.get("InstanceId"))
        auth = headers.get("authorization", "")
        try:
            fields = dict(part.split("=", 1) for part in auth[len("ACS3-HMAC-SHA256 "):].split(","))
            key, signed, given = fields["Credential"], fields["SignedHeaders"].split(";"), fields["Signature"]
        except Exception:
            return self.reply(400, {"Code": "MissingAuthorization", "Message": "no ACS3 authorization"})
        with lock:
            session = issued.get(key)
        if not session or session["kind"] != "ali-session" or headers.get("x-acs-security-token") != session["session"]:
            return self.reply(400, {"Code": "InvalidSecurityToken.Mismatch", "Message": "security token mismatch"})

        def enc(text):
            from urllib.parse import quote
            return quote(text, safe="-_.~")

        canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
        payload = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256") != payload:
            return self.reply(400, {"Code": "IncompleteSignature", "Message": "content hash"})
        canonical = "\n".join(["POST", "/", canonical_query, canonical_headers, ";".join(signed), payload])
        string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(session["secret"].encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
        if sorted(signed) != signed or not {"host", "x-acs-action", "x-acs-date"} <= set(signed) or not hmac.compare_digest(expected, given):
            return self.reply(400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation."})
        if headers.get("x-acs-action") != "GetAuthorizationToken" or query.get("InstanceId") != ali["instanceID"]:
            return self.reply(404, {"Code": "INSTANCE_NOT_EXIST", "Message": "instance not exist"})
        lifetime = ali.get("tokenLifetime", 3600)
        password = issue("ali-password", lifetime)
        self.reply(200, {"AuthorizationToken": password, "TempUsername": "cr_temp_user", "ExpireTime": int((now(self.cfg) + lifetime) * 1000),
                         "Code": "success", "IsSuccess": True, "RequestId": secrets.token_hex(8)})

    # ---- Key Vault ----
    def keyvault(self, kind, url):
        kv = self.cfg["keyvault"]
        parts = url.path.strip("/").split("/")
        self.note("keyvault", kind=kind, name=parts[1] if len(parts) > 1 else None)
        bearer = self.headers.get("Authorization", "")
        entry = valid(bearer[7:], "aad") if bearer.startswith("Bearer ") else None
        if entry is None or entry["scope"] != "https://vault.azure.net/.default":
            tenant = self.cfg["azure"]["tenantID"]
            return self.reply(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}},
                              headers=[("WWW-Authenticate", f'Bearer authorization="https://login.microsoftonline.com/{tenant}", resource="https://vault.azure.net"')])
        if "api-version" not in url.query:
            return self.reply(400, {"error": {"code": "BadParameter", "message": "api-version is required"}})
        name = parts[1]
        versions = kv.get("certificates" if kind in ("certificates", "secrets") else "keys", {}).get(name)
        if not versions:
            return self.reply(404, {"error": {"code": f"{kind[:-1].capitalize()}NotFound", "message": f"A {kind[:-1]} with (name/id) {name} was not found in this key vault."}})
        version = parts[2] if len(parts) > 2 and parts[2] else None
        chosen = next((v for v in versions if v["version"] == version), None) if version else versions[-1]
        if chosen is None:
            return self.reply(404, {"error": {"code": f"{kind[:-1].capitalize()}NotFound", "message": f"version {version} not found"}})
        vault = f"http://{self.headers['Host']}"
        attributes = {"enabled": chosen.get("enabled", True), "created": 1700000000, "updated": 1700000000}
        if kind == "secrets" and not chosen.get("enabled", True):
            return self.reply(403, {"error": {"code": "Forbidden", "message": "Operation get is not allowed on a disabled secret.",
                                              "innererror": {"code": "SecretDisabled"}}})
        if kind == "certificates":
            return self.reply(200, {"id": f"{vault}/certificates/{name}/{chosen['version']}", "kid": f"{vault}/keys/{name}/{chosen['version']}",
                                    "sid": f"{vault}/secrets/{name}/{chosen['version']}", "cer": chosen.get("cer", ""),
                                    "attributes": attributes, "policy": {"secret_props": {"contentType": chosen["contentType"]}}})
        if kind == "secrets":
            return self.reply(200, {"id": f"{vault}/secrets/{name}/{chosen['version']}", "value": chosen["value"], "contentType": chosen["contentType"],
                                    "kid": f"{vault}/keys/{name}/{chosen['version']}", "managed": True, "attributes": attributes})
        jwk = chosen.get("jwk") or pem_to_jwk(chosen["pem"], chosen.get("hsm", False))
        return self.reply(200, {"key": dict(jwk, kid=f"{vault}/keys/{name}/{chosen['version']}"), "attributes": attributes})

    # ---- the registry behind ----
    def registry(self, body):
        mode = self.cfg["registry"]["auth"]
        host = self.headers.get("Host", "")
        repository = self.path[4:].split("/manifests/")[0].split("/blobs/")[0].split("/referrers/")[0].split("/tags/")[0]
        authorization = self.headers.get("Authorization", "")
        ok = False
        if mode == "acr" and authorization.startswith("Bearer "):
            entry = valid(authorization[7:], "acr-access")
            ok = entry is not None and entry["scope"].startswith(f"repository:{repository}:")
        elif mode in ("ecr", "alibaba") and authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            expected_user = "AWS" if mode == "ecr" else "cr_temp_user"
            ok = user == expected_user and valid(password, "ecr-password" if mode == "ecr" else "ali-password") is not None
        self.note("registry", authorized=ok)
        if not ok:
            if mode == "acr":
                challenge = f'Bearer realm="http://{host}/oauth2/token",service="{host}",scope="repository:{repository}:pull"'
            else:
                challenge = f'Basic realm="{host}"'
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                              headers=[("WWW-Authenticate", challenge)])
        upstream = http.client.HTTPConnection("127.0.0.1", self.cfg["registry"]["upstreamPort"], timeout=30)
        forward = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "content-type", "range")}
        upstream.request(self.command, self.path, body=body or None, headers=forward)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() in ("content-type", "docker-content-digest", "link", "location", "etag", "oci-filters-applied"):
                self.send_header(name, value)
        self.send_header("Content-Length", response.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
