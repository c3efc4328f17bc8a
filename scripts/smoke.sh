#!/usr/bin/env bash
# Runs the built `ratify` binary the way a user would: `ratify serve` with a certificate
# directory and Gatekeeper-style mTLS, a ProviderRequest sent with curl, the health and metrics
# ports, a bad config refused, and a graceful SIGTERM. Prints "N passed, N failed".
set -uo pipefail
bin="${1:?usage: smoke.sh path/to/ratify}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
scripts/dev-certs.sh "$work/certs" >/dev/null

passed=0 failed=0
check() { # name, command...
  local name="$1"; shift
  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A real registry (Debian's docker-registry) with one unsigned image.
reg=$(free_port)
mkdir -p "$work/registry"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$work/registry" "$reg" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
regpid=$!
trap 'kill "$pid" "$regpid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
digest=$(python3 scripts/oci_push.py image "127.0.0.1:$reg" app v1)
cat >"$work/config.json" <<JSON
{"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},
 "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.cncf.notary.signature":"any"}}},
 "verifier":{"version":"1.0.0","plugins":[]}}
JSON

http=$(free_port) health=$(free_port) metrics=$(free_port)
"$bin" serve --http "127.0.0.1:$http" --health-port "127.0.0.1:$health" --metrics-port "127.0.0.1:$metrics" \
  --cert-dir "$work/certs" --ca-cert-file "$work/certs/client-ca.crt" -c "$work/config.json" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$health/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

request='{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["127.0.0.1:'$reg'/app:v1"]}}'
tls=(--cacert "$work/certs/ca.crt" --cert "$work/certs/client.crt" --key "$work/certs/client.key")
curl -s "${tls[@]}" -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' -d "$request" \
  "https://localhost:$http/ratify/gatekeeper/v1/verify" >"$work/status"

check "readyz answers 200" curl -sf "http://127.0.0.1:$health/readyz"
check "healthz answers 200" curl -sf "http://127.0.0.1:$health/healthz"
check "verify answers 200 over mTLS" grep -qx 200 "$work/status"
check "verify answers a ProviderResponse" grep -q '"kind":"ProviderResponse"' "$work/answer"
check "unsigned image is denied: isSuccess false" grep -q '"isSuccess":false' "$work/answer"
check "the denial names REFERRERS_NOT_FOUND" grep -q '"errorReason":"REFERRERS_NOT_FOUND"' "$work/answer"
check "log has the verify result line" grep -q "verify result for subject 127.0.0.1:$reg/app:v1@$digest: {" "$work/log"
check "mutate pins the tag to its digest" bash -c "curl -s ${tls[*]} -d '$request' https://localhost:$http/ratify/gatekeeper/v1/mutate | grep -q '\"value\":\"127.0.0.1:$reg/app:v1@$digest\"'"
# Refused in the TLS handshake — not a dead server (curl 7), and the server still answers after.
check "client without a certificate is refused in the handshake" bash -c "curl -s --cacert '$work/certs/ca.crt' -d '$request' https://localhost:$http/ratify/gatekeeper/v1/verify; rc=\$?; test \$rc -ne 0 -a \$rc -ne 7 && curl -s ${tls[*]} -o /dev/null -w '%{http_code}' -d '$request' https://localhost:$http/ratify/gatekeeper/v1/verify | grep -qx 200"
check "malformed body gets a systemError" bash -c "curl -s ${tls[*]} -d '{' https://localhost:$http/ratify/gatekeeper/v1/verify | grep -q systemError"
check "metrics expose ratify_verification_request" bash -c "curl -s http://127.0.0.1:$metrics/metrics | grep -q '^ratify_verification_request_count 3'"
kill -TERM "$pid"
for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops the server" bash -c "! kill -0 $pid"
wait "$pid"; code=$?
check "graceful exit status 0" test "$code" = 0
check "log shows start and graceful stop" bash -c "grep -q 'msg=\"starting server\"' '$work/log' && grep -q 'msg=\"server stopped\"' '$work/log'"

# Out of file descriptors: accepts pause instead of spinning, and serving resumes afterwards.
fdhttp=$(free_port) fdhealth=$(free_port)
(ulimit -n 48; exec "$bin" serve --http "127.0.0.1:$fdhttp" --health-port "127.0.0.1:$fdhealth" --metrics-port off \
  --cert-dir "$work/certs" >"$work/fd.log" 2>&1) &
fdpid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$fdhealth/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cpu=$(python3 - "$fdhttp" "$fdpid" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
def ticks():
    fields = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return int(fields[11]) + int(fields[12])
time.sleep(0.3); start = ticks(); time.sleep(1.0)
print(ticks() - start)  # clock ticks of CPU in one second (100 = one core busy)
for s in held: s.close()
PY
)
check "descriptor exhaustion does not spin the accept loop (cpu ticks: $cpu)" test "$cpu" -lt 30
sleep 0.6
check "serving resumes once descriptors are free" curl -sk -o /dev/null "https://127.0.0.1:$fdhttp/ratify/gatekeeper/v1/verify" -d "$request"
kill "$fdpid" 2>/dev/null

echo '{"executor":{"verificationRequestTimeout":"soon"}}' >"$work/bad.json"
check "invalid config is refused with its path" bash -c "'$bin' serve -c '$work/bad.json' --http 127.0.0.1:0 2>&1 | grep -q 'executor.verificationRequestTimeout must be'"
check "version prints" bash -c "'$bin' version | grep -q ratify-swift"

# An OCI image layout signed as notation-go's tests sign it (Tests/Conformance/notation-go), verified
# before anything is pushed: the signed layout passes by tag, the unsigned upstream layout fails.
layouts="$(cd "$(dirname "$0")/.." && pwd)/Tests/Conformance/notation-go"
bin="$(realpath "$bin")"
check "ratify verify passes a signed OCI layout" bash -c "cd '$layouts' && '$bin' verify -c derived/oci-layout/config-alpine.json -s oci-layout:derived/oci-layout-jws-signed:v2 | grep -q '\"isSuccess\": true'"
check "ratify trust names the embedded public-good root and its expiry" bash -c "'$bin' trust | grep -q 'root-signing targets/trusted_root.json@' && '$bin' trust | grep -q '^  expires: 2031'"
check "ratify verify fails an unsigned OCI layout (exit 1)" bash -c "cd '$layouts'; '$bin' verify -c derived/oci-layout/config-alpine.json -s oci-layout:internal/testdata/oci-layout:v2 >/dev/null; test \$? = 1"
check "ratify verify names a missing layout tag" bash -c "cd '$layouts'; '$bin' verify -c derived/oci-layout/config-alpine.json -s oci-layout:internal/testdata/oci-layout:nope 2>&1 | grep -q 'no manifest is tagged \"nope\"'"

echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ] || { echo "--- server log"; cat "$work/log"; exit 1; }
