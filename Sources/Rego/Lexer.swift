/// A Rego policy refused when it loads (syntax, or a construct outside the supported subset),
/// or an evaluation that could not finish; `line`/`column` are 1-based (0 when not from text).
public struct RegoError: Error, Sendable, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String

    public init(file: String = "", line: Int = 0, column: Int = 0, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        line > 0 ? "\(file.isEmpty ? "policy" : file):\(line):\(column): \(message)" : message
    }
}

struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case identifier(String)
        case string(String)
        case number(String)
        case symbol(String)
        case end
    }

    let kind: Kind
    let line: Int
    let column: Int

    var symbol: String? { if case .symbol(let s) = kind { s } else { nil } }
    var identifier: String? { if case .identifier(let s) = kind { s } else { nil } }
}

/// Rego's tokens: identifiers, strings ("…" with JSON escapes, `raw`), numbers, operators;
/// `#` comments to the end of the line.
enum Lexer {
    static let symbols = [":=", "==", "!=", "<=", ">=", "{", "}", "[", "]", "(", ")", ".", ",", ";", ":", "=", "<", ">", "+", "-", "*", "/", "%", "|", "&"]

    static func tokens(_ text: String, file: String) throws(RegoError) -> [Token] {
        let scalars = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var index = 0, line = 1, column = 1
        func advance(_ count: Int = 1) {
            for _ in 0..<count {
                if scalars[index] == "\n" { line += 1; column = 1 } else { column += 1 }
                index += 1
            }
        }
        while index < scalars.count {
            let character = scalars[index]
            if character == "\n" || character == " " || character == "\t" || character == "\r" { advance(); continue }
            if character == "#" {
                while index < scalars.count, scalars[index] != "\n" { advance() }
                continue
            }
            let startLine = line, startColumn = column
            if character == "\"" {
                advance()
                var value = String.UnicodeScalarView()
                while true {
                    guard index < scalars.count, scalars[index] != "\n" else {
                        throw RegoError(file: file, line: startLine, column: startColumn, "unterminated string")
                    }
                    let c = scalars[index]
                    if c == "\"" { advance(); break }
                    if c == "\\" {
                        guard index + 1 < scalars.count else { throw RegoError(file: file, line: line, column: column, "unterminated escape") }
                        let e = scalars[index + 1]
                        advance(2)
                        switch e {
                        case "\"": value.append("\"")
                        case "\\": value.append("\\")
                        case "/": value.append("/")
                        case "b": value.append("\u{8}")
                        case "f": value.append("\u{c}")
                        case "n": value.append("\n")
                        case "r": value.append("\r")
                        case "t": value.append("\t")
                        case "u":
                            guard index + 4 <= scalars.count, let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16) else {
                                throw RegoError(file: file, line: line, column: column, "invalid \\u escape")
                            }
                            advance(4)
                            var scalar = Unicode.Scalar(code)
                            // A surrogate pair.
                            if (0xD800...0xDBFF).contains(code), index + 6 <= scalars.count, scalars[index] == "\\", scalars[index + 1] == "u",
                               let low = UInt32(String(String.UnicodeScalarView(scalars[index + 2..<index + 6])), radix: 16), (0xDC00...0xDFFF).contains(low) {
                                advance(6)
                                scalar = Unicode.Scalar(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
                            }
                            guard let scalar else { throw RegoError(file: file, line: line, column: column, "invalid \\u escape") }
                            value.append(scalar)
                        default:
                            throw RegoError(file: file, line: line, column: column, "invalid escape \\\(e)")
                        }
                        continue
                    }
                    value.append(c)
                    advance()
                }
                tokens.append(Token(kind: .string(String(value)), line: startLine, column: startColumn))
                continue
            }
            if character == "`" {
                advance()
                var value = String.UnicodeScalarView()
                while true {
                    guard index < scalars.count else { throw RegoError(file: file, line: startLine, column: startColumn, "unterminated raw string") }
                    if scalars[index] == "`" { advance(); break }
                    value.append(scalars[index])
                    advance()
                }
                tokens.append(Token(kind: .string(String(value)), line: startLine, column: startColumn))
                continue
            }
            if character.properties.isASCIIHexDigit && ("0"..."9").contains(character) {
                var text = String.UnicodeScalarView()
                while index < scalars.count, ("0"..."9").contains(scalars[index]) || scalars[index] == "." || scalars[index] == "e"
                        || scalars[index] == "E" || ((scalars[index] == "+" || scalars[index] == "-") && (text.last == "e" || text.last == "E")) {
                    // A "." not followed by a digit ends the number (a ref like x.y does not start with a digit anyway).
                    if scalars[index] == ".", !(index + 1 < scalars.count && ("0"..."9").contains(scalars[index + 1])) { break }
                    text.append(scalars[index])
                    advance()
                }
                let lexeme = String(text)
                guard Double(lexeme) != nil else { throw RegoError(file: file, line: startLine, column: startColumn, "invalid number \(lexeme)") }
                tokens.append(Token(kind: .number(lexeme), line: startLine, column: startColumn))
                continue
            }
            if character == "_" || (character.isASCII && character.properties.isAlphabetic) {
                var text = String.UnicodeScalarView()
                while index < scalars.count, scalars[index] == "_" || (scalars[index].isASCII && (scalars[index].properties.isAlphabetic || ("0"..."9").contains(scalars[index]))) {
                    text.append(scalars[index])
                    advance()
                }
                tokens.append(Token(kind: .identifier(String(text)), line: startLine, column: startColumn))
                continue
            }
            var matched = false
            for symbol in symbols {
                let symbolScalars = Array(symbol.unicodeScalars)
                if index + symbolScalars.count <= scalars.count, Array(scalars[index..<index + symbolScalars.count]) == symbolScalars {
                    tokens.append(Token(kind: .symbol(symbol), line: startLine, column: startColumn))
                    advance(symbolScalars.count)
                    matched = true
                    break
                }
            }
            guard matched else { throw RegoError(file: file, line: line, column: column, "unexpected character \"\(character)\"") }
        }
        tokens.append(Token(kind: .end, line: line, column: column))
        return tokens
    }
}
