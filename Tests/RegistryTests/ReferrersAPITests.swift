import Core
import HTTPClient
import Foundation
import HTTPServer
@testable import Registry
import Synchronization
import Testing
import TestSupport

/// Against the in-repo test registry that implements the referrers API (distribution 2.8 has none).
@Suite struct ReferrersAPITests {
    func setUp(pageSize: Int = 100) throws -> (ReferrersTestRegistry, OCIFixtures, PushedContent, [PushedContent]) {
        let registry = try ReferrersTestRegistry(pageSize: pageSize)
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: false)
        let image = try fixtures.pushImage("app", tag: "v1")
        var attached: [PushedContent] = []
        for i in 0..<5 {
            attached.append(try fixtures.attach("app", to: image, artifactType: i < 3 ? notation : sbomType,
                                                layers: [(mediaType: "application/octet-stream", bytes: Array("artifact-\(i)".utf8))]))
        }
        return (registry, fixtures, image, attached)
    }

    /// Issue #16: one repository's 404 on the referrers API disabled the API for the whole
    /// registry until restart, so a signature listed only through the API elsewhere was never
    /// found. Now the 404 is remembered per repository, and a tag schema that finds nothing
    /// sends the client back to the API.
    @Test func aReferrersAPI404IsRememberedPerRepositoryAndRetriedWhenTheTagSchemaIsEmpty() async throws {
        let (registry, fixtures, image, attached) = try setUp()
        let legacy = try fixtures.pushImage("legacy", tag: "v1")
        registry.referrersAPIMissing = ["legacy"]
        let store = makeStore()
        #expect(try await store.referrerDescriptors(of: try ImageReference.parse("\(registry.host)/legacy@\(legacy.digest)"), artifactTypes: nil, deadline: soon()).isEmpty)
        let found = try await store.referrerDescriptors(of: try ImageReference.parse("\(registry.host)/app@\(image.digest)"), artifactTypes: nil, deadline: soon())
        #expect(Set(found.map(\.digest.description)) == Set(attached.map(\.digest)), "another repository's 404 does not hide these")
        // A passing 404 in "app" itself: that listing comes back empty (fail closed), the next
        // one (past the recheck interval, zero here; 30 s by default) goes to the tag schema,
        // finds nothing there, and asks the API again.
        let other = try fixtures.pushImage("app", tag: "v2")
        let signature = try fixtures.attach("app", to: other, artifactType: notation, layers: [(mediaType: "application/octet-stream", bytes: Array("sig".utf8))])
        registry.injectFaults(status: 404, count: 1)
        let uncached = makeStore { $0.cacheEnabled = false; $0.referrersAPIRecheck = .zero }
        let subject = try ImageReference.parse("\(registry.host)/app@\(other.digest)")
        #expect(try await uncached.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon()).isEmpty)
        let again = try await uncached.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        #expect(again.map(\.digest.description) == [signature.digest])
        await registry.stop()
    }

    /// Only the first page says whether the API exists: a 404 on a later page is a broken
    /// listing, refused — not replaced by the tag schema, which could hide referrers.
    @Test func aLaterReferrersPageAnswering404IsAnError() async throws {
        let (registry, _, image, _) = try setUp(pageSize: 2)
        registry.laterReferrersPagesMissing = true
        let store = makeStore()
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        // (The tag schema may be read alongside the first probe of a repository; its answer is
        // not used once the API has answered.)
        await expectRegistryError(.notFound) {
            _ = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        }
        await registry.stop()
    }

    /// The referrers of one subject are bounded (all pages): past the bound the listing fails.
    @Test func referrerListsAreBounded() async throws {
        let (registry, _, image, _) = try setUp(pageSize: 2)
        let store = makeStore { $0.maxReferrers = 4 }
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        await expectRegistryError(.tooLarge, containing: "the limit is 4") {
            _ = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        }
        await registry.stop()
    }

    /// A request nobody waits for any more is abandoned at once (the transport drops it),
    /// not held until the registry answers.
    @Test func aCancelledRequestIsAbandoned() async throws {
        let registry = try ReferrersTestRegistry(delay: .seconds(40))
        let transport = CurlMultiTransport()
        let request = TransportRequest(url: "http://\(registry.host)/v2/", timeout: .seconds(60))
        let started = ContinuousClock.now
        let waiting = Task { () -> TransportError.Code? in
            do throws(TransportError) { _ = try await transport.send(request); return nil } catch { return error.code }
        }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        #expect(await waiting.value == .cancelled)
        #expect(ContinuousClock.now - started < .seconds(30), "did not wait for the registry's 40 s")
        await registry.stop()
    }

    /// Work that prefers the transport as its executor resumes on the transport's I/O thread
    /// when an answer arrives (no hop to the cooperative pool); other work does not.
    @Test func workPreferringTheTransportResumesOnItsThread() async throws {
        let registry = try ReferrersTestRegistry()
        let transport = CurlMultiTransport()
        let request = TransportRequest(url: "http://\(registry.host)/v2/", timeout: .seconds(30))
        let preferring = await withTaskExecutorPreference(transport) { () async -> (Int?, Bool) in
            let status = try? await transport.send(request).status
            return (status, transport.isLoopThread)
        }
        #expect(preferring.0 == 200 && preferring.1)
        let plain = await Task.detached { () async -> (Int?, Bool) in
            let status = try? await transport.send(request).status
            return (status, transport.isLoopThread)
        }.value
        #expect(plain.0 == 200 && !plain.1)
        await registry.stop()
    }

    /// An event loop the transport hosts runs on a lane of the transport's: the request is read,
    /// its task starts, its registry request goes out and is answered, and the response is
    /// written, all on that one thread.
    final class OneThreadHandler: HTTPHandler, Sendable {
        let transport: CurlMultiTransport
        let upstream: String
        let threads = Mutex<[String: UInt]>([:])

        init(transport: CurlMultiTransport, upstream: String) {
            self.transport = transport
            self.upstream = upstream
        }

        func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse? {
            threads.withLock { $0["loop"] = UInt(pthread_self()) }
            return nil
        }
        func preferredExecutor(for request: HTTPRequest) -> (any TaskExecutor)? { transport }
        func handle(_ request: HTTPRequest) async -> HTTPResponse {
            threads.withLock { $0["start"] = UInt(pthread_self()) }
            let status = try? await transport.send(TransportRequest(url: upstream, timeout: .seconds(30))).status
            threads.withLock { $0["answer"] = UInt(pthread_self()) }
            return .text(.ok, "\(status ?? 0) \(transport.isLoopThread)")
        }
    }

    @Test func aHostedLoopKeepsARequestAndItsRegistryRoundTripOnOneThread() async throws {
        let registry = try ReferrersTestRegistry()
        let transport = CurlMultiTransport()
        let handler = OneThreadHandler(transport: transport, upstream: "http://\(registry.host)/v2/")
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1)
        configuration.loopHost = { transport.host(HostedLoop(descriptor: $0.descriptor, name: $0.name, maxWaitMilliseconds: $0.maxWaitMilliseconds,
                                                             turn: $0.turn, hasPendingWork: $0.hasPendingWork)) }
        let server = try HTTPServer(configuration: configuration, handler: handler)
        let client = try RawClient(port: server.port, receiveTimeout: 30)
        try client.send("GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
        let answer = try await offPool { client.receiveAll() }
        #expect(answer.hasSuffix("200 true"), "\(answer)")
        let threads = handler.threads.withLock { $0 }
        #expect(threads.count == 3 && Set(threads.values).count == 1, "\(threads)")
        // Callers on no lane's thread are served by the first lane, before and after the hosted
        // loop has stopped.
        #expect(try await transport.send(TransportRequest(url: "http://\(registry.host)/v2/")).status == 200)
        await server.shutdown(gracePeriod: .seconds(1))
        #expect(try await transport.send(TransportRequest(url: "http://\(registry.host)/v2/")).status == 200)
        await registry.stop()
    }

    /// A connection the registry closes while it waits in curl's cache stays in the lane's epoll
    /// set, parked, until its end of file shows: the lane must drop it then, not wake on it again
    /// and again (a level-triggered event nobody consumes), and the next request reconnects.
    @Test func aConnectionClosedWhileIdleNeitherSpinsTheLaneNorFailsTheNextRequest() async throws {
        var router = Router()
        router.addImmediate("GET", "/v2/") { _ in .text(.ok, "{}") }
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1)
        configuration.idleTimeout = .milliseconds(100)
        let server = try HTTPServer(configuration: configuration, handler: router)
        let transport = CurlMultiTransport(name: "lane-park-test")
        let url = "http://127.0.0.1:\(server.port)/v2/"
        #expect(try await transport.send(TransportRequest(url: url)).status == 200)
        let before = try #require(Self.threadCPUSeconds(named: "lane-park-test"))
        // The server's sweep (every 250 ms) closes the connection after 100 ms idle.
        try await Task.sleep(for: .seconds(2))
        let spent = try #require(Self.threadCPUSeconds(named: "lane-park-test")) - before
        #expect(spent < 0.5, "the lane used \(spent) s of CPU in 2 s of waiting")
        #expect(try await transport.send(TransportRequest(url: url)).status == 200)
        await server.shutdown(gracePeriod: .milliseconds(100))
    }

    /// User plus system CPU of this process's thread called `name` (/proc/self/task/*/stat).
    static func threadCPUSeconds(named name: String) -> Double? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return nil }
        for task in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the name: state is the 3rd of the line, utime and stime the 14th and 15th.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        return nil
    }

    /// `isBusy` is what decides whether a request starts on the I/O thread and whether a
    /// verifier's checks stay there: a task running there does not count itself, but anyone
    /// else sees the running job, and an unanswered transfer makes it busy for everyone.
    @Test func busyMeansWorkBesidesTheCaller() async throws {
        let registry = try ReferrersTestRegistry(delay: .milliseconds(1500))
        let transport = CurlMultiTransport()
        #expect(!transport.isBusy)
        let seen = await withTaskExecutorPreference(transport) { () async -> (Bool, Bool, Bool) in
            let own = transport.isBusy
            let fromElsewhere = Mutex(false)
            let checked = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                fromElsewhere.withLock { $0 = transport.isBusy }
                checked.signal()
            }
            checked.wait()  // blocks the I/O thread on purpose: its job is running meanwhile
            return (transport.isLoopThread, own, fromElsewhere.withLock { $0 })
        }
        #expect(seen == (true, false, true))
        // A transfer whose caller has no answer yet: busy.
        let slow = Task { try? await transport.send(TransportRequest(url: "http://\(registry.host)/v2/", timeout: .seconds(30))) }
        var sawBusy = false
        var besidesOne = true
        for _ in 0..<100 where !sawBusy {
            sawBusy = transport.isBusy
            besidesOne = transport.isBusy(besides: 1)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(sawBusy)
        // ... unless that transfer is the caller's own (an early check beside its sibling request).
        #expect(!besidesOne)
        _ = await slow.value
        #expect(!transport.isBusy)
        await registry.stop()
    }

    @Test func followsLinkPaginationAcrossPages() async throws {
        let (registry, _, image, attached) = try setUp(pageSize: 2)
        let store = makeStore { $0.cacheEnabled = false }
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let found = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        #expect(Set(found.map(\.digest.description)) == Set(attached.map(\.digest)))
        #expect(registry.requests.filter { $0.contains("/referrers/") }.count == 3)
        // A repository not yet known to have the API has its tag schema read alongside the probe
        // (one round trip for registries without it); once the API has answered, it alone is asked.
        let before = registry.requests.count
        let again = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
        #expect(Set(again.map(\.digest.description)) == Set(attached.map(\.digest)))
        #expect(!registry.requests.dropFirst(before).contains { $0.contains("sha256-") }, "no tag-schema request once the API is known")
        #expect(registry.requests.dropFirst(before).filter { $0.contains("/referrers/") }.count == 3)
        await registry.stop()
    }

    @Test func passesTheArtifactTypeFilterToTheRegistry() async throws {
        let (registry, _, image, attached) = try setUp()
        let store = makeStore()
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let sboms = try await store.referrerDescriptors(of: subject, artifactTypes: [sbomType], deadline: soon())
        #expect(Set(sboms.map(\.digest.description)) == Set(attached.suffix(2).map(\.digest)))
        #expect(registry.requests.contains { $0.contains("artifactType=application%2Fspdx%2Bjson") })
        await registry.stop()
    }

    @Test func retriesRateLimitsWithinTheDeadline() async throws {
        let (registry, _, _, _) = try setUp()
        registry.injectFaults(status: 429, count: 1, retryAfter: "1")
        registry.injectFaults(status: 503, count: 1)
        let log = RequestLog()
        let store = makeStore(log: log)
        let started = ContinuousClock.now
        let descriptor = try await store.resolveDescriptor(try ImageReference.parse("\(registry.host)/app:v1"), deadline: soon(30))
        #expect(descriptor.mediaType == MediaType.ociManifest)
        #expect(log.statuses == [429, 503, 200])
        #expect(ContinuousClock.now - started >= .seconds(1), "Retry-After: 1 was honoured")
        await registry.stop()
    }

    /// A registry that keeps answering 429 is given up on after `maxAttempts` requests, with
    /// the reason, well before the deadline.
    @Test func aRegistryThatKeepsRateLimitingIsGivenUpOn() async throws {
        let (registry, _, _, _) = try setUp()
        registry.injectFaults(status: 429, count: 50, retryAfter: "0")
        let log = RequestLog()
        let store = makeStore(log: log)
        await expectRegistryError(.rateLimited, containing: "still rate-limits manifests/v1 after \(ORASStore.maxAttempts) attempts") {
            _ = try await store.resolveDescriptor(try ImageReference.parse("\(registry.host)/app:v1"), deadline: soon(30))
        }
        #expect(log.statuses == Array(repeating: 429, count: ORASStore.maxAttempts))
        await registry.stop()
    }

    /// Pagination is bounded: a referrers list longer than 50 pages is refused, not followed on.
    @Test func referrersPaginationStopsAtFiftyPages() async throws {
        let (registry, fixtures, image, _) = try setUp(pageSize: 1)
        for i in 5..<52 {
            _ = try fixtures.attach("app", to: image, artifactType: sbomType, layers: [(mediaType: "application/octet-stream", bytes: Array("artifact-\(i)".utf8))])
        }
        let store = makeStore()
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        await expectRegistryError(.invalidResponse, containing: "more than 50 pages") {
            _ = try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon(30))
        }
        #expect(registry.requests.filter { $0.contains("/referrers/") }.count == 50)
        await registry.stop()
    }

    /// Content whose digest matches but whose length is not the descriptor's is refused (a
    /// descriptor is digest and size together).
    @Test func contentOfAnotherSizeThanItsDescriptorIsRefused() async throws {
        let (registry, _, image, _) = try setUp()
        let store = makeStore()
        let reference = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let lying = Descriptor(mediaType: MediaType.ociManifest, digest: try Digest.parse(image.digest), size: image.size + 1)
        await expectRegistryError(.digestMismatch, containing: "its descriptor says \(image.size + 1)") {
            _ = try await store.manifest(lying, in: reference, deadline: soon())
        }
        await registry.stop()
    }

    /// As distribution does: blobs belong to their repository, an unknown repository is
    /// NAME_UNKNOWN and an unknown manifest MANIFEST_UNKNOWN — all "not found" to us.
    @Test func unknownNamesManifestsAndOtherRepositoriesBlobsAreNotFound() async throws {
        let (registry, _, image, _) = try setUp()
        let store = makeStore()
        let blob = try registry.pushBlob("app", Array("only in app".utf8))
        let descriptor = Descriptor(mediaType: "application/octet-stream", digest: try Digest.parse(blob.digest), size: blob.size)
        #expect(try await store.blob(descriptor, in: try ImageReference.parse("\(registry.host)/app@\(image.digest)"), deadline: soon()) == Array("only in app".utf8))
        await expectRegistryError(.notFound) {
            _ = try await store.blob(descriptor, in: try ImageReference.parse("\(registry.host)/other@\(image.digest)"), deadline: soon())
        }
        await expectRegistryError(.notFound) { _ = try await store.resolveDescriptor(try ImageReference.parse("\(registry.host)/nowhere:v1"), deadline: soon()) }
        await expectRegistryError(.notFound) { _ = try await store.resolveDescriptor(try ImageReference.parse("\(registry.host)/app:v404"), deadline: soon()) }
        await registry.stop()
    }

    /// "If the registry returns a 404 … the client MUST fallback to the tag schema": a 200 that is
    /// not an image index means the same (a registry front page answering every path).
    @Test func aReferrersAnswerThatIsNotAnIndexFallsBackToTheTagSchema() async throws {
        let registry = try ReferrersTestRegistry()
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let image = try fixtures.pushImage("app", tag: "v1")
        let attached = try fixtures.attach("app", to: image, artifactType: notation, layers: [(mediaType: "application/octet-stream", bytes: Array("sig".utf8))])
        registry.referrersAnswerNonIndex = true
        let found = try await makeStore().referrerDescriptors(of: try ImageReference.parse("\(registry.host)/app@\(image.digest)"), artifactTypes: nil, deadline: soon())
        #expect(found.map(\.digest.description) == [attached.digest])
        #expect(registry.requests.contains { $0.contains("/manifests/sha256-") }, "the tag schema was read")
        await registry.stop()
    }

    @Test func rateLimitBeyondTheDeadlineFailsAtOnce() async throws {
        let (registry, _, _, _) = try setUp()
        registry.injectFaults(status: 429, count: 1, retryAfter: "300")
        let store = makeStore()
        let started = ContinuousClock.now
        let reference = try ImageReference.parse("\(registry.host)/app:v1")
        await expectRegistryError(.rateLimited, containing: "past the request deadline") {
            _ = try await store.resolveDescriptor(reference, deadline: soon(60))
        }
        // Neither the 300 s Retry-After nor the 60 s deadline was waited for (not a latency bound).
        #expect(ContinuousClock.now - started < .seconds(30))
        await registry.stop()
    }

    @Test func resolveFallsBackToGETWithoutADigestHeader() async throws {
        let (registry, _, image, _) = try setUp()
        registry.omitDigestOnHead = true
        let store = makeStore()
        let descriptor = try await store.resolveDescriptor(try ImageReference.parse("\(registry.host)/app:v1"), deadline: soon())
        #expect(descriptor.digest.description == image.digest)
        #expect(descriptor.size == image.size)
        #expect(registry.requests.map { $0.components(separatedBy: " ")[0] } == ["HEAD", "GET"])
        // The manifest fetched to hash it is kept: reading it costs no further request.
        _ = try await store.manifest(descriptor, in: try ImageReference.parse("\(registry.host)/app@\(image.digest)"), deadline: soon())
        #expect(registry.requests.count == 2)
        await registry.stop()
    }

    @Test func coalescesConcurrentIdenticalRequests() async throws {
        let registry = try ReferrersTestRegistry(delay: .milliseconds(100))
        try OCIFixtures(pusher: registry, maintainTagSchema: false).pushImage("app", tag: "v1")
        let store = makeStore()
        let reference = try ImageReference.parse("\(registry.host)/app:v1")
        let digests = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await store.resolveDescriptor(reference, deadline: soon()).digest.description } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(digests.count == 1)
        #expect(registry.requests.filter { $0.hasPrefix("HEAD ") }.count == 1)
        await registry.stop()
    }

    @Test func corruptedBlobIsRefusedAndNotCached() async throws {
        let (registry, _, image, attached) = try setUp()
        let store = makeStore()
        let subject = try ImageReference.parse("\(registry.host)/app@\(image.digest)")
        let descriptor = try #require(try await store.referrerDescriptors(of: subject, artifactTypes: nil, deadline: soon())
            .first { $0.digest.description == attached[0].digest })
        let (manifest, _) = try await store.manifest(descriptor, in: subject, deadline: soon())
        registry.corruptBlob(manifest.layers[0].digest.description, with: Array("artifact-X".utf8))
        await expectRegistryError(.digestMismatch) { _ = try await store.blob(manifest.layers[0], in: subject, deadline: soon()) }
        await expectRegistryError(.digestMismatch) { _ = try await store.blob(manifest.layers[0], in: subject, deadline: soon()) }
        await registry.stop()
    }
}

@Suite struct MutationExecutorTests {
    @Test func pinsTagsToDigestsAndLeavesDigestsAlone() async throws {
        let registry = try ReferrersTestRegistry()
        let image = try OCIFixtures(pusher: registry, maintainTagSchema: false).pushImage("team/app", tag: "v1")
        let store = makeStore()
        let pinned = "\(registry.host)/team/app@\(image.digest)"
        let keys = ["\(registry.host)/team/app:v1", pinned, "\(registry.host)/team/app:nope", "Bad/Ref"]
        let context = ProviderContext(requestID: "r", operation: .mutate, deadline: soon())
        let items = await MutationExecutor(store: store).execute(keys, context: context)
        #expect(items.map(\.key) == keys)
        #expect(items[0].value == .string("\(registry.host)/team/app:v1@\(image.digest)"))
        #expect(items[1].value == .string(pinned))
        #expect(items[2].value == nil && items[2].error?.contains("REGISTRY_NOT_FOUND") == true)
        #expect(items[3].error?.contains("REPOSITORY_NAME_NOT_LOWERCASE") == true)
        let heads = registry.requests.filter { $0.hasPrefix("HEAD ") }
        #expect(heads.count == 2, "the pinned reference costs no registry call")
        let stripped = await MutationExecutor(store: store, format: .stripTag).execute([keys[0]], context: context)
        #expect(stripped[0].value == .string(pinned))
        await registry.stop()
    }
}
