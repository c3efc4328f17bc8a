internal import CShims
import Crypto
import Foundation

/// Owns one server `SSL_CTX*`. Immutable once built; a certificate rotation builds a new one and
/// swaps it in (`ReloadingTLSContext`), while connections made from the old one keep it alive
/// through OpenSSL's own reference count until they close.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer

    /// TLS 1.2 suites from the Mozilla "intermediate" profile: ECDHE + AEAD only. TLS 1.3 suites
    /// are OpenSSL's defaults (all AEAD).
    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    public convenience init(server configuration: TLSServerConfiguration) throws(TLSError) {
        try self.init(server: configuration, files: TLSFileSnapshot.read(configuration))
    }

    init(server configuration: TLSServerConfiguration, files: TLSFileSnapshot) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.fromQueue(.contextCreation, "could not create an OpenSSL server context")
        }
        pointer = ctx
        // From here on `deinit` frees ctx whatever is thrown.
        try configureProtocol(configuration.minimumVersion)
        let certificates = try PEMReader.certificates(files.certificate, path: configuration.certificateChainFile)
        let key = try PEMReader.privateKey(files.privateKey, path: configuration.privateKeyFile)
        defer { EVP_PKEY_free(key) }
        guard X509_check_private_key(certificates[0].pointer, key) == 1 else {
            throw TLSError.fromQueue(.keyMismatch,
                "private key \(configuration.privateKeyFile) does not match certificate \(configuration.certificateChainFile)")
        }
        try useCertificateChain(certificates, path: configuration.certificateChainFile)
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.fromQueue(.privateKeyLoad, "could not use the private key in \(configuration.privateKeyFile)")
        }
        if let caFile = configuration.clientCAFile, let caBytes = files.clientCA {
            try requireClientCertificates(caBytes, path: caFile)
        }
    }

    deinit { SSL_CTX_free(pointer) }

    private func configureProtocol(_ minimum: TLSServerConfiguration.ProtocolVersion) throws(TLSError) {
        let version: Int32
        switch minimum {
        case .tls1_0: version = TLS1_VERSION
        case .tls1_1: version = TLS1_1_VERSION
        case .tls1_2: version = TLS1_2_VERSION
        case .tls1_3: version = TLS1_3_VERSION
        }
        if version < TLS1_2_VERSION {
            // OpenSSL 3 cannot negotiate TLS < 1.2 at security level 1 (SHA-1 signatures); only
            // the test-only downgrade path reaches this.
            SSL_CTX_set_security_level(pointer, 0)
        }
        guard Shim_SSL_CTX_set_min_proto_version(pointer, version) == 1,
              Shim_SSL_CTX_set_max_proto_version(pointer, TLS1_3_VERSION) == 1 else {
            throw TLSError.fromQueue(.configuration, "could not restrict TLS protocol versions")
        }
        let cipherList = version < TLS1_2_VERSION ? "DEFAULT@SECLEVEL=0" : Self.tls12Ciphers
        guard SSL_CTX_set_cipher_list(pointer, cipherList) == 1 else {
            throw TLSError.fromQueue(.configuration, "could not set TLS 1.2 cipher suites")
        }
        _ = SSL_CTX_set_options(pointer, Shim_SSL_OP_NO_RENEGOTIATION() | Shim_SSL_OP_CIPHER_SERVER_PREFERENCE()
                                    | Shim_SSL_OP_NO_COMPRESSION() | Shim_SSL_OP_IGNORE_UNEXPECTED_EOF())
        // Partial writes and moving buffers let the event loop retry SSL_write from a Swift array
        // that may have been reallocated; RELEASE_BUFFERS keeps idle keep-alive connections small.
        _ = Shim_SSL_CTX_set_mode(pointer, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                               | SSL_MODE_RELEASE_BUFFERS))
        // One read() takes a whole record, and the next ones already in the socket, instead of
        // a 5-byte header read and then the body: the event loop reads until OpenSSL wants more,
        // so nothing is left waiting in OpenSSL's buffer without the socket being readable.
        _ = Shim_SSL_CTX_set_read_ahead(pointer, 1)
        _ = Shim_SSL_CTX_set1_groups_list(pointer, "X25519:P-256:P-384")
        let sessionContext: [UInt8] = Array("ratify".utf8)
        _ = SSL_CTX_set_session_id_context(pointer, sessionContext, UInt32(sessionContext.count))
    }

    private func useCertificateChain(_ certificates: [Certificate], path: String) throws(TLSError) {
        guard SSL_CTX_use_certificate(pointer, certificates[0].pointer) == 1 else {
            throw TLSError.fromQueue(.certificateLoad, "could not use the certificate in \(path)")
        }
        for intermediate in certificates.dropFirst() {
            // add0 takes ownership on success, so hand it a reference of its own.
            X509_up_ref(intermediate.pointer)
            guard SSL_CTX_ctrl(pointer, SSL_CTRL_EXTRA_CHAIN_CERT, 0, UnsafeMutableRawPointer(intermediate.pointer)) == 1 else {
                X509_free(intermediate.pointer)
                throw TLSError.fromQueue(.certificateLoad, "could not add an intermediate certificate from \(path)")
            }
        }
    }

    private func requireClientCertificates(_ pem: [UInt8], path: String) throws(TLSError) {
        let cas = try PEMReader.certificates(pem, path: path, code: .clientCALoad)
        guard let store = SSL_CTX_get_cert_store(pointer) else {
            throw TLSError.fromQueue(.clientCALoad, "could not prepare the client CA store")
        }
        for ca in cas {
            guard X509_STORE_add_cert(store, ca.pointer) == 1 else {
                throw TLSError.fromQueue(.clientCALoad, "could not add a client CA from \(path)")
            }
            // The CA names go out in the CertificateRequest so clients pick the right certificate.
            guard SSL_CTX_add_client_CA(pointer, ca.pointer) == 1 else {
                throw TLSError.fromQueue(.clientCALoad, "could not announce a client CA from \(path)")
            }
        }
        SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        SSL_CTX_set_verify_depth(pointer, 8)
    }
}

/// The bytes of the files a context was built from; the reloader compares snapshots to decide
/// whether anything changed.
struct TLSFileSnapshot: Equatable {
    var certificate: [UInt8]
    var privateKey: [UInt8]
    var clientCA: [UInt8]?

    static func read(_ configuration: TLSServerConfiguration) throws(TLSError) -> TLSFileSnapshot {
        func load(_ path: String, _ code: TLSError.Code) throws(TLSError) -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TLSError(code, "cannot read \(path): no such file or not readable")
            }
            return [UInt8](data)
        }
        return TLSFileSnapshot(
            certificate: try load(configuration.certificateChainFile, .certificateLoad),
            privateKey: try load(configuration.privateKeyFile, .privateKeyLoad),
            clientCA: try configuration.clientCAFile.map { (path) throws(TLSError) in try load(path, .clientCALoad) })
    }
}
