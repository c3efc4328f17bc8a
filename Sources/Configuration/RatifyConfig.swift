import Core
import Foundation
import JSON
import Plugins
import Registry

/// Ratify's `config.json` (or the same document in YAML), typed when it loads: `executor`
/// timeouts, `logger` settings, the `oras` store, the config policy and the verifiers. Every
/// path that reads a configuration — `ratify serve` at start and on reload, `ratify verify`,
/// `ratify discover`, the custom-resource manager — goes through `interpret`.
public struct RatifyConfig: Sendable {
    public var verificationRequestTimeout: Duration?
    /// Ratify's defaults for `executor.verificationRequestTimeout` / `mutationRequestTimeout`.
    public static let defaultVerificationTimeout: Duration = .milliseconds(2900)
    public static let defaultMutationTimeout: Duration = .milliseconds(950)
    public var mutationRequestTimeout: Duration?
    /// (ours) `executor.verifyEverySignature`: verify every signature even when an `any` rule is
    /// already satisfied (templates that read a particular signature's report, such as an issuer
    /// check, may want them all). Off: the rest are reported VERIFICATION_NOT_NEEDED.
    public var verifyEverySignature = false
    public var logFormatter: String?
    public var traceIDHeaderNames: [String] = []
    /// Ratify's `crl.cache.enabled` (default true): keep downloaded CRLs until their nextUpdate.
    public var crlCacheEnabled = true
    /// The `oras` store plugin's settings (defaults when the config has no store section).
    public var storeOptions = ORASStoreOptions()
    /// A store that is not the built-in oras: a Ratify store plugin (then `storeOptions` is unused).
    public var storePlugin: RatifyStorePluginConfig?
    /// `policy.plugin` (Ratify's configPolicy); `default: all` when absent.
    public var policy = ConfigPolicy()
    /// `policy.plugin` when it is Ratify's regoPolicy (then `policy` is unused).
    public var regoPolicy: RegoPolicyConfig?
    /// `verifier.plugins`, parsed (key files, trust stores and trusted roots read).
    public var verifiers: [VerifierConfig] = []
    /// Settings we read past without using, each naming its path.
    public var warnings: [String] = []
    public var document: JSONValue

    /// The configuration `ratify serve` runs on when no `--config` is given. Ratify's shape, with
    /// no verifier configured: every key is answered with an error until one is.
    public static let embeddedDefault = """
    {
      "version": "1.0.0",
      "executor": { "verificationRequestTimeout": 2900, "mutationRequestTimeout": 950 },
      "store": { "version": "1.0.0", "plugins": [ { "name": "oras", "cosignEnabled": true } ] },
      "policy": { "version": "1.0.0", "plugin": { "name": "configPolicy" } },
      "verifier": { "version": "1.0.0", "plugins": [] },
      "logger": { "formatter": "text" }
    }
    """

    /// The file at `path`, or the embedded default when there is none: what `ratify serve`,
    /// `verify` and `discover` run on.
    public static func load(path: String?) throws(ConfigurationError) -> RatifyConfig {
        guard let path else { return try parse(Array(embeddedDefault.utf8), source: "embedded default config") }
        return try read(try fileBytes(path), path: path)
    }

    /// A config file's bytes. Read through a file handle, so a character device (`/dev/null`)
    /// reads as the empty file it is; a missing or unreadable file says which.
    static func fileBytes(_ path: String) throws(ConfigurationError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw ConfigurationError("config file \(path) does not exist") }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ConfigurationError("cannot read config file \(path) (permissions?)") }
        defer { try? handle.close() }
        do { return Array(try handle.readToEnd() ?? Data()) } catch { throw ConfigurationError("cannot read config file \(path): \(error)") }
    }

    static func refuseEmpty(_ bytes: [UInt8], path: String) throws(ConfigurationError) {
        guard !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) else {
            throw ConfigurationError("config file \(path) is empty: give a config.json (or YAML) with at least a store, a policy and verifiers, or omit -c for the embedded default")
        }
    }

    /// The file at `path` as a document, not yet interpreted (dynamic plugins are pulled from it
    /// before its verifiers are resolved).
    public static func rawDocument(path: String) throws(ConfigurationError) -> JSONValue {
        let data = try fileBytes(path)
        try refuseEmpty(data, path: path)
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { return try YAMLConfig.parse(String(decoding: data, as: UTF8.self), source: path) }
        do { return try JSONParser.parse(Array(data)) } catch { throw ConfigurationError("\(path): \(error)") }
    }

    /// A file's contents, JSON or — by its extension — YAML (start and reload alike).
    public static func read(_ bytes: [UInt8], path: String) throws(ConfigurationError) -> RatifyConfig {
        try refuseEmpty(bytes, path: path)
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
            return try interpret(YAMLConfig.parse(String(decoding: bytes, as: UTF8.self), source: path), source: path)
        }
        return try parse(bytes, source: path)
    }

    public static func parse(_ bytes: [UInt8], source: String) throws(ConfigurationError) -> RatifyConfig {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw ConfigurationError("\(source): \(error)")
        }
        return try interpret(document, source: source)
    }

    /// Checks and reads a parsed document, whichever format it came in. `verifiers`, when
    /// given, are already parsed (the custom-resource manager parses each Verifier once) and
    /// replace the document's `verifier.plugins`.
    public static func interpret(_ document: JSONValue, source: String, verifiers parsedVerifiers: [VerifierConfig]? = nil) throws(ConfigurationError) -> RatifyConfig {
        guard let root = document.objectValue else {
            throw ConfigurationError("\(source): the configuration must be a JSON object, found \(document.typeName)")
        }
        var config = RatifyConfig(document: document)
        if let executor = root["executor"] {
            guard let object = executor.objectValue else {
                throw ConfigurationError("\(source): executor must be an object, found \(executor.typeName)")
            }
            config.verificationRequestTimeout = try milliseconds(object["verificationRequestTimeout"], path: "executor.verificationRequestTimeout", source: source)
            config.mutationRequestTimeout = try milliseconds(object["mutationRequestTimeout"], path: "executor.mutationRequestTimeout", source: source)
            if let every = object["verifyEverySignature"], !every.isNull {
                guard let flag = every.boolValue else {
                    throw ConfigurationError("\(source): executor.verifyEverySignature must be true or false, found \(every.typeName)")
                }
                config.verifyEverySignature = flag
            }
        }
        if let logger = root["logger"] {
            guard let object = logger.objectValue else {
                throw ConfigurationError("\(source): logger must be an object, found \(logger.typeName)")
            }
            if let formatter = object["formatter"] {
                guard let name = formatter.stringValue, ["text", "json", "logstash"].contains(name) else {
                    throw ConfigurationError("\(source): logger.formatter must be one of text, json, logstash")
                }
                config.logFormatter = name
            }
            if let names = object["requestHeaders"]?["traceIDHeaderName"] {
                guard let list = names.arrayValue?.compactMap(\.stringValue), list.count == names.arrayValue?.count else {
                    throw ConfigurationError("\(source): logger.requestHeaders.traceIDHeaderName must be a list of strings")
                }
                config.traceIDHeaderNames = list
            }
        }
        if let enabled = root["crl"]?["cache"]?["enabled"] {
            guard let flag = enabled.boolValue else {
                throw ConfigurationError("\(source): crl.cache.enabled must be true or false, found \(enabled.typeName)")
            }
            config.crlCacheEnabled = flag
        }
        if let store = root["store"] {
            try config.readStore(store, source: source)
        }
        if let plugin = root["policy"]?["plugin"], !plugin.isNull {
            do {
                // Ratify matches the name lower-cased without hyphens (regoPolicy, rego-policy, RegoPolicy).
                let name = plugin["name"]?.stringValue.map { $0.lowercased().replacingOccurrences(of: "-", with: "") }
                if name == "regopolicy" {
                    config.regoPolicy = try RegoPolicyConfig.parse(plugin, path: "policy.plugin")
                } else {
                    var normalized = plugin
                    if name == "configpolicy", case .object(var object) = plugin {
                        object["name"] = "configPolicy"
                        normalized = .object(object)
                    }
                    config.policy = try ConfigPolicy.parse(normalized, path: "policy.plugin")
                }
            } catch {
                throw ConfigurationError(error, source: source)
            }
        }
        if let parsedVerifiers {
            config.verifiers = parsedVerifiers
        } else if let verifier = root["verifier"], !verifier.isNull {
            guard verifier.objectValue != nil else {
                throw ConfigurationError("\(source): verifier must be an object, found \(verifier.typeName)")
            }
            if let plugins = verifier["plugins"], !plugins.isNull {
                guard let list = plugins.arrayValue else {
                    throw ConfigurationError("\(source): verifier.plugins must be a list, found \(plugins.typeName)")
                }
                // Ratify: `verifier.pluginBinDirs`, else $RATIFY_CONFIG/plugins, else ~/.ratify/plugins.
                let directory = PluginDirectory.resolve(verifier["pluginBinDirs"]?.arrayValue?.first?.stringValue)
                for (index, plugin) in list.enumerated() {
                    do throws(ConfigError) {
                        let (parsed, warnings) = try VerifierConfig.parse(plugin, path: "verifier.plugins[\(index)]", pluginDirectory: directory)
                        config.verifiers.append(parsed)
                        config.warnings += warnings
                    } catch {
                        throw ConfigurationError(error, source: source)
                    }
                }
            }
        }
        // A plugin verifier builds its own store from the configured one (Ratify's storeConfig).
        let storePlugin = Self.withoutCredentials(root["store"]?["plugins"]?.arrayValue?.first ?? ["name": "oras"])
        let storeConfig: JSONValue = ["version": .string(root["store"]?["version"]?.stringValue ?? "1.0.0"), "pluginBinDirs": .null, "store": storePlugin]
        config.verifiers = config.verifiers.map { verifier in
            guard case .plugin(var plugin) = verifier else { return verifier }
            plugin.storeConfig = storeConfig
            return .plugin(plugin)
        }
        config.warnings += unknownKeys(in: root)
        return config
    }

    private mutating func readStore(_ store: JSONValue, source: String) throws(ConfigurationError) {
        guard !store.isNull else { return }
        guard store.objectValue != nil else {
            throw ConfigurationError("\(source): store must be an object with a plugins list, found \(store.typeName)")
        }
        guard let plugins = store["plugins"] else { return }
        guard let list = plugins.arrayValue else {
            throw ConfigurationError("\(source): store.plugins must be a list, found \(plugins.typeName)")
        }
        guard !list.isEmpty else {
            throw ConfigurationError("\(source): store.plugins is empty: name one store, e.g. [{\"name\": \"oras\"}] (or leave store out for the default oras store)")
        }
        var found = false
        for (index, plugin) in list.enumerated() {
            let path = "store.plugins[\(index)]"
            guard let name = plugin["name"]?.stringValue else {
                throw ConfigurationError("\(source): \(path).name must be a string")
            }
            guard !found else { throw ConfigurationError("\(source): \(path): only one store may be configured") }
            found = true
            guard name == "oras" else {
                // Ratify: `store.pluginBinDirs`, else $RATIFY_CONFIG/plugins, else ~/.ratify/plugins.
                let directory = plugin["address"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
                    ?? PluginDirectory.resolve(store["pluginBinDirs"]?.arrayValue?.first?.stringValue)
                do throws(ConfigError) {
                    storePlugin = try RatifyStorePluginConfig.parse(Self.withoutCredentials(plugin), path: path, version: store["version"]?.stringValue ?? "1.0.0", directory: directory)
                } catch {
                    throw ConfigurationError(error, source: source)
                }
                continue
            }
            do {
                let (options, warnings) = try ORASStoreOptions.parse(plugin, path: path)
                storeOptions = options
                self.warnings += warnings
            } catch {
                throw ConfigurationError("\(source): \(error.message)")
            }
        }
    }

    /// A store's settings as plugins may see them: the registry credentials the CRD manager read
    /// from secrets (`authProvider.resolved`) are removed — Ratify hands plugins the store's
    /// configuration, never the secrets' contents.
    public static func withoutCredentials(_ store: JSONValue) -> JSONValue {
        guard var object = store.objectValue, var provider = object["authProvider"]?.objectValue, provider["resolved"] != nil else { return store }
        provider["resolved"] = nil
        object["authProvider"] = .object(provider)
        return .object(object)
    }

    /// Every key Ratify's config.json may hold that we read or deliberately accept, by path;
    /// anything else is reported (never silently taken as meaning something).
    static let knownKeys: [String: Set<String>] = [
        "": ["version", "executor", "store", "policy", "verifier", "logger", "cache", "metrics", "crl"],
        "crl": ["cache"],
        "crl.cache": ["enabled"],
        "executor": ["verificationRequestTimeout", "mutationRequestTimeout", "verifyEverySignature"],
        "logger": ["formatter", "requestHeaders"],
        "logger.requestHeaders": ["traceIDHeaderName"],
        "store": ["version", "plugins", "pluginBinDirs"],
        "policy": ["version", "plugin"],
        "policy.plugin": ["name", "artifactVerificationPolicies", "multiPlatform", "policy", "policyPath", "passthroughEnabled"],
        "verifier": ["version", "plugins", "pluginBinDirs"],
    ]

    static func unknownKeys(in root: JSONObject) -> [String] {
        var warnings: [String] = []
        func check(_ value: JSONValue?, _ path: String, _ known: Set<String>) {
            guard let object = value?.objectValue else { return }
            for key in object.keys where !known.contains(key) {
                warnings.append("\(path.isEmpty ? key : path + "." + key) is not a known setting and is ignored")
            }
        }
        let document = JSONValue.object(root)
        for (path, known) in knownKeys {
            let value = path.isEmpty ? document : path.split(separator: ".").reduce(Optional(document)) { $0?[String($1)] }
            check(value, path, known)
        }
        // Each verifier's own settings are checked by its parser (one list per verifier kind).
        return warnings.sorted()
    }

    private static func milliseconds(_ value: JSONValue?, path: String, source: String) throws(ConfigurationError) -> Duration? {
        guard let value, !value.isNull else { return nil }
        guard let number = value.intValue, number > 0 else {
            throw ConfigurationError("\(source): \(path) must be a positive whole number of milliseconds")
        }
        return .milliseconds(number)
    }

}
