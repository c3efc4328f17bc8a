import Crypto
import Foundation
import JSON
import Testing
import TestSupport

/// OCSP responses and CRLs as evidence (make_revocation_rules.py, Python `cryptography`): good and
/// revoked are read as such; a rogue or undelegated signer, a stale or future response, a CRL of
/// another issuer, a forged or expired CRL are never read as "good" — each says why.
struct RevocationRuleTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String, kind: String, data: [UInt8], status: String, reason: String?
        var description: String { name }
    }

    static func fixtures() async throws -> (root: Certificate, leaf: Certificate, cases: [Case]) {
        let document = try await FixtureScripts.cases("make_revocation_rules.py")
        let decode = { (text: String?) in Array(Data(base64Encoded: text ?? "") ?? Data()) }
        return (try Certificate.der(decode(document["root"]?.stringValue), source: "root"),
                try Certificate.der(decode(document["leaf"]?.stringValue), source: "leaf"),
                document["cases"]!.arrayValue!.map { value in
                    Case(name: value["name"]!.stringValue!, kind: value["kind"]!.stringValue!, data: decode(value["data"]?.stringValue),
                         status: value["status"]!.stringValue!, reason: value["reason"]?.stringValue)
                })
    }

    @Test func eachResponseIsReadForWhatItProves() async throws {
        let fixtures = try await Self.fixtures()
        #expect(fixtures.cases.count == 12)
        for rule in fixtures.cases {
            let status = rule.kind == "ocsp"
                ? OCSP.status(response: rule.data, certificate: fixtures.leaf, issuer: fixtures.root, anchors: [fixtures.root])
                : CRL.status(crl: rule.data, certificate: fixtures.leaf, issuer: fixtures.root)
            switch (rule.status, status) {
            case ("good", .good), ("revoked", .revoked): break
            case ("unknown", .unknown(let why)):
                #expect(why.contains(rule.reason ?? "\u{0}"), "\(rule.name): \(why)")
            default:
                Issue.record("\(rule.name): expected \(rule.status), got \(status)")
            }
        }
    }
}
