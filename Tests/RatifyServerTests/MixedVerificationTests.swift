import Configuration
import Core
import Foundation
import JSON
import Logging
@testable import RatifyServer
import Registry
import Testing
import TestSupport

/// One ProviderRequest over HTTPS for images signed every way the built-in verifiers know, in the
/// real docker-registry: notation (JWS, referrers tag schema), cosign (`.sig` tag), both,
/// unsigned, a tampered notation signature, and valid + tampered notation signatures together
/// (where `any` and `all` disagree). Signatures come from the independent generators.
@Suite(.serialized) struct MixedVerificationTests {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let binary = testsDirectory.deletingLastPathComponent().appendingPathComponent(".build/debug/ratify").path

    struct Setup {
        let registry: LocalRegistry
        let notationTrustStore: String
        let cosignKey: String
    }

    static func setUp() async throws -> Setup {
        let registry = try await offPool { try LocalRegistry() }
        return try await offPool {
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            var trustStores: [String] = [], cosignKey = "", runs = 0
            func notation(_ image: PushedContent, tamper: Bool = false) throws {
                runs += 1
                let out = registry.directory.appendingPathComponent("notation-\(runs)")
                try ProcessRunner.python(FixtureScripts.path("make_notation_fixtures.py"),
                                         [out.path, image.mediaType, image.digest, String(image.size), "--basic"])
                var envelope = try JSONParser.parse(Array(try Data(contentsOf: out.appendingPathComponent("jws-es256.jws")))).objectValue!
                if tamper {
                    // Flip one base64url character of the signature: same length, different bytes.
                    var signature = Array(envelope["signature"]!.stringValue!)
                    signature[5] = signature[5] == "A" ? "B" : "A"
                    envelope["signature"] = .string(String(signature))
                }
                try oci.attach("app", to: image, artifactType: MediaType.notarySignature,
                               layers: [("application/jose+json", Array(JSONWriter.encodeString(.object(envelope)).utf8))])
                trustStores.append(out.appendingPathComponent("truststore/x509/ca/wabbit/root.crt").path)
            }
            func cosign(_ image: PushedContent) throws {
                let out = registry.directory.appendingPathComponent("cosign-\(image.digest.suffix(12))")
                try ProcessRunner.python(FixtureScripts.path("make_signatures.py"), [out.path, image.digest])
                let document = try JSONParser.parse(Array(try Data(contentsOf: out.appendingPathComponent("signatures.json"))))
                cosignKey = out.appendingPathComponent("ec256.pub").path  // one cosign-signed image per setup
                try oci.pushCosignSignatures("app", for: image, layers: [(payload: Array(Data(base64Encoded: document["payload"]!.stringValue!)!),
                                                                          annotations: ["dev.cosignproject.cosign/signature": document["signatures"]!["ec256"]!.stringValue!])])
            }
            let notationSigned = try oci.pushImage("app", tag: "notation")
            try notation(notationSigned)
            let cosignSigned = try oci.pushImage("app", tag: "cosign")
            try cosign(cosignSigned)
            try oci.pushImage("app", tag: "unsigned")
            try notation(try oci.pushImage("app", tag: "tampered"), tamper: true)
            let mixed = try oci.pushImage("app", tag: "mixed")
            try notation(mixed)
            try notation(mixed, tamper: true)
            // Each generator run has its own root; trust all of them in one directory.
            let store = registry.directory.appendingPathComponent("notation-roots")
            try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
            for (index, root) in trustStores.enumerated() {
                try FileManager.default.copyItem(atPath: root, toPath: store.appendingPathComponent("root-\(index).crt").path)
            }
            return Setup(registry: registry, notationTrustStore: store.path, cosignKey: cosignKey)
        }
    }

    /// Only `default` is set: as in Ratify, every artifact type listed by name must be satisfied,
    /// so naming notation or cosign would fail images signed only the other way. The default
    /// applies per artifact type present (and, unlike Ratify, `any` over failing reports only is
    /// a failure).
    func config(_ setup: Setup, policy: String) -> String {
        """
        {"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true,"cosignEnabled":true}]},
         "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"default":"\(policy)"}}},
         "verifier":{"version":"1.0.0","plugins":[
           {"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature","verificationCerts":["\(setup.notationTrustStore)"],
            "trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"default","registryScopes":["*"],"signatureVerification":{"level":"strict"},
              "trustStores":["ca:certs"],"trustedIdentities":["*"]}]}},
           {"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json","key":"\(setup.cosignKey)"}]}}
        """
    }

    /// Reports without the per-run fields, for comparing the server's answer with the CLI's.
    static func stable(_ value: JSONValue?) -> JSONValue? {
        guard var object = value?.objectValue else { return value }
        object["traceID"] = nil
        object["timestamp"] = nil
        return .object(object)
    }

    @Test func eachKeyGetsItsVerdictAndTheCLIAgreesWithTheServer() async throws {
        let setup = try await Self.setUp()
        defer { setup.registry.stop() }
        let host = setup.registry.host
        let tags = ["notation", "cosign", "unsigned", "tampered", "mixed"]
        let keys = tags.map { "\(host)/app:\($0)" }
        let parsed = try RatifyConfig.parse(Array(config(setup, policy: "any").utf8), source: "mixed")
        let running = try await RunningServer.start(executor: try ExecutorFactory.make(parsed, generation: 1, logger: Logger(label: "t")))
        let body = try running.json(try await running.post(verifyPath, providerRequest(keys)))
        await running.server.shutdown(gracePeriod: .seconds(1))
        let items = try #require(body["response"]?["items"]?.arrayValue)
        #expect(items.map { $0["key"]?.stringValue } == keys, "items come back in request order")
        #expect(items.map { $0["value"]?["isSuccess"]?.boolValue } == [true, true, false, false, true])
        let reasons = items.map { $0["value"]?["verifierReports"]?.arrayValue?.compactMap { $0["errorReason"]?.stringValue } ?? [] }
        #expect(reasons[0].isEmpty && reasons[1].isEmpty, "\(items[0]) \(items[1])")
        #expect(reasons[2] == ["REFERRERS_NOT_FOUND"])
        #expect(reasons[3] == ["SIGNATURE_INTEGRITY_FAILURE"])
        #expect(reasons[4] == ["VERIFICATION_NOT_NEEDED"], "mixed's valid signature (listed first) settles `any`; the tampered one is not verified")
        #expect(items[1]["value"]?["verifierReports"]?.arrayValue?.first?["verifierName"] == "cosign")

        // The CLI builds the same executor from the same file: same reports.
        let file = setup.registry.directory.appendingPathComponent("mixed.json").path
        try config(setup, policy: "any").write(toFile: file, atomically: true, encoding: .utf8)
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        for (index, key) in keys.enumerated() {
            let result = try await offPool { try ProcessRunner.run(Self.binary, ["verify", "-c", file, "-s", key]) }
            #expect(result.status == (items[index]["value"]?["isSuccess"] == true ? 0 : 1), "\(key): \(result.output)")
            #expect(Self.stable(try JSONParser.parse(result.output)) == Self.stable(items[index]["value"]), "\(key)")
        }

        // `all`: every report of a type must pass, so mixed (one good, one tampered) fails.
        let strict = try RatifyConfig.parse(Array(config(setup, policy: "all").utf8), source: "mixed-all")
        let executor = try ExecutorFactory.make(strict, generation: 2, logger: Logger(label: "t"))
        let answers = await executor.execute(keys, context: ProviderContext(requestID: "all", operation: .verify, deadline: .now + .seconds(10)))
        #expect(answers.map { $0.value?["isSuccess"]?.boolValue } == [true, true, false, false, false])
    }
}
