import Foundation

/// A built-in given arguments it does not accept: the call is undefined (OPA's default).
struct BuiltinFailure: Error {
    let message: String
}

/// The built-in functions Ratify's policies and the Gatekeeper library call, with OPA's
/// semantics. A name not here (and not a function of the policy) is refused when the policy loads.
enum Builtins {
    /// name → accepted argument counts.
    static let arities: [String: Set<Int>] = [
        "equal": [2], "neq": [2], "lt": [2], "lte": [2], "gt": [2], "gte": [2],
        "plus": [2], "minus": [2], "mul": [2], "div": [2], "rem": [2], "or": [2], "and": [2],
        "count": [1], "sum": [1], "product": [1], "max": [1], "min": [1], "sort": [1], "abs": [1], "round": [1], "ceil": [1], "floor": [1],
        "startswith": [2], "endswith": [2], "contains": [2], "lower": [1], "upper": [1], "split": [2], "concat": [2],
        "sprintf": [2], "trim": [2], "trim_space": [1], "trim_prefix": [2], "trim_suffix": [2], "replace": [3], "substring": [3], "indexof": [2],
        "to_number": [1], "format_int": [2],
        "is_string": [1], "is_number": [1], "is_boolean": [1], "is_array": [1], "is_object": [1], "is_set": [1], "is_null": [1], "type_name": [1],
        "regex.match": [2], "object.get": [3], "object.keys": [1], "object.remove": [2], "array.concat": [2], "array.slice": [3],
        "union": [1], "intersection": [1],
        "time.now_ns": [0], "time.parse_rfc3339_ns": [1], "units.parse": [1], "units.parse_bytes": [1],
        "walk": [1], "json.marshal": [1], "print": Set(0...16), "set": [0],
    ]

    static func call(_ name: String, _ a: [RegoValue], context: Evaluation) throws -> [RegoValue] {
        func fail(_ message: String = "") -> BuiltinFailure { BuiltinFailure(message: "\(name): \(message)") }
        func string(_ i: Int) throws -> String {
            guard case .string(let s) = a[i] else { throw fail("argument \(i + 1) must be a string") }
            return s
        }
        func number(_ i: Int) throws -> RegoNumber {
            guard case .number(let n) = a[i] else { throw fail("argument \(i + 1) must be a number") }
            return n
        }
        func one(_ value: RegoValue) -> [RegoValue] { [value] }
        switch name {
        case "equal": return one(.bool(a[0] == a[1]))
        case "neq": return one(.bool(a[0] != a[1]))
        case "lt": return one(.bool(a[0] < a[1]))
        case "lte": return one(.bool(a[0] < a[1] || a[0] == a[1]))
        case "gt": return one(.bool(a[1] < a[0]))
        case "gte": return one(.bool(a[1] < a[0] || a[0] == a[1]))
        case "plus", "mul":
            if case .number = a[0], case .number = a[1] {
                return one(.number(arithmetic(name, try number(0), try number(1))))
            }
            throw fail("operands must be numbers")
        case "minus":
            if case .set(let x) = a[0], case .set = a[1] { return one(.set(of: x.filter { !a[1].contains(element: $0) })) }
            return one(.number(arithmetic(name, try number(0), try number(1))))
        case "div":
            let divisor = try number(1)
            guard divisor.double != 0 else { throw fail("divide by zero") }
            return one(.number(arithmetic(name, try number(0), divisor)))
        case "rem":
            guard let x = try number(0).intValue, let y = try number(1).intValue else { throw fail("modulo on non-integers") }
            guard y != 0 else { throw fail("modulo by zero") }
            let (remainder, overflow) = x.remainderReportingOverflow(dividingBy: y)
            guard !overflow else { throw fail("modulo overflows") }
            return one(.int(remainder))
        case "or", "and":
            guard case .set(let x) = a[0], case .set(let y) = a[1] else { throw fail("operands must be sets") }
            return one(name == "or" ? .set(of: x + y) : .set(of: x.filter { a[1].contains(element: $0) }))
        case "count":
            switch a[0] {
            case .array(let x): return one(.int(x.count))
            case .set(let x): return one(.int(x.count))
            case .object(let x): return one(.int(x.count))
            case .string(let s): return one(.int(s.unicodeScalars.count))
            default: throw fail("argument must be a collection or string")
            }
        case "sum", "product":
            let items = try numbers(a[0], fail)
            if name == "sum" { return one(.number(items.reduce(RegoNumber.int(0)) { arithmetic("plus", $0, $1) })) }
            return one(.number(items.reduce(RegoNumber.int(1)) { arithmetic("mul", $0, $1) }))
        case "max", "min":
            let items: [RegoValue]
            switch a[0] {
            case .array(let x), .set(let x): items = x
            default: throw fail("argument must be an array or set")
            }
            guard !items.isEmpty else { return [] }
            return one(name == "max" ? items.max()! : items.min()!)
        case "sort":
            if case .array(let x) = a[0] { try context.charge(x.count) }
            switch a[0] {
            case .array(let x), .set(let x): return one(.array(x.sorted()))
            default: throw fail("argument must be an array or set")
            }
        case "abs": return one(.number(RegoNumber.normalized(abs(try number(0).double)).preferInt(try number(0))))
        case "round": return one(.number(.normalized((try number(0).double).rounded(.toNearestOrAwayFromZero))))
        case "ceil": return one(.number(.normalized((try number(0).double).rounded(.up))))
        case "floor": return one(.number(.normalized((try number(0).double).rounded(.down))))
        case "startswith": return one(.bool(try string(0).unicodeScalars.starts(with: try string(1).unicodeScalars)))
        case "endswith": return one(.bool(Array(try string(0).unicodeScalars).reversed().starts(with: Array(try string(1).unicodeScalars).reversed())))
        case "contains":
            let haystack = try string(0), needle = try string(1)
            return one(.bool(needle.isEmpty || haystack.range(of: needle, options: .literal) != nil))
        case "lower": return one(.string(try string(0).lowercased()))
        case "upper": return one(.string(try string(0).uppercased()))
        case "split":
            let text = try string(0), separator = try string(1)
            let parts = separator.isEmpty ? text.unicodeScalars.map { String($0) } : text.components(separatedBy: separator)
            return one(.array(parts.map { .string($0) }))
        case "concat":
            let separator = try string(0)
            let items: [RegoValue]
            switch a[1] {
            case .array(let x), .set(let x): items = x
            default: throw fail("argument 2 must be an array or set of strings")
            }
            var parts: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw fail("argument 2 must hold strings") }
                parts.append(s)
            }
            return one(.string(parts.joined(separator: separator)))
        case "sprintf":
            guard case .array(let values) = a[1] else { throw fail("argument 2 must be an array") }
            return one(.string(try format(try string(0), values, fail)))
        case "trim":
            let cut = Set(try string(1).unicodeScalars)
            var scalars = Array(try string(0).unicodeScalars)
            while let first = scalars.first, cut.contains(first) { scalars.removeFirst() }
            while let last = scalars.last, cut.contains(last) { scalars.removeLast() }
            return one(.string(String(String.UnicodeScalarView(scalars))))
        case "trim_space": return one(.string(try string(0).trimmingCharacters(in: .whitespacesAndNewlines)))
        case "trim_prefix":
            let text = try string(0), prefix = try string(1)
            return one(.string(text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text))
        case "trim_suffix":
            let text = try string(0), suffix = try string(1)
            return one(.string(text.hasSuffix(suffix) ? String(text.dropLast(suffix.count)) : text))
        case "replace":
            let text = try string(0), old = try string(1), new = try string(2)
            return one(.string(old.isEmpty ? text : text.replacingOccurrences(of: old, with: new)))
        case "substring":
            let scalars = Array(try string(0).unicodeScalars)
            guard let start = try number(1).intValue, let length = try number(2).intValue, start >= 0 else { throw fail("bad offset") }
            guard start < scalars.count else { return one(.string("")) }
            let end = length < 0 ? scalars.count : min(scalars.count, length > scalars.count ? scalars.count : start + length)
            return one(.string(String(String.UnicodeScalarView(scalars[start..<end]))))
        case "indexof":
            let text = Array(try string(0).unicodeScalars), needle = Array(try string(1).unicodeScalars)
            guard !needle.isEmpty else { throw fail("empty search string") }
            if needle.count <= text.count {
                for start in 0...(text.count - needle.count) where Array(text[start..<start + needle.count]) == needle { return one(.int(start)) }
            }
            return one(.int(-1))
        case "to_number":
            switch a[0] {
            case .number: return one(a[0])
            case .bool(let b): return one(.int(b ? 1 : 0))
            case .null: return one(.int(0))
            case .string(let s):
                // A JSON number's lexeme only (no inf, nan, hex); out-of-range values are refused.
                guard JSONNumberGrammar.isNumber(s), let n = RegoNumber(lexeme: s), n.double.isFinite else { throw fail("not a number") }
                return one(.number(n))
            default: throw fail("cannot convert \(a[0].typeName)")
            }
        case "format_int":
            guard let value = try number(0).intValue.map({ $0 }) ?? Int(exactly: try number(0).double.rounded(.towardZero)),
                  let base = try number(1).intValue, [2, 8, 10, 16].contains(base) else { throw fail("bad base") }
            return one(.string(String(value, radix: base)))
        case "is_string": return one(.bool(a[0].typeName == "string"))
        case "is_number": return one(.bool(a[0].typeName == "number"))
        case "is_boolean": return one(.bool(a[0].typeName == "boolean"))
        case "is_array": return one(.bool(a[0].typeName == "array"))
        case "is_object": return one(.bool(a[0].typeName == "object"))
        case "is_set": return one(.bool(a[0].typeName == "set"))
        case "is_null": return one(.bool(a[0].typeName == "null"))
        case "type_name": return one(.string(a[0].typeName))
        case "regex.match":
            let pattern = try string(0), text = try string(1)
            try context.charge(text.utf8.count / 64)
            do {
                return one(.bool(try RE2.matches(pattern, text)))
            } catch let unsupported as RE2.Unsupported {
                // Not an undefined (which `not` would turn into true): the evaluation stops.
                throw context.error("regex.match: \(unsupported.message)")
            }
        case "object.get":
            guard case .object = a[0] else { throw fail("argument 1 must be an object") }
            if case .array(let path) = a[1] {
                var current = a[0]
                for key in path {
                    guard let next = context.index(current, key) else { return one(a[2]) }
                    current = next
                }
                return one(current)
            }
            return one(a[0][a[1]] ?? a[2])
        case "object.keys":
            guard case .object(let pairs) = a[0] else { throw fail("argument must be an object") }
            return one(.set(of: pairs.map(\.key)))
        case "object.remove":
            guard case .object(let pairs) = a[0] else { throw fail("argument 1 must be an object") }
            let remove: [RegoValue]
            switch a[1] {
            case .array(let x), .set(let x): remove = x
            case .object(let x): remove = x.map(\.key)
            default: throw fail("argument 2 must be a collection")
            }
            return one(.makeObject(pairs.filter { !remove.contains($0.key) }.map { ($0.key, $0.value) }))
        case "array.concat":
            guard case .array(let x) = a[0], case .array(let y) = a[1] else { throw fail("arguments must be arrays") }
            return one(.array(x + y))
        case "array.slice":
            guard case .array(let x) = a[0], let start = try number(1).intValue, let stop = try number(2).intValue else { throw fail("bad arguments") }
            let from = max(0, start), to = min(x.count, stop)
            return one(.array(from < to ? Array(x[from..<to]) : []))
        case "union", "intersection":
            guard case .set(let sets) = a[0] else { throw fail("argument must be a set of sets") }
            var members: [[RegoValue]] = []
            for item in sets {
                guard case .set(let inner) = item else { throw fail("argument must be a set of sets") }
                members.append(inner)
            }
            if name == "union" { return one(.set(of: members.flatMap { $0 })) }
            guard var result = members.first else { return one(.set([])) }
            for other in members.dropFirst() { result = result.filter { RegoValue.set(other).contains(element: $0) } }
            return one(.set(of: result))
        case "time.now_ns": return one(.int(context.nowNs))
        case "time.parse_rfc3339_ns":
            let text = try string(0)
            guard let nanoseconds = RFC3339.nanoseconds(text) else { throw fail("cannot parse \(text) as RFC 3339") }
            return one(.int(nanoseconds))
        case "units.parse", "units.parse_bytes":
            guard let value = Units.parse(try string(0), bytes: name == "units.parse_bytes") else { throw fail("cannot parse") }
            return one(.number(value))
        case "walk":
            var out: [RegoValue] = []
            walk(a[0], path: [], into: &out, limit: context.limits.maxSteps)
            try context.charge(out.count)
            return out
        case "json.marshal":
            let text = JSONCanonical.encode(a[0])
            try context.charge(text.utf8.count / 16)
            return one(.string(text))
        case "print": return one(.bool(true))
        case "set": return one(.set([]))
        default:
            throw fail("unknown built-in")
        }
    }

    static func arithmetic(_ op: String, _ x: RegoNumber, _ y: RegoNumber) -> RegoNumber {
        if case .int(let a) = x, case .int(let b) = y {
            switch op {
            case "plus": let (r, o) = a.addingReportingOverflow(b); if !o { return .int(r) }
            case "minus": let (r, o) = a.subtractingReportingOverflow(b); if !o { return .int(r) }
            case "mul": let (r, o) = a.multipliedReportingOverflow(by: b); if !o { return .int(r) }
            case "div":
                let (remainder, overflow) = a.remainderReportingOverflow(dividingBy: b)
                if b != 0 && !overflow && remainder == 0 { return .int(a / b) }
            default: break
            }
        }
        switch op {
        case "plus": return .normalized(x.double + y.double)
        case "minus": return .normalized(x.double - y.double)
        case "mul": return .normalized(x.double * y.double)
        default: return .normalized(x.double / y.double)
        }
    }

    static func numbers(_ value: RegoValue, _ fail: (String) -> BuiltinFailure) throws -> [RegoNumber] {
        let items: [RegoValue]
        switch value {
        case .array(let x), .set(let x): items = x
        default: throw fail("argument must be an array or set of numbers")
        }
        return try items.map { item in
            guard case .number(let n) = item else { throw fail("argument must hold numbers") }
            return n
        }
    }

    /// `walk(x)`: [path, value] for x and every value inside it, parents first.
    static func walk(_ value: RegoValue, path: [RegoValue], into out: inout [RegoValue], limit: Int) {
        guard out.count < limit else { return }
        out.append(.array([.array(path), value]))
        switch value {
        case .array(let items): for (i, item) in items.enumerated() { walk(item, path: path + [.int(i)], into: &out, limit: limit) }
        case .object(let pairs): for pair in pairs { walk(pair.value, path: path + [pair.key], into: &out, limit: limit) }
        case .set(let items): for item in items { walk(item, path: path + [item], into: &out, limit: limit) }
        default: break
        }
    }

    /// Go's fmt verbs as OPA's sprintf applies them: %v %s %d %f (with precision) %q %x %%.
    static func format(_ pattern: String, _ values: [RegoValue], _ fail: (String) -> BuiltinFailure) throws -> String {
        var out = ""
        var scalars = Array(pattern.unicodeScalars)[...]
        var next = 0
        while let c = scalars.popFirst() {
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            var spec = ""
            while let f = scalars.first, "0123456789.+-# ".unicodeScalars.contains(f) { spec.unicodeScalars.append(f); scalars.removeFirst() }
            guard let verb = scalars.popFirst() else { out += "%!(NOVERB)"; break }
            if verb == "%" { out += "%"; continue }
            guard next < values.count else { out += "%!\(verb)(MISSING)"; continue }
            let value = values[next]
            next += 1
            switch verb {
            case "v", "s": out += text(value)
            case "d":
                if case .number(let n) = value, let i = n.intValue { out += String(i) } else { out += "%!d(\(text(value)))" }
            case "f":
                guard case .number(let n) = value else { out += "%!f(\(text(value)))"; continue }
                let precision = spec.split(separator: ".").last.flatMap { spec.contains(".") ? Int($0) : nil } ?? 6
                guard (0...64).contains(precision) else { out += "%!f(BADPREC)"; continue }
                out += String(format: "%.\(precision)f", n.double)
            case "q":
                if case .string(let s) = value { out += JSONCanonical.encode(.string(s)) } else { out += text(value) }
            case "x":
                if case .number(let n) = value, let i = n.intValue { out += String(i, radix: 16) }
                else if case .string(let s) = value { out += s.utf8.map { String(format: "%02x", $0) }.joined() }
                else { out += "%!x(\(text(value)))" }
            default:
                out += "%!\(verb)(\(text(value)))"
            }
        }
        if next < values.count { out += "%!(EXTRA " + values[next...].map(text).joined(separator: ", ") + ")" }
        return out
    }

    /// A value as OPA prints it in sprintf's %v: strings bare, everything else as Rego text.
    static func text(_ value: RegoValue) -> String {
        if case .string(let s) = value { return s }
        return regoText(value)
    }

    static func regoText(_ value: RegoValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n.lexeme
        case .string(let s): return JSONCanonical.encode(.string(s))
        case .array(let items): return "[" + items.map(regoText).joined(separator: ", ") + "]"
        case .set(let items): return items.isEmpty ? "set()" : "{" + items.map(regoText).joined(separator: ", ") + "}"
        case .object(let pairs): return "{" + pairs.map { regoText($0.key) + ": " + regoText($0.value) }.joined(separator: ", ") + "}"
        }
    }
}

extension RegoNumber {
    /// `abs` of an integer stays an integer.
    func preferInt(_ original: RegoNumber) -> RegoNumber {
        if case .int(let i) = original, i != Int.min { return .int(Swift.abs(i)) }
        return self
    }
}

/// RFC 3339 date-times to Unix nanoseconds (time.parse_rfc3339_ns).
enum RFC3339 {
    static func nanoseconds(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<from + count] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, let year = digits(0, 4), bytes[4] == 45, let month = digits(5, 2), bytes[7] == 45, let day = digits(8, 2),
              bytes[10] == 84 || bytes[10] == 116, let hour = digits(11, 2), bytes[13] == 58, let minute = digits(14, 2), bytes[16] == 58,
              let second = digits(17, 2), (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
        // Go's time.Parse: day within its month, seconds 0–59, upper-case T and Z, offsets within ±24h.
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        guard (1...[31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]).contains(day), bytes[10] == 84 else { return nil }
        var index = 19
        var fraction = 0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var places = 0
            while index < bytes.count, (48...57).contains(bytes[index]) {
                if places < 9 { fraction = fraction * 10 + Int(bytes[index] - 48); places += 1 }
                index += 1
            }
            guard places > 0 else { return nil }
            for _ in places..<9 { fraction *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        if bytes[index] == 90 {
            guard index + 1 == bytes.count else { return nil }
        } else {
            guard bytes[index] == 43 || bytes[index] == 45, let oh = digits(index + 1, 2), index + 3 < bytes.count, bytes[index + 3] == 58,
                  let om = digits(index + 4, 2), index + 6 == bytes.count else { return nil }
            guard oh < 24, om < 60 else { return nil }
            offset = (oh * 3600 + om * 60) * (bytes[index] == 43 ? 1 : -1)
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        // Outside what int64 nanoseconds hold (years 1678–2261): undefined, as OPA's "time outside of valid range".
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (total, overflow2) = scaled.addingReportingOverflow(fraction)
        return overflow2 ? nil : total
    }
}

/// units.parse ("10K", "1.5Gi", "200m") and units.parse_bytes ("10KB", "1.5GiB").
enum Units {
    static func parse(_ text: String, bytes: Bool) -> RegoNumber? {
        var body = text.trimmingCharacters(in: .whitespaces)
        body = body.replacingOccurrences(of: "\"", with: "")
        let numberPart = body.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" && false }
        var unit = String(body.dropFirst(numberPart.count))
        guard let value = Double(numberPart) else { return nil }
        if bytes, unit.uppercased().hasSuffix("B") { unit = String(unit.dropLast()) }
        let scale: Double
        switch bytes ? unit.lowercased() : unit {
        case "": scale = 1
        case "m" where !bytes: scale = 0.001
        case "k", "K": scale = 1e3
        case "M": scale = 1e6
        case "g", "G": scale = 1e9
        case "t", "T": scale = 1e12
        case "p", "P": scale = 1e15
        case "e", "E": scale = 1e18
        case "ki", "Ki": scale = 1024
        case "mi", "Mi": scale = 1_048_576
        case "gi", "Gi": scale = 1_073_741_824
        case "ti", "Ti": scale = 1_099_511_627_776
        case "pi", "Pi": scale = 1_125_899_906_842_624
        case "ei", "Ei": scale = 1_152_921_504_606_846_976
        case "m" where bytes: scale = 1e6
        default: return nil
        }
        return .normalized(value * scale)
    }
}

/// RFC 8259's number grammar (to_number accepts nothing else).
enum JSONNumberGrammar {
    static func isNumber(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        guard let first = bytes.first, (48...57).contains(first) else { return false }
        if first == 48 { bytes = bytes.dropFirst() } else { while let b = bytes.first, (48...57).contains(b) { bytes = bytes.dropFirst() } }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard let b = bytes.first, (48...57).contains(b) else { return false }
            while let b = bytes.first, (48...57).contains(b) { bytes = bytes.dropFirst() }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard let b = bytes.first, (48...57).contains(b) else { return false }
            while let b = bytes.first, (48...57).contains(b) { bytes = bytes.dropFirst() }
        }
        return bytes.isEmpty
    }
}

/// Canonical JSON text of a Rego value (json.marshal; sets as arrays).
enum JSONCanonical {
    static func encode(_ value: RegoValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n.lexeme
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
                }
            }
            return out + "\""
        case .array(let items), .set(let items): return "[" + items.map(encode).joined(separator: ",") + "]"
        case .object(let pairs): return "{" + pairs.map { encode(.string($0.key.stringValue ?? encode($0.key))) + ":" + encode($0.value) }.joined(separator: ",") + "}"
        }
    }
}
