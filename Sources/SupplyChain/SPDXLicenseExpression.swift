/// SPDX license expressions (SPDX specification 2.3, Annex D): license identifiers (with an
/// optional `+`), `LicenseRef-…`/`DocumentRef-…:LicenseRef-…`, `WITH` exceptions, `AND`, `OR`
/// and parentheses. `AND` binds tighter than `OR` ("the AND operator takes precedence over
/// the OR operator"); operators are case-sensitive upper case, identifiers match
/// case-insensitively ("License expression operators … MUST be in uppercase"; "license
/// identifiers … are case insensitive").
public indirect enum LicenseExpression: Sendable, Equatable {
    case license(String)
    case with(String, exception: String)
    case and(LicenseExpression, LicenseExpression)
    case or(LicenseExpression, LicenseExpression)

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ text: String) throws(ParseError) -> LicenseExpression {
        var tokens: [String] = []
        var current = ""
        for character in text {
            if character == "(" || character == ")" {
                if !current.isEmpty { tokens.append(current); current = "" }
                tokens.append(String(character))
            } else if character.isWhitespace {
                if !current.isEmpty { tokens.append(current); current = "" }
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        guard !tokens.isEmpty else { throw ParseError(description: "the license expression is empty") }
        guard tokens.count <= 1000 else { throw ParseError(description: "the license expression has more than 1000 terms") }
        var parser = Parser(tokens: tokens[...])
        let expression = try parser.orExpression(depth: 0)
        guard parser.tokens.isEmpty else {
            throw ParseError(description: "unexpected \"\(parser.tokens.first!)\" in license expression \"\(text)\"")
        }
        return expression
    }

    /// Every license identifier the expression names (exceptions not included).
    public var licenses: [String] {
        switch self {
        case .license(let id), .with(let id, _): [id]
        case .and(let a, let b), .or(let a, let b): a.licenses + b.licenses
        }
    }

    /// Whether the expression can be satisfied using only `allowed` licenses: `A AND B` needs
    /// both, `A OR B` either; `A WITH E` is allowed when "A WITH E" is listed or A is (an
    /// exception only adds permissions).
    public func isSatisfied(by allowed: Set<String>) -> Bool {
        switch self {
        case .license(let id): allowed.contains(id.lowercased())
        case .with(let id, let exception): allowed.contains("\(id) WITH \(exception)".lowercased()) || allowed.contains(id.lowercased())
        case .and(let a, let b): a.isSatisfied(by: allowed) && b.isSatisfied(by: allowed)
        case .or(let a, let b): a.isSatisfied(by: allowed) || b.isSatisfied(by: allowed)
        }
    }

    private struct Parser {
        var tokens: ArraySlice<String>

        mutating func orExpression(depth: Int) throws(ParseError) -> LicenseExpression {
            var left = try andExpression(depth: depth)
            while tokens.first == "OR" {
                tokens.removeFirst()
                left = .or(left, try andExpression(depth: depth))
            }
            return left
        }

        mutating func andExpression(depth: Int) throws(ParseError) -> LicenseExpression {
            var left = try term(depth: depth)
            while tokens.first == "AND" {
                tokens.removeFirst()
                left = .and(left, try term(depth: depth))
            }
            return left
        }

        mutating func term(depth: Int) throws(ParseError) -> LicenseExpression {
            guard depth < 64 else { throw ParseError(description: "the license expression nests more than 64 parentheses") }
            guard let token = tokens.popFirst() else { throw ParseError(description: "the license expression ends where a license was expected") }
            if token == "(" {
                let inner = try orExpression(depth: depth + 1)
                guard tokens.popFirst() == ")" else { throw ParseError(description: "a \"(\" in the license expression is not closed") }
                return inner
            }
            guard token != ")", token != "AND", token != "OR", token != "WITH", Self.isIdentifier(token) else {
                throw ParseError(description: "\"\(token)\" is not a license identifier")
            }
            if tokens.first == "WITH" {
                tokens.removeFirst()
                guard let exception = tokens.popFirst(), Self.isIdentifier(exception) else {
                    throw ParseError(description: "WITH must be followed by a license exception identifier")
                }
                return .with(token, exception: exception)
            }
            return .license(token)
        }

        /// idstring = 1*(ALPHA / DIGIT / "-" / "." ), optionally "+", or a (Document)LicenseRef.
        static func isIdentifier(_ token: String) -> Bool {
            var body = Substring(token)
            if body.hasSuffix("+") { body = body.dropLast() }
            return !body.isEmpty && body.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == ":") }
        }
    }
}
