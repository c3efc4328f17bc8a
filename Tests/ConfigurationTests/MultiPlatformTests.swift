import Core
import Foundation
import JSON
import Logging
import Configuration
import Registry
import Testing
import TestSupport

/// Issue #18: multi-platform images in docker-registry. The index is never signed; its platform
/// manifests are (notation, from the independent generator), except in `partly`.
@Suite(.serialized) struct MultiPlatformTests {
    struct Seeded {
        var registry: LocalRegistry
        var truststore: String
    }

    static func index(_ oci: OCIFixtures, _ registry: LocalRegistry, tag: String, children: [(PushedContent, platform: (String, String))],
                      attestationFor: PushedContent? = nil) throws -> PushedContent {
        var entries: [JSONValue] = children.map { child, platform in
            ["mediaType": .string(child.mediaType), "digest": .string(child.digest), "size": .int(child.size),
             "platform": ["os": .string(platform.0), "architecture": .string(platform.1)]]
        }
        if let attested = attestationFor {
            // buildx's attestation manifest: unknown/unknown, pointing at the manifest it describes.
            let attestation = try oci.pushImage("multi", tag: "attestation-\(tag)")
            entries.append(["mediaType": .string(attestation.mediaType), "digest": .string(attestation.digest), "size": .int(attestation.size),
                            "platform": ["os": "unknown", "architecture": "unknown"],
                            "annotations": ["vnd.docker.reference.type": "attestation-manifest",
                                            "vnd.docker.reference.digest": .string(attested.digest)]])
        }
        let document: JSONValue = ["schemaVersion": 2, "mediaType": .string(OCIFixtures.ociIndex), "manifests": .array(entries)]
        return try registry.pushManifest("multi", reference: tag, JSONWriter.encode(document), mediaType: OCIFixtures.ociIndex)
    }

    /// signed: both platforms signed (plus an unsigned attestation manifest); partly: arm64 unsigned;
    /// indexSigned: only the index signed.
    static func seed() throws -> Seeded {
        let registry = try LocalRegistry()
        let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let amd64 = try oci.pushImage("multi", tag: "amd64"), arm64 = try oci.pushImage("multi", tag: "arm64")
        let unsignedArm = try oci.pushImage("multi", tag: "arm64-unsigned")
        _ = try index(oci, registry, tag: "signed", children: [(amd64, ("linux", "amd64")), (arm64, ("linux", "arm64"))], attestationFor: amd64)
        _ = try index(oci, registry, tag: "partly", children: [(amd64, ("linux", "amd64")), (unsignedArm, ("linux", "arm64"))])
        let lone = try oci.pushImage("multi", tag: "lone")
        let indexSigned = try index(oci, registry, tag: "index-signed", children: [(lone, ("linux", "amd64"))])
        let fixtures = registry.directory.appendingPathComponent("notation-multi")
        let subjects = fixtures.appendingPathExtension("subjects.json")
        try FileManager.default.createDirectory(at: fixtures, withIntermediateDirectories: true)
        let signed = [amd64, arm64, indexSigned]
        try Data(JSONWriter.encode(.array(signed.map(\.descriptor)))).write(to: subjects)
        try ProcessRunner.python(FixtureScripts.path("make_notation_fixtures.py"),
                                 [fixtures.path, amd64.mediaType, amd64.digest, String(amd64.size), "--basic", "--subjects", subjects.path])
        for (index, subject) in signed.enumerated() {
            let envelope = Array(try Data(contentsOf: fixtures.appendingPathComponent("subject-\(index).jws")))
            try oci.attach("multi", to: subject, artifactType: MediaType.notarySignature, layers: [("application/jose+json", envelope)])
        }
        return Seeded(registry: registry, truststore: fixtures.appendingPathComponent("truststore").path)
    }

    static func executor(_ seeded: Seeded, mode: String?) throws -> any ProviderExecutor {
        let policy = mode.map { #","multiPlatform":"\#($0)""# } ?? ""
        let text = #"""
        {"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},
         "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.cncf.notary.signature":"any"}\#(policy)}},
         "verifier":{"version":"1.0.0","plugins":[{"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature","verificationCerts":["\#(seeded.truststore)"],
           "trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"default","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:wabbit"],"trustedIdentities":["*"]}]}}]}}
        """#
        return try ExecutorFactory.make(try RatifyConfig.parse(Array(text.utf8), source: "t"), generation: 1, logger: Logger(label: "t"))
    }

    static func verdicts(_ executor: any ProviderExecutor, _ seeded: Seeded, _ tags: [String]) async -> [JSONValue?] {
        let items = await executor.execute(tags.map { "\(seeded.registry.host)/multi:\($0)" },
                                           context: ProviderContext(requestID: "r", operation: .verify, deadline: .now + .seconds(30)))
        return items.map { $0.value }
    }

    @Test func eachModeDecidesWhatMustBeSigned() async throws {
        let seeded = try await offPool { try Self.seed() }
        defer { seeded.registry.stop() }
        let tags = ["signed", "partly", "index-signed"]
        // index (the default, Ratify's): the unsigned indexes fail although their platforms are signed.
        let index = await Self.verdicts(try Self.executor(seeded, mode: nil), seeded, tags)
        #expect(index.map { $0?["isSuccess"] } == [false, false, true])
        let children = await Self.verdicts(try Self.executor(seeded, mode: "children"), seeded, tags)
        #expect(children.map { $0?["isSuccess"] } == [true, false, false])
        let either = await Self.verdicts(try Self.executor(seeded, mode: "either"), seeded, tags)
        #expect(either.map { $0?["isSuccess"] } == [true, false, true])

        // The report nests each platform's own reports and notes the skipped attestation manifest.
        let reports = children[0]?["verifierReports"]?.arrayValue ?? []
        #expect(reports.map { $0["extensions"]?["platform"]?.stringValue } == ["linux/amd64", "linux/arm64", "unknown/unknown"])
        #expect(reports.prefix(2).allSatisfy { $0["isSuccess"] == true && $0["nestedResults"]?.arrayValue?.first?["verifierType"] == "notation" })
        #expect(reports.last?["extensions"]?["skipped"] == true && reports.last?["message"]?.stringValue?.contains("attestation manifest") == true)
        // The unsigned platform is named.
        let partly = children[1]?["verifierReports"]?.arrayValue ?? []
        #expect(partly.first { $0["extensions"]?["platform"] == "linux/arm64" }?["errorReason"] == "PLATFORM_VERIFICATION_FAILED")
        #expect(partly.first { $0["extensions"]?["platform"] == "linux/amd64" }?["isSuccess"] == true)
        // either: the index's failure and the platforms' are both in the denial.
        let eitherPartly = either[1]?["verifierReports"]?.arrayValue ?? []
        #expect(eitherPartly.contains { $0["errorReason"] == "REFERRERS_NOT_FOUND" } && eitherPartly.contains { $0["errorReason"] == "PLATFORM_VERIFICATION_FAILED" })
        // A single-platform image is verified as before in every mode.
        let single = await Self.verdicts(try Self.executor(seeded, mode: "children"), seeded, ["amd64", "arm64-unsigned"])
        #expect(single.map { $0?["isSuccess"] } == [true, false])
    }

    @Test func anUnknownModeIsRefusedWhenTheConfigurationLoads() {
        #expect(throws: ConfigurationError.self) {
            try RatifyConfig.parse(Array(#"{"policy":{"version":"1.0.0","plugin":{"name":"configPolicy","multiPlatform":"all"}}}"#.utf8), source: "t")
        }
    }
}
