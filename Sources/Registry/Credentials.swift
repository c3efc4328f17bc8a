import Foundation
import JSON

/// Credentials for one registry. `description` never shows the secret.
public struct RegistryCredential: Equatable, Sendable, CustomStringConvertible {
    public var username: String
    public var password: String
    /// An OAuth2 refresh token (`identitytoken` in docker's config.json).
    public var identityToken: String?

    public init(username: String, password: String, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }

    public var description: String { "credential(user: \(username), secret: <redacted>)" }
}

/// Where a registry's credentials come from. Nil: none for this registry (anonymous access). A
/// provider that should have one and cannot get it throws, with its reason — never nil, which
/// would quietly turn into an anonymous request and a less helpful 401.
public protocol CredentialProvider: Sendable {
    func credential(for registry: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> RegistryCredential?
    /// The registry refused what `credential(for:)` gave (401 after authenticating): a provider
    /// that caches short-lived credentials drops them, so the next request gets fresh ones.
    func rejected(registry: String) async
}

extension CredentialProvider {
    public func rejected(registry: String) async {}
}

public struct AnonymousCredentials: CredentialProvider {
    public init() {}
    public func credential(for registry: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> RegistryCredential? { nil }
}

/// Credentials from docker's `config.json` (`{"auths":{"host":{"auth":"base64(user:pass)"}}}`),
/// which is also the content of a Kubernetes `kubernetes.io/dockerconfigjson` secret's
/// `.dockerconfigjson` key; the legacy `.dockercfg` form (the `auths` map alone) is accepted too.
public struct DockerConfigCredentials: CredentialProvider {
    public let entries: [String: RegistryCredential]

    public init(entries: [String: RegistryCredential]) { self.entries = entries }

    public static func load(path: String) throws(RegistryError) -> DockerConfigCredentials {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistryError(.invalidConfiguration, "cannot read docker config \(path)")
        }
        return try parse(Array(data), source: path)
    }

    public static func parse(_ bytes: [UInt8], source: String) throws(RegistryError) -> DockerConfigCredentials {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch {
            throw RegistryError(.invalidConfiguration, "\(source) is not valid JSON: \(error)")
        }
        guard let root = document.objectValue else {
            throw RegistryError(.invalidConfiguration, "\(source) must be a JSON object")
        }
        let auths = root["auths"]?.objectValue ?? (root["auths"] == nil ? root : JSONObject())
        var entries: [String: RegistryCredential] = [:]
        for member in auths.members {
            guard let entry = member.value.objectValue else {
                throw RegistryError(.invalidConfiguration, "\(source): auths.\(member.key) must be an object")
            }
            var username = entry["username"]?.stringValue ?? ""
            var password = entry["password"]?.stringValue ?? ""
            if let auth = entry["auth"]?.stringValue, !auth.isEmpty {
                guard let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }),
                      let colon = decoded.firstIndex(of: ":") else {
                    throw RegistryError(.invalidConfiguration, "\(source): auths.\(member.key).auth is not base64 of user:password")
                }
                username = String(decoded[..<colon])
                password = String(decoded[decoded.index(after: colon)...])
            }
            let token = entry["identitytoken"]?.stringValue
            guard !username.isEmpty || token != nil else { continue }
            entries[normalize(member.key)] = RegistryCredential(username: username, password: password, identityToken: token)
        }
        return DockerConfigCredentials(entries: entries)
    }

    /// "https://index.docker.io/v1/" → "docker.io"; "https://ghcr.io" → "ghcr.io".
    public static func normalize(_ key: String) -> String {
        var host = key
        if let range = host.range(of: "://") { host = String(host[range.upperBound...]) }
        if let slash = host.firstIndex(of: "/") { host = String(host[..<slash]) }
        switch host {
        case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com": return "docker.io"
        default: return host.lowercased()
        }
    }

    public func credential(for registry: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> RegistryCredential? {
        entries[Self.normalize(registry)]
    }
}
