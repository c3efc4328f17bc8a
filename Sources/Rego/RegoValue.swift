import JSON

/// A Rego value: JSON's values plus sets, with objects keyed by any value. Sets and objects are
/// kept sorted in Rego's total order (null < boolean < number < string < array < object < set),
/// so iteration, output and equality are deterministic.
public indirect enum RegoValue: Sendable, Hashable, Comparable {
    case null
    case bool(Bool)
    case number(RegoNumber)
    case string(String)
    case array([RegoValue])
    /// Sorted by key, keys unique.
    case object([RegoPair])
    /// Sorted, unique.
    case set([RegoValue])

    public static func makeObject(_ pairs: [(RegoValue, RegoValue)]) -> RegoValue {
        var sorted = pairs.map { RegoPair(key: $0.0, value: $0.1) }.sorted { $0.key < $1.key }
        var unique: [RegoPair] = []
        unique.reserveCapacity(sorted.count)
        for pair in sorted {
            if let last = unique.last, last.key == pair.key { unique[unique.count - 1] = pair } else { unique.append(pair) }
        }
        sorted = unique
        return .object(sorted)
    }

    public static func set(of values: [RegoValue]) -> RegoValue {
        var sorted = values.sorted()
        var unique: [RegoValue] = []
        unique.reserveCapacity(sorted.count)
        for value in sorted where unique.last != value { unique.append(value) }
        sorted = unique
        return .set(sorted)
    }

    public static func int(_ value: Int) -> RegoValue { .number(.int(value)) }

    var rank: Int {
        switch self {
        case .null: 0
        case .bool: 1
        case .number: 2
        case .string: 3
        case .array: 4
        case .object: 5
        case .set: 6
        }
    }

    public static func < (lhs: RegoValue, rhs: RegoValue) -> Bool {
        switch (lhs, rhs) {
        case (.bool(let a), .bool(let b)): return !a && b
        case (.number(let a), .number(let b)): return a < b
        case (.string(let a), .string(let b)): return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a.lexicographicallyPrecedes(b)
        case (.set(let a), .set(let b)): return a.lexicographicallyPrecedes(b)
        case (.object(let a), .object(let b)):
            for (x, y) in zip(a, b) {
                if x.key != y.key { return x.key < y.key }
                if x.value != y.value { return x.value < y.value }
            }
            return a.count < b.count
        default: return lhs.rank < rhs.rank
        }
    }

    public static func == (lhs: RegoValue, rhs: RegoValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        case (.set(let a), .set(let b)): return a == b
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rank)
        switch self {
        case .null: break
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s): for scalar in s.unicodeScalars { hasher.combine(scalar.value) }
        case .array(let a): hasher.combine(a)
        case .object(let o): hasher.combine(o)
        case .set(let s): hasher.combine(s)
        }
    }

    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        case .set: "set"
        }
    }

    /// Object member lookup (binary search over sorted keys).
    public subscript(key: RegoValue) -> RegoValue? {
        guard case .object(let pairs) = self else { return nil }
        var low = 0, high = pairs.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if pairs[middle].key == key { return pairs[middle].value }
            if pairs[middle].key < key { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }

    public func contains(element: RegoValue) -> Bool {
        guard case .set(let values) = self else { return false }
        var low = 0, high = values.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if values[middle] == element { return true }
            if values[middle] < element { low = middle + 1 } else { high = middle - 1 }
        }
        return false
    }

    // MARK: JSON

    public init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let lexeme): self = .number(RegoNumber(lexeme: lexeme) ?? .double(Double(lexeme) ?? 0))
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(RegoValue.init(json:)))
        case .object(let object): self = .makeObject(object.members.map { (RegoValue.string($0.key), RegoValue(json: $0.value)) })
        }
    }

    /// JSON for output: sets become sorted arrays; non-string object keys their JSON text.
    public var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .number(let n): .number(n.lexeme)
        case .string(let s): .string(s)
        case .array(let items): .array(items.map(\.json))
        case .set(let items): .array(items.map(\.json))
        case .object(let pairs):
            .object(JSONObject(pairs.map { pair in
                (key: pair.key.stringValue ?? JSONWriter.encodeString(pair.key.json), value: pair.value.json)
            }))
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
}

public struct RegoPair: Sendable, Hashable {
    public var key: RegoValue
    public var value: RegoValue
}

/// Rego numbers: integers exactly (time.now_ns needs 64 bits), others as doubles.
public enum RegoNumber: Sendable, Hashable, Comparable {
    case int(Int)
    case double(Double)

    public init?(lexeme: String) {
        if let value = Int(lexeme) {
            self = .int(value)
        } else if let value = Double(lexeme) {
            self = RegoNumber.normalized(value)
        } else {
            return nil
        }
    }

    /// A double with no fraction that fits an Int is that Int (1.0 == 1).
    static func normalized(_ value: Double) -> RegoNumber {
        if value.isFinite, value == value.rounded(), abs(value) < 9.0e15 { return .int(Int(value)) }
        return .double(value)
    }

    public var double: Double {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        }
    }

    public var intValue: Int? {
        switch self {
        case .int(let i): i
        case .double(let d): d.isFinite && d == d.rounded() && abs(d) < 9.2e18 ? Int(d) : nil
        }
    }

    public static func < (lhs: RegoNumber, rhs: RegoNumber) -> Bool {
        if case .int(let a) = lhs, case .int(let b) = rhs { return a < b }
        return lhs.double < rhs.double
    }

    public static func == (lhs: RegoNumber, rhs: RegoNumber) -> Bool {
        if case .int(let a) = lhs, case .int(let b) = rhs { return a == b }
        return lhs.double == rhs.double
    }

    public func hash(into hasher: inout Hasher) {
        if let i = intValue { hasher.combine(i) } else { hasher.combine(double) }
    }

    public var lexeme: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 1e21 { return String(format: "%.0f", d) }
            return "\(d)"
        }
    }
}

import Foundation
