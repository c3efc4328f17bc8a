import JSON

/// Turns verifier reports into one verdict. Behind a protocol so that other engines (a
/// threshold tree, Rego) can replace the config policy.
public protocol PolicyEngine: Sendable {
    /// The result version stamped on the verification response.
    var resultVersion: String { get }
    func isSuccess(_ reports: [VerifierReport]) -> Bool
    /// True when one passing report of `artifactType` settles that type, whatever the other
    /// reports of the type say (an `any` rule): the executor then stops verifying that type.
    func isSettledByOneSuccess(artifactType: String) -> Bool
    /// What must be signed when a subject is an image index (a multi-platform image).
    var multiPlatform: PlatformMode { get }
    /// True when the policy reads every referrer's own referrers (Ratify's rego mode: each
    /// report carries the verification of what is attached to its artifact, whatever the
    /// verifiers' nestedReferences say, and the policy decides; nested results change nothing).
    var verifiesAllNested: Bool { get }
}

extension PolicyEngine {
    public func isSettledByOneSuccess(artifactType: String) -> Bool { false }
    public var multiPlatform: PlatformMode { .index }
    public var verifiesAllNested: Bool { false }
}

/// Multi-platform images (beyond Ratify; Ratify issues #101, #2157): when a subject resolves to
/// an image index (OCI index or Docker manifest list), what must pass.
public enum PlatformMode: String, Sendable, CaseIterable {
    /// The index's own referrers (Ratify's behaviour; signatures made per platform are not seen).
    case index
    /// Every platform manifest's referrers; attestation manifests (`unknown/unknown`) are skipped.
    case children
    /// The index, or else every platform manifest.
    case either
}

/// Ratify's `configPolicy`: per artifact type, `any` (at least one report of that type
/// succeeded) or `all` (there is at least one report of that type and every one succeeded);
/// types not listed follow `default` (`all` unless configured), applied to the reports present.
/// No report at all is a failure.
public struct ConfigPolicy: PolicyEngine, Equatable {
    public enum Rule: String, Sendable {
        case any, all
    }

    public var rules: [String: Rule]
    public var defaultRule: Rule
    /// `multiPlatform` (ours): what must pass for an image index.
    public var multiPlatform: PlatformMode = .index

    public init(rules: [String: Rule] = [:], defaultRule: Rule = .all) {
        self.rules = rules
        self.defaultRule = defaultRule
    }

    public var resultVersion: String { "0.2.0" }

    public func isSettledByOneSuccess(artifactType: String) -> Bool { (rules[artifactType] ?? defaultRule) == .any }

    public func isSuccess(_ reports: [VerifierReport]) -> Bool {
        guard !reports.isEmpty else { return false }
        var byType: [String: [Bool]] = [:]
        for report in reports { byType[report.artifactType ?? "", default: []].append(report.isSuccess) }
        for (type, rule) in rules {
            let results = byType[type] ?? []
            switch rule {
            case .any: if !results.contains(true) { return false }
            case .all: if results.isEmpty || results.contains(false) { return false }
            }
        }
        for (type, results) in byType where rules[type] == nil {
            switch defaultRule {
            case .any: if !results.contains(true) { return false }
            case .all: if results.contains(false) { return false }
            }
        }
        return true
    }

    /// `policy.plugin` from config.json: `{"name":"configPolicy","artifactVerificationPolicies":{…}}`.
    public static func parse(_ plugin: JSONValue, path: String) throws(ConfigError) -> ConfigPolicy {
        guard let object = plugin.objectValue else { throw ConfigError(path: path, "must be an object") }
        guard let name = object["name"]?.stringValue else { throw ConfigError(path: "\(path).name", "must be a string") }
        guard name == "configPolicy" else {
            throw ConfigError(path: "\(path).name", "policy \"\(name)\" is not supported; use configPolicy")
        }
        var policy = ConfigPolicy()
        if let mode = object["multiPlatform"], !mode.isNull {
            guard let text = mode.stringValue, let parsed = PlatformMode(rawValue: text) else {
                throw ConfigError(path: "\(path).multiPlatform", "must be \"index\", \"children\" or \"either\"")
            }
            policy.multiPlatform = parsed
        }
        guard let policies = object["artifactVerificationPolicies"], !policies.isNull else { return policy }
        guard let members = policies.objectValue?.members else {
            throw ConfigError(path: "\(path).artifactVerificationPolicies", "must be an object")
        }
        for member in members {
            guard let text = member.value.stringValue, let rule = Rule(rawValue: text) else {
                throw ConfigError(path: "\(path).artifactVerificationPolicies.\(member.key)", "must be \"any\" or \"all\"")
            }
            if member.key == "default" { policy.defaultRule = rule } else { policy.rules[member.key] = rule }
        }
        return policy
    }
}
