internal import CShims

/// Why key material or a signature could not be used. Codes are stable.
public struct CryptoError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidKey = "INVALID_PUBLIC_KEY"
        case unsupportedKey = "UNSUPPORTED_PUBLIC_KEY"
        case weakKey = "WEAK_PUBLIC_KEY"
        case invalidCertificate = "INVALID_CERTIFICATE"
        case invalidTimestamp = "INVALID_TIMESTAMP"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A public key held by OpenSSL (`EVP_PKEY*`), owned here and freed in `deinit`.
public final class PublicKey: @unchecked Sendable {
    public enum Kind: Equatable, Sendable, CustomStringConvertible {
        case ecdsa(curve: String)
        case rsa(bits: Int)
        case ed25519

        public var description: String {
            switch self {
            case .ecdsa(let curve): "ECDSA \(curve)"
            case .rsa(let bits): "RSA \(bits)"
            case .ed25519: "Ed25519"
            }
        }
    }

    let pointer: OpaquePointer
    public let kind: Kind

    /// Loads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), or a PKCS #1 `RSA PUBLIC KEY` as
    /// sigstore's `UnmarshalPEMToPublicKey` also reads. ECDSA keys must be on P-256, P-384 or
    /// P-521; RSA keys 2048 bits or more.
    public static func pem(_ bytes: [UInt8], source: String) throws(CryptoError) -> PublicKey {
        ERR_clear_error()
        func read(_ decode: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
            bytes.withUnsafeBytes { raw in
                guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
                defer { BIO_free(bio) }
                return decode(bio)
            }
        }
        let key = read { PEM_read_bio_PUBKEY($0, nil, nil, nil) } ?? read { bio in
            var name: UnsafeMutablePointer<CChar>?, header: UnsafeMutablePointer<CChar>?, data: UnsafeMutablePointer<UInt8>?
            var length = 0
            guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else { return nil }
            defer { Shim_OPENSSL_free(name); Shim_OPENSSL_free(header); Shim_OPENSSL_free(data) }
            guard let name, String(validatingCString: name) == "RSA PUBLIC KEY", let data else { return nil }
            var cursor: UnsafePointer<UInt8>? = UnsafePointer(data)
            return d2i_PublicKey(EVP_PKEY_RSA, nil, &cursor, length)
        }
        ERR_clear_error()
        guard let key else { throw CryptoError(.invalidKey, "\(source) holds no PEM public key") }
        return try checked(key, source: source)
    }

    /// Loads a DER SubjectPublicKeyInfo (as sigstore's trusted_root.json carries Rekor keys).
    public static func der(_ bytes: [UInt8], source: String) throws(CryptoError) -> PublicKey {
        ERR_clear_error()
        let key: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        ERR_clear_error()
        guard let key else { throw CryptoError(.invalidKey, "\(source) holds no DER public key") }
        return try checked(key, source: source)
    }

    /// The key as DER SubjectPublicKeyInfo: what sigstore hashes into a log ID, and a stable
    /// way to compare two keys.
    public var derBytes: [UInt8] {
        i2dBytes { i2d_PUBKEY(pointer, &$0) } ?? []
    }

    /// Takes ownership of `key` (freed here when refused).
    static func checked(_ key: OpaquePointer, source: String) throws(CryptoError) -> PublicKey {
        let kind: Kind
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            EVP_PKEY_get_group_name(key, &name, name.count, &length)
            let curve = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard ["prime256v1", "secp384r1", "secp521r1"].contains(curve) else {
                EVP_PKEY_free(key)
                throw CryptoError(.unsupportedKey, "\(source): ECDSA curve \(curve) is not supported; use P-256, P-384 or P-521")
            }
            kind = .ecdsa(curve: curve)
        case EVP_PKEY_RSA:
            let bits = Int(EVP_PKEY_get_bits(key))
            guard bits >= 2048 else {
                EVP_PKEY_free(key)
                throw CryptoError(.weakKey, "\(source): RSA key of \(bits) bits; at least 2048 are required")
            }
            // An exponent of 0, 1 or an even one makes signatures forgeable or keys invalid (Go's
            // crypto/rsa refuses e < 2; real keys use 65537): at least 3, and odd.
            var exponent: OpaquePointer?
            let readable = EVP_PKEY_get_bn_param(key, "e", &exponent) == 1
            defer { if let exponent { BN_free(exponent) } }
            guard readable, let exponent, BN_is_odd(exponent) == 1, BN_get_word(exponent) >= 3 else {
                EVP_PKEY_free(key)
                ERR_clear_error()
                throw CryptoError(.weakKey, "\(source): RSA public exponent must be odd and at least 3")
            }
            kind = .rsa(bits: bits)
        case EVP_PKEY_ED25519:
            kind = .ed25519
        default:
            EVP_PKEY_free(key)
            throw CryptoError(.unsupportedKey, "\(source): key type is not ECDSA, RSA or Ed25519")
        }
        return PublicKey(pointer: key, kind: kind)
    }

    private init(pointer: OpaquePointer, kind: Kind) {
        self.pointer = pointer
        self.kind = kind
    }

    deinit { EVP_PKEY_free(pointer) }

    /// The hash sigstore pairs with this key: SHA-256 for P-256 and RSA, SHA-384 for P-384,
    /// SHA-512 for P-521; Ed25519 signs the message itself.
    public var sigstoreHash: HashAlgorithm? {
        switch kind {
        case .ecdsa(let curve): curve == "secp384r1" ? .sha384 : curve == "secp521r1" ? .sha512 : .sha256
        case .rsa: .sha256
        case .ed25519: nil
        }
    }

    /// Signature encodings the verifiers meet: sigstore uses DER ECDSA and PKCS #1 v1.5; JWS
    /// (RFC 7518 §3.4, §3.5) uses raw `r || s` ECDSA and RSASSA-PSS with salt = hash length.
    public enum Scheme: Sendable, Equatable {
        case standard(HashAlgorithm?)
        case rsaPSS(HashAlgorithm)
        /// RSASSA-PSS accepting any salt length the signature carries (golang-jwt verifies JWS
        /// PS256/384/512 with `PSSSaltLengthAuto`).
        case rsaPSSAnySalt(HashAlgorithm)
        case ecdsaRaw(HashAlgorithm)
    }

    public func verify(signature: [UInt8], message: [UInt8], scheme: Scheme) -> Bool {
        switch scheme {
        case .standard(let hash):
            return verify(signature: signature, message: message, hash: hash)
        case .ecdsaRaw(let hash):
            guard case .ecdsa = kind, let der = Self.derFromRaw(signature) else { return false }
            return verify(signature: der, message: message, hash: hash)
        case .rsaPSS(let hash), .rsaPSSAnySalt(let hash):
            guard case .rsa = kind else { return false }
            let salt = scheme == .rsaPSSAnySalt(hash) ? Int32(RSA_PSS_SALTLEN_AUTO) : Int32(hash.byteCount)
            ERR_clear_error()
            defer { ERR_clear_error() }
            guard let context = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(context) }
            var keyContext: OpaquePointer?
            guard EVP_DigestVerifyInit(context, &keyContext, hash.evp, nil, pointer) == 1, let keyContext,
                  EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, salt) == 1,
                  EVP_PKEY_CTX_set_rsa_mgf1_md(keyContext, hash.evp) == 1 else { return false }
            return signature.withUnsafeBufferPointer { sig in
                message.withUnsafeBufferPointer { msg in
                    EVP_DigestVerify(context, sig.baseAddress, sig.count, msg.baseAddress, msg.count) == 1
                }
            }
        }
    }

    /// JWS ECDSA signatures are `r || s`, each the curve's byte length; OpenSSL wants DER.
    static func derFromRaw(_ raw: [UInt8]) -> [UInt8]? {
        guard !raw.isEmpty, raw.count % 2 == 0, let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        let half = raw.count / 2
        let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32(half), nil) }
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + half, Int32(half), nil) }
        guard let r, let s, ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        return i2dBytes { i2d_ECDSA_SIG(signature, &$0) }
    }

    /// Verifies `signature` over `message` (ECDSA: ASN.1 DER; RSA: PKCS #1 v1.5).
    public func verify(signature: [UInt8], message: [UInt8], hash: HashAlgorithm?) -> Bool {
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, hash?.evp, nil, pointer) == 1 else { return false }
        return signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                EVP_DigestVerify(context, sig.baseAddress, sig.count, msg.baseAddress, msg.count) == 1
            }
        }
    }
}

extension PublicKey {
    /// Verifies a signature over a message known only by its `hash` digest (sigstore bundles'
    /// `messageSignature.messageDigest`). ECDSA and RSA PKCS #1 v1.5; Ed25519 cannot sign a
    /// pre-hashed message and never verifies here.
    public func verify(signature: [UInt8], digest: [UInt8], hash: HashAlgorithm) -> Bool {
        guard kind != .ed25519, digest.count == hash.byteCount else { return false }
        ERR_clear_error()
        defer { ERR_clear_error() }
        guard let context = EVP_PKEY_CTX_new(pointer, nil) else { return false }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_verify_init(context) == 1, EVP_PKEY_CTX_set_signature_md(context, hash.evp) == 1 else { return false }
        return signature.withUnsafeBufferPointer { sig in
            digest.withUnsafeBufferPointer { dig in
                EVP_PKEY_verify(context, sig.baseAddress, sig.count, dig.baseAddress, dig.count) == 1
            }
        }
    }
}

extension PublicKey {
    /// An RSA public key from its modulus and exponent (big-endian, as a JWK's `n` and `e`).
    public static func rsa(modulus: [UInt8], exponent: [UInt8], source: String) throws(CryptoError) -> PublicKey {
        // SubjectPublicKeyInfo { AlgorithmIdentifier { rsaEncryption, NULL }, BIT STRING { RSAPublicKey } }
        let rsaKey = DER.sequence(DER.integer(modulus) + DER.integer(exponent))
        let algorithm = DER.sequence(DER.oid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]) + [0x05, 0x00])
        return try der(DER.sequence(algorithm + DER.bitString(rsaKey)), source: source)
    }

    /// An EC public key from a JWK's `crv` (`P-256`, `P-384`, `P-521`) and its `x` and `y`,
    /// each exactly the curve's coordinate size; OpenSSL checks the point is on the curve.
    public static func ec(curve: String, x: [UInt8], y: [UInt8], source: String) throws(CryptoError) -> PublicKey {
        let (oid, size): ([UInt8], Int)
        switch curve {
        case "P-256": (oid, size) = ([0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07], 32)
        case "P-384": (oid, size) = ([0x2B, 0x81, 0x04, 0x00, 0x22], 48)
        case "P-521": (oid, size) = ([0x2B, 0x81, 0x04, 0x00, 0x23], 66)
        default: throw CryptoError(.unsupportedKey, "\(source): unsupported elliptic curve '\(curve)'; use P-256, P-384 or P-521")
        }
        guard x.count == size, y.count == size else {
            throw CryptoError(.invalidKey, "\(source): \(curve) coordinates must be \(size) bytes each, found \(x.count) and \(y.count)")
        }
        let algorithm = DER.sequence(DER.oid([0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]) + DER.oid(oid))
        return try der(DER.sequence(algorithm + DER.bitString([0x04] + x + y)), source: source)
    }
}

/// The few DER encodings the key builders above need (X.690 definite lengths).
enum DER {
    static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var rest = count
        while rest > 0 { bytes.insert(UInt8(rest & 0xFF), at: 0); rest >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func sequence(_ content: [UInt8]) -> [UInt8] { tlv(0x30, content) }
    static func oid(_ encoded: [UInt8]) -> [UInt8] { tlv(0x06, encoded) }
    static func bitString(_ content: [UInt8]) -> [UInt8] { tlv(0x03, [0x00] + content) }
    /// A non-negative INTEGER from big-endian bytes: leading zeros dropped, one added when the
    /// top bit is set.
    static func integer(_ bytes: [UInt8]) -> [UInt8] {
        var value = Array(bytes.drop(while: { $0 == 0 }))
        if value.isEmpty { value = [0] }
        if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
        return tlv(0x02, value)
    }
}
