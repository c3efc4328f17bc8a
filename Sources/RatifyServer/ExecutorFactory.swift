import Core
import Foundation
import JSON
import Logging
import Registry

/// Builds the executor a configuration describes: the oras store, the configured verifiers and
/// policy for verify, the store's resolver for mutate.
public enum ExecutorFactory {
    /// Verifier kinds this build implements. Notation and cosign arrive with their issues; a
    /// configuration that names them is served, but every verify key is refused with the reason.
    public static let availableVerifiers: Set<String> = []

    public static func make(_ config: ServerConfigFile, generation: UInt64, metrics: ServerMetrics?, logger: Logger,
                            mutationFormat: MutationExecutor.Format = .keepTag) throws(ServeError) -> any ProviderExecutor {
        let store = try StoreFactory.makeStore(config.storeOptions, metrics: metrics)
        return RoutingExecutor(verify: try verifyExecutor(config, store: store, generation: generation, logger: logger),
                               mutate: MutationExecutor(store: store, format: mutationFormat))
    }

    public static func verifyExecutor(_ config: ServerConfigFile, store: any ReferrerStore, generation: UInt64,
                                      logger: Logger) throws(ServeError) -> any ProviderExecutor {
        let missing = config.configuredVerifierNames.filter { !availableVerifiers.contains($0) }
        if !missing.isEmpty {
            return UnconfiguredExecutor(reason: "verifier plugins \(missing) are configured but this build has no implementation of them yet")
        }
        var options = VerificationExecutor.Options()
        options.generation = generation
        return VerificationExecutor(store: store, verifiers: [], policy: config.policy, options: options) { subject, value, requestID in
            var log = logger
            if !requestID.isEmpty { log[metadataKey: "trace-id"] = "\(requestID)" }
            // The line Ratify users grep for in `kubectl logs`.
            log.info("verify result for subject \(subject): \(JSONWriter.encodeString(value))")
        }
    }
}
