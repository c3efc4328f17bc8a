import Core
import Crypto
import Foundation

/// The certificates trust policies name as `{type}:{name}` trust stores.
///
/// Two sources, as Ratify users configure them:
/// - Ratify's `verificationCerts`: files or directories whose certificates are trusted by
///   **every** store a trust policy names (Ratify's samples call the store `ca:certs`). A
///   directory holding an `x509/` folder is read in notation's own layout instead,
///   `x509/{ca,signingAuthority,tsa}/<name>/*`, where each store keeps its own certificates.
/// - Ratify's `verificationCertStores`: `{type: {store: [key management provider names]}}`,
///   resolved when a signature is verified through `KeyManagementProviders` (the Kubernetes
///   side supplies them), so a provider applied later is picked up without a reload.
public struct TrustStoreSet: Sendable {
    public private(set) var named: [TrustPolicy.TrustStore: [Certificate]] = [:]
    public private(set) var everyStore: [Certificate] = []
    /// Whether a notation-layout directory was loaded: then a store it does not define does
    /// not exist (notation-go: "the trust store … does not exist").
    public private(set) var hasLayout = false
    /// Named stores of a notation layout that could not be read, and why.
    public private(set) var storeErrors: [TrustPolicy.TrustStore: String] = [:]
    public private(set) var providerStores: [TrustPolicy.TrustStore: [String]] = [:]

    public init(named: [TrustPolicy.TrustStore: [Certificate]] = [:], everyStore: [Certificate] = [],
                providerStores: [TrustPolicy.TrustStore: [String]] = [:]) {
        self.named = named
        self.everyStore = everyStore
        self.providerStores = providerStores
    }


    /// Loads `verificationCerts` paths. A path that does not exist, or a certificate file that
    /// does not parse, is a configuration error naming it.
    public static func load(paths: [String], path configPath: String) throws(ConfigError) -> TrustStoreSet {
        var set = TrustStoreSet()
        let files = FileManager.default
        for (index, path) in paths.enumerated() {
            let entryPath = "\(configPath)[\(index)]"
            var isDirectory: ObjCBool = false
            guard files.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ConfigError(path: entryPath, "\(path) does not exist")
            }
            if !isDirectory.boolValue {
                set.everyStore += try certificates(inFile: path, configPath: entryPath)
            } else if files.fileExists(atPath: "\(path)/x509", isDirectory: &isDirectory), isDirectory.boolValue {
                set.hasLayout = true
                for kind in [TrustPolicy.TrustStore.Kind.ca, .signingAuthority, .tsa] {
                    let kindDirectory = "\(path)/x509/\(kind.rawValue)"
                    for name in (try? files.contentsOfDirectory(atPath: kindDirectory))?.sorted() ?? [] {
                        var nested: ObjCBool = false
                        guard files.fileExists(atPath: "\(kindDirectory)/\(name)", isDirectory: &nested), nested.boolValue else { continue }
                        let store = TrustPolicy.TrustStore(kind: kind, name: name)
                        // As notation-go reads a named store only when a policy uses it, an
                        // unreadable file fails that store, not the whole configuration.
                        do {
                            let found = try certificates(inDirectory: "\(kindDirectory)/\(name)", recursive: false, configPath: entryPath)
                            set.named[store, default: []] += found
                        } catch {
                            set.storeErrors[store] = error.message
                        }
                    }
                }
            } else {
                set.everyStore += try certificates(inDirectory: path, recursive: true, configPath: entryPath)
            }
        }
        return set
    }

    /// Parses `verificationCertStores`: the typed form `{ca: {store: [providers]}}` and Ratify's
    /// older untyped form `{store: [providers]}` (read as `ca` stores).
    public static func providerStores(_ value: [String: [String: [String]]]) -> [TrustPolicy.TrustStore: [String]] {
        var result: [TrustPolicy.TrustStore: [String]] = [:]
        for (kind, stores) in value {
            guard let kind = TrustPolicy.TrustStore.Kind(rawValue: kind) else { continue }
            for (name, providers) in stores { result[TrustPolicy.TrustStore(kind: kind, name: name)] = providers }
        }
        return result
    }

    public mutating func addProviderStores(_ stores: [TrustPolicy.TrustStore: [String]]) {
        providerStores.merge(stores) { $1 }
    }

    /// Certificates for one named store, or why there are none.
    public func certificates(for store: TrustPolicy.TrustStore, providers: (any KeyManagementProviders)?) -> Result<[Certificate], TrustStoreError> {
        var loaded: [Certificate] = []
        if let names = providerStores[store] {
            for name in names {
                guard let certificates = providers?.certificates(provider: name) else {
                    return .failure(TrustStoreError("trust store \(store) uses key management provider \"\(name)\", which is not available"))
                }
                loaded += certificates
            }
        } else if let error = storeErrors[store] {
            return .failure(TrustStoreError("trust store \(store) cannot be read: \(error)"))
        } else if hasLayout, named[store] == nil, everyStore.isEmpty {
            let known = named.keys.map(\.description).sorted().joined(separator: ", ")
            return .failure(TrustStoreError("trust store \(store) does not exist in the notation trust store layout (it has \(known.isEmpty ? "no stores" : known))"))
        } else {
            // Certificates from flat `verificationCerts` paths serve every store, as in Ratify.
            loaded = (named[store] ?? []) + everyStore
        }
        // Ratify's trustStore.filterValidCerts: only CA certificates and self-signed signing
        // certificates anchor trust; a pinned leaf is not a trust anchor.
        let anchors = loaded.filter { $0.hasCABasicConstraint || $0.isSelfSigned }
        guard anchors.isEmpty, !loaded.isEmpty else { return .success(anchors) }
        return .failure(TrustStoreError("trust store \(store) holds \(loaded.count) certificate(s) but none is a CA certificate or a self-signed signing certificate, the only trust anchors Ratify accepts"))
    }

    static func certificates(inDirectory directory: String, recursive: Bool, configPath: String) throws(ConfigError) -> [Certificate] {
        let files = FileManager.default
        guard let entries = try? files.contentsOfDirectory(atPath: directory) else {
            throw ConfigError(path: configPath, "cannot read the directory \(directory)")
        }
        var result: [Certificate] = []
        for entry in entries.sorted() where !entry.hasPrefix(".") {
            let full = "\(directory)/\(entry)"
            var isDirectory: ObjCBool = false
            files.fileExists(atPath: full, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                if recursive { result += try certificates(inDirectory: full, recursive: true, configPath: configPath) }
            } else {
                // Ratify (GetCertificatesFromPath → notation-core-go ReadCertificateFile) reads
                // every regular file, whatever its name, and refuses one that holds no certificate.
                result += try certificates(inFile: full, configPath: configPath)
            }
        }
        return result
    }

    static func certificates(inFile file: String, configPath: String) throws(ConfigError) -> [Certificate] {
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigError(path: configPath, "cannot read \(file)") }
        let bytes = Array(data)
        // notation-core-go parseCertificates: PEM blocks, else one or more concatenated DER certificates.
        if let pem = try? Certificate.pemChain(bytes, source: file) { return pem }
        if let der = try? Certificate.derSequence(bytes, source: file) { return der }
        throw ConfigError(path: configPath, "\(file) holds no PEM or DER certificate")
    }
}

public struct TrustStoreError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
