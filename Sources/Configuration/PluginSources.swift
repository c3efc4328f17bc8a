import Core
import Foundation
import JSON
import Plugins
import Registry

/// Ratify's dynamic plugins (`source: {artifact, authProvider}` on a verifier or store), shared by
/// the file mode (config.json, at start) and the custom-resource mode (every change): where each
/// plugin goes and how it is pulled.
public enum PluginSources {
    public struct Source: Sendable {
        /// The executable's name: a verifier's `type` (else `name`), a store's `name`.
        public var name: String
        public var directory: String
        public var artifact: String
        public var authProvider: JSONValue?
        /// Where it was found, for messages ("verifier.plugins[1]").
        public var path: String
    }

    /// The `verifier.plugins` and `store.plugins` of a config document that name `source.artifact`.
    public static func sources(in document: JSONValue, environment: [String: String] = ProcessInfo.processInfo.environment) -> [Source] {
        var found: [Source] = []
        for (section, typeKey) in [("verifier", "type"), ("store", nil as String?)] {
            let bins = document[section]?["pluginBinDirs"]?.arrayValue?.first?.stringValue
            for (index, plugin) in (document[section]?["plugins"]?.arrayValue ?? []).enumerated() {
                guard let artifact = plugin["source"]?["artifact"]?.stringValue, !artifact.isEmpty,
                      let name = typeKey.flatMap({ plugin[$0]?.stringValue }).flatMap({ $0.isEmpty ? nil : $0 }) ?? plugin["name"]?.stringValue else { continue }
                let directory = plugin["address"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? PluginDirectory.resolve(bins, environment: environment)
                found.append(Source(name: name, directory: directory, artifact: artifact, authProvider: plugin["source"]?["authProvider"],
                                    path: "\(section).plugins[\(index)]"))
            }
        }
        return found
    }

    /// How plugins are pulled: the oras store's settings (plain HTTP, its credentials) — or, when
    /// the source names its own `authProvider` (Ratify's `source.authProvider`: dockerConfig, or
    /// k8Secrets already resolved), those credentials instead; bounded for plugin executables and
    /// never cached.
    public static func pullOptions(store: JSONValue?, authProvider: JSONValue?) throws(ConfigurationError) -> ORASStoreOptions {
        var document = store?.objectValue ?? ["name": "oras"]
        if let authProvider, !authProvider.isNull {
            // k8Secrets is read through the Kubernetes API (the CRD manager resolves it); a config
            // file cannot use it, and pulling anonymously instead would hide the mistake.
            if authProvider["name"]?.stringValue == "k8Secrets", authProvider["resolved"] == nil {
                throw ConfigurationError("source.authProvider k8Secrets is read through the Kubernetes API (--enable-crd-manager); in a config file use dockerConfig")
            }
            document["authProvider"] = authProvider
        }
        var options: ORASStoreOptions
        do { options = try ORASStoreOptions.parse(.object(document), path: "source").0 } catch {
            throw ConfigurationError("cannot pull dynamic plugins: \(error.message)")
        }
        options.maxBlobBytes = DynamicPlugin.maxPluginBytes
        options.cacheEnabled = false
        options.contentCacheBytes = 0
        return options
    }

    /// Pulls one source into its directory.
    public static func install(_ source: Source, options: ORASStoreOptions, deadline: ContinuousClock.Instant) async throws(DynamicPlugin.Failure) -> DynamicPlugin.Installed {
        let store: ORASStore
        do { store = try StoreFactory.makeStore(options) } catch { throw DynamicPlugin.Failure("cannot pull \(source.artifact): \(error.message)") }
        return try await DynamicPlugin.install(artifact: source.artifact, as: source.name, into: source.directory, store: store, deadline: deadline)
    }

    /// The file mode, before the configuration is read: every source of the document is pulled
    /// (Ratify downloads when it creates the plugin). With the feature flag off nothing is pulled
    /// and the sources are returned as warnings; a failed pull is an error.
    public static func installAll(in document: JSONValue, environment: [String: String] = ProcessInfo.processInfo.environment,
                                  deadline: ContinuousClock.Instant = .now + .seconds(60)) async throws(ConfigurationError) -> (installed: [String], warnings: [String]) {
        let sources = sources(in: document, environment: environment)
        guard !sources.isEmpty else { return ([], []) }
        guard DynamicPlugin.enabled(environment) else {
            return ([], sources.map { "\($0.path).source names \($0.artifact), but dynamic plugins are disabled (\(DynamicPlugin.featureFlag)=1 enables them): the plugin must already be in \($0.directory)" })
        }
        let store = document["store"]?["plugins"]?.arrayValue?.first { $0["name"]?.stringValue == "oras" }
        var installed: [String] = []
        for source in sources {
            let options = try pullOptions(store: store, authProvider: source.authProvider)
            do throws(DynamicPlugin.Failure) {
                let done = try await install(source, options: options, deadline: deadline)
                installed.append("\(source.path): \(source.artifact)@\(done.digest) → \(done.path)")
            } catch {
                throw ConfigurationError("\(source.path).source: \(error.description)")
            }
        }
        return (installed, [])
    }
}
