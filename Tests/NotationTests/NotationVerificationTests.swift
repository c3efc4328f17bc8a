import Core
import Crypto
import Foundation
import JSON
@testable import Notation
import Testing
import TestSupport

/// Envelopes made by make_notation_fixtures.py (jwcrypto, pycose, asn1crypto, openssl ts) for
/// one subject descriptor, and the trust store it wrote in notation's layout.
final class NotationFixtures: @unchecked Sendable {
    static let subject = Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json",
                                    digest: try! Digest.parse("sha256:" + String(repeating: "1", count: 64)), size: 1234)
    let directory: URL
    let cases: [String: String]
    let stores: TrustStoreSet

    init(subject: Descriptor, basic: Bool = false, extra: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("notation-fixtures-\(UUID().uuidString)")
        let script = FixtureScripts.path("make_notation_fixtures.py")
        try ProcessRunner.python(script, [directory.path, subject.mediaType, subject.digest.description, String(subject.size)]
                                 + (basic ? ["--basic"] : []) + extra)
        let list = try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent("cases.json"))))
        cases = Dictionary(uniqueKeysWithValues: list.objectValue!.members.map { ($0.key, $0.value.stringValue!) })
        stores = try TrustStoreSet.load(paths: [directory.appendingPathComponent("truststore").path], path: "verificationCerts")
    }

    func envelope(_ name: String) throws -> (bytes: [UInt8], mediaType: String) {
        guard let mediaType = cases[name] else { throw TestFailure("no fixture \(name)") }
        let file = directory.appendingPathComponent(name + (mediaType == "application/cose" ? ".cose" : ".jws"))
        return (Array(try Data(contentsOf: file)), mediaType)
    }

    static let shared = Task { try await offPool { try NotationFixtures(subject: subject) } }
}

func trustPolicy(level: String = "strict", override: String? = nil, verifyTimestamp: String? = nil,
                 stores: [String] = ["ca:wabbit"], identities: [String] = ["*"]) throws -> TrustPolicy {
    var verification = #"{"level":"\#(level)""#
    if let override { verification += #","override":\#(override)"# }
    if let verifyTimestamp { verification += #","verifyTimestamp":"\#(verifyTimestamp)""# }
    verification += "}"
    let text = policy(verification: verification, stores: JSONWriter.encodeString(.array(stores.map { .string($0) })),
                      identities: JSONWriter.encodeString(.array(identities.map { .string($0) })))
    return try load(document(text)).policies[0]
}

func verify(_ name: String, _ policy: TrustPolicy, subject: Descriptor = NotationFixtures.subject) async throws -> NotationOutcome {
    let fixtures = try await NotationFixtures.shared.value
    let envelope = try fixtures.envelope(name)
    return NotationVerification.verify(envelope: envelope.bytes, mediaType: envelope.mediaType, subject: subject,
                                       policy: policy, trustStores: fixtures.stores)
}

@Suite struct NotationVerificationTests {
    @Test(arguments: ["jws", "cose"], ["es256", "es384", "es512", "ps256", "ps384", "ps512"])
    func validSignaturesVerifyForEachAlgorithm(format: String, algorithm: String) async throws {
        let outcome = try await verify("\(format)-\(algorithm)", try trustPolicy())
        #expect(outcome.isSuccess, "\(outcome.failures)")
        #expect(outcome.failures.isEmpty)
        #expect(outcome.envelope?.algorithm.rawValue == algorithm.uppercased())
        #expect(outcome.envelope?.leaf.subjectRFC2253 == "CN=SecureBuilder,O=wabbit-networks.io,L=Seattle,ST=WA,C=US")
        #expect(outcome.envelope?.leaf.issuerRFC2253 == "CN=wabbit intermediate,O=wabbit-networks.io,ST=WA,C=US")
    }

    @Test(arguments: ["jws-tampered-payload", "jws-tampered-signature", "cose-tampered-payload", "cose-tampered-signature"])
    func tamperingFailsIntegrityAtEveryLevel(name: String) async throws {
        for level in ["strict", "permissive", "audit"] {
            let outcome = try await verify(name, try trustPolicy(level: level))
            #expect(!outcome.isSuccess)
            #expect(outcome.enforcedFailure?.check == .integrity)
            #expect(outcome.enforcedFailure?.reason == .signatureIntegrityFailure)
            #expect(outcome.enforcedFailure?.message.contains("does not verify with the signing certificate's key") == true)
        }
    }

    @Test(arguments: [("jws-other-digest", "digest sha256:0000"), ("jws-other-size", "size 1241"),
                      ("jws-other-mediatype", "media type application/vnd.docker.distribution.manifest.v2+json")])
    func aSignatureForAnotherArtifactFails(name: String, detail: String) async throws {
        let outcome = try await verify(name, try trustPolicy(level: "audit"))
        #expect(outcome.enforcedFailure?.reason == .signatureSubjectMismatch)
        #expect(outcome.enforcedFailure?.message.contains(detail) == true, "\(outcome.failures)")
    }

    @Test func anUntrustedRootFailsAuthenticityUnlessTheLevelOnlyLogsIt() async throws {
        let strict = try await verify("jws-untrusted-root", try trustPolicy())
        #expect(strict.enforcedFailure?.reason == .signatureNotTrusted)
        #expect(strict.enforcedFailure?.message.contains("rogue root") == true)
        #expect(strict.enforcedFailure?.message.contains("ca:wabbit") == true)
        let audit = try await verify("jws-untrusted-root", try trustPolicy(level: "audit"))
        #expect(audit.isSuccess)
        #expect(audit.loggedFailures.map(\.reason) == [.signatureNotTrusted])
        let overridden = try await verify("jws-untrusted-root", try trustPolicy(level: "audit", override: #"{"authenticity":"enforce"}"#))
        #expect(!overridden.isSuccess)
    }

    @Test func trustedIdentitiesMatchSubsetsOfTheSigningSubject() async throws {
        let matching = try await verify("jws-es256", try trustPolicy(identities: ["x509.subject: C=US, ST=WA, O=wabbit-networks.io"]))
        #expect(matching.isSuccess, "\(matching.failures)")
        let full = try await verify("jws-es256", try trustPolicy(identities: [
            "x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, CN=SecureBuilder"]))
        #expect(full.isSuccess)
        let other = try await verify("jws-es256", try trustPolicy(identities: ["x509.subject: C=US, ST=WA, O=acme-rockets.io"]))
        #expect(other.enforcedFailure?.reason == .trustedIdentityMismatch)
        #expect(other.enforcedFailure?.message.contains("O=acme-rockets.io") == true)
        #expect(other.enforcedFailure?.message.contains("CN=SecureBuilder") == true)
    }

    @Test func anExpiredSignatureFollowsTheExpiryAction() async throws {
        let strict = try await verify("jws-expired-signature", try trustPolicy())
        #expect(strict.enforcedFailure?.reason == .signatureExpired)
        let permissive = try await verify("jws-expired-signature", try trustPolicy(level: "permissive"))
        #expect(permissive.isSuccess)
        #expect(permissive.loggedFailures.map(\.reason) == [.signatureExpired])
        let overridden = try await verify("jws-expired-signature", try trustPolicy(override: #"{"expiry":"log"}"#))
        #expect(overridden.isSuccess)
        #expect(try await verify("jws-unexpired-signature", try trustPolicy()).isSuccess)
        // An expiry at or before the signing time makes the envelope invalid at every level.
        let inverted = try await verify("jws-expiry-before-signing", try trustPolicy(level: "audit"))
        #expect(inverted.enforcedFailure?.reason == .signatureEnvelopeInvalid)
        #expect(inverted.enforcedFailure?.message.contains("is not after the signing time") == true, "\(inverted.failures)")
    }

    @Test func anExpiredSignerIsRescuedOnlyByATrustedTimestampFromInsideItsValidity() async throws {
        let withTSA = try trustPolicy(stores: ["ca:wabbit", "tsa:tsa"])
        let noTimestamp = try await verify("jws-expired-no-timestamp", withTSA)
        #expect(noTimestamp.enforcedFailure?.reason == .timestampMissing)
        #expect(noTimestamp.enforcedFailure?.message.contains("has no timestamp countersignature") == true)
        for name in ["jws-expired-timestamp-inside", "cose-expired-timestamp-inside"] {
            let rescued = try await verify(name, withTSA)
            #expect(rescued.isSuccess, "\(name): \(rescued.failures)")
        }
        // Without a tsa store notation-go does not verify timestamps: the chain must be valid now.
        let noTSAStore = try await verify("jws-expired-timestamp-inside", try trustPolicy())
        #expect(noTSAStore.enforcedFailure?.reason == .certificateExpired)
        #expect(noTSAStore.enforcedFailure?.message.contains("names no tsa trust store") == true)
        let after = try await verify("jws-expired-timestamp-after", withTSA)
        #expect(after.enforcedFailure?.reason == .certificateExpired)
        #expect(after.enforcedFailure?.message.contains("was not valid at the timestamp") == true)
        let before = try await verify("jws-expired-timestamp-before", withTSA)
        #expect(before.enforcedFailure?.reason == .certificateExpired)
        let rogue = try await verify("jws-expired-timestamp-rogue-tsa", withTSA)
        #expect(rogue.enforcedFailure?.reason == .timestampInvalid)
        #expect(rogue.enforcedFailure?.message.contains("does not verify against the TSA trust store") == true)
        // notation-go applies ValidateTimestampingCertChain to the TSA chain OpenSSL built.
        let loose = try await verify("jws-expired-timestamp-loose-tsa", withTSA)
        #expect(loose.enforcedFailure?.reason == .timestampInvalid)
        #expect(loose.enforcedFailure?.message.contains("timestamping certificate chain does not meet") == true, "\(loose.failures)")
        let imprint = try await verify("jws-timestamp-other-imprint", withTSA)
        #expect(imprint.enforcedFailure?.reason == .timestampInvalid)
        #expect(imprint.enforcedFailure?.message.contains("message imprint does not match") == true)
        // authenticTimestamp "log" lets the expired signer through, recorded.
        let logged = try await verify("jws-expired-no-timestamp", try trustPolicy(level: "permissive"))
        #expect(logged.isSuccess)
        #expect(logged.loggedFailures.map(\.reason) == [.certificateExpired])
        // notation-go: once the policy names a tsa store (verifyTimestamp always), a signature
        // without a countersignature fails the authentic timestamp check even while its chain is valid.
        let valid = try await verify("jws-es256", withTSA)
        #expect(valid.enforcedFailure?.reason == .timestampMissing, "\(valid.failures)")
        #expect(try await verify("jws-es256", try trustPolicy(verifyTimestamp: "afterCertExpiry", stores: ["ca:wabbit", "tsa:tsa"])).isSuccess)
    }

    @Test func verifyTimestampAfterCertExpirySkipsTheTimestampWhileTheChainIsValid() async throws {
        // A valid signer with an `openssl ts` token: a policy without a tsa store does not look
        // at it (notation-go), nor does "afterCertExpiry" while the chain is valid; with a tsa
        // store and "always" it must verify.
        let always = try await verify("jws-timestamp-openssl", try trustPolicy())
        #expect(always.isSuccess, "\(always.failures)")
        let after = try await verify("jws-timestamp-openssl", try trustPolicy(verifyTimestamp: "afterCertExpiry"))
        #expect(after.isSuccess, "\(after.failures)")
        let trusted = try await verify("jws-timestamp-openssl", try trustPolicy(stores: ["ca:wabbit", "tsa:tsa"]))
        #expect(trusted.isSuccess, "\(trusted.failures)")
    }

    @Test(arguments: ["jws-signing-authority", "cose-signing-authority"])
    func theSigningAuthoritySchemeTrustsSigningAuthorityStores(name: String) async throws {
        let outcome = try await verify(name, try trustPolicy(stores: ["signingAuthority:wabbit-sa"]))
        #expect(outcome.isSuccess, "\(outcome.failures)")
        #expect(outcome.envelope?.signingScheme == .x509SigningAuthority)
        let caOnly = try await verify(name, try trustPolicy())
        #expect(caOnly.enforcedFailure?.reason == .trustStoreNotConfigured)
        #expect(caOnly.enforcedFailure?.message.contains("names no signingAuthority trust store") == true)
    }

    @Test func criticalAttributesThisVerifierDoesNotUnderstandFailByName() async throws {
        let unknown = try await verify("jws-unknown-critical", try trustPolicy(level: "audit"))
        #expect(unknown.enforcedFailure?.reason == .unknownCriticalAttribute)
        #expect(unknown.enforcedFailure?.message.contains("\"io.example.policy\"") == true)
        #expect(try await verify("jws-unknown-noncritical", try trustPolicy()).isSuccess)
        let plugin = try await verify("jws-plugin", try trustPolicy())
        #expect(plugin.enforcedFailure?.reason == .verificationPluginRequired)
        #expect(plugin.enforcedFailure?.message.contains("com.example.nv2plugin") == true)
    }

    @Test func theAlgorithmMustBeTheOneTheSigningKeyDictates() async throws {
        let outcome = try await verify("jws-alg-mismatch", try trustPolicy())
        #expect(outcome.enforcedFailure?.reason == .signatureIntegrityFailure)
        #expect(outcome.enforcedFailure?.message == "the envelope declares ES384 but the signing key (ECDSA prime256v1) requires ES256")
    }

    /// notation-core-go reads the unsigned parts with Go's encoding/json: unknown members are
    /// ignored and names match case-insensitively (notation-go's mock envelopes write
    /// `io.cncf.notary.SigningAgent`).
    @Test func unsignedJWSMembersAreReadAsGoReadsThem() async throws {
        let fixtures = try await NotationFixtures.shared.value
        var jws = try JSONParser.parse(try fixtures.envelope("jws-es256").bytes).objectValue!
        var header = jws["header"]!.objectValue!
        header = JSONObject(header.members.map { (key: $0.key == "io.cncf.notary.signingAgent" ? "io.cncf.notary.SigningAgent" : $0.key, value: $0.value) })
        header["io.example.unsigned"] = "ignored"
        header["io.cncf.notary.timestampSignature"] = .null  // encoding/json: absent
        jws["header"] = .object(header)
        jws["io.example.extra"] = .array([])
        let outcome = NotationVerification.verify(envelope: Array(JSONWriter.encodeString(.object(jws)).utf8), mediaType: "application/jose+json",
                                                  subject: NotationFixtures.subject, policy: try trustPolicy(), trustStores: fixtures.stores)
        #expect(outcome.isSuccess, "\(outcome.failures)")
        #expect(outcome.envelope?.signingAgent == "fixtures/1.0")
        #expect(outcome.envelope?.timestampToken == nil)
        for name in ["cose-unknown-unprotected", "jws-payload-extra-member"] {
            let ignored = try await verify(name, try trustPolicy())
            #expect(ignored.isSuccess, "\(name): \(ignored.failures)")
        }
    }

    @Test func aJWSRSAPSSSignatureWithAnySaltLengthVerifies() async throws {
        let outcome = try await verify("jws-ps256-max-salt", try trustPolicy())
        #expect(outcome.isSuccess, "\(outcome.failures)")
    }

    @Test func malformedEnvelopesAreRefusedWithTheirReason() async throws {
        let fixtures = try await NotationFixtures.shared.value
        let jws = try JSONParser.parse(try fixtures.envelope("jws-es256").bytes).objectValue!
        func check(_ bytes: [UInt8], _ mediaType: String, _ expected: String) {
            let outcome = NotationVerification.verify(envelope: bytes, mediaType: mediaType, subject: NotationFixtures.subject,
                                                      policy: try! trustPolicy(), trustStores: fixtures.stores)
            #expect(outcome.enforcedFailure?.reason == .signatureEnvelopeInvalid, "\(expected)")
            #expect(outcome.enforcedFailure?.message.contains(expected) == true, "\(outcome.failures)")
        }
        func mutated(_ key: String, _ value: JSONValue) -> [UInt8] {
            var copy = jws
            copy[key] = value
            return Array(JSONWriter.encodeString(.object(copy)).utf8)
        }
        check(mutated("protected", "!!not-base64"), "application/jose+json", "\"protected\" member is not base64url")
        check(mutated("protected", "eyJhbGciOg"), "application/jose+json", "protected header is not valid JSON")  // base64url of {"alg":
        // The general JSON serialization has no top-level payload/protected/signature to read.
        check(Array(#"{"payload":"e30","signatures":[{"protected":"e30","signature":"AAAA"}]}"#.utf8), "application/jose+json",
              "\"protected\" must be a non-empty string")
        check(Array("{\"payload\":".utf8), "application/jose+json", "not valid JSON")
        var header = jws["header"]!.objectValue!
        header["x5c"] = .array(["AAAA"])
        check(mutated("header", .object(header)), "application/jose+json", "x5c[0] is not a DER X.509 certificate")
        let cose = try fixtures.envelope("cose-es256").bytes
        check(Array(cose.dropLast(3)), "application/cose", "not valid CBOR: CBOR_TOO_LARGE")
        check(Array(cose.dropFirst()), "application/cose", "not a COSE_Sign1_Tagged message")
        check([0xd2, 0x9f, 0xff], "application/cose", "CBOR_INDEFINITE_LENGTH")
        let unsupported = NotationVerification.verify(envelope: cose, mediaType: "application/pkcs7", subject: NotationFixtures.subject,
                                                      policy: try trustPolicy(), trustStores: fixtures.stores)
        #expect(unsupported.enforcedFailure?.reason == .signatureEnvelopeUnsupported)
    }

    @Test func trustStoresLoadNotationsLayoutAndRatifysFlatPaths() async throws {
        let fixtures = try await NotationFixtures.shared.value
        let layout = fixtures.stores
        #expect(layout.named.keys.map(\.description).sorted() == ["ca:ca-alone", "ca:other-selfsigned", "ca:selfsigned", "ca:wabbit", "signingAuthority:wabbit-sa", "tsa:tsa"])
        #expect(layout.everyStore.isEmpty)
        let rootFile = fixtures.directory.appendingPathComponent("truststore/x509/ca/wabbit/root.crt").path
        let flat = try TrustStoreSet.load(paths: [rootFile], path: "verificationCerts")
        #expect(flat.everyStore.count == 1)
        // Ratify semantics: certificates from a flat path serve every store a policy names.
        let anyName = try flat.certificates(for: .init(kind: .ca, name: "certs"), providers: nil).get()
        #expect(anyName.count == 1)
        let outcome = NotationVerification.verify(envelope: try fixtures.envelope("jws-es256").bytes, mediaType: "application/jose+json",
                                                  subject: NotationFixtures.subject, policy: try trustPolicy(stores: ["ca:certs"]), trustStores: flat)
        #expect(outcome.isSuccess, "\(outcome.failures)")
        do {
            _ = try TrustStoreSet.load(paths: ["/nonexistent/certs"], path: "verifier.plugins[0].verificationCerts")
            Issue.record("a missing path must be refused")
        } catch {
            #expect(error.path == "verifier.plugins[0].verificationCerts[0]")
            #expect(error.message == "/nonexistent/certs does not exist")
        }
    }

    @Test func storesBackedByKeyManagementProvidersFailClosedUntilTheProviderExists() async throws {
        struct Providers: KeyManagementProviders {
            let certificates: [String: [Certificate]]
            func certificates(provider: String) -> [Certificate]? { certificates[provider] }
            func keys(provider: String) -> [ManagedKey]? { nil }
        }
        let fixtures = try await NotationFixtures.shared.value
        var stores = TrustStoreSet()
        stores.addProviderStores(TrustStoreSet.providerStores(["ca": ["kmp-store": ["inline-root"]]]))
        let envelope = try fixtures.envelope("jws-es256")
        let missing = NotationVerification.verify(envelope: envelope.bytes, mediaType: envelope.mediaType, subject: NotationFixtures.subject,
                                                  policy: try trustPolicy(stores: ["ca:kmp-store"]), trustStores: stores)
        #expect(missing.enforcedFailure?.reason == .trustStoreUnavailable)
        #expect(missing.enforcedFailure?.message.contains("\"inline-root\", which is not available") == true)
        let root = fixtures.stores.named[.init(kind: .ca, name: "wabbit")]!
        let present = NotationVerification.verify(envelope: envelope.bytes, mediaType: envelope.mediaType, subject: NotationFixtures.subject,
                                                  policy: try trustPolicy(stores: ["ca:kmp-store"]), trustStores: stores,
                                                  providers: Providers(certificates: ["inline-root": root]))
        #expect(present.isSuccess, "\(present.failures)")
    }
}

/// `notation cert generate-test` signs with one self-signed certificate that is no CA
/// (notation-core-go `ValidateCodeSigningCertChain`, the chain-of-one branch).
@Suite struct SelfSignedSigningCertificateTests {
    static let alpine = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=alpine"

    @Test(arguments: ["jws-self-signed", "cose-self-signed"])
    func aLoneSelfSignedSigningCertificateInTheCAStorePasses(name: String) async throws {
        let outcome = try await verify(name, try trustPolicy(stores: ["ca:selfsigned"], identities: [Self.alpine]))
        #expect(outcome.isSuccess, "\(outcome.failures)")
        #expect(outcome.failures.isEmpty)
        #expect(outcome.envelope?.certificates.count == 1)
    }

    @Test(arguments: ["jws-self-signed", "cose-self-signed"])
    func anotherCertificateWithTheSameNameIsNotTrusted(name: String) async throws {
        let outcome = try await verify(name, try trustPolicy(stores: ["ca:other-selfsigned"], identities: [Self.alpine]))
        #expect(outcome.enforcedFailure?.reason == .signatureNotTrusted, "\(outcome.failures)")
    }

    @Test(arguments: ["jws-self-signed", "cose-self-signed"])
    func anotherTrustedIdentityIsAMismatch(name: String) async throws {
        let outcome = try await verify(name, try trustPolicy(stores: ["ca:selfsigned"], identities: ["x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=busybox"]))
        #expect(outcome.enforcedFailure?.reason == .trustedIdentityMismatch, "\(outcome.failures)")
    }

    @Test func aLoneSelfSignedCACertificateMustNotSign() async throws {
        let outcome = try await verify("jws-self-signed-ca", try trustPolicy(stores: ["ca:ca-alone"]))
        #expect(outcome.enforcedFailure?.reason == .signatureIntegrityFailure)
        #expect(outcome.enforcedFailure?.message.contains("is a CA certificate (basicConstraints cA must be false)") == true, "\(outcome.failures)")
    }
}

@Suite struct TrustedIdentityVerificationTests {
    @Test func pluginOnlyIdentitiesCannotBeVerifiedNatively() async throws {
        let outcome = try await verify("jws-es256", try trustPolicy(identities: ["com.example.plugin:tenant-7"]))
        #expect(outcome.enforcedFailure?.reason == .trustedIdentityMismatch)
        #expect(outcome.enforcedFailure?.message.contains("configures no x509.subject trusted identity") == true, "\(outcome.failures)")
        let mixed = try await verify("jws-es256", try trustPolicy(identities: ["com.example.plugin:tenant-7", "x509.subject: C=US, S=WA, O=wabbit-networks.io"]))
        #expect(mixed.isSuccess, "the x509.subject identity (S= alias) matches: \(mixed.failures)")
    }
}

/// `verificationCerts` read as Ratify reads them (GetCertificatesFromPath + filterValidCerts).
@Suite struct VerificationCertsTests {
    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("verification-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func everyFileIsReadWhateverItsNameAndConcatenatedDERToo() async throws {
        let fixtures = try await NotationFixtures.shared.value
        let root = try Certificate.pemChain(Array(try Data(contentsOf: fixtures.directory.appendingPathComponent("truststore/x509/ca/wabbit/root.crt"))), source: "root")[0]
        let other = try Certificate.pemChain(Array(try Data(contentsOf: fixtures.directory.appendingPathComponent("truststore/x509/ca/selfsigned/alpine.crt"))), source: "alpine")[0]
        let directory = try temporaryDirectory()
        try Data(root.derBytes + other.derBytes).write(to: directory.appendingPathComponent("bundle"))  // no extension, two DER certificates
        let set = try TrustStoreSet.load(paths: [directory.path], path: "verificationCerts")
        #expect(set.everyStore.count == 2)
        #expect(try set.certificates(for: .init(kind: .ca, name: "any"), providers: nil).get().count == 2)
        try Data("not a certificate".utf8).write(to: directory.appendingPathComponent("README"))
        #expect(throws: ConfigError.self) { try TrustStoreSet.load(paths: [directory.path], path: "verificationCerts") }
    }

    @Test func aPinnedLeafIsNoTrustAnchor() async throws {
        let fixtures = try await NotationFixtures.shared.value
        let envelope = try JSONParser.parse(try fixtures.envelope("jws-es256").bytes)
        let leafDER = Base64.decode(envelope["header"]!["x5c"]!.arrayValue![0].stringValue!, .standard)!
        let directory = try temporaryDirectory()
        try Data(leafDER).write(to: directory.appendingPathComponent("leaf.der"))
        let set = try TrustStoreSet.load(paths: [directory.path], path: "verificationCerts")
        let outcome = NotationVerification.verify(envelope: try fixtures.envelope("jws-es256").bytes, mediaType: "application/jose+json",
                                                  subject: NotationFixtures.subject, policy: try trustPolicy(stores: ["ca:certs"]), trustStores: set)
        #expect(outcome.enforcedFailure?.reason == .trustStoreUnavailable)
        #expect(outcome.enforcedFailure?.message.contains("none is a CA certificate or a self-signed signing certificate") == true, "\(outcome.failures)")
    }

    @Test func aStoreTheNotationLayoutDoesNotDefineDoesNotExist() async throws {
        let fixtures = try await NotationFixtures.shared.value
        let outcome = try await verify("jws-es256", try trustPolicy(stores: ["ca:typo"]))
        #expect(outcome.enforcedFailure?.reason == .trustStoreUnavailable)
        #expect(outcome.enforcedFailure?.message.contains("ca:typo does not exist in the notation trust store layout") == true, "\(outcome.failures)")
        _ = fixtures
    }
}
