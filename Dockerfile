# Multi-stage build: the official Swift image compiles a release binary with the Swift runtime
# linked in; the runtime image carries only OpenSSL, libcurl, hiredis and CA certificates.
# Build with `make image` (needs a Docker engine).
ARG SWIFT_VERSION=6.1
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev libcurl4-openssl-dev zlib1g-dev libhiredis-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
RUN swift build -c release --product ratify --static-swift-stdlib \
 && install -D .build/release/ratify /out/ratify

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libcurl4 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin ratify
COPY --from=build /out/ratify /usr/local/bin/ratify
COPY config/config.json /usr/local/ratify/config.json
USER 65532:65532
# 6001: Gatekeeper provider (HTTPS); 9099: /healthz, /readyz; 8888: /metrics
EXPOSE 6001 9099 8888
ENTRYPOINT ["/usr/local/bin/ratify"]
CMD ["serve", "--http", ":6001", "--config", "/usr/local/ratify/config.json"]
