import Core

/// A configuration that cannot be used — a file that does not read or parse, a setting that is
/// wrong, a verifier that is not built in. The message names the file or the setting's path.
/// Its text keeps the `CONFIG_INVALID:` prefix Ratify users grep logs for.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible, Sendable {
    public static let code = "CONFIG_INVALID"
    public let message: String

    public init(_ message: String) { self.message = message }

    /// A setting's own error, placed in its file.
    public init(_ error: ConfigError, source: String) {
        message = "\(source): \(error.path): \(error.message)"
    }

    public var description: String { "\(Self.code): \(message)" }
}
