internal import CShims
import Foundation

/// An X.509 certificate held by OpenSSL (`X509*`), owned here and freed in `deinit`. What the
/// notation and keyless cosign verifiers need: names, validity, usages, key, and chain building.
public final class Certificate: @unchecked Sendable, CustomStringConvertible {
    /// For other modules of this package that hand the certificate to OpenSSL (TLS contexts).
    package let pointer: OpaquePointer

    /// The DER encoding, kept: equality, issuance caching and trust-store matching compare it
    /// on every verification.
    public let derBytes: [UInt8]

    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
        derBytes = i2dBytes { i2d_X509(pointer, &$0) } ?? []
    }
    deinit { X509_free(pointer) }

    /// Every certificate in a PEM bundle, in order.
    public static func pemChain(_ bytes: [UInt8], source: String) throws(CryptoError) -> [Certificate] {
        ERR_clear_error()
        var result: [Certificate] = []
        bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return }
            defer { BIO_free(bio) }
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { result.append(Certificate(owning: certificate)) }
        }
        ERR_clear_error()
        guard !result.isEmpty else { throw CryptoError(.invalidKey, "\(source) holds no PEM certificate") }
        return result
    }

    /// The certificates of a PKCS #12 file with an empty password (as Azure Key Vault exports
    /// certificate secrets): the one with the key first, then the others in file order. The
    /// private key is not kept.
    public static func pkcs12(_ der: [UInt8], source: String) throws(CryptoError) -> [Certificate] {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let p12: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PKCS12(nil, &cursor, buffer.count)
        }
        guard let p12 else { throw CryptoError(.invalidKey, "\(source) is not a PKCS #12 file") }
        defer { PKCS12_free(p12) }
        var key: OpaquePointer?, leaf: OpaquePointer?, others: OpaquePointer?
        // An empty password: PKCS12_parse tries both the empty and the absent one (the MAC and
        // the PBE of Key Vault's exports use the empty one).
        guard PKCS12_parse(p12, "", &key, &leaf, &others) == 1 else {
            throw CryptoError(.invalidKey, "\(source): the PKCS #12 file does not open with an empty password (MAC or decryption failed)")
        }
        if let key { EVP_PKEY_free(key) }
        var result: [Certificate] = []
        if let leaf { result.append(Certificate(owning: leaf)) }
        if let others {
            // The stack owns its certificates: each one taken is handed over, then the stack freed.
            for index in 0..<OPENSSL_sk_num(others) {
                if let certificate = OPENSSL_sk_value(others, index) { result.append(Certificate(owning: OpaquePointer(certificate))) }
            }
            OPENSSL_sk_free(others)
        }
        guard !result.isEmpty else { throw CryptoError(.invalidKey, "\(source): the PKCS #12 file holds no certificate") }
        return result
    }

    /// One DER certificate (as `x5c` entries carry them). Parsed certificates are shared by
    /// content: signatures from one signer repeat the same chain, and OpenSSL 3's `d2i_X509`
    /// costs ~0.2 ms per certificate.
    public static func der(_ bytes: [UInt8], source: String) throws(CryptoError) -> Certificate {
        let key = Hash.digest(.sha256, bytes)
        if let cached = parsedCertificates.get(key) { return cached }
        ERR_clear_error()
        let certificate: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            // The whole input must be the certificate: trailing bytes are refused.
            guard let parsed = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress! + buffer.count else {
                X509_free(parsed)
                return nil
            }
            return parsed
        }
        ERR_clear_error()
        guard let certificate else { throw CryptoError(.invalidKey, "\(source) is not a DER certificate") }
        let parsed = Certificate(owning: certificate)
        parsedCertificates.put(key, parsed)
        return parsed
    }

    /// One or more DER certificates back to back (Go's `x509.ParseCertificates`).
    public static func derSequence(_ bytes: [UInt8], source: String) throws(CryptoError) -> [Certificate] {
        var result: [Certificate] = []
        var offset = 0
        while offset < bytes.count {
            let consumed: Int? = bytes.withUnsafeBufferPointer { buffer in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress! + offset
                guard let parsed = d2i_X509(nil, &cursor, buffer.count - offset) else { return nil }
                X509_free(parsed)
                return cursor! - (buffer.baseAddress! + offset)
            }
            ERR_clear_error()
            guard let consumed, consumed > 0 else { throw CryptoError(.invalidKey, "\(source) is not a sequence of DER certificates") }
            result.append(try der(Array(bytes[offset..<offset + consumed]), source: source))
            offset += consumed
        }
        guard !result.isEmpty else { throw CryptoError(.invalidKey, "\(source) holds no certificate") }
        return result
    }

    /// RFC 4514 rendering, most significant RDN first as notation prints it reversed —
    /// e.g. `C=US, ST=WA, O=acme, CN=builder`.
    public var subject: String { Self.render(X509_get_subject_name(pointer)) }
    public var issuer: String { Self.render(X509_get_issuer_name(pointer)) }
    public var description: String { subject }

    public var notBefore: Date { Self.date(X509_get0_notBefore(pointer)) }
    public var notAfter: Date { Self.date(X509_get0_notAfter(pointer)) }

    /// OpenSSL's notion of a CA (`X509_check_ca`): basicConstraints cA, or a v1 self-signed
    /// certificate, or keyCertSign alone. The Notary Project rules use `hasCABasicConstraint`.
    public var isCA: Bool { X509_check_ca(pointer) != 0 }

    /// The certificate's key, shared with OpenSSL's copy (no re-encoding: the DER round trip
    /// through OpenSSL 3's decoders cost ~0.3 ms per certificate).
    public func publicKey() throws(CryptoError) -> PublicKey {
        guard let key = X509_get0_pubkey(pointer) else { throw CryptoError(.invalidKey, "certificate \(subject) has no public key") }
        EVP_PKEY_up_ref(key)
        return try PublicKey.checked(key, source: "certificate \(subject)")
    }


    static func render(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        var parts: [String] = []
        for (_, object, data) in entries(of: name) {
            let nid = OBJ_obj2nid(object)
            let short = nid == NID_undef ? "OID" : String(cString: OBJ_nid2sn(nid))
            guard let value = utf8(data) else { continue }
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ",", with: "\\,")
                .replacingOccurrences(of: ";", with: "\\;")
            parts.append("\(short)=\(escaped)")
        }
        return parts.joined(separator: ", ")
    }

    /// A name's entries in certificate order: the entry (for its RDN set), its type and value.
    static func entries(of name: OpaquePointer) -> [(entry: OpaquePointer, object: OpaquePointer, data: UnsafeMutablePointer<ASN1_STRING>)] {
        (0..<X509_NAME_entry_count(name)).compactMap { index in
            guard let entry = X509_NAME_get_entry(name, index), let object = X509_NAME_ENTRY_get_object(entry),
                  let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
            return (entry, object, data)
        }
    }

    /// An ASN.1 string's value converted to UTF-8 by OpenSSL (whatever its string type).
    static func utf8(_ data: UnsafeMutablePointer<ASN1_STRING>) -> String? {
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { Shim_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return .distantPast }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}

/// Why a chain did not verify: OpenSSL's verification error, with its stable number.
public struct ChainError: Error, Equatable, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public var description: String { "CERTIFICATE_CHAIN_INVALID: \(message) (X509_V_ERR \(code))" }
}

public enum CertificateChain {
    /// Verifies that `leaf` chains through `intermediates` to one of `roots` (each an anchor,
    /// self-signed or not), with every certificate valid at `time` (RFC 5280 path validation,
    /// by OpenSSL).
    public static func verify(leaf: Certificate, intermediates: [Certificate], roots: [Certificate], at time: Date) -> Result<Void, ChainError> {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let store = X509_STORE_new(), let context = X509_STORE_CTX_new(), let untrusted = OPENSSL_sk_new_null() else {
            return .failure(ChainError(code: -1, message: "out of memory"))
        }
        defer {
            X509_STORE_CTX_free(context)
            X509_STORE_free(store)
            OPENSSL_sk_free(untrusted)
        }
        for root in roots { X509_STORE_add_cert(store, root.pointer) }
        for certificate in intermediates { OPENSSL_sk_push(untrusted, UnsafeRawPointer(certificate.pointer)) }
        guard X509_STORE_CTX_init(context, store, leaf.pointer, untrusted) == 1 else {
            return .failure(ChainError(code: -1, message: "cannot initialise chain verification"))
        }
        X509_STORE_CTX_set_time(context, 0, time_t(time.timeIntervalSince1970))
        // Every certificate in `roots` is a trust anchor, self-signed or not (Go's x509 root
        // pools, which cosign and sigstore-go verify with, work this way).
        X509_STORE_CTX_set_flags(context, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        if X509_verify_cert(context) == 1 { return .success(()) }
        let code = X509_STORE_CTX_get_error(context)
        return .failure(ChainError(code: code, message: String(cString: X509_verify_cert_error_string(Int(code)))))
    }
}
