import Foundation
import JSON

/// One validation: walks instance and schema together. `record: false` answers only whether
/// the instance is valid (inside `anyOf`, `oneOf`, `not`, `if`, `contains`), stopping at the
/// first failure; `record: true` collects violations, up to the limit.
struct Evaluator {
    let schema: JSONSchema
    let limits: SchemaLimits
    var violations: [SchemaViolation] = []
    var steps = 0
    var exhausted = false
    var references: [String: JSONSchema.Resource] = [:]
    var patterns: [String: Regex<AnyRegexOutput>?] = [:]

    init(schema: JSONSchema, limits: SchemaLimits) {
        self.schema = schema
        self.limits = limits
    }

    mutating func fail(_ record: Bool, _ path: String, _ keyword: String, _ message: @autoclosure () -> String) -> Bool {
        if record && violations.count < limits.maxViolations {
            violations.append(SchemaViolation(instancePath: path, keyword: keyword, message: message()))
        }
        return false
    }

    /// Whether recording should go on after a failure (else the first failure decides).
    var keepGoing: Bool { violations.count < limits.maxViolations && !exhausted }

    mutating func check(_ instance: JSONValue, _ node: JSONValue, base: String, dialect: SchemaDialect, at path: String,
                        depth: Int, record: Bool) -> Bool {
        steps += 1
        if steps > limits.maxSteps { exhausted = true; return false }
        if depth > limits.maxDepth {
            let limit = limits.maxDepth
            return fail(record, path, "$ref", "the schema nests deeper than \(limit) levels here (a $ref cycle?)")
        }
        switch node {
        case .bool(let accept):
            return accept ? true : fail(record, path, "false", "no value is allowed here (the schema is false)")
        case .object(let object):
            return checkObject(instance, object, base: base, dialect: dialect, at: path, depth: depth, record: record)
        default:
            // Refused at load for the root; a non-schema reached through a pointer is a failure.
            return fail(record, path, "", "the schema here is a \(node.typeName), not a schema")
        }
    }

    private mutating func checkObject(_ instance: JSONValue, _ object: JSONObject, base inherited: String, dialect: SchemaDialect,
                                      at path: String, depth: Int, record: Bool) -> Bool {
        // Drafts 4–7: "All other properties in a "$ref" object MUST be ignored."
        if let reference = object["$ref"]?.stringValue {
            guard let target = resolve(reference, base: inherited) else {
                return fail(record, path, "$ref", "$ref \"\(reference)\" reaches no schema")
            }
            return check(instance, target.schema, base: target.base, dialect: target.dialect, at: path, depth: depth + 1, record: record)
        }
        var base = inherited
        if let id = object[dialect.idKeyword]?.stringValue {
            let (withoutFragment, fragment) = URIReference.splitFragment(URIReference.resolve(id, against: inherited))
            if fragment?.isEmpty ?? true { base = withoutFragment }
        }
        var valid = true
        for (keyword, value) in object.members {
            if !valid && !(record && keepGoing) { return false }
            if exhausted { return false }
            let ok: Bool
            switch keyword {
            case "type": ok = checkType(instance, value, at: path, record: record)
            case "enum":
                ok = (value.arrayValue ?? []).contains { JSONEquality.equal($0, instance) }
                    || fail(record, path, keyword, "\(Self.brief(instance)) is not one of the allowed values")
            case "const" where dialect != .draft4:
                ok = JSONEquality.equal(value, instance) || fail(record, path, keyword, "\(Self.brief(instance)) is not the required value \(Self.brief(value))")
            case "multipleOf", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum":
                ok = checkNumber(instance, keyword, value, object, dialect: dialect, at: path, record: record)
            case "maxLength", "minLength", "pattern", "format":
                ok = checkString(instance, keyword, value, at: path, record: record)
            case "items", "additionalItems", "maxItems", "minItems", "uniqueItems", "contains":
                ok = checkArray(instance, keyword, value, object, base: base, dialect: dialect, at: path, depth: depth, record: record)
            case "maxProperties", "minProperties", "required", "properties", "patternProperties", "additionalProperties",
                 "dependencies", "propertyNames":
                ok = checkProperties(instance, keyword, value, object, base: base, dialect: dialect, at: path, depth: depth, record: record)
            case "allOf":
                ok = checkAllOf(instance, value, base: base, dialect: dialect, at: path, depth: depth, record: record)
            case "anyOf":
                let branches = value.arrayValue ?? []
                ok = branches.contains { check(instance, $0, base: base, dialect: dialect, at: path, depth: depth + 1, record: false) }
                    || fail(record, path, keyword, "\(Self.brief(instance)) matches none of the \(branches.count) alternatives (anyOf)")
            case "oneOf":
                var matched = 0
                for branch in value.arrayValue ?? [] where check(instance, branch, base: base, dialect: dialect, at: path, depth: depth + 1, record: false) {
                    matched += 1
                    if matched > 1 { break }
                }
                ok = matched == 1 || fail(record, path, keyword, matched == 0
                    ? "\(Self.brief(instance)) matches none of the alternatives (oneOf)"
                    : "\(Self.brief(instance)) matches more than one alternative (oneOf)")
            case "not":
                ok = !check(instance, value, base: base, dialect: dialect, at: path, depth: depth + 1, record: false)
                    || fail(record, path, keyword, "\(Self.brief(instance)) matches a schema it must not (not)")
            case "if" where dialect == .draft7:
                if check(instance, value, base: base, dialect: dialect, at: path, depth: depth + 1, record: false) {
                    ok = object["then"].map { check(instance, $0, base: base, dialect: dialect, at: path, depth: depth + 1, record: record) } ?? true
                } else {
                    ok = object["else"].map { check(instance, $0, base: base, dialect: dialect, at: path, depth: depth + 1, record: record) } ?? true
                }
            default:
                ok = true  // annotations and unknown keywords
            }
            if !ok { valid = false }
        }
        return valid && !exhausted
    }

    private mutating func checkAllOf(_ instance: JSONValue, _ value: JSONValue, base: String, dialect: SchemaDialect,
                                     at path: String, depth: Int, record: Bool) -> Bool {
        var valid = true
        for branch in value.arrayValue ?? [] where !check(instance, branch, base: base, dialect: dialect, at: path, depth: depth + 1, record: record) {
            valid = false
            if !(record && keepGoing) { return false }
        }
        return valid
    }

    mutating func resolve(_ reference: String, base: String) -> JSONSchema.Resource? {
        let key = base + "\u{0}" + reference
        if let cached = references[key] { return cached }
        guard let resolved = schema.resolve(reference, base: base) else { return nil }
        references[key] = resolved
        return resolved
    }

    // MARK: type, numbers, strings

    private mutating func checkType(_ instance: JSONValue, _ value: JSONValue, at path: String, record: Bool) -> Bool {
        let names = value.stringValue.map { [$0] } ?? (value.arrayValue ?? []).compactMap(\.stringValue)
        if names.contains(where: { Self.hasType(instance, $0) }) { return true }
        return fail(record, path, "type", "expected \(names.joined(separator: " or ")), found \(Self.typeName(instance))")
    }

    static func hasType(_ instance: JSONValue, _ name: String) -> Bool {
        switch (name, instance) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object), ("number", .number): true
        case ("integer", .number(let lexeme)): JSONNumber.isInteger(lexeme)
        default: false
        }
    }

    static func typeName(_ instance: JSONValue) -> String {
        if case .number(let lexeme) = instance { return JSONNumber.isInteger(lexeme) ? "integer" : "number" }
        return instance.typeName
    }

    private mutating func checkNumber(_ instance: JSONValue, _ keyword: String, _ value: JSONValue, _ object: JSONObject,
                                      dialect: SchemaDialect, at path: String, record: Bool) -> Bool {
        guard case .number(let lexeme) = instance else { return true }
        let number = JSONNumber.decimal(lexeme)
        switch keyword {
        case "multipleOf":
            guard case .number(let divisorLexeme) = value else { return true }
            let divisor = JSONNumber.decimal(divisorLexeme)
            return JSONNumber.isMultiple(number, of: divisor) || fail(record, path, keyword, "\(lexeme) is not a multiple of \(divisorLexeme)")
        case "maximum":
            guard case .number(let limit) = value else { return true }
            // Draft 4: a boolean `exclusiveMaximum` makes `maximum` exclusive.
            let exclusive = dialect == .draft4 && object["exclusiveMaximum"]?.boolValue == true
            let bound = JSONNumber.decimal(limit)
            return (exclusive ? number < bound : number <= bound)
                || fail(record, path, keyword, "\(lexeme) is greater than \(exclusive ? "or equal to " : "")the maximum \(limit)")
        case "minimum":
            guard case .number(let limit) = value else { return true }
            let exclusive = dialect == .draft4 && object["exclusiveMinimum"]?.boolValue == true
            let bound = JSONNumber.decimal(limit)
            return (exclusive ? number > bound : number >= bound)
                || fail(record, path, keyword, "\(lexeme) is less than \(exclusive ? "or equal to " : "")the minimum \(limit)")
        case "exclusiveMaximum":
            guard case .number(let limit) = value else { return true }  // draft 4's boolean form: see maximum
            return number < JSONNumber.decimal(limit) || fail(record, path, keyword, "\(lexeme) is not less than \(limit)")
        case "exclusiveMinimum":
            guard case .number(let limit) = value else { return true }
            return number > JSONNumber.decimal(limit) || fail(record, path, keyword, "\(lexeme) is not greater than \(limit)")
        default:
            return true
        }
    }

    private mutating func checkString(_ instance: JSONValue, _ keyword: String, _ value: JSONValue, at path: String, record: Bool) -> Bool {
        guard case .string(let text) = instance else { return true }
        switch keyword {
        case "maxLength":
            // Length in code points (RFC 8259 characters), not UTF-16 units or graphemes.
            guard let limit = JSONNumber.integer(value) else { return true }
            return text.unicodeScalars.count <= limit || fail(record, path, keyword, "\(Self.brief(instance)) is longer than \(limit) characters")
        case "minLength":
            guard let limit = JSONNumber.integer(value) else { return true }
            return text.unicodeScalars.count >= limit || fail(record, path, keyword, "\(Self.brief(instance)) is shorter than \(limit) characters")
        case "pattern":
            guard let pattern = value.stringValue else { return true }
            guard let regex = compiled(pattern) else {
                return fail(record, path, keyword, "the schema's pattern \"\(pattern)\" is not a regular expression this validator can run")
            }
            return text.contains(regex) || fail(record, path, keyword, "\(Self.brief(instance)) does not match the pattern \"\(pattern)\"")
        case "format":
            guard let format = value.stringValue else { return true }
            return Formats.accepts(text, format: format)
                || fail(record, path, keyword, "\(Self.brief(instance)) is not a valid \(format)")
        default:
            return true
        }
    }

    mutating func compiled(_ pattern: String) -> Regex<AnyRegexOutput>? {
        if let cached = patterns[pattern] { return cached }
        let regex = try? Regex(pattern)
        patterns[pattern] = .some(regex)
        return regex
    }

    // MARK: arrays

    private mutating func checkArray(_ instance: JSONValue, _ keyword: String, _ value: JSONValue, _ object: JSONObject,
                                     base: String, dialect: SchemaDialect, at path: String, depth: Int, record: Bool) -> Bool {
        guard case .array(let items) = instance else { return true }
        switch keyword {
        case "items":
            var valid = true
            if let positional = value.arrayValue {
                for (index, item) in items.enumerated() where index < positional.count {
                    if !check(item, positional[index], base: base, dialect: dialect, at: path + "/\(index)", depth: depth + 1, record: record) {
                        valid = false
                        if !(record && keepGoing) { return false }
                    }
                }
            } else {
                for (index, item) in items.enumerated() {
                    if !check(item, value, base: base, dialect: dialect, at: path + "/\(index)", depth: depth + 1, record: record) {
                        valid = false
                        if !(record && keepGoing) { return false }
                    }
                }
            }
            return valid
        case "additionalItems":
            // Only with a positional `items`; beyond its length.
            guard let positional = object["items"]?.arrayValue else { return true }
            var valid = true
            for index in positional.count..<max(positional.count, items.count) {
                if !check(items[index], value, base: base, dialect: dialect, at: path + "/\(index)", depth: depth + 1, record: record) {
                    valid = false
                    if !(record && keepGoing) { return false }
                }
            }
            return valid
        case "maxItems":
            guard let limit = JSONNumber.integer(value) else { return true }
            return items.count <= limit || fail(record, path, keyword, "\(items.count) items, at most \(limit) allowed")
        case "minItems":
            guard let limit = JSONNumber.integer(value) else { return true }
            return items.count >= limit || fail(record, path, keyword, "\(items.count) items, at least \(limit) required")
        case "uniqueItems":
            guard value.boolValue == true else { return true }
            // Bytes, not Strings: Swift's String equality is canonical equivalence.
            var seen = Set<[UInt8]>()
            for item in items where !seen.insert(Array(JSONEquality.canonical(item).utf8)).inserted {
                return fail(record, path, keyword, "the items are not unique: \(Self.brief(item)) repeats")
            }
            return true
        case "contains" where dialect != .draft4:
            return items.contains { check($0, value, base: base, dialect: dialect, at: path, depth: depth + 1, record: false) }
                || fail(record, path, keyword, "no item matches the schema of contains")
        default:
            return true
        }
    }

    // MARK: objects

    private mutating func checkProperties(_ instance: JSONValue, _ keyword: String, _ value: JSONValue, _ object: JSONObject,
                                          base: String, dialect: SchemaDialect, at path: String, depth: Int, record: Bool) -> Bool {
        guard case .object(let members) = instance else { return true }
        switch keyword {
        case "maxProperties":
            guard let limit = JSONNumber.integer(value) else { return true }
            return members.count <= limit || fail(record, path, keyword, "\(members.count) properties, at most \(limit) allowed")
        case "minProperties":
            guard let limit = JSONNumber.integer(value) else { return true }
            return members.count >= limit || fail(record, path, keyword, "\(members.count) properties, at least \(limit) required")
        case "required":
            var valid = true
            for name in (value.arrayValue ?? []).compactMap(\.stringValue) where members[name] == nil {
                valid = fail(record, path, keyword, "\"\(name)\" is required")
                if !(record && keepGoing) { return false }
            }
            return valid
        case "properties":
            guard let properties = value.objectValue else { return true }
            var valid = true
            for (name, item) in members.members {
                guard let sub = properties[name] else { continue }
                if !check(item, sub, base: base, dialect: dialect, at: path + "/" + Self.escape(name), depth: depth + 1, record: record) {
                    valid = false
                    if !(record && keepGoing) { return false }
                }
            }
            return valid
        case "patternProperties":
            guard let patternProperties = value.objectValue else { return true }
            var valid = true
            for (pattern, sub) in patternProperties.members {
                guard let regex = compiled(pattern) else {
                    return fail(record, path, keyword, "the schema's pattern \"\(pattern)\" is not a regular expression this validator can run")
                }
                for (name, item) in members.members where name.contains(regex) {
                    if !check(item, sub, base: base, dialect: dialect, at: path + "/" + Self.escape(name), depth: depth + 1, record: record) {
                        valid = false
                        if !(record && keepGoing) { return false }
                    }
                }
            }
            return valid
        case "additionalProperties":
            let named = object["properties"]?.objectValue
            let patterns = (object["patternProperties"]?.objectValue?.keys ?? []).map { compiled($0) }
            var valid = true
            for (name, item) in members.members {
                if named?[name] != nil { continue }
                if patterns.contains(where: { $0.map { name.contains($0) } ?? false }) { continue }
                if value.boolValue == false {
                    valid = fail(record, path, keyword, "property \"\(name)\" is not allowed")
                } else if !check(item, value, base: base, dialect: dialect, at: path + "/" + Self.escape(name), depth: depth + 1, record: record) {
                    valid = false
                }
                if !valid && !(record && keepGoing) { return false }
            }
            return valid
        case "dependencies":
            guard let dependencies = value.objectValue else { return true }
            var valid = true
            for (name, dependency) in dependencies.members where members[name] != nil {
                if let required = dependency.arrayValue {
                    for other in required.compactMap(\.stringValue) where members[other] == nil {
                        valid = fail(record, path, keyword, "\"\(other)\" is required when \"\(name)\" is present")
                    }
                } else if !check(instance, dependency, base: base, dialect: dialect, at: path, depth: depth + 1, record: record) {
                    valid = false
                }
                if !valid && !(record && keepGoing) { return false }
            }
            return valid
        case "propertyNames" where dialect != .draft4:
            for name in members.keys where !check(.string(name), value, base: base, dialect: dialect, at: path, depth: depth + 1, record: false) {
                return fail(record, path, keyword, "property name \"\(name)\" does not match the schema of propertyNames")
            }
            return true
        default:
            return true
        }
    }

    // MARK: text

    /// RFC 6901 escaping of one pointer token.
    static func escape(_ token: String) -> String {
        token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    /// A short rendering of a value for messages.
    /// A short rendering of a value for messages: stops after 60 characters, however large
    /// (or deeply shared) the value is.
    static func brief(_ value: JSONValue) -> String {
        var out = ""
        render(value, into: &out, budget: 60)
        return out.count <= 60 ? out : String(out.prefix(57)) + "..."
    }

    private static func render(_ value: JSONValue, into out: inout String, budget: Int) {
        if out.count > budget { return }
        switch value {
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if out.count > budget { return }
                if index > 0 { out += "," }
                render(item, into: &out, budget: budget)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (index, member) in object.members.enumerated() {
                if out.count > budget { return }
                if index > 0 { out += "," }
                out += JSONWriter.encodeString(.string(member.key)) + ":"
                render(member.value, into: &out, budget: budget)
            }
            out += "}"
        case .string(let text):
            out += JSONWriter.encodeString(.string(String(text.prefix(budget))))
        default:
            out += JSONWriter.encodeString(value)
        }
    }
}
