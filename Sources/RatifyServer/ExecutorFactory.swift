import Core
import Cosign
import HTTPClient
import Notation
import Foundation
import JSON
import Logging
import Registry

/// Builds the executor a configuration describes: the oras store, the configured verifiers and
/// policy for verify, the store's resolver for mutate.
public enum ExecutorFactory {
    /// One revocation checker for the process: its CRL cache outlives configuration rebuilds
    /// (every CRD change or config reload builds new verifiers).
    static let revocation = X509RevocationChecker(fetcher: CurlFetcher())

    /// Builds the verifiers `verifier.plugins` lists; a kind that is not built in is a config error.
    public static func verifiers(_ config: ServerConfigFile, providers: (any KeyManagementProviders)? = nil) throws(ServeError) -> (verifiers: [any Verifier], warnings: [String]) {
        let plugins = config.verifierPlugins
        var verifiers: [any Verifier] = []
        var warnings: [String] = []
        for (index, plugin) in plugins.enumerated() {
            let path = "verifier.plugins[\(index)]"
            let name = plugin["name"]?.stringValue ?? ""
            let kind = plugin["type"]?.stringValue ?? name
            do throws(ConfigError) {
                switch kind {
                case "cosign":
                    let (parsed, parsedWarnings) = try CosignVerifierConfig.parse(plugin, path: path)
                    verifiers.append(CosignVerifier(config: parsed, providers: providers))
                    warnings += parsedWarnings
                case "notation":
                    let (parsed, parsedWarnings) = try NotationVerifierConfig.parse(plugin, path: path)
                    verifiers.append(NotationVerifier(config: parsed, providers: providers, revocation: revocation))
                    warnings += parsedWarnings
                default:
                    throw ConfigError(path: "\(path).name", "verifier \"\(kind)\" is not built in; use cosign or notation")
                }
            } catch {
                throw ServeError(.config, "\(error.path): \(error.message)")
            }
        }
        return (verifiers, warnings)
    }

    public static func make(_ config: ServerConfigFile, generation: UInt64, metrics: ServerMetrics?, logger: Logger,
                            mutationFormat: MutationExecutor.Format = .keepTag, providers: (any KeyManagementProviders)? = nil) throws(ServeError) -> any ProviderExecutor {
        let store = try StoreFactory.makeStore(config.storeOptions, metrics: metrics)
        return RoutingExecutor(verify: try verifyExecutor(config, store: store, generation: generation, logger: logger, providers: providers),
                               mutate: MutationExecutor(store: store, format: mutationFormat))
    }

    public static func verifyExecutor(_ config: ServerConfigFile, store: any ReferrerStore, generation: UInt64,
                                      logger: Logger, providers: (any KeyManagementProviders)? = nil) throws(ServeError) -> any ProviderExecutor {
        let (verifiers, warnings) = try verifiers(config, providers: providers)
        for warning in warnings { logger.warning("\(warning)") }
        var options = VerificationExecutor.Options()
        options.generation = generation
        return VerificationExecutor(store: store, verifiers: verifiers, policy: config.policy, options: options) { subject, value, requestID in
            var log = logger
            if !requestID.isEmpty { log[metadataKey: "trace-id"] = "\(requestID)" }
            // The line Ratify users grep for in `kubectl logs`.
            log.info("verify result for subject \(subject): \(JSONWriter.encodeString(value))")
        }
    }
}
