import Core
import Foundation
import JSON
import JSONSchema

/// Settings every supply-chain verifier entry shares, read as Ratify reads a plugin entry:
/// parameters flat next to `name`, `type`, `artifactTypes` and `nestedReferences`.
public struct CommonSettings: Sendable {
    public var name: String
    public var type: String
    public var artifactTypes: [String]
    public var nestedReferences: [String]

    static let keys: Set<String> = ["name", "type", "artifactTypes", "nestedReferences", "version", "source", "address",
                                    "notaryProjectSignatureRequired"]

    static func parse(_ object: JSONObject, path: String, kind: String) throws(ConfigError) -> CommonSettings {
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw ConfigError(path: "\(path).name", "must be a non-empty string") }
        // Ratify: no artifactTypes means "*" (every referrer).
        let types = try PluginSettings.artifactTypes(object["artifactTypes"], path: "\(path).artifactTypes") ?? ["*"]
        var nested = try PluginSettings.nestedReferences(object["nestedReferences"], path: "\(path).nestedReferences")
        // The chart's `notaryProjectSignatureRequired` as a parameter too: the artifact's own
        // Notary Project signature must verify (Ratify's chart renders it as nestedReferences).
        if try Parameters.bool(object, "notaryProjectSignatureRequired", path: path), !nested.contains(MediaType.notarySignature) {
            nested.append(MediaType.notarySignature)
        }
        return CommonSettings(name: name, type: object["type"]?.stringValue ?? kind, artifactTypes: types.isEmpty ? ["*"] : types,
                              nestedReferences: nested)
    }

    static func warnings(_ object: JSONObject, path: String, known: Set<String>, kind: String) -> [String] {
        object.keys.filter { !keys.contains($0) && !known.contains($0) }.sorted()
            .map { "\(path).\($0) is not a known \(kind) setting and is ignored" }
    }
}

/// Config readers for the parameter shapes these verifiers share.
enum Parameters {
    static func strings(_ object: JSONObject, _ key: String, path: String) throws(ConfigError) -> [String] {
        guard let value = object[key], !value.isNull else { return [] }
        guard let list = value.arrayValue else { throw ConfigError(path: "\(path).\(key)", "must be a list of strings") }
        var out: [String] = []
        for (index, item) in list.enumerated() {
            guard let text = item.stringValue else { throw ConfigError(path: "\(path).\(key)[\(index)]", "must be a string") }
            out.append(text)
        }
        return out
    }

    static func bool(_ object: JSONObject, _ key: String, path: String) throws(ConfigError) -> Bool {
        guard let value = object[key], !value.isNull else { return false }
        if let flag = value.boolValue { return flag }
        // Kubernetes parameters written as strings ("true").
        if let text = value.stringValue, let flag = Bool(text.lowercased()) { return flag }
        throw ConfigError(path: "\(path).\(key)", "must be true or false")
    }

    /// A Go duration (`24h`): refused at load when it is not one, instead of failing every
    /// verification as Ratify does.
    static func duration(_ object: JSONObject, _ key: String, path: String) throws(ConfigError) -> Duration? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw ConfigError(path: "\(path).\(key)", "must be a Go duration string such as \"24h\"") }
        if text.isEmpty { return nil }
        guard let duration = GoDuration.parse(text), duration > .zero else {
            throw ConfigError(path: "\(path).\(key)", "\"\(text)\" is not a Go duration (units ns, us, ms, s, m, h; \"1d\" is not one: write \"24h\")")
        }
        return duration
    }
}

/// Where a JSON schema comes from: a local file (`file:///path` or an absolute path), or a
/// published URL of one of the embedded schemas (SARIF 2.1.0 as Ratify embeds it and as
/// SchemaStore and OASIS publish it, SPDX 2.3). Schemas are never fetched over the network:
/// another URL is refused when the configuration loads, naming the file:// alternative.
public enum SchemaSource {
    public static let maxSchemaBytes = 8 * 1024 * 1024

    public static func load(_ reference: String, path: String) throws(ConfigError) -> JSONSchema {
        let text: String
        let uri: String
        if let embedded = EmbeddedSchemas.byURL[reference] {
            text = embedded
            uri = reference
        } else if reference.hasPrefix("file://") || reference.hasPrefix("/") {
            let file = reference.hasPrefix("file://") ? String(reference.dropFirst("file://".count)) : reference
            guard file.hasPrefix("/") else { throw ConfigError(path: path, "\(reference): a file:// schema needs an absolute path (file:///path/schema.json)") }
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                  let size = attributes[.size] as? Int else { throw ConfigError(path: path, "cannot read the schema file \(file)") }
            guard size <= maxSchemaBytes else { throw ConfigError(path: path, "the schema file \(file) is larger than \(maxSchemaBytes) bytes") }
            guard let data = FileManager.default.contents(atPath: file), let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigError(path: path, "cannot read the schema file \(file) as UTF-8")
            }
            text = decoded
            uri = "file://" + file
        } else {
            let known = EmbeddedSchemas.byURL.keys.sorted().joined(separator: ", ")
            throw ConfigError(path: path, "\(reference): schemas are not fetched over the network; download it and name it as file:///path/schema.json, or use one of the embedded schemas: \(known)")
        }
        var options = JSONParser.Options()
        options.maximumValues = 1_000_000
        let document: JSONValue
        do { document = try JSONParser.parse(Array(text.utf8), options: options) } catch {
            throw ConfigError(path: path, "the schema \(reference) is not valid JSON: \(error)")
        }
        do { return try JSONSchema(document, uri: uri) } catch {
            throw ConfigError(path: path, "the schema \(reference) cannot be used: \(error)")
        }
    }

    /// The default schema of the vulnerabilityreport verifier: the SARIF 2.1.0 schema Ratify embeds.
    public static let sarif: JSONSchema = {
        // Embedded, verbatim and tested: a failure here is a build defect.
        try! load("https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json", path: "embedded")
    }()
}

/// RFC 3339 timestamps of SBOMs and reports (`creationInfo.created`, the
/// `org.opencontainers.image.created` annotation).
enum Timestamp {
    static func parse(_ text: String) -> Date? {
        guard JSONSchemaFormats.isDateTime(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // Lowercase t/z are allowed by RFC 3339; the formatter wants them upper case.
        return formatter.date(from: text.uppercased())
    }
}
