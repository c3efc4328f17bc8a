import Foundation
import JSON
@testable import Rego
import Testing

let ratifyPolicies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Conformance/ratify-rego")

func input(_ text: String) throws -> RegoValue { RegoValue(json: try JSONParser.parse(Array(text.utf8))) }

@Suite struct RegoLoadingTests {
    /// Ratify's chart policy (policy.useRego), library/rego and every documented example load unchanged.
    @Test func ratifysPoliciesLoadUnchanged() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: ratifyPolicies.path).filter { $0.hasSuffix(".rego") }.sorted()
        #expect(files.count == 11)
        for file in files {
            let text = try String(contentsOf: ratifyPolicies.appendingPathComponent(file), encoding: .utf8)
            let policy = try RegoPolicy(text, file: file)
            #expect(policy.module.package == ["ratify", "policy"], "\(file)")
            #expect(policy.module.ruleNames.contains("valid"), "\(file)")
        }
    }

    /// Outside the supported subset: refused when the policy loads, with file:line:column.
    @Test(arguments: [
        ("package p\nallow if {\n  input.x with input as {}\n}\n", "p.rego:3:11: the with keyword is not supported"),
        ("package p\nimport data.lib\n", "p.rego:2:1: import data.lib is not supported"),
        ("package p\nallow if {\n  http.send({\"url\": \"x\"})\n}\n", "p.rego:3:3: unknown function http.send"),
        ("package p\nallow if {\n  count(1, 2)\n}\n", "p.rego:3:3: count takes 1 argument(s), called with 2"),
        ("package p\nallow if {\n  x := [1,\n}\n", "p.rego:4:1: unexpected \"}\""),
        ("package p\na.b.c := 1\n", "p.rego:2:2: rule names with references"),
        ("package p\nallow { true } { false }\n", "p.rego:2:16: rules with more than one body are not supported"),
        ("allow := true\n", "p.rego:1:1: a policy starts with a package declaration"),
        ("package p\nx := \"unterminated\n", "p.rego:2:6: unterminated string"),
        ("package p\nf(x) := 1\ny := f(1, 2)\n", "p.rego:3:6: function f takes 1 argument(s), called with 2"),
        ("package p\nx := " + String(repeating: "[", count: 5000) + "\n", "p.rego:2:"),
        ("package p\nx if { " + String(repeating: "not ", count: 5000) + "true }\n", "p.rego:2:"),
        ("package p\nx := " + String(repeating: "-", count: 5000) + "1\n", "p.rego:2:"),
    ])
    func unsupportedConstructsAreRefusedWithTheirPosition(text: String, expected: String) {
        do {
            _ = try RegoPolicy(text, file: "p.rego")
            Issue.record("loaded: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }
}

@Suite struct RegoEvaluationTests {
    @Test func ratifysChartPolicyOnReports() throws {
        let text = try String(contentsOf: ratifyPolicies.appendingPathComponent("helm-policy-useRego.rego"), encoding: .utf8)
        let policy = try RegoPolicy(text)
        let pass = try input(#"{"verifierReports":[{"subject":"s","verifierReports":[{"isSuccess":true,"extensions":null}],"nestedReports":[]}]}"#)
        let failing = try input(#"{"verifierReports":[{"subject":"s","verifierReports":[{"isSuccess":true}],"nestedReports":[{"verifierReports":[{"isSuccess":false}]}]}]}"#)
        let unverified = try input(#"{"verifierReports":[{"subject":"s","verifierReports":[],"nestedReports":[]}]}"#)
        #expect(try policy.evaluate("valid", input: pass) == .bool(true))
        #expect(try policy.evaluate("valid", input: failing) == .bool(false))
        #expect(try policy.evaluate("valid", input: unverified) == .bool(false))
        // No input: failed_verify(input) is undefined, so `not` holds (OPA's semantics too).
        #expect(try policy.evaluate("valid", input: nil) == .bool(true))
    }

    @Test func semantics() throws {
        let policy = try RegoPolicy(#"""
        package p
        import rego.v1

        default grade := "none"
        grade := "a" if { input.n > 10 } else := "b" if { input.n > 5 }
        kinds contains k if { some r in input.rs; k := r.kind }
        by_kind[r.kind] := r.ok if { some r in input.rs }
        all_ok if { every r in input.rs { r.ok } }
        names := concat(",", sort([r.kind | some r in input.rs]))
        deep := [p | [p, v] := walk(input); v == true]
        msg := sprintf("%s has %d", [input.name, count(input.rs)])
        t := time.parse_rfc3339_ns("2024-05-01T12:00:00.5+02:00")
        u := units.parse("1.5Ki")
        """#)
        let value = try input(#"{"n": 7, "name": "img", "rs": [{"kind": "b", "ok": true}, {"kind": "a", "ok": false}]}"#)
        #expect(try policy.evaluate("grade", input: value) == .string("b"))
        #expect(try policy.evaluate("grade", input: try input(#"{"n": 1}"#)) == .string("none"))
        #expect(try policy.evaluate("kinds", input: value) == .set(of: [.string("a"), .string("b")]))
        #expect(try policy.evaluate("by_kind", input: value)?.json == (try JSONParser.parse(Array(#"{"a":false,"b":true}"#.utf8))))
        #expect(try policy.evaluate("all_ok", input: value) == nil)
        #expect(try policy.evaluate("names", input: value) == .string("a,b"))
        #expect(try policy.evaluate("deep", input: value)?.json == (try JSONParser.parse(Array(#"[["rs",0,"ok"]]"#.utf8))))
        #expect(try policy.evaluate("msg", input: value) == .string("img has 2"))
        #expect(try policy.evaluate("t", input: nil) == .int(1_714_557_600_500_000_000))
        #expect(try policy.evaluate("u", input: nil) == .int(1536))
    }

    @Test func conflictsAndRecursionAreErrorsNotValues() throws {
        let conflict = try RegoPolicy("package p\nimport rego.v1\nx := 1 if { true }\nx := 2 if { true }\n")
        #expect(throws: RegoError.self) { try conflict.evaluate("x", input: nil) }
        let recursive = try RegoPolicy("package p\nimport rego.v1\na if { b }\nb if { a }\n")
        #expect(throws: RegoError.self) { try recursive.evaluate("a", input: nil) }
    }

    /// A policy that would run (nearly) forever stops at its step budget, as an error.
    @Test func evaluationIsBounded() throws {
        let policy = try RegoPolicy("package p\nimport rego.v1\nn := count([1 | some a in numbers.range(1, 3)])\n"
                                    .replacingOccurrences(of: "numbers.range(1, 3)", with: "input.xs") +
                                    "big := count([1 | some a in input.xs; some b in input.xs; some c in input.xs])\n")
        let xs = RegoValue.array((0..<300).map { .int($0) })
        #expect(throws: RegoError.self) {
            try policy.evaluate("big", input: .makeObject([(.string("xs"), xs)]), limits: RegoLimits(maxSteps: 100_000))
        }
        #expect(try policy.evaluate("n", input: .makeObject([(.string("xs"), xs)])) == .int(300))
    }

    /// A long conjunction nests its continuations: bounded, and evaluated on a thread with a
    /// stack of its own (the pool's threads are small).
    @Test func longBodiesAreBoundedNotACrash() throws {
        let long = "package p\nimport rego.v1\nx if {\n" + String(repeating: "  input.a == 1\n", count: 30_000) + "}\n"
        let policy = try RegoPolicy(long)
        let error = #expect(throws: RegoError.self) { try policy.evaluateOnOwnStack("x", input: .makeObject([(.string("a"), .int(1))])) }
        #expect(error?.message.contains("nests deeper") == true)
        let fine = try RegoPolicy("package p\nimport rego.v1\nx if {\n" + String(repeating: "  input.a == 1\n", count: 1_500) + "}\n")
        #expect(try fine.evaluateOnOwnStack("x", input: .makeObject([(.string("a"), .int(1))])) == .bool(true))
    }

    /// time.now_ns is one instant per evaluation: deterministic within a query.
    @Test func nowIsFixedPerEvaluation() throws {
        let policy = try RegoPolicy("package p\nimport rego.v1\nsame if { a := time.now_ns(); b := time.now_ns(); a == b }\n")
        #expect(try policy.evaluate("same", input: nil) == .bool(true))
    }
}

/// The review of issue #19's engine: each finding, as OPA answers it.
@Suite struct RegoReviewTests {
    func value(_ text: String, _ rule: String = "x", input: String? = nil) throws -> RegoValue? {
        try RegoPolicy(text).evaluateOnOwnStack(rule, input: try input.map { try RegoTests.input($0) })
    }

    /// A1–A4: out-of-range numbers are undefined, never a crash.
    @Test func arithmeticAndTimeAtTheirLimitsAreUndefined() throws {
        #expect(try value("package p\nimport rego.v1\nx := time.parse_rfc3339_ns(\"3000-01-01T00:00:00Z\")\n") == nil)
        #expect(try value("package p\nimport rego.v1\nx := time.parse_rfc3339_ns(\"2023-02-30T00:00:00Z\")\n") == nil)
        #expect(try value("package p\nimport rego.v1\nx := time.parse_rfc3339_ns(\"2023-02-01t00:00:00z\")\n") == nil)
        #expect(try value("package p\nimport rego.v1\nx := time.parse_rfc3339_ns(\"2023-02-01T00:00:00+99:99\")\n") == nil)
        #expect(try value("package p\nimport rego.v1\nx := input.n / -1\n", input: #"{"n": -9223372036854775808}"#) != nil)
        #expect(try value("package p\nimport rego.v1\nx := input.n % -1\n", input: #"{"n": -9223372036854775808}"#) == nil)
        #expect(try value("package p\nimport rego.v1\nx := substring(\"abc\", 1, 9223372036854775807)\n") == .string("bc"))
        #expect(try value("package p\nimport rego.v1\nx := sprintf(\"%.2147483648f\", [1])\n") == .string("%!f(BADPREC)"))
        #expect(try value("package p\nimport rego.v1\nx := to_number(\"inf\")\n") == nil)
        #expect(try value("package p\nimport rego.v1\nx := to_number(\"0x10\")\n") == nil)
    }

    /// B1: `|` and `&` bind tighter than comparisons (OPA's grammar).
    @Test func setOperatorsBindTighterThanComparisons() throws {
        #expect(try value("package p\nimport rego.v1\nx if { {1, 2} & {2} == {2} }\n") == .bool(true))
        #expect(try value("package p\nimport rego.v1\nx := {1} | {2} == {1, 2}\n") == .bool(true))
        #expect(try value("package p\nimport rego.v1\nforbidden := {\"x\"}\ntypes := {\"x\", \"y\"}\nviolation if types & forbidden != {\"z\"}\nx if not violation\n") == nil)
    }

    /// B2: `every` over a non-collection is false; each value of a multi-valued domain is checked.
    @Test func everyOverNonCollectionsAndEachDomainValue() throws {
        #expect(try value("package p\nimport rego.v1\nx if { every y in input.s { y == 1 } }\n", input: #"{"s": "abc"}"#) == nil)
        #expect(try value("package p\nimport rego.v1\nx if { every y in input.n { y == 1 } }\n", input: #"{"n": null}"#) == nil)
        let text = "package p\nimport rego.v1\nx := count([1 | some d in input.ds; every y in d { y > 0 }])\n"
        #expect(try value(text, input: #"{"ds": [[1], [0], [2, 3]]}"#) == .int(2))
    }

    /// B3: a function parameter named like a rule is the parameter.
    @Test func functionParametersShadowRules() throws {
        let text = "package p\nimport rego.v1\nviolations := {\"a\"}\nhas(violations) if { count(violations) > 2 }\nx if has({1, 2, 3})\n"
        #expect(try value(text) == .bool(true))
    }

    /// B4: calls are cached by argument value, not by JSON text.
    @Test func functionCacheKeysAreValues() throws {
        let text = "package p\nimport rego.v1\nkind(v) := \"set\" if is_set(v)\nkind(v) := \"array\" if is_array(v)\nx := [kind({1}), kind([1])]\n"
        #expect(try value(text)?.json == (try JSONParser.parse(Array(#"["set","array"]"#.utf8))))
    }

    /// B5: a negation or comprehension that relies on OPA's reordering is refused at load.
    @Test func bodiesNeedingReorderingAreRefused() {
        let negation = "package ratify.policy\nimport rego.v1\nfailed if {\n  not input.reports[i].ok\n  input.reports[i].type == \"sig\"\n}\n"
        let closure = "package ratify.policy\nimport rego.v1\nvalid if {\n  passing := [r | some r in input.reports; r.type = required; r.ok]\n  required = \"sig\"\n  count(passing) > 0\n}\n"
        for text in [negation, closure] {
            #expect(throws: RegoError.self, "\(text)") { try RegoPolicy(text) }
        }
        // In the order OPA would run them, they load.
        #expect(throws: Never.self) { try RegoPolicy("package p\nimport rego.v1\nfailed if {\n  input.reports[i].type == \"sig\"\n  not input.reports[i].ok\n}\n") }
    }

    /// B6, D1: RE2 meaning (ASCII classes), linear time, unsupported syntax an error.
    @Test func regexMatchIsRE2AndLinear() throws {
        #expect(try value("package p\nimport rego.v1\nx := regex.match(\"^(a+)+$\", \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\")\n") == .bool(false))
        #expect(try value("package p\nimport rego.v1\nx := regex.match(\"\\\\d\", \"\u{663}\")\n") == .bool(false))
        #expect(try value("package p\nimport rego.v1\nx := regex.match(\"(?i)^cn=\", \"CN=x\")\n") == .bool(true))
        #expect(throws: RegoError.self) { try value("package p\nimport rego.v1\nx if not regex.match(\"\\\\bword\", \"a word\")\n") }
    }
}

extension RegoTests {
    static func input(_ text: String) throws -> RegoValue { RegoValue(json: try JSONParser.parse(Array(text.utf8))) }
}

enum RegoTests {}
