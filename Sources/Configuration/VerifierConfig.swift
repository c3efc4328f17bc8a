import Core
import Cosign
import JSON
import Notation

/// One entry of `verifier.plugins`, parsed when the configuration loads: the built-in verifiers
/// by kind (`type`, or `name` when there is no type, as Ratify resolves them). Key files, trust
/// stores and trusted roots are read here, once; building a verifier from it costs nothing.
public enum VerifierConfig: Sendable {
    case notation(NotationVerifierConfig)
    case cosign(CosignVerifierConfig)

    /// Parses one plugin object at `path` (`verifier.plugins[1]`); its warnings say what is
    /// read past and what it means.
    public static func parse(_ plugin: JSONValue, path: String) throws(ConfigError) -> (VerifierConfig, warnings: [String]) {
        guard plugin.objectValue != nil else { throw ConfigError(path: path, "must be an object") }
        guard let name = plugin["name"]?.stringValue else { throw ConfigError(path: "\(path).name", "must be a string") }
        let kind = plugin["type"]?.stringValue ?? name
        switch kind {
        case "cosign":
            let (parsed, warnings) = try CosignVerifierConfig.parse(plugin, path: path)
            return (.cosign(parsed), warnings)
        case "notation":
            let (parsed, warnings) = try NotationVerifierConfig.parse(plugin, path: path)
            return (.notation(parsed), warnings)
        default:
            throw ConfigError(path: "\(path).\(plugin["type"] == nil ? "name" : "type")", "verifier \"\(kind)\" is not built in; use cosign or notation")
        }
    }

    /// The verifier, resolving key management providers at verification time through `providers`.
    public func make(providers: (any KeyManagementProviders)?, revocation: any RevocationChecking) -> any Verifier {
        switch self {
        case .cosign(let config): CosignVerifier(config: config, providers: providers)
        case .notation(let config): NotationVerifier(config: config, providers: providers, revocation: revocation)
        }
    }
}
