/// Why a document is not acceptable JSON. `code` is stable; `offset` is the byte where the
/// parser stopped, so a user can find the spot in their file.
public struct JSONError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case unexpectedEnd = "JSON_UNEXPECTED_END"
        case unexpectedByte = "JSON_UNEXPECTED_BYTE"
        case invalidNumber = "JSON_INVALID_NUMBER"
        case invalidEscape = "JSON_INVALID_ESCAPE"
        case invalidUTF8 = "JSON_INVALID_UTF8"
        case controlCharacterInString = "JSON_CONTROL_CHARACTER"
        case duplicateKey = "JSON_DUPLICATE_KEY"
        case tooDeep = "JSON_TOO_DEEP"
        case trailingData = "JSON_TRAILING_DATA"
        case tooLarge = "JSON_TOO_LARGE"
    }

    public let code: Code
    public let offset: Int
    public let detail: String

    public var description: String { "\(code.rawValue): \(detail) at byte \(offset)" }
}
