import Crypto
import Foundation
import JSON
import Testing
import TestSupport
@testable import Notation

/// Each Notary Project certificate rule on a chain that breaks only that rule (make_chain_rules.py,
/// Python `cryptography` and the OpenSSL CLI): refused with the rule's own reason, while the good
/// code signing and timestamping chains pass — so removing any one check fails its case.
struct CertificateRuleTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let purpose: CertificateChainRules.Purpose
        let chain: [Certificate]
        let reason: String?
        var description: String { name }
    }

    static func cases() async throws -> [Case] {
        try await FixtureScripts.cases("make_chain_rules.py").arrayValue!.map { value in
            let pems = value["chain"]!.arrayValue!.map { $0.stringValue! }.joined()
            return Case(name: value["name"]!.stringValue!, purpose: value["purpose"]?.stringValue == "timestamping" ? .timestamping : .codeSigning,
                        chain: try Certificate.pemChain(Array(pems.utf8), source: value["name"]!.stringValue!), reason: value["reason"]?.stringValue)
        }
    }

    @Test func eachRuleRefusesItsChainWithItsReason() async throws {
        let cases = try await Self.cases()
        #expect(cases.count == 13)
        for rule in cases {
            let violation = CertificateChainRules.violation(rule.chain, purpose: rule.purpose, signingTime: Date())
            if let reason = rule.reason {
                #expect(violation?.contains(reason) == true, "\(rule.name): \(violation ?? "accepted")")
            } else {
                #expect(violation == nil, "\(rule.name): \(violation ?? "")")
            }
        }
    }
}
