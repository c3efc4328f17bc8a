import JSON
import Testing

@Suite struct JSONParsing {
    @Test func parsesNestedDocumentKeepingMemberOrder() throws {
        let value = try JSONParser.parse(#"{"b":1,"a":[true,false,null,"x",-0.5e3],"c":{}}"#)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["a"] == [true, false, nil, "x", .number("-0.5e3")])
        #expect(value["c"] == .object([:]))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"\\/\u{08}\u{0C}\n\r\té😀"))
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, JSONError.Code.duplicateKey),
        (#"{"a":1} x"#, .trailingData),
        (#"[1,]"#, .unexpectedByte),
        (#"01"#, .invalidNumber),
        (#"1."#, .invalidNumber),
        (#""\ud800""#, .invalidEscape),
        (#""\x""#, .invalidEscape),
        ("\"a\u{01}\"", .controlCharacterInString),
        (#"{"a":"#, .unexpectedEnd),
        ("nul", .unexpectedEnd),
        ("tru e", .unexpectedByte),
    ])
    func rejectsMalformedInput(_ input: String, _ code: JSONError.Code) {
        #expect(throws: JSONError.self) { try JSONParser.parse(input) }
        do { _ = try JSONParser.parse(input) } catch { #expect(error.code == code, "\(input)") }
    }

    /// Issue #16: a 100k-member object took 35 s (a scan of all earlier keys per key). Now a
    /// set once an object has 16 members: 90k members with the duplicate last parse at once,
    /// and a duplicate among the first few is still found by the scan.
    @Test func duplicateKeysInLargeObjectsAreFoundInLinearTime() throws {
        let members = (0..<90_000).map { "\"k\($0)\":0" }
        let (parsed, comparisons) = try JSONParser.parseCounting("{" + members.joined(separator: ",") + "}")
        #expect(parsed.objectValue?.count == 90_000)
        #expect(comparisons < 2 * 90_000, "\(comparisons) key comparisons for 90,000 members")
        do {
            _ = try JSONParser.parse("{" + members.joined(separator: ",") + ",\"k12345\":1}")
            Issue.record("the duplicate key was not found")
        } catch {
            #expect(error.code == .duplicateKey && error.detail.contains("k12345"))
        }
        #expect(throws: JSONError.self) { try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#) }
    }

    /// Values per document are bounded (100,000 by default): `[0,0,…]` cannot make a parse cost
    /// hundreds of MB; the Kubernetes API's lists get a larger bound.
    @Test func valuesPerDocumentAreBounded() throws {
        let many = "[" + Array(repeating: "0", count: 100_000).joined(separator: ",") + "]"
        do {
            _ = try JSONParser.parse(many)
            Issue.record("100,001 values were accepted")
        } catch {
            #expect(error.code == .tooLarge && error.detail.contains("100000"), "\(error)")
        }
        #expect(try JSONParser.parse(many, options: .apiServer).arrayValue?.count == 100_000)
        #expect(try JSONParser.parse("[" + Array(repeating: "0", count: 99_999).joined(separator: ",") + "]").arrayValue?.count == 99_999)
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func boundsNestingDepth() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        do {
            _ = try JSONParser.parse(deep)
            Issue.record("300 levels must exceed the default depth bound")
        } catch {
            #expect(error.code == .tooDeep)
        }
        var options = JSONParser.Options()
        options.maximumDepth = 400
        #expect((try? JSONParser.parse(Array(deep.utf8), options: options)) != nil)
    }
}

@Suite struct JSONWriting {
    @Test func escapesLikeGoEncodingJSON() {
        // Go's encoder escapes <, >, & and U+2028/2029, and control characters as \u00XX.
        let encoded = JSONWriter.encodeString(.string("<a&b>\u{2028}\u{2029}\u{01}\n\"\\é"))
        #expect(encoded == #""\u003ca\u0026b\u003e\u2028\u2029\u0001\n\"\\é""#)
    }

    /// Plain runs are copied whole between escapes: runs at the start, between and at the end,
    /// E2 sequences that are not U+2028/2029 (€, ‘, U+202F) kept as they are, and the empty string.
    @Test func copiesPlainRunsBetweenEscapes() {
        let cases: [(String, String)] = [
            ("", #""""#),
            ("plain text only", #""plain text only""#),
            ("head\ttab\rreturn <tail>", #""head\ttab\rreturn \u003ctail\u003e""#),
            ("€100 ‘quoted’ a\u{202F}b \u{2028}end", "\"€100 ‘quoted’ a\u{202F}b \\u2028end\""),
            ("\u{1F}\u{7F}x&", "\"\\u001f\u{7F}x\\u0026\""),  // DEL is not escaped, as in Go
            (String(repeating: "a", count: 1000) + "\"", "\"" + String(repeating: "a", count: 1000) + #"\"""#),
        ]
        for (input, expected) in cases {
            #expect(JSONWriter.encodeString(.string(input)) == expected, "\(input)")
        }
    }

    @Test func writesCompactInOrder() {
        let value: JSONValue = ["z": 1, "a": ["x": true], "m": [nil, "s"]]
        #expect(JSONWriter.encodeString(value) == #"{"z":1,"a":{"x":true},"m":[null,"s"]}"#)
    }

    @Test func indentsLikeMarshalIndent() {
        let value: JSONValue = ["a": [1, 2], "b": [:], "c": []]
        #expect(JSONWriter.encodeIndented(value) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}")
    }

    @Test func roundTrips() throws {
        let text = #"{"version":"0.2.0","isSuccess":false,"n":12345678901234567890,"list":[{"k":"\u003c"}]}"#
        #expect(JSONWriter.encodeString(try JSONParser.parse(text)) == text)
    }
}

/// Cache bounds use `estimatedBytes` instead of encoding: it must grow with what the value holds.
@Suite struct JSONEstimatedBytesTests {
    @Test func growsWithContent() {
        let big = String(repeating: "x", count: 10_000)
        let nested: JSONValue = ["a": .array([.string(big), .number("12345")]), "b": ["c": .string(big)]]
        #expect(nested.estimatedBytes >= 20_005)
        #expect(nested.estimatedBytes <= JSONWriter.encode(nested).count + 200)
        #expect(JSONValue.string("").estimatedBytes > 0)
        #expect(JSONValue.array(Array(repeating: .null, count: 1000)).estimatedBytes >= 8000)
    }
}

