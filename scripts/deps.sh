#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmark need — only those missing,
# so it is cheap to run before every make target. Needs root (or sudo) the first time.
set -euo pipefail

packages=(libssl-dev libcurl4-openssl-dev zlib1g-dev libhiredis-dev pkg-config openssl curl wrk python3 docker-registry apache2-utils redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The test token server signs JWTs with Python's cryptography (independent of our OpenSSL code).
python3 -c "import cryptography" 2>/dev/null || python3 -m pip install -q cryptography
# The ConstraintTemplate tests evaluate rego with regopy (rego-cpp) and read YAML with PyYAML.
python3 -c "import regopy, yaml" 2>/dev/null || python3 -m pip install -q regopy pyyaml
# Notation fixtures: JWS (jwcrypto), COSE (pycose, cbor2), RFC 3161 tokens built field by field (asn1crypto).
python3 -c "import jwcrypto, pycose, cbor2, asn1crypto" 2>/dev/null || python3 -m pip install -q jwcrypto pycose cbor2 asn1crypto
# TUF client tests: repositories made with python-tuf (the reference implementation).
python3 -c "import tuf.api.metadata, securesystemslib.signer" 2>/dev/null || python3 -m pip install -q tuf
# Cloud identity doubles (Tests/Support/cloud_doubles.py): ECR's SigV4 checked with botocore's own signer.
python3 -c "import botocore.auth" 2>/dev/null || python3 -m pip install -q botocore
# make lint-chart: Helm v4's engine offline, and Kubernetes' schemas.
python3 -c "import helm_python, kubernetes_validate, jsonschema" 2>/dev/null || python3 -m pip install -q helm-python-sdk kubernetes-validate jsonschema
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "deps: swift is at /opt/swift/usr/bin; add it to PATH" >&2
  else
    echo "deps: a Swift 6 toolchain is required (swift.org); none found" >&2
  fi
  exit 1
fi
pkg-config --atleast-version=3.0 openssl || { echo "deps: OpenSSL >= 3.0 is required" >&2; exit 1; }
