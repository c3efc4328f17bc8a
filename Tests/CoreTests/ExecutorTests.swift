import Core
import Foundation
import JSON
import Registry
import Synchronization
import Testing
import TestSupport

let signatureType = "application/vnd.cncf.notary.signature"
let sbomType = "application/spdx+json"

/// A verifier for tests that reads the referrer's first layer through the store (so digests are
/// checked) and passes only when it says "valid". It stands in for notation/cosign, whose own
/// issues bring the cryptography; the executor's behaviour is what is under test here.
struct LayerContentVerifier: Verifier {
    var name = "content"
    var type = "content"
    var artifactTypes: [String]
    var nestedReferences: [String] = []

    func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> VerifierReport {
        do {
            let (manifest, _) = try await store.manifest(referrer, in: subject, deadline: deadline)
            guard let layer = manifest.layers.first else { throw TestFailure("no layer") }
            let bytes = try await store.blob(layer, in: subject, deadline: deadline)
            let ok = bytes == Array("valid".utf8)
            return VerifierReport(subject: subject.description, isSuccess: ok, verifierName: name, verifierType: type,
                                  referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                                  message: ok ? "content verification success" : "content is not valid",
                                  errorReason: ok ? nil : "CONTENT_INVALID", remediation: ok ? nil : "re-sign the image")
        } catch {
            return VerifierReport(subject: subject.description, isSuccess: false, verifierName: name, verifierType: type,
                                  referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                                  message: "\(error)", errorReason: "FETCH_FAILED", remediation: "check the registry")
        }
    }
}

final class Observed: Sendable {
    let lines = Mutex<[String]>([])
    func record(_ subject: String, _ value: () -> JSONValue, _ requestID: String) {
        let text = JSONWriter.encodeString(value())
        lines.withLock { $0.append("verify result for subject \(subject): \(text)") }
    }
    var count: Int { lines.withLock { $0.count } }
}

func orasStore() -> ORASStore {
    var options = ORASStoreOptions()
    options.useHttp = true
    return ORASStore(options: options)
}

/// Verdict tests get a minute: under a full parallel `make test` four keys against
/// docker-registry once took 5.75 s, past the 5 s this used to give (a VERIFY_TIMEOUT instead of
/// a verdict). Tests of deadlines pass their own.
func context(_ seconds: Double = 60) -> ProviderContext {
    ProviderContext(requestID: "trace-1", operation: .verify, deadline: .now + .milliseconds(Int(seconds * 1000)))
}

@Suite(.serialized) struct ExecutorTests {
    /// signed (one valid signature), tampered (one invalid), mixed (valid + invalid),
    /// unsigned, sbom-signed (SBOM whose signature is valid), sbom-unsigned.
    func pushScenario(_ registry: LocalRegistry) throws -> [String: PushedContent] {
        let f = OCIFixtures(pusher: registry, maintainTagSchema: true)
        func sign(_ subject: PushedContent, _ content: String, type: String = signatureType) throws -> PushedContent {
            try f.attach("app", to: subject, artifactType: type, layers: [(mediaType: "application/octet-stream", bytes: Array(content.utf8))])
        }
        var images: [String: PushedContent] = [:]
        for name in ["signed", "tampered", "mixed", "unsigned", "sbom-signed", "sbom-unsigned"] {
            images[name] = try f.pushImage("app", tag: name)
        }
        _ = try sign(images["signed"]!, "valid")
        _ = try sign(images["tampered"]!, "forged")
        _ = try sign(images["mixed"]!, "valid")
        _ = try sign(images["mixed"]!, "forged")
        let goodSBOM = try sign(images["sbom-signed"]!, "valid", type: sbomType)
        _ = try sign(goodSBOM, "valid")
        _ = try sign(images["sbom-unsigned"]!, "valid", type: sbomType)
        return images
    }

    func value(_ item: ProviderItem) throws -> JSONValue { try #require(item.value) }

    @Test func verdictsForSignedTamperedUnsignedAndUnhandled() async throws {
        let registry = try await offPool { try LocalRegistry() }
        _ = try await offPool { try pushScenario(registry) }
        let observed = Observed()
        let executor = VerificationExecutor(store: orasStore(), verifiers: [LayerContentVerifier(artifactTypes: [signatureType])],
                                            policy: ConfigPolicy(rules: [signatureType: .any]), observe: observed.record)
        let keys = ["signed", "tampered", "unsigned", "sbom-unsigned"].map { "\(registry.host)/app:\($0)" }
        let items = await executor.execute(keys, context: context())
        #expect(items.map(\.key) == keys)
        let signed = try value(items[0])
        #expect(signed["version"] == "0.2.0")
        #expect(signed["isSuccess"] == true)
        #expect(signed["traceID"] == "trace-1")
        #expect(signed["timestamp"]?.stringValue?.contains("T") == true)
        let report = try #require(signed["verifierReports"]?.arrayValue?.first)
        #expect(report.objectValue?.keys == ["subject", "isSuccess", "name", "verifierName", "type", "verifierType",
                                              "referenceDigest", "artifactType", "message"])
        #expect(report["artifactType"]?.stringValue == signatureType)
        #expect(report["subject"]?.stringValue?.hasPrefix("\(registry.host)/app:signed@sha256:") == true)

        let tampered = try value(items[1])
        #expect(tampered["isSuccess"] == false)
        #expect(tampered["verifierReports"]?.arrayValue?.first?["errorReason"] == "CONTENT_INVALID")

        let unsigned = try value(items[2])
        #expect(unsigned["isSuccess"] == false)
        #expect(unsigned["verifierReports"]?.arrayValue?.first?["errorReason"] == "REFERRERS_NOT_FOUND")
        #expect(unsigned["verifierReports"]?.arrayValue?.first?["remediation"]?.stringValue?.contains("sign the image") == true)

        let unhandled = try value(items[3])
        #expect(unhandled["isSuccess"] == false)
        #expect(unhandled["verifierReports"]?.arrayValue?.first?["errorReason"] == "NO_VERIFIER_REPORT")
        #expect(unhandled["verifierReports"]?.arrayValue?.first?["remediation"]?.stringValue?.contains(sbomType) == true)

        #expect(observed.count == 4)
        #expect(observed.lines.withLock { $0 }.allSatisfy { $0.hasPrefix("verify result for subject \(registry.host)/app:") })
        registry.stop()
    }

    @Test func anyAndAllPolicies() async throws {
        let registry = try await offPool { try LocalRegistry() }
        _ = try await offPool { try pushScenario(registry) }
        let key = "\(registry.host)/app:mixed"
        let verifier = LayerContentVerifier(artifactTypes: [signatureType])
        let any = VerificationExecutor(store: orasStore(), verifiers: [verifier], policy: ConfigPolicy(rules: [signatureType: .any]))
        let all = VerificationExecutor(store: orasStore(), verifiers: [verifier], policy: ConfigPolicy(rules: [signatureType: .all]))
        let anyValue = try value(await any.execute([key], context: context())[0])
        #expect(anyValue["isSuccess"] == true)
        #expect(anyValue["verifierReports"]?.arrayValue?.count == 2)
        #expect(try value(await all.execute([key], context: context())[0])["isSuccess"] == false)
        registry.stop()
    }

    @Test func nestedReferencesMustVerifyToo() async throws {
        let registry = try await offPool { try LocalRegistry() }
        _ = try await offPool { try pushScenario(registry) }
        let executor = VerificationExecutor(store: orasStore(), verifiers: [
            LayerContentVerifier(name: "sbom", type: "sbom", artifactTypes: [sbomType], nestedReferences: [signatureType]),
            LayerContentVerifier(artifactTypes: [signatureType]),
        ], policy: ConfigPolicy())
        let items = await executor.execute(["\(registry.host)/app:sbom-signed", "\(registry.host)/app:sbom-unsigned"], context: context())
        let good = try value(items[0])
        #expect(good["isSuccess"] == true)
        let nested = try #require(good["verifierReports"]?.arrayValue?.first?["nestedResults"]?.arrayValue)
        #expect(nested.count == 1 && nested[0]["isSuccess"] == true && nested[0]["artifactType"]?.stringValue == signatureType)
        let bad = try value(items[1])
        #expect(bad["isSuccess"] == false)
        #expect(bad["verifierReports"]?.arrayValue?.first?["errorReason"] == "NESTED_VERIFICATION_MISSING")
        registry.stop()
    }

    @Test func sameSubjectIsVerifiedOnceAndCachedByGeneration() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let images = try await offPool { try pushScenario(registry) }
        let observed = Observed()
        let store = orasStore()
        let verifier = LayerContentVerifier(artifactTypes: [signatureType])
        let executor = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(), observe: observed.record)
        let key = "\(registry.host)/app:signed"
        // The tag is resolved to the digest that was pushed, and the subject names it.
        let subject = try await executor.verify(key: key, deadline: .now + .seconds(60)).subject
        #expect(subject.hasSuffix("@\(try #require(images["signed"]).digest)"), "\(subject)")
        #expect(observed.count == 1)
        let items = await executor.execute([key, key, "[team-a]\(key)"], context: context())
        #expect(items.map(\.key) == [key, key, "[team-a]\(key)"])
        #expect(items.allSatisfy { $0.value?["isSuccess"] == true })
        #expect(observed.count == 1, "cached within the TTL, and one verification per subject")
        var next = VerificationExecutor.Options()
        next.generation = 2
        let reconfigured = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(), options: next, observe: observed.record)
        _ = await reconfigured.execute([key], context: context())
        #expect(observed.count == 2, "a new configuration generation verifies again")
        registry.stop()
    }

    @Test func badKeysAndUnreachableSubjectsAreItemErrors() async throws {
        let executor = VerificationExecutor(store: orasStore(), verifiers: [], policy: ConfigPolicy())
        let items = await executor.execute(["Not/Valid", "127.0.0.1:1/app:v1"], context: context())
        #expect(items[0].error?.hasPrefix("INVALID_SUBJECT_REFERENCE: Not/Valid") == true)
        #expect(items[1].error?.hasPrefix("GET_SUBJECT_DESCRIPTOR_FAILURE: cannot resolve 127.0.0.1:1/app:v1") == true)
        #expect(items.allSatisfy { $0.value == nil })
    }

    @Test func slowRegistryGivesATimeoutNamingTheStage() async throws {
        let registry = try ReferrersTestRegistry(delay: .seconds(30))
        try OCIFixtures(pusher: registry, maintainTagSchema: false).pushImage("app", tag: "v1")
        let executor = VerificationExecutor(store: orasStore(), verifiers: [LayerContentVerifier(artifactTypes: [signatureType])],
                                            policy: ConfigPolicy())
        let started = ContinuousClock.now
        let items = await executor.execute(["\(registry.host)/app:v1"], context: context(0.25))
        // Answered at the 250 ms deadline, not after the registry's 30 s (not a latency bound).
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(items[0].value == nil)
        // "resolve" normally; "queued" if a loaded machine had not started the key yet.
        let error = try #require(items[0].error)
        #expect(error.hasPrefix("VERIFY_TIMEOUT: \(registry.host)/app:v1 ran out of time during resolve")
                || error.hasPrefix("VERIFY_TIMEOUT: \(registry.host)/app:v1 ran out of time during queued"), "\(error)")
        await registry.stop()
    }

    /// Issue #15: the endpoint runs a verification executor without a deadline task of its own
    /// (it answers late keys itself), so a slow registry gives per-key timeouts answered as
    /// denials, not the endpoint's request-wide systemError.
    @Test func theEndpointLetsTheVerificationExecutorAnswerItsOwnTimeouts() async throws {
        let registry = try ReferrersTestRegistry(delay: .seconds(30))
        try OCIFixtures(pusher: registry, maintainTagSchema: false).pushImage("app", tag: "v1")
        let executor = VerificationExecutor(store: orasStore(), verifiers: [LayerContentVerifier(artifactTypes: [signatureType])],
                                            policy: ConfigPolicy())
        #expect(executor.answersByDeadline(.verify))
        #expect(RoutingExecutor(verify: executor, mutate: MutationExecutor(store: orasStore())).answersByDeadline(.verify))
        #expect(!RoutingExecutor(verify: executor, mutate: MutationExecutor(store: orasStore())).answersByDeadline(.mutate))
        #expect(!NamespaceRoutingExecutor(cluster: executor, namespaces: ["a": SlowExecutor(delay: .zero)]).answersByDeadline(.verify))
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .milliseconds(400)) { executor }
        let body = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["\#(registry.host)/app:v1"]}}"#.utf8)
        let answer = await endpoint.answer(body: body, requestID: "r")
        #expect(answer.outcome == .answered && answer.response.systemError == nil)
        #expect(answer.response.items.count == 2)
        #expect(answer.response.items[0].error?.hasPrefix("VERIFY_TIMEOUT: ") == true)
        #expect(answer.response.items[1].value?["isSuccess"] == false)
        await registry.stop()
    }
}

@Suite struct ConfigPolicyTests {
    func report(_ type: String, _ ok: Bool) -> VerifierReport {
        VerifierReport(subject: "s", isSuccess: ok, verifierName: "v", verifierType: "v", artifactType: type, message: "")
    }

    @Test func anyNeedsOneSuccessOfItsType() {
        let policy = ConfigPolicy(rules: ["sig": .any])
        #expect(policy.isSuccess([report("sig", false), report("sig", true)]))
        #expect(!policy.isSuccess([report("sig", false)]))
        #expect(!policy.isSuccess([report("other", true)]), "no report of the required type")
    }

    @Test func allNeedsEveryReportAndAtLeastOne() {
        let policy = ConfigPolicy(rules: ["sig": .all])
        #expect(policy.isSuccess([report("sig", true), report("sig", true)]))
        #expect(!policy.isSuccess([report("sig", true), report("sig", false)]))
        #expect(!policy.isSuccess([report("sbom", true)]))
    }

    @Test func defaultGovernsUnlistedTypesAndEmptyFails() {
        #expect(!ConfigPolicy().isSuccess([]))
        #expect(!ConfigPolicy().isSuccess([report("x", true), report("x", false)]))
        #expect(ConfigPolicy(defaultRule: .any).isSuccess([report("x", true), report("x", false)]))
    }

    @Test func parsesRatifyPolicyConfig() throws {
        let value = try JSONParser.parse(#"{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.cncf.notary.signature":"any","default":"all"}}"#)
        let policy = try ConfigPolicy.parse(value, path: "policy.plugin")
        #expect(policy == ConfigPolicy(rules: ["application/vnd.cncf.notary.signature": .any], defaultRule: .all))
        #expect(throws: ConfigError.self) { try ConfigPolicy.parse(try JSONParser.parse(#"{"name":"configPolicy","artifactVerificationPolicies":{"x":"some"}}"#), path: "policy.plugin") }
        #expect(throws: ConfigError.self) { try ConfigPolicy.parse(try JSONParser.parse(#"{"name":"regoPolicy"}"#), path: "policy.plugin") }
    }

    @Test func parsesMultiTenantKeys() {
        #expect(ProviderKey("[team-a]ghcr.io/x:1") != ProviderKey("[team-b]ghcr.io/x:1"), "the namespace is part of the key")
        #expect(ProviderKey("[team-a]ghcr.io/x:1") != ProviderKey("ghcr.io/x:1"))
        #expect(ProviderKey("[team-a]ghcr.io/x:1").namespace == "team-a")
        #expect(ProviderKey("[team-a]ghcr.io/x:1").image == "ghcr.io/x:1")
        #expect(ProviderKey("ghcr.io/x:1").namespace == nil)
        #expect(ProviderKey("[]busybox").image == "busybox")
    }
}

/// The executor over TestSupport's in-memory store (Ratify keeps one for the same purpose): no
/// registry, so policy semantics are checked in milliseconds.
@Suite struct MemoryStoreExecutorTests {
    func image(_ store: MemoryStore, tag: String, signatures: [String]) -> Descriptor {
        let subject = store.putManifest(Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"tag":"\#(tag)"}}"#.utf8),
                                        mediaType: MediaType.ociManifest, tag: tag)
        for content in signatures {
            let layer = store.putBlob(Array(content.utf8))
            let manifest = store.putManifest(Array(JSONWriter.encodeString(["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                "artifactType": .string(signatureType), "config": store.putBlob(Array("{}".utf8), mediaType: MediaType.ociEmpty).json(),
                "layers": .array([layer.json()]), "subject": subject.json()]).utf8), mediaType: MediaType.ociManifest, artifactType: signatureType)
            store.addReferrer(manifest, to: subject.digest)
        }
        return subject
    }

    /// A verifier whose nested references lie past the nesting cap fails with its own reason: a
    /// chain of signatures-of-signatures deeper than the cap is never passed unchecked.
    @Test func nestedReferencesPastTheDepthCapFailClosed() async throws {
        let store = MemoryStore()
        var subject = image(store, tag: "deep", signatures: [])
        for _ in 0..<4 {  // image <- sig <- sig <- sig <- sig, every one "valid"
            let layer = store.putBlob(Array("valid".utf8))
            let manifest = store.putManifest(Array(JSONWriter.encodeString(["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                "artifactType": .string(signatureType), "config": store.putBlob(Array("{}".utf8), mediaType: MediaType.ociEmpty).json(),
                "layers": .array([layer.json()]), "subject": subject.json()]).utf8), mediaType: MediaType.ociManifest, artifactType: signatureType)
            store.addReferrer(manifest, to: subject.digest)
            subject = manifest
        }
        let verifier = LayerContentVerifier(artifactTypes: [signatureType], nestedReferences: [signatureType])
        var options = VerificationExecutor.Options()
        options.maxNestingDepth = 2
        let capped = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(), options: options)
        let result = try await capped.verify(key: "registry.test/app:deep", deadline: .now + .seconds(30))
        #expect(!result.isSuccess)
        func deepest(_ report: VerifierReport) -> VerifierReport { report.nestedResults.first.map(deepest) ?? report }
        let bottom = try #require(result.reports.first.map(deepest))
        #expect(bottom.errorReason == ExecutorReason.nestedDepthExceeded.rawValue && bottom.message.contains("deeper than 2 levels"), "\(bottom.message)")
        options.maxNestingDepth = 8
        // With room for the whole chain the last signature has nothing attached: missing, not passed either.
        let roomy = try await VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(), options: options)
            .verify(key: "registry.test/app:deep", deadline: .now + .seconds(30))
        #expect(!roomy.isSuccess && roomy.reports.first.map(deepest)?.errorReason == ExecutorReason.nestedVerificationMissing.rawValue)
    }

    @Test func anyAndAllOverAnInMemoryStore() async throws {
        let store = MemoryStore()
        _ = image(store, tag: "mixed", signatures: ["valid", "forged"])
        _ = image(store, tag: "unsigned", signatures: [])
        let verifier = LayerContentVerifier(artifactTypes: [signatureType])
        let any = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(rules: [signatureType: .any]))
        let all = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(rules: [signatureType: .all]))
        #expect(try await any.verify(key: "registry.test/app:mixed", deadline: .now + .seconds(30)).isSuccess)
        #expect(try await !all.verify(key: "registry.test/app:mixed", deadline: .now + .seconds(30)).isSuccess)
        let unsigned = try await any.verify(key: "registry.test/app:unsigned", deadline: .now + .seconds(30))
        #expect(!unsigned.isSuccess)
        #expect(unsigned.reports.first?.errorReason == ExecutorReason.referrersNotFound.rawValue)
    }

    /// Ratify issue #790: under `any`, once one signature of a type passes the others are not
    /// verified (reported as not needed); under `all` every one is; a failing first signature
    /// lets the rest run.
    @Test func anyStopsVerifyingOnceOneSignaturePasses() async throws {
        let store = MemoryStore()
        let three = image(store, tag: "three", signatures: ["valid", "valid", "valid"])
        _ = image(store, tag: "forged-first", signatures: ["forged", "valid", "valid"])
        let counting = CountingVerifier(inner: LayerContentVerifier(artifactTypes: [signatureType]))
        let any = VerificationExecutor(store: store, verifiers: [counting], policy: ConfigPolicy(rules: [signatureType: .any]))
        let settled = try await any.verify(key: "registry.test/app:three", deadline: .now + .seconds(30))
        #expect(settled.isSuccess && counting.calls == 1)
        #expect(settled.reports.count == 3)
        let skipped = settled.reports.filter { $0.errorReason == ExecutorReason.notNeeded.rawValue }
        #expect(skipped.count == 2 && skipped.allSatisfy { !$0.isSuccess && $0.message.contains("passed") && $0.referenceDigest != nil })
        // The default rule is `all` unless configured: `any` there settles unlisted types too.
        let defaultAny = VerificationExecutor(store: store, verifiers: [counting], policy: ConfigPolicy(defaultRule: .any))
        counting.reset()
        #expect(try await defaultAny.verify(key: "registry.test/app:three", deadline: .now + .seconds(30)).isSuccess && counting.calls == 1)
        counting.reset()
        let all = VerificationExecutor(store: store, verifiers: [counting], policy: ConfigPolicy(rules: [signatureType: .all]))
        let every = try await all.verify(key: "registry.test/app:three", deadline: .now + .seconds(30))
        #expect(every.isSuccess && counting.calls == 3 && every.reports.allSatisfy(\.isSuccess))
        counting.reset()
        let retried = try await any.verify(key: "registry.test/app:forged-first", deadline: .now + .seconds(30))
        #expect(retried.isSuccess && counting.calls == 3)
        #expect(!retried.reports.contains { $0.errorReason == ExecutorReason.notNeeded.rawValue })
        _ = three
    }

    /// A digest-pinned key is not resolved (one registry round trip less); a pinned digest that
    /// has nothing attached is resolved then, so a missing image is named as such.
    @Test func digestPinnedKeysSkipTheResolve() async throws {
        let memory = MemoryStore()
        let signed = image(memory, tag: "signed", signatures: ["valid"])
        let store = CountingStore(inner: memory)
        let executor = VerificationExecutor(store: store, verifiers: [LayerContentVerifier(artifactTypes: [signatureType])], policy: ConfigPolicy())
        #expect(try await executor.verify(key: "registry.test/app@\(signed.digest)", deadline: .now + .seconds(30)).isSuccess)
        #expect(store.resolves == 0)
        #expect(try await executor.verify(key: "registry.test/app:signed", deadline: .now + .seconds(30)).isSuccess)
        #expect(store.resolves == 1)
        let missing = "registry.test/app@sha256:" + String(repeating: "ab", count: 32)
        do {
            _ = try await executor.verify(key: missing, deadline: .now + .seconds(30))
            Issue.record("a missing pinned image verified")
        } catch {
            #expect(error.code == .resolveFailed, "\(error)")
        }
    }
}

/// Issue #16: a verification whose request timed out is stopped (its store calls see the
/// cancellation), and what it left behind is not cached as a verdict.
@Suite struct AbandonedVerificationTests {
    final class HangingOnce: ReferrerStore, @unchecked Sendable {
        let inner: MemoryStore
        let hang = Mutex(true)
        let sawCancellation = Mutex(false)
        init(_ inner: MemoryStore) { self.inner = inner }
        func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor { try await inner.resolve(reference, deadline: deadline) }
        func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
            if hang.withLock({ $0 }) {
                try? await Task.sleep(for: .seconds(60))
                if Task.isCancelled { sawCancellation.withLock { $0 = true } }
                throw TestFailure("cancelled")
            }
            return try await inner.referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
        }
        func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
            try await inner.manifest(descriptor, in: repository, deadline: deadline)
        }
        func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
            try await inner.blob(descriptor, in: repository, deadline: deadline)
        }
    }

    @Test func aTimedOutVerificationIsStoppedAndNotCached() async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "signed", signatures: ["valid"])
        let store = HangingOnce(memory)
        let executor = VerificationExecutor(store: store, verifiers: [LayerContentVerifier(artifactTypes: [signatureType])], policy: ConfigPolicy())
        let key = "registry.test/app@\(signed.digest)"
        let timedOut = await executor.execute([key], context: ProviderContext(requestID: "t", operation: .verify, deadline: .now + .milliseconds(300)))
        #expect(timedOut.first?.error?.hasPrefix("VERIFY_TIMEOUT") == true, "\(timedOut)")
        for _ in 0..<200 where !store.sawCancellation.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(25)) }
        #expect(store.sawCancellation.withLock { $0 }, "the abandoned verification was cancelled")
        store.hang.withLock { $0 = false }
        let retried = try await executor.verify(key: key, deadline: .now + .seconds(30))
        #expect(retried.isSuccess, "no failure from the abandoned run was cached: \(retried.reports.map(\.message))")
    }
}

/// Verification work moves to `Options.taskExecutor` (the transport's I/O thread in production);
/// a cached verdict is answered without moving.
@Suite struct TaskExecutorPreferenceTests {
    @Test func coldWorkRunsOnThePreferredExecutorAndCachedAnswersDoNotMove() async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "signed", signatures: ["valid"])
        let counting = ThreadPerJobExecutor()
        var options = VerificationExecutor.Options()
        options.taskExecutor = counting
        let executor = VerificationExecutor(store: memory, verifiers: [LayerContentVerifier(artifactTypes: [signatureType])],
                                            policy: ConfigPolicy(), options: options)
        let key = "registry.test/app@\(signed.digest)"
        #expect(try await executor.verify(key: key, deadline: .now + .seconds(30)).isSuccess)
        let cold = counting.jobs
        #expect(cold > 0, "the verification ran on the preferred executor")
        #expect(try await executor.verify(key: key, deadline: .now + .seconds(30)).isSuccess)
        #expect(counting.jobs == cold, "the cached verdict did not move")
        // The same through `execute` (the endpoint's path): a cached key needs no task.
        let items = await executor.execute([key, key], context: context(60))
        #expect(items.count == 2 && items.allSatisfy { $0.value?["isSuccess"] == .bool(true) }, "\(items)")
        #expect(counting.jobs == cold, "the cached verdict did not move")
    }

    /// A request whose every key has a cached verdict can be answered on the event loop:
    /// `cachedItems` answers it without awaiting, and declines (nil) as soon as one key needs
    /// work, for mutation, or with the cache off.
    @Test func cachedItemsAnswerOnlyWhenEveryKeyIsCached() async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "signed", signatures: ["valid"])
        let unsigned = MemoryStoreExecutorTests().image(memory, tag: "unsigned", signatures: [])
        let executor = VerificationExecutor(store: memory, verifiers: [LayerContentVerifier(artifactTypes: [signatureType])], policy: ConfigPolicy())
        let key = "registry.test/app@\(signed.digest)", other = "registry.test/app@\(unsigned.digest)"
        let verify = context(60)
        #expect(executor.cachedItems([key], context: verify) == nil, "nothing cached yet")
        _ = await executor.execute([key], context: verify)
        let items = try #require(executor.cachedItems([key, key], context: verify))
        #expect(items.map(\.key) == [key, key] && items.allSatisfy { $0.value?["isSuccess"] == .bool(true) })
        #expect(executor.cachedItems([key, other], context: verify) == nil, "one key needs work")
        #expect(executor.cachedItems(["Not A Reference"], context: verify) == nil, "the usual path says why")
        let mutate = ProviderContext(requestID: "m", operation: .mutate, deadline: .now + .seconds(60))
        #expect(executor.cachedItems([key], context: mutate) == nil)
        // The endpoint: small well-formed bodies only.
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .seconds(60)) { executor }
        let body = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["\#(key)"]}}"#.utf8)
        guard case .answered(let answer) = endpoint.answerFromCache(body: body, requestID: "r") else {
            Issue.record("a cached key is answered on the loop")
            return
        }
        #expect(answer.response.items.first?.value?["traceID"] == .string("r"))
        let uncached = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["\#(key)","\#(other)"]}}"#.utf8)
        #expect(endpoint.answerFromCache(body: uncached, requestID: "r") == .needsWork(ProviderRequest(keys: [key, other])))
        #expect(endpoint.answerFromCache(body: Array("{".utf8), requestID: "r") == .notOnLoop)
        let big = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["\#(key)"]},"pad":"\#(String(repeating: "x", count: ProviderEndpoint.maxCachedAnswerBody))"}"#.utf8)
        #expect(endpoint.answerFromCache(body: big, requestID: "r") == .notOnLoop)
        // Namespaced keys go to their namespace's executor; an executor without the verdict declines.
        let routed = NamespaceRoutingExecutor(cluster: executor, namespaces: ["team": VerificationExecutor(
            store: memory, verifiers: [LayerContentVerifier(artifactTypes: [signatureType])], policy: ConfigPolicy())])
        #expect(routed.cachedItems([key], context: verify)?.count == 1)
        #expect(routed.cachedItems(["[team]\(key)"], context: verify) == nil)
        #expect(routed.cachedItems(["[elsewhere]\(key)"], context: verify)?.first?.key == "[elsewhere]\(key)")
    }

    /// Records whether the verifier's own work ran on the test's I/O executor.
    final class Places: Sendable {
        let ranOnExecutor = Mutex<[Bool]>([])
    }

    struct WhereVerifier: Verifier {
        let inner = LayerContentVerifier(artifactTypes: [signatureType])
        let places: Places
        let executor: ThreadPerJobExecutor
        let runsBriefly: Bool
        var name: String { inner.name }
        var type: String { inner.type }
        var artifactTypes: [String] { inner.artifactTypes }
        func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> VerifierReport {
            places.ranOnExecutor.withLock { $0.append(executor.isCurrent) }
            return await inner.verify(subject: subject, referrer: referrer, store: store, deadline: deadline)
        }
    }

    /// A brief verifier's work stays on the I/O executor while it has nothing else to do (a hop
    /// to the pool and back costs a cold image more than its checks) and moves to the pool while
    /// it is busy; other verifiers' work always moves. Requests prefer the executor only while
    /// it is idle.
    @Test(arguments: [(false, true), (true, true), (false, false), (true, false)])
    func verifierWorkMovesOffABusyExecutorOnly(busy: Bool, brief: Bool) async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "signed", signatures: ["valid"])
        let marking = ThreadPerJobExecutor()
        var options = VerificationExecutor.Options()
        options.taskExecutor = marking
        options.taskExecutorIsBusy = { _ in busy }
        let places = Places()
        let executor = VerificationExecutor(store: memory, verifiers: [WhereVerifier(places: places, executor: marking, runsBriefly: brief)], policy: ConfigPolicy(),
                                            options: options)
        let items = await executor.execute(["registry.test/app@\(signed.digest)"], context: context(60))
        #expect(items.first?.value?["isSuccess"] == .bool(true), "\(items)")
        #expect(places.ranOnExecutor.withLock { $0 } == [brief && !busy], brief && !busy ? "stayed on the I/O executor" : "moved to the pool")
        #expect((executor.preferredTaskExecutor(.verify) === marking) == !busy)
        #expect(executor.preferredTaskExecutor(.mutate) == nil)
    }
}

/// Counts how often each verification is actually run.
final class CountingVerifier: Verifier, Sendable {
    let inner: LayerContentVerifier
    private let count = Mutex(0)
    init(inner: LayerContentVerifier) { self.inner = inner }
    var name: String { inner.name }
    var type: String { inner.type }
    var artifactTypes: [String] { inner.artifactTypes }
    var calls: Int { count.withLock { $0 } }
    func reset() { count.withLock { $0 = 0 } }
    func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> VerifierReport {
        count.withLock { $0 += 1 }
        return await inner.verify(subject: subject, referrer: referrer, store: store, deadline: deadline)
    }
}

/// A store that counts resolves and passes everything else through.
final class CountingStore: ReferrerStore, Sendable {
    let inner: MemoryStore
    private let resolveCount = Mutex(0)
    init(inner: MemoryStore) { self.inner = inner }
    var resolves: Int { resolveCount.withLock { $0 } }
    func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        resolveCount.withLock { $0 += 1 }
        return try await inner.resolve(reference, deadline: deadline)
    }
    func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await inner.referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
    }
    func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        try await inner.manifest(descriptor, in: repository, deadline: deadline)
    }
    func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await inner.blob(descriptor, in: repository, deadline: deadline)
    }
}

/// A store that names referrers early (as the registry store names cosign's `.sig` while the
/// tag-schema listing is on its way), then holds the list back until the verifier has started
/// or two seconds pass. `unlisted` is named early but is not in the list.
final class EarlyNamingStore: ReferrerStore, Sendable {
    let inner: MemoryStore
    let unlisted: Descriptor?
    /// How many checks have begun.
    let started: @Sendable () -> Int
    /// Checks begun when the list was handed over.
    let startedBeforeList = Mutex(-1)
    init(inner: MemoryStore, unlisted: Descriptor? = nil, started: @escaping @Sendable () -> Int) {
        self.inner = inner
        self.unlisted = unlisted
        self.started = started
    }
    func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        try await inner.resolve(reference, deadline: deadline)
    }
    func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await inner.referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
    }
    func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                   early: @escaping @Sendable (Descriptor) -> Void, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        let list = try await inner.referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
        for referrer in list { early(referrer) }
        if let unlisted { early(unlisted) }
        let expected = list.count + (unlisted == nil ? 0 : 1)
        for _ in 0..<2000 where started() < expected { try await Task.sleep(for: .milliseconds(1)) }
        startedBeforeList.withLock { $0 = started() }
        return list
    }
    func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        try await inner.manifest(descriptor, in: repository, deadline: deadline)
    }
    func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await inner.blob(descriptor, in: repository, deadline: deadline)
    }
}

@Suite struct EarlyReferrerTests {
    /// A referrer the store names before its list is complete is checked at once, and its job
    /// takes that check over: checked once, with the report it would have had anyway.
    @Test func aReferrerNamedEarlyIsCheckedOnceBeforeTheListArrives() async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "early", signatures: ["valid"])
        let verifier = CountingVerifier(inner: LayerContentVerifier(artifactTypes: [signatureType]))
        let store = EarlyNamingStore(inner: memory, started: { verifier.calls })
        let executor = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy())
        let result = try await executor.verify(key: "registry.test/app@\(signed.digest)", deadline: .now + .seconds(60))
        #expect(result.isSuccess, "\(result.reports.map(\.message))")
        #expect(store.startedBeforeList.withLock { $0 } == 1, "the check began while the list was held back")
        #expect(verifier.calls == 1, "the job took the early check over instead of checking again")
        #expect(result.reports.count == 1 && result.reports[0].message == "content verification success")
    }

    /// What was named early but is not in the list makes no report and no difference.
    @Test func aReferrerNamedEarlyButNotListedMakesNoReport() async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "listed", signatures: ["valid"])
        let other = MemoryStoreExecutorTests().image(memory, tag: "other", signatures: ["tampered"])
        let stray = try await memory.referrers(of: ImageReference(registry: "registry.test", repository: "app", digest: other.digest),
                                               artifactTypes: nil, deadline: .now + .seconds(5))[0]
        let verifier = CountingVerifier(inner: LayerContentVerifier(artifactTypes: [signatureType]))
        let store = EarlyNamingStore(inner: memory, unlisted: stray, started: { verifier.calls })
        let executor = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy())
        let result = try await executor.verify(key: "registry.test/app@\(signed.digest)", deadline: .now + .seconds(60))
        #expect(result.isSuccess, "\(result.reports.map(\.message))")
        #expect(result.reports.count == 1 && result.reports[0].referenceDigest != stray.digest.description)
    }

    /// An early check runs while its sibling request is still unanswered: that one request is
    /// its own, so a brief verifier's check stays on the I/O executor (a hop to the pool would
    /// cost more than the check) unless there is other work.
    @Test(arguments: [false, true])
    func anEarlyCheckDoesNotCountItsSiblingRequestAsWork(otherWork: Bool) async throws {
        let memory = MemoryStore()
        let signed = MemoryStoreExecutorTests().image(memory, tag: "sibling", signatures: ["valid"])
        let marking = ThreadPerJobExecutor()
        var options = VerificationExecutor.Options()
        options.taskExecutor = marking
        // One unanswered transfer (the sibling), plus another caller's when there is other work.
        options.taskExecutorIsBusy = { own in (otherWork ? 2 : 1) > own }
        let places = TaskExecutorPreferenceTests.Places()
        let verifier = TaskExecutorPreferenceTests.WhereVerifier(places: places, executor: marking, runsBriefly: true)
        let store = EarlyNamingStore(inner: memory, started: { places.ranOnExecutor.withLock { $0.count } })
        let executor = VerificationExecutor(store: store, verifiers: [verifier], policy: ConfigPolicy(), options: options)
        let items = await executor.execute(["registry.test/app@\(signed.digest)"], context: context(60))
        #expect(items.first?.value?["isSuccess"] == .bool(true), "\(items)")
        #expect(store.startedBeforeList.withLock { $0 } == 1)
        #expect(places.ranOnExecutor.withLock { $0 } == [!otherWork])
    }
}
