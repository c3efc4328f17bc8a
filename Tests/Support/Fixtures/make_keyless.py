#!/usr/bin/env python3
"""Keyless cosign fixtures made with Python's `cryptography` only — a Fulcio-like CA issuing
short-lived code-signing certificates with the Fulcio OIDC issuer extensions, a CT log key
producing real RFC 6962 SCTs embedded in those certificates, and a Rekor-like log key producing
SignedEntryTimestamps over the canonical JSON {body, integratedTime, logID, logIndex}.

usage: make_keyless.py OUT_DIR DIGEST

Writes to OUT_DIR:
  trusted_root.json   sigstore trusted root: certificateAuthorities (Fulcio chain), ctlogs, tlogs
  private-roots.pem   the root of a separate "private PKI" CA (no CT, no Rekor)
  cases.json          {case: {payload, signature (base64), certificate (PEM), chain (PEM|null), bundle (JSON|null)}}

Every payload is cosign's simple-signing document naming DIGEST. Cases:
  email            SAN email, issuer in .1.1 and .1.8; certificate expired now, valid at the bundle's integratedTime
  uri              SAN URI (a GitHub workflow), issuer only in .1.8; valid now
  othername        SAN otherName 1.3.6.1.4.1.57264.1.7 (a username); valid now
  no-sct           no embedded SCT; valid now
  sct-unknown-log  SCT signed by a CT log not in the trusted root; valid now
  bundle-unknown-log   like email, but the SET is signed by a log not in the trusted root
  bundle-after-expiry  like email, but integratedTime is after the certificate expired
  untrusted-ca     issued by a CA outside the trusted root; valid now
  private-pki      issued by the private PKI root (private-roots.pem); valid now, no SCT, no bundle
  ts-inside        like email, no bundle, an RFC 3161 timestamp (TSA in the trusted root) inside the validity
  ts-after-expiry  the timestamp is after the certificate expired
  ts-rogue-tsa     the timestamp is by a TSA outside the trusted root
  ts-other-signature  the timestamp is over other bytes

and sigstore bundles v0.3 (cosign BUNDLE_SPEC.md, attached as OCI referrers) in bundles.json:
  message          keyless messageSignature over the image manifest (messageDigest = DIGEST), hashedrekord tlog entry
  dsse             keyless DSSE envelope with an in-toto statement naming DIGEST, dsse tlog entry
  dsse-other-image DSSE statement naming another digest
  keyed-message    messageSignature by keyed.pub's key, no tlog entry
"""
import base64
import datetime
import hashlib
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

out, digest = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
MINUTE = datetime.timedelta(minutes=1)
ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
USERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")

payload = json.dumps({"critical": {"identity": {"docker-reference": "registry.example/app"},
                                   "image": {"docker-manifest-digest": digest},
                                   "type": "cosign container image signature"}, "optional": None},
                     separators=(",", ":")).encode()


def spki(key):
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ca(name, key, issuer=None, issuer_key=None):
    issuer_name = issuer.subject if issuer else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
                          if issuer else issuer_name)
            .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - 365 * 24 * 60 * MINUTE).not_valid_after(NOW + 365 * 24 * 60 * MINUTE)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None if not issuer else 0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(issuer_key or key, hashes.SHA384()))


def der_utf8(text):
    data = text.encode()
    assert len(data) < 128
    return bytes([0x0C, len(data)]) + data


def sct_list(tbs, issuer_key, log_key, timestamp_ms):
    """RFC 6962 §3.2-3.3: one v1 SCT over the precertificate entry, in a SignedCertificateTimestampList."""
    log_id = hashlib.sha256(spki(log_key)).digest()
    signed = (bytes([0, 0]) + timestamp_ms.to_bytes(8, "big") + (1).to_bytes(2, "big")
              + hashlib.sha256(spki(issuer_key)).digest() + len(tbs).to_bytes(3, "big") + tbs + (0).to_bytes(2, "big"))
    signature = log_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    sct = (bytes([0]) + log_id + timestamp_ms.to_bytes(8, "big") + (0).to_bytes(2, "big")
           + bytes([4, 3]) + len(signature).to_bytes(2, "big") + signature)
    listed = len(sct).to_bytes(2, "big") + sct
    tls = len(listed).to_bytes(2, "big") + listed
    # The extension value is an OCTET STRING holding the TLS-encoded list.
    length = len(tls)
    header = bytes([0x04, length]) if length < 128 else bytes([0x04, 0x81, length]) if length < 256 else bytes([0x04, 0x82]) + length.to_bytes(2, "big")
    return header + tls


def leaf(key, issuer, issuer_key, san, oidc_issuer, not_before, not_after, log_key=None, issuer_v1=True, eku=(ExtendedKeyUsageOID.CODE_SIGNING,)):
    """A Fulcio-shaped certificate; with log_key, an embedded SCT made over its precertificate TBS."""
    serial = x509.random_serial_number()

    def builder():
        b = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(issuer.subject)
             .public_key(key.public_key()).serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                          encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
             .add_extension(x509.SubjectAlternativeName([san]), critical=True))
        if issuer_v1:
            b = b.add_extension(x509.UnrecognizedExtension(ISSUER_V1, oidc_issuer.encode()), critical=False)
        return b.add_extension(x509.UnrecognizedExtension(ISSUER_V2, der_utf8(oidc_issuer)), critical=False)

    if log_key is None:
        return builder().sign(issuer_key, hashes.SHA384())
    precert = builder().sign(issuer_key, hashes.SHA384())
    timestamp = int(not_before.timestamp() * 1000)
    scts = sct_list(precert.tbs_certificate_bytes, issuer_key, log_key, timestamp)
    return builder().add_extension(x509.UnrecognizedExtension(SCT_LIST, scts), critical=False).sign(issuer_key, hashes.SHA384())


def hashedrekord(signature_b64, cert, sha256_hex):
    return {"apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": sha256_hex}},
                     "signature": {"content": signature_b64, "publicKey": {"content": base64.b64encode(pem(cert).encode()).decode()}}}}


def log_entry(log_key, body, integrated_time):
    """Rekor's promise: the SET over the canonical JSON {body, integratedTime, logID, logIndex}."""
    entry = {"body": base64.b64encode(json.dumps(body).encode()).decode(), "integratedTime": integrated_time,
             "logID": hashlib.sha256(spki(log_key)).hexdigest(), "logIndex": 777}
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    return entry, base64.b64encode(log_key.sign(canonical, ec.ECDSA(hashes.SHA256()))).decode()


def bundle(log_key, signature_b64, cert, integrated_time, logged=None):
    """`logged`: what the entry's body says instead (signature, cert, payload hash) → body."""
    body = (logged or hashedrekord)(signature_b64, cert, hashlib.sha256(payload).hexdigest())
    entry, promise = log_entry(log_key, body, integrated_time)
    return json.dumps({"SignedEntryTimestamp": promise, "Payload": entry})


root_key, intermediate_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
root = ca("test-fulcio-root", root_key)
intermediate = ca("test-fulcio-intermediate", intermediate_key, root, root_key)
ct_key, other_ct_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
rekor_key, other_rekor_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
rogue_key = ec.generate_private_key(ec.SECP384R1())
rogue = ca("rogue-ca", rogue_key)
private_key = ec.generate_private_key(ec.SECP384R1())
private_root = ca("private-pki-root", private_key)

EMAIL = x509.RFC822Name("builder@example.com")
GOOGLE = "https://accounts.example.com"
GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = x509.UniformResourceIdentifier("https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main")
USER = x509.OtherName(USERNAME, der_utf8("octocat"))
expired_window = (NOW - 20 * MINUTE, NOW - 10 * MINUTE)
current_window = (NOW - 5 * MINUTE, NOW + 5 * MINUTE)
integrated_inside = int((NOW - 15 * MINUTE).timestamp())

cases = {}


# A timestamp authority (RFC 3161, its chain in the trusted root's timestampAuthorities) and a
# rogue one; tokens are built field by field with asn1crypto (RFC 3161 §2.4.2, RFC 5816 ESSCertIDv2).
def tsa_pair(name, issuer=None, issuer_key=None):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - 3650 * 24 * 60 * MINUTE).not_valid_after(NOW + 3650 * 24 * 60 * MINUTE))
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True))
    return key, builder.sign(issuer_key or key, hashes.SHA256())


tsa_root_key, tsa_root = tsa_pair("test-tsa-root")
tsa_key, tsa_cert = tsa_pair("test-tsa", tsa_root, tsa_root_key)
rogue_tsa_root_key, rogue_tsa_root = tsa_pair("rogue-tsa-root")
rogue_tsa_key, rogue_tsa_cert = tsa_pair("rogue-tsa", rogue_tsa_root, rogue_tsa_root_key)


def rfc3161(message, gen_time, signer_key=None, signer=None):
    from asn1crypto import cms, core, tsp
    from asn1crypto import x509 as asn1_x509
    signer_key, signer = signer_key or tsa_key, signer or tsa_cert
    der = lambda c: c.public_bytes(serialization.Encoding.DER)
    info = tsp.TSTInfo({"version": "v1", "policy": "1.2.3.4.1",
                        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(message).digest()},
                        "serial_number": int.from_bytes(os.urandom(8), "big"), "gen_time": gen_time})
    content = info.dump()
    asn_signer = asn1_x509.Certificate.load(der(signer))
    attributes = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({"certs": [{"cert_hash": hashlib.sha256(der(signer)).digest()}]})]}),
    ])
    signer_info = cms.SignerInfo({
        "version": "v1", "sid": cms.SignerIdentifier({"issuer_and_serial_number": {"issuer": asn_signer.issuer, "serial_number": asn_signer.serial_number}}),
        "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes, "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": signer_key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))})
    signed = cms.SignedData({"version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
                             "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
                             "certificates": [asn1_x509.Certificate.load(der(signer))], "signer_infos": [signer_info]})
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    # What a TSA answers and cosign stores: the whole TimeStampResp (status granted).
    response = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
    return json.dumps({"SignedRFC3161Timestamp": base64.b64encode(response).decode()})


def case(name, san, oidc_issuer, window, issuer=intermediate, issuer_key=intermediate_key, log_key=ct_key,
         rekor=rekor_key, integrated=None, chain=(intermediate, root), issuer_v1=True, timestamp=None, eku=(ExtendedKeyUsageOID.CODE_SIGNING,),
         logged=None):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = leaf(key, issuer, issuer_key, san, oidc_issuer, *window, log_key=log_key, issuer_v1=issuer_v1, eku=eku)
    raw_signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    signature = base64.b64encode(raw_signature).decode()
    cases[name] = {"payload": base64.b64encode(payload).decode(), "signature": signature, "certificate": pem(cert),
                   "chain": "".join(pem(c) for c in chain) if chain else None,
                   "bundle": bundle(rekor, signature, cert, integrated, logged) if rekor and integrated else None,
                   "timestamp": timestamp(raw_signature) if timestamp else None}


case("email", EMAIL, GOOGLE, expired_window, integrated=integrated_inside)
case("uri", WORKFLOW, GITHUB, current_window, integrated=int(NOW.timestamp()), issuer_v1=False)
case("othername", USER, GOOGLE, current_window, integrated=int(NOW.timestamp()))
case("no-sct", EMAIL, GOOGLE, current_window, log_key=None, integrated=int(NOW.timestamp()))
case("sct-unknown-log", EMAIL, GOOGLE, current_window, log_key=other_ct_key, integrated=int(NOW.timestamp()))
case("bundle-unknown-log", EMAIL, GOOGLE, expired_window, rekor=other_rekor_key, integrated=integrated_inside)
case("bundle-after-expiry", EMAIL, GOOGLE, expired_window, integrated=int((NOW - 5 * MINUTE).timestamp()))
case("untrusted-ca", EMAIL, GOOGLE, current_window, issuer=rogue, issuer_key=rogue_key, chain=(rogue,), integrated=int(NOW.timestamp()))
case("no-code-signing", EMAIL, GOOGLE, current_window, integrated=int(NOW.timestamp()), eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
# Rekor entries (with valid SETs) that log something other than this signature by this certificate.
other_cert = leaf(ec.generate_private_key(ec.SECP256R1()), intermediate, intermediate_key, EMAIL, GOOGLE, *current_window)
case("bundle-other-payload", EMAIL, GOOGLE, current_window, integrated=int(NOW.timestamp()),
     logged=lambda sig, cert, sha: hashedrekord(sig, cert, hashlib.sha256(b"another payload").hexdigest()))
case("bundle-other-certificate", EMAIL, GOOGLE, current_window, integrated=int(NOW.timestamp()),
     logged=lambda sig, cert, sha: hashedrekord(sig, other_cert, sha))
case("bundle-logs-a-key", EMAIL, GOOGLE, current_window, integrated=int(NOW.timestamp()),
     logged=lambda sig, cert, sha: {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {"data": {"hash": {"algorithm": "sha256", "value": sha}},
         "signature": {"content": sig, "publicKey": {"content": base64.b64encode(cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()}}}})
case("private-pki", EMAIL, GOOGLE, current_window, issuer=private_root, issuer_key=private_key, log_key=None, rekor=None, chain=None)
# RFC 3161 timestamps (cosign --timestamp-server-url), no Rekor entry: an expired certificate is
# checked at the timestamp's genTime.
case("ts-inside", EMAIL, GOOGLE, expired_window, rekor=None, timestamp=lambda s: rfc3161(s, NOW - 15 * MINUTE))
case("ts-after-expiry", EMAIL, GOOGLE, expired_window, rekor=None, timestamp=lambda s: rfc3161(s, NOW - 5 * MINUTE))
case("ts-rogue-tsa", EMAIL, GOOGLE, expired_window, rekor=None, timestamp=lambda s: rfc3161(s, NOW - 15 * MINUTE, rogue_tsa_key, rogue_tsa_cert))
case("ts-other-signature", EMAIL, GOOGLE, expired_window, rekor=None, timestamp=lambda s: rfc3161(b"another signature", NOW - 15 * MINUTE))

def sigstore_bundle(material, content, body=None, integrated_time=None):
    """A bundle v0.3 in protobuf-specs' JSON form."""
    if body is not None:
        entry, promise = log_entry(rekor_key, body, integrated_time)
        material["tlogEntries"] = [{"logIndex": "777", "logId": {"keyId": base64.b64encode(hashlib.sha256(spki(rekor_key)).digest()).decode()},
                                    "kindVersion": {"kind": body["kind"], "version": "0.0.1"}, "integratedTime": str(integrated_time),
                                    "inclusionPromise": {"signedEntryTimestamp": promise}, "canonicalizedBody": entry["body"]}]
    return json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": material, **content})


def statement(image_digest):
    algorithm, hex_digest = image_digest.split(":")
    return json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "registry.example/app", "digest": {algorithm: hex_digest}}],
                       "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}}).encode()


def dsse_bundle(image_digest):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = leaf(key, intermediate, intermediate_key, EMAIL, GOOGLE, *current_window, log_key=ct_key)
    body_bytes = statement(image_digest)
    kind = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d " % (len(kind), kind.encode(), len(body_bytes)) + body_bytes
    signature = base64.b64encode(key.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()
    rekor_body = {"apiVersion": "0.0.1", "kind": "dsse",
                  "spec": {"payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(body_bytes).hexdigest()},
                           "signatures": [{"signature": signature, "verifier": base64.b64encode(pem(cert).encode()).decode()}]}}
    return sigstore_bundle({"certificate": {"rawBytes": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()}},
                           {"dsseEnvelope": {"payload": base64.b64encode(body_bytes).decode(), "payloadType": kind,
                                             "signatures": [{"sig": signature, "keyid": ""}]}},
                           rekor_body, int(NOW.timestamp()))


manifest_digest = bytes.fromhex(digest.split(":")[1])
message_key = ec.generate_private_key(ec.SECP256R1())
message_cert = leaf(message_key, intermediate, intermediate_key, EMAIL, GOOGLE, *expired_window, log_key=ct_key)
message_signature = base64.b64encode(message_key.sign(manifest_digest, ec.ECDSA(Prehashed(hashes.SHA256())))).decode()
keyed = ec.generate_private_key(ec.SECP256R1())
with open(os.path.join(out, "keyed.pub"), "wb") as f:
    f.write(keyed.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
bundles = {
    "message": sigstore_bundle({"certificate": {"rawBytes": base64.b64encode(message_cert.public_bytes(serialization.Encoding.DER)).decode()}},
                               {"messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(manifest_digest).decode()},
                                                     "signature": message_signature}},
                               hashedrekord(message_signature, message_cert, manifest_digest.hex()), integrated_inside),
    "dsse": dsse_bundle(digest),
    "dsse-other-image": dsse_bundle("sha256:" + "0" * 64),
    "keyed-message": sigstore_bundle({"publicKey": {"hint": "keyed"}},
                                     {"messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(manifest_digest).decode()},
                                                           "signature": base64.b64encode(keyed.sign(manifest_digest, ec.ECDSA(Prehashed(hashes.SHA256())))).decode()}}),
    # sigstore-go accepts SHA2_384/SHA2_512 message digests: a keyed signature over the SHA-512
    # digest of a fixed text (the Swift test uses sha512:<that digest> as the subject).
    "keyed-message-sha512": sigstore_bundle({"publicKey": {"hint": "keyed"}},
        {"messageSignature": {"messageDigest": {"algorithm": "SHA2_512", "digest": base64.b64encode(hashlib.sha512(b"ratify-swift sha512 subject").digest()).decode()},
                              "signature": base64.b64encode(keyed.sign(hashlib.sha512(b"ratify-swift sha512 subject").digest(), ec.ECDSA(Prehashed(hashes.SHA512())))).decode()}}),
}
# Rekor v2 writes entries with an inclusion proof and no promise: the entry is proven by the RFC
# 6962 audit path to a root that the log signed in a checkpoint (a signed note:
# transparency-dev/formats log/README.md, "— <name> base64(keyhint || signature)", keyhint the
# first 4 bytes of the log ID). The tree here has 11 leaves, the entry at index 6.
def merkle_leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def merkle_node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 6962 §2.1 MTH over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle_node(mth(leaves[:k]), mth(leaves[k:]))


def audit_path(m, leaves):
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return audit_path(m, leaves[:k]) + [mth(leaves[k:])] if m < k else audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def checkpoint(root, size, signer, hint_key):
    note = f"rekor.test - 4242\n{size}\n{base64.b64encode(root).decode()}\n"
    hint = hashlib.sha256(spki(hint_key)).digest()[:4]
    signature = signer.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
    return note + "\n\u2014 rekor.test " + base64.b64encode(hint + signature).decode() + "\n"


keyed_message = json.loads(bundles["keyed-message"])
keyed_signature = keyed_message["messageSignature"]["signature"]
keyed_pem = keyed.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
keyed_body = json.dumps({"apiVersion": "0.0.2", "kind": "hashedrekord",
                         "spec": {"data": {"hash": {"algorithm": "sha256", "value": manifest_digest.hex()}},
                                  "signature": {"content": keyed_signature, "publicKey": {"content": base64.b64encode(keyed_pem).decode()}}}},
                        separators=(",", ":")).encode()
leaves = [merkle_leaf(os.urandom(40)) for _ in range(11)]
leaves[6] = merkle_leaf(keyed_body)
tree_root = mth(leaves)


def proof_bundle(index=6, hashes_=None, envelope=None, root_hash=tree_root):
    bundle = json.loads(bundles["keyed-message"])
    bundle["verificationMaterial"]["tlogEntries"] = [{
        "logIndex": "1006", "logId": {"keyId": base64.b64encode(hashlib.sha256(spki(rekor_key)).digest()).decode()},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "inclusionProof": {"logIndex": str(index), "rootHash": base64.b64encode(root_hash).decode(), "treeSize": "11",
                           "hashes": [base64.b64encode(h).decode() for h in (hashes_ if hashes_ is not None else audit_path(6, leaves))],
                           "checkpoint": {"envelope": envelope or checkpoint(tree_root, 11, rekor_key, rekor_key)}},
        "canonicalizedBody": base64.b64encode(keyed_body).decode()}]
    return json.dumps(bundle)


tampered_path = audit_path(6, leaves)
tampered_path[1] = bytes([tampered_path[1][0] ^ 1]) + tampered_path[1][1:]
bundles["keyed-message-proof-only"] = proof_bundle()
bundles["keyed-message-proof-bad-path"] = proof_bundle(hashes_=tampered_path)
bundles["keyed-message-proof-wrong-index"] = proof_bundle(index=5)
bundles["keyed-message-proof-forged-checkpoint"] = proof_bundle(envelope=checkpoint(tree_root, 11, other_rekor_key, rekor_key))
bundles["keyed-message-proof-other-root"] = proof_bundle(envelope=checkpoint(mth(leaves[:10] + [merkle_leaf(b"another entry")]), 11, rekor_key, rekor_key))
# Rekor v2 (rekor-tiles): an Ed25519 log named by its C2SP key ID, SHA-256(origin || "\n" ||
# 0x01 || key), which is also the checkpoint's key hint; hashedrekord v0.0.2 body (digest and DER
# verifier in protobuf JSON, as sigstore-go's tests show it); no promise, no integrated time.
from cryptography.hazmat.primitives.asymmetric import ed25519 as ed
v2_key = ed.Ed25519PrivateKey.generate()
v2_origin = "log2025-test.rekor.example"
v2_raw = v2_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
v2_id = hashlib.sha256(v2_origin.encode() + b"\n" + b"\x01" + v2_raw).digest()
def rekor_v2_bundle(logged_digest):
    """The keyed-message bundle with a Rekor v2 entry logging `logged_digest` as the signed digest."""
    v2_body = json.dumps({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {"hashedRekordV002": {
        "data": {"algorithm": "SHA2_256", "digest": base64.b64encode(logged_digest).decode()},
        "signature": {"content": keyed_signature, "verifier": {"keyDetails": "PKIX_ECDSA_P256_SHA_256",
                      "publicKey": {"rawBytes": base64.b64encode(keyed.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()}}}}}},
        separators=(",", ":")).encode()
    v2_leaves = [merkle_leaf(os.urandom(40)) for _ in range(5)] + [merkle_leaf(v2_body)]
    v2_root = mth(v2_leaves)
    v2_note = f"{v2_origin}\n6\n{base64.b64encode(v2_root).decode()}\n"
    v2_checkpoint = v2_note + "\n\u2014 " + v2_origin + " " + base64.b64encode(v2_id[:4] + v2_key.sign(v2_note.encode())).decode() + "\n"
    v2_bundle = json.loads(bundles["keyed-message"])
    v2_bundle["verificationMaterial"]["tlogEntries"] = [{
        "logIndex": "5", "logId": {"keyId": base64.b64encode(v2_id).decode()}, "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "inclusionProof": {"logIndex": "5", "rootHash": base64.b64encode(v2_root).decode(), "treeSize": "6",
                           "hashes": [base64.b64encode(h).decode() for h in audit_path(5, v2_leaves)], "checkpoint": {"envelope": v2_checkpoint}},
        "canonicalizedBody": base64.b64encode(v2_body).decode()}]
    return json.dumps(v2_bundle)


bundles["keyed-message-rekor-v2"] = rekor_v2_bundle(manifest_digest)
# A valid proof of an entry that logged another digest: the log vouches for something else.
bundles["keyed-message-rekor-v2-other-payload"] = rekor_v2_bundle(hashlib.sha256(b"another payload").digest())
bundles["keyed-message-proof-other-size"] = proof_bundle(envelope=checkpoint(mth(leaves[:10]), 10, rekor_key, rekor_key))
with open(os.path.join(out, "bundles.json"), "w") as f:
    json.dump(bundles, f, indent=1)

raw = lambda key: base64.b64encode(spki(key)).decode()
trusted_root = {
    "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "certificateAuthorities": [{"subject": {"organization": "sigstore.dev", "commonName": "test-fulcio"}, "uri": "https://fulcio.example",
                                "certChain": {"certificates": [{"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
                                                               for c in (intermediate, root)]},
                                "validFor": {"start": (NOW - 365 * 24 * 60 * MINUTE).isoformat()}}],
    "ctlogs": [{"baseUrl": "https://ctfe.example", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": raw(ct_key), "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
                "logId": {"keyId": base64.b64encode(hashlib.sha256(spki(ct_key)).digest()).decode()}}],
    "tlogs": [{"baseUrl": "https://rekor.example", "hashAlgorithm": "SHA2_256",
               "publicKey": {"rawBytes": raw(rekor_key), "keyDetails": "PKIX_ECDSA_P256_SHA_256"},
               "logId": {"keyId": base64.b64encode(hashlib.sha256(spki(rekor_key)).digest()).decode()}},
              {"baseUrl": "https://" + v2_origin, "hashAlgorithm": "SHA2_256",
               "publicKey": {"rawBytes": base64.b64encode(v2_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode(),
                             "keyDetails": "PKIX_ED25519", "validFor": {"start": (NOW - 24 * 60 * MINUTE).isoformat()}},
               "logId": {"keyId": base64.b64encode(v2_id).decode()}}],
    "timestampAuthorities": [{"subject": {"organization": "sigstore.dev", "commonName": "test-tsa"}, "uri": "https://tsa.example",
                              "certChain": {"certificates": [{"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
                                                             for c in (tsa_cert, tsa_root)]},
                              "validFor": {"start": (NOW - 365 * 24 * 60 * MINUTE).isoformat()}}],
}
with open(os.path.join(out, "trusted_root.json"), "w") as f:
    json.dump(trusted_root, f, indent=1)
with open(os.path.join(out, "private-roots.pem"), "w") as f:
    f.write(pem(private_root))
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
