import Core
import Foundation
import JSON
import Registry

/// The parts of Ratify's `config.json` that the server itself reads: `executor` timeouts and
/// `logger` settings. The `store`, `policy` and `verifier` sections belong to the executor.
public struct ServerConfigFile: Sendable, Equatable {
    public var verificationRequestTimeout: Duration?
    public var mutationRequestTimeout: Duration?
    public var logFormatter: String?
    public var traceIDHeaderNames: [String] = []
    /// The `oras` store plugin's settings (defaults when the config has no store section).
    public var storeOptions = ORASStoreOptions()
    /// `policy.plugin` (Ratify's configPolicy); `default: all` when absent.
    public var policy = ConfigPolicy()
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

    public static func load(path: String) throws(ServeError) -> ServerConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServeError(.config, "cannot read config file \(path)")
        }
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
            return try interpret(YAMLConfig.parse(String(decoding: data, as: UTF8.self), source: path), source: path)
        }
        return try parse(Array(data), source: path)
    }

    public static func parse(_ bytes: [UInt8], source: String) throws(ServeError) -> ServerConfigFile {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw ServeError(.config, "\(source): \(error)")
        }
        return try interpret(document, source: source)
    }

    /// Checks and reads a parsed document, whichever format it came in.
    static func interpret(_ document: JSONValue, source: String) throws(ServeError) -> ServerConfigFile {
        guard let root = document.objectValue else {
            throw ServeError(.config, "\(source): the configuration must be a JSON object, found \(document.typeName)")
        }
        var config = ServerConfigFile(document: document)
        if let executor = root["executor"] {
            guard let object = executor.objectValue else {
                throw ServeError(.config, "\(source): executor must be an object, found \(executor.typeName)")
            }
            config.verificationRequestTimeout = try milliseconds(object["verificationRequestTimeout"], path: "executor.verificationRequestTimeout", source: source)
            config.mutationRequestTimeout = try milliseconds(object["mutationRequestTimeout"], path: "executor.mutationRequestTimeout", source: source)
        }
        if let logger = root["logger"] {
            guard let object = logger.objectValue else {
                throw ServeError(.config, "\(source): logger must be an object, found \(logger.typeName)")
            }
            if let formatter = object["formatter"] {
                guard let name = formatter.stringValue, ["text", "json", "logstash"].contains(name) else {
                    throw ServeError(.config, "\(source): logger.formatter must be one of text, json, logstash")
                }
                config.logFormatter = name
            }
            if let names = object["requestHeaders"]?["traceIDHeaderName"] {
                guard let list = names.arrayValue?.compactMap(\.stringValue), list.count == names.arrayValue?.count else {
                    throw ServeError(.config, "\(source): logger.requestHeaders.traceIDHeaderName must be a list of strings")
                }
                config.traceIDHeaderNames = list
            }
        }
        if let store = root["store"] {
            try config.readStore(store, source: source)
        }
        if let plugin = root["policy"]?["plugin"], !plugin.isNull {
            do {
                config.policy = try ConfigPolicy.parse(plugin, path: "policy.plugin")
            } catch {
                throw ServeError(.config, "\(source): \(error.path): \(error.message)")
            }
        }
        if let plugins = root["verifier"]?["plugins"], !plugins.isNull {
            guard let list = plugins.arrayValue else {
                throw ServeError(.config, "\(source): verifier.plugins must be a list, found \(plugins.typeName)")
            }
            for (index, plugin) in list.enumerated() where plugin["name"]?.stringValue == nil {
                throw ServeError(.config, "\(source): verifier.plugins[\(index)].name must be a string")
            }
        }
        config.warnings += unknownKeys(in: root)
        return config
    }

    private mutating func readStore(_ store: JSONValue, source: String) throws(ServeError) {
        guard let plugins = store["plugins"] else { return }
        guard let list = plugins.arrayValue else {
            throw ServeError(.config, "\(source): store.plugins must be a list, found \(plugins.typeName)")
        }
        var found = false
        for (index, plugin) in list.enumerated() {
            let path = "store.plugins[\(index)]"
            guard let name = plugin["name"]?.stringValue else {
                throw ServeError(.config, "\(source): \(path).name must be a string")
            }
            guard name == "oras" else {
                throw ServeError(.config, "\(source): \(path).name \"\(name)\" is not supported; the built-in store is \"oras\"")
            }
            guard !found else { throw ServeError(.config, "\(source): \(path): only one oras store may be configured") }
            found = true
            do {
                let (options, warnings) = try ORASStoreOptions.parse(plugin, path: path)
                storeOptions = options
                self.warnings += warnings
            } catch {
                throw ServeError(.config, "\(source): \(error.message)")
            }
        }
    }

    /// Every key Ratify's config.json may hold that we read or deliberately accept, by path;
    /// anything else is reported (never silently taken as meaning something).
    static let knownKeys: [String: Set<String>] = [
        "": ["version", "executor", "store", "policy", "verifier", "logger", "cache", "metrics"],
        "executor": ["verificationRequestTimeout", "mutationRequestTimeout"],
        "logger": ["formatter", "requestHeaders"],
        "logger.requestHeaders": ["traceIDHeaderName"],
        "store": ["version", "plugins"],
        "policy": ["version", "plugin"],
        "policy.plugin": ["name", "artifactVerificationPolicies"],
        "verifier": ["version", "plugins"],
        "notation": ["name", "type", "artifactTypes", "verificationCerts", "verificationCertStores", "trustPolicyDoc", "nestedReferences", "source"],
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
        for (path, known) in knownKeys where path != "notation" {
            let value = path.isEmpty ? document : path.split(separator: ".").reduce(Optional(document)) { $0?[String($1)] }
            check(value, path, known)
        }
        for (index, plugin) in (root["verifier"]?["plugins"]?.arrayValue ?? []).enumerated()
        where (plugin["type"]?.stringValue ?? plugin["name"]?.stringValue) == "notation" {
            check(plugin, "verifier.plugins[\(index)]", knownKeys["notation"]!)
        }
        return warnings.sorted()
    }

    private static func milliseconds(_ value: JSONValue?, path: String, source: String) throws(ServeError) -> Duration? {
        guard let value, !value.isNull else { return nil }
        guard let number = value.intValue, number > 0 else {
            throw ServeError(.config, "\(source): \(path) must be a positive whole number of milliseconds")
        }
        return .milliseconds(number)
    }

    /// `verifier.plugins`, each already checked to be an object with a string `name`.
    public var verifierPlugins: [JSONValue] { document["verifier"]?["plugins"]?.arrayValue ?? [] }
}
