import Core
import Crypto
import Foundation
import JSON

/// A cosign trust policy as Ratify documents it: which images (`scopes`) it covers and which
/// keys may have signed them.
public struct CosignTrustPolicy: Sendable {
    public var name: String
    public var scopes: [String]
    public var keys: [(source: String, key: PublicKey)]
    /// Keys served by key management providers, resolved at verification time.
    public var providerKeys: [ProviderKeyReference] = []
    /// Require a transparency-log entry (a Rekor bundle) for each signature.
    public var tLogVerify: Bool
    /// Keyless (Fulcio certificate) trust instead of keys.
    public var keyless: KeylessPolicy? = nil
    /// Annotations the signed payload must carry (`cosign verify -a key=value`; our addition).
    public var annotations: [String: String] = [:]
    /// Where a Rekor entry is looked up when a signature carries none (Ratify's `rekorURL`,
    /// default the public-good instance).
    public var rekorURL: String? = nil
}

/// `keys: [{provider, name, version}]`: a key of a KeyManagementProvider; `name` / `version`
/// narrow the provider's keys when given.
public struct ProviderKeyReference: Sendable, Equatable, CustomStringConvertible {
    public var provider: String
    public var name: String?
    public var version: String?

    public init(provider: String, name: String?, version: String?) {
        self.provider = provider
        self.name = name
        self.version = version
    }

    public var description: String { "\(provider)\(name.map { "/\($0)" } ?? "")\(version.map { "@\($0)" } ?? "")" }

    public func select(_ keys: [ManagedKey]) -> [ManagedKey] {
        keys.filter { key in (name.map { $0 == key.name } ?? true) && (version.map { $0 == key.version } ?? true) }
    }
}

/// cosign's keyless checks as a trust policy states them: who (`certificateIdentity` or
/// `certificateIdentityRegExp`, matched against the certificate's SANs), vouched for by which
/// OIDC issuer (`certificateOIDCIssuer[RegExp]`, matched against Fulcio's issuer extension), and
/// whether an embedded SCT from a trusted CT log is required (`ctLogVerify`).
public struct KeylessPolicy: Sendable {
    public var identity: Matcher
    public var issuer: Matcher
    public var ctLogVerify: Bool
    /// Fulcio roots / intermediates and CT logs (the plugin's trustedRoot plus rootCertificates).
    public var trust: TrustedRoot

    /// An exact string, or a regular expression that must match somewhere in the value (Go's
    /// `regexp.MatchString`, as cosign uses it; anchor with ^…$ for a full match).
    public enum Matcher: Sendable, CustomStringConvertible {
        case exact(String)
        case pattern(CompiledPattern)

        public func matches(_ value: String) -> Bool {
            switch self {
            case .exact(let text): value == text
            case .pattern(let pattern): pattern.matches(value)
            }
        }

        public var description: String {
            switch self {
            case .exact(let text): "\"\(text)\""
            case .pattern(let pattern): "/\(pattern.source)/"
            }
        }
    }
}

/// A regular expression checked when the config loads.
public struct CompiledPattern: @unchecked Sendable {
    public let source: String
    let expression: NSRegularExpression

    init(_ source: String, path: String) throws(ConfigError) {
        do { expression = try NSRegularExpression(pattern: source) } catch {
            throw ConfigError(path: path, "\"\(source)\" is not a valid regular expression")
        }
        self.source = source
    }

    func matches(_ value: String) -> Bool {
        expression.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}

/// The cosign verifier's settings: Ratify's legacy single `key`, or `trustPolicies`.
public struct CosignVerifierConfig: Sendable {
    public var name: String
    public var artifactTypes: [String]
    public var trustPolicies: [CosignTrustPolicy]
    /// Legacy mode (`key` without trustPolicies) reports signatures in Ratify's legacy shape.
    public var legacy: Bool
    /// Rekor log keys for `tLogVerify` (sigstore trusted_root.json, `trustedRoot` in config).
    public var trustedRoot: TrustedRoot? = nil
    /// Where `trustedRoot` came from: the verifier's file, RATIFY_COSIGN_TRUSTED_ROOT, or the
    /// embedded public-good root (what `ratify trust` reports).
    public var trustedRootSource: String? = nil

    static let knownKeys: Set<String> = ["name", "type", "artifactTypes", "key", "rekorURL", "trustPolicies", "nestedReferences", "source", "trustedRoot", "version", "address"]
    static let policyKeys: Set<String> = ["name", "version", "scopes", "keys", "keyless", "tLogVerify", "rekorURL", "annotations"]

    /// Parses `verifier.plugins[i]`; errors name the path of the bad value, unknown keys come
    /// back as warnings.
    /// The sigstore trusted root of trust policies whose verifier names no `trustedRoot`, from
    /// the environment (the deployment's choice, e.g. a private sigstore instance); unset, the
    /// embedded public-good root (PublicGoodTrustedRoot).
    public static let defaultTrustedRootVariable = "RATIFY_COSIGN_TRUSTED_ROOT"

    public static func parse(_ value: JSONValue, path: String,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> (CosignVerifierConfig, warnings: [String]) {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        var warnings = object.keys.filter { !knownKeys.contains($0) && $0 != "tLogVerify" }.map { "\(path).\($0) is not a known cosign setting and is ignored" }
        // Ratify's cosign plugin has no verifier-level tLogVerify (Go's decoder drops it): in the
        // legacy `key` form the log is consulted only through rekorURL, with trust policies the
        // setting belongs to each policy. Say what actually happens.
        if object["tLogVerify"] != nil {
            warnings.append(object["trustPolicies"] == nil
                ? "\(path).tLogVerify is ignored in the legacy key form, as Ratify ignores it: signatures are checked against the key only; to require the transparency log, use trustPolicies with tLogVerify: true and a trustedRoot"
                : "\(path).tLogVerify is ignored at the verifier level, as Ratify ignores it: set tLogVerify in each of trustPolicies")
        }
        let name = object["name"]?.stringValue ?? "cosign"
        let artifactTypes = try PluginSettings.artifactTypes(object["artifactTypes"], path: "\(path).artifactTypes")
            ?? [MediaType.cosignSignatureArtifact]
        if let policies = object["trustPolicies"], !policies.isNull {
            if object["key"] != nil {
                throw ConfigError(path: "\(path).key", "use either key (legacy) or trustPolicies, not both")
            }
            guard let list = policies.arrayValue, !list.isEmpty else {
                throw ConfigError(path: "\(path).trustPolicies", "must be a non-empty list")
            }
            var trustedRoot: TrustedRoot?
            var trustedRootSource: String?
            if let rootPath = object["trustedRoot"], !rootPath.isNull {
                guard let file = rootPath.stringValue else { throw ConfigError(path: "\(path).trustedRoot", "must be a path to a sigstore trusted_root.json") }
                do { trustedRoot = try TrustedRoot.load(path: file) } catch {
                    throw ConfigError(path: "\(path).trustedRoot", error.description)
                }
                trustedRootSource = file
            } else if let file = environment[defaultTrustedRootVariable], !file.isEmpty {
                do { trustedRoot = try TrustedRoot.load(path: file) } catch {
                    throw ConfigError(path: "\(path).trustedRoot", "(from \(defaultTrustedRootVariable)) \(error.description)")
                }
                trustedRootSource = "\(file) (\(defaultTrustedRootVariable))"
            }
            // Nothing configured: sigstore's public-good instance, as cosign and Ratify trust it
            // by default (embedded; keyless policies with their own rootCertificates excepted).
            // The default is read once, so one parse never mixes two refreshes' roots.
            let configuredRoot = trustedRoot, fallback = DefaultTrust.current
            if trustedRoot == nil {
                trustedRoot = fallback.root
                trustedRootSource = fallback.source
            }
            var parsed: [CosignTrustPolicy] = []
            for (index, policy) in list.enumerated() {
                let policyPath = "\(path).trustPolicies[\(index)]"
                let (trustPolicy, policyWarnings) = try parsePolicy(policy, path: policyPath, trustedRoot: configuredRoot, defaultRoot: fallback.root)
                warnings += policyWarnings
                parsed.append(trustPolicy)
            }
            try ScopeSet.validate(parsed.map { ($0.name, $0.scopes) }, path: "\(path).trustPolicies")
            var config = CosignVerifierConfig(name: name, artifactTypes: artifactTypes, trustPolicies: parsed, legacy: false)
            config.trustedRoot = trustedRoot
            config.trustedRootSource = trustedRootSource
            for (index, policy) in parsed.enumerated() where policy.tLogVerify && ((policy.keyless?.trust ?? config.trustedRoot)?.logs.isEmpty ?? true) {
                warnings.append("\(path).trustPolicies[\(index)] has tLogVerify true (the default) but no trustedRoot with Rekor keys is configured: its signatures cannot pass; set trustedRoot (or RATIFY_COSIGN_TRUSTED_ROOT), or tLogVerify: false for key-only trust")
            }
            return (config, warnings)
        }
        guard let keyPath = object["key"]?.stringValue else {
            throw ConfigError(path: path, "set key (a PEM public key file) or trustPolicies; keyless without trust policies is not supported")
        }
        let key = try loadKey(file: keyPath, path: "\(path).key")
        // Legacy mode verifies signatures against the key; the transparency log is consulted
        // when rekorURL is set (Ratify's legacy verifier), against the public-good log keys.
        var policy = CosignTrustPolicy(name: "legacy", scopes: ["*"], keys: [(keyPath, key)], tLogVerify: false)
        var config = CosignVerifierConfig(name: name, artifactTypes: artifactTypes, trustPolicies: [], legacy: true)
        if let url = object["rekorURL"], !url.isNull, url.stringValue != "" {
            policy.rekorURL = try rekorURL(url, path: "\(path).rekorURL")
            policy.tLogVerify = true
            // The log keys: the verifier's trustedRoot, else RATIFY_COSIGN_TRUSTED_ROOT, else public-good.
            if let file = object["trustedRoot"]?.stringValue ?? environment[defaultTrustedRootVariable].flatMap({ $0.isEmpty ? nil : $0 }) {
                do { config.trustedRoot = try TrustedRoot.load(path: file) } catch { throw ConfigError(path: "\(path).trustedRoot", error.description) }
                config.trustedRootSource = file
            } else {
                let fallback = DefaultTrust.current
                config.trustedRoot = fallback.root
                config.trustedRootSource = fallback.source
            }
        }
        config.trustPolicies = [policy]
        return (config, warnings)
    }

    static func parsePolicy(_ value: JSONValue, path: String, trustedRoot: TrustedRoot? = nil,
                            defaultRoot: TrustedRoot? = DefaultTrust.current.root) throws(ConfigError) -> (CosignTrustPolicy, [String]) {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        var warnings = object.keys.filter { !policyKeys.contains($0) }.map { "\(path).\($0) is not a known trust policy setting and is ignored" }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw ConfigError(path: "\(path).name", "must be a non-empty string") }
        guard let scopeValues = object["scopes"]?.arrayValue, !scopeValues.isEmpty else {
            throw ConfigError(path: "\(path).scopes", "must be a non-empty list of registry/repository patterns")
        }
        var scopes: [String] = []
        for (index, scope) in scopeValues.enumerated() {
            guard let text = scope.stringValue, !text.isEmpty else { throw ConfigError(path: "\(path).scopes[\(index)]", "must be a non-empty string") }
            scopes.append(text)
        }
        if object["keyless"] != nil && object["keys"] != nil {
            throw ConfigError(path: path, "keys and keyless are mutually exclusive")
        }
        var tLogVerify = true
        if let value = object["tLogVerify"], !value.isNull {
            guard let flag = value.boolValue else { throw ConfigError(path: "\(path).tLogVerify", "must be true or false") }
            tLogVerify = flag
        }
        var annotations: [String: String] = [:]
        if let value = object["annotations"], !value.isNull {
            guard let members = value.objectValue?.members, members.allSatisfy({ $0.value.stringValue != nil }) else {
                throw ConfigError(path: "\(path).annotations", "must be an object of string values")
            }
            for member in members { annotations[member.key] = member.value.stringValue! }
        }
        if let keylessValue = object["keyless"], !keylessValue.isNull {
            let (keyless, keylessWarnings) = try parseKeyless(keylessValue, path: "\(path).keyless", trustedRoot: trustedRoot, defaultRoot: defaultRoot)
            warnings += keylessWarnings
            var policy = CosignTrustPolicy(name: name, scopes: scopes, keys: [], tLogVerify: tLogVerify, keyless: keyless, annotations: annotations)
            if let url = object["rekorURL"], !url.isNull, url.stringValue != "" { policy.rekorURL = try rekorURL(url, path: "\(path).rekorURL") }
            return (policy, warnings)
        }
        guard let keyValues = object["keys"]?.arrayValue, !keyValues.isEmpty else {
            throw ConfigError(path: "\(path).keys", "must be a non-empty list of {file: …} or {provider: …}")
        }
        var keys: [(source: String, key: PublicKey)] = []
        var providerKeys: [ProviderKeyReference] = []
        for (index, entry) in keyValues.enumerated() {
            let keyPath = "\(path).keys[\(index)]"
            if let provider = entry["provider"] {
                guard let name = provider.stringValue, !name.isEmpty else { throw ConfigError(path: "\(keyPath).provider", "must be a key management provider name") }
                guard entry["file"] == nil else { throw ConfigError(path: keyPath, "set file or provider, not both") }
                providerKeys.append(ProviderKeyReference(provider: name, name: entry["name"]?.stringValue, version: entry["version"]?.stringValue))
                continue
            }
            guard let file = entry["file"]?.stringValue else { throw ConfigError(path: "\(keyPath).file", "must be a path to a PEM public key (or set provider)") }
            keys.append((file, try loadKey(file: file, path: "\(keyPath).file")))
        }
        var policy = CosignTrustPolicy(name: name, scopes: scopes, keys: keys, providerKeys: providerKeys, tLogVerify: tLogVerify, annotations: annotations)
        if let url = object["rekorURL"], !url.isNull, url.stringValue != "" { policy.rekorURL = try rekorURL(url, path: "\(path).rekorURL") }
        return (policy, warnings)
    }

    /// An http(s) URL of a Rekor instance.
    static func rekorURL(_ value: JSONValue, path: String) throws(ConfigError) -> String {
        guard let text = value.stringValue, let url = URL(string: text), ["https", "http"].contains(url.scheme ?? ""), url.host != nil else {
            throw ConfigError(path: path, "must be the http(s) URL of a Rekor instance, such as https://rekor.sigstore.dev")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    static let keylessKeys: Set<String> = ["certificateIdentity", "certificateIdentityRegExp", "certificateOIDCIssuer",
                                           "certificateOIDCIssuerRegExp", "ctLogVerify", "rootCertificates"]

    /// `keyless: {certificateIdentity | certificateIdentityRegExp, certificateOIDCIssuer |
    /// certificateOIDCIssuerRegExp, ctLogVerify, rootCertificates}` — exactly one of each pair,
    /// as cosign requires. Trust comes from the plugin's `trustedRoot` (Fulcio CAs, CT logs) and
    /// `rootCertificates` (a PEM bundle, for a private PKI); nothing is fetched from the network.
    static func parseKeyless(_ value: JSONValue, path: String, trustedRoot: TrustedRoot?, defaultRoot: TrustedRoot?) throws(ConfigError) -> (KeylessPolicy, [String]) {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        var warnings = object.keys.filter { !keylessKeys.contains($0) }.map { "\(path).\($0) is not a known keyless setting and is ignored" }
        func matcher(_ exact: String, _ regex: String) throws(ConfigError) -> KeylessPolicy.Matcher {
            let given = (object[exact]?.stringValue, object[regex]?.stringValue)
            switch given {
            case (let text?, nil) where !text.isEmpty: return .exact(text)
            case (nil, let pattern?) where !pattern.isEmpty: return .pattern(try CompiledPattern(pattern, path: "\(path).\(regex)"))
            case (_?, _?): throw ConfigError(path: path, "set \(exact) or \(regex), not both")
            default: throw ConfigError(path: path, "set \(exact) or \(regex) (a non-empty string)")
            }
        }
        let identity = try matcher("certificateIdentity", "certificateIdentityRegExp")
        let issuer = try matcher("certificateOIDCIssuer", "certificateOIDCIssuerRegExp")
        var ctLogVerify = true
        if let flag = object["ctLogVerify"], !flag.isNull {
            guard let bool = flag.boolValue else { throw ConfigError(path: "\(path).ctLogVerify", "must be true or false") }
            ctLogVerify = bool
        }
        // No trusted root configured: the public-good one — unless the policy brings its own PKI.
        var trust = trustedRoot ?? (object["rootCertificates"].map { $0.isNull } ?? true ? defaultRoot : nil) ?? TrustedRoot()
        if let file = object["rootCertificates"], !file.isNull {
            guard let text = file.stringValue else { throw ConfigError(path: "\(path).rootCertificates", "must be a path to a PEM bundle of CA certificates") }
            do { try trust.addPEM(file: text) } catch { throw ConfigError(path: "\(path).rootCertificates", error.description) }
        }
        guard !trust.roots.isEmpty else {
            throw ConfigError(path: path, "keyless verification needs Fulcio root certificates: set the plugin's trustedRoot (a sigstore trusted_root.json) or rootCertificates (PEM); nothing is fetched from the network")
        }
        if ctLogVerify && trust.ctLogs.isEmpty {
            warnings.append("\(path) has ctLogVerify true (the default) but the trusted root names no ctlogs: its signatures cannot pass; add ctlogs to trustedRoot, or set ctLogVerify: false")
        }
        return (KeylessPolicy(identity: identity, issuer: issuer, ctLogVerify: ctLogVerify, trust: trust), warnings)
    }

    static func loadKey(file: String, path: String) throws(ConfigError) -> PublicKey {
        guard let data = FileManager.default.contents(atPath: file) else { throw ConfigError(path: path, "cannot read \(file)") }
        do {
            return try PublicKey.pem(Array(data), source: file)
        } catch {
            throw ConfigError(path: path, error.description)
        }
    }
}

/// Trust policy scopes: `registry/repository` patterns, with at most one `*` and only at the end;
/// the global `*` at most once; no two scopes may both match some image (checked at load); the
/// most specific scope wins.
public enum ScopeSet {
    public static func validate(_ policies: [(name: String, scopes: [String])], path: String) throws(ConfigError) {
        var all: [(scope: String, policy: String)] = []
        for (index, policy) in policies.enumerated() {
            for scope in policy.scopes {
                let stars = scope.filter { $0 == "*" }.count
                guard stars == 0 || (stars == 1 && scope.hasSuffix("*")) else {
                    throw ConfigError(path: "\(path)[\(index)].scopes", "scope \"\(scope)\": a wildcard may appear once, at the end")
                }
                all.append((scope, policy.name))
            }
        }
        let globals = all.filter { $0.scope == "*" }
        guard globals.count <= 1 else {
            throw ConfigError(path: path, "the global scope \"*\" appears \(globals.count) times (in \(globals.map(\.policy).joined(separator: ", "))); it may appear once")
        }
        let specific = all.filter { $0.scope != "*" }
        for i in specific.indices {
            for j in specific.indices where j > i {
                if overlaps(specific[i].scope, specific[j].scope) {
                    throw ConfigError(path: path, "scope \"\(specific[i].scope)\" (policy \(specific[i].policy)) overlaps \"\(specific[j].scope)\" (policy \(specific[j].policy))")
                }
            }
        }
    }

    static func overlaps(_ a: String, _ b: String) -> Bool {
        func covers(_ pattern: String, _ other: String) -> Bool {
            if pattern.hasSuffix("*") {
                let prefix = pattern.dropLast()
                return other.hasPrefix(prefix) || (other.hasSuffix("*") && prefix.hasPrefix(other.dropLast()))
            }
            return other.hasSuffix("*") ? pattern.hasPrefix(other.dropLast()) : pattern == other
        }
        return covers(a, b) || covers(b, a)
    }

    /// The policy whose scope matches `name` (`registry/repository`) most specifically.
    public static func match<T>(_ name: String, in policies: [(scopes: [String], value: T)]) -> T? {
        match([name], in: policies)
    }

    /// The same over several spellings of one image: Ratify matches scopes against the
    /// reference as written (`registry/repository:tag`, `…@digest`), so scopes such as
    /// `registry.example.com/app:prod-*` select by tag.
    public static func match<T>(_ names: [String], in policies: [(scopes: [String], value: T)]) -> T? {
        var best: (length: Int, value: T)?
        for policy in policies {
            for scope in policy.scopes {
                for name in names {
                    let length: Int
                    if scope == "*" { length = 0 }
                    else if scope.hasSuffix("*") { guard name.hasPrefix(scope.dropLast()) else { continue }; length = scope.count }
                    else { guard name == scope else { continue }; length = Int.max }
                    if best == nil || length > best!.length { best = (length, policy.value) }
                }
            }
        }
        return best?.value
    }
}
