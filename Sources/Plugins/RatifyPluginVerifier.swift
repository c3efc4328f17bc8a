import Core
import Foundation
import JSON

/// A verifier that is not built in: an executable `<plugin directory>/<type>` speaking Ratify's
/// verifier plugin protocol (pkg/verifier/plugin), so Ratify's external plugins and users' own
/// keep working. It is run once per referrer with
///
///     RATIFY_VERIFIER_COMMAND=VERIFY
///     RATIFY_VERIFIER_SUBJECT=<subject reference>
///     RATIFY_VERIFIER_VERSION=<plugin version>
///
/// and on stdin `{"config": <the verifier's config>, "storeConfig": {"version", "pluginBinDirs",
/// "store"}, "referenceDesc": <the referrer's descriptor>}`; it answers one line of JSON, a
/// VerifierResult (`isSuccess`, `name`, `type`, `message`, `extensions`). Anything else — a
/// non-zero exit, no JSON, a timeout — is a failed report carrying the plugin's output.
public struct RatifyPluginVerifier: Verifier {
    public let config: RatifyPluginConfig
    let runner: any SubprocessRunning
    public var name: String { config.name }
    public var type: String { config.type }
    public var artifactTypes: [String] { config.artifactTypes }
    public var nestedReferences: [String] { config.nestedReferences }
    /// Ratify's plugin output is small JSON; a megabyte is far beyond any real report.
    static let maxOutputBytes = 1 << 20

    public init(config: RatifyPluginConfig, runner: any SubprocessRunning = ProcessSubprocessRunner()) {
        self.config = config
        self.runner = runner
    }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        func failure(_ message: String) -> VerifierReport {
            VerifierReport(subject: subject.description, isSuccess: false, verifierName: name, verifierType: type,
                           referenceDigest: referrer.digest.description, artifactType: referrer.artifactType, message: message,
                           errorReason: "VERIFY_PLUGIN_FAILURE", remediation: "check the \(type) plugin at \(config.executable) and its configuration")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["RATIFY_VERIFIER_COMMAND"] = "VERIFY"
        environment["RATIFY_VERIFIER_SUBJECT"] = subject.description
        environment["RATIFY_VERIFIER_VERSION"] = config.version
        var descriptor = referrer.json().objectValue ?? JSONObject()
        if let artifactType = referrer.artifactType { descriptor["artifactType"] = .string(artifactType) }
        let input: JSONValue = ["config": config.document, "storeConfig": config.storeConfig, "referenceDesc": .object(descriptor)]
        let outcome = await runner.run(config.executable, arguments: [], environment: environment, input: Array(JSONWriter.encodeString(input).utf8),
                                       deadline: deadline, maxOutputBytes: Self.maxOutputBytes)
        switch outcome {
        case .notStarted(let reason): return failure("plugin \(type) could not be run: \(reason)")
        case .timedOut: return failure("plugin \(type) did not answer within the verification deadline and was stopped")
        case .outputTooLarge(let limit): return failure("plugin \(type) wrote more than \(limit) bytes")
        case .exited(let status, let stdout, let stderr):
            let err = String(decoding: stderr.prefix(2048), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let out = String(decoding: stdout.prefix(2048), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard status == 0 else {
                return failure("plugin \(type) failed with exit status \(status), msg from stderr '\(err)', msg from stdout '\(out)'")
            }
            // Ratify's parsePluginOutput: JSON is found line by line in stderr then stdout; other
            // lines are the plugin's log. Exactly one JSON result is expected.
            let lines = (String(decoding: stderr, as: UTF8.self) + "\n" + String(decoding: stdout, as: UTF8.self)).split(separator: "\n")
            let results = lines.filter { $0.contains("{") }.compactMap { try? JSONParser.parse(String($0)) }.filter { $0.objectValue != nil }
            guard results.count == 1, let result = results.first else {
                return failure("plugin \(type) answered \(results.count) JSON results instead of one VerifierResult (stdout '\(out)')")
            }
            guard let success = result["isSuccess"]?.boolValue else {
                return failure("plugin \(type)'s result has no boolean isSuccess: \(JSONWriter.encodeString(result).prefix(300))")
            }
            // Ratify keeps isSuccess, message, name, type and extensions from the plugin.
            return VerifierReport(subject: subject.description, isSuccess: success,
                                  verifierName: result["name"]?.stringValue ?? name, verifierType: result["type"]?.stringValue ?? type,
                                  referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                                  message: result["message"]?.stringValue ?? (success ? "verification success" : "verification failed"),
                                  errorReason: success ? nil : "VERIFY_PLUGIN_FAILURE",
                                  remediation: success ? nil : "see the \(type) plugin's message",
                                  extensions: result["extensions"].flatMap { $0.isNull ? nil : $0 })
        }
    }
}

/// A `verifier.plugins` entry whose kind is not built in, resolved to its executable.
public struct RatifyPluginConfig: Sendable {
    public var name: String
    /// `type`, else `name`: the executable's file name.
    public var type: String
    public var version: String
    public var artifactTypes: [String]
    public var nestedReferences: [String]
    public var executable: String
    /// The plugin's own settings, handed over as Ratify hands them.
    public var document: JSONValue
    /// The referrer store's settings, from which the plugin builds its own store.
    public var storeConfig: JSONValue = ["version": "1.0.0", "pluginBinDirs": .null, "store": ["name": "oras"]]

    /// Resolves the plugin entry at `path` against `directory` (Ratify's FindInPaths): the
    /// executable must exist there; a name with a `/` is refused.
    public static func parse(_ plugin: JSONValue, path: String, directory: String) throws(ConfigError) -> RatifyPluginConfig {
        guard plugin.objectValue != nil, let name = plugin["name"]?.stringValue, !name.isEmpty else {
            throw ConfigError(path: "\(path).name", "must be a string")
        }
        let type = plugin["type"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? name
        guard !type.contains("/"), type != ".", type != ".." else {
            throw ConfigError(path: "\(path).\(plugin["type"] == nil ? "name" : "type")", "\"\(type)\" must not contain a path separator")
        }
        let executable = URL(fileURLWithPath: directory).appendingPathComponent(type).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: executable, isDirectory: &isDirectory), !isDirectory.boolValue else {
            let hint = plugin["source"]?["artifact"]?.stringValue.map { "; its source \($0) is downloaded only with \(DynamicPlugin.featureFlag)=1" } ?? ""
            throw ConfigError(path: "\(path).\(plugin["type"] == nil ? "name" : "type")",
                              "verifier \"\(type)\" is neither built in (cosign, notation, sbom, licensechecker, vulnerabilityreport, schemavalidator) nor a plugin in \(directory) (PLUGIN_NOT_FOUND)\(hint)")
        }
        return RatifyPluginConfig(
            name: name, type: type, version: plugin["version"]?.stringValue ?? "1.0.0",
            artifactTypes: try PluginSettings.artifactTypes(plugin["artifactTypes"], path: "\(path).artifactTypes") ?? ["*"],
            nestedReferences: try PluginSettings.nestedReferences(plugin["nestedReferences"], path: "\(path).nestedReferences"),
            executable: executable, document: plugin)
    }
}
