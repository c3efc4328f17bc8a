import CloudIdentity
import Core
import Foundation
import Plugins
import Registry

/// Builds the referrer store a configuration asks for.
public enum StoreFactory {
    /// Called once per registry request with the host and the HTTP status (0 when no response
    /// arrived): the server counts them in `ratify_registry_request_count`.
    public typealias RequestObserver = @Sendable (_ host: String, _ status: Int) -> Void

    /// The configured store: the oras store, or a Ratify store plugin.
    public static func makeStore(for config: RatifyConfig, onRequest: RequestObserver? = nil,
                                 shared: (any SharedCache)? = nil) throws(ConfigurationError) -> any ReferrerStore {
        if let plugin = config.storePlugin { return RatifyStorePlugin(config: plugin) }
        return try makeStore(config.storeOptions, onRequest: onRequest, shared: shared, sharedScope: shared == nil ? "" : ConfigFingerprint.store(config))
    }

    public static func makeStore(_ options: ORASStoreOptions, onRequest: RequestObserver? = nil,
                                 shared: (any SharedCache)? = nil, sharedScope: String = "") throws(ConfigurationError) -> ORASStore {
        var credentials: any CredentialProvider = AnonymousCredentials()
        var entries: [String: RegistryCredential] = [:]
        do {
            if let path = options.dockerConfigPath, FileManager.default.fileExists(atPath: path) {
                entries = try DockerConfigCredentials.load(path: path).entries
            }
            for (index, document) in options.dockerConfigs.enumerated() {
                entries.merge(try DockerConfigCredentials.parse(document, source: "k8Secrets secret \(index)").entries) { first, _ in first }
            }
        } catch {
            throw ConfigurationError(error.message)
        }
        if !entries.isEmpty { credentials = DockerConfigCredentials(entries: entries) }
        // A store names one authProvider: docker config (file or k8Secrets) or a cloud identity.
        if let cloud = options.cloudAuthProvider {
            do throws(RegistryError) {
                credentials = try CloudCredentials.provider(cloud, plainHTTP: options.useHttp)
            } catch {
                throw ConfigurationError(error.message)
            }
        }
        return ORASStore(options: options, credentials: credentials, onRequest: { host, status in onRequest?(host, status) },
                         shared: shared, sharedScope: sharedScope)
    }
}
