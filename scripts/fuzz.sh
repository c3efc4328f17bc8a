#!/usr/bin/env bash
# libFuzzer over the parsers that read attacker-controlled signature bytes: the strict CBOR
# decoder, and the JWS and COSE envelopes through the whole notation verification workflow
# (Sources/notation-fuzz). The seed corpus is made by the independent fixture generator; the
# first byte of each input selects the target (0 CBOR, 1 JWS, 2 COSE).
# usage: scripts/fuzz.sh [SECONDS]   — a crash leaves crash-* reproducers in .state/fuzz.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.state/fuzz"
mkdir -p "$state/corpus" "$state/fixtures"
swift build -c release --product notation-fuzz --build-path "$root/.build-fuzz" \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
python3 "$root/Tests/Support/Fixtures/make_notation_fixtures.py" "$state/fixtures" \
  application/vnd.oci.image.manifest.v1+json "sha256:$(printf '1%.0s' $(seq 64))" 1234
python3 - "$state/fixtures" "$state/corpus" <<'PY'
import os, sys
source, corpus = sys.argv[1], sys.argv[2]
for name in os.listdir(source):
    data = open(os.path.join(source, name), "rb").read() if os.path.isfile(os.path.join(source, name)) else None
    if name.endswith(".jws"):
        open(os.path.join(corpus, "jws-" + name), "wb").write(b"\x01" + data)
    elif name.endswith(".cose"):
        open(os.path.join(corpus, "cose-" + name), "wb").write(b"\x02" + data)
        open(os.path.join(corpus, "cbor-" + name), "wb").write(b"\x00" + data)
PY
cd "$state"
"$root/.build-fuzz/release/notation-fuzz" "$state/corpus" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>&1 \
  | grep -E "^(#[0-9]+.*DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY)" || true
ls "$state"/crash-* >/dev/null 2>&1 && { echo "fuzz: crash reproducers in $state"; exit 1; }
echo "fuzz: no crash in ${seconds}s"
