import Crypto

/// A public key a key management provider serves, with the name and version trust policies
/// select it by (Ratify's cosign `keys: [{provider, name, version}]`).
public struct ManagedKey: Sendable {
    public let name: String
    public let version: String?
    public let key: PublicKey

    public init(name: String, version: String?, key: PublicKey) {
        self.name = name
        self.version = version
        self.key = key
    }
}

/// The certificates and keys of Ratify's KeyManagementProvider resources (inline, and later
/// others), looked up by provider name when a signature is verified — so a provider applied
/// after the verifier still counts, and one that is missing fails verification with its name.
/// Nil means the provider is unknown or has not fetched its material yet.
public protocol KeyManagementProviders: Sendable {
    func certificates(provider: String) -> [Certificate]?
    func keys(provider: String) -> [ManagedKey]?
    /// Changes whenever the material changes (shared-cache keys name the configuration by it).
    var fingerprint: String { get }
}

extension KeyManagementProviders {
    public var fingerprint: String { "" }
}
