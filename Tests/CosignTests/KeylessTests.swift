import Core
import Crypto
import Foundation
import JSON
import Registry
import Testing
import TestSupport
@testable import Cosign

/// Keyless fixtures from make_keyless.py (Python `cryptography`): a Fulcio-like CA, a CT log
/// with real embedded SCTs, a Rekor-like log with real SETs — for one image digest.
struct KeylessFixtures {
    struct Case {
        let payload: [UInt8]
        let signature: String
        let certificate: String
        let chain: String?
        let bundle: String?
        var timestamp: String? = nil
    }
    let directory: URL
    let cases: [String: Case]
    /// Sigstore bundles v0.3 (JSON text) by case.
    let bundles: [String: String]
    var keyedKey: String { directory.appendingPathComponent("keyed.pub").path }
    var trustedRoot: String { directory.appendingPathComponent("trusted_root.json").path }
    var privateRoots: String { directory.appendingPathComponent("private-roots.pem").path }

    init(digest: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-keyless-\(UUID().uuidString)")
        let script = FixtureScripts.path("make_keyless.py")
        try ProcessRunner.python(script, [directory.path, digest])
        let document = try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent("cases.json"))))
        var cases: [String: Case] = [:]
        for member in document.objectValue!.members {
            let value = member.value
            cases[member.key] = Case(payload: Array(Data(base64Encoded: value["payload"]!.stringValue!)!), signature: value["signature"]!.stringValue!,
                                     certificate: value["certificate"]!.stringValue!, chain: value["chain"]?.stringValue, bundle: value["bundle"]?.stringValue,
                                     timestamp: value["timestamp"]?.stringValue)
        }
        self.cases = cases
        let bundleDocument = try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent("bundles.json"))))
        bundles = bundleDocument.objectValue!.members.reduce(into: [:]) { $0[$1.key] = $1.value.stringValue! }
    }

    func layer(_ name: String) -> (payload: [UInt8], annotations: [String: String]) {
        let entry = cases[name]!
        var annotations = [CosignVerifier.signatureAnnotation: entry.signature, CosignVerifier.certificateAnnotation: entry.certificate]
        if let chain = entry.chain { annotations[CosignVerifier.chainAnnotation] = chain }
        if let bundle = entry.bundle { annotations[CosignVerifier.bundleAnnotation] = bundle }
        if let timestamp = entry.timestamp { annotations[CosignVerifier.timestampAnnotation] = timestamp }
        return (entry.payload, annotations)
    }
}

@Suite(.serialized) struct KeylessTests {
    static func keyless(_ fixtures: KeylessFixtures, identity: String = #""certificateIdentity":"builder@example.com""#,
                        issuer: String = #""certificateOIDCIssuer":"https://accounts.example.com""#, extra: String = "",
                        tLog: Bool = true, root: Bool = true) -> String {
        let rootSetting = root ? #""trustedRoot":"\#(fixtures.trustedRoot)","# : ""
        return #"{"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json",\#(rootSetting)"trustPolicies":[{"name":"keyless","version":"1.0.0","scopes":["*"],"tLogVerify":\#(tLog),"keyless":{\#(identity),\#(issuer)\#(extra)}}]}"#
    }

    /// One image in docker-registry; each verdict pushes the case's signature as its `.sig` manifest.
    static let imageLayer = "keyless-image-layer"

    struct Setup {
        let registry: LocalRegistry
        let image: PushedContent
        let fixtures: KeylessFixtures
    }

    static func setUp() async throws -> (Setup, KeylessFixtures) {
        let registry = try await offPool { try LocalRegistry() }
        let setup = try await offPool { () -> Setup in
            let image = try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("app", tag: "keyless", layer: Self.imageLayer)
            return Setup(registry: registry, image: image, fixtures: try KeylessFixtures(digest: image.digest))
        }
        return (setup, setup.fixtures)
    }

    func verdict(_ setup: Setup, _ fixtures: KeylessFixtures, _ name: String, config: String) async throws -> VerificationResult {
        let oci = OCIFixtures(pusher: setup.registry, maintainTagSchema: true)
        try await offPool { try oci.pushCosignSignatures("app", for: setup.image, layers: [fixtures.layer(name)]) }
        return try await run(try verifier(config), "\(setup.registry.host)/app:keyless")
    }

    func error(_ result: VerificationResult) -> String {
        result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first?["error"]?.stringValue ?? ""
    }

    @Test func fulcioCertificatesVerifyWithIdentityIssuerSCTAndRekorBundle() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        // Email SAN, issuer in both extensions, certificate expired now but valid at integratedTime.
        let email = try await verdict(setup, fixtures, "email", config: Self.keyless(fixtures))
        #expect(email.isSuccess, "\(error(email))")
        let verification = email.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first
        #expect(verification?["bundleVerified"] == true)
        #expect(verification?["keyInformation"]?["certificateIdentity"] == "builder@example.com")
        #expect(verification?["keyInformation"]?["certificateOIDCIssuer"] == "https://accounts.example.com")
        // URI SAN (a GitHub workflow) matched by regular expression, issuer only in the v2 extension.
        let uri = try await verdict(setup, fixtures, "uri", config: Self.keyless(fixtures,
            identity: #""certificateIdentityRegExp":"^https://github\\.com/acme/.*/release\\.yml@refs/heads/main$""#,
            issuer: #""certificateOIDCIssuerRegExp":"githubusercontent\\.com$""#))
        #expect(uri.isSuccess, "\(error(uri))")
        let username = try await verdict(setup, fixtures, "othername", config: Self.keyless(fixtures, identity: #""certificateIdentity":"octocat""#))
        #expect(username.isSuccess, "\(error(username))")
    }

    @Test func identityAndIssuerMismatchesFailByName() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        let identity = try await verdict(setup, fixtures, "email", config: Self.keyless(fixtures, identity: #""certificateIdentity":"someone@example.com""#))
        #expect(!identity.isSuccess)
        #expect(error(identity) == #"the certificate's identities [builder@example.com] do not match certificateIdentity "someone@example.com""#)
        let regex = try await verdict(setup, fixtures, "uri", config: Self.keyless(fixtures, identity: #""certificateIdentityRegExp":"^https://github\\.com/other/""#,
                                                                                   issuer: #""certificateOIDCIssuer":"https://token.actions.githubusercontent.com""#))
        #expect(error(regex).contains("do not match certificateIdentity /^https://github\\.com/other//"), "\(error(regex))")
        let issuer = try await verdict(setup, fixtures, "email", config: Self.keyless(fixtures, issuer: #""certificateOIDCIssuer":"https://accounts.google.com""#))
        #expect(error(issuer) == #"the certificate's OIDC issuer "https://accounts.example.com" does not match certificateOIDCIssuer "https://accounts.google.com""#)
    }

    /// A Fulcio certificate must allow code signing, and its Rekor entry (a valid SET) must log
    /// this payload and this very certificate — not another one, not the bare key.
    @Test func keylessEvidenceMustBeAboutThisSignature() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        let good = try await verdict(setup, fixtures, "othername", config: Self.keyless(fixtures, identity: #""certificateIdentity":"octocat""#))
        #expect(good.isSuccess, "\(error(good))")
        for (name, reason) in [("no-code-signing", "the certificate's extendedKeyUsage does not allow code signing"),
                               ("bundle-other-payload", "the Rekor entry is for another payload"),
                               ("bundle-other-certificate", "the Rekor entry was logged for another certificate"),
                               ("bundle-logs-a-key", "the Rekor entry logged a public key, not the signing certificate")] {
            let refused = try await verdict(setup, fixtures, name, config: Self.keyless(fixtures))
            #expect(!refused.isSuccess && error(refused).contains(reason), "\(name): \(error(refused))")
        }
    }

    @Test func anExpiredFulcioCertificatePassesOnlyWithAValidTlogEntry() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        let noTlog = try await verdict(setup, fixtures, "email", config: Self.keyless(fixtures, tLog: false))
        #expect(!noTlog.isSuccess)
        #expect(error(noTlog).contains("does not chain to a trusted Fulcio root at"), "\(error(noTlog))")
        #expect(error(noTlog).contains("certificate has expired"))
        let unknownLog = try await verdict(setup, fixtures, "bundle-unknown-log", config: Self.keyless(fixtures))
        #expect(error(unknownLog).contains("which is not in the trusted root"), "\(error(unknownLog))")
        let afterExpiry = try await verdict(setup, fixtures, "bundle-after-expiry", config: Self.keyless(fixtures))
        #expect(error(afterExpiry).contains("(the Rekor integratedTime)"), "\(error(afterExpiry))")
    }

    /// cosign's RFC 3161 timestamp annotation: with no Rekor entry, an expired Fulcio certificate
    /// is checked at the genTime of a timestamp from a TSA of the trusted root.
    @Test func anRFC3161TimestampGivesTheSigningTimeWithoutTheLog() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        let inside = try await verdict(setup, fixtures, "ts-inside", config: Self.keyless(fixtures, tLog: false))
        #expect(inside.isSuccess, "\(error(inside))")
        let after = try await verdict(setup, fixtures, "ts-after-expiry", config: Self.keyless(fixtures, tLog: false))
        #expect(error(after).contains("(the RFC 3161 timestamp)") && error(after).contains("certificate has expired"), "\(error(after))")
        let rogue = try await verdict(setup, fixtures, "ts-rogue-tsa", config: Self.keyless(fixtures, tLog: false))
        #expect(error(rogue).contains("does not verify against the trusted root's timestamp authorities"), "\(error(rogue))")
        let other = try await verdict(setup, fixtures, "ts-other-signature", config: Self.keyless(fixtures, tLog: false))
        #expect(error(other).contains("message imprint does not match"), "\(error(other))")
        // A timestamp is not a transparency log entry: tLogVerify still needs one.
        let withLog = try await verdict(setup, fixtures, "ts-inside", config: Self.keyless(fixtures))
        #expect(error(withLog).contains("requires a transparency log entry"), "\(error(withLog))")
    }

    @Test func ctLogVerifyRequiresAnSCTFromATrustedLog() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        let missing = try await verdict(setup, fixtures, "no-sct", config: Self.keyless(fixtures))
        #expect(error(missing) == "the certificate has no embedded SCT and ctLogVerify is true")
        let off = try await verdict(setup, fixtures, "no-sct", config: Self.keyless(fixtures, extra: #","ctLogVerify":false"#))
        #expect(off.isSuccess, "\(error(off))")
        let unknown = try await verdict(setup, fixtures, "sct-unknown-log", config: Self.keyless(fixtures))
        #expect(error(unknown).hasPrefix("no embedded SCT verifies with a CT log of the trusted root"), "\(error(unknown))")
    }

    @Test func untrustedCAsFailAndAPrivatePKIIsTrustedFromPEMRoots() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        let rogue = try await verdict(setup, fixtures, "untrusted-ca", config: Self.keyless(fixtures))
        #expect(error(rogue).contains("does not chain to a trusted Fulcio root"), "\(error(rogue))")
        let privatePKI = Self.keyless(fixtures, extra: #","ctLogVerify":false,"rootCertificates":"\#(fixtures.privateRoots)""#, tLog: false, root: false)
        let trusted = try await verdict(setup, fixtures, "private-pki", config: privatePKI)
        #expect(trusted.isSuccess, "\(error(trusted))")
        #expect(trusted.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first?["bundleVerified"] == false)
    }

    @Test func keylessConfigErrorsNameTheirPath() throws {
        func refusal(_ text: String) -> ConfigError? {
            do {
                _ = try CosignVerifierConfig.parse(try JSONParser.parse(text), path: "verifier.plugins[0]")
                return nil
            } catch let error as ConfigError { return error } catch { return ConfigError(path: "?", "\(error)") }
        }
        let base = #"{"name":"cosign","trustPolicies":[{"name":"k","scopes":["*"],"keyless":%@}]}"#
        func policy(_ keyless: String) -> String { base.replacingOccurrences(of: "%@", with: keyless) }
        #expect(refusal(policy(#"{"certificateOIDCIssuer":"https://x"}"#))?.message == "set certificateIdentity or certificateIdentityRegExp (a non-empty string)")
        #expect(refusal(policy(#"{"certificateIdentity":"a","certificateIdentityRegExp":"b","certificateOIDCIssuer":"https://x"}"#))?.message
            == "set certificateIdentity or certificateIdentityRegExp, not both")
        #expect(refusal(policy(#"{"certificateIdentityRegExp":"(","certificateOIDCIssuer":"https://x"}"#))?.path
            == "verifier.plugins[0].trustPolicies[0].keyless.certificateIdentityRegExp")
        // No trustedRoot and no rootCertificates: the public-good Fulcio (not a refusal any more).
        #expect(refusal(policy(#"{"certificateIdentity":"a","certificateOIDCIssuer":"https://x"}"#)) == nil)
    }

    /// cosign 3's default: a Sigstore bundle v0.3 attached as an OCI 1.1 referrer — here through
    /// docker-registry's referrers tag schema — verified by the same trust policies.
    func bundleVerdict(_ setup: Setup, _ fixtures: KeylessFixtures, _ name: String, config: String) async throws -> VerificationResult {
        let tag = "bundle-\(name)"
        let image = try await offPool { () -> PushedContent in
            let oci = OCIFixtures(pusher: setup.registry, maintainTagSchema: true)
            // One repository per case, holding the same image (same content, same digest), so each
            // case has only its own bundle.
            let copy = try oci.pushImage(tag, tag: "v1", layer: Self.imageLayer)
            try oci.attach(tag, to: copy, artifactType: SigstoreBundle.mediaType, layers: [(SigstoreBundle.mediaType, Array(fixtures.bundles[name]!.utf8))])
            return copy
        }
        #expect(image.digest == setup.image.digest)
        return try await run(try verifier(config), "\(setup.registry.host)/\(tag):v1")
    }

    @Test func sigstoreBundlesAttachedAsReferrersVerify() async throws {
        let (setup, fixtures) = try await Self.setUp()
        defer { setup.registry.stop() }
        // Message signature over the manifest digest; the certificate expired, valid at integratedTime.
        let message = try await bundleVerdict(setup, fixtures, "message", config: Self.keyless(fixtures))
        #expect(message.isSuccess, "\(error(message))")
        #expect(message.reports.first?.artifactType == SigstoreBundle.mediaType)
        let dsse = try await bundleVerdict(setup, fixtures, "dsse", config: Self.keyless(fixtures))
        #expect(dsse.isSuccess, "\(error(dsse))")
        #expect(dsse.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first?["bundleVerified"] == true)
        let other = try await bundleVerdict(setup, fixtures, "dsse-other-image", config: Self.keyless(fixtures))
        #expect(!other.isSuccess)
        #expect(error(other).contains("do not include the image \(setup.image.digest)"), "\(error(other))")
        let keyed = try await bundleVerdict(setup, fixtures, "keyed-message",
            config: #"{"name":"cosign","trustPolicies":[{"name":"k","scopes":["*"],"keys":[{"file":"\#(fixtures.keyedKey)"}],"tLogVerify":false}]}"#)
        #expect(keyed.isSuccess, "\(error(keyed))")
        // An entry with only an inclusion proof (Rekor v2): the RFC 6962 audit path to a root the
        // log signed in its checkpoint proves it offline; each broken part is refused by name.
        let keyedConfig = { (tlog: Bool) in #"{"name":"cosign","trustedRoot":"\#(fixtures.directory.appendingPathComponent("trusted_root.json").path)","trustPolicies":[{"name":"k","scopes":["*"],"keys":[{"file":"\#(fixtures.keyedKey)"}],"tLogVerify":\#(tlog)}]}"# }
        let proofOnly = try await bundleVerdict(setup, fixtures, "keyed-message-proof-only", config: keyedConfig(false))
        #expect(proofOnly.isSuccess, "\(error(proofOnly))")
        let proofOnlyWithLog = try await bundleVerdict(setup, fixtures, "keyed-message-proof-only", config: keyedConfig(true))
        #expect(proofOnlyWithLog.isSuccess, "\(error(proofOnlyWithLog))")
        #expect(proofOnlyWithLog.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first?["bundleVerified"] == true)
        for (name, reason) in [("keyed-message-proof-bad-path", "does not lead from the entry to the proof's root hash"),
                               ("keyed-message-proof-wrong-index", "audit path"),
                               ("keyed-message-proof-forged-checkpoint", "checkpoint's signature is not a valid signature by log"),
                               ("keyed-message-proof-other-root", "the log's checkpoint names root"),
                               ("keyed-message-proof-other-size", "the log's checkpoint is for a tree of 10, not the proof's 11")] {
            let broken = try await bundleVerdict(setup, fixtures, name, config: keyedConfig(true))
            #expect(!broken.isSuccess, "\(name)")
            #expect(error(broken).contains(reason), "\(name): \(error(broken))")
        }
        // Rekor v2: an Ed25519 log named by its C2SP key ID, a hashedrekord v0.0.2 entry.
        let rekorV2 = try await bundleVerdict(setup, fixtures, "keyed-message-rekor-v2", config: keyedConfig(true))
        #expect(rekorV2.isSuccess, "\(error(rekorV2))")
        let rekorV2Other = try await bundleVerdict(setup, fixtures, "keyed-message-rekor-v2-other-payload", config: keyedConfig(true))
        #expect(!rekorV2Other.isSuccess && error(rekorV2Other).contains("the Rekor entry is for another payload"), "\(error(rekorV2Other))")
        // A SHA2_512 message digest is read (sigstore-go accepts it) and must be the image's digest.
        let sha512 = try await bundleVerdict(setup, fixtures, "keyed-message-sha512",
            config: #"{"name":"cosign","trustPolicies":[{"name":"k","scopes":["*"],"keys":[{"file":"\#(fixtures.keyedKey)"}],"tLogVerify":false}]}"#)
        #expect(error(sha512).contains("is not the image's digest \(setup.image.digest)"), "\(error(sha512))")
        let memory = MemoryStore()
        let bundle = memory.putBlob(Array(fixtures.bundles["keyed-message-sha512"]!.utf8), mediaType: SigstoreBundle.mediaType)
        let manifest = memory.putManifest(Array(JSONWriter.encodeString(["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
            "artifactType": .string(SigstoreBundle.mediaType), "config": memory.putBlob(Array("{}".utf8), mediaType: MediaType.ociEmpty).json(),
            "layers": .array([bundle.json()])]).utf8), mediaType: MediaType.ociManifest, artifactType: SigstoreBundle.mediaType)
        let subject = ImageReference(registry: "example.com", repository: "app",
                                     digest: Digest.of(Array("ratify-swift sha512 subject".utf8), algorithm: .sha512))
        let report = await (try verifier(#"{"name":"cosign","trustPolicies":[{"name":"k","scopes":["*"],"keys":[{"file":"\#(fixtures.keyedKey)"}],"tLogVerify":false}]}"#))
            .verify(subject: subject, referrer: manifest, store: memory, deadline: .now + .seconds(5))
        #expect(report.isSuccess, "\(report.message)")
        let wrongIdentity = try await bundleVerdict(setup, fixtures, "dsse", config: Self.keyless(fixtures, identity: #""certificateIdentity":"other@example.com""#))
        #expect(error(wrongIdentity).contains("do not match certificateIdentity"))
    }
}
