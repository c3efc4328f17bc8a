/// Where the server's certificate, key and (for mTLS) client CA live. Paths, not bytes: the
/// reloader re-reads them when they change on disk (Kubernetes secret volumes swap atomically).
public struct TLSServerConfiguration: Sendable, Equatable {
    public enum ProtocolVersion: Sendable, Equatable {
        case tls1_0, tls1_1, tls1_2, tls1_3
    }

    public var certificateChainFile: String
    public var privateKeyFile: String
    /// When set, clients must present a certificate that chains to a CA in this PEM bundle;
    /// others are refused during the handshake (Gatekeeper's mTLS).
    public var clientCAFile: String?
    /// TLS 1.2 by default. Lower values exist only so tests can prove the default refuses old
    /// clients with a server that would otherwise accept them.
    public var minimumVersion: ProtocolVersion

    public init(certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil,
                minimumVersion: ProtocolVersion = .tls1_2) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.minimumVersion = minimumVersion
    }

    /// Ratify's `--cert-dir` layout: `tls.crt` and `tls.key` in one directory.
    public static func certificateDirectory(_ directory: String, clientCAFile: String? = nil) -> TLSServerConfiguration {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        return TLSServerConfiguration(certificateChainFile: base + "tls.crt", privateKeyFile: base + "tls.key",
                                      clientCAFile: clientCAFile)
    }

    var watchedFiles: [String] { [certificateChainFile, privateKeyFile] + (clientCAFile.map { [$0] } ?? []) }
}
