import Core
import Foundation
import Registry

/// Builds the referrer store a configuration asks for, with request counting wired to metrics.
public enum StoreFactory {
    public static func makeStore(_ options: ORASStoreOptions, metrics: ServerMetrics?) throws(ServeError) -> ORASStore {
        var credentials: any CredentialProvider = AnonymousCredentials()
        if let path = options.dockerConfigPath, FileManager.default.fileExists(atPath: path) {
            do {
                credentials = try DockerConfigCredentials.load(path: path)
            } catch {
                throw ServeError(.config, error.message)
            }
        }
        let counter = metrics?.registryRequests
        return ORASStore(options: options, credentials: credentials) { host, status in
            counter?.increment([String(status), host])
        }
    }
}
