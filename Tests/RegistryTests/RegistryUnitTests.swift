import Core
import Foundation
import JSON
@testable import Registry
import Testing

@Suite struct AuthChallengeTests {
    @Test func parsesBearerWithQuotedCommas() {
        let challenge = AuthChallenge.parse(#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#)
        #expect(challenge?.scheme == "bearer")
        #expect(challenge?.parameters == ["realm": "https://auth.example.com/token", "service": "registry.example.com",
                                          "scope": "repository:a/b:pull,push"])
    }

    @Test func parsesBasicAndEscapes() {
        #expect(AuthChallenge.parse(#"Basic realm="say \"hi\"""#) == AuthChallenge(scheme: "basic", parameters: ["realm": #"say "hi""#]))
        #expect(AuthChallenge.parse("") == nil)
    }
}

/// A plain-http token realm for an https registry would carry credentials in clear: refused.
@Suite struct TokenRealmTests {
    @Test func anHTTPRealmIsRefusedForAnHTTPSRegistry() {
        #expect(ORASStore.realmProblem(scheme: "http", realm: "http://auth.example/token", registry: "r.example", registryIsPlainHTTP: false)?
            .contains("credentials would travel in clear") == true)
        #expect(ORASStore.realmProblem(scheme: "https", realm: "https://auth.example/token", registry: "r.example", registryIsPlainHTTP: false) == nil)
        #expect(ORASStore.realmProblem(scheme: "http", realm: "http://127.0.0.1:5001/token", registry: "127.0.0.1:5000", registryIsPlainHTTP: true) == nil)
    }
}

@Suite struct DockerConfigTests {
    @Test func readsAuthUsernamePasswordAndIdentityTokens() async throws {
        let config = #"""
        {"auths":{
          "https://index.docker.io/v1/":{"auth":"\#(Data("hub:secret".utf8).base64EncodedString())"},
          "ghcr.io":{"username":"u","password":"p"},
          "myacr.azurecr.io":{"username":"00000000-0000-0000-0000-000000000000","identitytoken":"refresh"},
          "empty.io":{}
        }}
        """#
        let credentials = try DockerConfigCredentials.parse(Array(config.utf8), source: "config.json")
        #expect(try await credentials.credential(for: "docker.io", deadline: .now + .seconds(5)) == RegistryCredential(username: "hub", password: "secret"))
        #expect(try await credentials.credential(for: "ghcr.io", deadline: .now + .seconds(5))?.password == "p")
        #expect(try await credentials.credential(for: "myacr.azurecr.io", deadline: .now + .seconds(5))?.identityToken == "refresh")
        #expect(try await credentials.credential(for: "empty.io", deadline: .now + .seconds(5)) == nil)
        #expect("\(RegistryCredential(username: "u", password: "hunter2"))".contains("hunter2") == false)
    }

    @Test func acceptsLegacyDockercfgAndRejectsBadAuth() async throws {
        let legacy = try DockerConfigCredentials.parse(Array(#"{"quay.io":{"auth":"\#(Data("a:b".utf8).base64EncodedString())"}}"#.utf8), source: "s")
        #expect(try await legacy.credential(for: "quay.io", deadline: .now + .seconds(5))?.username == "a")
        #expect(throws: RegistryError.self) {
            try DockerConfigCredentials.parse(Array(#"{"auths":{"x.io":{"auth":"!!notbase64"}}}"#.utf8), source: "s")
        }
    }
}

@Suite struct CacheTests {
    @Test func lruEvictsLeastRecentlyUsedByBytes() {
        let cache = ByteLRUCache(capacityBytes: 10)
        cache.put("a", [1, 2, 3, 4])
        cache.put("b", [1, 2, 3, 4])
        _ = cache.get("a")
        cache.put("c", [1, 2, 3, 4])  // over 10 bytes: evicts b, the least recently used
        #expect(cache.get("a") != nil)
        #expect(cache.get("b") == nil)
        #expect(cache.get("c") != nil)
        #expect(cache.totalBytes == 8)
        cache.put("huge", Array(repeating: 0, count: 11))
        #expect(cache.get("huge") == nil)
    }

    @Test func ttlEntriesExpire() {
        let cache = TTLCache<Int>(ttl: .seconds(10))
        let start = ContinuousClock.now
        cache.put("k", 1, now: start)
        #expect(cache.get("k", now: start + .seconds(9)) == 1)
        #expect(cache.get("k", now: start + .seconds(10)) == nil)
        cache.put("short", 2, ttl: .seconds(1), now: start)
        #expect(cache.get("short", now: start + .seconds(2)) == nil)
    }

    /// Bounded by bytes as well as entries: past the byte bound, the entries closest to
    /// expiring go first, down to 90%; a value larger than the bound is not kept.
    @Test func ttlCachesAreBoundedByBytes() {
        let cache = TTLCache<[UInt8]>(ttl: .seconds(60), maxEntries: 100_000, maxBytes: 100_000) { $0.count }
        let start = ContinuousClock.now
        for i in 0..<200 { cache.put("k\(i)", Array(repeating: 0, count: 1_000), now: start + .milliseconds(i)) }
        #expect(cache.totalBytes <= 100_000, "\(cache.totalBytes) bytes held")
        #expect(cache.count < 100)
        #expect(cache.get("k199", now: start + .seconds(1)) != nil, "the newest survive")
        #expect(cache.get("k0", now: start + .seconds(1)) == nil, "the soonest to expire went")
        cache.put("huge", Array(repeating: 0, count: 200_000), now: start)
        #expect(cache.get("huge", now: start) == nil)
        cache.remove("k199")
        #expect(cache.get("k199", now: start + .seconds(1)) == nil)
    }

    /// Expired entries go without waiting for the cache to fill: after a burst, memory follows
    /// what is still live (10,000 stale entries must not linger until entry 10,001).
    @Test func expiredEntriesAreSweptBeforeTheCacheIsFull() {
        let cache = TTLCache<Int>(ttl: .seconds(10), maxEntries: 100_000)
        let start = ContinuousClock.now
        for i in 0..<5_000 { cache.put("burst-\(i)", i, now: start) }
        #expect(cache.count == 5_000)
        for i in 0..<TTLCache<Int>.sweepInterval { cache.put("later-\(i)", i, now: start + .seconds(11)) }
        #expect(cache.count <= TTLCache<Int>.sweepInterval, "\(cache.count) entries kept")
        #expect(cache.get("later-1", now: start + .seconds(12)) == 1)
    }

    @Test func coalescerRunsIdenticalWorkOnce() async throws {
        let coalescer = Coalescer<[UInt8], RegistryError>(wrap: { RegistryError(.connection, "\($0)") })
        let runs = Counter()
        let results = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await coalescer.run("k") { () throws(RegistryError) -> [UInt8] in
                        runs.increment()
                        try? await Task.sleep(for: .milliseconds(100))
                        return [42]
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 10 && results.allSatisfy { $0 == [42] })
        #expect(runs.value == 1)
    }

    /// Issue #16: work whose callers all gave up went on (7 s of CPU and 400 MB for a hostile
    /// registry's answer nobody waited for). One caller leaving keeps it for the other; the
    /// last one leaving cancels it.
    @Test func coalescedWorkIsCancelledWhenTheLastCallerLeaves() async throws {
        let coalescer = Coalescer<[UInt8], RegistryError>(wrap: { RegistryError(.connection, "\($0)") })
        let started = Counter(), cancelled = Counter()
        let work: @Sendable () async throws(RegistryError) -> [UInt8] = { () throws(RegistryError) -> [UInt8] in
            started.increment()
            try? await Task.sleep(for: .seconds(60))
            if Task.isCancelled { cancelled.increment() }
            return [1]
        }
        let first = Task { try await coalescer.run("k", work) }
        let second = Task { try await coalescer.run("k", work) }
        try await Task.sleep(for: .milliseconds(100))
        first.cancel()
        try await Task.sleep(for: .milliseconds(100))
        #expect(cancelled.value == 0, "the second caller still waits")
        second.cancel()
        for _ in 0..<200 where cancelled.value == 0 { try await Task.sleep(for: .milliseconds(25)) }
        #expect(cancelled.value == 1 && started.value == 1)
        // The key is free again: a new caller starts new work.
        #expect(try await coalescer.run("k") { () throws(RegistryError) -> [UInt8] in [2] } == [2])
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

@Suite struct RetryAndLinkTests {
    @Test func retryAfterSecondsDateAndBackoff() {
        #expect(ORASStore.retryDelay(retryAfter: "3", attempt: 1) == .seconds(3))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(ORASStore.retryDelay(retryAfter: "Tue, 14 Nov 2023 22:13:22 GMT", attempt: 1, now: now) == .milliseconds(2000))
        for attempt in 1...6 {
            let delay = ORASStore.retryDelay(retryAfter: nil, attempt: attempt)
            #expect(delay >= .milliseconds(50) && delay <= .milliseconds(2000))
        }
    }

    @Test func followsNextLinks() {
        #expect(ORASStore.nextLink([#"</v2/a/b/referrers/sha256:abc?last=2&n=2>; rel="next""#]) == "referrers/sha256:abc?last=2&n=2")
        #expect(ORASStore.nextLink([#"</v2/a/referrers/x>; rel="prev""#]) == nil)
    }
}

@Suite struct StoreOptionsTests {
    @Test func readsRatifyOrasStoreConfig() throws {
        let value = try JSONParser.parse(#"{"name":"oras","useHttp":true,"cosignEnabled":true,"cacheEnabled":false,"ttl":30,"localCachePath":"/x","bogus":1}"#)
        let (options, warnings) = try ORASStoreOptions.parse(value, path: "store.plugins[0]")
        #expect(options.useHttp && options.cosignEnabled && !options.cacheEnabled)
        #expect(options.ttl == .seconds(30))
        #expect(warnings == ["store.plugins[0].bogus is not a known oras store setting and is ignored"])
    }

    @Test func wrongTypesNameTheirPath() {
        let value: JSONValue = ["useHttp": "yes"]
        do {
            _ = try ORASStoreOptions.parse(value, path: "store.plugins[1]")
            Issue.record("accepted a string for a boolean")
        } catch {
            #expect(error.message == "store.plugins[1].useHttp must be true or false")
        }
    }
}
