import Core
import Foundation
import HTTPClient
@testable import Registry
import Synchronization
import Testing

/// A registry without the referrers API, answering from a table by path, that records the order
/// in which requests were sent. Like the curl transport, it is the task executor its store's
/// tasks prefer: one thread runs their jobs in the order they were enqueued, so the order of the
/// requests is the order of the store's code, not a race between pool threads.
final class ScriptedRegistry: HTTPTransport, TaskExecutor, @unchecked Sendable {
    private let answers: [String: (status: Int, body: [UInt8])]
    /// Paths answered only when the request is cancelled (a registry that hangs).
    private let hanging: Set<String>
    private let sent = Mutex<[String]>([])
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init(_ answers: [String: (status: Int, body: [UInt8])], hanging: Set<String> = []) {
        self.answers = answers
        self.hanging = hanging
        // The thread keeps its registry for the life of the test process (a few idle threads).
        let thread = Thread { [self] in
            while true {
                condition.lock()
                while jobs.isEmpty { condition.wait() }
                let job = jobs.removeFirst()
                condition.unlock()
                job.runSynchronously(on: asUnownedTaskExecutor())
            }
        }
        thread.start()
    }

    var paths: [String] { sent.withLock { $0 } }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func send(_ request: TransportRequest) async throws(TransportError) -> TransportResponse {
        let path = request.url.components(separatedBy: "/v2/team/app/").last ?? request.url
        sent.withLock { $0.append(path) }
        if hanging.contains(where: { path.hasSuffix($0) }) {
            try? await Task.sleep(for: .seconds(30))
            throw TransportError(.cancelled, "\(path) was abandoned")
        }
        let answer = answers.first { path.hasSuffix($0.key) }?.value ?? (status: 404, body: Array(#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#.utf8))
        var headers = [(name: "Content-Type", value: "application/json")]
        if answer.status == 200 {
            headers = [(name: "Content-Type", value: MediaType.ociManifest), (name: "Docker-Content-Digest", value: Digest.of(answer.body).description)]
        }
        return TransportResponse(status: answer.status, headers: headers, body: answer.body)
    }
}

@Suite struct CosignLookupTests {
    let digest = Digest.of(Array("image".utf8))
    var subject: ImageReference { ImageReference(registry: "registry.test", repository: "team/app", digest: digest) }
    var sigTag: String { "manifests/\(digest.referrersTag).sig" }
    var tagSchema: String { "manifests/\(digest.referrersTag)" }
    let signatureManifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.utf8)

    func store(_ registry: ScriptedRegistry) -> ORASStore {
        var options = ORASStoreOptions()
        options.cosignEnabled = true
        return ORASStore(options: options, transport: registry)
    }

    /// The `.sig` answer starts work (its signatures are checked as soon as it is named), so its
    /// request goes out before the referrers listing's, which usually only says "none".
    @Test func theSignatureTagIsAskedForBeforeTheListing() async throws {
        let registry = ScriptedRegistry([sigTag: (200, signatureManifest)])
        let found = try await store(registry).referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        #expect(found.map(\.artifactType) == [MediaType.cosignSignatureArtifact])
        #expect(registry.paths.first == sigTag, "\(registry.paths)")
        #expect(Set(registry.paths) == [sigTag, "referrers/\(digest)", tagSchema], "\(registry.paths)")
    }

    /// Which failure is reported does not depend on the order of the requests: the listing's
    /// first, then the signature tag's.
    @Test func aFailingListingIsReportedBeforeTheSignatureTag() async throws {
        let registry = ScriptedRegistry([sigTag: (500, []), tagSchema: (500, [])])
        await expectRegistryError(.unexpectedStatus, containing: "referrers tag") {
            _ = try await store(registry).referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        }
        let onlySignature = ScriptedRegistry([sigTag: (500, [])])
        await expectRegistryError(.unexpectedStatus, containing: "cosign signature tag") {
            _ = try await store(onlySignature).referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        }
    }

    /// The listing runs in a task of its own: cancelling the caller cancels it too, instead of
    /// leaving the caller waiting for a registry that does not answer.
    @Test func cancellingTheCallerCancelsTheListing() async throws {
        let registry = ScriptedRegistry([sigTag: (200, signatureManifest)], hanging: [tagSchema])
        let store = store(registry)
        let subject = subject
        let started = ContinuousClock.now
        let caller = Task { try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon(300)) }
        while registry.paths.count < 3 { try await Task.sleep(for: .milliseconds(5)) }
        caller.cancel()
        await #expect(throws: RegistryError.self) { _ = try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(15), "the caller waited for the hanging listing")
    }
}
