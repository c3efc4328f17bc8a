import Core
import Cosign
import JSON
import Notation
import Plugins
import SupplyChain

/// One entry of `verifier.plugins`, parsed when the configuration loads: the built-in verifiers
/// by kind (`type`, or `name` when there is no type, as Ratify resolves them). Key files, trust
/// stores and trusted roots are read here, once; building a verifier from it costs nothing.
public enum VerifierConfig: Sendable {
    case notation(NotationVerifierConfig)
    case cosign(CosignVerifierConfig)
    case sbom(SBOMVerifierConfig)
    case licenseChecker(LicenseCheckerConfig)
    case vulnerabilityReport(VulnerabilityReportConfig)
    case schemaValidator(SchemaValidatorConfig)
    /// Not built in: an executable in the plugin directory (Ratify's verifier plugin protocol).
    case plugin(RatifyPluginConfig)

    /// An external plugin executable (its process and pipes are waited on).
    public var runsExternalCode: Bool {
        if case .plugin = self { return true }
        return false
    }

    /// Parses one plugin object at `path` (`verifier.plugins[1]`); its warnings say what is
    /// read past and what it means.
    /// `pluginDirectory`: where plugins are found when the entry names no `address` (the
    /// config's `verifier.pluginBinDirs`, else Ratify's default).
    public static func parse(_ plugin: JSONValue, path: String, pluginDirectory: String = PluginDirectory.resolve(nil)) throws(ConfigError) -> (VerifierConfig, warnings: [String]) {
        guard plugin.objectValue != nil else { throw ConfigError(path: path, "must be an object") }
        guard let name = plugin["name"]?.stringValue else { throw ConfigError(path: "\(path).name", "must be a string") }
        var kind = plugin["type"]?.stringValue ?? name
        // A Verifier with a `source` (a dynamic plugin pulled from a registry) asks for that
        // executable: Ratify's sbom, licensechecker, … plugins run as published, not the built-ins.
        if let source = plugin["source"], !source.isNull, ["sbom", "licensechecker", "vulnerabilityreport", "schemavalidator"].contains(kind) {
            kind = "plugin:" + kind
        }
        switch kind {
        case "cosign":
            let (parsed, warnings) = try CosignVerifierConfig.parse(plugin, path: path)
            return (.cosign(parsed), warnings)
        case "notation":
            var (parsed, warnings) = try NotationVerifierConfig.parse(plugin, path: path)
            if plugin["address"] == nil { parsed.pluginDirectory = pluginDirectory }
            return (.notation(parsed), warnings)
        // Ratify's four supply-chain plugins, built in (no executable is run).
        case "sbom":
            let (parsed, warnings) = try SBOMVerifierConfig.parse(plugin, path: path)
            return (.sbom(parsed), warnings)
        case "licensechecker":
            let (parsed, warnings) = try LicenseCheckerConfig.parse(plugin, path: path)
            return (.licenseChecker(parsed), warnings)
        case "vulnerabilityreport":
            let (parsed, warnings) = try VulnerabilityReportConfig.parse(plugin, path: path)
            return (.vulnerabilityReport(parsed), warnings)
        case "schemavalidator":
            let (parsed, warnings) = try SchemaValidatorConfig.parse(plugin, path: path)
            return (.schemaValidator(parsed), warnings)
        default:
            let directory = plugin["address"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? pluginDirectory
            return (.plugin(try RatifyPluginConfig.parse(plugin, path: path, directory: directory)), [])
        }
    }

    /// The verifier, resolving key management providers at verification time through `providers`.
    public func make(providers: (any KeyManagementProviders)?, revocation: any RevocationChecking) -> any Verifier {
        switch self {
        case .cosign(let config): CosignVerifier(config: config, providers: providers, rekor: ExecutorFactory.rekor)
        case .notation(let config): NotationVerifier(config: config, providers: providers, revocation: revocation)
        case .plugin(let config): RatifyPluginVerifier(config: config)
        case .sbom(let config): SBOMVerifier(config: config)
        case .licenseChecker(let config): LicenseCheckerVerifier(config: config)
        case .vulnerabilityReport(let config): VulnerabilityReportVerifier(config: config)
        case .schemaValidator(let config): SchemaValidatorVerifier(config: config)
        }
    }
}
