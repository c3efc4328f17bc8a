/// A strict RFC 8259 parser over bytes. It refuses what Go's encoding/json refuses (and a little
/// more: duplicate object keys are an error by default, because a configuration or a request that
/// says the same thing twice is ambiguous and must never be read the lenient way).
public struct JSONParser {
    public struct Options: Sendable {
        public var maximumDepth: Int = 256
        public var rejectDuplicateKeys: Bool = true
        /// Values (objects, arrays, strings, numbers, literals) in one document. Each costs tens
        /// of bytes of memory once parsed, so a few MB of `[0,0,0,…]` from a registry or a
        /// request would otherwise cost hundreds of MB. 100,000 is far more than any manifest,
        /// index, referrers list, signature envelope or ProviderRequest holds.
        public var maximumValues: Int = 100_000
        public init() {}

        /// The Kubernetes API server's lists (every Ratify resource and secret of a large cluster).
        public static var apiServer: Options {
            var options = Options()
            options.maximumValues = 5_000_000
            return options
        }
    }

    public static func parse(_ bytes: some Collection<UInt8>, options: Options = Options()) throws(JSONError) -> JSONValue {
        try parseCounting(bytes, options: options).value
    }

    /// `parse`, also returning how many key comparisons duplicate detection made (the work that
    /// was quadratic: tests hold it linear without timing anything).
    public static func parseCounting(_ bytes: some Collection<UInt8>, options: Options = Options()) throws(JSONError) -> (value: JSONValue, keyComparisons: Int) {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(JSONError) -> (value: JSONValue, keyComparisons: Int) in
            var parser = Cursor(bytes: buffer, options: options)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else {
                throw parser.error(.trailingData, "unexpected data after the top-level value")
            }
            return (value, parser.keyComparisons)
        }
    }

    public static func parse(_ string: String, options: Options = Options()) throws(JSONError) -> JSONValue {
        try parse(Array(string.utf8), options: options)
    }

    public static func parseCounting(_ string: String, options: Options = Options()) throws(JSONError) -> (value: JSONValue, keyComparisons: Int) {
        try parseCounting(Array(string.utf8), options: options)
    }
}

private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    let options: JSONParser.Options
    var index = 0
    var values = 0
    var keyComparisons = 0

    init(bytes: UnsafeBufferPointer<UInt8>, options: JSONParser.Options) {
        self.bytes = bytes
        self.options = options
    }

    func error(_ code: JSONError.Code, _ detail: String) -> JSONError {
        JSONError(code: code, offset: index, detail: detail)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    func peek() throws(JSONError) -> UInt8 {
        guard index < bytes.count else { throw error(.unexpectedEnd, "document ends early") }
        return bytes[index]
    }

    mutating func expect(_ literal: StaticString, value: JSONValue) throws(JSONError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error(.unexpectedEnd, "document ends inside a literal") }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw error(.unexpectedByte, "invalid literal, expected \(literal)")
        }
        index += count
        return value
    }

    mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        guard depth <= options.maximumDepth else {
            throw error(.tooDeep, "nesting deeper than \(options.maximumDepth) levels")
        }
        values += 1
        guard values <= options.maximumValues else {
            throw error(.tooLarge, "more than \(options.maximumValues) values in one document")
        }
        switch try peek() {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
        case UInt8(ascii: "n"): return try expect("null", value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case let byte: throw error(.unexpectedByte, "unexpected character '\(printable(byte))'")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONError) -> JSONValue {
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        // Duplicate keys: a scan of the few members most objects have, a set once there are
        // more (a scan per member is quadratic: 100k members took 35 s).
        var seen: Set<String>?
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") { index += 1; return .object(JSONObject(members)) }
        while true {
            skipWhitespace()
            guard try peek() == UInt8(ascii: "\"") else { throw error(.unexpectedByte, "expected a string object key") }
            let keyOffset = index
            let key = try parseString()
            if options.rejectDuplicateKeys {
                let duplicate: Bool
                if seen == nil, members.count < 16 {
                    keyComparisons += members.count
                    duplicate = members.contains(where: { $0.key == key })
                } else {
                    if seen == nil { seen = Set(members.map(\.key)) }
                    keyComparisons += 1
                    duplicate = !seen!.insert(key).inserted
                }
                if duplicate {
                    throw JSONError(code: .duplicateKey, offset: keyOffset, detail: "duplicate object key \"\(key)\"")
                }
            }
            skipWhitespace()
            guard try peek() == UInt8(ascii: ":") else { throw error(.unexpectedByte, "expected ':' after object key") }
            index += 1
            skipWhitespace()
            members.append((key: key, value: try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(JSONObject(members))
            default: throw error(.unexpectedByte, "expected ',' or '}' in object")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw error(.unexpectedByte, "expected ',' or ']' in array")
            }
        }
    }

    /// RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )
    mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error(.invalidNumber, "a number needs digits") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error(.invalidNumber, "leading zeros are not allowed") }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error(.invalidNumber, "a fraction needs digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error(.invalidNumber, "an exponent needs digits") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    mutating func parseString() throws(JSONError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                guard let string = String(validating: slice, as: UTF8.self) else {
                    throw JSONError(code: .invalidUTF8, offset: start, detail: "string is not valid UTF-8")
                }
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error(.controlCharacterInString, "unescaped control character in string") }
            index += 1
        }
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard index < bytes.count else { throw error(.unexpectedEnd, "unterminated string") }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let string = String(validating: buffer, as: UTF8.self) else {
                    throw JSONError(code: .invalidUTF8, offset: start, detail: "string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                index += 1
                try parseEscape(into: &buffer)
            case 0..<0x20:
                throw error(.controlCharacterInString, "unescaped control character in string")
            default:
                buffer.append(byte)
                index += 1
            }
        }
    }

    mutating func parseEscape(into buffer: inout [UInt8]) throws(JSONError) {
        let byte = try peek()
        index += 1
        switch byte {
        case UInt8(ascii: "\""): buffer.append(0x22)
        case UInt8(ascii: "\\"): buffer.append(0x5C)
        case UInt8(ascii: "/"): buffer.append(0x2F)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw error(.invalidEscape, "unpaired UTF-16 surrogate in \\u escape")
                }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error(.invalidEscape, "invalid UTF-16 surrogate pair") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error(.invalidEscape, "unpaired UTF-16 surrogate in \\u escape")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw error(.invalidEscape, "invalid code point") }
            buffer.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            throw error(.invalidEscape, "invalid escape '\\\(printable(byte))'")
        }
    }

    mutating func parseHex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error(.unexpectedEnd, "document ends inside a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.invalidEscape, "invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    func printable(_ byte: UInt8) -> String {
        (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16)
    }
}
