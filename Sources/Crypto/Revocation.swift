internal import CShims
import Foundation

/// What an OCSP response or a CRL says about one certificate.
public enum RevocationStatus: Equatable, Sendable {
    case good
    case revoked(at: Date?)
    /// The source could not vouch either way (responder said "unknown", stale or unverifiable
    /// data); the reason says which.
    case unknown(String)
}

extension Certificate {
    /// OCSP responder URLs from the Authority Information Access extension.
    public var ocspURLs: [String] {
        guard let list = X509_get1_ocsp(pointer) else { return [] }
        defer { X509_email_free(list) }
        return (0..<OPENSSL_sk_num(list)).compactMap { index in
            OPENSSL_sk_value(list, index).map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
        }
    }

    /// CRL distribution point URIs (full names of type URI).
    public var crlURLs: [String] {
        guard let points = X509_get_ext_d2i(pointer, NID_crl_distribution_points, nil, nil) else { return [] }
        let stack = OpaquePointer(points)
        defer { CRL_DIST_POINTS_free(stack) }
        var urls: [String] = []
        for index in 0..<OPENSSL_sk_num(stack) {
            guard let point = OPENSSL_sk_value(stack, index)?.assumingMemoryBound(to: DIST_POINT.self),
                  let name = point.pointee.distpoint, name.pointee.type == 0, let names = name.pointee.name.fullname else { continue }
            for nameIndex in 0..<OPENSSL_sk_num(names) {
                guard let general = OPENSSL_sk_value(names, nameIndex)?.assumingMemoryBound(to: GENERAL_NAME.self),
                      general.pointee.type == GEN_URI, let uri = general.pointee.d.uniformResourceIdentifier else { continue }
                let bytes = UnsafeBufferPointer(start: ASN1_STRING_get0_data(uri), count: Int(ASN1_STRING_length(uri)))
                urls.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        return urls
    }
}

/// RFC 6960 OCSP, request and response, as pure functions over DER.
public enum OCSP {
    /// A DER `OCSPRequest` for `certificate` issued by `issuer` (SHA-1 CertID, as RFC 6960
    /// §4.1.1 profiles and every responder accepts).
    public static func request(for certificate: Certificate, issuer: Certificate) -> [UInt8]? {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let request = OCSP_REQUEST_new() else { return nil }
        defer { OCSP_REQUEST_free(request) }
        guard let id = OCSP_cert_to_id(nil, certificate.pointer, issuer.pointer) else { return nil }
        guard OCSP_request_add0_id(request, id) != nil else {
            OCSP_CERTID_free(id)
            return nil
        }
        return i2dBytes { i2d_OCSP_REQUEST(request, &$0) }
    }

    /// Reads a DER `OCSPResponse`: it must be successful, signed by the issuer or a responder
    /// the issuer delegated to (id-kp-OCSPSigning), chain to `anchors`, and be current.
    public static func status(response der: [UInt8], certificate: Certificate, issuer: Certificate,
                              anchors: [Certificate], now: Date = Date()) -> RevocationStatus {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let response: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &cursor, buffer.count)
        }
        guard let response else { return .unknown("the OCSP response is not DER") }
        defer { OCSP_RESPONSE_free(response) }
        let code = OCSP_response_status(response)
        guard code == OCSP_RESPONSE_STATUS_SUCCESSFUL else { return .unknown("the OCSP responder answered status \(code)") }
        guard let basic = OCSP_response_get1_basic(response) else { return .unknown("the OCSP response has no basic response") }
        defer { OCSP_BASICRESP_free(basic) }
        guard let store = X509_STORE_new(), let untrusted = OPENSSL_sk_new_null() else { return .unknown("out of memory") }
        defer {
            X509_STORE_free(store)
            OPENSSL_sk_free(untrusted)
        }
        for anchor in anchors { X509_STORE_add_cert(store, anchor.pointer) }
        OPENSSL_sk_push(untrusted, UnsafeRawPointer(issuer.pointer))
        if let parameters = X509_STORE_get0_param(store) { X509_VERIFY_PARAM_set_time(parameters, time_t(now.timeIntervalSince1970)) }
        guard OCSP_basic_verify(basic, untrusted, store, 0) == 1 else {
            return .unknown("the OCSP response signature does not verify: \(OpenSSLErrorQueue.reason())")
        }
        guard let id = OCSP_cert_to_id(nil, certificate.pointer, issuer.pointer) else { return .unknown("cannot build the OCSP CertID") }
        defer { OCSP_CERTID_free(id) }
        var status: Int32 = -1, reason: Int32 = -1
        var revokedAt: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?, thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?,
            nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
        guard OCSP_resp_find_status(basic, id, &status, &reason, &revokedAt, &thisUpdate, &nextUpdate) == 1 else {
            return .unknown("the OCSP response does not cover certificate \(certificate.serialNumber)")
        }
        // RFC 6960 §3.2: thisUpdate not in the future and nextUpdate not in the past (5 min skew).
        guard OCSP_check_validity(thisUpdate, nextUpdate, 300, -1) == 1 else { return .unknown("the OCSP response is not current") }
        switch status {
        case V_OCSP_CERTSTATUS_GOOD: return .good
        case V_OCSP_CERTSTATUS_REVOKED: return .revoked(at: revokedAt.map { Certificate.date(UnsafePointer($0)) })
        default: return .unknown("the OCSP responder does not know certificate \(certificate.serialNumber)")
        }
    }
}

/// RFC 5280 CRLs, as pure functions over DER (or PEM).
public enum CRL {
    /// When the CRL says it will be superseded; nil when it is unreadable or has no nextUpdate.
    public static func nextUpdate(_ bytes: [UInt8]) -> Date? {
        guard let crl = decode(bytes) else { return nil }
        defer { X509_CRL_free(crl) }
        return X509_CRL_get0_nextUpdate(crl).map { Certificate.date($0) }
    }

    public static func status(crl bytes: [UInt8], certificate: Certificate, issuer: Certificate, now: Date = Date()) -> RevocationStatus {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let crl = decode(bytes) else { return .unknown("the CRL is neither DER nor PEM") }
        defer { X509_CRL_free(crl) }
        guard X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer.pointer)) == 0 else {
            return .unknown("the CRL is issued by another CA than \(issuer.subject)")
        }
        guard let key = X509_get0_pubkey(issuer.pointer), X509_CRL_verify(crl, key) == 1 else {
            return .unknown("the CRL signature does not verify with \(issuer.subject)'s key")
        }
        // A CRL past its nextUpdate no longer speaks for the present.
        if let next = X509_CRL_get0_nextUpdate(crl), Certificate.date(next) < now {
            return .unknown("the CRL expired at \(Certificate.date(next))")
        }
        var entry: UnsafeMutablePointer<OpaquePointer?>.Pointee = nil
        if X509_CRL_get0_by_cert(crl, &entry, certificate.pointer) == 1 {
            return .revoked(at: entry.flatMap { X509_REVOKED_get0_revocationDate($0) }.map { Certificate.date($0) })
        }
        return .good
    }

    static func decode(_ bytes: [UInt8]) -> OpaquePointer? {
        let der: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509_CRL(nil, &cursor, buffer.count)
        }
        if let der { return der }
        ERR_clear_error()
        return bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509_CRL(bio, nil, nil, nil)
        }
    }
}
