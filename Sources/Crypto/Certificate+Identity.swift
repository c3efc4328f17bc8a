internal import CShims
import Foundation

/// What keyless signing reads from a certificate: subject alternative names, private
/// extensions by OID, and embedded certificate-transparency timestamps (RFC 6962).
extension Certificate {
    public enum AlternativeName: Equatable, Sendable {
        case email(String)
        case uri(String)
        case dns(String)
        /// An IP address as Go's `net.IP.String()` prints it (sigstore's
        /// `GetSubjectAlternateNames` includes them).
        case ip(String)
        /// `otherName` with a UTF8String value (Fulcio puts usernames under 1.3.6.1.4.1.57264.1.7).
        case other(oid: String, value: String)

        public var value: String {
            switch self {
            case .email(let text), .uri(let text), .dns(let text), .ip(let text), .other(_, let text): text
            }
        }
    }

    public var alternativeNames: [AlternativeName] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [AlternativeName] = []
        for index in 0..<OPENSSL_sk_num(names) {
            guard let name = OPENSSL_sk_value(names, index)?.assumingMemoryBound(to: GENERAL_NAME.self) else { continue }
            func text(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String? {
                guard let string else { return nil }
                return String(decoding: UnsafeBufferPointer(start: ASN1_STRING_get0_data(string), count: Int(ASN1_STRING_length(string))), as: UTF8.self)
            }
            switch name.pointee.type {
            case GEN_EMAIL: text(name.pointee.d.rfc822Name).map { result.append(.email($0)) }
            case GEN_URI: text(name.pointee.d.uniformResourceIdentifier).map { result.append(.uri($0)) }
            case GEN_DNS: text(name.pointee.d.dNSName).map { result.append(.dns($0)) }
            case GEN_IPADD:
                guard let address = name.pointee.d.iPAddress else { continue }
                let bytes = Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(address), count: Int(ASN1_STRING_length(address))))
                if let printed = Self.ipString(bytes) { result.append(.ip(printed)) }
            case GEN_OTHERNAME:
                guard let other = name.pointee.d.otherName, let value = other.pointee.value,
                      value.pointee.type == V_ASN1_UTF8STRING, let string = value.pointee.value.utf8string else { continue }
                result.append(.other(oid: Self.dotted(other.pointee.type_id), value: text(string) ?? ""))
            default: continue
            }
        }
        return result
    }

    /// inet_ntop's form: dotted IPv4, RFC 5952 IPv6 — what Go prints.
    static func ipString(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: 64)
        let done = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        return done == nil ? nil : String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The content octets of the extension with this dotted OID, or nil when absent.
    public func extensionValue(oid: String) -> [UInt8]? {
        guard let object = OBJ_txt2obj(oid, 1) else { return nil }
        defer { ASN1_OBJECT_free(object) }
        let index = X509_get_ext_by_OBJ(pointer, object, -1)
        guard index >= 0, let ext = X509_get_ext(pointer, index), let data = X509_EXTENSION_get_data(ext) else { return nil }
        return Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(data), count: Int(ASN1_STRING_length(data))))
    }

    static func dotted(_ object: OpaquePointer?) -> String {
        guard let object else { return "" }
        var buffer = [CChar](repeating: 0, count: 128)
        OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        return cString(buffer)
    }

    /// The SubjectPublicKeyInfo in DER (what RFC 6962's issuer_key_hash and log IDs hash).
    public var publicKeyInfoDER: [UInt8] {
        guard let key = X509_get_X509_PUBKEY(pointer) else { return [] }
        return i2dBytes { i2d_X509_PUBKEY(key, &$0) } ?? []
    }
}

/// One embedded signed certificate timestamp (RFC 6962 §3.2) and what it signs.
public struct SignedCertificateTimestamp: Sendable {
    public let logID: [UInt8]
    public let timestamp: UInt64
    public let extensions: [UInt8]
    public let signature: [UInt8]
    public let hashNID: Int32

    /// The SCTs embedded in `certificate` (extension 1.3.6.1.4.1.11129.2.4.2).
    public static func embedded(in certificate: Certificate) -> [SignedCertificateTimestamp] {
        guard let raw = X509_get_ext_d2i(certificate.pointer, NID_ct_precert_scts, nil, nil) else { return [] }
        let list = OpaquePointer(raw)
        defer { SCT_LIST_free(list) }
        var result: [SignedCertificateTimestamp] = []
        for index in 0..<OPENSSL_sk_num(list) {
            guard let sct = OPENSSL_sk_value(list, index).map({ OpaquePointer($0) }), SCT_get_version(sct) == SCT_VERSION_V1 else { continue }
            func bytes(_ read: (OpaquePointer, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int) -> [UInt8] {
                var pointer: UnsafeMutablePointer<UInt8>?
                let length = read(sct, &pointer)
                guard length > 0, let pointer else { return [] }
                return Array(UnsafeBufferPointer(start: pointer, count: length))
            }
            result.append(SignedCertificateTimestamp(
                logID: bytes { SCT_get0_log_id($0, $1) }, timestamp: SCT_get_timestamp(sct),
                extensions: bytes { SCT_get0_extensions($0, $1) }, signature: bytes { SCT_get0_signature($0, $1) },
                hashNID: SCT_get_signature_nid(sct)))
        }
        return result
    }

    /// RFC 6962 §3.2: the log signed `digitally-signed struct { version v1, certificate_timestamp,
    /// timestamp, precert_entry, issuer_key_hash, TBSCertificate without the SCT extension,
    /// extensions }`. Verifies that signature with `logKey`.
    public func verify(certificate: Certificate, issuer: Certificate, logKey: PublicKey) -> Bool {
        guard let tbs = Self.precertificateTBS(certificate) else { return false }
        var signed: [UInt8] = [0, 0]  // v1, certificate_timestamp
        signed += (0..<8).map { UInt8(truncatingIfNeeded: timestamp >> (8 * (7 - $0))) }
        signed += [0, 1]  // precert_entry
        signed += Hash.digest(.sha256, issuer.publicKeyInfoDER)
        signed += [UInt8(truncatingIfNeeded: tbs.count >> 16), UInt8(truncatingIfNeeded: tbs.count >> 8), UInt8(truncatingIfNeeded: tbs.count)]
        signed += tbs
        signed += [UInt8(truncatingIfNeeded: extensions.count >> 8), UInt8(truncatingIfNeeded: extensions.count)]
        signed += extensions
        return logKey.verify(signature: signature, message: signed, hash: .sha256)
    }

    /// The certificate's TBSCertificate re-encoded without the SCT list extension, which is what
    /// the log saw in the precertificate.
    static func precertificateTBS(_ certificate: Certificate) -> [UInt8]? {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let copy = X509_dup(certificate.pointer) else { return nil }
        defer { X509_free(copy) }
        let index = X509_get_ext_by_NID(copy, NID_ct_precert_scts, -1)
        guard index >= 0, let removed = X509_delete_ext(copy, index) else { return nil }
        X509_EXTENSION_free(removed)
        return i2dBytes { i2d_re_X509_tbs(copy, &$0) }
    }
}

extension Certificate {
    /// The subject's attributes in certificate order: OpenSSL's short name (`C`, `ST`, `O`, `CN`,
    /// or the dotted OID), the value as UTF-8, and the index of the RDN set it belongs to (equal
    /// indexes: one multi-valued RDN).
    public var subjectAttributes: [(type: String, value: String, set: Int)] {
        Self.entries(of: X509_get_subject_name(pointer)).compactMap { entry, object, data in
            let nid = OBJ_obj2nid(object)
            let type = nid == NID_undef ? Self.dotted(object) : String(cString: OBJ_nid2sn(nid))
            guard let value = Self.utf8(data) else { return nil }
            return (type, value, Int(X509_NAME_ENTRY_set(entry)))
        }
    }
}
