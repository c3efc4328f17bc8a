import JSON

/// JSON Schema validation (drafts 4, 6 and 7: the dialects the SARIF 2.1.0, SPDX 2.3 and
/// CycloneDX schemas are written in), pure over `JSONValue`s. Checked against the official
/// JSON-Schema-Test-Suite (Tests/Conformance/json-schema-test-suite).
///
/// Nothing is fetched: `$ref` reaches the schema itself, the documents put in its
/// `SchemaRegistry`, and the embedded draft-04/draft-07 meta-schemas. A `$ref` that reaches
/// nothing is refused when the schema loads; a validation that runs out of its step budget
/// fails (it is never a pass).
public struct SchemaError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum SchemaDialect: Sendable, Equatable {
    case draft4, draft6, draft7

    /// The dialect `$schema` names; nil for a URI that names none we implement.
    static func named(_ uri: String) -> SchemaDialect? {
        let trimmed = uri.hasSuffix("#") ? String(uri.dropLast()) : uri
        switch trimmed {
        case "http://json-schema.org/draft-04/schema", "https://json-schema.org/draft-04/schema": return .draft4
        case "http://json-schema.org/draft-06/schema", "https://json-schema.org/draft-06/schema": return .draft6
        case "http://json-schema.org/draft-07/schema", "https://json-schema.org/draft-07/schema": return .draft7
        default: return nil
        }
    }

    /// Draft 4 names a schema's URI `id`; later drafts `$id`.
    var idKeyword: String { self == .draft4 ? "id" : "$id" }
}

/// One failed assertion: where in the instance (a JSON pointer, "" for the root), which
/// keyword, and what was wrong.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    public let instancePath: String
    public let keyword: String
    public let message: String

    public var description: String { "\(instancePath.isEmpty ? "(root)" : instancePath): \(message)" }
}

public struct ValidationResult: Sendable {
    /// The violations found, at most `Limits.maxViolations` of them.
    public let violations: [SchemaViolation]
    public var isValid: Bool { violations.isEmpty }
}

/// Documents a schema's `$ref` may reach, by absolute URI; the draft-04 and draft-07
/// meta-schemas (and draft-06's) are always there.
public struct SchemaRegistry: Sendable {
    var documents: [(uri: String, document: JSONValue)] = []

    public init() {
        for (uri, text) in [("http://json-schema.org/draft-07/schema", MetaSchemas.draft07),
                            ("http://json-schema.org/draft-06/schema", MetaSchemas.draft06),
                            ("http://json-schema.org/draft-04/schema", MetaSchemas.draft04)] {
            // Embedded, verbatim and tested: a parse failure here is a build defect.
            documents.append((uri, try! JSONParser.parse(Array(text.utf8))))
        }
    }

    /// Makes `document` reachable as `uri` (and under the `$id`s inside it).
    public mutating func add(_ document: JSONValue, uri: String) {
        documents.append((URIReference.splitFragment(uri).0, document))
    }
}

public struct SchemaLimits: Sendable {
    /// Keyword evaluations per validation: bounds `anyOf`/`oneOf` blow-ups on hostile input.
    public var maxSteps: Int = 5_000_000
    /// Schema nesting through `$ref` and subschemas (a `$ref` cycle that never consumes input).
    public var maxDepth: Int = 400
    public var maxViolations: Int = 20

    public init() {}
}

/// A loaded schema: its resources (`$id`s) indexed and every `$ref` checked to reach something.
public struct JSONSchema: Sendable {
    struct Resource: Sendable {
        let schema: JSONValue
        let base: String
        let dialect: SchemaDialect
    }

    let root: Resource
    let resources: [String: Resource]
    let anchors: [String: Resource]

    /// `uri`: where the schema was read from (its default base URI); `defaultDialect` applies
    /// when `$schema` is absent.
    public init(_ schema: JSONValue, uri: String = "urn:ratify:schema", registry: SchemaRegistry = SchemaRegistry(),
                defaultDialect: SchemaDialect = .draft7) throws(SchemaError) {
        var index = Index()
        for (documentURI, document) in registry.documents {
            index.add(document, base: documentURI, dialect: Self.dialect(of: document, default: defaultDialect))
        }
        // The registry's own references are checked when they are followed; the schema's now.
        index.references.removeAll()
        guard schema.objectValue != nil || schema.boolValue != nil else {
            throw SchemaError("a schema must be an object or a boolean, found \(schema.typeName)")
        }
        if let declared = schema["$schema"], !declared.isNull {
            guard let text = declared.stringValue else { throw SchemaError("$schema must be a string") }
            guard SchemaDialect.named(text) != nil else {
                throw SchemaError("$schema \"\(text)\" names a dialect this validator does not implement (drafts 4, 6 and 7 are)")
            }
        }
        let dialect = Self.dialect(of: schema, default: defaultDialect)
        let base = URIReference.splitFragment(uri).0
        index.add(schema, base: base, dialect: dialect)
        // A resource's base is the one in effect around it: its own `$id` applies when it is evaluated.
        root = Resource(schema: schema, base: base, dialect: dialect)
        resources = index.resources
        anchors = index.anchors
        for (reference, from) in index.references {
            guard resolve(reference, base: from) != nil else {
                throw SchemaError("$ref \"\(reference)\" (from \(from)) reaches no schema: only the schema itself, its registry and the draft-04/06/07 meta-schemas are available")
            }
        }
    }

    static func dialect(of schema: JSONValue, default fallback: SchemaDialect) -> SchemaDialect {
        schema["$schema"]?.stringValue.flatMap(SchemaDialect.named) ?? fallback
    }

    public func validate(_ instance: JSONValue, limits: SchemaLimits = SchemaLimits()) -> ValidationResult {
        var evaluator = Evaluator(schema: self, limits: limits)
        _ = evaluator.check(instance, root.schema, base: root.base, dialect: root.dialect, at: "", depth: 0, record: true)
        if evaluator.exhausted {
            return ValidationResult(violations: [SchemaViolation(instancePath: "", keyword: "",
                message: "validation stopped after \(limits.maxSteps) steps; the document is refused")] + evaluator.violations)
        }
        return ValidationResult(violations: evaluator.violations)
    }

    /// The schema a `$ref` reaches, with its base URI and dialect.
    func resolve(_ reference: String, base: String) -> Resource? {
        let absolute = URIReference.resolve(reference, against: base)
        let (document, fragment) = URIReference.splitFragment(absolute)
        if let fragment, !fragment.isEmpty, !fragment.hasPrefix("/") && !fragment.hasPrefix("%2F") {
            return anchors[absolute]
        }
        guard let resource = resources[document] else { return nil }
        guard let fragment, !fragment.isEmpty else { return resource }
        guard let tokens = URIReference.pointerTokens(fragment) else { return nil }
        var current = resource.schema
        var currentBase = resource.base
        for token in tokens {
            // The `$id` of each schema passed through applies below it; the target's own `$id`
            // applies when it is evaluated.
            if let id = current[resource.dialect.idKeyword]?.stringValue, current["$ref"] == nil {
                let resolved = URIReference.resolve(id, against: currentBase)
                let (withoutFragment, idFragment) = URIReference.splitFragment(resolved)
                if idFragment?.isEmpty ?? true { currentBase = withoutFragment }
            }
            switch current {
            case .object(let object):
                guard let next = object[token] else { return nil }
                current = next
            case .array(let array):
                guard let position = Int(token), position >= 0, position < array.count, String(position) == token else { return nil }
                current = array[position]
            default:
                return nil
            }
        }
        return Resource(schema: current, base: currentBase, dialect: resource.dialect)
    }
}

/// Walks a document for `$id`s (resources and plain-name anchors) and `$ref`s, through the
/// keywords that hold schemas only (an `$id` inside `enum` or `const` is data).
struct Index {
    var resources: [String: JSONSchema.Resource] = [:]
    var anchors: [String: JSONSchema.Resource] = [:]
    var references: [(String, String)] = []

    /// Indexes `document` read from `base`; returns the base its root establishes.
    @discardableResult
    mutating func add(_ document: JSONValue, base: String, dialect: SchemaDialect) -> String {
        if resources[base] == nil { resources[base] = JSONSchema.Resource(schema: document, base: base, dialect: dialect) }
        return walk(document, base: base, dialect: dialect, depth: 0)
    }

    private mutating func walk(_ schema: JSONValue, base: String, dialect: SchemaDialect, depth: Int) -> String {
        guard depth < 200, case .object(let object) = schema else { return base }
        var base = base
        if let reference = object["$ref"]?.stringValue {
            references.append((reference, base))
        } else if let id = object[dialect.idKeyword]?.stringValue {
            let resolved = URIReference.resolve(id, against: base)
            let (withoutFragment, fragment) = URIReference.splitFragment(resolved)
            if let fragment, !fragment.isEmpty {
                anchors[resolved] = JSONSchema.Resource(schema: schema, base: base, dialect: dialect)
            } else {
                resources[withoutFragment] = JSONSchema.Resource(schema: schema, base: base, dialect: dialect)
                base = withoutFragment
            }
        }
        for (key, value) in object.members {
            switch key {
            case "properties", "patternProperties", "definitions", "$defs":
                for (_, sub) in value.objectValue?.members ?? [] { _ = walk(sub, base: base, dialect: dialect, depth: depth + 1) }
            case "dependencies":
                for (_, sub) in value.objectValue?.members ?? [] where sub.objectValue != nil {
                    _ = walk(sub, base: base, dialect: dialect, depth: depth + 1)
                }
            case "items", "allOf", "anyOf", "oneOf":
                if let list = value.arrayValue {
                    for sub in list { _ = walk(sub, base: base, dialect: dialect, depth: depth + 1) }
                } else {
                    _ = walk(value, base: base, dialect: dialect, depth: depth + 1)
                }
            case "additionalItems", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else":
                _ = walk(value, base: base, dialect: dialect, depth: depth + 1)
            default:
                continue
            }
        }
        return base
    }
}
