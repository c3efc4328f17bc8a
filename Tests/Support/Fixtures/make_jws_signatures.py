#!/usr/bin/env python3
"""JWS-style signatures (RFC 7518) made with Python's `cryptography`, independent of the code under
test: PS256/384/512 (RSASSA-PSS, MGF1 with the same hash, salt = hash length) and ES256/384/512
(ECDSA, raw r||s). Writes OUT_DIR/jws.json: {alg: {"key": PEM, "signature": b64}} over MESSAGE.

usage: make_jws_signatures.py OUT_DIR MESSAGE
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

out, message = sys.argv[1], sys.argv[2].encode()
os.makedirs(out, exist_ok=True)
result = {}
for alg, algorithm in [("PS256", hashes.SHA256()), ("PS384", hashes.SHA384()), ("PS512", hashes.SHA512())]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    signature = key.sign(message, padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size), algorithm)
    result[alg] = {"key": key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
                   "signature": base64.b64encode(signature).decode()}
for alg, curve, algorithm, size in [("ES256", ec.SECP256R1(), hashes.SHA256(), 32), ("ES384", ec.SECP384R1(), hashes.SHA384(), 48),
                                    ("ES512", ec.SECP521R1(), hashes.SHA512(), 66)]:
    key = ec.generate_private_key(curve)
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(algorithm)))
    result[alg] = {"key": key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
                   "signature": base64.b64encode(r.to_bytes(size, "big") + s.to_bytes(size, "big")).decode()}
with open(os.path.join(out, "jws.json"), "w") as f:
    json.dump(result, f)
