/// Why the server could not start. Codes are stable; messages name the flag or file at fault.
public struct ServeError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidFlag = "INVALID_FLAG"
        case tls = "TLS_CONFIGURATION"
        case listen = "LISTEN_FAILED"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
