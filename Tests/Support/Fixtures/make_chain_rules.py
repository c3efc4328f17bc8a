#!/usr/bin/env python3
"""One certificate chain per Notary Project certificate rule (signature-specification.md,
"Certificate Requirements"), made with Python `cryptography` (the SHA-1 signature, which it no
longer makes, with the OpenSSL CLI) — independent of the code under test.
Each breaks exactly one rule of an otherwise good chain; two good chains (code signing, through an
intermediate; timestamping) must pass, so a test cannot pass by refusing everything.

usage: make_chain_rules.py OUT_DIR   → OUT_DIR/cases.json:
  [{"name", "purpose": "codeSigning"|"timestamping", "chain": [PEM, leaf first], "reason": substring or null}]
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)
BEFORE, AFTER = NOW - datetime.timedelta(days=1), NOW + datetime.timedelta(days=365)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def usage(digital=False, cert_sign=False, key_encipherment=False):
    return x509.KeyUsage(digital_signature=digital, content_commitment=False, key_encipherment=key_encipherment, data_encipherment=False,
                         key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def certificate(cn, key, issuer=None, ca=False, path_length=None, key_usage=None, ku_critical=True, eku=None, eku_critical=False,
                basic=True):
    """issuer: (name, private key) or None for self-signed."""
    issuer_name, issuer_key = issuer or (cn, key)
    builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer_name)).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(BEFORE).not_valid_after(AFTER))
    if basic:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=ku_critical)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku_critical)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm).public_bytes(serialization.Encoding.PEM).decode()


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


root_key, mid_key, leaf_key = ec_key(), ec_key(), ec_key()
ROOT = certificate("Rules Root", root_key, ca=True, key_usage=usage(cert_sign=True))
MID = certificate("Rules Intermediate", mid_key, issuer=("Rules Root", root_key), ca=True, path_length=0, key_usage=usage(cert_sign=True))
MID_ISSUER = ("Rules Intermediate", mid_key)
SIGNING = dict(key_usage=usage(digital=True), eku=[ExtendedKeyUsageOID.CODE_SIGNING])


def leaf(key=None, issuer=MID_ISSUER, **overrides):
    return certificate("Rules Leaf", key or leaf_key, issuer=issuer, **{**SIGNING, **overrides})


def mid(key=mid_key, **overrides):
    settings = dict(ca=True, path_length=0, key_usage=usage(cert_sign=True))
    return certificate("Rules Intermediate", key, issuer=("Rules Root", root_key), **{**settings, **overrides})


rsa_root_key, rsa_leaf_key = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
RSA_ROOT = certificate("Rules RSA Root", rsa_root_key, ca=True, key_usage=usage(cert_sign=True))
def sha1_signed_leaf():
    """A code signing leaf the RSA root signs with SHA-1 (`openssl x509 -req -sha1`)."""
    with tempfile.TemporaryDirectory() as work:
        path = lambda n: os.path.join(work, n)
        pem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        open(path("root.key"), "wb").write(pem(rsa_root_key))
        open(path("root.crt"), "w").write(RSA_ROOT)
        open(path("leaf.key"), "wb").write(pem(rsa_leaf_key))
        open(path("ext.cnf"), "w").write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n")
        subprocess.run(["openssl", "req", "-new", "-key", path("leaf.key"), "-subj", "/CN=Rules Leaf", "-out", path("leaf.csr")], check=True)
        subprocess.run(["openssl", "x509", "-req", "-sha1", "-in", path("leaf.csr"), "-CA", path("root.crt"), "-CAkey", path("root.key"),
                        "-set_serial", "7", "-days", "30", "-extfile", path("ext.cnf"), "-out", path("leaf.crt")], check=True, capture_output=True)
        return open(path("leaf.crt")).read()


tsa_key = ec_key()
TSA_GOOD = dict(key_usage=usage(digital=True), eku=[ExtendedKeyUsageOID.TIME_STAMPING], eku_critical=True)

cases = [
    ("good-code-signing", "codeSigning", [leaf(), MID, ROOT], None),
    ("good-timestamping", "timestamping", [certificate("Rules TSA", tsa_key, issuer=("Rules Root", root_key), **TSA_GOOD), ROOT], None),
    ("leaf-without-key-usage", "codeSigning", [leaf(key_usage=None), MID, ROOT], "has no keyUsage extension"),
    ("leaf-key-usage-not-critical", "codeSigning", [leaf(ku_critical=False), MID, ROOT], "keyUsage extension is not marked critical"),
    ("leaf-rsa-1024", "codeSigning", [leaf(key=rsa.generate_private_key(65537, 1024)), MID, ROOT], "RSA key of 1024 bits; at least 2048 are required"),
    ("leaf-ed25519", "codeSigning", [leaf(key=ed25519.Ed25519PrivateKey.generate()), MID, ROOT], "has an Ed25519 key"),
    ("leaf-signed-with-sha1", "codeSigning",
     [sha1_signed_leaf(), RSA_ROOT],
     "is signed with SHA-1"),
    ("intermediate-not-a-ca", "codeSigning", [leaf(), mid(ca=False), ROOT], "is not marked as a CA"),
    ("intermediate-key-usage-not-critical", "codeSigning", [leaf(), mid(ku_critical=False), ROOT], "keyUsage extension is not marked critical"),
    ("intermediate-without-key-cert-sign", "codeSigning", [leaf(), mid(key_usage=usage(digital=True)), ROOT], "keyUsage does not include keyCertSign"),
    ("intermediate-without-key-usage", "codeSigning", [leaf(), mid(key_usage=None), ROOT], "has no keyUsage extension"),
    ("timestamping-with-a-second-eku", "timestamping",
     [certificate("Rules TSA", tsa_key, issuer=("Rules Root", root_key), **{**TSA_GOOD, "eku": [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING]}), ROOT],
     "must have timeStamping as its only extendedKeyUsage"),
    ("timestamping-without-eku", "timestamping",
     [certificate("Rules TSA", tsa_key, issuer=("Rules Root", root_key), **{**TSA_GOOD, "eku": None}), ROOT],
     "must have timeStamping as its only extendedKeyUsage"),
]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump([{"name": n, "purpose": p, "chain": c, "reason": r} for n, p, c, r in cases], f, indent=1)
