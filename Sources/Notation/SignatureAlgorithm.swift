import Crypto

/// The signature algorithms the Notary Project allows (signature-specification.md, "Signature
/// Algorithm Requirements"), with their JWS names and COSE labels.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"

    /// COSE algorithm labels (IANA "COSE Algorithms").
    public init?(coseLabel: Int) {
        switch coseLabel {
        case -37: self = .ps256
        case -38: self = .ps384
        case -39: self = .ps512
        case -7: self = .es256
        case -35: self = .es384
        case -36: self = .es512
        default: return nil
        }
    }

    public var hash: HashAlgorithm {
        switch self {
        case .ps256, .es256: .sha256
        case .ps384, .es384: .sha384
        case .ps512, .es512: .sha512
        }
    }

    /// Both envelopes carry ECDSA as raw `r || s` (RFC 7518 §3.4, RFC 9053 §2.1) and RSA as
    /// RSASSA-PSS. COSE's salt is the hash length (RFC 8230 §2; go-cose checks it); for JWS
    /// notation-core-go verifies through golang-jwt, which accepts any salt length
    /// (`PSSSaltLengthAuto`) — so signatures from signers that use the maximum salt verify.
    public func scheme(for format: SignatureEnvelope.Format) -> PublicKey.Scheme {
        switch self {
        case .ps256, .ps384, .ps512: format == .jws ? .rsaPSSAnySalt(hash) : .rsaPSS(hash)
        case .es256, .es384, .es512: .ecdsaRaw(hash)
        }
    }

    /// "The signing certificate's public key algorithm and size MUST be used to determine the
    /// signature algorithm" (Algorithm Selection): RSA 2048/3072/4096 → PS256/384/512, EC
    /// P-256/384/521 → ES256/384/512. Nil for any other key.
    public static func required(for key: PublicKey.Kind) -> SignatureAlgorithm? {
        switch key {
        case .rsa(2048): .ps256
        case .rsa(3072): .ps384
        case .rsa(4096): .ps512
        case .ecdsa("prime256v1"), .ecdsa("secp256r1"): .es256
        case .ecdsa("secp384r1"): .es384
        case .ecdsa("secp521r1"): .es512
        default: nil
        }
    }
}
