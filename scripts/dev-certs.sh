#!/usr/bin/env bash
# Makes a throw-away development PKI under DIR (default .state/certs), once:
#   ca.crt/ca.key            the CA the provider's certificate chains to (Provider.spec.caBundle)
#   tls.crt/tls.key          the provider's certificate, for localhost and ratify.gatekeeper-system
#   client-ca.crt, client.crt/client.key   a Gatekeeper-like client identity for mTLS
# Never use these outside a laptop.
set -euo pipefail
dir="${1:-.state/certs}"
mkdir -p "$dir"
cd "$dir"
[ -s tls.crt ] && [ -s tls.key ] && [ -s client.crt ] && exit 0

ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 30 -subj "/CN=ratify dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new "${ec[@]}" -keyout tls.key -out tls.csr -subj "/CN=ratify.gatekeeper-system" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:ratify.gatekeeper-system,DNS:ratify.gatekeeper-system.svc\nextendedKeyUsage=serverAuth\n" > server.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 30 -extfile server.ext 2>/dev/null

openssl req -x509 "${ec[@]}" -keyout client-ca.key -out client-ca.crt -days 30 -subj "/CN=gatekeeper dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
openssl req -new "${ec[@]}" -keyout client.key -out client.csr -subj "/CN=gatekeeper-webhook" 2>/dev/null
printf "extendedKeyUsage=clientAuth\n" > client.ext
openssl x509 -req -in client.csr -CA client-ca.crt -CAkey client-ca.key -CAcreateserial -out client.crt -days 30 -extfile client.ext 2>/dev/null
rm -f ./*.csr ./*.ext
echo "dev-certs: wrote $(pwd)"
