import Cosign
import Foundation
import HTTPClient
import JSON
import Testing
import TestSupport

/// The TUF client against real repositories made by python-tuf (Tests/Support/Fixtures/
/// make_tuf_repo.py), served on loopback: a good repository with a root rotation, and each
/// attack the TUF specification guards against — refused with its reason.
@Suite(.serialized) struct TUFClientTests {
    final class Mirror: @unchecked Sendable {
        let directory: URL
        let base: String
        let children = ChildProcesses()
        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-tuf-\(UUID().uuidString)")
            try ProcessRunner.python(FixtureScripts.path("make_tuf_repo.py"), [directory.path])
            let port = try freePort()
            try children.start("/usr/bin/env", ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory.path])
            try waitForPort(port)
            base = "http://127.0.0.1:\(port)"
        }
        func client(_ scenario: String, cache: String) throws -> TUFClient {
            TUFClient(metadataURL: "\(base)/\(scenario)/metadata", targetsURL: "\(base)/\(scenario)/targets",
                      initialRoot: Array(try Data(contentsOf: directory.appendingPathComponent("root.json"))), cacheDirectory: cache, fetcher: CurlFetcher())
        }
        func freshCache() -> String { directory.appendingPathComponent("cache-\(UUID().uuidString)").path }
        func stop() {
            children.stopAll()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Verdicts, not speed, are under test: a full make test starts this suite while the machine
    /// is busiest, and a 10 s deadline once ran out there (TUF_FETCH_FAILED, "no time left").
    static let deadline = Duration.seconds(60)

    static func refused(_ mirror: Mirror, _ scenario: String, cache: String? = nil) async throws -> TUFError? {
        let client = try mirror.client(scenario, cache: cache ?? mirror.freshCache())
        do throws(TUFError) {
            _ = try await client.refresh(target: "trusted_root.json", deadline: .now + Self.deadline)
            return nil
        } catch {
            return error
        }
    }

    @Test func aGoodRepositoryRotatesTheRootAndServesTheTargetByHash() async throws {
        let mirror = try await offPool { try Mirror() }
        defer { mirror.stop() }
        let cache = mirror.freshCache()
        let target = try await mirror.client("good", cache: cache).refresh(target: "trusted_root.json", deadline: .now + Self.deadline)
        #expect(target == Array(try Data(contentsOf: mirror.directory.appendingPathComponent("trusted_root.json"))))
        let cachedRoot = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: cache + "/root.json"))))
        #expect(cachedRoot["signed"]?["version"] == 2, "the rotated root is the trusted one now")
        // A later publication is taken; an older one after it is a rollback.
        #expect(try await Self.refused(mirror, "newer", cache: cache) == nil)
        let rollback = try await Self.refused(mirror, "rollback", cache: cache)
        #expect(rollback?.code == .rollback && rollback?.message.contains("older than the trusted v3") == true, "\(String(describing: rollback))")
    }

    @Test(arguments: [
        ("expired", TUFError.Code.expired, "timestamp v2 has expired"),
        ("expired-root", .expired, "the trusted root (v2) expired"),
        // One key listed under two key IDs is one signature, not the two the new root asks for.
        ("duplicate-keyid", .signatures, "has 1 valid signature(s) of the 2"),
        ("rotation-unsigned", .signatures, "root v2 (by the trusted root) metadata v2 has 0 valid signature(s)"),
        // Another snapshot than the timestamp describes: its length, or else its hash, gives it away.
        ("mix-and-match", .mixAndMatch, "2.snapshot.json"),
        ("truncated", .length, "trusted_root.json is"),
        ("oversized", .length, "is longer than its metadata allows"),
    ])
    func eachAttackIsRefusedWithItsReason(scenario: String, code: TUFError.Code, message: String) async throws {
        let mirror = try await offPool { try Mirror() }
        defer { mirror.stop() }
        let error = try await Self.refused(mirror, scenario)
        let codes: [TUFError.Code] = code == .mixAndMatch ? [.mixAndMatch, .length] : [code]
        #expect(error.map { codes.contains($0.code) } == true && error?.message.contains(message) == true, "\(scenario): \(String(describing: error))")
    }

    /// A root in the cache is trusted only if its own root role signed it: a tampered cached
    /// root (a higher version, its signature no longer matching) is passed over, and the update
    /// starts from the initial root again.
    @Test func aTamperedCachedRootIsNotTrusted() async throws {
        let mirror = try await offPool { try Mirror() }
        defer { mirror.stop() }
        let cache = mirror.freshCache()
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        var object = try JSONParser.parse(Array(try Data(contentsOf: mirror.directory.appendingPathComponent("root.json")))).objectValue!
        var signed = object["signed"]!.objectValue!
        signed["version"] = .number("9")
        object["signed"] = .object(signed)
        try Data(JSONWriter.encode(.object(object))).write(to: URL(fileURLWithPath: cache + "/root.json"))
        #expect(try await Self.refused(mirror, "good", cache: cache) == nil)
        let cachedRoot = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: cache + "/root.json"))))
        #expect(cachedRoot["signed"]?["version"] == 2, "the verified chain replaced the tampered root")
    }

    /// sigstore's real root history (sigstore/root-signing metadata/root_history 1–15, in
    /// Tests/Conformance/sigstore-root-signing): starting from v1, every rotation is signed by the
    /// threshold of the old and of the new root, up to v15; a chain with a link removed stops.
    @Test func sigstoresRealRootChainVerifiesFromVersionOne() async throws {
        let history = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Conformance/sigstore-root-signing")
        let port = try freePort(), children = ChildProcesses()
        try children.start("/usr/bin/env", ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", history.path])
        defer { children.stopAll() }
        try waitForPort(port)
        let initial = Array(try Data(contentsOf: history.appendingPathComponent("metadata/1.root.json")))
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-tuf-real-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let client = TUFClient(metadataURL: "http://127.0.0.1:\(port)/metadata", targetsURL: "http://127.0.0.1:\(port)/targets",
                               initialRoot: initial, cacheDirectory: cache, fetcher: CurlFetcher())
        #expect(try await client.updateRoot(deadline: .now + Self.deadline) == 15)
        // v5 presented as v6's successor: v6 would have to carry v5's signatures — it does not.
        var tamperedObject = try JSONParser.parse(Array(try Data(contentsOf: history.appendingPathComponent("metadata/6.root.json")))).objectValue!
        tamperedObject["signatures"] = try JSONParser.parse(Array(try Data(contentsOf: history.appendingPathComponent("metadata/5.root.json"))))["signatures"]
        let tampered = JSONValue.object(tamperedObject)
        let forgedDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-tuf-forged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: forgedDirectory.appendingPathComponent("metadata"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: forgedDirectory) }
        for version in 1...5 {
            try FileManager.default.copyItem(at: history.appendingPathComponent("metadata/\(version).root.json"), to: forgedDirectory.appendingPathComponent("metadata/\(version).root.json"))
        }
        try Data(JSONWriter.encode(tampered)).write(to: forgedDirectory.appendingPathComponent("metadata/6.root.json"))
        let forgedPort = try freePort(), forgedServer = ChildProcesses()
        try forgedServer.start("/usr/bin/env", ["python3", "-m", "http.server", String(forgedPort), "--bind", "127.0.0.1", "--directory", forgedDirectory.path])
        defer { forgedServer.stopAll() }
        try waitForPort(forgedPort)
        let forged = TUFClient(metadataURL: "http://127.0.0.1:\(forgedPort)/metadata", targetsURL: "http://127.0.0.1:\(forgedPort)/targets",
                               initialRoot: initial, cacheDirectory: cache + "-forged", fetcher: CurlFetcher())
        do throws(TUFError) {
            _ = try await forged.updateRoot(deadline: .now + Self.deadline)
            Issue.record("a root with another version's signatures was accepted")
        } catch {
            #expect(error.code == .signatures && error.message.contains("root v6"), "\(error)")
        }
    }

    /// securesystemslib's canonical JSON: sorted keys, no whitespace, only \ and " escaped.
    @Test func canonicalJSON() throws {
        let value = try JSONParser.parse(#"{"b": [1, true, null], "a": "x\"y\\z\n", "é": {}}"#)
        #expect(String(decoding: CanonicalJSON.encode(value), as: UTF8.self) == "{\"a\":\"x\\\"y\\\\z\n\",\"b\":[1,true,null],\"é\":{}}")
    }
}
