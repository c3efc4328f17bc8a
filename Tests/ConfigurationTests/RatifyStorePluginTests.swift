import Configuration
import Core
import Foundation
import JSON
import Logging
import Plugins
import Testing
import TestSupport

/// A store that is not oras runs as a Ratify store plugin (Tests/Support/Fixtures/ratify_test_store.py,
/// written to Ratify's protocol), found from config.json as Ratify finds it; a cosign signature it
/// serves is verified end to end through the executor.
@Suite(.serialized) struct RatifyStorePluginTests {
    struct Setup {
        let directory: URL
        let key: String
        let subject = "registry.example/app:v1"
        var calls: [JSONValue] {
            let text = (try? String(contentsOf: directory.appendingPathComponent("teststore.calls.jsonl"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        }
    }

    /// A cosign-signed subject and an SBOM next to it, as the plugin's content file.
    static func setUp() throws -> Setup {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-store-plugin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: FixtureScripts.path("ratify_test_store.py"), toPath: directory.appendingPathComponent("teststore").path)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.appendingPathComponent("teststore").path)
        let subjectManifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#.utf8)
        let subjectDigest = Digest.of(subjectManifest)
        try ProcessRunner.python(FixtureScripts.path("make_signatures.py"), [directory.appendingPathComponent("cosign").path, subjectDigest.description])
        let signatures = try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent("cosign/signatures.json"))))
        // The annotated payload: cosign's default one would be predicted and never fetched
        // (SimpleSigning.predictedPayload), and the blob path through the plugin is under test.
        let payload = Array(Data(base64Encoded: signatures["annotatedPayload"]!.stringValue!)!)
        let payloadDigest = Digest.of(payload).description
        let sbom = Array(#"{"spdxVersion":"SPDX-2.3"}"#.utf8)
        let cosignArtifact = "sha256:" + String(repeating: "c", count: 64), sbomArtifact = "sha256:" + String(repeating: "d", count: 64)
        let content: JSONValue = [
            "subjects": [.init(stringLiteral: "registry.example/app:v1"): ["mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                                          "digest": .string(subjectDigest.description), "size": .int(subjectManifest.count)]],
            "referrers": [.init(stringLiteral: subjectDigest.description): [
                ["mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": .string(sbomArtifact), "size": 10, "artifactType": "application/spdx+json"],
                ["mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": .string(cosignArtifact), "size": 10,
                 "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json"],
            ]],
            "manifests": [.init(stringLiteral: cosignArtifact): [
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                "blobs": [["mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": .string(payloadDigest), "size": .int(payload.count),
                           "annotations": ["dev.cosignproject.cosign/signature": signatures["annotatedSignature"]!]]],
            ]],
            "blobs": [.init(stringLiteral: payloadDigest): .string(Data(payload).base64EncodedString()), .init(stringLiteral: sbomArtifact): .string(Data(sbom).base64EncodedString())],
        ]
        try Data(JSONWriter.encode(content)).write(to: directory.appendingPathComponent("content.json"))
        return Setup(directory: directory, key: directory.appendingPathComponent("cosign/ec256.pub").path)
    }

    static func verify(_ setup: Setup, storeSettings: String = "") async throws -> VerificationResult {
        let document = #"""
        {"store": {"version": "1.0.0", "pluginBinDirs": ["\#(setup.directory.path)"],
                   "plugins": [{"name": "teststore", "content": "\#(setup.directory.appendingPathComponent("content.json").path)"\#(storeSettings)}]},
         "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy"}},
         "verifier": {"version": "1.0.0", "plugins": [{"name": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
             "trustPolicies": [{"name": "default", "scopes": ["*"], "keys": [{"file": "\#(setup.key)"}], "tLogVerify": false}]}]}}
        """#
        let config = try RatifyConfig.read(Array(document.utf8), path: "config.json")
        let executor = ExecutorFactory.verifyExecutor(config, store: try StoreFactory.makeStore(for: config), generation: 1, logger: Logger(label: "test"))
        return try await (executor as! VerificationExecutor).verify(key: setup.subject, deadline: .now + .seconds(20))
    }

    @Test func aCosignSignatureServedByAStorePluginIsVerifiedThroughRatifysProtocol() async throws {
        let setup = try await offPool { try Self.setUp() }
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let result = try await Self.verify(setup, storeSettings: #", "pageSize": 1"#)
        #expect(result.isSuccess, "\(result.reports.map(\.message))")
        let calls = setup.calls
        let commands = calls.compactMap { $0["env"]?["RATIFY_STORE_COMMAND"]?.stringValue }
        #expect(commands.first == "GETSUBJECTDESCRIPTOR" && commands.contains("GETREFMANIFEST") && commands.contains("GETBLOB"), "\(commands)")
        #expect(calls.first?["env"]?["RATIFY_STORE_SUBJECT"]?.stringValue == setup.subject)
        #expect(calls.first?["env"]?["RATIFY_STORE_VERSION"] == "1.0.0")
        // Pages are followed by nextToken; the store's own settings arrive on stdin.
        let lists = calls.filter { $0["env"]?["RATIFY_STORE_COMMAND"] == "LISTREFERRERS" }.compactMap { $0["env"]?["RATIFY_STORE_ARGS"]?.stringValue }
        #expect(lists.count >= 2 && lists.contains { $0.hasPrefix("nextToken=1;artifactTypes=") }, "\(lists)")
        #expect(calls.first?["config"]?["pageSize"] == 1 && calls.first?["config"]?["name"] == "teststore")
        #expect(calls.contains { $0["env"]?["RATIFY_STORE_ARGS"]?.stringValue?.hasPrefix("digest=sha256:") == true })
    }

    /// Log lines on stderr and around JSON answers on stdout are tolerated, as Ratify's
    /// parsePluginOutput tolerates them; a blob is still exactly its bytes.
    @Test func aChattyStorePluginStillWorks() async throws {
        let setup = try await offPool { try Self.setUp() }
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let result = try await Self.verify(setup, storeSettings: #", "chatty": true"#)
        #expect(result.isSuccess, "\(result.reports.map(\.message))")
    }

    @Test(arguments: [
        (#", "fail": "GETBLOB""#, "exit status 1"),
        (#", "fail": "LISTREFERRERS""#, "registry unavailable"),
        (#", "corruptBlobs": true"#, "do not match its digest and size"),
    ])
    func everyFailureOfTheStorePluginFailsVerification(settings: String, message: String) async throws {
        let setup = try await offPool { try Self.setUp() }
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        do {
            let result = try await Self.verify(setup, storeSettings: settings)
            #expect(!result.isSuccess)
            #expect(result.reports.contains { $0.message.contains(message) }, "\(result.reports.map(\.message))")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func aStoreThatIsNeitherOrasNorInstalledIsAConfigurationError() throws {
        #expect {
            try RatifyConfig.read(Array(#"{"store": {"version": "1.0.0", "pluginBinDirs": ["/nonexistent"], "plugins": [{"name": "s3store"}]}}"#.utf8), path: "config.json")
        } throws: { "\($0)".contains("store.plugins[0].name") && "\($0)".contains("PLUGIN_NOT_FOUND") }
    }
}
