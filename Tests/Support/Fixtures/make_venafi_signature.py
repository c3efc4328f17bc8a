#!/usr/bin/env python3
"""A Notary Project signature shaped like one `notation sign` makes through a signing plugin such as
Venafi's notation-venafi-csp, for the Venafi guide walk-through (Tests/seeds): made with Python
`cryptography` and `jwcrypto`, independent of the code under test.

  - signing scheme notary.x509.signingAuthority (io.cncf.notary.authenticSigningTime, critical)
  - io.cncf.notary.verificationPlugin = "venafi-csp" (critical), so a verifier must hand the
    signature to the plugin notation-venafi-csp
  - a leaf "C=US, ST=CA, L=Cupertino, O=Acme, CN=signer.example.com" (the guide's trusted identity)
    under a root CA, the chain in x5c

usage: make_venafi_signature.py OUT_DIR MEDIA_TYPE DIGEST SIZE
Writes OUT_DIR/root.crt (PEM, for the guide's CertificateStore) and OUT_DIR/signature.jws.
"""
import base64
import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwcrypto import jwk, jws
from jwcrypto.common import JWSEHeaderParameter

out, media_type, digest, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(out, exist_ok=True)
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def name(parts):
    oids = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
            "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in parts])


def certificate(subject, key, issuer, issuer_key, ca):
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - DAY).not_valid_after(NOW + 365 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if not ca:
        builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    return builder.sign(issuer_key, hashes.SHA384() if ca else hashes.SHA384())


root_key, leaf_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP256R1())
root_name = [("C", "US"), ("O", "Venafi Test"), ("CN", "Venafi Test CodeSign Root")]
leaf_name = [("C", "US"), ("ST", "CA"), ("L", "Cupertino"), ("O", "Acme"), ("CN", "signer.example.com")]
root = certificate(root_name, root_key, root_name, root_key, ca=True)
leaf = certificate(leaf_name, leaf_key, root_name, root_key, ca=False)
with open(os.path.join(out, "root.crt"), "wb") as f:
    f.write(root.public_bytes(serialization.Encoding.PEM))

payload = json.dumps({"targetArtifact": {"mediaType": media_type, "digest": digest, "size": size}}, separators=(",", ":")).encode()
protected = {
    "alg": "ES256",
    "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.authenticSigningTime", "io.cncf.notary.verificationPlugin"],
    "cty": "application/vnd.cncf.notary.payload.v1+json",
    "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
    "io.cncf.notary.authenticSigningTime": NOW.isoformat().replace("+00:00", "Z"),
    "io.cncf.notary.verificationPlugin": "venafi-csp",
}
registry = {n: JWSEHeaderParameter(n, True, True, None) for n in protected if n.startswith("io.")}
token = jws.JWS(payload, header_registry=registry)
private = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
header = {"x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (leaf, root)],
          "io.cncf.notary.signingAgent": "notation-go/1.1.0 venafi-csp/0.3.0"}
token.add_signature(jwk.JWK.from_pem(private), alg=None, protected=json.dumps(protected), header=json.dumps(header))
with open(os.path.join(out, "signature.jws"), "w") as f:
    f.write(token.serialize(compact=False))
