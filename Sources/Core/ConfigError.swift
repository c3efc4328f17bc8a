/// A configuration value that cannot be used, with the path to it (`verifier.plugins[1].artifactTypes`).
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "CONFIG_INVALID: \(path): \(message)" }
}
