import Core
import Crypto
import Foundation
import HTTPClient
import JSON
@testable import Notation
import Registry
import Testing
import TestSupport

/// A real OCSP responder (`openssl ocsp -port` on loopback, answering from an index where one
/// leaf is revoked) and a CRL served over loopback HTTP (`python3 -m http.server`), for
/// fixtures whose leaves name them in their AIA and CRL distribution point extensions.
final class RevocationServices: @unchecked Sendable {
    let fixtures: NotationFixtures
    let crlURL: String
    private let children = ChildProcesses()

    /// `ocsp` / `crl`: whether that service runs; a service that does not run still has its URL
    /// in the certificates, pointing at a closed port.
    init(ocsp: Bool, crl: Bool) throws {
        let ocspPort = try freePort(), crlPort = try freePort()
        crlURL = "http://127.0.0.1:\(crlPort)/intermediate.crl"
        fixtures = try NotationFixtures(subject: NotationFixtures.subject, basic: true,
                                        extra: ["--ocsp", "http://127.0.0.1:\(ocspPort)", "--crl", crlURL])
        let revocation = fixtures.directory.appendingPathComponent("revocation").path
        if ocsp {
            try children.start("/usr/bin/openssl", ["ocsp", "-index", "\(revocation)/index.txt", "-port", String(ocspPort),  // OpenSSL 3.0 takes a bare port
                                           "-rsigner", "\(revocation)/intermediate.crt", "-rkey", "\(revocation)/intermediate.key",
                                           "-CA", "\(revocation)/intermediate.crt", "-ignore_err"], log: "\(revocation)/ocsp.log")
            // Not waitForPort: a probe connection that closes without a request wedges the
            // (single-threaded) responder. It says when it listens.
            let ready = Date().addingTimeInterval(10)
            while !((try? String(contentsOfFile: "\(revocation)/ocsp.log", encoding: .utf8))?.contains("waiting for OCSP client connections") ?? false) {
                guard Date() < ready else { throw TestFailure("openssl ocsp did not start") }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        if crl {
            try children.start("/usr/bin/env", ["python3", "-m", "http.server", String(crlPort), "--bind", "127.0.0.1", "--directory", revocation])
            try waitForPort(crlPort)
        }
    }

    func stop() { children.stopAll() }

    func chain(_ name: String) throws -> [Certificate] {
        let envelope = try fixtures.envelope(name)
        return try SignatureEnvelope.parse(envelope.bytes, mediaType: envelope.mediaType).certificates
    }
}

/// One signature manifest and its envelope, served from memory.
struct OneSignatureStore: ReferrerStore {
    let subject: Descriptor
    let manifest: Manifest
    let envelope: [UInt8]

    init(envelope: [UInt8], mediaType: String) throws {
        subject = NotationFixtures.subject
        let layer = Descriptor(mediaType: mediaType, digest: try Digest.parse("sha256:" + Hash.hex(.sha256, envelope)), size: envelope.count)
        let document: JSONValue = ["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest), "artifactType": .string(MediaType.notarySignature),
                                   "config": ["mediaType": .string(MediaType.ociEmpty), "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2],
                                   "layers": [layer.json()], "subject": subject.json()]
        manifest = try Manifest.parse(JSONWriter.encode(document), mediaType: MediaType.ociManifest)
        self.envelope = envelope
    }

    var referrer: Descriptor { Descriptor(mediaType: MediaType.ociManifest, digest: try! Digest.parse("sha256:" + String(repeating: "2", count: 64)), size: 1, artifactType: MediaType.notarySignature) }
    func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor { subject }
    func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] { [referrer] }
    func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) { (manifest, []) }
    func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] { envelope }
}

@Suite(.serialized) struct RevocationTests {
    /// These tests check verdicts, not speed: the OCSP and CRL doubles answer at once, or refuse
    /// the connection, but under a full parallel `swift test` a round trip has taken seconds.
    static let verdictDeadline: Duration = .seconds(60)
    let checker = X509RevocationChecker(fetcher: CurlFetcher())

    func verdict(_ services: RevocationServices, _ name: String, level: String = "strict", override: String? = nil) async throws -> VerifierReport {
        let envelope = try services.fixtures.envelope(name)
        let store = try OneSignatureStore(envelope: envelope.bytes, mediaType: envelope.mediaType)
        let document = try load(document(policy(verification: override.map { #"{"level":"\#(level)","override":\#($0)}"# } ?? #"{"level":"\#(level)"}"#,
                                                stores: #"["ca:wabbit"]"#)))
        let config = NotationVerifierConfig(name: "notation", artifactTypes: [MediaType.notarySignature], nestedReferences: [],
                                            trustPolicies: document, trustStores: services.fixtures.stores)
        let verifier = NotationVerifier(config: config, revocation: checker)
        let subject = try ImageReference.parse("registry.example/app@\(NotationFixtures.subject.digest)")
        return await verifier.verify(subject: subject, referrer: store.referrer, store: store, deadline: .now + Self.verdictDeadline)
    }

    @Test func theOCSPResponderDecidesWhenItAnswers() async throws {
        let services = try await offPool { try RevocationServices(ocsp: true, crl: false) }
        defer { services.stop() }
        #expect(await checker.problem(chain: try services.chain("jws-es256"), deadline: .now + Self.verdictDeadline) == nil)
        let good = try await verdict(services, "jws-es256")
        #expect(good.isSuccess, "\(good.message)")
        let revoked = try await verdict(services, "jws-revoked")
        #expect(!revoked.isSuccess)
        #expect(revoked.errorReason == "CERTIFICATE_REVOKED")
        #expect(revoked.message.contains("according to the OCSP responder http://127.0.0.1:"), "\(revoked.message)")
        #expect(revoked.extensions?["SN"] == "CN=SecureBuilder,O=wabbit-networks.io,L=Seattle,ST=WA,C=US")
    }

    @Test func theCRLDecidesWhenOCSPCannotAnswer() async throws {
        let services = try await offPool { try RevocationServices(ocsp: false, crl: true) }
        defer { services.stop() }
        let good = try await verdict(services, "jws-es256")
        #expect(good.isSuccess, "\(good.message)")
        let revoked = try await verdict(services, "jws-revoked")
        #expect(revoked.errorReason == "CERTIFICATE_REVOKED")
        #expect(revoked.message.contains("according to the CRL http://127.0.0.1:"), "\(revoked.message)")
        // The CRL is cached until its nextUpdate: with the server gone the verdict stands.
        #expect(checker.crls.get(services.crlURL) != nil)
        // crl.cache.enabled: false keeps nothing and downloads every time.
        let uncached = X509RevocationChecker(fetcher: CurlFetcher(), cacheCRLs: false)
        #expect(await uncached.problem(chain: try services.chain("jws-revoked"), deadline: .now + Self.verdictDeadline)?.0.rawValue == "CERTIFICATE_REVOKED")
        #expect(uncached.crls.get(services.crlURL) == nil)
        services.stop()
        let cached = try await verdict(services, "jws-revoked")
        #expect(cached.errorReason == "CERTIFICATE_REVOKED")
        let gone = await uncached.problem(chain: try services.chain("jws-revoked"), deadline: .now + Self.verdictDeadline)
        #expect(gone != nil && gone?.0.rawValue != "CERTIFICATE_REVOKED", "\(String(describing: gone))")
    }

    @Test func unavailableRevocationFollowsTheRevocationAction() async throws {
        let services = try await offPool { try RevocationServices(ocsp: false, crl: false) }
        defer { services.stop() }
        let strict = try await verdict(services, "jws-es256")
        #expect(!strict.isSuccess)
        #expect(strict.errorReason == "REVOCATION_UNAVAILABLE")
        #expect(strict.message.contains("cannot be determined: OCSP http://127.0.0.1:"), "\(strict.message)")
        #expect(strict.message.contains("; CRL http://127.0.0.1:"))
        let permissive = try await verdict(services, "jws-es256", level: "permissive")
        #expect(permissive.isSuccess)
        #expect(permissive.extensions?["loggedFailures"]?.arrayValue?.first?["errorReason"] == "REVOCATION_UNAVAILABLE")
        let skipped = try await verdict(services, "jws-revoked", override: #"{"revocation":"skip"}"#)
        #expect(skipped.isSuccess, "revocation skip makes no network call and passes")
        #expect(skipped.extensions?["loggedFailures"] == nil)
    }

    @Test func trustPolicySkipLevelPassesWithoutReadingTheSignature() async throws {
        let store = try OneSignatureStore(envelope: Array("not an envelope".utf8), mediaType: "application/jose+json")
        let document = try load(document(policy(scopes: #"["registry.example/app"]"#, verification: #"{"level":"skip"}"#, stores: "[]", identities: "[]")))
        let verifier = NotationVerifier(config: NotationVerifierConfig(name: "notation", artifactTypes: [MediaType.notarySignature], nestedReferences: [],
                                                                       trustPolicies: document, trustStores: TrustStoreSet()))
        let subject = try ImageReference.parse("registry.example/app@\(NotationFixtures.subject.digest)")
        let report = await verifier.verify(subject: subject, referrer: store.referrer, store: store, deadline: .now + .seconds(5))
        #expect(report.isSuccess)
        #expect(report.message == "signature verification skipped: trust policy \"p\" has level skip")
        let other = try ImageReference.parse("registry.example/other@\(NotationFixtures.subject.digest)")
        let unmatched = await verifier.verify(subject: other, referrer: store.referrer, store: store, deadline: .now + .seconds(5))
        #expect(unmatched.errorReason == "TRUST_POLICY_NOT_FOUND")
    }
}
