/// A JSON document as a value. Objects keep their members in document order so that what we
/// encode reads in the order we built it (Go's encoder writes struct fields in declaration order,
/// and Gatekeeper users diff our output against Ratify's).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's lexeme exactly as written (validated against RFC 8259's grammar), so that
    /// large integers and decimals round-trip without floating-point loss.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var isNull: Bool { self == .null }
    public var intValue: Int? { if case .number(let n) = self { Int(n) } else { nil } }
    public var doubleValue: Double? { if case .number(let n) = self { Double(n) } else { nil } }

    /// The JSON type name used in error messages ("expected string, found array").
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// A rough size in bytes (strings, numbers and keys plus a little per value), for cache
    /// bounds: computed without encoding the document.
    public var estimatedBytes: Int {
        switch self {
        case .null, .bool: 8
        case .number(let n): 16 + n.utf8.count
        case .string(let s): 16 + s.utf8.count
        case .array(let a): a.reduce(16) { $0 + $1.estimatedBytes }
        case .object(let o): o.members.reduce(16) { $0 + 16 + $1.key.utf8.count + $1.value.estimatedBytes }
        }
    }
}

/// An object's members in document order. Lookups are linear: the objects we handle are small,
/// and a dictionary would lose the order.
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)]

    public init() { members = [] }
    public init(_ members: [(key: String, value: JSONValue)]) { self.members = members }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { (key: $0.0, value: $0.1) }
    }

    public var keys: [String] { members.map(\.key) }
    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }

    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key: key, value: newValue))
            }
        }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
    public init(nilLiteral: ()) { self = .null }
}
