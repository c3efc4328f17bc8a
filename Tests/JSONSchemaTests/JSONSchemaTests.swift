import JSON
@testable import JSONSchema
import Testing

func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

@Suite struct JSONSchemaLoadingTests {
    @Test func aRefThatReachesNothingIsRefusedWhenTheSchemaLoads() throws {
        #expect(throws: SchemaError.self) { try JSONSchema(try json(##"{"properties":{"a":{"$ref":"#/definitions/missing"}}}"##)) }
        #expect(throws: SchemaError.self) { try JSONSchema(try json(##"{"$ref":"https://example.com/remote.json"}"##)) }
    }

    @Test func anUnknownDialectIsRefused() throws {
        let error = #expect(throws: SchemaError.self) { try JSONSchema(try json(##"{"$schema":"https://json-schema.org/draft/2020-12/schema"}"##)) }
        #expect(error?.message.contains("does not implement") == true)
        #expect(throws: SchemaError.self) { try JSONSchema(try json("[]")) }
    }

    @Test func theMetaSchemasAreEmbedded() throws {
        let meta = try JSONSchema(try json(##"{"$ref":"http://json-schema.org/draft-07/schema#"}"##))
        #expect(meta.validate(try json(##"{"type":"string"}"##)).isValid)
        #expect(!meta.validate(try json(##"{"type":12}"##)).isValid)
    }
}

@Suite struct JSONSchemaBoundsTests {
    /// A `$ref` cycle that consumes no input ends at the depth bound, as a failure.
    @Test func aRefCycleFailsAtTheDepthBound() throws {
        let schema = try JSONSchema(try json(##"{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"}"##))
        let result = schema.validate(.null)
        #expect(!result.isValid)
        #expect(result.violations.first?.message.contains("deeper than") == true)
    }

    /// Nested `anyOf`s over a deep instance: exponential without a budget; refused at it.
    @Test func aBlowUpStopsAtTheStepBudgetAndFails() throws {
        let schema = try JSONSchema(try json(##"{"definitions":{"n":{"anyOf":[{"type":"array","items":{"$ref":"#/definitions/n"}},{"type":"array","items":{"$ref":"#/definitions/n"},"minItems":0}, {"type":"null"}]}},"$ref":"#/definitions/n","not":{}}"##))
        var instance = JSONValue.null
        for _ in 0..<40 { instance = .array([instance, instance]) }
        var limits = SchemaLimits()
        limits.maxSteps = 100_000
        let result = schema.validate(instance, limits: limits)
        #expect(!result.isValid)
        #expect(result.violations.first?.message.contains("steps") == true)
    }

    @Test func violationsNameTheirPlaceAndAreBounded() throws {
        let schema = try JSONSchema(try json(##"{"type":"object","required":["version"],"properties":{"runs":{"type":"array","items":{"type":"object","required":["tool"]}}}}"##))
        let result = schema.validate(try json(##"{"runs":[{},{"tool":1},{}]}"##))
        #expect(result.violations.map(\.description) == ["(root): \"version\" is required", "/runs/0: \"tool\" is required", "/runs/2: \"tool\" is required"])
        let many = JSONValue.object(JSONObject((0..<100).map { (key: "k\($0)", value: .null) }))
        let strict = try JSONSchema(try json(##"{"additionalProperties":false}"##))
        #expect(strict.validate(many).violations.count == SchemaLimits().maxViolations)
    }

    @Test func datesAndURIsAreAsserted() throws {
        let schema = try JSONSchema(try json(##"{"properties":{"t":{"format":"date-time"},"u":{"format":"uri"}}}"##))
        #expect(schema.validate(try json(##"{"t":"2023-11-29T01:44:41Z","u":"https://example.com/x"}"##)).isValid)
        #expect(schema.validate(try json(##"{"t":"2023-02-29T01:44:41+01:00"}"##)).violations.count == 1)
        #expect(schema.validate(try json(##"{"t":"redacted"}"##)).violations.count == 1)
        #expect(schema.validate(try json(##"{"u":"not a uri"}"##)).violations.count == 1)
    }
}
