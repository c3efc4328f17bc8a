import Core
import HTTPClient

/// A registry operation that failed. Codes are stable; messages name the registry, the
/// repository and what was asked, and never contain credentials.
public struct RegistryError: TimeoutReporting, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case connection = "REGISTRY_CONNECTION"
        case timeout = "REGISTRY_TIMEOUT"
        case unauthorized = "REGISTRY_UNAUTHORIZED"
        case notFound = "REGISTRY_NOT_FOUND"
        case rateLimited = "REGISTRY_RATE_LIMITED"
        case unexpectedStatus = "REGISTRY_UNEXPECTED_STATUS"
        case digestMismatch = "REGISTRY_DIGEST_MISMATCH"
        case tooLarge = "REGISTRY_CONTENT_TOO_LARGE"
        case invalidResponse = "REGISTRY_INVALID_RESPONSE"
        case invalidConfiguration = "REGISTRY_INVALID_CONFIGURATION"
        /// A cloud auth provider (workload identity, ECR, ACR exchange…) could not produce a
        /// credential; the message carries the provider's own reason.
        case credentialProvider = "REGISTRY_CREDENTIAL_PROVIDER"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
    public var isTimeout: Bool { code == .timeout }

    /// A transfer that got no answer from the registry.
    init(transport error: TransportError) {
        switch error.code {
        case .connection: self.init(.connection, error.message)
        case .timeout: self.init(.timeout, error.message)
        case .tooLarge: self.init(.tooLarge, error.message)
        // Nobody waits for the answer any more (the request's deadline passed): a timeout.
        case .cancelled: self.init(.timeout, error.message)
        }
    }

    /// For errors that are not registry answers (cancellation, a bug): reported, never a pass.
    @Sendable static func unexpected(_ error: any Error) -> RegistryError {
        RegistryError(.connection, "unexpected failure: \(error)")
    }
}
