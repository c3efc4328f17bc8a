/// A strict CBOR (RFC 8949) decoder for COSE envelopes: a pure function over bytes.
///
/// Strict on purpose — a signature envelope is attacker-controlled input:
/// - definite lengths only (indefinite-length strings, arrays and maps are refused);
/// - nesting depth and item counts are bounded, and a declared length larger than the bytes that
///   remain is an error before anything is allocated;
/// - text strings must be valid UTF-8, maps must not repeat a key, and nothing may follow the
///   top-level item;
/// - integers must fit 64 bits; reserved additional-information values (28–30) are refused.
public indirect enum CBORValue: Equatable, Sendable {
    case unsigned(UInt64)
    /// A negative integer, stored as CBOR does: the value is `-1 - n`.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    case map([CBORMapEntry])
    case tagged(UInt64, CBORValue)
    case bool(Bool)
    case null
    case undefined
    case simple(UInt8)
    case float(Double)

    /// The value as a signed integer when it is an integer that fits `Int`.
    public var intValue: Int? {
        switch self {
        case .unsigned(let n): n <= UInt64(Int.max) ? Int(n) : nil
        case .negative(let n): n <= UInt64(Int.max) ? -1 - Int(n) : nil
        default: nil
        }
    }

    public var textValue: String? { if case .text(let text) = self { text } else { nil } }
    public var bytesValue: [UInt8]? { if case .bytes(let bytes) = self { bytes } else { nil } }
    public var arrayValue: [CBORValue]? { if case .array(let items) = self { items } else { nil } }
    public var mapValue: [CBORMapEntry]? { if case .map(let entries) = self { entries } else { nil } }

    /// Looks a key up in a map value.
    public subscript(key: CBORValue) -> CBORValue? {
        mapValue?.first { $0.key == key }?.value
    }
}

public struct CBORMapEntry: Equatable, Sendable {
    public let key: CBORValue
    public let value: CBORValue
    public init(key: CBORValue, value: CBORValue) { self.key = key; self.value = value }
}

/// Why bytes are not acceptable CBOR, with the byte offset where decoding stopped.
public struct CBORError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case truncated = "CBOR_TRUNCATED"
        case indefiniteLength = "CBOR_INDEFINITE_LENGTH"
        case reserved = "CBOR_RESERVED_VALUE"
        case tooDeep = "CBOR_TOO_DEEP"
        case tooLarge = "CBOR_TOO_LARGE"
        case invalidUTF8 = "CBOR_INVALID_UTF8"
        case duplicateKey = "CBOR_DUPLICATE_KEY"
        case trailingBytes = "CBOR_TRAILING_BYTES"
    }
    public let code: Code
    public let offset: Int
    public var description: String {
        let what = switch code {
        case .truncated: "the data ends inside an item"
        case .indefiniteLength: "indefinite-length items are not accepted"
        case .reserved: "reserved additional information value"
        case .tooDeep: "items nest deeper than \(CBORDecoder.maxDepth) levels"
        case .tooLarge: "a declared length exceeds the data"
        case .invalidUTF8: "a text string is not valid UTF-8"
        case .duplicateKey: "a map repeats a key"
        case .trailingBytes: "bytes follow the top-level item"
        }
        return "\(code.rawValue): \(what) at byte \(offset)"
    }
}

public enum CBORDecoder {
    public static let maxDepth = 16

    /// Decodes exactly one item that spans all of `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(CBORError) -> CBORValue {
        var reader = Reader(bytes: bytes)
        let value = try reader.item(depth: 0)
        guard reader.offset == bytes.count else { throw CBORError(code: .trailingBytes, offset: reader.offset) }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func byte() throws(CBORError) -> UInt8 {
            guard offset < bytes.count else { throw CBORError(code: .truncated, offset: offset) }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ count: UInt64) throws(CBORError) -> ArraySlice<UInt8> {
            guard count <= UInt64(bytes.count - offset) else { throw CBORError(code: .tooLarge, offset: offset) }
            let end = offset + Int(count)
            defer { offset = end }
            return bytes[offset..<end]
        }

        /// The argument of a head: RFC 8949 §3 — additional information 0–23 is the value,
        /// 24–27 say 1/2/4/8 bytes follow, 28–30 are reserved, 31 is indefinite length.
        mutating func argument(_ info: UInt8, at start: Int) throws(CBORError) -> UInt64 {
            switch info {
            case 0...23: return UInt64(info)
            case 24...27:
                var value: UInt64 = 0
                for byte in try take(1 << UInt64(info - 24)) { value = value << 8 | UInt64(byte) }
                return value
            case 31: throw CBORError(code: .indefiniteLength, offset: start)
            default: throw CBORError(code: .reserved, offset: start)
            }
        }

        mutating func item(depth: Int) throws(CBORError) -> CBORValue {
            let start = offset
            guard depth <= CBORDecoder.maxDepth else { throw CBORError(code: .tooDeep, offset: start) }
            let initial = try byte()
            let major = initial >> 5
            let info = initial & 0x1f
            if major == 7 { return try simple(info, at: start) }
            let argument = try argument(info, at: start)
            switch major {
            case 0: return .unsigned(argument)
            case 1: return .negative(argument)
            case 2: return .bytes(Array(try take(argument)))
            case 3:
                let raw = try take(argument)
                guard let text = String(validating: raw, as: UTF8.self) else { throw CBORError(code: .invalidUTF8, offset: start) }
                return .text(text)
            case 4:
                // Every item takes at least one byte: a count beyond what remains is a lie.
                guard argument <= UInt64(bytes.count - offset) else { throw CBORError(code: .tooLarge, offset: start) }
                var items: [CBORValue] = []
                items.reserveCapacity(Int(argument))
                for _ in 0..<argument { items.append(try item(depth: depth + 1)) }
                return .array(items)
            case 5:
                guard argument <= UInt64(bytes.count - offset) / 2 else { throw CBORError(code: .tooLarge, offset: start) }
                var entries: [CBORMapEntry] = []
                entries.reserveCapacity(Int(argument))
                for _ in 0..<argument {
                    let keyOffset = offset
                    let key = try item(depth: depth + 1)
                    guard !entries.contains(where: { $0.key == key }) else { throw CBORError(code: .duplicateKey, offset: keyOffset) }
                    entries.append(CBORMapEntry(key: key, value: try item(depth: depth + 1)))
                }
                return .map(entries)
            default: // 6: tag
                return .tagged(argument, try item(depth: depth + 1))
            }
        }

        mutating func simple(_ info: UInt8, at start: Int) throws(CBORError) -> CBORValue {
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 23: return .undefined
            case 0...19: return .simple(info)
            case 24:
                let value = try byte()
                // RFC 8949 §3.3: simple values 0–31 encoded in an extra byte are not well-formed.
                guard value >= 32 else { throw CBORError(code: .reserved, offset: start) }
                return .simple(value)
            case 25:
                let raw = try take(2)
                return .float(Double(Float16Bits.decode(UInt16(raw[raw.startIndex]) << 8 | UInt16(raw[raw.startIndex + 1]))))
            case 26:
                var bits: UInt32 = 0
                for byte in try take(4) { bits = bits << 8 | UInt32(byte) }
                return .float(Double(Float(bitPattern: bits)))
            case 27:
                var bits: UInt64 = 0
                for byte in try take(8) { bits = bits << 8 | UInt64(byte) }
                return .float(Double(bitPattern: bits))
            case 31: throw CBORError(code: .indefiniteLength, offset: start)  // a "break" with nothing open
            default: throw CBORError(code: .reserved, offset: start)
            }
        }
    }
}

/// IEEE 754 half precision, decoded by hand (RFC 8949 Appendix D) so no platform Float16 is needed.
enum Float16Bits {
    static func decode(_ half: UInt16) -> Float {
        let exponent = Int((half >> 10) & 0x1f)
        let mantissa = Float(half & 0x3ff)
        let magnitude: Float = switch exponent {
        case 0: mantissa * 0x1p-24
        case 31: mantissa == 0 ? .infinity : .nan
        default: (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
        return half & 0x8000 != 0 ? -magnitude : magnitude
    }
}

/// The few encodings a COSE verifier has to produce itself: the `Sig_structure` (RFC 9052 §4.4)
/// is an array of a text string and byte strings, encoded with definite lengths.
public enum CBOREncoder {
    public static func head(major: UInt8, _ argument: UInt64) -> [UInt8] {
        let type = major << 5
        switch argument {
        case 0...23: return [type | UInt8(argument)]
        case 24...0xff: return [type | 24, UInt8(argument)]
        case 0x100...0xffff: return [type | 25] + bigEndian(argument, count: 2)
        case 0x10000...0xffff_ffff: return [type | 26] + bigEndian(argument, count: 4)
        default: return [type | 27] + bigEndian(argument, count: 8)
        }
    }

    public static func bytes(_ value: [UInt8]) -> [UInt8] { head(major: 2, UInt64(value.count)) + value }
    public static func text(_ value: String) -> [UInt8] { head(major: 3, UInt64(value.utf8.count)) + Array(value.utf8) }
    public static func arrayHead(_ count: Int) -> [UInt8] { head(major: 4, UInt64(count)) }

    private static func bigEndian(_ value: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - $0))) }
    }
}
