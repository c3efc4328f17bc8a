#!/usr/bin/env python3
"""TUF repositories made with python-tuf (the reference implementation's Metadata API), for the
TUF client tests — independent of the code under test. Each scenario is a directory with
metadata/ and targets/ as a mirror serves them (consistent snapshots: versioned metadata names,
hash-prefixed target names), all sharing one initial root (OUT/root.json, what the client ships):

  good             root rotated to v2 (new root key, signed by the old and the new key), timestamp,
                   snapshot and targets signed by ECDSA and Ed25519 keys, target trusted_root.json
  newer            like good, one publication later (timestamp v3, snapshot v3, targets v3)
  rollback         an older publication than `newer` (timestamp v2), for a client that saw newer
  expired          the timestamp has expired (a freeze attack: a mirror serving stale metadata)
  rotation-unsigned  root v2 signed by the new key only (not by the trusted root)
  mix-and-match    the timestamp names snapshot v2 (with its hash) but the mirror serves another one
  truncated        the target is shorter than targets.json says
  oversized        the target is longer than targets.json says
  expired-root     root v2 has expired
  cdn              good, laid out as sigstore's TUF CDN (metadata at the top, targets/ below)

usage: make_tuf_repo.py OUT_DIR
"""
import copy
import datetime
import hashlib
import os
import shutil
import sys

from securesystemslib.signer import CryptoSigner
from securesystemslib.signer import Signature
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
LATER, PAST = NOW + datetime.timedelta(days=30), NOW - datetime.timedelta(days=1)
TARGET = b'{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"ctlogs":[],"certificateAuthorities":[],"timestampAuthorities":[]}\n'

root1_key, root2_key = CryptoSigner.generate_ecdsa(), CryptoSigner.generate_ecdsa()
timestamp_key, snapshot_key, targets_key = CryptoSigner.generate_ed25519(), CryptoSigner.generate_ecdsa(), CryptoSigner.generate_ed25519()
serializer = JSONSerializer(compact=False)


def signed(role, *signers):
    metadata = Metadata(role)
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata.to_bytes(serializer)


def root(version, root_signer, expires=LATER):
    r = Root(version=version, expires=expires, consistent_snapshot=True)
    r.add_key(root_signer.public_key, "root")
    r.add_key(timestamp_key.public_key, "timestamp")
    r.add_key(snapshot_key.public_key, "snapshot")
    r.add_key(targets_key.public_key, "targets")
    return r


def publish(directory, version, target=TARGET, timestamp_expires=LATER, root2_signers=(root1_key, root2_key), root2_expires=LATER,
            snapshot_served=None, root2_served=None):
    meta, targets_dir = os.path.join(directory, "metadata"), os.path.join(directory, "targets")
    os.makedirs(meta, exist_ok=True)
    os.makedirs(targets_dir, exist_ok=True)
    write = lambda path, data: open(path, "wb").write(data)
    write(os.path.join(meta, "1.root.json"), signed(root(1, root1_key), root1_key))
    write(os.path.join(meta, "2.root.json"), root2_served or signed(root(2, root2_key, root2_expires), *root2_signers))
    digest = hashlib.sha256(TARGET).hexdigest()
    targets = Targets(version=version, expires=LATER)
    targets.targets["trusted_root.json"] = TargetFile(length=len(TARGET), hashes={"sha256": digest}, path="trusted_root.json")
    targets_bytes = signed(targets, targets_key)
    snapshot = Snapshot(version=version, expires=LATER, meta={"targets.json": MetaFile(version=version)})
    snapshot_bytes = signed(snapshot, snapshot_key)
    timestamp = Timestamp(version=version, expires=timestamp_expires,
                          snapshot_meta=MetaFile(version=version, length=len(snapshot_bytes),
                                                 hashes={"sha256": hashlib.sha256(snapshot_bytes).hexdigest()}))
    write(os.path.join(meta, "timestamp.json"), signed(timestamp, timestamp_key))
    write(os.path.join(meta, f"{version}.snapshot.json"), snapshot_served if snapshot_served is not None else snapshot_bytes)
    write(os.path.join(meta, f"{version}.targets.json"), targets_bytes)
    write(os.path.join(targets_dir, f"{digest}.trusted_root.json"), target)


open(os.path.join(out, "root.json"), "wb").write(signed(root(1, root1_key), root1_key))
open(os.path.join(out, "trusted_root.json"), "wb").write(TARGET)
publish(os.path.join(out, "good"), 2)
publish(os.path.join(out, "newer"), 3)
publish(os.path.join(out, "rollback"), 2)
publish(os.path.join(out, "expired"), 2, timestamp_expires=PAST)
publish(os.path.join(out, "rotation-unsigned"), 2, root2_signers=(root2_key,))
other_snapshot = signed(Snapshot(version=2, expires=LATER, meta={"targets.json": MetaFile(version=1)}), snapshot_key)
publish(os.path.join(out, "mix-and-match"), 2, snapshot_served=other_snapshot)
publish(os.path.join(out, "truncated"), 2, target=TARGET[:-10])
publish(os.path.join(out, "oversized"), 2, target=TARGET + b" " * 64)
publish(os.path.join(out, "expired-root"), 2, root2_expires=PAST)


def root2_one_key_twice():
    """Root v2 wants 2 root signatures and lists root2's key under two key IDs, signed by it once
    under each: one key, so one signature (TUF counts keys, not key IDs)."""
    r = root(2, root2_key)
    pk = root2_key.public_key
    alias = type(pk)(pk.keyid[::-1], pk.keytype, pk.scheme, pk.keyval)
    r.add_key(alias, "root")
    r.roles["root"].threshold = 2
    metadata = Metadata(r)
    metadata.sign(root1_key, append=True)
    metadata.sign(root2_key, append=True)
    metadata.signatures[alias.keyid] = Signature(alias.keyid, metadata.signatures[pk.keyid].signature)
    return metadata.to_bytes(serializer)


publish(os.path.join(out, "duplicate-keyid"), 2, root2_served=root2_one_key_twice())
# The layout of sigstore's TUF CDN (what --tuf-mirror names): metadata at the mirror's root,
# targets under targets/.
shutil.copytree(os.path.join(out, "good", "metadata"), os.path.join(out, "cdn"))
shutil.copytree(os.path.join(out, "good", "targets"), os.path.join(out, "cdn", "targets"))
