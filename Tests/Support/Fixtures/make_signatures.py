#!/usr/bin/env python3
"""Cosign-style signature fixtures, made with Python's `cryptography` — independent of the code
under test. Writes to OUT_DIR: one PEM public key per key type (<name>.pub) and signatures.json:

  {"payload": b64, "otherPayload": b64,
   "signatures": {<key>: b64 signature over payload}, "otherSignatures": {<key>: b64 over otherPayload},
   "bundles": {<case>: cosign bundle annotation for the ec256 signature}}
and trusted_root.json naming a test "Rekor" log key. Bundles follow Rekor: the SET is ECDSA P-256
over the canonical JSON {body, integratedTime, logID, logIndex}; body is a hashedrekord entry.
Cases: valid, unknownLog (signed by a log not in the trusted root), badSET (SET over other
values), otherSignature (entry for another signature), otherKey (entry for another key).

payload is cosign's simple-signing document naming DIGEST; otherPayload names another digest;
annotatedPayload (signed by ec256 in annotatedSignature) carries optional {env: prod, team: payments}.
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


def payload_for(image_digest, annotations=None):
    document = {"critical": {"identity": {"docker-reference": "registry.example/app"},
                             "image": {"docker-manifest-digest": image_digest},
                             "type": "cosign container image signature"},
                "optional": annotations}
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

import hashlib  # noqa: E402

rekor = ec.generate_private_key(ec.SECP256R1())
stranger = ec.generate_private_key(ec.SECP256R1())


def der(private_key):
    return private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem(private_key):
    return private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def bundle(log_key, signature_b64, signer, integrated_time=1700000000, sign_time=None, kind="hashedrekord"):
    body = {"apiVersion": "0.0.1", "kind": kind,
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
                     "signature": {"content": signature_b64, "publicKey": {"content": base64.b64encode(pem(signer)).decode()}}}}
    entry = {"body": base64.b64encode(json.dumps(body).encode()).decode(), "integratedTime": integrated_time,
             "logID": hashlib.sha256(der(log_key)).hexdigest(), "logIndex": 4242}
    signed = dict(entry, integratedTime=sign_time or integrated_time)
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    set_b64 = base64.b64encode(log_key.sign(canonical, ec.ECDSA(hashes.SHA256()))).decode()
    return json.dumps({"SignedEntryTimestamp": set_b64, "Payload": entry})


ec256_key = keys["ec256"][0]
result["bundles"] = {
    "valid": bundle(rekor, result["signatures"]["ec256"], ec256_key),
    "unknownLog": bundle(stranger, result["signatures"]["ec256"], ec256_key),
    "badSET": bundle(rekor, result["signatures"]["ec256"], ec256_key, sign_time=1600000000),
    "otherSignature": bundle(rekor, result["signatures"]["other"], ec256_key),
    "otherKey": bundle(rekor, result["signatures"]["ec256"], keys["other"][0]),
    # Early cosign logged `.sig` signatures as `rekord` entries (same spec paths as hashedrekord).
    "rekordKind": bundle(rekor, result["signatures"]["ec256"], ec256_key, kind="rekord"),
    "unknownKind": bundle(rekor, result["signatures"]["ec256"], ec256_key, kind="alpine"),
}
with open(os.path.join(out, "trusted_root.json"), "w") as f:
    json.dump({"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
               "tlogs": [{"baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                          "publicKey": {"rawBytes": base64.b64encode(der(rekor)).decode(), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                                        "validFor": {"start": "2020-01-01T00:00:00Z"}},
                          "logId": {"keyId": base64.b64encode(hashlib.sha256(der(rekor)).digest()).decode()}}]}, f)

weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
with open(os.path.join(out, "rsa1024.pub"), "wb") as f:
    f.write(weak.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
# `cosign sign -a env=prod -a team=payments`: annotations in the payload's optional section.
annotated = payload_for(digest, {"env": "prod", "team": "payments"})
result["annotatedPayload"] = base64.b64encode(annotated).decode()
result["annotatedSignature"] = base64.b64encode(sign("ec256", annotated)).decode()
# cosign's SimpleClaimVerifier checks the digest only: another critical.type still verifies.
other_type = json.dumps({"critical": {"identity": {"docker-reference": "registry.example/app"},
                                      "image": {"docker-manifest-digest": digest}, "type": "atomic container signature"},
                         "optional": None}, separators=(",", ":")).encode()
result["otherTypePayload"] = base64.b64encode(other_type).decode()
result["otherTypeSignature"] = base64.b64encode(sign("ec256", other_type)).decode()
with open(os.path.join(out, "signatures.json"), "w") as f:
    json.dump(result, f)
