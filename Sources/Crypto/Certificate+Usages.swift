internal import CShims

/// RFC 5280 §4.2.1.3 key usage bits, as a value of our own: modules above Crypto never see
/// OpenSSL's `KU_*` masks.
public struct KeyUsage: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let digitalSignature = KeyUsage(rawValue: 1 << 0)
    public static let nonRepudiation = KeyUsage(rawValue: 1 << 1)
    public static let keyEncipherment = KeyUsage(rawValue: 1 << 2)
    public static let dataEncipherment = KeyUsage(rawValue: 1 << 3)
    public static let keyAgreement = KeyUsage(rawValue: 1 << 4)
    public static let keyCertSign = KeyUsage(rawValue: 1 << 5)
    public static let cRLSign = KeyUsage(rawValue: 1 << 6)
    public static let encipherOnly = KeyUsage(rawValue: 1 << 7)
    public static let decipherOnly = KeyUsage(rawValue: 1 << 8)

    static let names: [(KeyUsage, String, UInt32)] = [
        (.digitalSignature, "digitalSignature", UInt32(KU_DIGITAL_SIGNATURE)), (.nonRepudiation, "nonRepudiation", UInt32(KU_NON_REPUDIATION)),
        (.keyEncipherment, "keyEncipherment", UInt32(KU_KEY_ENCIPHERMENT)), (.dataEncipherment, "dataEncipherment", UInt32(KU_DATA_ENCIPHERMENT)),
        (.keyAgreement, "keyAgreement", UInt32(KU_KEY_AGREEMENT)), (.keyCertSign, "keyCertSign", UInt32(KU_KEY_CERT_SIGN)),
        (.cRLSign, "cRLSign", UInt32(KU_CRL_SIGN)), (.encipherOnly, "encipherOnly", UInt32(KU_ENCIPHER_ONLY)),
        (.decipherOnly, "decipherOnly", UInt32(KU_DECIPHER_ONLY)),
    ]

    init(openSSL bits: UInt32) {
        self = KeyUsage(Self.names.filter { bits & $0.2 != 0 }.map(\.0))
    }

    /// The usages' RFC 5280 names, in bit order.
    public var labels: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
    public var description: String { labels.joined(separator: ", ") }
}

/// RFC 5280 §4.2.1.12 extended key usages OpenSSL recognises; any other OID is `unknown`.
public struct ExtendedKeyUsage: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let serverAuth = ExtendedKeyUsage(rawValue: 1 << 0)
    public static let clientAuth = ExtendedKeyUsage(rawValue: 1 << 1)
    public static let emailProtection = ExtendedKeyUsage(rawValue: 1 << 2)
    public static let codeSigning = ExtendedKeyUsage(rawValue: 1 << 3)
    public static let ocspSigning = ExtendedKeyUsage(rawValue: 1 << 4)
    public static let timeStamping = ExtendedKeyUsage(rawValue: 1 << 5)
    public static let any = ExtendedKeyUsage(rawValue: 1 << 6)

    static let names: [(ExtendedKeyUsage, String, UInt32)] = [
        (.serverAuth, "serverAuth", UInt32(XKU_SSL_SERVER)), (.clientAuth, "clientAuth", UInt32(XKU_SSL_CLIENT)),
        (.emailProtection, "emailProtection", UInt32(XKU_SMIME)), (.codeSigning, "codeSigning", UInt32(XKU_CODE_SIGN)),
        (.ocspSigning, "OCSPSigning", UInt32(XKU_OCSP_SIGN)), (.timeStamping, "timeStamping", UInt32(XKU_TIMESTAMP)),
        (.any, "anyExtendedKeyUsage", UInt32(XKU_ANYEKU)),
    ]

    init(openSSL bits: UInt32) {
        self = ExtendedKeyUsage(Self.names.filter { bits & $0.2 != 0 }.map(\.0))
    }

    public var labels: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
    public var description: String { labels.joined(separator: ", ") }
}

extension Certificate {
    /// The keyUsage extension's bits; nil when the extension is absent.
    public var keyUsage: KeyUsage? {
        let usage = X509_get_key_usage(pointer)
        return usage == UInt32.max ? nil : KeyUsage(openSSL: usage)
    }

    /// The extendedKeyUsage extension: the usages OpenSSL knows, and how many OIDs it lists in
    /// all (Go keeps unknown ones in `UnknownExtKeyUsage`; RFC 3161 §2.3 wants exactly one).
    /// nil when the extension is absent.
    public var extendedKeyUsage: (known: ExtendedKeyUsage, count: Int)? {
        let usage = X509_get_extended_key_usage(pointer)
        guard usage != UInt32.max else { return nil }
        var critical: Int32 = 0
        let count: Int
        if let list = X509_get_ext_d2i(pointer, NID_ext_key_usage, &critical, nil) {
            count = Int(OPENSSL_sk_num(OpaquePointer(list)))
            EXTENDED_KEY_USAGE_free(OpaquePointer(list))
        } else {
            count = 0
        }
        return (ExtendedKeyUsage(openSSL: usage), count)
    }

    public var extendedKeyUsageExtension: (present: Bool, critical: Bool) { extensionCriticality(NID_ext_key_usage) }

    /// keyUsage digitalSignature; true when the extension is absent (RFC 5280: no restriction).
    public var allowsDigitalSignature: Bool { keyUsage?.contains(.digitalSignature) ?? true }

    /// codeSigning among the extended key usages; true when the extension is absent.
    public var allowsCodeSigning: Bool { extendedKeyUsage.map { $0.known.contains(.codeSigning) } ?? true }

    /// basicConstraints with cA TRUE (Go's `BasicConstraintsValid && IsCA`). Unlike
    /// `X509_check_ca`, a v1 certificate or a keyCertSign usage alone does not make a CA.
    public var hasCABasicConstraint: Bool {
        basicConstraints.present && X509_get_extension_flags(pointer) & UInt32(EXFLAG_CA) != 0
    }

    /// The certificate's version field as RFC 5280 numbers it (1, 2 or 3).
    public var version: Int { Int(X509_get_version(pointer)) + 1 }
}
