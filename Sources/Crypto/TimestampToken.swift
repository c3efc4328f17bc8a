internal import CShims
import Foundation

/// An RFC 3161 `TimeStampToken` (a CMS SignedData over a `TSTInfo`), read and verified with
/// OpenSSL's TS API.
public struct TimestampToken: Sendable {
    /// `TSTInfo.genTime`.
    public let time: Date
    /// `TSTInfo.accuracy`; zero when absent.
    public let accuracy: TimeInterval
    /// `TSTInfo.messageImprint`: nil algorithm when it is not SHA-256/384/512.
    public let imprintAlgorithm: HashAlgorithm?
    public let imprint: [UInt8]
    private let der: [UInt8]

    /// The time range the token vouches for: `genTime ± accuracy` (RFC 3161 §2.4.2).
    public var earliest: Date { time.addingTimeInterval(-accuracy) }
    public var latest: Date { time.addingTimeInterval(accuracy) }

    public static func parse(_ der: [UInt8]) throws(CryptoError) -> TimestampToken {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let token = decodePKCS7(der) else { throw CryptoError(.invalidTimestamp, "the timestamp is not a DER CMS TimeStampToken") }
        defer { PKCS7_free(token) }
        guard let info = PKCS7_to_TS_TST_INFO(token) else {
            throw CryptoError(.invalidTimestamp, "the timestamp token does not carry a TSTInfo")
        }
        defer { TS_TST_INFO_free(info) }
        guard let generalized = TS_TST_INFO_get_time(info) else { throw CryptoError(.invalidTimestamp, "the timestamp has no genTime") }
        let time = Certificate.date(generalized)
        guard time != .distantPast else { throw CryptoError(.invalidTimestamp, "the timestamp's genTime is unreadable") }
        var accuracy: TimeInterval = 0
        if let value = TS_TST_INFO_get_accuracy(info) {
            func number(_ integer: UnsafePointer<ASN1_INTEGER>?) -> Double { integer.map { Double(ASN1_INTEGER_get($0)) } ?? 0 }
            accuracy = number(TS_ACCURACY_get_seconds(value)) + number(TS_ACCURACY_get_millis(value)) / 1_000
                + number(TS_ACCURACY_get_micros(value)) / 1_000_000
        }
        guard let imprint = TS_TST_INFO_get_msg_imprint(info), let algorithm = TS_MSG_IMPRINT_get_algo(imprint),
              let hashed = TS_MSG_IMPRINT_get_msg(imprint) else {
            throw CryptoError(.invalidTimestamp, "the timestamp has no message imprint")
        }
        var object: OpaquePointer?
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        let hash: HashAlgorithm? = switch object.map({ OBJ_obj2nid($0) }) {
        case NID_sha256: .sha256
        case NID_sha384: .sha384
        case NID_sha512: .sha512
        default: nil
        }
        let bytes = Array(UnsafeBufferPointer(start: ASN1_STRING_get0_data(hashed), count: Int(ASN1_STRING_length(hashed))))
        return TimestampToken(time: time, accuracy: accuracy, imprintAlgorithm: hash, imprint: bytes, der: der)
    }

    /// The token of an RFC 3161 `TimeStampResp` (what a TSA answers): its status must be
    /// granted (0) or grantedWithMods (1), RFC 3161 §2.4.2.
    public static func parse(response der: [UInt8]) throws(CryptoError) -> TimestampToken {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let response: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_TS_RESP(nil, &cursor, buffer.count)
        }
        guard let response else { throw CryptoError(.invalidTimestamp, "the timestamp response is not a DER TimeStampResp") }
        defer { TS_RESP_free(response) }
        let status = TS_RESP_get_status_info(response).flatMap { TS_STATUS_INFO_get0_status($0) }.map { ASN1_INTEGER_get($0) } ?? -1
        guard status == 0 || status == 1 else {
            throw CryptoError(.invalidTimestamp, "the timestamp authority did not grant the request (PKIStatus \(status))")
        }
        guard let token = TS_RESP_get_token(response), let bytes = i2dBytes({ i2d_PKCS7(token, &$0) }) else {
            throw CryptoError(.invalidTimestamp, "the timestamp response carries no token")
        }
        return try parse(bytes)
    }

    /// Checks that the token timestamps `message` (its imprint is the hash of `message`) and
    /// that its signature verifies, with the TSA's certificate chaining to one of `roots` with
    /// the timeStamping purpose at the token's own time.
    /// `certificates`: the TSA's certificates known from elsewhere (a sigstore trusted root's
    /// `timestampAuthorities` chain), for tokens that do not embed their signer's.
    @discardableResult
    public func verify(message: [UInt8], roots: [Certificate], certificates: [Certificate] = []) -> Result<[Certificate], CryptoError> {
        guard let imprintAlgorithm else {
            return .failure(CryptoError(.invalidTimestamp, "the timestamp's message imprint uses an unsupported hash (SHA-256/384/512 are accepted)"))
        }
        return verify(messageDigest: Hash.digest(imprintAlgorithm, message), algorithm: imprintAlgorithm, roots: roots, certificates: certificates)
    }

    /// As `verify(message:roots:)`, for a message known by its digest. On success, the TSA's
    /// certificate chain from its signing certificate to the trusted root (what notation checks
    /// against the timestamping certificate requirements).
    @discardableResult
    public func verify(messageDigest: [UInt8], algorithm: HashAlgorithm, roots: [Certificate], certificates: [Certificate] = []) -> Result<[Certificate], CryptoError> {
        guard let imprintAlgorithm, imprintAlgorithm == algorithm else {
            return .failure(CryptoError(.invalidTimestamp, "the timestamp's message imprint uses \(imprintAlgorithm.map { "\($0)" } ?? "an unsupported hash"), not \(algorithm)"))
        }
        guard messageDigest == imprint else {
            return .failure(CryptoError(.invalidTimestamp, "the timestamp's message imprint does not match the signature it should countersign"))
        }
        guard !roots.isEmpty else { return .failure(CryptoError(.invalidTimestamp, "no TSA trust store certificates to verify the timestamp with")) }
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let token = Self.decodePKCS7(der) else { return .failure(CryptoError(.invalidTimestamp, "the timestamp is not a DER CMS TimeStampToken")) }
        defer { PKCS7_free(token) }
        guard let context = TS_VERIFY_CTX_new(), let store = X509_STORE_new() else { return .failure(CryptoError(.invalidTimestamp, "out of memory")) }
        defer { TS_VERIFY_CTX_free(context) }  // also frees the store it owns
        for root in roots { X509_STORE_add_cert(store, root.pointer) }
        if let parameters = X509_STORE_get0_param(store) { X509_VERIFY_PARAM_set_time(parameters, time_t(time.timeIntervalSince1970)) }
        TS_VERIFY_CTX_set_store(context, store)
        if !certificates.isEmpty, let extra = OPENSSL_sk_new_null() {
            // The context owns the stack and frees each certificate: each is up-ref'd.
            for certificate in certificates {
                X509_up_ref(certificate.pointer)
                OPENSSL_sk_push(extra, UnsafeRawPointer(certificate.pointer))
            }
            TS_VERIFY_CTX_set_certs(context, extra)
        }
        TS_VERIFY_CTX_set_flags(context, Int32(TS_VFY_SIGNATURE | TS_VFY_VERSION))
        // tspclient-go (notation's TSA client) accepts SignerInfo version 1 only and requires
        // the ESS SigningCertificateV2 attribute (RFC 5816): a token that names its signing
        // certificate by SHA-1 alone (ESS v1) is refused, as every SHA-1 use is.
        if let infos = PKCS7_get_signer_info(token), OPENSSL_sk_num(infos) == 1,
           let info = OPENSSL_sk_value(infos, 0)?.assumingMemoryBound(to: PKCS7_SIGNER_INFO.self) {
            guard ASN1_INTEGER_get(info.pointee.version) == 1 else {
                return .failure(CryptoError(.invalidTimestamp, "the timestamp's SignerInfo has version \(ASN1_INTEGER_get(info.pointee.version)); version 1 is required"))
            }
            guard PKCS7_get_signed_attribute(info, NID_id_smime_aa_signingCertificateV2) != nil else {
                return .failure(CryptoError(.invalidTimestamp, "the timestamp does not name its signing certificate with ESS SigningCertificateV2 (RFC 5816)"))
            }
        }
        guard TS_RESP_verify_token(context, token) == 1 else {
            return .failure(CryptoError(.invalidTimestamp, "the timestamp's signature does not verify against the TSA trust store: \(OpenSSLErrorQueue.reason())"))
        }
        return signerChain(token, store: store, extra: certificates)
    }

    /// The chain OpenSSL built for the token's signer (signer first, trusted root last), built
    /// again with the same store and time as the verification that just passed.
    private func signerChain(_ token: UnsafeMutablePointer<PKCS7>, store: OpaquePointer, extra: [Certificate]) -> Result<[Certificate], CryptoError> {
        // The token's certificates, and those known from elsewhere (not owned: freed shallowly).
        guard let certificates = OPENSSL_sk_new_null() else { return .failure(CryptoError(.invalidTimestamp, "out of memory")) }
        defer { OPENSSL_sk_free(certificates) }
        let embeddedStack: OpaquePointer? = token.pointee.d.sign.pointee.cert
        if let embedded = embeddedStack {
            for index in 0..<OPENSSL_sk_num(embedded) { OPENSSL_sk_push(certificates, OPENSSL_sk_value(embedded, index)) }
        }
        for certificate in extra { OPENSSL_sk_push(certificates, UnsafeRawPointer(certificate.pointer)) }
        guard let signers = PKCS7_get0_signers(token, certificates, 0) else {
            return .failure(CryptoError(.invalidTimestamp, "the timestamp's signing certificate is not in the token"))
        }
        defer { OPENSSL_sk_free(signers) }
        guard OPENSSL_sk_num(signers) == 1, let signer = OPENSSL_sk_value(signers, 0).map(OpaquePointer.init),
              let context = X509_STORE_CTX_new() else {
            return .failure(CryptoError(.invalidTimestamp, "the timestamp must have exactly one signer"))
        }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, signer, certificates) == 1 else {
            return .failure(CryptoError(.invalidTimestamp, "cannot rebuild the TSA certificate chain"))
        }
        X509_STORE_CTX_set_time(context, 0, time_t(time.timeIntervalSince1970))
        guard X509_verify_cert(context) == 1, let chain = X509_STORE_CTX_get1_chain(context) else {
            return .failure(CryptoError(.invalidTimestamp, "cannot rebuild the TSA certificate chain: \(OpenSSLErrorQueue.reason())"))
        }
        defer { OPENSSL_sk_free(chain) }  // X509_STORE_CTX_get1_chain: each certificate is up-ref'd; ownership moves to Certificate
        return .success((0..<OPENSSL_sk_num(chain)).compactMap { index in
            OPENSSL_sk_value(chain, index).map { Certificate(owning: OpaquePointer($0)) }
        })
    }

    private static func decodePKCS7(_ der: [UInt8]) -> UnsafeMutablePointer<PKCS7>? {
        der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PKCS7(nil, &cursor, buffer.count)
        }
    }
}
