import Foundation
import JSON

/// Ratify's `oras` store plugin settings (`store.plugins[{name: "oras", ...}]` in config.json).
public struct ORASStoreOptions: Sendable, Equatable {
    /// Plain HTTP to registries (local development).
    public var useHttp = false
    /// Accept any TLS certificate from registries.
    public var insecureSkipVerify = false
    /// Also look for cosign signatures under the `sha256-<hex>.sig` tag.
    public var cosignEnabled = false
    /// Cache tag → digest and referrer lists for `ttl` (content by digest is always cached).
    public var cacheEnabled = true
    public var ttl: Duration = .seconds(10)
    public var maxManifestBytes = 4 * 1024 * 1024
    public var maxBlobBytes = 4 * 1024 * 1024
    /// Referrers of one subject at most (all pages): the spec sets no bound, and a hostile
    /// registry listing ~95k of them made each verification cost seconds of CPU and 400 MB.
    /// Past it the listing fails (closed); real images carry a handful.
    public var maxReferrers = 1_000
    /// How long a repository's referrers-API 404 is believed before the API is tried again
    /// for a subject the tag schema lists nothing for.
    public var referrersAPIRecheck: Duration = .seconds(30)
    /// Bytes of content-addressed data kept in memory.
    public var contentCacheBytes = 64 * 1024 * 1024
    /// Upper bound for one HTTP request; the caller's deadline may cut it shorter.
    public var requestTimeout: Duration = .seconds(10)
    /// Docker config.json to read registry credentials from (`authProvider: dockerConfig`).
    public var dockerConfigPath: String?
    /// Docker config documents from `kubernetes.io/dockerconfigjson` secrets (`authProvider:
    /// k8Secrets`), read through the Kubernetes API by the CRD manager and handed over in
    /// `authProvider.resolved`.
    public var dockerConfigs: [[UInt8]] = []
    /// A cloud identity provider (`azureWorkloadIdentity`, `azureManagedIdentity`, `awsEcrBasic`,
    /// `alibabacloudAcrBasic`): its `authProvider` object as configured, built into a credential
    /// provider by the configuration layer (module CloudIdentity).
    public var cloudAuthProvider: JSONValue?

    public static let cloudAuthProviders: Set<String> = ["azureWorkloadIdentity", "azureManagedIdentity", "awsEcrBasic", "alibabacloudAcrBasic"]

    public init() {}

    static let knownKeys: Set<String> = ["name", "version", "useHttp", "insecureSkipVerify", "cosignEnabled", "cacheEnabled",
                                         "ttl", "authProvider", "localCachePath", "maxManifestBytes", "maxBlobBytes",
                                         "contentCacheBytes", "requestTimeoutMs", "source"]

    /// Reads a store plugin object. Unknown keys come back as warnings naming them; values of
    /// the wrong type are errors naming their path.
    public static func parse(_ value: JSONValue, path: String) throws(RegistryError) -> (ORASStoreOptions, warnings: [String]) {
        guard let object = value.objectValue else {
            throw RegistryError(.invalidConfiguration, "\(path) must be an object, found \(value.typeName)")
        }
        var options = ORASStoreOptions()
        var warnings: [String] = []
        for key in object.keys where !knownKeys.contains(key) {
            warnings.append("\(path).\(key) is not a known oras store setting and is ignored")
        }
        func bool(_ key: String) throws(RegistryError) -> Bool? {
            guard let v = object[key], !v.isNull else { return nil }
            guard let b = v.boolValue else { throw RegistryError(.invalidConfiguration, "\(path).\(key) must be true or false") }
            return b
        }
        func positive(_ key: String) throws(RegistryError) -> Int? {
            guard let v = object[key], !v.isNull else { return nil }
            guard let n = v.intValue, n > 0 else { throw RegistryError(.invalidConfiguration, "\(path).\(key) must be a positive whole number") }
            return n
        }
        options.useHttp = try bool("useHttp") ?? false
        options.insecureSkipVerify = try bool("insecureSkipVerify") ?? false
        options.cosignEnabled = try bool("cosignEnabled") ?? false
        options.cacheEnabled = try bool("cacheEnabled") ?? true
        if let seconds = try positive("ttl") { options.ttl = .seconds(seconds) }
        if let n = try positive("maxManifestBytes") { options.maxManifestBytes = n }
        if let n = try positive("maxBlobBytes") { options.maxBlobBytes = n }
        if let n = try positive("contentCacheBytes") { options.contentCacheBytes = n }
        if let ms = try positive("requestTimeoutMs") { options.requestTimeout = .milliseconds(ms) }
        if let auth = object["authProvider"], !auth.isNull {
            guard let name = auth["name"]?.stringValue else {
                throw RegistryError(.invalidConfiguration, "\(path).authProvider.name must be a string")
            }
            switch name {
            case "dockerConfig":
                options.dockerConfigPath = auth["configPath"]?.stringValue
                    ?? (ProcessInfo.processInfo.environment["DOCKER_CONFIG"].map { $0 + "/config.json" })
                    ?? (NSHomeDirectory() + "/.docker/config.json")
            case "k8Secrets":
                // The CRD manager reads the named secrets through the Kubernetes API and puts
                // their docker configs in `resolved`; a config file alone has none.
                if let resolved = auth["resolved"]?.arrayValue {
                    options.dockerConfigs = resolved.map { JSONWriter.encode($0) }
                } else {
                    warnings.append("\(path).authProvider k8Secrets is read through the Kubernetes API (--enable-crd-manager); without it registry access is anonymous")
                }
            case _ where cloudAuthProviders.contains(name):
                options.cloudAuthProvider = auth
            default:
                throw RegistryError(.invalidConfiguration,
                    "\(path).authProvider.name \"\(name)\" is not supported; use dockerConfig, k8Secrets, "
                    + cloudAuthProviders.sorted().joined(separator: ", "))
            }
        }
        return (options, warnings)
    }
}
