import Core
import Foundation
import JSON

/// The Notary Project trust policy document, version 1.0 (specs/trust-store-trust-policy.md),
/// validated in full when the configuration loads: an invalid policy is refused with the exact
/// reason and the path to it, never discovered at verification time.
public struct TrustPolicyDocument: Sendable, Equatable {
    public var policies: [TrustPolicy]

    public static func parse(_ value: JSONValue, path: String) throws(ConfigError) -> TrustPolicyDocument {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        // "version": currently the only supported value is "1.0".
        guard object["version"]?.stringValue == "1.0" else {
            throw ConfigError(path: "\(path).version", "must be \"1.0\"")
        }
        guard let list = object["trustPolicies"]?.arrayValue, !list.isEmpty else {
            throw ConfigError(path: "\(path).trustPolicies", "must be a non-empty list")
        }
        var policies: [TrustPolicy] = []
        for (index, entry) in list.enumerated() {
            policies.append(try TrustPolicy.parse(entry, path: "\(path).trustPolicies[\(index)]"))
        }
        var names = Set<String>()
        for (index, policy) in policies.enumerated() where !names.insert(policy.name).inserted {
            throw ConfigError(path: "\(path).trustPolicies[\(index)].name", "\"\(policy.name)\" is used by more than one trust policy")
        }
        // "There can only be one trust policy that uses a global scope." and "For a given
        // artifact there MUST be only one applicable trust policy, except for trust policy with
        // global scope."
        var owners: [String: String] = [:]
        for (index, policy) in policies.enumerated() {
            for scope in policy.registryScopes {
                if let owner = owners[scope] {
                    throw ConfigError(path: "\(path).trustPolicies[\(index)].registryScopes",
                        scope == "*" ? "the global scope \"*\" is already used by trust policy \"\(owner)\""
                                     : "registry scope \"\(scope)\" is already used by trust policy \"\(owner)\"")
                }
                owners[scope] = policy.name
            }
        }
        return TrustPolicyDocument(policies: policies)
    }

    /// "Evaluation order of trust policies: 1. Exact match … 2. Global". Nil means no policy
    /// applies, which the verifier MUST treat as untrusted.
    static let domainPattern = try! NSRegularExpression(pattern: #"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$"#)
    static let repositoryPattern = try! NSRegularExpression(pattern: #"^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$"#)

    static func isRegistryScope(_ scope: String) -> Bool {
        guard let slash = scope.firstIndex(of: "/") else { return false }
        let domain = String(scope[..<slash]), repository = String(scope[scope.index(after: slash)...])
        func matches(_ pattern: NSRegularExpression, _ text: String) -> Bool {
            !text.isEmpty && pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
        return matches(domainPattern, domain) && matches(repositoryPattern, repository)
    }

    public func policy(for repository: String) -> TrustPolicy? {
        policies.first { $0.registryScopes.contains(repository) } ?? policies.first { $0.registryScopes == ["*"] }
    }
}

public struct TrustPolicy: Sendable, Equatable {
    public enum Level: String, Sendable { case strict, permissive, audit, skip }
    public enum Action: String, Sendable { case enforce, log, skip }
    public enum Check: String, Sendable, CaseIterable { case integrity, authenticity, authenticTimestamp, expiry, revocation }
    public enum TimestampPolicy: String, Sendable { case always, afterCertExpiry }

    public struct TrustStore: Sendable, Hashable, CustomStringConvertible {
        public var description: String { "\(kind.rawValue):\(name)" }
        public init(kind: Kind, name: String) { self.kind = kind; self.name = name }
        public enum Kind: String, Sendable { case ca, signingAuthority, tsa }
        public var kind: Kind
        public var name: String
    }

    public enum Identity: Sendable, Equatable, CustomStringConvertible {
        case any
        case x509Subject(DistinguishedName)
        /// `prefix:value` with another prefix: a verification plugin's identity. notation-go
        /// accepts it in the document and ignores it when it verifies natively.
        case other(prefix: String, value: String)

        public var description: String {
            switch self {
            case .any: "*"
            case .x509Subject(let name): "x509.subject: \(name)"
            case .other(let prefix, let value): "\(prefix):\(value)"
            }
        }
    }

    public var name: String
    public var registryScopes: [String]
    public var level: Level
    public var overrides: [Check: Action]
    public var verifyTimestamp: TimestampPolicy
    public var trustStores: [TrustStore]
    public var trustedIdentities: [Identity]
    /// The identities as the document writes them: what a verification plugin receives
    /// (notation-go hands `trustPolicy.TrustedIdentities` over unparsed).
    public var writtenTrustedIdentities: [String] = []

    /// The spec's level table, with the policy's overrides applied.
    public func action(for check: Check) -> Action {
        if let override = overrides[check] { return override }
        switch (level, check) {
        case (.skip, _): return .skip
        case (_, .integrity): return .enforce
        case (.strict, _): return .enforce
        case (.permissive, .authenticity): return .enforce
        case (.permissive, _), (.audit, _): return .log
        }
    }

    static func parse(_ value: JSONValue, path: String) throws(ConfigError) -> TrustPolicy {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw ConfigError(path: "\(path).name", "must be a non-empty string") }
        guard let scopeValues = object["registryScopes"]?.arrayValue, !scopeValues.isEmpty else {
            throw ConfigError(path: "\(path).registryScopes", "must contain at least one value")
        }
        var scopes: [String] = []
        for (index, scope) in scopeValues.enumerated() {
            let scopePath = "\(path).registryScopes[\(index)]"
            guard let text = scope.stringValue, !text.isEmpty else { throw ConfigError(path: scopePath, "must be a non-empty string") }
            if text != "*" {
                // "The repository URI MUST NOT contain the asterisk character"; otherwise
                // notation-go's `validateRegistryScopeFormat`: domain[:port]/repository with
                // distribution's grammar — a single-label domain (`local/myOCILayout`) included.
                guard !text.contains("*") else { throw ConfigError(path: scopePath, "\"\(text)\": a repository scope must not contain \"*\"") }
                guard TrustPolicyDocument.isRegistryScope(text) else {
                    throw ConfigError(path: scopePath, "\"\(text)\" is not a fully qualified repository such as registry.example.com/team/app (or a local scope such as local/myOCILayout)")
                }
            }
            scopes.append(text)
        }
        if scopes.contains("*") && scopes.count > 1 {
            throw ConfigError(path: "\(path).registryScopes", "the global scope \"*\" must be the only value")
        }
        guard let verification = object["signatureVerification"]?.objectValue else {
            throw ConfigError(path: "\(path).signatureVerification", "is required")
        }
        guard let levelText = verification["level"]?.stringValue, let level = Level(rawValue: levelText) else {
            throw ConfigError(path: "\(path).signatureVerification.level", "must be strict, permissive, audit or skip")
        }
        var overrides: [Check: Action] = [:]
        if let overrideValue = verification["override"], !overrideValue.isNull {
            guard level != .skip else { throw ConfigError(path: "\(path).signatureVerification.override", "a skip level cannot be customized") }
            guard let members = overrideValue.objectValue?.members else {
                throw ConfigError(path: "\(path).signatureVerification.override", "must be an object")
            }
            for member in members {
                let overridePath = "\(path).signatureVerification.override.\(member.key)"
                guard let check = Check(rawValue: member.key) else { throw ConfigError(path: overridePath, "is not a verification check") }
                guard check != .integrity else { throw ConfigError(path: overridePath, "integrity validation cannot be overridden") }
                guard let text = member.value.stringValue, let action = Action(rawValue: text),
                      action != .skip || check == .revocation else {
                    throw ConfigError(path: overridePath, check == .revocation ? "must be enforce, log or skip" : "must be enforce or log")
                }
                overrides[check] = action
            }
        }
        var verifyTimestamp = TimestampPolicy.always
        if let text = verification["verifyTimestamp"]?.stringValue {
            guard let parsed = TimestampPolicy(rawValue: text) else {
                throw ConfigError(path: "\(path).signatureVerification.verifyTimestamp", "must be always or afterCertExpiry")
            }
            verifyTimestamp = parsed
        }
        let storeValues = object["trustStores"]?.arrayValue ?? []
        let identityValues = object["trustedIdentities"]?.arrayValue ?? []
        if level == .skip {
            // Nothing is verified, so stores and identities would be dead configuration. (A
            // global skip policy is allowed, as notation-go allows it: it admits everything.)
            guard storeValues.isEmpty, identityValues.isEmpty else {
                throw ConfigError(path: path, "a skip level must not list trustStores or trustedIdentities")
            }
            return TrustPolicy(name: name, registryScopes: scopes, level: level, overrides: [:], verifyTimestamp: verifyTimestamp,
                               trustStores: [], trustedIdentities: [])
        }
        guard !storeValues.isEmpty else { throw ConfigError(path: "\(path).trustStores", "must name at least one trust store") }
        var stores: [TrustStore] = []
        for (index, store) in storeValues.enumerated() {
            let storePath = "\(path).trustStores[\(index)]"
            guard let text = store.stringValue, let colon = text.firstIndex(of: ":"),
                  let kind = TrustStore.Kind(rawValue: String(text[..<colon])), text.index(after: colon) < text.endIndex else {
                throw ConfigError(path: storePath, "must be {ca|signingAuthority|tsa}:{name}")
            }
            stores.append(TrustStore(kind: kind, name: String(text[text.index(after: colon)...])))
        }
        guard !identityValues.isEmpty else { throw ConfigError(path: "\(path).trustedIdentities", "must list at least one identity, or \"*\"") }
        var identities: [Identity] = []
        for (index, identity) in identityValues.enumerated() {
            let identityPath = "\(path).trustedIdentities[\(index)]"
            guard let text = identity.stringValue else { throw ConfigError(path: identityPath, "must be a string") }
            if text == "*" {
                guard identityValues.count == 1 else { throw ConfigError(path: identityPath, "\"*\" must be the only trusted identity") }
                identities.append(.any)
                continue
            }
            // notation-go `validateTrustedIdentities`: "prefix:value"; only x509.subject values
            // are parsed, other prefixes are kept for plugins.
            guard !text.isEmpty else { throw ConfigError(path: identityPath, "must not be empty") }
            guard let colon = text.firstIndex(of: ":") else {
                throw ConfigError(path: identityPath, "\"\(text)\" has no \"prefix:\" separator; use x509.subject: C=…, ST=…, O=… or \"*\"")
            }
            let prefix = String(text[..<colon]), value = String(text[text.index(after: colon)...])
            guard prefix == "x509.subject" else {
                identities.append(.other(prefix: prefix, value: value))
                continue
            }
            guard !value.isEmpty else { throw ConfigError(path: identityPath, "x509.subject needs a distinguished name") }
            guard let name = DistinguishedName.parse(value) else {
                throw ConfigError(path: identityPath, "is not a distinguished name notation accepts (RFC 4514: C=…, ST=…, O=…; no multi-valued RDNs, repeated attributes or =#)")
            }
            // "Each identity in identities list MUST contain country (C), state or province (ST),
            // and organization (O) RDNs."
            for required in ["C", "ST", "O"] where name.value(required) == nil {
                throw ConfigError(path: identityPath, "must contain \(required)= (C, ST and O are required)")
            }
            for case .x509Subject(let earlier) in identities where earlier.overlaps(name) {
                throw ConfigError(path: identityPath, "overlaps the identity \"\(earlier)\": one certificate could match both")
            }
            identities.append(.x509Subject(name))
        }
        var policy = TrustPolicy(name: name, registryScopes: scopes, level: level, overrides: overrides, verifyTimestamp: verifyTimestamp,
                           trustStores: stores, trustedIdentities: identities)
        policy.writtenTrustedIdentities = identityValues.compactMap(\.stringValue)
        return policy
    }

    /// Whether a signing certificate with this subject is trusted by the policy's identities.
    public func trusts(subject: DistinguishedName) -> Bool {
        trustedIdentities.contains { identity in
            switch identity {
            case .any: true
            case .x509Subject(let trusted): trusted.isSubset(of: subject)
            case .other: false
            }
        }
    }
}
