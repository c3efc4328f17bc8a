#!/usr/bin/env python3
"""Push test content to a registry over plain HTTP (docker-registry on loopback), the way
oras does: `image REGISTRY REPO TAG` pushes a one-layer OCI image and prints its digest;
`attach REGISTRY REPO SUBJECT_DIGEST ARTIFACT_TYPE CONTENT` pushes an artifact whose subject is
that digest, updates the referrers tag-schema index, and prints the artifact's digest."""
import hashlib
import json
import sys
import urllib.error
import urllib.request
import uuid

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(base, repo, data):
    start = urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST", data=b""))
    location = start.headers["Location"]
    if location.startswith("/"):
        location = base + location
    location += ("&" if "?" in location else "?") + "digest=" + digest(data)
    urllib.request.urlopen(urllib.request.Request(location, data=data, method="PUT",
                                                  headers={"Content-Type": "application/octet-stream"}))
    return {"digest": digest(data), "size": len(data)}


def push_manifest(base, repo, ref, document, media_type):
    data = json.dumps(document, separators=(",", ":")).encode()
    urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}", data=data, method="PUT",
                                                  headers={"Content-Type": media_type}))
    return {"mediaType": media_type, "digest": digest(data), "size": len(data)}


def get_manifest(base, repo, ref):
    try:
        request = urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}", headers={"Accept": OCI_INDEX + ", " + OCI_MANIFEST})
        return urllib.request.urlopen(request).read()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def image(base, repo, tag):
    config = push_blob(base, repo, b'{"architecture":"amd64","os":"linux"}')
    layer = push_blob(base, repo, str(uuid.uuid4()).encode())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}
    return push_manifest(base, repo, tag, manifest, OCI_MANIFEST)


def cosign_signatures(base, repo, subject_digest, payload, signatures):
    """cosign's layout: a manifest tagged sha256-<hex>.sig, one simple-signing layer per signature."""
    config = push_blob(base, repo, b'{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}')
    layer = push_blob(base, repo, payload)
    layers = [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **layer,
               "annotations": {"dev.cosignproject.cosign/signature": signature}} for signature in signatures]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config}, "layers": layers}
    return push_manifest(base, repo, subject_digest.replace(":", "-") + ".sig", manifest, OCI_MANIFEST)


def attach(base, repo, subject_digest, artifact_type, content, layer_media_type="application/octet-stream", annotations=None):
    """An OCI 1.1 artifact referring to `subject_digest`, listed in the tag-schema index with its
    artifact type and annotations (as `oras attach` writes them, e.g. org.opencontainers.image.created)."""
    subject_bytes = get_manifest(base, repo, subject_digest)
    subject = {"mediaType": json.loads(subject_bytes).get("mediaType", OCI_MANIFEST), "digest": subject_digest, "size": len(subject_bytes)}
    empty = push_blob(base, repo, b"{}")
    layer = push_blob(base, repo, content if isinstance(content, bytes) else content.encode())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
                "layers": [{"mediaType": layer_media_type, **layer}], "subject": subject}
    if annotations:
        manifest["annotations"] = annotations
    data = json.dumps(manifest, separators=(",", ":")).encode()
    pushed = push_manifest(base, repo, digest(data), manifest, OCI_MANIFEST)
    tag = subject_digest.replace(":", "-")
    existing = get_manifest(base, repo, tag)
    entries = json.loads(existing)["manifests"] if existing else []
    entries.append({**pushed, "artifactType": artifact_type, **({"annotations": annotations} if annotations else {})})
    push_manifest(base, repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX)
    return pushed


if __name__ == "__main__":
    command, registry = sys.argv[1], "http://" + sys.argv[2]
    if command == "image":
        print(image(registry, sys.argv[3], sys.argv[4])["digest"])
    elif command == "attach":
        print(attach(registry, sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])["digest"])
    else:
        sys.exit(f"unknown command {command}")
