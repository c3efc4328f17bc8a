#!/usr/bin/env python3
"""Cosign-style signature fixtures, made with Python's `cryptography` — independent of the code
under test. Writes to OUT_DIR: one PEM public key per key type (<name>.pub) and signatures.json:

  {"payload": b64, "otherPayload": b64,
   "signatures": {<key>: b64 signature over payload}, "otherSignatures": {<key>: b64 over otherPayload}}

payload is cosign's simple-signing document naming DIGEST; otherPayload names another digest.
Hashes follow sigstore: P-256/RSA → SHA-256, P-384 → SHA-384, P-521 → SHA-512, Ed25519 → none.

usage: make_signatures.py OUT_DIR DIGEST
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

out, digest = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def payload_for(image_digest):
    document = {"critical": {"identity": {"docker-reference": "registry.example/app"},
                             "image": {"docker-manifest-digest": image_digest},
                             "type": "cosign container image signature"},
                "optional": None}
    return json.dumps(document, separators=(",", ":")).encode()


keys = {
    "ec256": (ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()),
    "ec384": (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384()),
    "ec521": (ec.generate_private_key(ec.SECP521R1()), hashes.SHA512()),
    "rsa2048": (rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA256()),
    "rsa3072": (rsa.generate_private_key(public_exponent=65537, key_size=3072), hashes.SHA256()),
    "ed25519": (ed25519.Ed25519PrivateKey.generate(), None),
    "other": (ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()),
}


def sign(name, data):
    key, digest_algorithm = keys[name]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(digest_algorithm))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), digest_algorithm)
    return key.sign(data)


payload = payload_for(digest)
other = payload_for("sha256:" + "0" * 64)
result = {"payload": base64.b64encode(payload).decode(), "otherPayload": base64.b64encode(other).decode(),
          "signatures": {}, "otherSignatures": {}}
for name, (key, _) in keys.items():
    with open(os.path.join(out, f"{name}.pub"), "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result["signatures"][name] = base64.b64encode(sign(name, payload)).decode()
    result["otherSignatures"][name] = base64.b64encode(sign(name, other)).decode()

weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
with open(os.path.join(out, "rsa1024.pub"), "wb") as f:
    f.write(weak.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
with open(os.path.join(out, "signatures.json"), "w") as f:
    json.dump(result, f)
