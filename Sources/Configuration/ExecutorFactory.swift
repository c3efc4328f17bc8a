import Core
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
    /// For `crl.cache.enabled: false`.
    static let uncachedRevocation = X509RevocationChecker(fetcher: CurlFetcher(), cacheCRLs: false)

    /// The configured verifiers, resolving key management providers through `providers`.
    public static func verifiers(_ config: RatifyConfig, providers: (any KeyManagementProviders)? = nil) -> [any Verifier] {
        config.verifiers.map { $0.make(providers: providers, revocation: config.crlCacheEnabled ? revocation : uncachedRevocation) }
    }

    public static func make(_ config: RatifyConfig, generation: UInt64, onRegistryRequest: StoreFactory.RequestObserver? = nil, logger: Logger,
                            mutationFormat: MutationExecutor.Format = .keepTag, providers: (any KeyManagementProviders)? = nil) throws(ConfigurationError) -> any ProviderExecutor {
        let store = try StoreFactory.makeStore(config.storeOptions, onRequest: onRegistryRequest)
        return RoutingExecutor(verify: verifyExecutor(config, store: store, generation: generation, logger: logger, providers: providers),
                               mutate: MutationExecutor(store: store, format: mutationFormat))
    }

    public static func verifyExecutor(_ config: RatifyConfig, store: any ReferrerStore, generation: UInt64,
                                      logger: Logger, providers: (any KeyManagementProviders)? = nil) -> any ProviderExecutor {
        var options = VerificationExecutor.Options()
        options.generation = generation
        return VerificationExecutor(store: store, verifiers: verifiers(config, providers: providers), policy: config.policy, options: options) { subject, value, requestID in
            var log = logger
            if !requestID.isEmpty { log[metadataKey: "trace-id"] = "\(requestID)" }
            // The line Ratify users grep for in `kubectl logs`.
            log.info("verify result for subject \(subject): \(JSONWriter.encodeString(value))")
        }
    }
}
