import Core
import Cosign
import Foundation
import HTTPClient
import JSON
import Logging
import Notation
import Registry

/// Builds the executor a configuration describes: the oras store, the configured verifiers and
/// policy for verify, the store's resolver for mutate.
public enum ExecutorFactory {
    /// One revocation checker for the process: its CRL cache outlives configuration rebuilds
    /// (every CRD change or config reload builds new verifiers).
    static let revocation = X509RevocationChecker(fetcher: CurlFetcher())
    /// One Rekor client for the process: entries it found stay cached across rebuilds.
    static let rekor = RekorLookup(fetcher: CurlFetcher())
    /// For `crl.cache.enabled: false`.
    static let uncachedRevocation = X509RevocationChecker(fetcher: CurlFetcher(), cacheCRLs: false)

    /// The configured verifiers, resolving key management providers through `providers`.
    public static func verifiers(_ config: RatifyConfig, providers: (any KeyManagementProviders)? = nil) -> [any Verifier] {
        config.verifiers.map { $0.make(providers: providers, revocation: config.crlCacheEnabled ? revocation : uncachedRevocation) }
    }

    public static func make(_ config: RatifyConfig, generation: UInt64, onRegistryRequest: StoreFactory.RequestObserver? = nil, logger: Logger,
                            mutationFormat: MutationExecutor.Format = .keepTag, providers: (any KeyManagementProviders)? = nil,
                            resultCache: ResultCacheSettings = ResultCacheSettings(), shared: (any SharedCache)? = nil) throws(ConfigurationError) -> any ProviderExecutor {
        let store = try StoreFactory.makeStore(for: config, onRequest: onRegistryRequest, shared: shared)
        return RoutingExecutor(verify: verifyExecutor(config, store: store, generation: generation, logger: logger, providers: providers,
                                                      resultCache: resultCache, shared: shared),
                               mutate: MutationExecutor(store: store, format: mutationFormat))
    }

    public static func verifyExecutor(_ config: RatifyConfig, store: any ReferrerStore, generation: UInt64,
                                      logger: Logger, providers: (any KeyManagementProviders)? = nil,
                                      resultCache: ResultCacheSettings = ResultCacheSettings(), shared: (any SharedCache)? = nil) -> any ProviderExecutor {
        var options = VerificationExecutor.Options()
        if shared != nil { options.sharedConfiguration = ConfigFingerprint.of(config, providers: providers) }
        options.generation = generation
        options.cacheEnabled = resultCache.enabled
        options.successTTL = resultCache.ttl
        options.failureTTL = min(options.failureTTL, resultCache.ttl)
        options.maxCachedResults = resultCache.maxEntries
        options.maxCachedBytes = resultCache.maxBytes
        options.stopWhenSettled = !config.verifyEverySignature
        // Registry answers resume verification on the transport's I/O thread (no hop). Not
        // with external plugins: those spawn processes and wait on pipes.
        if config.storePlugin == nil, !config.verifiers.contains(where: \.runsExternalCode) {
            options.taskExecutor = CurlMultiTransport.shared
            options.taskExecutorIsBusy = { CurlMultiTransport.shared.isBusy(besides: $0) }
        }
        return VerificationExecutor(store: store, verifiers: verifiers(config, providers: providers), policy: config.regoPolicy.map { RegoPolicyEngine(config: $0) as any PolicyEngine } ?? config.policy, options: options,
                                    shared: shared) { subject, value, requestID in
            var log = logger
            if !requestID.isEmpty { log[metadataKey: "trace-id"] = "\(requestID)" }
            // The line Ratify users grep for in `kubectl logs`.
            log.info("verify result for subject \(subject): \(JSONWriter.encodeString(value()))")
        }
    }
}

/// Ratify's verification result cache (`ratify serve --cache-enabled --cache-type --cache-size
/// --cache-ttl`, the chart's `provider.cache.*`): results of a subject digest are reused for
/// `ttl` (failures for at most 2 s, so a fix shows fast).
public struct ResultCacheSettings: Sendable, Equatable {
    public var enabled = true
    public var ttl: Duration = .seconds(10)
    public var maxEntries = 10_000
    /// `--cache-size` in bytes: the results' estimated size at most.
    public var maxBytes = 256 * 1024 * 1024
    /// Replicas share the cache through Redis (`--cache-type redis`, or Ratify's `dapr`).
    public var shared = false
    public init(enabled: Bool = true, ttl: Duration = .seconds(10), maxEntries: Int = 10_000, shared: Bool = false) {
        self.enabled = enabled
        self.ttl = ttl
        self.maxEntries = maxEntries
        self.shared = shared
    }

    /// The flags as Ratify takes them. `type`: ristretto (in-process), or redis / dapr (Ratify's
    /// name for its Redis-backed cache): in-process plus a Redis every replica shares
    /// (`--redis-address`). `sizeMB`: at ~4 KiB a result. `ttl`: a Go duration (`10s`, `1m30s`, `500ms`).
    public static func parse(enabled: Bool, type: String, sizeMB: Int, ttl: String) throws(ConfigurationError) -> ResultCacheSettings {
        guard ["ristretto", "memory", "redis", "dapr"].contains(type) else {
            throw ConfigurationError("--cache-type \"\(type)\" is not supported: use ristretto (in-process), or redis (dapr) to share the cache between replicas")
        }
        guard sizeMB > 0 else { throw ConfigurationError("--cache-size must be a positive number of megabytes") }
        guard let duration = GoDuration.parse(ttl), duration >= .zero else {
            throw ConfigurationError("--cache-ttl \"\(ttl)\" is not a duration such as 10s, 1m or 500ms")
        }
        var settings = ResultCacheSettings(enabled: enabled && duration > .zero, ttl: duration, maxEntries: sizeMB * 256,
                                           shared: enabled && duration > .zero && (type == "redis" || type == "dapr"))
        settings.maxBytes = sizeMB * 1024 * 1024
        return settings
    }
}

/// Go's `time.ParseDuration` forms: a sequence of decimal numbers with units ns, us, µs, ms, s,
/// m, h (`1h30m`, `1.5s`); a bare `0` is zero.
public enum GoDuration {
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text), seconds = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            // Longest unit first: "ms" before "m".
            guard let unit = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            seconds += value * unit.1
        }
        // Beyond a century is a typo, not a TTL; a positive value under a millisecond is one.
        guard seconds <= 3_155_760_000 else { return nil }
        return .milliseconds(seconds > 0 ? max(1, Int((seconds * 1000).rounded())) : 0)
    }
}
