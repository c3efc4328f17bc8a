internal import CShims
import Crypto

/// A TLS failure with a stable code, a sentence for the operator, and what OpenSSL said.
public struct TLSError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case contextCreation = "TLS_CONTEXT_CREATION"
        case certificateLoad = "TLS_CERTIFICATE_LOAD"
        case privateKeyLoad = "TLS_PRIVATE_KEY_LOAD"
        case keyMismatch = "TLS_KEY_MISMATCH"
        case clientCALoad = "TLS_CLIENT_CA_LOAD"
        case configuration = "TLS_CONFIGURATION"
        case handshake = "TLS_HANDSHAKE"
        case io = "TLS_IO"
    }

    public let code: Code
    public let message: String
    /// The OpenSSL error queue at the time of failure, oldest first.
    public let openSSLErrors: [String]

    public init(_ code: Code, _ message: String, openSSLErrors: [String] = []) {
        self.code = code
        self.message = message
        self.openSSLErrors = openSSLErrors
    }

    public var description: String {
        openSSLErrors.isEmpty ? "\(code.rawValue): \(message)"
            : "\(code.rawValue): \(message): \(openSSLErrors.joined(separator: "; "))"
    }

    /// Builds an error from the current OpenSSL error queue, draining it so the next call on this
    /// thread starts clean (swift-nio-ssl's habit: clear before, drain after).
    static func fromQueue(_ code: Code, _ message: String) -> TLSError {
        TLSError(code, message, openSSLErrors: OpenSSLErrorQueue.drain())
    }
}
