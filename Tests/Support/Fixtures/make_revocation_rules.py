#!/usr/bin/env python3
"""OCSP responses and CRLs for one leaf certificate, each either speaking for it (good, revoked)
or to be refused as evidence (rogue signer, stale, from the future, another issuer, forged, expired),
made with Python `cryptography` — independent of the code under test (RFC 6960, RFC 5280).

usage: make_revocation_rules.py OUT_DIR  → OUT_DIR/cases.json:
  {"root": b64 DER, "leaf": b64 DER,
   "cases": [{"name", "kind": "ocsp"|"crl", "data": b64 DER, "status": "good"|"revoked"|"unknown", "reason": substring or null}]}
"""
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(cn, key, issuer_cn, issuer_key, ca=False, eku=None):
    builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer_cn)).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                                                      key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


key = lambda: ec.generate_private_key(ec.SECP256R1())
root_key, leaf_key, rogue_key, responder_key = key(), key(), key(), key()
root = certificate("Revocation Root", root_key, "Revocation Root", root_key, ca=True)
leaf = certificate("Revocation Leaf", leaf_key, "Revocation Root", root_key)
rogue = certificate("Rogue Root", rogue_key, "Rogue Root", rogue_key, ca=True)
delegated = certificate("Revocation OCSP Responder", responder_key, "Revocation Root", root_key, eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
undelegated = certificate("Revocation Other Service", responder_key, "Revocation Root", root_key, eku=[ExtendedKeyUsageOID.SERVER_AUTH])


def ocsp_response(status=ocsp.OCSPCertStatus.GOOD, this_update=NOW - DAY, next_update=NOW + DAY, signer=(root, root_key), include=None):
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=root, algorithm=hashes.SHA1(), cert_status=status, this_update=this_update, next_update=next_update,
        revocation_time=NOW - DAY if status == ocsp.OCSPCertStatus.REVOKED else None, revocation_reason=None)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer[0])
    if include:
        builder = builder.certificates(include)
    return builder.sign(signer[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def crl(issuer_cn="Revocation Root", signer=root_key, next_update=NOW + DAY, revoke=False):
    builder = x509.CertificateRevocationListBuilder().issuer_name(name(issuer_cn)).last_update(NOW - DAY).next_update(next_update)
    if revoke:
        builder = builder.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(leaf.serial_number).revocation_date(NOW - DAY).build())
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


cases = [
    ("ocsp-good", "ocsp", ocsp_response(), "good", None),
    ("ocsp-revoked", "ocsp", ocsp_response(status=ocsp.OCSPCertStatus.REVOKED), "revoked", None),
    ("ocsp-delegated-responder", "ocsp", ocsp_response(signer=(delegated, responder_key), include=[delegated]), "good", None),
    ("ocsp-signed-by-a-rogue-key", "ocsp", ocsp_response(signer=(rogue, rogue_key), include=[rogue]), "unknown", "does not verify"),
    ("ocsp-responder-not-delegated", "ocsp", ocsp_response(signer=(undelegated, responder_key), include=[undelegated]), "unknown", "does not verify"),
    ("ocsp-stale", "ocsp", ocsp_response(this_update=NOW - 10 * DAY, next_update=NOW - 2 * DAY), "unknown", "not current"),
    ("ocsp-from-the-future", "ocsp", ocsp_response(this_update=NOW + DAY, next_update=NOW + 2 * DAY), "unknown", "not current"),
    ("crl-good", "crl", crl(), "good", None),
    ("crl-revoked", "crl", crl(revoke=True), "revoked", None),
    ("crl-by-another-issuer", "crl", crl(issuer_cn="Rogue Root", signer=rogue_key, revoke=False), "unknown", "issued by another CA"),
    ("crl-forged-under-the-issuer-name", "crl", crl(signer=rogue_key), "unknown", "signature does not verify"),
    ("crl-expired", "crl", crl(next_update=NOW - DAY / 2), "unknown", "the CRL expired"),
]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
der = lambda c: base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump({"root": der(root), "leaf": der(leaf),
               "cases": [{"name": n, "kind": k, "data": base64.b64encode(d).decode(), "status": s, "reason": r} for n, k, d, s, r in cases]}, f, indent=1)
