import Core
import Foundation
import JSON
@testable import Registry
import Synchronization
import Testing
import TestSupport

/// Counts registry requests the way `ratify_registry_request_count` does.
final class RequestLog: Sendable {
    private let entries = Mutex<[(host: String, status: Int)]>([])
    func record(_ host: String, _ status: Int) { entries.withLock { $0.append((host, status)) } }
    var count: Int { entries.withLock { $0.count } }
    var statuses: [Int] { entries.withLock { $0.map(\.status) } }
    func reset() { entries.withLock { $0.removeAll() } }
}

func makeStore(cosign: Bool = false, credentials: any CredentialProvider = AnonymousCredentials(), log: RequestLog = RequestLog(),
               configure: (inout ORASStoreOptions) -> Void = { _ in }) -> ORASStore {
    var options = ORASStoreOptions()
    options.useHttp = true
    options.cosignEnabled = cosign
    configure(&options)
    return ORASStore(options: options, credentials: credentials, onRequest: { log.record($0, $1) })
}

/// Runs `body` and checks it fails with a RegistryError of `code` whose message holds `text`.
func expectRegistryError(_ code: RegistryError.Code, containing text: String? = nil, excluding secret: String? = nil,
                         _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected \(code.rawValue), but it succeeded")
    } catch let error as RegistryError {
        #expect(error.code == code, "\(error)")
        if let text { #expect(error.message.contains(text), "\(error.message)") }
        if let secret { #expect(!error.message.contains(secret)) }
    } catch {
        Issue.record("expected \(code.rawValue), got \(error)")
    }
}

/// A generous deadline: the suite starts dozens of servers and python generators at once on 2
/// cores, and a test double can be starved for seconds. Deadline behaviour is tested with explicit ones.
func soon(_ seconds: Double = 30) -> ContinuousClock.Instant { .now + .milliseconds(Int(seconds * 1000)) }

let notation = "application/vnd.cncf.notary.signature"
let sbomType = "application/spdx+json"

@Suite(.serialized) struct ORASStoreRegistryTests {
    @Test func resolvesTagsAndDigestsAgainstDistribution() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let image = try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("team/app", tag: "v1") }
        let store = makeStore()
        let reference = try ImageReference.parse("\(registry.host)/team/app:v1")
        let descriptor = try await store.resolveDescriptor(reference, deadline: soon())
        #expect(descriptor.digest.description == image.digest)
        #expect(descriptor.size == image.size)
        #expect(descriptor.mediaType == MediaType.ociManifest)
        let byDigest = try await store.resolveDescriptor(reference.pinned(to: descriptor.digest), deadline: soon())
        #expect(byDigest == descriptor)
        let missing = try ImageReference.parse("\(registry.host)/team/app:missing")
        await expectRegistryError(.notFound, containing: "manifest missing not found in \(registry.host)/team/app") {
            _ = try await store.resolveDescriptor(missing, deadline: soon())
        }
        registry.stop()
    }

    @Test func discoversReferrersThroughTheTagSchemaFallback() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let (image, signatures, sbom) = try await offPool { () -> (PushedContent, [PushedContent], PushedContent) in
            let image = try fixtures.pushImage("app", tag: "v1")
            let first = try fixtures.attach("app", to: image, artifactType: notation, layers: [(mediaType: "application/jose+json", bytes: Array("sig1".utf8))])
            let second = try fixtures.attach("app", to: image, artifactType: notation, layers: [(mediaType: "application/cose", bytes: Array("sig2".utf8))])
            let sbom = try fixtures.attach("app", to: image, artifactType: sbomType, layers: [(mediaType: sbomType, bytes: Array("{}".utf8))])
            return (image, [first, second], sbom)
        }
        let log = RequestLog()
        let store = makeStore(log: log)
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let all = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        #expect(Set(all.map(\.digest.description)) == Set(signatures.map(\.digest) + [sbom.digest]))
        // distribution 2.8 answers 404 on /referrers/: the fallback ran (alongside the probe, so
        // either may finish first), and is remembered.
        #expect(log.statuses.sorted() == [200, 404])
        let onlySignatures = try await store.referrerDescriptors(of: subject, artifactTypes: [notation], deadline: soon())
        #expect(onlySignatures.map(\.digest.description).sorted() == signatures.map(\.digest).sorted())
        #expect(onlySignatures.allSatisfy { $0.artifactType == notation })
        #expect(log.statuses.count == 3 && log.statuses.last == 200)
        // An image nobody signed has no referrers, which is an empty list, not an error.
        let lonely = try await offPool { try fixtures.pushImage("app", tag: "lonely") }
        #expect(try await store.referrerDescriptors(of: try ImageReference.parse("\(registry.host)/app@\(lonely.digest)"), artifactTypes: nil, deadline: soon()).isEmpty)
        registry.stop()
    }

    @Test func findsCosignSignatureTagsOnlyWhenEnabled() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let (image, signature) = try await offPool { () -> (PushedContent, PushedContent) in
            let image = try fixtures.pushImage("signed", tag: "v1")
            let signature = try fixtures.pushCosignSignatures("signed", for: image, layers: [
                (payload: Array(#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"\#(image.digest)"},"type":"cosign container image signature"},"optional":null}"#.utf8),
                 annotations: ["dev.cosignproject.cosign/signature": "MEUCIQ=="]),
            ])
            return (image, signature)
        }
        let subject = try ImageReference.parse("\(registry.host)/signed@\(image.digest)")
        let withCosign = try await makeStore(cosign: true).referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        #expect(withCosign.map(\.digest.description) == [signature.digest])
        #expect(withCosign.first?.artifactType == MediaType.cosignSignatureArtifact)
        #expect(try await makeStore(cosign: false).referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon()).isEmpty)
        // The signature is named as soon as it arrives (the caller starts checking it while the
        // tag-schema listing may still be on its way); a filter that leaves it out names nothing.
        let named = Mutex<[String]>([])
        let early: @Sendable (Descriptor) -> Void = { descriptor in named.withLock { $0.append(descriptor.digest.description) } }
        let listed = try await makeStore(cosign: true).referrers(of: subject, artifactTypes: nil, verifiable: nil, early: early, deadline: soon())
        #expect(listed.map(\.digest.description) == [signature.digest] && named.withLock { $0 } == [signature.digest])
        named.withLock { $0 = [] }
        _ = try await makeStore(cosign: true).referrers(of: subject, artifactTypes: [notation], verifiable: nil, early: early, deadline: soon())
        #expect(named.withLock { $0 }.isEmpty)
        // No configured verifier handles cosign signatures: the `.sig` tag is not asked for.
        let log = RequestLog()
        let notationOnly = makeStore(cosign: true, log: log)
        _ = try await notationOnly.referrers(of: subject, artifactTypes: nil, deadline: soon())  // learns: no referrers API
        log.reset()
        let other = try ImageReference.parse("\(registry.host)/signed@sha256:\(String(repeating: "0", count: 64))")
        #expect(try await notationOnly.referrers(of: other, artifactTypes: nil, verifiable: [notation], deadline: soon()).isEmpty)
        #expect(log.count == 1, "only the referrers tag (the API's 404 is fresh); no cosign tag lookup")
        log.reset()
        #expect(try await notationOnly.referrers(of: subject, artifactTypes: nil, verifiable: [MediaType.cosignSignatureArtifact, notation],
                                                 deadline: soon()).count == 1)
        #expect(try await notationOnly.referrers(of: subject, artifactTypes: nil, verifiable: nil, deadline: soon()).count == 1)
        registry.stop()
    }

    @Test func verificationPathCostsFourRequestsColdAndNoneWarm() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let (first, second) = try await offPool { () -> (PushedContent, PushedContent) in
            let a = try fixtures.pushImage("app", tag: "a")
            try fixtures.attach("app", to: a, artifactType: notation, layers: [(mediaType: "application/jose+json", bytes: Array("sig-a".utf8))])
            let b = try fixtures.pushImage("app", tag: "b")
            try fixtures.attach("app", to: b, artifactType: notation, layers: [(mediaType: "application/jose+json", bytes: Array("sig-b".utf8))])
            return (a, b)
        }
        let log = RequestLog()
        let store = makeStore(log: log)
        func verifyPath(_ tag: String) async throws -> Int {
            log.reset()
            let reference = try ImageReference.parse("\(registry.host)/app:\(tag)")
            let descriptor = try await store.resolve(reference, deadline: soon())
            let subject = reference.pinned(to: descriptor.digest)
            for signature in try await store.referrers(of: subject, artifactTypes: [notation], deadline: soon()) {
                let (manifest, _) = try await store.manifest(signature, in: subject, deadline: soon())
                for layer in manifest.layers { _ = try await store.blob(layer, in: subject, deadline: soon()) }
            }
            return log.count
        }
        // First subject on a registry: one extra request learns it has no referrers API.
        #expect(try await verifyPath("a") == 5)
        #expect(first.digest != second.digest)
        #expect(try await verifyPath("b") == 4)
        #expect(try await verifyPath("a") == 0)
        #expect(try await verifyPath("b") == 0)
        registry.stop()
    }

    @Test func refusesContentThatDoesNotMatchItsDigest() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let image = try await offPool { try fixtures.pushImage("app", tag: "v1") }
        let signature = try await offPool {
            try fixtures.attach("app", to: image, artifactType: notation, layers: [(mediaType: "application/jose+json", bytes: Array("genuine-signature".utf8))])
        }
        let store = makeStore()
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let descriptor = try #require(try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon()).first)
        #expect(descriptor.digest.description == signature.digest)
        let (manifest, _) = try await store.manifest(descriptor, in: subject, deadline: soon())
        let layer = try #require(manifest.layers.first)
        // Tamper with the stored bytes behind the registry's back (same length, different content).
        let dataFile = registry.blobDataPath(layer.digest.description)
        let original = try Data(contentsOf: dataFile)
        try Data("tampered-signatur".utf8).write(to: dataFile)
        await expectRegistryError(.digestMismatch, containing: "does not match its digest") {
            _ = try await store.blob(layer, in: subject, deadline: soon())
        }
        // The bad bytes were not cached: once the store is healthy again, the blob verifies.
        try original.write(to: dataFile)
        #expect(try await store.blob(layer, in: subject, deadline: soon()) == Array("genuine-signature".utf8))
        registry.stop()
    }

    @Test func enforcesSizeLimitsAndDeadlines() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let image = try await offPool { try fixtures.pushImage("app", tag: "v1") }
        try await offPool { try fixtures.attach("app", to: image, artifactType: notation,
                                                layers: [(mediaType: "application/jose+json", bytes: Array(repeating: 7, count: 5000))]) }
        let store = makeStore { $0.maxBlobBytes = 4096 }
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let signature = try #require(try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon()).first)
        let (manifest, _) = try await store.manifest(signature, in: subject, deadline: soon())
        await expectRegistryError(.tooLarge, containing: "the limit is 4096") {
            _ = try await store.blob(manifest.layers[0], in: subject, deadline: soon())
        }
        let tagged = try ImageReference.parse("\(registry.host)/app:v1")
        await expectRegistryError(.timeout) { _ = try await store.resolveDescriptor(tagged, deadline: .now - .seconds(1)) }
        registry.stop()
    }

    @Test func basicAuthWithDockerConfigCredentials() async throws {
        let registry = try await offPool { try LocalRegistry(auth: .basic(user: "alice", password: "s3cret")) }
        let image = try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("private/app", tag: "v1") }
        let reference = try ImageReference.parse("\(registry.host)/private/app:v1")
        let config = #"{"auths":{"\#(registry.host)":{"auth":"\#(Data("alice:s3cret".utf8).base64EncodedString())"}}}"#
        let credentials = try DockerConfigCredentials.parse(Array(config.utf8), source: "config.json")
        let log = RequestLog()
        let store = makeStore(credentials: credentials, log: log)
        #expect(try await store.resolveDescriptor(reference, deadline: soon()).digest.description == image.digest)
        #expect(log.statuses == [401, 200])
        // The authorization is reused: the next request goes straight through.
        _ = try await store.referrerDescriptors(of: reference.pinned(to: try Digest.parse(image.digest)), artifactTypes: nil, deadline: soon())
        #expect(!log.statuses.dropFirst(2).contains(401))
        let anonymous = makeStore()
        await expectRegistryError(.unauthorized, containing: "none are configured", excluding: "s3cret") {
            _ = try await anonymous.resolveDescriptor(reference, deadline: soon())
        }
        registry.stop()
    }

    @Test func bearerTokenFlowAgainstATokenService() async throws {
        let registry = try await offPool { try LocalRegistry(auth: .token(user: "bob", password: "pw")) }
        let image = try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("team/app", tag: "v1") }
        let requestsBefore = registry.tokenRequests.count
        let credentials = DockerConfigCredentials(entries: [registry.host: RegistryCredential(username: "bob", password: "pw")])
        let log = RequestLog()
        let store = makeStore(credentials: credentials, log: log)
        let reference = try ImageReference.parse("\(registry.host)/team/app:v1")
        #expect(try await store.resolveDescriptor(reference, deadline: soon()).digest.description == image.digest)
        let subject = reference.pinned(to: try Digest.parse(image.digest))
        _ = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        let tokenCalls = registry.tokenRequests.dropFirst(requestsBefore)
        #expect(tokenCalls.count == 1, "the token is cached for the repository")
        #expect(tokenCalls.first?.contains("scope=repository:team/app:pull") == true)
        #expect(tokenCalls.first?.contains("service=test-registry") == true)
        // An identity (refresh) token is exchanged in a POSTed form, never in the URL.
        let refreshing = makeStore(credentials: DockerConfigCredentials(entries: [registry.host: RegistryCredential(username: "00000000-0000-0000-0000-000000000000", password: "", identityToken: "pw")]))
        let before = registry.tokenRequests.count
        #expect(try await refreshing.resolveDescriptor(reference, deadline: soon()).digest.description == image.digest)
        let refreshCalls = registry.tokenRequests.dropFirst(before)
        #expect(refreshCalls.count == 1 && refreshCalls.first?.hasPrefix("POST /token grant_type=refresh_token scope=repository:team/app:pull content-type=application/x-www-form-urlencoded") == true,
                "\(Array(refreshCalls))")
        #expect(!refreshCalls.contains { $0.contains("pw") })
        // Wrong password: the token service refuses, and the error says so.
        let wrong = makeStore(credentials: DockerConfigCredentials(entries: [registry.host: RegistryCredential(username: "bob", password: "nope")]))
        await expectRegistryError(.unauthorized, containing: "token service 127.0.0.1", excluding: "nope") {
            _ = try await wrong.resolveDescriptor(reference, deadline: soon())
        }
        registry.stop()
    }
}
