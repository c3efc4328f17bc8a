/// Why a notation signature could not be used, with a stable code. Envelope errors are
/// integrity failures: the trust policy can never relax them.
public struct NotationError: Error, Equatable, CustomStringConvertible, Sendable {
    public typealias Code = NotationReason
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code.rawValue): \(message)" }
}
