import Core
import Crypto
import Foundation
import JSON

/// The Notary Project plugin contract, verification side (plugin-extensibility.md), as
/// notation-go runs it and Ratify places the executables: `<directory>/notation-<name>`
/// (Ratify's RatifyPluginManager: flat, no per-plugin folder), called with one command
/// argument, the request JSON on stdin, the response JSON on stdout, and on failure an error
/// JSON on stderr with a non-zero exit.
public struct VerificationPlugin: Sendable {
    public enum Capability: String, Sendable, CaseIterable {
        case trustedIdentity = "SIGNATURE_VERIFIER.TRUSTED_IDENTITY"
        case revocationCheck = "SIGNATURE_VERIFIER.REVOCATION_CHECK"
    }

    public struct Metadata: Sendable, Equatable {
        public var name: String
        public var version: SemanticVersion
        /// The verifier capabilities it offers, in its own order.
        public var capabilities: [Capability]
    }

    /// Why the plugin could not be used; the message says which plugin and what went wrong.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable { case notInstalled, unusable }
        public let kind: Kind
        public let message: String
        public var description: String { message }
    }

    /// "The contract version … this specification describes."
    public static let contractVersion = "1.0"
    /// notation-go caps each of stdout and stderr at 64 MiB; one cap over both is enough here.
    public static let maxOutputBytes = 64 << 20

    public let name: String
    public let path: String
    let runner: any SubprocessRunning

    /// The plugin a signature names, in `directory`. Names that could leave the directory are
    /// refused (notation-go does not check; a signature is attacker-chosen text).
    public static func locate(_ name: String, in directory: String, runner: any SubprocessRunning) -> Result<VerificationPlugin, Failure> {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            return .failure(Failure(kind: .unusable, message: "verification plugin name \"\(name)\" is not a plain name"))
        }
        let path = URL(fileURLWithPath: directory).appendingPathComponent("notation-\(name)").path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(Failure(kind: .notInstalled, message: "the signature requires verification plugin \"\(name)\", which is not installed: no executable \(path)"))
        }
        guard !isDirectory.boolValue else {
            return .failure(Failure(kind: .notInstalled, message: "verification plugin \"\(name)\": \(path) is not a regular file"))
        }
        return .success(VerificationPlugin(name: name, path: path, runner: runner))
    }

    // MARK: get-plugin-metadata

    public func metadata(deadline: ContinuousClock.Instant) async -> Result<Metadata, Failure> {
        let response: JSONValue
        switch await call("get-plugin-metadata", request: .object(JSONObject()), deadline: deadline) {
        case .failure(let failure): return .failure(failure)
        case .success(let value): response = value
        }
        func field(_ key: String) -> String? { response[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        // notation-go's metadata validation, in its order.
        for key in ["name", "description", "version", "url"] where field(key) == nil {
            return .failure(unusable("metadata has an empty \(key)"))
        }
        let capabilities = response["capabilities"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard !capabilities.isEmpty else { return .failure(unusable("metadata lists no capabilities")) }
        let contracts = response["supportedContractVersions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard !contracts.isEmpty else { return .failure(unusable("metadata names no supported contract versions")) }
        guard contracts.contains(Self.contractVersion) else {
            return .failure(unusable("supports contract versions \(contracts), not \(Self.contractVersion)"))
        }
        guard field("name") == name else {
            return .failure(unusable("the executable must be named notation-\(field("name")!), not notation-\(name)"))
        }
        guard let version = SemanticVersion(field("version")!) else {
            return .failure(unusable("version \"\(field("version")!)\" is not a valid semantic version"))
        }
        return .success(Metadata(name: name, version: version, capabilities: capabilities.compactMap(Capability.init(rawValue:))))
    }

    // MARK: verify-signature

    public struct Request: Sendable {
        public var envelope: SignatureEnvelope
        public var trustedIdentities: [String]
        public var capabilities: [Capability]
    }

    public struct Verdict: Sendable, Equatable {
        public var results: [Capability: (success: Bool, reason: String?)]
        public var processedAttributes: [String]
        public static func == (a: Verdict, b: Verdict) -> Bool {
            a.processedAttributes == b.processedAttributes && a.results.keys == b.results.keys
                && a.results.allSatisfy { key, value in b.results[key].map { $0.success == value.success && $0.reason == value.reason } ?? false }
        }
    }

    /// The request exactly as notation-go builds it (verifier.go executePlugin): expiry always
    /// sent (Go's zero time when the signature has none), `authenticSigningTime` only for the
    /// signing-authority scheme, extended attributes other than the two plugin ones, and
    /// `unprocessedAttributes` null when there are none.
    public static func requestJSON(_ request: Request) -> JSONValue {
        var critical: JSONObject = [
            "contentType": .string(SignatureEnvelope.payloadContentType),
            "signingScheme": .string(request.envelope.signingScheme.rawValue),
            "expiry": .string(request.envelope.expiry.map(rfc3339) ?? "0001-01-01T00:00:00Z"),
        ]
        if request.envelope.signingScheme == .x509SigningAuthority, let time = request.envelope.authenticSigningTime {
            critical["authenticSigningTime"] = .string(rfc3339(time))
        }
        let extended = pluginAttributes(request.envelope)
        if !extended.isEmpty { critical["extendedAttributes"] = .object(JSONObject(extended)) }
        let signature: JSONObject = [
            "criticalAttributes": .object(critical),
            "unprocessedAttributes": extended.isEmpty ? .null : .array(extended.map { .string($0.key) }),
            "certificateChain": .array(request.envelope.certificates.map { .string(Data($0.derBytes).base64EncodedString()) }),
        ]
        return ["contractVersion": .string(contractVersion), "signature": .object(signature),
                "trustPolicy": ["trustedIdentities": .array(request.trustedIdentities.map { .string($0) }),
                                "signatureVerification": .array(request.capabilities.map { .string($0.rawValue) })]]
    }

    /// The extended attributes a plugin must process: all but the two that name the plugin.
    static func pluginAttributes(_ envelope: SignatureEnvelope) -> [(key: String, value: JSONValue)] {
        envelope.extendedAttributes.filter {
            $0.key != SignedAttributes.verificationPluginKey && $0.key != SignedAttributes.verificationPluginMinVersionKey
        }
    }

    public func verifySignature(_ request: Request, deadline: ContinuousClock.Instant) async -> Result<Verdict, Failure> {
        let response: JSONValue
        switch await call("verify-signature", request: Self.requestJSON(request), deadline: deadline) {
        case .failure(let failure): return .failure(Failure(kind: failure.kind, message: "failed to verify with plugin \(name): \(failure.message)"))
        case .success(let value): response = value
        }
        var results: [Capability: (success: Bool, reason: String?)] = [:]
        for member in response["verificationResults"]?.objectValue?.members ?? [] {
            guard let capability = Capability(rawValue: member.key) else { continue }
            results[capability] = (member.value["success"]?.boolValue ?? false, member.value["reason"]?.stringValue)
        }
        let processed = response["processedAttributes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return .success(Verdict(results: results, processedAttributes: processed))
    }

    // MARK: running

    func call(_ command: String, request: JSONValue, deadline: ContinuousClock.Instant) async -> Result<JSONValue, Failure> {
        let outcome = await runner.run(path, arguments: [command], environment: nil, input: Array(JSONWriter.encodeString(request).utf8),
                                       deadline: deadline, maxOutputBytes: Self.maxOutputBytes)
        switch outcome {
        case .notStarted(let reason):
            return .failure(unusable("\(command) could not be run: \(reason)"))
        case .timedOut:
            return .failure(unusable("'\(path) \(command)' did not finish within the verification deadline and was stopped"))
        case .outputTooLarge(let limit):
            return .failure(unusable("\(command) wrote more than \(limit) bytes"))
        case .exited(let status, let stdout, let stderr):
            guard status == 0 else {
                // "the plugin MUST exit with a non-zero code and write an error response to stderr".
                let text = String(decoding: stderr.prefix(4096), as: UTF8.self)
                if let error = try? JSONParser.parse(stderr), let code = error["errorCode"]?.stringValue {
                    return .failure(unusable("\(command) failed (\(code)): \(error["errorMessage"]?.stringValue ?? "no message")"))
                }
                return .failure(unusable("\(command) exited with status \(status)\(text.isEmpty ? "" : ": \(text.trimmingCharacters(in: .whitespacesAndNewlines))")"))
            }
            guard let response = try? JSONParser.parse(stdout), response.objectValue != nil else {
                return .failure(unusable("the response of \(command) is not a JSON object: \(String(decoding: stdout.prefix(200), as: UTF8.self))"))
            }
            return .success(response)
        }
    }

    func unusable(_ message: String) -> Failure { Failure(kind: .unusable, message: "verification plugin \(name): \(message)") }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
