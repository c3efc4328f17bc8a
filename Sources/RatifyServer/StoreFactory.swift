import Core
import Foundation
import Registry

/// Builds the referrer store a configuration asks for, with request counting wired to metrics.
public enum StoreFactory {
    public static func makeStore(_ options: ORASStoreOptions, metrics: ServerMetrics?) throws(ServeError) -> ORASStore {
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
            throw ServeError(.config, error.message)
        }
        if !entries.isEmpty { credentials = DockerConfigCredentials(entries: entries) }
        let counter = metrics?.registryRequests
        return ORASStore(options: options, credentials: credentials) { host, status in
            counter?.increment([String(status), host])
        }
    }
}
