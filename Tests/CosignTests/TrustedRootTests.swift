import Core
import Crypto
import Foundation
import JSON
import Testing
import TestSupport
@testable import Cosign

/// How a trusted root names its logs: by the SHA-256 of each key, plus — for a transparency log —
/// the declared `logId` when that ID is derived from the same key (Rekor v2's C2SP signed-note ID).
/// A declared ID that is not the key's own cannot lend the key to another log's entries.
struct TrustedRootTests {
    static func document() async throws -> (JSONObject, [String: PublicKey]) {
        let fixtures = try await offPool { try KeylessFixtures(digest: "sha256:" + String(repeating: "ab", count: 32)) }
        defer { try? FileManager.default.removeItem(at: fixtures.directory) }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixtures.trustedRoot)))
        return (try JSONParser.parse(bytes).objectValue!, try TrustedRoot.parse(bytes, source: "fixture").logs)
    }

    static func declaredID(_ log: JSONValue) -> String { Hash.hexString(Array(Base64.decode(log["logId"]!["keyId"]!.stringValue!, .protobufJSON)!)) }

    static func parse(_ object: JSONObject) throws(CryptoError) -> TrustedRoot {
        try TrustedRoot.parse(Array(JSONWriter.encodeString(.object(object)).utf8), source: "edited fixture")
    }

    @Test func aDeclaredLogIDIsAnAliasOnlyWhenDerivedFromItsKey() async throws {
        let (document, logs) = try await Self.document()
        let tlogs = document["tlogs"]!.arrayValue!
        let v2 = tlogs.first { $0["baseUrl"]?.stringValue?.contains("log2025-test") == true }!
        let v2ID = Self.declaredID(v2)
        #expect(logs[v2ID] != nil, "the Rekor v2 log is found by its C2SP key ID")

        // The same key under another origin: its declared ID no longer derives from it.
        var moved = document, movedLog = v2.objectValue!
        movedLog["baseUrl"] = .string("https://elsewhere.example")
        moved["tlogs"] = .array(tlogs.map { $0 == v2 ? .object(movedLog) : $0 })
        #expect(try Self.parse(moved).logs[v2ID] == nil)

        // A Rekor v1 log declaring the v2 log's ID does not take that ID over.
        var borrowed = document
        borrowed["tlogs"] = .array(tlogs.map { log in
            guard log != v2, var object = log.objectValue else { return log }
            object["logId"] = v2["logId"]
            return .object(object)
        })
        let parsed = try Self.parse(borrowed)
        #expect(parsed.logs[v2ID]?.derBytes == logs[v2ID]?.derBytes, "the ID still names the v2 key only")

        // CT logs are named by their key's hash alone.
        var ct = document
        var ctLog = document["ctlogs"]!.arrayValue![0].objectValue!
        ctLog["logId"] = v2["logId"]
        ct["ctlogs"] = .array([.object(ctLog)])
        #expect(try Self.parse(ct).ctLogs[v2ID] == nil)
    }
}
