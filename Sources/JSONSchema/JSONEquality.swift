import Foundation
import JSON

/// Numbers as JSON Schema compares them: by value, exactly (decimal, from the lexeme), so
/// that `1` equals `1.0` and `0.0075` is a multiple of `0.0001`.
enum JSONNumber {
    static func decimal(_ lexeme: String) -> Decimal {
        Decimal(string: lexeme, locale: Locale(identifier: "en_US_POSIX")) ?? .nan
    }

    /// "A number with a zero fractional part is an integer" (draft 6+; draft 4's test suite agrees).
    static func isInteger(_ lexeme: String) -> Bool {
        if !lexeme.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return true }
        let value = decimal(lexeme)
        guard value.isFinite else { return false }
        var rounded = Decimal()
        var copy = value
        NSDecimalRound(&rounded, &copy, 0, .plain)
        return rounded == value
    }

    static func isMultiple(_ value: Decimal, of divisor: Decimal) -> Bool {
        guard divisor != 0, value.isFinite, divisor.isFinite else { return false }
        let quotient = value / divisor
        guard quotient.isFinite else { return false }
        var rounded = Decimal()
        var copy = quotient
        NSDecimalRound(&rounded, &copy, 0, .plain)
        return rounded == quotient
    }

    /// A non-negative integer keyword value (`maxLength`, `minItems`, …).
    static func integer(_ value: JSONValue) -> Int? {
        guard case .number(let lexeme) = value, isInteger(lexeme) else { return nil }
        return Int(exactly: NSDecimalNumber(decimal: decimal(lexeme)).doubleValue)
    }
}

enum JSONEquality {
    /// JSON Schema's instance equality: same type, numbers by value, objects by member set.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        // Code points, not Swift's canonical equivalence ("é" and "e\u{301}" differ in JSON).
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.number(let x), .number(let y)): return x == y || JSONNumber.decimal(x) == JSONNumber.decimal(y)
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.members.allSatisfy { member in y[member.key].map { equal(member.value, $0) } ?? false }
        default: return false
        }
    }

    /// A text equal for equal values (keys sorted, numbers normalised): `uniqueItems` in linear time.
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .null: return "n"
        case .bool(let flag): return flag ? "t" : "f"
        case .string(let text): return "s" + JSONWriter.encodeString(.string(text))
        case .number(let lexeme): return "#" + JSONNumber.decimal(lexeme).description
        case .array(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
        case .object(let object):
            return "{" + object.members.sorted { $0.key < $1.key }
                .map { JSONWriter.encodeString(.string($0.key)) + ":" + canonical($0.value) }.joined(separator: ",") + "}"
        }
    }
}

/// `format` assertions for the formats the SARIF, SPDX and CycloneDX schemas use; other
/// formats are annotations (draft 7 leaves asserting them to the implementation).
enum Formats {
    static func accepts(_ text: String, format: String) -> Bool {
        switch format {
        case "date-time": return isDateTime(text)
        case "uri": return URIReference.hasScheme(text) && !text.contains(where: { $0 == " " || $0 == "\\" })
        case "email", "idn-email":
            guard let at = text.lastIndex(of: "@") else { return false }
            return at != text.startIndex && text.index(after: at) != text.endIndex
        default: return true
        }
    }

    /// RFC 3339 §5.6 `date-time`: full-date "T" full-time, with a time offset.
    static func isDateTime(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<from + count] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, let year = digits(0, 4), bytes[4] == 45, let month = digits(5, 2), bytes[7] == 45,
              let day = digits(8, 2), bytes[10] == 84 || bytes[10] == 116, let hour = digits(11, 2), bytes[13] == 58,
              let minute = digits(14, 2), bytes[16] == 58, let second = digits(17, 2) else { return false }
        let days = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour < 24, minute < 60, second <= 60 else { return false }
        var index = 19
        if index < bytes.count && bytes[index] == 46 {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= 48 && bytes[index] <= 57 { index += 1 }
            guard index > start else { return false }
        }
        guard index < bytes.count else { return false }
        if bytes[index] == 90 || bytes[index] == 122 { return index + 1 == bytes.count }
        guard bytes[index] == 43 || bytes[index] == 45, let offsetHour = digits(index + 1, 2), index + 3 < bytes.count,
              bytes[index + 3] == 58, let offsetMinute = digits(index + 4, 2), index + 6 == bytes.count else { return false }
        return offsetHour < 24 && offsetMinute < 60
    }
}

/// The format checks, for callers outside a schema.
public enum JSONSchemaFormats {
    /// RFC 3339 `date-time`, as the `date-time` format asserts it.
    public static func isDateTime(_ text: String) -> Bool { Formats.isDateTime(text) }
}
