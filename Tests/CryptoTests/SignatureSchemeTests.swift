import Crypto
import Foundation
import JSON
import Testing
import TestSupport

/// Signatures from Tests/Support/Fixtures/make_jws_signatures.py (Python `cryptography`).
struct JWSSignatures: Sendable {
    static let message = "eyJhbGciOiJQUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319"
    let entries: [String: (key: String, signature: [UInt8])]

    static let shared = Task {
        try await offPool { () throws -> JWSSignatures in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-jws-\(UUID().uuidString)")
            let script = FixtureScripts.path("make_jws_signatures.py")
            try ProcessRunner.python(script, [directory.path, message])
            let document = try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent("jws.json"))))
            var entries: [String: (key: String, signature: [UInt8])] = [:]
            for member in document.objectValue!.members {
                entries[member.key] = (member.value["key"]!.stringValue!, Array(Data(base64Encoded: member.value["signature"]!.stringValue!)!))
            }
            return JWSSignatures(entries: entries)
        }
    }
}

@Suite struct SignatureSchemeTests {
    static let cases: [(String, PublicKey.Scheme)] = [
        ("PS256", .rsaPSS(.sha256)), ("PS384", .rsaPSS(.sha384)), ("PS512", .rsaPSS(.sha512)),
        ("ES256", .ecdsaRaw(.sha256)), ("ES384", .ecdsaRaw(.sha384)), ("ES512", .ecdsaRaw(.sha512)),
    ]

    @Test(arguments: cases)
    func jwsAlgorithmsVerifyAndRejectTampering(_ alg: String, _ scheme: PublicKey.Scheme) async throws {
        let signatures = try await JWSSignatures.shared.value
        let entry = try #require(signatures.entries[alg])
        let key = try PublicKey.pem(Array(entry.key.utf8), source: alg)
        let message = Array(JWSSignatures.message.utf8)
        #expect(key.verify(signature: entry.signature, message: message, scheme: scheme), "\(alg)")
        var tampered = entry.signature
        tampered[tampered.count - 1] ^= 1
        #expect(!key.verify(signature: tampered, message: message, scheme: scheme), "\(alg) tampered signature")
        #expect(!key.verify(signature: entry.signature, message: message + [0x2E], scheme: scheme), "\(alg) other message")
        // The wrong scheme for the key never verifies (PSS vs PKCS #1 v1.5, raw vs DER).
        #expect(!key.verify(signature: entry.signature, message: message, scheme: .standard(.sha256)), "\(alg) as standard")
    }
}
