import Core
import Foundation
import JSON

/// A referrer store that is not built in: the executable `<plugin directory>/<name>` speaking
/// Ratify's store plugin protocol (pkg/referrerstore/plugin), so Ratify's external stores and
/// users' own keep working. Each call runs it once with
///
///     RATIFY_STORE_COMMAND = LISTREFERRERS | GETSUBJECTDESCRIPTOR | GETREFMANIFEST | GETBLOB
///     RATIFY_STORE_SUBJECT = <subject reference>
///     RATIFY_STORE_VERSION = <store version>
///     RATIFY_STORE_ARGS    = "nextToken=…;artifactTypes=a,b" | "digest=sha256:…" | ""
///
/// and the store's own settings as JSON on stdin. Its stdout is the answer: `{"referrers": [...],
/// "nextToken": "..."}`, a descriptor, a reference manifest (`{"mediaType", "artifactType",
/// "blobs", "subject", "annotations"}`) or the blob's bytes. A non-zero exit, a timeout or an
/// answer that does not parse is an error carrying the plugin's output; a blob whose digest or
/// size is not the descriptor's is refused (Ratify trusts it; we do not).
public struct RatifyStorePlugin: ReferrerStore {
    public let config: RatifyStorePluginConfig
    let runner: any SubprocessRunning
    /// Descriptors and listings are small; blobs (signatures, SBOMs) are bounded like the oras store's.
    static let maxAnswerBytes = 1 << 20
    static let maxBlobBytes = 64 << 20
    static let maxPages = 64

    public init(config: RatifyStorePluginConfig, runner: any SubprocessRunning = ProcessSubprocessRunner()) {
        self.config = config
        self.runner = runner
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { "STORE_PLUGIN_FAILURE: \(message)" }
    }

    func run(_ command: String, subject: ImageReference, arguments: [(String, String)], deadline: ContinuousClock.Instant,
             maxBytes: Int = maxAnswerBytes) async throws(Failure) -> [UInt8] {
        var environment = ProcessInfo.processInfo.environment
        environment["RATIFY_STORE_COMMAND"] = command
        environment["RATIFY_STORE_SUBJECT"] = subject.description
        environment["RATIFY_STORE_VERSION"] = config.version
        environment["RATIFY_STORE_ARGS"] = arguments.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
        let outcome = await runner.run(config.executable, arguments: [], environment: environment,
                                       input: Array(JSONWriter.encodeString(config.document).utf8), deadline: deadline, maxOutputBytes: maxBytes)
        let label = "store plugin \(config.name) (\(command) \(subject))"
        switch outcome {
        case .notStarted(let reason): throw Failure(message: "\(label) could not be run: \(reason)")
        case .timedOut: throw Failure(message: "\(label) did not answer within the verification deadline and was stopped")
        case .outputTooLarge(let limit): throw Failure(message: "\(label) wrote more than \(limit) bytes")
        case .exited(let status, let stdout, let stderr):
            guard status == 0 else {
                let err = String(decoding: stderr.prefix(2048), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw Failure(message: "\(label) failed with exit status \(status): \(err)")
            }
            return stdout
        }
    }

    /// The answer: stdout as one JSON document, or — Ratify's parsePluginOutput — the one line of
    /// stdout that is a JSON object among the plugin's log lines.
    func json(_ bytes: [UInt8], _ what: String) throws(Failure) -> JSONValue {
        if let whole = try? JSONParser.parse(bytes) { return whole }
        let objects = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .filter { $0.contains("{") }.compactMap { try? JSONParser.parse(String($0)) }.filter { $0.objectValue != nil }
        guard objects.count == 1, let answer = objects.first else {
            throw Failure(message: "store plugin \(config.name) answered \(what) that is not one JSON document (\(objects.count) JSON lines): \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        return answer
    }

    public func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        let answer = try json(try await run("GETSUBJECTDESCRIPTOR", subject: reference, arguments: [], deadline: deadline), "a subject descriptor")
        let descriptor = try Descriptor.parse(answer, path: "subject descriptor")
        if let digest = reference.digest, digest != descriptor.digest {
            throw Failure(message: "store plugin \(config.name) resolved \(reference) to \(descriptor.digest)")
        }
        return descriptor
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        var all: [Descriptor] = [], token = ""
        for _ in 0..<Self.maxPages {
            let answer = try json(try await run("LISTREFERRERS", subject: subject, arguments: [
                ("nextToken", token), ("artifactTypes", (artifactTypes ?? []).joined(separator: ",")),
            ], deadline: deadline), "a referrers list")
            guard let list = answer["referrers"]?.arrayValue ?? (answer["referrers"]?.isNull == true ? [] : nil) else {
                throw Failure(message: "store plugin \(config.name)'s referrers list has no referrers array")
            }
            for (index, entry) in list.enumerated() { all.append(try Descriptor.parse(entry, path: "referrers[\(index)]")) }
            token = answer["nextToken"]?.stringValue ?? ""
            if token.isEmpty { return all }
        }
        throw Failure(message: "store plugin \(config.name) listed more than \(Self.maxPages) pages of referrers")
    }

    public func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        let answer = try json(try await run("GETREFMANIFEST", subject: repository, arguments: [("digest", descriptor.digest.description)],
                                            deadline: deadline), "a reference manifest")
        // Ratify's ReferenceManifest (blobs, not layers), read as the OCI manifest it describes.
        var manifest: JSONObject = ["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                                    "layers": answer["blobs"].flatMap { $0.isNull ? nil : $0 } ?? .array([])]
        for key in ["artifactType", "subject", "annotations"] {
            if let value = answer[key], !value.isNull { manifest[key] = value }
        }
        let bytes = JSONWriter.encode(.object(manifest))
        return (try Manifest.parse(bytes, mediaType: MediaType.ociManifest), bytes)
    }

    public func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        guard descriptor.size <= Self.maxBlobBytes else {
            throw Failure(message: "blob \(descriptor.digest) is \(descriptor.size) bytes; the limit is \(Self.maxBlobBytes)")
        }
        // The blob on stdout, and room for the plugin's log on stderr; exactly the blob's bytes are kept.
        let bytes = try await run("GETBLOB", subject: repository, arguments: [("digest", descriptor.digest.description)], deadline: deadline,
                                  maxBytes: descriptor.size + Self.maxAnswerBytes)
        guard bytes.count == descriptor.size, Digest.of(bytes, algorithm: descriptor.digest.algorithm) == descriptor.digest else {
            throw Failure(message: "store plugin \(config.name) answered \(bytes.count) bytes for blob \(descriptor.digest) that do not match its digest and size")
        }
        return bytes
    }
}

/// A `store.plugins` entry that is not the built-in oras store, resolved to its executable.
public struct RatifyStorePluginConfig: Sendable {
    public var name: String
    public var version: String
    public var executable: String
    /// The store's settings, handed to the plugin as Ratify hands them.
    public var document: JSONValue

    /// Ratify's FindInPaths: `<directory>/<name>` must exist; a name with a `/` is refused.
    public static func parse(_ plugin: JSONValue, path: String, version: String, directory: String) throws(ConfigError) -> RatifyStorePluginConfig {
        guard plugin.objectValue != nil, let name = plugin["name"]?.stringValue, !name.isEmpty else {
            throw ConfigError(path: "\(path).name", "must be a string")
        }
        guard !name.contains("/"), name != ".", name != ".." else {
            throw ConfigError(path: "\(path).name", "\"\(name)\" must not contain a path separator")
        }
        let executable = URL(fileURLWithPath: directory).appendingPathComponent(name).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: executable, isDirectory: &isDirectory), !isDirectory.boolValue else {
            let hint = plugin["source"]?["artifact"]?.stringValue.map { "; its source \($0) is downloaded only with \(DynamicPlugin.featureFlag)=1" } ?? ""
            throw ConfigError(path: "\(path).name", "store \"\(name)\" is neither built in (oras) nor a plugin in \(directory) (PLUGIN_NOT_FOUND)\(hint)")
        }
        return RatifyStorePluginConfig(name: name, version: version, executable: executable, document: plugin)
    }
}
