#!/usr/bin/env python3
"""Notary Project signature fixtures made with independent tools — Python `cryptography` for the
PKI, `jwcrypto` for JWS envelopes, `pycose` for COSE_Sign1 envelopes, `asn1crypto` + `cryptography`
and the OpenSSL CLI (`openssl ts`) for RFC 3161 timestamp tokens. Nothing here uses the code under
test.

usage: make_notation_fixtures.py OUT_DIR MEDIA_TYPE DIGEST SIZE [--basic] [--ocsp URL --crl URL] [--subjects FILE]

Writes to OUT_DIR:
  truststore/x509/ca/wabbit/root.crt                 notation's trust store layout
  truststore/x509/signingAuthority/wabbit-sa/root.crt
  truststore/x509/tsa/tsa/tsa-root.crt
  truststore/x509/ca/selfsigned/alpine.crt           `notation cert generate-test`'s lone certificate
  truststore/x509/ca/other-selfsigned/alpine.crt     another one with the same name
  <case>.jws / <case>.cose                           envelopes (see CASES below)
  cases.json                                         {case: media type}
With --subjects FILE (a JSON list of descriptors) OUT_DIR also gets subject-<i>.jws, a valid
ES256 signature over each (for benchmarks). With --ocsp/--crl the leaf certificates carry those AIA / CRL distribution point URLs and
OUT_DIR also gets the files an OCSP responder and a CRL server need (revocation/).
"""
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys

import cbor2
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwcrypto import jwk, jws
from jwcrypto.common import JWSEHeaderParameter
from pycose import algorithms as cose_alg
from pycose.headers import Algorithm, ContentType, Critical, X5chain
from pycose.keys import CoseKey
from pycose.messages import Sign1Message

args = sys.argv[1:]
basic = "--basic" in args
ocsp_url = args[args.index("--ocsp") + 1] if "--ocsp" in args else None
subjects_file = args[args.index("--subjects") + 1] if "--subjects" in args else None
crl_url = args[args.index("--crl") + 1] if "--crl" in args else None
out, media_type, digest, size = args[0], args[1], args[2], int(args[3])
os.makedirs(out, exist_ok=True)
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
CTY = "application/vnd.cncf.notary.payload.v1+json"
SUBJECT = {"mediaType": media_type, "digest": digest, "size": size}
LEAF_NAME = [("C", "US"), ("ST", "WA"), ("L", "Seattle"), ("O", "wabbit-networks.io"), ("CN", "SecureBuilder")]
OIDS = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}


def name(parts):
    return x509.Name([x509.NameAttribute(OIDS[k], v) for k, v in parts])


def pem_private(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def certificate(subject, key, issuer=None, issuer_key=None, ca=False, not_before=None, not_after=None,
                eku=None, revocation=False):
    """A certificate shaped as signature-specification.md's "Certificate Requirements" ask."""
    issuer, issuer_key = issuer or (subject, key), issuer_key or key
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer[0]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY).not_valid_after(not_after or NOW + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_key is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=eku == [ExtendedKeyUsageOID.TIME_STAMPING])
    if revocation and ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    if revocation and crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
    digest_hash = hashes.SHA384() if isinstance(issuer_key, ec.EllipticCurvePrivateKey) and issuer_key.curve.key_size >= 384 else hashes.SHA256()
    return builder.sign(issuer_key, digest_hash)


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def write(path, data):
    full = os.path.join(out, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


# ---- PKI ----------------------------------------------------------------------------------------
root_key = ec.generate_private_key(ec.SECP384R1())
root_name = [("C", "US"), ("ST", "WA"), ("O", "wabbit-networks.io"), ("CN", "wabbit root")]
root = certificate(root_name, root_key, ca=True, not_after=NOW + 3650 * DAY, not_before=NOW - 3650 * DAY)
inter_key = ec.generate_private_key(ec.SECP256R1())
inter_name = [("C", "US"), ("ST", "WA"), ("O", "wabbit-networks.io"), ("CN", "wabbit intermediate")]
inter = certificate(inter_name, inter_key, (root_name,), root_key, ca=True, not_after=NOW + 3650 * DAY, not_before=NOW - 3650 * DAY)
rogue_key = ec.generate_private_key(ec.SECP256R1())
rogue_name = [("C", "US"), ("ST", "CA"), ("O", "rogue"), ("CN", "rogue root")]
rogue = certificate(rogue_name, rogue_key, ca=True)
tsa_root_key = ec.generate_private_key(ec.SECP256R1())
tsa_root_name = [("C", "US"), ("ST", "WA"), ("O", "timestamps"), ("CN", "tsa root")]
tsa_root = certificate(tsa_root_name, tsa_root_key, ca=True, not_before=NOW - 3650 * DAY, not_after=NOW + 3650 * DAY)
tsa_key = ec.generate_private_key(ec.SECP256R1())
tsa_name = [("C", "US"), ("ST", "WA"), ("O", "timestamps"), ("CN", "tsa")]
tsa_cert = certificate(tsa_name, tsa_key, (tsa_root_name,), tsa_root_key, eku=[ExtendedKeyUsageOID.TIME_STAMPING],
                       not_before=NOW - 3650 * DAY, not_after=NOW + 3650 * DAY)
rogue_tsa_key = ec.generate_private_key(ec.SECP256R1())
rogue_tsa = certificate([("C", "US"), ("ST", "CA"), ("O", "rogue"), ("CN", "rogue tsa")], rogue_tsa_key,
                        eku=[ExtendedKeyUsageOID.TIME_STAMPING])

write("truststore/x509/ca/wabbit/root.crt", root.public_bytes(serialization.Encoding.PEM))
write("truststore/x509/signingAuthority/wabbit-sa/root.crt", root.public_bytes(serialization.Encoding.PEM))
write("truststore/x509/tsa/tsa/tsa-root.crt", tsa_root.public_bytes(serialization.Encoding.PEM))
write("rogue-root.crt", rogue.public_bytes(serialization.Encoding.PEM))

KEYS = {
    "es256": (lambda: ec.generate_private_key(ec.SECP256R1()), cose_alg.Es256),
    "es384": (lambda: ec.generate_private_key(ec.SECP384R1()), cose_alg.Es384),
    "es512": (lambda: ec.generate_private_key(ec.SECP521R1()), cose_alg.Es512),
    "ps256": (lambda: rsa.generate_private_key(65537, 2048), cose_alg.Ps256),
    "ps384": (lambda: rsa.generate_private_key(65537, 3072), cose_alg.Ps384),
    "ps512": (lambda: rsa.generate_private_key(65537, 4096), cose_alg.Ps512),
}


def leaf(key, **kwargs):
    return certificate(LEAF_NAME, key, (inter_name,), inter_key, eku=[ExtendedKeyUsageOID.CODE_SIGNING], revocation=True, **kwargs)


# ---- envelopes ----------------------------------------------------------------------------------
def protected_attributes(scheme="notary.x509", expiry=None, extra=None, crit_extra=(), signing_time=None):
    attributes = {"io.cncf.notary.signingScheme": scheme}
    crit = ["io.cncf.notary.signingScheme"]
    if scheme == "notary.x509":
        attributes["io.cncf.notary.signingTime"] = signing_time or NOW
    else:
        attributes["io.cncf.notary.authenticSigningTime"] = signing_time or NOW
        crit.append("io.cncf.notary.authenticSigningTime")
    if expiry:
        attributes["io.cncf.notary.expiry"] = expiry
        crit.append("io.cncf.notary.expiry")
    attributes.update(extra or {})
    return attributes, crit + list(crit_extra)


def jws_envelope(alg, key, chain, payload, scheme="notary.x509", expiry=None, extra=None, crit_extra=(), timestamp=None, signing_time=None):
    attributes, crit = protected_attributes(scheme, expiry, extra, crit_extra, signing_time)
    protected = {"alg": alg.upper(), "crit": crit, "cty": CTY}
    for k, v in attributes.items():
        protected[k] = v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime.datetime) else v
    registry = {n: JWSEHeaderParameter(n, True, True, None) for n in protected if n.startswith("io.")}
    token = jws.JWS(payload, header_registry=registry)
    header = {"x5c": [base64.b64encode(der(c)).decode() for c in chain], "io.cncf.notary.signingAgent": "fixtures/1.0"}
    token.add_signature(jwk.JWK.from_pem(pem_private(key)), alg=None, protected=json.dumps(protected), header=json.dumps(header))
    envelope = json.loads(token.serialize(compact=False))
    if timestamp:
        signature = base64.urlsafe_b64decode(envelope["signature"] + "=" * (-len(envelope["signature"]) % 4))
        envelope["header"]["io.cncf.notary.timestampSignature"] = base64.b64encode(timestamp(signature)).decode()
    return json.dumps(envelope).encode()


def cose_envelope(alg, key, chain, payload, scheme="notary.x509", expiry=None, timestamp=None, extra=None, crit_extra=()):
    attributes, crit = protected_attributes(scheme, expiry, extra, crit_extra)
    phdr = {Algorithm: KEYS[alg][1], Critical: crit, ContentType: CTY}
    for k, v in attributes.items():
        phdr[k] = cbor2.CBORTag(1, int(v.timestamp())) if isinstance(v, datetime.datetime) else v
    message = Sign1Message(phdr=phdr, uhdr={X5chain: [der(c) for c in chain], "io.cncf.notary.signingAgent": "fixtures/1.0"},
                           payload=payload)
    message.key = CoseKey.from_pem_private_key(pem_private(key).decode())
    encoded = message.encode(tag=True)
    if timestamp:
        decoded = cbor2.loads(encoded)
        parts = list(decoded.value)
        unprotected = dict(parts[1])
        unprotected["io.cncf.notary.timestampSignature"] = timestamp(parts[3])
        parts[1] = unprotected
        encoded = cbor2.dumps(cbor2.CBORTag(18, parts))
    return encoded


def payload_for(descriptor):
    return json.dumps({"targetArtifact": descriptor}, separators=(",", ":")).encode()


# ---- RFC 3161 tokens ----------------------------------------------------------------------------
def asn1_timestamp(gen_time, signer_key=tsa_key, signer=tsa_cert, chain=(tsa_cert,)):
    """A TimeStampToken built field by field (RFC 3161 §2.4.2, RFC 5816 ESSCertIDv2), so the
    genTime can be chosen."""
    def make(message):
        info = tsp.TSTInfo({
            "version": "v1", "policy": "1.2.3.4.1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(message).digest()},
            "serial_number": int.from_bytes(os.urandom(8), "big"), "gen_time": gen_time,
            "accuracy": {"seconds": 1},
        })
        content = info.dump()
        asn_signer = asn1_x509.Certificate.load(der(signer))
        attributes = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [
                tsp.SigningCertificateV2({"certs": [{"cert_hash": hashlib.sha256(der(signer)).digest()}]})]}),
        ])
        signature = signer_key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {"issuer": asn_signer.issuer, "serial_number": asn_signer.serial_number}}),
            "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"}, "signature": signature,
        })
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
            "certificates": [asn1_x509.Certificate.load(der(c)) for c in chain], "signer_infos": [signer_info],
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
    return make


def openssl_timestamp(message):
    """A token from `openssl ts -reply` (its genTime is now)."""
    work = os.path.join(out, "tsa-work")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "tsa.crt"), "wb") as f:
        f.write(tsa_cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(work, "tsa.key"), "wb") as f:
        f.write(pem_private(tsa_key))
    with open(os.path.join(work, "message"), "wb") as f:
        f.write(message)
    with open(os.path.join(work, "tsa.cnf"), "w") as f:
        f.write(f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {work}
serial = $dir/serial
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
ess_cert_id_chain = no
certs = $dir/tsa.crt
""")
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("01\n")
    run = lambda *a: subprocess.run(["openssl", "ts", *a], check=True, capture_output=True)
    run("-query", "-data", f"{work}/message", "-sha256", "-cert", "-no_nonce", "-out", f"{work}/request.tsq")
    run("-reply", "-config", f"{work}/tsa.cnf", "-queryfile", f"{work}/request.tsq", "-token_out", "-out", f"{work}/token.der")
    with open(f"{work}/token.der", "rb") as f:
        return f.read()


# ---- cases --------------------------------------------------------------------------------------
cases = {}
payload = payload_for(SUBJECT)


def emit(case, data, kind):
    write(f"{case}.{kind}", data)
    cases[case] = "application/jose+json" if kind == "jws" else "application/cose"


leaves = {}
for alg in (["es256"] if basic else list(KEYS)):
    key = KEYS[alg][0]()
    leaves[alg] = (key, leaf(key))
    chain = [leaves[alg][1], inter, root]
    emit(f"jws-{alg}", jws_envelope(alg, key, chain, payload), "jws")
    emit(f"cose-{alg}", cose_envelope(alg, key, chain, payload), "cose")

key, cert = leaves["es256"]
chain = [cert, inter, root]

# `notation cert generate-test alpine`: one self-signed RSA 2048 certificate, basicConstraints
# present with cA false, keyUsage digitalSignature (critical), extendedKeyUsage codeSigning — the
# chain every notation and Ratify quickstart signs with (notation-core-go's chain-of-one branch).
ALPINE = [("C", "US"), ("ST", "WA"), ("L", "Seattle"), ("O", "Notary"), ("CN", "alpine")]
for store, basename in (("selfsigned", "jws"), ("other-selfsigned", None)):
    self_key = rsa.generate_private_key(65537, 2048)
    self_cert = certificate(ALPINE, self_key, eku=[ExtendedKeyUsageOID.CODE_SIGNING], not_after=NOW + 365 * DAY)
    write(f"truststore/x509/ca/{store}/alpine.crt", self_cert.public_bytes(serialization.Encoding.PEM))
    if basename:
        emit("jws-self-signed", jws_envelope("ps256", self_key, [self_cert], payload), "jws")
        emit("cose-self-signed", cose_envelope("ps256", self_key, [self_cert], payload), "cose")
# Unsigned parts notation-core-go ignores: an unknown COSE unprotected label and a signingAgent of
# the wrong type; a signed payload with a member besides targetArtifact.
cose_plain = cbor2.loads(cose_envelope("es256", key, chain, payload))
parts = list(cose_plain.value)
unprotected = dict(parts[1])
unprotected["io.example.unsigned"] = "ignored"
unprotected["io.cncf.notary.signingAgent"] = 42
parts[1] = unprotected
emit("cose-unknown-unprotected", cbor2.dumps(cbor2.CBORTag(18, parts)), "cose")
emit("jws-payload-extra-member", jws_envelope("es256", key, chain,
     json.dumps({"targetArtifact": SUBJECT, "io.example.note": "kept"}, separators=(",", ":")).encode()), "jws")

# A lone self-signed certificate that is a CA: notation-core-go applies the leaf rules to it
# (basicConstraints cA must be false), so it cannot sign alone.
ca_alone_key = ec.generate_private_key(ec.SECP256R1())
ca_alone = certificate(ALPINE, ca_alone_key, ca=True)
write("truststore/x509/ca/ca-alone/ca.crt", ca_alone.public_bytes(serialization.Encoding.PEM))
emit("jws-self-signed-ca", jws_envelope("es256", ca_alone_key, [ca_alone], payload), "jws")
jws_valid = json.loads(open(os.path.join(out, "jws-es256.jws")).read())

if subjects_file:
    with open(subjects_file) as f:
        for index, descriptor in enumerate(json.load(f)):
            emit(f"subject-{index}", jws_envelope("es256", key, chain, payload_for(descriptor)), "jws")

if ocsp_url or crl_url:
    # A second, revoked leaf for the revocation tests, and what a responder / CRL server need.
    revoked_key = ec.generate_private_key(ec.SECP256R1())
    revoked = leaf(revoked_key)
    emit("jws-revoked", jws_envelope("es256", revoked_key, [revoked, inter, root], payload), "jws")
    write("revocation/intermediate.crt", inter.public_bytes(serialization.Encoding.PEM))
    write("revocation/intermediate.key", pem_private(inter_key))
    write("revocation/root.crt", root.public_bytes(serialization.Encoding.PEM))
    # openssl ocsp's index.txt: status, expiry, revocation time, serial (hex), file, DN.
    def index_line(c, status):
        expiry = c.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
        revoked_at = (NOW - DAY).strftime("%y%m%d%H%M%SZ") if status == "R" else ""
        dn = "/" + "/".join(f"{k}={v}" for k, v in LEAF_NAME)
        return f"{status}\t{expiry}\t{revoked_at}\t{c.serial_number:X}\tunknown\t{dn}\n"
    write("revocation/index.txt", (index_line(cert, "V") + index_line(revoked, "R")).encode())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(inter.subject).last_update(NOW - DAY).next_update(NOW + 7 * DAY)
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(revoked.serial_number)
                                    .revocation_date(NOW - DAY).build())
           .sign(inter_key, hashes.SHA256()))
    write("revocation/intermediate.crl", crl.public_bytes(serialization.Encoding.DER))

if not basic:
    # Tampering after signing.
    tampered = dict(jws_valid)
    tampered["payload"] = base64.urlsafe_b64encode(payload_for({**SUBJECT, "size": size + 1})).decode().rstrip("=")
    emit("jws-tampered-payload", json.dumps(tampered).encode(), "jws")
    tampered = dict(jws_valid)
    signature = bytearray(base64.urlsafe_b64decode(jws_valid["signature"] + "=="))
    signature[10] ^= 0x01
    tampered["signature"] = base64.urlsafe_b64encode(bytes(signature)).decode().rstrip("=")
    emit("jws-tampered-signature", json.dumps(tampered).encode(), "jws")
    cose_valid = cbor2.loads(open(os.path.join(out, "cose-es256.cose"), "rb").read())
    parts = list(cose_valid.value)
    emit("cose-tampered-payload", cbor2.dumps(cbor2.CBORTag(18, [parts[0], dict(parts[1]), payload_for({**SUBJECT, "size": size + 1}), parts[3]])), "cose")
    signature = bytearray(parts[3])
    signature[10] ^= 0x01
    emit("cose-tampered-signature", cbor2.dumps(cbor2.CBORTag(18, [parts[0], dict(parts[1]), parts[2], bytes(signature)])), "cose")

    # Valid signatures over another artifact's descriptor.
    other = "sha256:" + "0" * 64
    emit("jws-other-digest", jws_envelope("es256", key, chain, payload_for({**SUBJECT, "digest": other})), "jws")
    emit("jws-other-size", jws_envelope("es256", key, chain, payload_for({**SUBJECT, "size": size + 7})), "jws")
    emit("jws-other-mediatype", jws_envelope("es256", key, chain, payload_for({**SUBJECT, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})), "jws")

    # Expiry, trust and identity.
    emit("jws-expired-signature", jws_envelope("es256", key, chain, payload, expiry=NOW - DAY, signing_time=NOW - 2 * DAY), "jws")
    emit("jws-expiry-before-signing", jws_envelope("es256", key, chain, payload, expiry=NOW - 60 * DAY), "jws")
    emit("jws-unexpired-signature", jws_envelope("es256", key, chain, payload, expiry=NOW + 30 * DAY), "jws")
    rogue_leaf_key = ec.generate_private_key(ec.SECP256R1())
    rogue_leaf = certificate(LEAF_NAME, rogue_leaf_key, (rogue_name,), rogue_key, eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    emit("jws-untrusted-root", jws_envelope("es256", rogue_leaf_key, [rogue_leaf, rogue], payload), "jws")
    emit("jws-signing-authority", jws_envelope("es256", key, chain, payload, scheme="notary.x509.signingAuthority"), "jws")
    emit("cose-signing-authority", cose_envelope("es256", key, chain, payload, scheme="notary.x509.signingAuthority"), "cose")
    emit("jws-unknown-critical", jws_envelope("es256", key, chain, payload, extra={"io.example.policy": "strict"},
                                              crit_extra=["io.example.policy"]), "jws")
    emit("jws-unknown-noncritical", jws_envelope("es256", key, chain, payload, extra={"io.example.note": "hello"}), "jws")
    emit("jws-plugin", jws_envelope("es256", key, chain, payload, extra={"io.cncf.notary.verificationPlugin": "com.example.nv2plugin"},
                                    crit_extra=["io.cncf.notary.verificationPlugin"]), "jws")
    # Verification plugin variants (Notary Project plugin-extensibility.md): a minimum plugin
    # version, an extended critical attribute the plugin must process, and the COSE form.
    PLUGIN = {"io.cncf.notary.verificationPlugin": "com.example.nv2plugin"}
    emit("jws-plugin-minversion", jws_envelope("es256", key, chain, payload,
         extra={**PLUGIN, "io.cncf.notary.verificationPluginMinVersion": "1.2.0"},
         crit_extra=["io.cncf.notary.verificationPlugin", "io.cncf.notary.verificationPluginMinVersion"]), "jws")
    emit("jws-plugin-extended", jws_envelope("es256", key, chain, payload, expiry=NOW + 30 * DAY,
         extra={**PLUGIN, "io.example.tenant": "t1"}, crit_extra=["io.cncf.notary.verificationPlugin", "io.example.tenant"]), "jws")
    emit("cose-plugin", cose_envelope("es256", key, chain, payload, extra=PLUGIN, crit_extra=["io.cncf.notary.verificationPlugin"]), "cose")
    # alg says ES384 but the key is P-256: jwcrypto refuses, so this one is signed by hand (RFC 7515 §5.1).
    protected = base64.urlsafe_b64encode(json.dumps({"alg": "ES384", "crit": ["io.cncf.notary.signingScheme"], "cty": CTY,
        "io.cncf.notary.signingScheme": "notary.x509", "io.cncf.notary.signingTime": NOW.isoformat()}).encode()).decode().rstrip("=")
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    r, s = decode_dss_signature(key.sign(f"{protected}.{body}".encode(), ec.ECDSA(hashes.SHA384())))
    emit("jws-alg-mismatch", json.dumps({"payload": body, "protected": protected, "header": {"x5c": jws_valid["header"]["x5c"]},
        "signature": base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode().rstrip("=")}).encode(), "jws")

    # RSASSA-PSS with the maximum salt length (what some HSMs and signing plugins produce):
    # golang-jwt, which notation-core-go verifies JWS with, accepts any salt length.
    ps_key, ps_cert = leaves["ps256"]
    ps_jws = json.loads(open(os.path.join(out, "jws-ps256.jws")).read())
    max_salt_input = f"{ps_jws['protected']}.{ps_jws['payload']}".encode()
    max_salt = ps_key.sign(max_salt_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
    emit("jws-ps256-max-salt", json.dumps({**ps_jws, "signature": base64.urlsafe_b64encode(max_salt).decode().rstrip("=")}).encode(), "jws")

    # Timestamps. An expired signer (valid 30 to 10 days ago) is rescued only by a timestamp
    # from inside its validity, made by a TSA the policy trusts.
    expired_key = ec.generate_private_key(ec.SECP256R1())
    expired = leaf(expired_key, not_before=NOW - 30 * DAY, not_after=NOW - 10 * DAY)
    expired_chain = [expired, inter, root]
    emit("jws-expired-no-timestamp", jws_envelope("es256", expired_key, expired_chain, payload), "jws")
    emit("jws-expired-timestamp-inside", jws_envelope("es256", expired_key, expired_chain, payload,
                                                      timestamp=asn1_timestamp(NOW - 20 * DAY)), "jws")
    emit("cose-expired-timestamp-inside", cose_envelope("es256", expired_key, expired_chain, payload,
                                                        timestamp=asn1_timestamp(NOW - 20 * DAY)), "cose")
    emit("jws-expired-timestamp-after", jws_envelope("es256", expired_key, expired_chain, payload, timestamp=openssl_timestamp), "jws")
    emit("jws-expired-timestamp-before", jws_envelope("es256", expired_key, expired_chain, payload,
                                                      timestamp=asn1_timestamp(NOW - 40 * DAY)), "jws")
    emit("jws-expired-timestamp-rogue-tsa", jws_envelope("es256", expired_key, expired_chain, payload,
        timestamp=asn1_timestamp(NOW - 20 * DAY, rogue_tsa_key, rogue_tsa, (rogue_tsa,))), "jws")
    emit("jws-timestamp-openssl", jws_envelope("es256", key, chain, payload, timestamp=openssl_timestamp), "jws")
    # A TSA certificate OpenSSL's timestamping purpose accepts but the Notary Project's
    # timestamping requirements refuse: keyUsage nonRepudiation without digitalSignature.
    loose_tsa_key = ec.generate_private_key(ec.SECP256R1())
    loose_tsa = (x509.CertificateBuilder().subject_name(name([("C", "US"), ("ST", "WA"), ("O", "timestamps"), ("CN", "loose tsa")]))
                 .issuer_name(name(tsa_root_name)).public_key(loose_tsa_key.public_key()).serial_number(x509.random_serial_number())
                 .not_valid_before(NOW - 3650 * DAY).not_valid_after(NOW + 3650 * DAY)
                 .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                 .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=True, key_encipherment=False,
                                              data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                              encipher_only=False, decipher_only=False), critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                 .sign(tsa_root_key, hashes.SHA256()))
    emit("jws-expired-timestamp-loose-tsa", jws_envelope("es256", expired_key, expired_chain, payload,
         timestamp=asn1_timestamp(NOW - 20 * DAY, loose_tsa_key, loose_tsa, (loose_tsa,))), "jws")
    # A timestamp over some other signature.
    emit("jws-timestamp-other-imprint", jws_envelope("es256", expired_key, expired_chain, payload,
        timestamp=lambda _signature: asn1_timestamp(NOW - 20 * DAY)(b"another signature")), "jws")

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True)
