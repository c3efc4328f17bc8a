import Core
import Cosign
import Crypto
import Foundation
import JSON
import Registry
import Testing
import TestSupport

let signatureAnnotation = "dev.cosignproject.cosign/signature"

/// Signatures made by Tests/Support/Fixtures/make_signatures.py (Python `cryptography`) for `digest`.
struct SignatureFixtures {
    let directory: URL
    let payload: [UInt8]
    let otherPayload: [UInt8]
    let signatures: [String: String]
    let otherSignatures: [String: String]
    let bundles: [String: String]
    let annotatedPayload: [UInt8]
    let annotatedSignature: String
    let otherTypePayload: [UInt8]
    let otherTypeSignature: String

    init(digest: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-cosign-\(UUID().uuidString)")
        let script = FixtureScripts.path("make_signatures.py")
        try ProcessRunner.python(script, [directory.path, digest])
        let document = try JSONParser.parse(Array(try Data(contentsOf: directory.appendingPathComponent("signatures.json"))))
        payload = Array(Data(base64Encoded: document["payload"]!.stringValue!)!)
        otherPayload = Array(Data(base64Encoded: document["otherPayload"]!.stringValue!)!)
        signatures = document["signatures"]!.objectValue!.members.reduce(into: [:]) { $0[$1.key] = $1.value.stringValue! }
        otherSignatures = document["otherSignatures"]!.objectValue!.members.reduce(into: [:]) { $0[$1.key] = $1.value.stringValue! }
        bundles = document["bundles"]!.objectValue!.members.reduce(into: [:]) { $0[$1.key] = $1.value.stringValue! }
        annotatedPayload = Array(Data(base64Encoded: document["annotatedPayload"]!.stringValue!)!)
        annotatedSignature = document["annotatedSignature"]!.stringValue!
        otherTypePayload = Array(Data(base64Encoded: document["otherTypePayload"]!.stringValue!)!)
        otherTypeSignature = document["otherTypeSignature"]!.stringValue!
    }

    func key(_ name: String) -> String { directory.appendingPathComponent("\(name).pub").path }

    /// Generated once, on a thread of its own: key generation in Python takes a second or more,
    /// and doing it on Swift's cooperative pool would starve the servers other tests run.
    static let shared = Task { try await offPool { try SignatureFixtures(digest: "sha256:" + String(repeating: "1", count: 64)) } }
}

func cosignStore() -> ORASStore {
    var options = ORASStoreOptions()
    options.useHttp = true
    options.cosignEnabled = true
    return ORASStore(options: options)
}

func verifier(_ json: String) throws -> CosignVerifier {
    CosignVerifier(config: try CosignVerifierConfig.parse(try JSONParser.parse(json), path: "verifier.plugins[0]").0)
}

func run(_ verifier: CosignVerifier, _ key: String) async throws -> VerificationResult {
    let executor = VerificationExecutor(store: cosignStore(), verifiers: [verifier], policy: ConfigPolicy())
    return try await executor.verify(key: key, deadline: .now + .seconds(10))
}

@Suite(.serialized) struct CosignVerifierTests {
    /// One registry, one image per scenario, each with a `.sig` manifest.
    func setUp() async throws -> (LocalRegistry, [String: PushedContent], SignatureFixtures) {
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let image = try await offPool { try fixtures.pushImage("app", tag: "signed") }
        let signatures = try await offPool { try SignatureFixtures(digest: image.digest) }
        return (registry, ["signed": image], signatures)
    }

    func layer(_ payload: [UInt8], _ signature: String) -> (payload: [UInt8], annotations: [String: String]) {
        (payload: payload, annotations: [signatureAnnotation: signature])
    }

    @Test func everyKeyTypeVerifiesWithItsHash() async throws {
        let (registry, images, sigs) = try await setUp()
        let image = images["signed"]!
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        for name in ["ec256", "ec384", "ec521", "rsa2048", "rsa3072", "ed25519"] {
            try await offPool { try fixtures.pushCosignSignatures("app", for: image, layers: [self.layer(sigs.payload, sigs.signatures[name]!)]) }
            let result = try await run(try verifier(#"{"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json","key":"\#(sigs.key(name))"}"#),
                                       "\(registry.host)/app:signed")
            #expect(result.isSuccess, "\(name): \(result.reports.map(\.message))")
            #expect(result.reports.first?.message == "cosign verification success. valid signatures found")
            #expect(result.reports.first?.artifactType == MediaType.cosignSignatureArtifact)
            #expect(result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["isSuccess"] == true)
            // The same signature under another key of the set fails: the key decides.
            let other = name == "ec256" ? "rsa2048" : "ec256"
            let wrongKey = try await run(try verifier(#"{"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json","key":"\#(sigs.key(other))"}"#),
                                         "\(registry.host)/app:signed")
            #expect(!wrongKey.isSuccess, "\(name) signature under the \(other) key")
        }
        registry.stop()
    }

    /// cosign decodes the annotation with Go's base64.StdEncoding, which skips `\r` and `\n`:
    /// signatures written wrapped (as containers/image's private-PKI fixture is) verify.
    @Test func aLineWrappedSignatureAnnotationVerifiesAsCosignReadsIt() async throws {
        let (registry, images, sigs) = try await setUp()
        defer { registry.stop() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let plain = sigs.signatures["rsa2048"]!
        let wrapped = stride(from: 0, to: plain.count, by: 64).map { start -> String in
            let from = plain.index(plain.startIndex, offsetBy: start)
            return String(plain[from..<plain.index(from, offsetBy: min(64, plain.count - start))])
        }.joined(separator: "\n") + "\n"
        let keyed = try verifier(#"{"name":"cosign","key":"\#(sigs.key("rsa2048"))"}"#)
        try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.payload, wrapped)]) }
        let result = try await run(keyed, "\(registry.host)/app:signed")
        #expect(result.isSuccess, "\(result.reports.map(\.message))")
        // cosign checks the payload's digest, not its critical.type.
        try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.otherTypePayload, sigs.otherTypeSignature)]) }
        #expect(try await run(try verifier(#"{"name":"cosign","key":"\#(sigs.key("ec256"))"}"#), "\(registry.host)/app:signed").isSuccess)
        // Spaces are not line breaks: Go refuses them, and so do we.
        try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.payload, wrapped.replacingOccurrences(of: "\n", with: " "))]) }
        let spaced = try await run(keyed, "\(registry.host)/app:signed")
        #expect(!spaced.isSuccess)
        #expect(spaced.reports.first?.extensions?["signatures"]?.arrayValue?.first?["error"]?.stringValue?.contains("not base64") == true,
                "\(String(describing: spaced.reports.first?.extensions))")
    }

    /// cosign reads every `.sig` layer as a signature; ours too when the layer carries the
    /// signature annotation, whatever its media type. A layer without it is no signature.
    @Test func aSignatureLayerOfAnotherMediaTypeCountsWhenItCarriesTheAnnotation() async throws {
        let (registry, images, sigs) = try await setUp()
        defer { registry.stop() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let keyed = try verifier(#"{"name":"cosign","key":"\#(sigs.key("ec256"))"}"#)
        try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.payload, sigs.signatures["ec256"]!)],
                                                              layerMediaType: "application/octet-stream") }
        #expect(try await run(keyed, "\(registry.host)/app:signed").isSuccess)
        try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [(payload: sigs.payload, annotations: [:])],
                                                              layerMediaType: "application/octet-stream") }
        let none = try await run(keyed, "\(registry.host)/app:signed")
        #expect(none.reports.first?.errorReason == "NO_COSIGN_SIGNATURES", "\(none.reports.map(\.message))")
    }

    @Test func requiredAnnotationsMustBeSigned() async throws {
        let (registry, images, sigs) = try await setUp()
        defer { registry.stop() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        func policy(_ annotations: String) throws -> CosignVerifier {
            try verifier(#"{"name":"cosign","trustPolicies":[{"name":"p","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}],"tLogVerify":false,"annotations":\#(annotations)}]}"#)
        }
        func firstError(_ result: VerificationResult) -> String {
            result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first?["error"]?.stringValue ?? ""
        }
        _ = try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.annotatedPayload, sigs.annotatedSignature)]) }
        #expect(try await run(try policy(#"{"env":"prod","team":"payments"}"#), "\(registry.host)/app:signed").isSuccess)
        let wrong = try await run(try policy(#"{"env":"staging"}"#), "\(registry.host)/app:signed")
        #expect(firstError(wrong) == #"signature annotation env is "prod", the trust policy requires "staging""#)
        _ = try await offPool { try fixtures.pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.payload, sigs.signatures["ec256"]!)]) }
        let missing = try await run(try policy(#"{"env":"prod"}"#), "\(registry.host)/app:signed")
        #expect(firstError(missing) == #"signature annotation env is missing, the trust policy requires "prod""#)
    }

    @Test func keysFromAKeyManagementProviderAreResolvedWhenVerifying() async throws {
        struct Providers: KeyManagementProviders {
            let served: [String: [ManagedKey]]
            func certificates(provider: String) -> [Certificate]? { nil }
            func keys(provider: String) -> [ManagedKey]? { served[provider] }
        }
        let (registry, images, sigs) = try await setUp()
        defer { registry.stop() }
        try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushCosignSignatures("app", for: images["signed"]!, layers: [self.layer(sigs.payload, sigs.signatures["ec256"]!)]) }
        let config = try CosignVerifierConfig.parse(try JSONParser.parse(#"{"name":"cosign","trustPolicies":[{"name":"kmp","scopes":["*"],"keys":[{"provider":"inline-keys","name":"release"}],"tLogVerify":false}]}"#), path: "p").0
        #expect(config.trustPolicies[0].providerKeys == [ProviderKeyReference(provider: "inline-keys", name: "release", version: nil)])
        let key = try PublicKey.pem(Array(try Data(contentsOf: URL(fileURLWithPath: sigs.key("ec256")))), source: "ec256")
        let other = try PublicKey.pem(Array(try Data(contentsOf: URL(fileURLWithPath: sigs.key("other")))), source: "other")
        func verdict(_ providers: Providers?) async throws -> VerificationResult {
            try await run(CosignVerifier(config: config, providers: providers), "\(registry.host)/app:signed")
        }
        #expect(try await verdict(Providers(served: ["inline-keys": [ManagedKey(name: "release", version: nil, key: key)]])).isSuccess)
        let wrongName = try await verdict(Providers(served: ["inline-keys": [ManagedKey(name: "staging", version: nil, key: key), ManagedKey(name: "release", version: nil, key: other)]]))
        #expect(!wrongName.isSuccess, "only the key named release counts")
        let missing = try await verdict(nil)
        #expect(missing.reports.first?.message.contains("key management provider(s) inline-keys not available") == true, "\(missing.reports.first?.message ?? "")")
    }

    @Test func wrongKeyTamperedSignatureAndOtherImageFail() async throws {
        let (registry, images, sigs) = try await setUp()
        let image = images["signed"]!
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let config = #"{"name":"cosign","key":"\#(sigs.key("ec256"))"}"#
        var tampered = Array(Data(base64Encoded: sigs.signatures["ec256"]!)!)
        tampered[tampered.count / 2] ^= 0x01
        let cases: [(String, (payload: [UInt8], annotations: [String: String]), String)] = [
            ("wrong key", layer(sigs.payload, sigs.signatures["other"]!), "does not verify with the 1 key(s)"),
            ("tampered signature", layer(sigs.payload, Data(tampered).base64EncodedString()), "does not verify"),
            ("payload for another image", layer(sigs.otherPayload, sigs.otherSignatures["ec256"]!), "signature is for sha256:0000"),
            ("missing signature", (payload: sigs.payload, annotations: [:]), "is missing or not base64"),
        ]
        for (name, signatureLayer, expected) in cases {
            try await offPool { try fixtures.pushCosignSignatures("app", for: image, layers: [signatureLayer]) }
            let result = try await run(try verifier(config), "\(registry.host)/app:signed")
            #expect(!result.isSuccess, "\(name)")
            let report = try #require(result.reports.first)
            #expect(report.errorReason == "SIGNATURE_VERIFICATION_FAILED", "\(name)")
            #expect(report.message.contains(expected), "\(name): \(report.message)")
            #expect(report.remediation?.contains("sign \(registry.host)/app@\(image.digest)") == true)
        }
        registry.stop()
    }

    @Test(arguments: [true, false])
    func anyValidSignaturePassesWhateverItsPosition(validFirst: Bool) async throws {
        let (registry, images, sigs) = try await setUp()
        let image = images["signed"]!
        let valid = layer(sigs.payload, sigs.signatures["ec256"]!), invalid = layer(sigs.payload, sigs.signatures["other"]!)
        try await offPool {
            try OCIFixtures(pusher: registry, maintainTagSchema: true).pushCosignSignatures("app", for: image,
                layers: validFirst ? [valid, invalid] : [invalid, valid])
        }
        let result = try await run(try verifier(#"{"name":"cosign","key":"\#(sigs.key("ec256"))"}"#), "\(registry.host)/app:signed")
        #expect(result.isSuccess)
        let signatures = try #require(result.reports.first?.extensions?["signatures"]?.arrayValue)
        #expect(signatures.map { $0["isSuccess"] } == (validFirst ? [true, false] : [false, true]))
        #expect(signatures.contains { $0["error"]?.stringValue?.contains("does not verify") == true })
        registry.stop()
    }

    @Test func trustPoliciesPickTheMostSpecificScopeAndRequireTheLogByDefault() async throws {
        let (registry, images, sigs) = try await setUp()
        let image = images["signed"]!
        try await offPool {
            try OCIFixtures(pusher: registry, maintainTagSchema: true).pushCosignSignatures("app", for: image,
                layers: [self.layer(sigs.payload, sigs.signatures["ec256"]!)])
        }
        let specific = #"{"name":"cosign","trustPolicies":[{"name":"app","version":"1.0.0","scopes":["\#(registry.host)/app"],"keys":[{"file":"\#(sigs.key("ec256"))"}],"tLogVerify":false},{"name":"everything-else","scopes":["*"],"keys":[{"file":"\#(sigs.key("other"))"}],"tLogVerify":false}]}"#
        let result = try await run(try verifier(specific), "\(registry.host)/app:signed")
        #expect(result.isSuccess)
        #expect(result.reports.first?.extensions?["trustPolicy"] == "app")
        let verification = result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first
        #expect(verification?["keyInformation"]?["file"]?.stringValue == sigs.key("ec256"))

        let wrongPolicy = #"{"name":"cosign","trustPolicies":[{"name":"app","scopes":["\#(registry.host)/app"],"keys":[{"file":"\#(sigs.key("other"))"}],"tLogVerify":false},{"name":"rest","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}],"tLogVerify":false}]}"#
        #expect(try await run(try verifier(wrongPolicy), "\(registry.host)/app:signed").isSuccess == false)

        let tlogByDefault = #"{"name":"cosign","trustPolicies":[{"name":"all","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}]}]}"#
        let failed = try await run(try verifier(tlogByDefault), "\(registry.host)/app:signed")
        #expect(!failed.isSuccess)
        #expect(failed.reports.first?.message.contains("requires a transparency log entry") == true)
        registry.stop()
    }

    /// A verifier applied without trustedRoot (e.g. Ratify's cosign page, kubectl-applied) uses
    /// the deployment's RATIFY_COSIGN_TRUSTED_ROOT; a bad one is an error naming the variable.
    @Test func trustPoliciesWithoutTrustedRootUseTheDeploymentsRoot() async throws {
        let (registry, _, sigs) = try await setUp()
        defer { registry.stop() }
        let plugin = try JSONParser.parse(#"{"name":"cosign","trustPolicies":[{"name":"tlog","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}]}]}"#)
        let root = sigs.directory.appendingPathComponent("trusted_root.json").path
        let (config, warnings) = try CosignVerifierConfig.parse(plugin, path: "v", environment: ["RATIFY_COSIGN_TRUSTED_ROOT": root])
        #expect(config.trustedRoot?.logs.isEmpty == false)
        #expect(!warnings.contains { $0.contains("no trustedRoot") }, "\(warnings)")
        let (without, _) = try CosignVerifierConfig.parse(plugin, path: "v", environment: [:])
        #expect(without.trustedRoot?.logs.keys.sorted() == PublicGoodTrustedRoot.root?.logs.keys.sorted(), "unset: the public-good root")
        #expect { try CosignVerifierConfig.parse(plugin, path: "v", environment: ["RATIFY_COSIGN_TRUSTED_ROOT": "/nonexistent.json"]) } throws: {
            ($0 as? ConfigError)?.path == "v.trustedRoot" && "\($0)".contains("from RATIFY_COSIGN_TRUSTED_ROOT")
        }
    }

    @Test func rekorBundlesAreVerifiedOfflineWhenTheLogIsRequired() async throws {
        let (registry, images, sigs) = try await setUp()
        let image = images["signed"]!
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let config = #"{"name":"cosign","trustedRoot":"\#(sigs.directory.appendingPathComponent("trusted_root.json").path)","trustPolicies":[{"name":"tlog","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}],"tLogVerify":true}]}"#
        let cases: [(String, String?)] = [
            ("valid", nil),
            ("unknownLog", "not in the trusted root"),
            ("badSET", "SignedEntryTimestamp is not a valid signature"),
            ("otherSignature", "holds another signature"),
            ("otherKey", "logged for another key"),
            ("rekordKind", nil),
            ("unknownKind", "kind \"alpine\" is not hashedrekord, rekord, dsse or intoto"),
        ]
        for (name, expected) in cases {
            try await offPool {
                try fixtures.pushCosignSignatures("app", for: image, layers: [(payload: sigs.payload, annotations: [
                    signatureAnnotation: sigs.signatures["ec256"]!, "dev.sigstore.cosign/bundle": sigs.bundles[name]!])])
            }
            let result = try await run(try verifier(config), "\(registry.host)/app:signed")
            let verification = result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first
            if let expected {
                #expect(!result.isSuccess, "\(name)")
                #expect(result.reports.first?.message.contains(expected) == true, "\(name): \(result.reports.first?.message ?? "")")
                #expect(verification?["bundleVerified"] == false)
            } else {
                #expect(result.isSuccess, "\(name): \(result.reports.first?.message ?? "")")
                #expect(verification?["bundleVerified"] == true)
            }
        }
        registry.stop()
    }
}

/// cosign's default payload is predicted from the subject and checked against the layer digest:
/// the blob is not fetched (content addressing makes the prediction the content), and anything
/// else — an annotated payload — is fetched as before.
@Suite struct PredictedPayloadTests {
    /// Serves everything but blobs.
    final class NoBlobStore: ReferrerStore, @unchecked Sendable {
        let inner = MemoryStore()
        var blobFetches = 0
        func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor { try await inner.resolve(reference, deadline: deadline) }
        func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
            try await inner.referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
        }
        func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
            try await inner.manifest(descriptor, in: repository, deadline: deadline)
        }
        func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
            blobFetches += 1
            throw TestFailure("blob fetches are refused in this test")
        }
    }

    func signedStore(_ payload: [UInt8], _ signature: String, digest: String) -> NoBlobStore {
        let store = NoBlobStore()
        let layer = store.inner.putBlob(payload, mediaType: "application/vnd.dev.cosign.simplesigning.v1+json")
        var annotated = layer.json().objectValue!
        annotated["annotations"] = ["dev.cosignproject.cosign/signature": .string(signature)]
        let manifest = store.inner.putManifest(Array(JSONWriter.encodeString(["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
            "config": store.inner.putBlob(Array("{}".utf8), mediaType: "application/vnd.oci.image.config.v1+json").json(),
            "layers": [.object(annotated)]]).utf8), mediaType: MediaType.ociManifest, artifactType: MediaType.cosignSignatureArtifact)
        store.inner.addReferrer(manifest, to: try! Digest.parse(digest))
        return store
    }

    @Test func theDefaultPayloadIsNotFetched() async throws {
        let sigs = try await SignatureFixtures.shared.value
        let digest = "sha256:" + String(repeating: "1", count: 64)
        let store = signedStore(sigs.payload, sigs.signatures["ec256"]!, digest: digest)
        let cosign = try verifier(#"{"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json","key":"\#(sigs.key("ec256"))"}"#)
        let executor = VerificationExecutor(store: store, verifiers: [cosign], policy: ConfigPolicy())
        let result = try await executor.verify(key: "registry.example/app@\(digest)", deadline: .now + .seconds(10))
        #expect(result.isSuccess, "\(result.reports.map(\.message))")
        #expect(store.blobFetches == 0)
        // Another repository name: the prediction misses, the blob is fetched (here: refused).
        let elsewhere = try await executor.verify(key: "registry.example/other@\(digest)", deadline: .now + .seconds(10))
        #expect(!elsewhere.isSuccess && store.blobFetches == 1)
    }

    /// The exact bytes `cosign sign` writes (Go's json.Marshal, fields in struct order), under
    /// both names cosign gives a Docker Hub image.
    @Test func thePredictionIsCosignsPayloadByteForByte() throws {
        let digest = "sha256:" + String(repeating: "2", count: 64)
        func layer(_ name: String) -> Descriptor {
            let bytes = Array(#"{"critical":{"identity":{"docker-reference":"\#(name)"},"image":{"docker-manifest-digest":"\#(digest)"},"type":"cosign container image signature"},"optional":null}"#.utf8)
            return Descriptor(mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", digest: Digest.of(bytes), size: bytes.count)
        }
        let local = try ImageReference.parse("registry.example:5000/team/app@\(digest)")
        let hub = try ImageReference.parse("busybox@\(digest)")
        #expect(SimpleSigning.predictedPayload(for: layer("registry.example:5000/team/app"), subject: local).map { String(decoding: $0, as: UTF8.self) }?
            .hasPrefix(#"{"critical":{"identity":{"docker-reference":"registry.example:5000/team/app"}"#) == true)
        #expect(SimpleSigning.predictedPayload(for: layer("docker.io/library/busybox"), subject: hub) != nil)
        #expect(SimpleSigning.predictedPayload(for: layer("index.docker.io/library/busybox"), subject: hub) != nil)
        #expect(SimpleSigning.predictedPayload(for: layer("index.docker.io/library/busybox"), subject: local) == nil)
        #expect(SimpleSigning.predictedPayload(for: layer("registry.example:5000/team/other"), subject: local) == nil)
    }

    @Test func anAnnotatedPayloadIsFetched() async throws {
        let sigs = try await SignatureFixtures.shared.value
        let digest = "sha256:" + String(repeating: "1", count: 64)
        let store = signedStore(sigs.annotatedPayload, sigs.annotatedSignature, digest: digest)
        let cosign = try verifier(#"{"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json","key":"\#(sigs.key("ec256"))"}"#)
        let result = try await VerificationExecutor(store: store, verifiers: [cosign], policy: ConfigPolicy())
            .verify(key: "registry.example/app@\(digest)", deadline: .now + .seconds(10))
        #expect(!result.isSuccess && store.blobFetches == 1)
        #expect(result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["error"]?.stringValue?.contains("cannot fetch the signed payload") == true,
                "\(result.reports.first?.extensions.map { JSONWriter.encodeString($0) } ?? "")")
    }
}

@Suite struct CosignConfigTests {

    func configError(_ json: String) async throws -> ConfigError? {
        do {
            _ = try CosignVerifierConfig.parse(try JSONParser.parse(json), path: "verifier.plugins[1]")
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            return ConfigError(path: "?", "\(error)")
        }
    }

    func policies(_ scopes: [[String]], _ sigs: SignatureFixtures) -> String {
        let list = scopes.enumerated().map { index, scopes in
            #"{"name":"p\#(index)","scopes":\#(JSONWriter.encodeString(.array(scopes.map { .string($0) }))),"keys":[{"file":"\#(sigs.key("ec256"))"}]}"#
        }
        return #"{"name":"cosign","trustPolicies":[\#(list.joined(separator: ","))]}"#
    }

    @Test func scopesMayNameATagAsRatifyMatchesTheWrittenReference() {
        let policies: [(scopes: [String], value: String)] = [(["r.io/app:prod-*"], "prod"), (["r.io/app"], "app"), (["*"], "global")]
        #expect(ScopeSet.match(["r.io/app", "r.io/app:prod-7", "r.io/app@sha256:00"], in: policies) == "app", "the exact repository is the most specific")
        #expect(ScopeSet.match(["r.io/other", "r.io/other:prod-7"], in: policies) == "global")
        let byTag: [(scopes: [String], value: String)] = [(["r.io/app:prod-*"], "prod"), (["*"], "global")]
        #expect(ScopeSet.match(["r.io/app", "r.io/app:prod-7"], in: byTag) == "prod")
        #expect(ScopeSet.match(["r.io/app", "r.io/app:dev-1"], in: byTag) == "global")
    }

    @Test func overlappingScopesAreRejectedAtLoad() async throws {
        let sigs = try await SignatureFixtures.shared.value
        #expect(try await configError(policies([["ghcr.io/org/*"], ["ghcr.io/org/app"]], sigs))?.message.contains("overlaps") == true)
        #expect(try await configError(policies([["ghcr.io/org/*"], ["ghcr.io/org/team/*"]], sigs))?.path == "verifier.plugins[1].trustPolicies")
        #expect(try await configError(policies([["*"], ["*"]], sigs))?.message.contains("appears 2 times") == true)
        #expect(try await configError(policies([["ghcr.io/*/app"]], sigs))?.path == "verifier.plugins[1].trustPolicies[0].scopes")
        #expect(try await configError(policies([["ghcr.io/org/a*"], ["ghcr.io/org/b*"], ["*"]], sigs)) == nil)
    }

    @Test func badKeysAndModesNameTheirPath() async throws {
        let sigs = try await SignatureFixtures.shared.value
        #expect(try await configError(#"{"name":"cosign","key":"/nonexistent.pub"}"#)?.path == "verifier.plugins[1].key")
        #expect(try await configError(#"{"name":"cosign","key":"\#(sigs.key("rsa1024"))"}"#)?.message.contains("WEAK_PUBLIC_KEY") == true)
        #expect(try await configError(#"{"name":"cosign","trustPolicies":[{"name":"a","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}],"keyless":{}}]}"#)?
            .message.contains("mutually exclusive") == true)
        #expect(try await configError(#"{"name":"cosign","trustPolicies":[{"name":"a","scopes":["*"],"keys":[{"provider":""}]}]}"#)?.path
            == "verifier.plugins[1].trustPolicies[0].keys[0].provider")
        #expect(try await configError(#"{"name":"cosign","trustPolicies":[{"name":"a","scopes":[],"keys":[]}]}"#)?.path
            == "verifier.plugins[1].trustPolicies[0].scopes")
        #expect(try await configError(#"{"name":"cosign"}"#) != nil)
    }

    @Test func aVerifierLevelTLogVerifySaysWhatHappens() async throws {
        let sigs = try await SignatureFixtures.shared.value
        let (_, legacy) = try CosignVerifierConfig.parse(try JSONParser.parse(#"{"name":"cosign","key":"\#(sigs.key("ec256"))","tLogVerify":true}"#), path: "verifier.plugins[0]")
        #expect(legacy == ["verifier.plugins[0].tLogVerify is ignored in the legacy key form, as Ratify ignores it: signatures are checked against the key only; to require the transparency log, use trustPolicies with tLogVerify: true and a trustedRoot"])
        let (_, policies) = try CosignVerifierConfig.parse(try JSONParser.parse(#"{"name":"cosign","tLogVerify":false,"trustPolicies":[{"name":"p","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}],"tLogVerify":false}]}"#), path: "v")
        #expect(policies == ["v.tLogVerify is ignored at the verifier level, as Ratify ignores it: set tLogVerify in each of trustPolicies"])
    }

    /// No trustedRoot: the embedded public-good one (Rekor keys, Fulcio, CT logs, TSA), as cosign
    /// and Ratify trust it by default — so tLogVerify (the default) can pass with public-good entries.
    @Test func withoutATrustedRootThePublicGoodOneIsUsed() async throws {
        let sigs = try await SignatureFixtures.shared.value
        let value = try JSONParser.parse(#"{"name":"cosign","trustPolicies":[{"name":"a","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}]}]}"#)
        let (config, warnings) = try CosignVerifierConfig.parse(value, path: "verifier.plugins[0]", environment: [:])
        #expect(!warnings.contains { $0.contains("no trustedRoot") }, "\(warnings)")
        let root = try #require(PublicGoodTrustedRoot.root)
        #expect(config.trustedRoot?.logs.keys.sorted() == root.logs.keys.sorted())
        // rekor.sigstore.dev's log ID, two Fulcio chains, the two CT logs, the sigstore TSA.
        #expect(root.logs["c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"] != nil)
        #expect(root.roots.count == 2 && root.ctLogs.count == 2 && !root.timestampAuthorities.isEmpty)
        // What is compiled in is what the generator recorded (the literal drops the file's final newline).
        #expect(Hash.hex(.sha256, Array((PublicGoodTrustedRoot.json + "\n").utf8)) == PublicGoodTrustedRoot.sha256)
        #expect(try await configError(#"{"name":"cosign","trustedRoot":"/nonexistent.json","trustPolicies":[{"name":"a","scopes":["*"],"keys":[{"file":"\#(sigs.key("ec256"))"}]}]}"#)?.path
            == "verifier.plugins[1].trustedRoot")
    }

    @Test func pkcs1RSAPublicKeysLoadAsSigstoreReadsThem() async throws {
        let sigs = try await SignatureFixtures.shared.value
        let converted = try ProcessRunner.run("/usr/bin/openssl", ["rsa", "-pubin", "-in", sigs.key("rsa2048"), "-RSAPublicKey_out"])
        #expect(converted.output.contains("BEGIN RSA PUBLIC KEY"))
        let pkcs1 = try PublicKey.pem(Array(converted.output.utf8), source: "pkcs1")
        let spki = try PublicKey.pem(Array(try Data(contentsOf: URL(fileURLWithPath: sigs.key("rsa2048")))), source: "spki")
        #expect(pkcs1.derBytes == spki.derBytes)
        #expect(throws: CryptoError.self) { try PublicKey.pem(Array("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n".utf8), source: "bad") }
    }

    @Test func publicKeysFromPEM() async throws {
        let sigs = try await SignatureFixtures.shared.value
        for (name, kind) in [("ec256", "ECDSA prime256v1"), ("ec384", "ECDSA secp384r1"), ("ec521", "ECDSA secp521r1"),
                             ("rsa2048", "RSA 2048"), ("ed25519", "Ed25519")] {
            let key = try PublicKey.pem(Array(try Data(contentsOf: URL(fileURLWithPath: sigs.key(name)))), source: name)
            #expect(key.kind.description == kind)
            let signature = Array(Data(base64Encoded: sigs.signatures[name]!)!)
            #expect(key.verify(signature: signature, message: sigs.payload, hash: key.sigstoreHash))
            #expect(!key.verify(signature: signature, message: sigs.otherPayload, hash: key.sigstoreHash))
        }
        #expect(throws: CryptoError.self) { try PublicKey.pem(Array("nope".utf8), source: "x") }
    }
}

@Suite(.serialized) struct CosignEndToEndTests {
    @Test func ratifyVerifyPassesASignedImageAndFailsAnUnsignedOne() async throws {
        let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/ratify").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the ratify binary first (make build)")
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let (signed, sigs) = try await offPool { () -> (PushedContent, SignatureFixtures) in
            let signed = try fixtures.pushImage("app", tag: "signed")
            try fixtures.pushImage("app", tag: "unsigned")
            let sigs = try SignatureFixtures(digest: signed.digest)
            try fixtures.pushCosignSignatures("app", for: signed, layers: [(payload: sigs.payload, annotations: [signatureAnnotation: sigs.signatures["ec256"]!])])
            return (signed, sigs)
        }
        // Ratify's documented cosign config shape, unchanged.
        let config = """
        {"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true,"cosignEnabled":true}]},
         "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.dev.cosign.artifact.sig.v1+json":"any"}}},
         "verifier":{"version":"1.0.0","plugins":[{"name":"cosign","artifactTypes":"application/vnd.dev.cosign.artifact.sig.v1+json",
           "trustPolicies":[{"name":"default","version":"1.0.0","scopes":["*"],"keys":[{"file":"\(sigs.key("ec256"))"}],"tLogVerify":false}]}]}}
        """
        let file = registry.directory.appendingPathComponent("ratify.json").path
        try config.write(toFile: file, atomically: true, encoding: .utf8)
        let pass = try await offPool { try ProcessRunner.run(binary, ["verify", "-c", file, "-s", "\(registry.host)/app:signed"]) }
        #expect(pass.status == 0, "\(pass.output)")
        let report = try JSONParser.parse(pass.output)
        #expect(report["isSuccess"] == true)
        #expect(report["verifierReports"]?.arrayValue?.first?["name"] == "cosign")
        #expect(report["verifierReports"]?.arrayValue?.first?["subject"]?.stringValue == "\(registry.host)/app:signed@\(signed.digest)")
        let fail = try await offPool { try ProcessRunner.run(binary, ["verify", "-c", file, "-s", "\(registry.host)/app:unsigned", "-o", "text"]) }
        #expect(fail.status == 1)
        #expect(fail.output.contains("reason: REFERRERS_NOT_FOUND"))
        registry.stop()
    }
}
