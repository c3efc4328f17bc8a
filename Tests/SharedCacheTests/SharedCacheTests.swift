import Core
import Foundation
import JSON
import SharedCache
import Synchronization
import Testing
import TestSupport

// The shared cache against a live redis-server — three replicas sharing verdicts, forged and
// copied entries, Redis killed under load and coming back — is Tests/ha/test_ha.py (make test).
// Here: the sealing, the settings and the failure paths, without a server.

let secret = Array(repeating: UInt8(7), count: 32)

@Suite struct RedisSettingsTests {
    @Test func addressesAndKeysAreCheckedWhenTheyAreRead() throws {
        let plain = try RedisSettings.parse(address: "redis-master.gatekeeper-system:6380", key: secret)
        #expect(plain.host == "redis-master.gatekeeper-system" && plain.port == 6380 && plain.password == nil)
        let bare = try RedisSettings.parse(address: "redis", key: secret)
        #expect(bare.port == 6379)
        let url = try RedisSettings.parse(address: "redis://user:p%40ss@[::1]:7000/2", key: secret)
        #expect(url.host == "::1" && url.port == 7000 && url.username == "user" && url.password == "p@ss" && url.database == 2)
        let passwordOnly = try RedisSettings.parse(address: "redis://:s3cret@redis:6379", key: secret)
        #expect(passwordOnly.username == nil && passwordOnly.password == "s3cret")
        for bad in ["", "host:notaport", "host:0", "rediss://host:6379", "redis://host/x", "redis://user@host", "redis://u:%zz@host", "::1:6379"] {
            #expect(throws: SharedCacheError.self, "\(bad)") { try RedisSettings.parse(address: bad, key: secret) }
        }
        let short = #expect(throws: SharedCacheError.self) { try RedisSettings.parse(address: "redis:6379", key: Array(repeating: 1, count: 16)) }
        #expect(short?.message.contains("at least 32") == true)
    }
}

/// Whoever can write to Redis without the secret cannot make an entry we accept.
@Suite struct SealedEntryTests {
    let now: Int64 = 1_800_000_000_000
    let value = Array(#"{"isSuccess":true}"#.utf8)

    @Test func aSealedEntryOpensUnderItsKeyUntilItsExpiry() throws {
        let sealed = SealedEntry.seal(value, key: "k", expires: now + 10_000, secret: secret)
        let opened = try #require(SealedEntry.open(sealed, key: "k", secret: secret, now: now))
        #expect(opened.value == value && opened.remainingMilliseconds == 10_000)
        // Kept past its sealed expiry (a Redis TTL removed, an old copy written back): refused.
        #expect(SealedEntry.open(sealed, key: "k", secret: secret, now: now + 10_000) == nil)
    }

    @Test func plainCopiedOtherSecretAndAlteredEntriesAreRefused() {
        let sealed = SealedEntry.seal(value, key: "verdict:a", expires: now + 10_000, secret: secret)
        #expect(SealedEntry.open(value, key: "verdict:a", secret: secret, now: now) == nil, "plain bytes")
        #expect(SealedEntry.open(sealed, key: "verdict:b", secret: secret, now: now) == nil, "moved to another key")
        let other = SealedEntry.seal(value, key: "verdict:a", expires: now + 10_000, secret: Array(repeating: 9, count: 32))
        #expect(SealedEntry.open(other, key: "verdict:a", secret: secret, now: now) == nil, "another secret")
        for index in [0, 4, 20, sealed.count - 1] {
            var flipped = sealed
            flipped[index] ^= 0x01
            #expect(SealedEntry.open(flipped, key: "verdict:a", secret: secret, now: now) == nil, "byte \(index) altered")
        }
        var later = sealed  // the expiry pushed forward without the secret
        later[8] &+= 1
        #expect(SealedEntry.open(later, key: "verdict:a", secret: secret, now: now + 10_000) == nil)
        #expect(SealedEntry.open(Array(sealed.prefix(40)), key: "verdict:a", secret: secret, now: now) == nil, "truncated")
    }

    /// Even an entry sealed with the secret is not served as a pass when its own reports do not
    /// support it (a replica bug, or a leaked secret, must still not turn a failure into a pass).
    @Test func aPassContradictedByItsReportsIsRefused() {
        let subject = "registry.test/app@sha256:" + String(repeating: "ab", count: 32)
        let failing = VerifierReport(subject: subject, isSuccess: false, verifierName: "cosign", verifierType: "cosign", message: "bad")
        let contradiction = VerificationResult(subject: subject, isSuccess: true, reports: [failing])
        #expect(VerificationResult(sharedEncoding: contradiction.sharedEncoding(), policy: ConfigPolicy()) == nil)
        let passing = VerifierReport(subject: subject, isSuccess: true, verifierName: "cosign", verifierType: "cosign", message: "ok")
        let genuine = VerificationResult(subject: subject, isSuccess: true, reports: [passing])
        #expect(VerificationResult(sharedEncoding: genuine.sharedEncoding(), policy: ConfigPolicy()) == genuine)
        let denial = VerificationResult(subject: subject, isSuccess: false, reports: [failing])
        #expect(VerificationResult(sharedEncoding: denial.sharedEncoding(), policy: ConfigPolicy()) == denial)
        #expect(VerificationResult(sharedEncoding: Array("{}".utf8), policy: ConfigPolicy()) == nil)
    }
}

final class EventLog: Sendable {
    private let events = Mutex<[RedisSharedCache.Event]>([])
    func record(_ event: RedisSharedCache.Event) { events.withLock { $0.append(event) } }
    func count(_ event: RedisSharedCache.Event) -> Int { events.withLock { $0.filter { $0 == event }.count } }
}

@Suite struct UnreachableRedisTests {
    /// Nothing listens: a lookup is a miss at once (not an error, not a wait for the caller's
    /// deadline), Redis is then left alone, and a put is dropped.
    @Test func aRedisThatIsNotThereIsAMiss() async throws {
        let port = try freePort()
        var settings = try RedisSettings.parse(address: "127.0.0.1:\(port)", key: secret)
        settings.retryAfter = .seconds(30)
        let events = EventLog()
        let shared = RedisSharedCache(settings: settings) { event, _ in events.record(event) }
        let started = ContinuousClock.now
        #expect(await shared.get("k", deadline: .now + .seconds(60)) == nil)
        #expect(!shared.isAvailable)
        // Resting: the next lookup does not even try.
        #expect(await shared.get("k", deadline: .now + .seconds(60)) == nil)
        shared.put("k", [1], ttl: .seconds(10))
        #expect(ContinuousClock.now - started < .seconds(30), "did not wait for the caller's deadline")
        #expect(events.count(.unavailable) == 2 && events.count(.dropped) == 1)
    }
}
