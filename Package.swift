// swift-tools-version:6.0
import PackageDescription

// Layout follows ../shared/STYLE.md: C owns nothing but one-line shims, Swift owns every
// OpenSSL / libcurl pointer, and dependencies point one way — docs/architecture.md has the
// module graph, and `make test` checks every import against it
// (ratify → {Configuration, RatifyServer} → verifiers, Registry, Kubernetes, HTTPServer → Core → Crypto → CShims).
// Release builds of the modules on a verification's path let their callers specialise and inline
// across module boundaries: Core's TTLCache and Coalescer, used from Registry, otherwise ran as
// unspecialised generics that looked up type metadata at run time (cold-image CPU -5 to -7 %,
// measured A/B). Debug builds (the tests) are unaffected; CI also runs the smoke test and the seed
// walk-throughs on the release binary.
let crossModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "ratify-swift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ratify", targets: ["ratify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // YAML config files of config.json's shape (issue #7). libyaml-based, ~20 s to build.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis",
                       providers: [.apt(["libhiredis-dev"])]),
        .target(name: "CShims", dependencies: ["COpenSSL", "CCurl"]),
        .target(name: "JSON", swiftSettings: crossModule),
        // JSON Schema drafts 4/6/7 over JSON values (SARIF, SPDX, CycloneDX report checks).
        .target(name: "JSONSchema", dependencies: ["JSON"]),
        // A Rego interpreter for Ratify's regoPolicy (pure; differential-tested against regopy).
        // -Onone: the optimizer's closure specialisation of the continuation-passing evaluator
        // does not finish in reasonable time (> 20 min); unoptimised, it compiles in seconds and
        // policies still evaluate in microseconds to milliseconds.
        .target(name: "Rego", dependencies: ["JSON"], swiftSettings: [.unsafeFlags(["-Onone"])]),
        .target(name: "TLS", dependencies: ["CShims", "Crypto", "Core"]),
        .target(name: "HTTPServer", dependencies: ["TLS", "CShims"]),
        // The one HTTP client (libcurl multi on its own thread): registries, the Kubernetes API,
        // OCSP / CRL fetches.
        .target(name: "HTTPClient", dependencies: ["CShims"], swiftSettings: crossModule),
        .target(name: "Observability", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(name: "Crypto", dependencies: ["CShims"], swiftSettings: crossModule),
        .target(name: "Core", dependencies: ["JSON", "Crypto"], swiftSettings: crossModule),
        .target(name: "Registry", dependencies: ["Core", "JSON", "Crypto", "HTTPClient"], swiftSettings: crossModule),
        .target(name: "Cosign", dependencies: ["Core", "JSON", "Crypto", "HTTPClient"]),
        .target(name: "CBOR"),
        // The cache replicas share (Redis through hiredis), behind Core's SharedCache protocol.
        .target(name: "SharedCache", dependencies: ["Core", "Crypto", "CHiredis"]),
        .target(name: "Notation", dependencies: ["Core", "JSON", "Crypto", "CBOR", "HTTPClient"]),
        // Supply-chain verifiers beyond signatures: sbom, licensechecker, vulnerabilityreport,
        // schemavalidator (Ratify's plugins, built in).
        .target(name: "SupplyChain", dependencies: ["Core", "JSON", "JSONSchema"]),
        .target(name: "Kubernetes", dependencies: ["Core", "JSON", "Crypto", "HTTPClient"]),
        // Registry credentials from cloud identities (Azure workload / managed identity → ACR,
        // AWS web identity → ECR with SigV4, Alibaba RRSA → ACR) and Azure Key Vault material.
        .target(name: "CloudIdentity", dependencies: ["Core", "JSON", "Crypto", "HTTPClient", "Registry"]),
        // Ratify's plugins: external verifiers (its plugin protocol) and dynamic plugin downloads.
        .target(name: "Plugins", dependencies: ["Core", "JSON", "Registry"]),
        // Typed configuration (config.json / YAML / custom resources), the factories that turn it
        // into executors, and the reload paths. Knows the verifiers; knows nothing about serving.
        .target(name: "Configuration", dependencies: [
            "Core", "JSON", "Registry", "Cosign", "Notation", "Kubernetes", "HTTPClient", "Plugins", "SupplyChain", "Rego", "CloudIdentity",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Listeners, Gatekeeper endpoints, metrics. Knows nothing about signatures.
        .target(name: "RatifyServer", dependencies: [
            "Core", "HTTPServer", "TLS", "Observability", "JSON",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ratify", dependencies: [
            "Configuration", "RatifyServer", "Kubernetes", "Observability", "Core", "Registry", "JSON", "TLS", "SharedCache",
            "HTTPServer", "HTTPClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Fuzz targets for the envelope parsers (`make fuzz`); built normally it replays inputs.
        // The Rego engine on policies and inputs from files (differential suite, trying a policy).
        .executableTarget(name: "rego-eval", dependencies: ["Rego", "JSON"]),
        .executableTarget(name: "notation-fuzz", dependencies: ["Notation", "CBOR", "Core", "JSON"]),
        .target(name: "TestSupport", dependencies: ["CShims", "Crypto", "JSON", "HTTPServer", "Core", "RatifyServer", "Observability", "TLS",
                                                   .product(name: "Logging", package: "swift-log")], path: "Tests/Support",
                exclude: ["token_server.py", "kube_api_server.py", "rekor_server.py", "cloud_doubles.py", "Fixtures"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "JSONSchemaTests", dependencies: ["JSONSchema", "JSON"]),
        .testTarget(name: "RegoTests", dependencies: ["Rego", "JSON"]),
        .testTarget(name: "SupplyChainTests", dependencies: ["SupplyChain", "JSONSchema", "Core", "JSON", "Registry", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TLS", "TestSupport"]),
        .testTarget(name: "CoreTests", dependencies: ["Core", "JSON", "Registry", "TestSupport"]),
        .testTarget(name: "CBORTests", dependencies: ["CBOR"]),
        .testTarget(name: "SharedCacheTests", dependencies: ["SharedCache", "Core", "Crypto", "JSON", "Registry", "TestSupport"]),
        .testTarget(name: "CosignTests", dependencies: ["Cosign", "Core", "Registry", "JSON", "Crypto", "TestSupport", "HTTPClient"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "TestSupport", "JSON"]),
        .testTarget(name: "NotationTests", dependencies: ["Notation", "Core", "JSON", "Crypto", "CBOR", "Registry", "HTTPClient", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Core", "JSON", "Crypto", "TestSupport", "HTTPServer", "HTTPClient"]),
        .testTarget(name: "CloudIdentityTests", dependencies: ["CloudIdentity", "Core", "JSON", "Crypto", "HTTPClient", "Registry", "TestSupport"]),
        .testTarget(name: "KubernetesTests", dependencies: ["Kubernetes", "JSON", "Crypto", "TestSupport"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability",
            .product(name: "Logging", package: "swift-log")]),
        // Upstream test vectors (Tests/Conformance) with the verdicts the upstream tests expect.
        .testTarget(name: "ConformanceTests", dependencies: ["Notation", "Cosign", "Crypto", "Core", "Registry", "JSON", "Configuration", "TestSupport"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration", "Plugins", "RatifyServer", "Core", "JSON", "TestSupport", "Observability", "Registry", "Kubernetes",
            .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "RatifyServerTests", dependencies: ["RatifyServer", "Configuration", "Core", "JSON", "TestSupport", "Observability", "Registry"]),
    ],
    swiftLanguageModes: [.v6]
)
