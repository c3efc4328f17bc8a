import Core
import Foundation
import JSON
import Rego

/// Ratify's `regoPolicy` policy provider: `policy` (inline text) or `policyPath` (a file), in
/// package `ratify.policy`; a subject passes when rule `valid` is `true` for the input
/// `{"verifierReports": [<one entry per referrer, nested reports under it>]}` (Ratify's shape,
/// `NestedReports`). Undefined, not a boolean, an evaluation error or running out of steps or
/// time is a failure. `passthroughEnabled`: the policy is not evaluated and every subject
/// fails, with the full reports (Ratify's behaviour: a Gatekeeper template decides).
public struct RegoPolicyConfig: Sendable {
    public var policy: RegoPolicy
    public var source: String
    public var passthrough: Bool

    static let keys: Set<String> = ["name", "policy", "policyPath", "passthroughEnabled"]

    public static func parse(_ plugin: JSONValue, path: String) throws(ConfigError) -> RegoPolicyConfig {
        guard let object = plugin.objectValue else { throw ConfigError(path: path, "must be an object") }
        for key in ["policy", "policyPath"] where object[key] != nil && !(object[key]!.isNull) && object[key]!.stringValue == nil {
            throw ConfigError(path: "\(path).\(key)", "must be a string")
        }
        var passthrough = false
        if let flag = object["passthroughEnabled"], !flag.isNull {
            guard let value = flag.boolValue else { throw ConfigError(path: "\(path).passthroughEnabled", "must be true or false") }
            passthrough = value
        }
        let text: String, source: String
        if let inline = object["policy"]?.stringValue, !inline.isEmpty {
            text = inline
            source = "\(path).policy"
        } else {
            guard let file = object["policyPath"]?.stringValue, !file.isEmpty else {
                throw ConfigError(path: path, "regoPolicy needs a policy (inline Rego) or a policyPath")
            }
            guard let data = FileManager.default.contents(atPath: file), let read = String(data: data, encoding: .utf8) else {
                throw ConfigError(path: "\(path).policyPath", "unable to read rego policy file at path \(file)")
            }
            text = read
            source = file
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ConfigError(path: path, "policy is required: the Rego text is empty") }
        let policy: RegoPolicy
        do { policy = try RegoPolicy(text, file: source) } catch { throw ConfigError(path: path, "the rego policy cannot be used: \(error)") }
        guard policy.module.package == ["ratify", "policy"] else {
            throw ConfigError(path: path, "the rego policy must be in package ratify.policy (found \(policy.module.package.joined(separator: ".")))")
        }
        guard policy.module.ruleNames.contains("valid") else {
            throw ConfigError(path: path, "the rego policy defines no rule valid (Ratify queries data.ratify.policy.valid)")
        }
        return RegoPolicyConfig(policy: policy, source: source, passthrough: passthrough)
    }
}

public struct RegoPolicyEngine: PolicyEngine {
    public let config: RegoPolicyConfig
    /// Evaluation budget per subject (inside the request deadline the executor enforces).
    public var limits: @Sendable () -> RegoLimits = { RegoLimits(maxSteps: 2_000_000, maxDepth: 200, deadline: .now + .seconds(2)) }

    public init(config: RegoPolicyConfig) { self.config = config }

    public var resultVersion: String { "1.1.0" }
    public var verifiesAllNested: Bool { true }

    public func isSuccess(_ reports: [VerifierReport]) -> Bool {
        guard !config.passthrough else { return false }
        let input = RegoValue(json: ["verifierReports": .array(NestedReports.group(reports))])
        do {
            return try config.policy.evaluateOnOwnStack("valid", input: input, limits: limits()) == .bool(true)
        } catch {
            return false
        }
    }
}
