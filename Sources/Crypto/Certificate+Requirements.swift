internal import CShims
import Foundation

/// The facts the Notary Project's certificate requirements are written in
/// (signature-specification.md, "Certificate Requirements"), read from OpenSSL.
extension Certificate: Equatable {
    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { lhs.derBytes == rhs.derBytes }

    /// Whether the extension is present, and whether it is marked critical.
    func extensionCriticality(_ nid: Int32) -> (present: Bool, critical: Bool) {
        let index = X509_get_ext_by_NID(pointer, nid, -1)
        guard index >= 0, let ext = X509_get_ext(pointer, index) else { return (false, false) }
        return (true, X509_EXTENSION_get_critical(ext) == 1)
    }

    public var basicConstraints: (present: Bool, critical: Bool) { extensionCriticality(NID_basic_constraints) }
    public var keyUsageExtension: (present: Bool, critical: Bool) { extensionCriticality(NID_key_usage) }

    /// basicConstraints pathLenConstraint; nil when absent.
    public var pathLength: Int? {
        let length = X509_get_pathlen(pointer)
        return length < 0 ? nil : Int(length)
    }

    /// Subject and issuer names are equal (compared in canonical form, as certificate path
    /// building does).
    public var isSelfIssued: Bool { X509_NAME_cmp(X509_get_subject_name(pointer), X509_get_issuer_name(pointer)) == 0 }

    /// Self-issued and signed by its own key — nothing about its usages (notation-core-go
    /// accepts a lone self-signed signing certificate that is no CA: `CheckSignature`, then
    /// `RawSubject == RawIssuer`).
    public var isSelfSigned: Bool { isSelfIssued && isIssued(by: self) }

    /// True when this certificate names `issuer` as its issuer and `issuer`'s key verifies its
    /// signature. Whether `issuer` may act as a CA is the caller's rule to apply (notation's
    /// CA requirements, or OpenSSL path validation for Fulcio chains). Verified pairs are
    /// remembered: every signature from one CA repeats the same intermediate and root checks
    /// (a P-384 root verifying itself costs ~0.9 ms).
    public func isIssued(by issuer: Certificate) -> Bool {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard X509_NAME_cmp(X509_get_subject_name(issuer.pointer), X509_get_issuer_name(pointer)) == 0,
              let key = X509_get0_pubkey(issuer.pointer) else { return false }
        let pair = Hash.digest(.sha256, derBytes + issuer.derBytes)
        if verifiedIssuance.get(pair) != nil { return true }
        guard X509_verify(pointer, key) == 1 else { return false }
        verifiedIssuance.put(pair, ())
        return true
    }

    /// SHA-1 based certificate signatures ("MUST NOT use SHA1WithRSA and ECDSAWithSHA1").
    public var isSignedWithSHA1: Bool {
        let nid = X509_get_signature_nid(pointer)
        return nid == NID_sha1WithRSAEncryption || nid == NID_ecdsa_with_SHA1 || nid == NID_sha1WithRSA || nid == NID_dsaWithSHA1
    }

    public func isValid(at time: Date) -> Bool { notBefore <= time && time <= notAfter }

    /// Hex serial number, as revocation messages print it.
    public var serialNumber: String {
        guard let serial = X509_get0_serialNumber(pointer), let number = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { Shim_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// The subject as Go's `pkix.Name.String()` prints it (RFC 2253 order: most specific first,
    /// `,` between RDNs, `+` inside a multi-valued RDN), which is what Ratify's notation report
    /// puts in `extensions.SN` and what users copy into constraints — e.g.
    /// `CN=builder,O=acme,ST=WA,C=US`.
    public var subjectRFC2253: String { Self.renderRFC2253(X509_get_subject_name(pointer)) }
    public var issuerRFC2253: String { Self.renderRFC2253(X509_get_issuer_name(pointer)) }

    /// Attribute types Go names; everything else is printed as a dotted OID with the value's
    /// DER in hex, as Go does.
    private static let goAttributeNames: [Int32: String] = [
        NID_countryName: "C", NID_stateOrProvinceName: "ST", NID_localityName: "L", NID_organizationName: "O",
        NID_organizationalUnitName: "OU", NID_commonName: "CN", NID_serialNumber: "SERIALNUMBER",
        NID_streetAddress: "STREET", NID_postalCode: "POSTALCODE",
    ]

    static func renderRFC2253(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        var sets: [(set: Int32, text: String)] = []
        for (entry, object, data) in entries(of: name) {
            let text: String
            if let short = goAttributeNames[OBJ_obj2nid(object)] {
                guard let value = utf8(data) else { continue }
                text = "\(short)=\(escapeRFC2253(value))"
            } else {
                guard let der = i2dBytes({ i2d_ASN1_TYPE_string(data, &$0) }) else { continue }
                text = "\(dotted(object))=#\(Hash.hexString(der))"
            }
            sets.append((X509_NAME_ENTRY_set(entry), text))
        }
        var groups: [(set: Int32, parts: [String])] = []
        for (set, text) in sets {
            if let last = groups.last, last.set == set { groups[groups.count - 1].parts.append(text) } else { groups.append((set, [text])) }
        }
        return groups.reversed().map { $0.parts.joined(separator: "+") }.joined(separator: ",")
    }

    /// RFC 2253 §2.4 escaping, as Go applies it.
    static func escapeRFC2253(_ value: String) -> String {
        var out = ""
        let characters = Array(value)
        for (index, character) in characters.enumerated() {
            let special = ",+\"\\<>;".contains(character)
                || (index == 0 && (character == " " || character == "#"))
                || (index == characters.count - 1 && character == " ")
            if special { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// `i2d` of the attribute value as an ASN.1 string (Go prints unknown attributes this way).
    private static func i2d_ASN1_TYPE_string(_ string: UnsafeMutablePointer<ASN1_STRING>, _ out: inout UnsafeMutablePointer<UInt8>?) -> Int32 {
        guard let type = ASN1_TYPE_new() else { return 0 }
        defer { ASN1_TYPE_free(type) }
        guard let copy = ASN1_STRING_dup(string) else { return 0 }
        ASN1_TYPE_set(type, ASN1_STRING_type(string), UnsafeMutableRawPointer(copy))
        return i2d_ASN1_TYPE(type, &out)
    }
}
