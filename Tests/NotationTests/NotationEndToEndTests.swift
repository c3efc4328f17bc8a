import Core
import Foundation
import JSON
import Notation
import Registry
import Testing
import TestSupport

/// Images in Debian's docker-registry (distribution 2.8, no referrers API) with JWS and COSE
/// signatures attached through the referrers tag schema, verified by the `ratify` binary with a
/// trust policy file and a trust store in notation's own formats.
@Suite(.serialized) struct NotationEndToEndTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/ratify").path

    struct Setup {
        let registry: LocalRegistry
        let configFile: String
        let signed: PushedContent
    }

    /// app:jws carries a valid JWS and a valid COSE signature; app:bad a tampered COSE signature
    /// and a JWS one from an untrusted root; app:copied app:jws's JWS signature (valid, for
    /// another artifact); app:unsigned none.
    static func setUp() async throws -> Setup {
        let registry = try await offPool { try LocalRegistry() }
        return try await offPool {
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            let image = try oci.pushImage("app", tag: "jws")
            let subject = Descriptor(mediaType: image.mediaType, digest: try Digest.parse(image.digest), size: image.size)
            let fixtures = try NotationFixtures(subject: subject)
            func attach(_ name: String, to target: PushedContent) throws {
                let envelope = try fixtures.envelope(name)
                try oci.attach("app", to: target, artifactType: MediaType.notarySignature, layers: [(envelope.mediaType, envelope.bytes)])
            }
            try attach("jws-es256", to: image)
            try attach("cose-ps256", to: image)
            // Other images get signatures over *their* descriptors from a second fixture run.
            let other = try oci.pushImage("app", tag: "bad")
            let otherFixtures = try NotationFixtures(subject: Descriptor(mediaType: other.mediaType, digest: try Digest.parse(other.digest), size: other.size))
            let otherEnvelope = { (name: String) throws in
                let envelope = try otherFixtures.envelope(name)
                try oci.attach("app", to: other, artifactType: MediaType.notarySignature, layers: [(envelope.mediaType, envelope.bytes)])
            }
            try otherEnvelope("cose-tampered-signature")
            try otherEnvelope("jws-untrusted-root")
            try oci.pushImage("app", tag: "unsigned")
            // A signature copied from app:jws onto another image: valid, but for another artifact.
            let copied = try oci.pushImage("app", tag: "copied")
            try attach("jws-es256", to: copied)

            // notation's own trustpolicy.json and trust store directory, referenced from Ratify's config.
            let policyFile = registry.directory.appendingPathComponent("trustpolicy.json").path
            try #"{"version":"1.0","trustPolicies":[{"name":"wabbit","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:wabbit"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=wabbit-networks.io"]}]}"#
                .write(toFile: policyFile, atomically: true, encoding: .utf8)
            // verifyEverySignature: both envelopes are verified although `any` is settled by one.
            let config = """
            {"executor":{"verifyEverySignature":true},"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},
             "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.cncf.notary.signature":"any"}}},
             "verifier":{"version":"1.0.0","plugins":[{"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature",
               "verificationCerts":["\(fixtures.directory.path)/truststore"],"trustPolicyDoc":"\(policyFile)"}]}}
            """
            let file = registry.directory.appendingPathComponent("ratify.json").path
            try config.write(toFile: file, atomically: true, encoding: .utf8)
            return Setup(registry: registry, configFile: file, signed: image)
        }
    }

    func run(_ setup: Setup, _ tag: String, _ extra: [String] = []) async throws -> ProcessRunner.Result {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        return try await offPool { try ProcessRunner.run(Self.binary, ["verify", "-c", setup.configFile, "-s", "\(setup.registry.host)/app:\(tag)"] + extra) }
    }

    @Test func jwsAndCoseSignaturesVerifyThroughTheReferrersTagSchema() async throws {
        let setup = try await Self.setUp()
        defer { setup.registry.stop() }

        let pass = try await run(setup, "jws")
        #expect(pass.status == 0, "\(pass.output)")
        let report = try JSONParser.parse(pass.output)
        #expect(report["isSuccess"] == true)
        let reports = report["verifierReports"]?.arrayValue ?? []
        #expect(reports.count == 2, "one report per signature: JWS and COSE")
        for entry in reports {
            #expect(entry["isSuccess"] == true)
            #expect(entry["name"] == "notation")
            #expect(entry["type"] == "notation")
            #expect(entry["artifactType"] == "application/vnd.cncf.notary.signature")
            #expect(entry["message"] == "signature verification success")
            #expect(entry["extensions"]?["Issuer"] == "CN=wabbit intermediate,O=wabbit-networks.io,ST=WA,C=US")
            #expect(entry["extensions"]?["SN"] == "CN=SecureBuilder,O=wabbit-networks.io,L=Seattle,ST=WA,C=US")
            #expect(entry["subject"]?.stringValue == "\(setup.registry.host)/app:jws@\(setup.signed.digest)")
        }

        let bad = try await run(setup, "bad", ["-o", "text"])
        #expect(bad.status == 1, "\(bad.output)")
        #expect(bad.output.contains("SIGNATURE_INTEGRITY_FAILURE"))
        #expect(bad.output.contains("SIGNATURE_NOT_TRUSTED"))

        let copied = try await run(setup, "copied")
        #expect(copied.status == 1)
        let copiedReport = try JSONParser.parse(copied.output)
        #expect(copiedReport["verifierReports"]?.arrayValue?.first?["errorReason"] == "SIGNATURE_SUBJECT_MISMATCH")

        let unsigned = try await run(setup, "unsigned", ["-o", "text"])
        #expect(unsigned.status == 1)
        #expect(unsigned.output.contains("REFERRERS_NOT_FOUND"))
    }

    /// `notation cert generate-test`'s lone self-signed certificate, JWS and COSE, through the
    /// binary against docker-registry: trusted when the `ca` store holds that certificate and
    /// the identity matches; not when the store holds another one or the identity differs.
    @Test func aSelfSignedGenerateTestCertificateVerifiesEndToEnd() async throws {
        let registry = try await offPool { try LocalRegistry() }
        defer { registry.stop() }
        let (store, host) = try await offPool { () throws -> (String, String) in
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            let image = try oci.pushImage("alpine", tag: "v1")
            let fixtures = try NotationFixtures(subject: Descriptor(mediaType: image.mediaType, digest: try Digest.parse(image.digest), size: image.size))
            for name in ["jws-self-signed", "cose-self-signed"] {
                let envelope = try fixtures.envelope(name)
                try oci.attach("alpine", to: image, artifactType: MediaType.notarySignature, layers: [(envelope.mediaType, envelope.bytes)])
            }
            return ("\(fixtures.directory.path)/truststore", registry.host)
        }
        func verify(store storeName: String, identity: String) async throws -> (ProcessRunner.Result, JSONValue?) {
            let config = """
            {"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},
             "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.cncf.notary.signature":"all"}}},
             "verifier":{"version":"1.0.0","plugins":[{"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature",
               "verificationCerts":["\(store)"],"trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"quickstart","registryScopes":["\(host)/alpine"],
               "signatureVerification":{"level":"strict"},"trustStores":["ca:\(storeName)"],"trustedIdentities":["\(identity)"]}]}}]}}
            """
            let file = registry.directory.appendingPathComponent("selfsigned-\(UUID().uuidString).json").path
            try config.write(toFile: file, atomically: true, encoding: .utf8)
            let result = try await offPool { try ProcessRunner.run(Self.binary, ["verify", "-c", file, "-s", "\(host)/alpine:v1"]) }
            return (result, try? JSONParser.parse(result.output))
        }
        let alpine = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine"

        let (pass, report) = try await verify(store: "selfsigned", identity: alpine)
        #expect(pass.status == 0, "\(pass.output)")
        let reports = report?["verifierReports"]?.arrayValue ?? []
        #expect(reports.count == 2 && reports.allSatisfy { $0["isSuccess"] == true }, "JWS and COSE both pass: \(pass.output)")
        #expect(reports.first?["extensions"]?["SN"] == "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US")

        let (otherStore, otherReport) = try await verify(store: "other-selfsigned", identity: alpine)
        #expect(otherStore.status == 1)
        #expect(otherReport?["verifierReports"]?.arrayValue?.map { $0["errorReason"] } == [.string("SIGNATURE_NOT_TRUSTED"), .string("SIGNATURE_NOT_TRUSTED")], "\(otherStore.output)")

        let (otherIdentity, identityReport) = try await verify(store: "selfsigned", identity: "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=busybox")
        #expect(otherIdentity.status == 1)
        #expect(identityReport?["verifierReports"]?.arrayValue?.map { $0["errorReason"] } == [.string("TRUSTED_IDENTITY_MISMATCH"), .string("TRUSTED_IDENTITY_MISMATCH")], "\(otherIdentity.output)")
    }
}
