import JSON

/// One verifier's verdict on one referrer (Ratify's `VerifierResult`, result version 0.2.0).
/// A failure always carries a stable `errorReason` and a `remediation` sentence.
public struct VerifierReport: Sendable, Equatable {
    public var subject: String
    public var isSuccess: Bool
    public var verifierName: String
    public var verifierType: String
    public var referenceDigest: String?
    public var artifactType: String?
    public var message: String
    public var errorReason: String?
    public var remediation: String?
    public var extensions: JSONValue?
    public var nestedResults: [VerifierReport]

    public init(subject: String, isSuccess: Bool, verifierName: String, verifierType: String, referenceDigest: String? = nil,
                artifactType: String? = nil, message: String, errorReason: String? = nil, remediation: String? = nil,
                extensions: JSONValue? = nil, nestedResults: [VerifierReport] = []) {
        self.subject = subject
        self.isSuccess = isSuccess
        self.verifierName = verifierName
        self.verifierType = verifierType
        self.referenceDigest = referenceDigest
        self.artifactType = artifactType
        self.message = message
        self.errorReason = errorReason
        self.remediation = remediation
        self.extensions = extensions
        self.nestedResults = nestedResults
    }

    /// A failing report that is not any verifier's: nothing to verify, or nothing verified.
    public static func executorFailure(subject: String, reason: ExecutorReason, message: String, remediation: String) -> VerifierReport {
        executorFailure(subject: subject, errorReason: reason.rawValue, message: message, remediation: remediation)
    }

    /// An executor report with a reason code from elsewhere (an item error's code).
    public static func executorFailure(subject: String, errorReason: String, message: String, remediation: String) -> VerifierReport {
        VerifierReport(subject: subject, isSuccess: false, verifierName: "ratify", verifierType: "executor",
                       message: message, errorReason: errorReason, remediation: remediation)
    }

    /// Field order and omissions as Ratify's Go struct marshals them (`isSuccess` always present;
    /// `name`/`type` duplicate `verifierName`/`verifierType` for templates written against v1.0).
    public func json() -> JSONValue {
        var object = JSONObject()
        if !subject.isEmpty { object["subject"] = .string(subject) }
        object["isSuccess"] = .bool(isSuccess)
        object["name"] = .string(verifierName)
        object["verifierName"] = .string(verifierName)
        object["type"] = .string(verifierType)
        object["verifierType"] = .string(verifierType)
        if let referenceDigest { object["referenceDigest"] = .string(referenceDigest) }
        if let artifactType { object["artifactType"] = .string(artifactType) }
        if !message.isEmpty { object["message"] = .string(message) }
        if let errorReason { object["errorReason"] = .string(errorReason) }
        if let remediation { object["remediation"] = .string(remediation) }
        if let extensions, !extensions.isNull { object["extensions"] = extensions }
        if !nestedResults.isEmpty { object["nestedResults"] = .array(nestedResults.map { $0.json() }) }
        return .object(object)
    }
}

extension VerifierReport {
    /// The inverse of `json()`, for reports read back from the shared cache; nil when a field
    /// `json()` always writes is missing or has the wrong type.
    public init?(json value: JSONValue) {
        guard let isSuccess = value["isSuccess"]?.boolValue, let name = value["verifierName"]?.stringValue,
              let type = value["verifierType"]?.stringValue else { return nil }
        var nested: [VerifierReport] = []
        if let list = value["nestedResults"] {
            guard let items = list.arrayValue else { return nil }
            for item in items {
                guard let report = VerifierReport(json: item) else { return nil }
                nested.append(report)
            }
        }
        self.init(subject: value["subject"]?.stringValue ?? "", isSuccess: isSuccess, verifierName: name, verifierType: type,
                  referenceDigest: value["referenceDigest"]?.stringValue, artifactType: value["artifactType"]?.stringValue,
                  message: value["message"]?.stringValue ?? "", errorReason: value["errorReason"]?.stringValue,
                  remediation: value["remediation"]?.stringValue, extensions: value["extensions"], nestedResults: nested)
    }
}

/// Why the executor itself denied a subject (no verifier report decides it).
public enum ExecutorReason: String, Sendable, CaseIterable {
    case referrersNotFound = "REFERRERS_NOT_FOUND"
    case noVerifierReport = "NO_VERIFIER_REPORT"
    case nestedVerificationMissing = "NESTED_VERIFICATION_MISSING"
    case nestedVerificationFailed = "NESTED_VERIFICATION_FAILED"
    /// Nested references deeper than the executor verifies: never passed unchecked.
    case nestedDepthExceeded = "NESTED_DEPTH_EXCEEDED"
    /// Not verified because the policy was already satisfied for its artifact type (`any`).
    case notNeeded = "VERIFICATION_NOT_NEEDED"
    /// An image index with no platform manifest to verify (`multiPlatform: children`).
    case noPlatformManifests = "NO_PLATFORM_MANIFESTS"
    /// A platform manifest of an image index failed (`multiPlatform: children` / `either`).
    case platformFailed = "PLATFORM_VERIFICATION_FAILED"
}
