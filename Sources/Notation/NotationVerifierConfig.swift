import Core
import Foundation
import JSON

/// Ratify's notation verifier plugin entry:
///
///     {"name": "notation", "artifactTypes": "application/vnd.cncf.notary.signature",
///      "verificationCerts": ["/usr/local/ratify-certs/notation/truststore"],
///      "verificationCertStores": {"ca": {"ca-certs": ["kmp-name"]}},
///      "trustPolicyDoc": {"version": "1.0", "trustPolicies": [...]}}
public struct NotationVerifierConfig: Sendable {
    public var name: String
    public var artifactTypes: [String]
    public var nestedReferences: [String]
    public var trustPolicies: TrustPolicyDocument
    public var trustStores: TrustStoreSet
    /// Where Notary Project verification plugins are found (`notation-<name>`): the verifier's
    /// `address`, else Ratify's plugin directory.
    public var pluginDirectory: String = PluginDirectory.resolve(nil)

    static let knownKeys: Set<String> = ["name", "type", "artifactTypes", "verificationCerts", "verificationCertStores",
                                         "trustPolicyDoc", "nestedReferences", "source", "version", "address", "pluginBinDirs"]

    public static func parse(_ value: JSONValue, path: String) throws(ConfigError) -> (NotationVerifierConfig, warnings: [String]) {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        var warnings = object.keys.filter { !knownKeys.contains($0) }.map { "\(path).\($0) is not a known notation setting and is ignored" }
        guard let document = object["trustPolicyDoc"], !document.isNull else {
            throw ConfigError(path: "\(path).trustPolicyDoc", "is required: a Notary Project trust policy document (version 1.0)")
        }
        let policies = try TrustPolicyDocument.parse(try inlineDocument(document, path: "\(path).trustPolicyDoc"), path: "\(path).trustPolicyDoc")
        var paths: [String] = []
        if let certs = object["verificationCerts"], !certs.isNull {
            guard let list = certs.arrayValue, list.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
                throw ConfigError(path: "\(path).verificationCerts", "must be a list of certificate file or directory paths")
            }
            paths = list.compactMap(\.stringValue)
        }
        var stores = try TrustStoreSet.load(paths: paths, path: "\(path).verificationCerts")
        if let certStores = object["verificationCertStores"], !certStores.isNull {
            stores.addProviderStores(try providerStores(certStores, path: "\(path).verificationCertStores"))
        }
        // A store a policy names but nothing fills fails every signature: say so at load.
        for (index, policy) in policies.policies.enumerated() {
            for store in policy.trustStores where stores.named[store] == nil && stores.everyStore.isEmpty && stores.providerStores[store] == nil {
                warnings.append("\(path).trustPolicyDoc.trustPolicies[\(index)] names trust store \(store), which no verificationCerts path or verificationCertStores entry provides: its signatures cannot pass")
            }
        }
        var config = NotationVerifierConfig(
            name: object["name"]?.stringValue ?? "notation",
            artifactTypes: try PluginSettings.artifactTypes(object["artifactTypes"], path: "\(path).artifactTypes") ?? [MediaType.notarySignature],
            nestedReferences: try PluginSettings.nestedReferences(object["nestedReferences"], path: "\(path).nestedReferences"),
            trustPolicies: policies, trustStores: stores)
        if let address = object["address"], !address.isNull {
            guard let directory = address.stringValue, !directory.isEmpty else { throw ConfigError(path: "\(path).address", "must be a plugin directory path") }
            config.pluginDirectory = directory
        } else if let first = object["pluginBinDirs"]?.arrayValue?.first?.stringValue, !first.isEmpty {
            config.pluginDirectory = first
        }
        return (config, warnings)
    }

    /// The trust policy inline (Ratify), or — our extension for notation users — the path of
    /// notation's own `trustpolicy.json`.
    static func inlineDocument(_ value: JSONValue, path: String) throws(ConfigError) -> JSONValue {
        guard let file = value.stringValue else { return value }
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigError(path: path, "cannot read the trust policy file \(file)") }
        do { return try JSONParser.parse(Array(data)) } catch {
            throw ConfigError(path: path, "\(file) is not valid JSON: \(error)")
        }
    }

    /// `{ca|signingAuthority|tsa: {store: [providers]}}`, or Ratify's older `{store: [providers]}`
    /// (read as `ca` stores).
    static func providerStores(_ value: JSONValue, path: String) throws(ConfigError) -> [TrustPolicy.TrustStore: [String]] {
        guard let members = value.objectValue?.members else { throw ConfigError(path: path, "must be an object") }
        func names(_ value: JSONValue, path: String) throws(ConfigError) -> [String] {
            guard let list = value.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
                throw ConfigError(path: path, "must be a non-empty list of key management provider names")
            }
            return list.compactMap(\.stringValue)
        }
        var typed: [String: [String: [String]]] = [:]
        let kinds = Set(["ca", "signingAuthority", "tsa"])
        if members.allSatisfy({ kinds.contains($0.key) }) {
            for member in members {
                guard let stores = member.value.objectValue?.members else { throw ConfigError(path: "\(path).\(member.key)", "must be an object of store names") }
                for store in stores { typed[member.key, default: [:]][store.key] = try names(store.value, path: "\(path).\(member.key).\(store.key)") }
            }
        } else {
            for member in members {
                guard !kinds.contains(member.key) else {
                    throw ConfigError(path: "\(path).\(member.key)", "mixes typed ({ca: {...}}) and untyped ({store: [...]}) entries")
                }
                typed["ca", default: [:]][member.key] = try names(member.value, path: "\(path).\(member.key)")
            }
        }
        return TrustStoreSet.providerStores(typed)
    }
}
