import Core
import Crypto
import Foundation
import JSON
import SharedCache
import Synchronization
import Testing
import TestSupport

/// Debian's `redis-server` on a free loopback port, no persistence; stopped (or restarted on the
/// same port) by the test.
final class LocalRedis: @unchecked Sendable {
    let port: UInt16
    let password: String?
    private var children = ChildProcesses()

    init(password: String? = nil) throws {
        self.password = password
        port = try freePort()
        try start()
    }

    func start() throws {
        children = ChildProcesses()
        var arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if let password { arguments += ["--requirepass", password] }
        try children.start("/usr/bin/redis-server", arguments)
        try waitForPort(port)
    }

    func stop() { children.stopAll() }

    /// redis-cli, for writing what an attacker with access to Redis would write.
    func cli(_ arguments: [String]) throws -> String {
        let auth = password.map { ["-a", $0, "--no-auth-warning"] } ?? []
        return try ProcessRunner.run("/usr/bin/redis-cli", ["-p", String(port)] + auth + arguments).output
    }
}

let secret = Array(repeating: UInt8(7), count: 32)

/// Generous timeouts: the suite runs on a loaded 2-core machine, and a Redis answer that comes
/// late counts as a miss (the behaviour under test is what is stored and refused, not speed).
func cache(_ redis: LocalRedis, key: [UInt8] = secret, events: EventLog? = nil, timeout: Duration = .seconds(3)) throws -> RedisSharedCache {
    var settings = try RedisSettings.parse(address: "127.0.0.1:\(redis.port)", key: key)
    settings.password = redis.password
    settings.retryAfter = .milliseconds(200)
    settings.commandTimeout = timeout
    settings.connectTimeout = timeout
    return RedisSharedCache(settings: settings) { event, _ in events?.record(event) }
}

final class EventLog: Sendable {
    private let events = Mutex<[RedisSharedCache.Event]>([])
    func record(_ event: RedisSharedCache.Event) { events.withLock { $0.append(event) } }
    func count(_ event: RedisSharedCache.Event) -> Int { events.withLock { $0.filter { $0 == event }.count } }
}

/// Waits until a background put has landed (puts are fire-and-forget).
func eventually(_ condition: () async -> Bool) async throws {
    for _ in 0..<500 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within 10 s")
}

@Suite(.serialized) struct RedisSharedCacheTests {
    @Test func addressesAndKeysAreCheckedWhenTheyAreRead() throws {
        let plain = try RedisSettings.parse(address: "redis-master.gatekeeper-system:6380", key: secret)
        #expect(plain.host == "redis-master.gatekeeper-system" && plain.port == 6380 && plain.password == nil)
        let bare = try RedisSettings.parse(address: "redis", key: secret)
        #expect(bare.port == 6379)
        let url = try RedisSettings.parse(address: "redis://user:p%40ss@[::1]:7000/2", key: secret)
        #expect(url.host == "::1" && url.port == 7000 && url.username == "user" && url.password == "p@ss" && url.database == 2)
        for bad in ["", "host:notaport", "host:0", "rediss://host:6379", "redis://host/x"] {
            #expect(throws: SharedCacheError.self, "\(bad)") { try RedisSettings.parse(address: bad, key: secret) }
        }
        let short = #expect(throws: SharedCacheError.self) { try RedisSettings.parse(address: "redis:6379", key: Array(repeating: 1, count: 16)) }
        #expect(short?.message.contains("at least 32") == true)
    }

    @Test func valuesRoundTripAndExpire() async throws {
        let redis = try await offPool { try LocalRedis(password: "hunter2") }
        defer { redis.stop() }
        let events = EventLog()
        let shared = try cache(redis, events: events)
        #expect(await shared.get("k", deadline: .now + .seconds(2)) == nil)
        shared.put("k", Array("value".utf8), ttl: .seconds(30))
        try await eventually { await shared.get("k", deadline: .now + .seconds(2))?.value == Array("value".utf8) }
        let entry = try #require(await shared.get("k", deadline: .now + .seconds(2)))
        #expect(entry.remaining > .seconds(25) && entry.remaining <= .seconds(30))
        shared.put("short", [1, 2, 3], ttl: .milliseconds(100))
        try await eventually { await shared.get("short", deadline: .now + .seconds(2)) != nil }
        try await Task.sleep(for: .milliseconds(250))
        #expect(await shared.get("short", deadline: .now + .seconds(2)) == nil)
        #expect(events.count(.hit) >= 2 && events.count(.stored) >= 2)
    }

    /// Whoever can write to Redis without the secret cannot make an entry we accept: not a value
    /// of their own, not another key's value copied over, not one sealed with another secret,
    /// not an expired one stored again without a TTL.
    @Test func entriesWithoutTheSecretAreRefused() async throws {
        let redis = try await offPool { try LocalRedis() }
        defer { redis.stop() }
        let events = EventLog()
        let shared = try cache(redis, events: events)
        shared.put("pass", Array(#"{"isSuccess":true}"#.utf8), ttl: .seconds(30))
        shared.put("short", Array("x".utf8), ttl: .seconds(3))
        try await eventually { await shared.get("pass", deadline: .now + .seconds(2)) != nil }
        // Plain bytes written by an attacker.
        _ = try await offPool { try redis.cli(["SET", "forged", #"{"isSuccess":true}"#]) }
        #expect(await shared.get("forged", deadline: .now + .seconds(2)) == nil)
        // A genuine entry copied to another key.
        _ = try await offPool { try redis.cli(["COPY", "pass", "copied"]) }
        #expect(await shared.get("copied", deadline: .now + .seconds(2)) == nil)
        // Sealed with another secret.
        let other = try cache(redis, key: Array(repeating: 9, count: 32))
        other.put("other", Array(#"{"isSuccess":true}"#.utf8), ttl: .seconds(30))
        try await eventually { await other.get("other", deadline: .now + .seconds(2)) != nil }
        #expect(await shared.get("other", deadline: .now + .seconds(2)) == nil)
        // An entry kept past its time (its Redis TTL removed): its sealed expiry still counts.
        try await eventually { await shared.get("short", deadline: .now + .seconds(2)) != nil }
        _ = try await offPool { try redis.cli(["PERSIST", "short"]) }
        try await Task.sleep(for: .milliseconds(3200))
        #expect(try await offPool { try redis.cli(["EXISTS", "short"]) }.contains("1"))
        #expect(await shared.get("short", deadline: .now + .seconds(2)) == nil)
        #expect(events.count(.rejected) == 3)
    }

    /// Redis down is a miss within the budget, not an error and not a wait; it is picked up
    /// again once it is back.
    @Test func anUnreachableRedisIsAMissAndItsReturnIsPickedUp() async throws {
        let redis = try await offPool { try LocalRedis() }
        let shared = try cache(redis, timeout: .milliseconds(300))
        shared.put("k", [1], ttl: .seconds(30))
        try await eventually { await shared.get("k", deadline: .now + .seconds(2)) != nil }
        redis.stop()
        let started = ContinuousClock.now
        #expect(await shared.get("k", deadline: .now + .seconds(2)) == nil)
        #expect(await shared.get("k", deadline: .now + .seconds(2)) == nil)
        // Not waiting for the caller's deadline: a refused connection is a miss at once.
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(!shared.isAvailable)
        try await offPool { try redis.start() }
        defer { redis.stop() }
        try await eventually {
            shared.put("back", [2], ttl: .seconds(30))
            return await shared.get("back", deadline: .now + .seconds(2))?.value == [2]
        }
        #expect(shared.isAvailable)
    }
}


/// Passes a referrer whose first layer says "valid" (the executor's behaviour is under test).
struct ContentVerifier: Verifier {
    var name = "content"
    var type = "content"
    var artifactTypes = ["application/vnd.cncf.notary.signature"]
    func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> VerifierReport {
        let ok: Bool
        do {
            let (manifest, _) = try await store.manifest(referrer, in: subject, deadline: deadline)
            guard let layer = manifest.layers.first else { throw SharedCacheError("no layer") }
            ok = try await store.blob(layer, in: subject, deadline: deadline) == Array("valid".utf8)
        } catch { ok = false }
        return VerifierReport(subject: subject.description, isSuccess: ok, verifierName: name, verifierType: type,
                              referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                              message: ok ? "ok" : "not valid", errorReason: ok ? nil : "INVALID", remediation: ok ? nil : "re-sign")
    }
}

/// Counts every store call.
final class CallCountingStore: ReferrerStore, Sendable {
    let inner: MemoryStore
    private let count = Mutex(0)
    init(_ inner: MemoryStore) { self.inner = inner }
    var calls: Int { count.withLock { $0 } }
    func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        count.withLock { $0 += 1 }
        return try await inner.resolve(reference, deadline: deadline)
    }
    func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        count.withLock { $0 += 1 }
        return try await inner.referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
    }
    func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        count.withLock { $0 += 1 }
        return try await inner.manifest(descriptor, in: repository, deadline: deadline)
    }
    func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        count.withLock { $0 += 1 }
        return try await inner.blob(descriptor, in: repository, deadline: deadline)
    }
}

@Suite(.serialized) struct SharedVerdictTests {
    func image(_ store: MemoryStore, tag: String, signature: String?) -> Descriptor {
        let subject = store.putManifest(Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"tag":"\#(tag)"}}"#.utf8),
                                        mediaType: MediaType.ociManifest, tag: tag)
        if let signature {
            let layer = store.putBlob(Array(signature.utf8))
            let manifest = store.putManifest(Array(JSONWriter.encodeString(["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
                "artifactType": "application/vnd.cncf.notary.signature", "config": store.putBlob(Array("{}".utf8), mediaType: MediaType.ociEmpty).json(),
                "layers": .array([layer.json()]), "subject": subject.json()]).utf8), mediaType: MediaType.ociManifest,
                artifactType: "application/vnd.cncf.notary.signature")
            store.addReferrer(manifest, to: subject.digest)
        }
        return subject
    }

    func replica(_ store: any ReferrerStore, _ shared: RedisSharedCache, configuration: String = "config-a") -> VerificationExecutor {
        var options = VerificationExecutor.Options()
        options.sharedConfiguration = configuration
        return VerificationExecutor(store: store, verifiers: [ContentVerifier()], policy: ConfigPolicy(), options: options, shared: shared)
    }

    /// Replica B answers what replica A verified without touching the registry; another
    /// configuration does not reuse it.
    @Test func aVerdictIsSharedBetweenReplicasOfOneConfiguration() async throws {
        let redis = try await offPool { try LocalRedis() }
        defer { redis.stop() }
        let memory = MemoryStore()
        let signed = image(memory, tag: "signed", signature: "valid")
        let key = "registry.test/app@\(signed.digest)"
        let (storeA, storeB, storeC) = (CallCountingStore(memory), CallCountingStore(memory), CallCountingStore(memory))
        let a = replica(storeA, try cache(redis)), b = replica(storeB, try cache(redis)), c = replica(storeC, try cache(redis), configuration: "config-b")
        #expect(try await a.verify(key: key, deadline: .now + .seconds(5)).isSuccess)
        #expect(storeA.calls > 0)
        try await eventually { (try? await offPool { try redis.cli(["DBSIZE"]) })?.contains("1") == true }
        let fromA = try await b.verify(key: key, deadline: .now + .seconds(5))
        #expect(fromA.isSuccess && fromA.reports.first?.verifierName == "content")
        #expect(storeB.calls == 0, "replica B made \(storeB.calls) store calls")
        #expect(try await c.verify(key: key, deadline: .now + .seconds(5)).isSuccess)
        #expect(storeC.calls > 0, "another configuration verifies for itself")
    }

    /// A pass written into Redis for an unsigned image — plain, sealed with another secret, or
    /// sealed properly but contradicted by its own reports — is never served.
    @Test func aForgedPassInRedisIsRejected() async throws {
        let redis = try await offPool { try LocalRedis() }
        defer { redis.stop() }
        let memory = MemoryStore()
        let unsigned = image(memory, tag: "unsigned", signature: nil)
        let key = "registry.test/app@\(unsigned.digest)"
        let sharedKey = SharedKey.verdict(configuration: "config-a", subject: "registry.test/app@\(unsigned.digest)")
        let pass = VerificationResult(subject: key, isSuccess: true, reports: [
            VerifierReport(subject: key, isSuccess: true, verifierName: "content", verifierType: "content", message: "ok")])
        _ = try await offPool { try redis.cli(["SET", sharedKey, String(decoding: pass.sharedEncoding(), as: UTF8.self)]) }
        let events = EventLog()
        let store = CallCountingStore(memory)
        #expect(try await !replica(store, try cache(redis, events: events)).verify(key: key, deadline: .now + .seconds(5)).isSuccess)
        #expect(events.count(.rejected) == 1 && store.calls > 0)

        let attacker = try cache(redis, key: Array(repeating: 1, count: 32))
        attacker.put(sharedKey, pass.sharedEncoding(), ttl: .seconds(30))
        try await eventually { await attacker.get(sharedKey, deadline: .now + .seconds(2)) != nil }
        #expect(try await !replica(CallCountingStore(memory), try cache(redis)).verify(key: key, deadline: .now + .seconds(5)).isSuccess)

        // Sealed with the secret, but "isSuccess": true over failing reports: refused as well.
        let insider = try cache(redis)
        let contradiction = VerificationResult(subject: key, isSuccess: true, reports: [
            VerifierReport(subject: key, isSuccess: false, verifierName: "content", verifierType: "content", message: "not valid")])
        insider.put(sharedKey, contradiction.sharedEncoding(), ttl: .seconds(30))
        try await eventually { await insider.get(sharedKey, deadline: .now + .seconds(2))?.value == contradiction.sharedEncoding() }
        #expect(try await !replica(CallCountingStore(memory), try cache(redis)).verify(key: key, deadline: .now + .seconds(5)).isSuccess)
    }
}
