# ratify-swift: a Swift implementation of Ratify, Gatekeeper's image-signature external data provider.
SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin

STATE    ?= .state
CERTS    ?= $(STATE)/certs
HTTP     ?= :6001
HEALTH   ?= :9099
METRICS  ?= :8888
IMAGE    ?= ratify-swift:dev

.PHONY: deps build release run test lint-chart bench bench-ab profile attack mutate rego-fuzz image clean

FUZZ_SECONDS ?= 60

deps:            ## install missing Debian packages (libssl-dev, libcurl4-openssl-dev, wrk, ...)
	@scripts/deps.sh

build: deps      ## debug build of everything, tests included
	swift build --build-tests

release: deps    ## optimised ratify binary at .build/release/ratify
	swift build -c release --product ratify

run: release     ## dev CA + certs under .state/certs, then `ratify serve` on the embedded default config with mTLS
	@scripts/dev-certs.sh $(CERTS)
	@echo
	@echo "Send Gatekeeper's request from another terminal:"
	@echo "  curl --cacert $(CERTS)/ca.crt --cert $(CERTS)/client.crt --key $(CERTS)/client.key \\"
	@echo "    -H 'Content-Type: application/json' https://localhost:6001/ratify/gatekeeper/v1/verify \\"
	@echo "    -d '{\"apiVersion\":\"externaldata.gatekeeper.sh/v1beta1\",\"kind\":\"ProviderRequest\",\"request\":{\"keys\":[\"busybox:1.36\"]}}'"
	@echo "  curl http://localhost:9099/readyz; curl http://localhost:8888/metrics"
	@echo
	.build/release/ratify serve --http $(HTTP) --health-port $(HEALTH) --metrics-port $(METRICS) \
	  --cert-dir $(CERTS) --ca-cert-file $(CERTS)/client-ca.crt

test: build      ## module imports vs docs/architecture.md, unit + loopback integration tests, the CLI smoke test, the library/ rego tests, the Rego engine against regopy (20,000 random policies), the chart lint, the seed walk-throughs, three replicas on one Redis
	python3 scripts/check_imports.py
	python3 scripts/embed_schemas.py --check
	swift test
	scripts/smoke.sh .build/debug/ratify
	python3 Tests/rego/test_library.py .build/debug/ratify
	python3 Tests/rego/differential.py .build/debug/rego-eval 20000 19
	python3 scripts/lint_chart.py
	python3 Tests/seeds/test_seeds.py .build/debug/ratify
	python3 Tests/ha/test_ha.py .build/debug/ratify
	python3 Tests/reliability/test_memory.py .build/debug/ratify

lint-chart: deps ## helm lint + render (Helm v4 engine, offline) for several value sets; kubernetes-validate every manifest
	python3 scripts/lint_chart.py

bench: release   ## HTTPS keep-alive load (wrk), the cost of a cold verification, cosign/notation latency, 10,000 images in bounded memory
	python3 scripts/bench.py

bench-ab: release ## which of two binaries spends less CPU per cold image, both running at once: make bench-ab A=old-binary [B=new-binary]
	python3 scripts/bench_ab.py $(or $(A),$(error A=path-to-the-other-ratify-binary is required)) $(or $(B),.build/release/ratify)

attack: release  ## the attack campaign of issue #16 against the release server (JSON bombs, hostile registry, idle floods, tiny chunks, half-open handshakes, slowloris, bad reloads)
	python3 scripts/attack.py

profile: release ## perf record of cold verifications: CPU ms per image and the top symbols
	python3 scripts/profile.py

fuzz: deps       ## libFuzzer on the CBOR decoder and the JWS / COSE envelope parsers, seeded with generated fixtures (FUZZ_SECONDS each)
	scripts/fuzz.sh $(FUZZ_SECONDS)

rego-fuzz: deps  ## the Rego differential suite at length: REGO_CASES random policies (default 200000) against regopy, seed REGO_SEED (default: random)
	swift build -c release --product rego-eval
	python3 Tests/rego/differential.py .build/release/rego-eval $(or $(REGO_CASES),200000) $(or $(REGO_SEED),$(shell date +%s))

mutate: deps     ## disable each trust check listed in scripts/mutations/*.json in turn; its tests must fail (prints CAUGHT/MISSED)
	for f in scripts/mutations/*.json; do python3 scripts/mutate.py $$f; done

image:           ## container image (needs a Docker engine; none on the CI machines)
	docker build -t $(IMAGE) .

clean:
	rm -rf .build $(STATE)
