import Foundation
import JSON

/// A built-in verifier (notation, cosign, …) as configured. Verification is a value: a failed
/// check is a report with `isSuccess == false`, never a thrown error, and never a pass by default.
public protocol Verifier: Sendable {
    /// The configured name (`verifier.plugins[].name`).
    var name: String { get }
    /// The verifier kind (`notation`, `cosign`).
    var type: String { get }
    /// Artifact types this verifier handles (`artifactTypes` in config).
    var artifactTypes: [String] { get }
    /// Artifact types whose own referrers must verify too before this verifier's report can pass
    /// (Ratify's `nestedReferences`, e.g. the signature on an SBOM).
    var nestedReferences: [String] { get }
    /// True when a verification's own work is brief (well under a millisecond of CPU: a few
    /// signature checks and small documents) and never blocks: it may then run on the registry
    /// transport's I/O thread while that thread is idle, instead of hopping to the pool and back.
    var runsBriefly: Bool { get }

    func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                deadline: ContinuousClock.Instant) async -> VerifierReport
}

extension Verifier {
    public var nestedReferences: [String] { [] }
    public var runsBriefly: Bool { false }

    public func canVerify(_ artifactType: String?) -> Bool {
        guard let artifactType else { return false }
        return artifactTypes.contains(artifactType) || artifactTypes.contains("*")
    }
}

/// Settings every verifier plugin entry shares, read the way Ratify reads them.
public enum PluginSettings {
    /// `artifactTypes`: Ratify writes a comma-separated string; a list is accepted too.
    public static func artifactTypes(_ value: JSONValue?, path: String) throws(ConfigError) -> [String]? {
        guard let value, !value.isNull else { return nil }
        if let text = value.stringValue {
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
            throw ConfigError(path: path, "must be a string or a list of strings")
        }
        return list.compactMap(\.stringValue)
    }

    /// `nestedReferences`: artifact types whose own referrers must verify too.
    public static func nestedReferences(_ value: JSONValue?, path: String) throws(ConfigError) -> [String] {
        try artifactTypes(value, path: path) ?? []
    }
}
