import CloudIdentity
import Foundation
import Registry
import Synchronization
import Testing

/// The credential cache every provider shares: one fetch at a time per key, background refresh
/// in the last part of a value's life, failures not cached, callers bounded by their deadline.
@Suite struct RefreshingCacheTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func next() -> Int { value.add(1, ordering: .sequentiallyConsistent).newValue }
        var count: Int { value.load(ordering: .sequentiallyConsistent) }
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .sequentiallyConsistent) }
        var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    }

    @Test func concurrentCallersShareOneFetch() async throws {
        let calls = Counter()
        let cache = RefreshingCache<String, Int> { _ throws(RegistryError) in
            try? await Task.sleep(for: .milliseconds(200))
            return Expiring(calls.next(), lifetime: .seconds(3600))
        }
        let values = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 { group.addTask { try await cache.value(for: "registry", deadline: .now + .seconds(30)) } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(values == Array(repeating: 1, count: 50))
        #expect(calls.count == 1)
        #expect(await cache.fetches == 1)
    }

    @Test func aValueInItsRefreshWindowIsServedWhileANewOneIsFetched() async throws {
        let calls = Counter()
        // 100 s lifetime: refreshed in the background from 80 s on, handed out until 90 s.
        // Obtained 81 s ago here, so it is in the window (with 9 s to spare on a loaded machine).
        let cache = RefreshingCache<String, Int> { _ throws(RegistryError) in
            let n = calls.next()
            return Expiring(n, lifetime: .seconds(100), obtainedAt: n == 1 ? .now - .seconds(81) : .now)
        }
        #expect(try await cache.value(for: "k", deadline: .now + .seconds(10)) == 1)
        // Still served (usable until 9 s), and a refresh starts behind it.
        #expect(try await cache.value(for: "k", deadline: .now + .seconds(10)) == 1)
        let start = ContinuousClock.now
        while calls.count < 2, ContinuousClock.now - start < .seconds(10) { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await cache.value(for: "k", deadline: .now + .seconds(10)) == 2)
        #expect(calls.count == 2)
    }

    @Test func aFailureIsAnsweredForAWhileWithoutAskingAgain() async throws {
        let calls = Counter()
        let cache = RefreshingCache<String, Int>(retryAfterFailure: .seconds(600)) { _ throws(RegistryError) in
            _ = calls.next()
            throw RegistryError(.credentialProvider, "identity endpoint down")
        }
        await #expect(throws: RegistryError.self) { try await cache.value(for: "k", deadline: .now + .seconds(10)) }
        await #expect(throws: RegistryError.self) { try await cache.value(for: "k", deadline: .now + .seconds(10)) }
        #expect(calls.count == 1, "the provider is not asked again right after it failed")
        await cache.invalidate("k")
        await #expect(throws: RegistryError.self) { try await cache.value(for: "k", deadline: .now + .seconds(10)) }
        #expect(calls.count == 2)
    }

    @Test func failuresAreNotKeptAndAbandonedCallersDoNotStopTheFetch() async throws {
        let calls = Counter()
        let release = Flag(), finished = Flag()
        let cache = RefreshingCache<String, Int>(retryAfterFailure: .zero) { _ throws(RegistryError) in
            let n = calls.next()
            if n == 1 { throw RegistryError(.credentialProvider, "identity endpoint down") }
            // Held until the test lets it go (at most 60 s).
            let start = ContinuousClock.now
            while !release.isSet, ContinuousClock.now - start < .seconds(60) {
                try? await Task.sleep(for: .milliseconds(10))
            }
            finished.set()
            return Expiring(n, lifetime: .seconds(3600))
        }
        await #expect(throws: RegistryError.self) { try await cache.value(for: "k", deadline: .now + .seconds(10)) }
        // The next caller asks again; one that cannot wait gets a timeout at its own deadline —
        // while the fetch is still held, not when it ends — and the fetch goes on.
        do {
            _ = try await cache.value(for: "k", deadline: .now + .milliseconds(50))
            Issue.record("a caller past its deadline must not get a value")
        } catch {
            #expect(error.code == .timeout)
        }
        #expect(!finished.isSet, "the caller was answered before the fetch ended")
        release.set()
        #expect(try await cache.value(for: "k", deadline: .now + .seconds(30)) == 2)
        #expect(calls.count == 2)
        await cache.invalidate("k")
        #expect(try await cache.value(for: "k", deadline: .now + .seconds(30)) == 3)
    }

    @Test func lifetimesAreMeasuredOnTheServicesClock() {
        // The service's Date says 10:00:00 and its token expires at 11:00:00: an hour, whatever our clock says.
        let expires = Date(timeIntervalSince1970: 1_767_265_200)  // 2026-01-01T11:00:00Z
        let lifetime = TokenLifetime.absolute(expiresAt: expires, serverDate: "Thu, 01 Jan 2026 10:00:00 GMT")
        #expect(lifetime <= .seconds(3600) && lifetime >= .seconds(3598))
        // Already past by our clock and no Date: the 10 s floor, not a negative lifetime.
        #expect(TokenLifetime.absolute(expiresAt: Date(timeIntervalSince1970: 0), serverDate: nil) == .seconds(10))
    }

    @Test func secretsStayOutOfDescriptions() {
        let aws = AWSCredentials(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG", sessionToken: "FwoGZXIvYXdzEJr")
        #expect(!"\(aws)".contains("wJalr") && !"\(aws)".contains("FwoGZ"))
        let credential = RegistryCredential(username: "00000000-0000-0000-0000-000000000000", password: "acr-refresh-secret", identityToken: "acr-refresh-secret")
        #expect(!"\(credential)".contains("acr-refresh-secret"))
    }

    @Test func awsApiOverrideReplacesTheECREndpointForItsRegion() throws {
        var environment = ["AWS_REGION": "us-west-2", "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/r", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t",
                           "AWS_API_OVERRIDE_ENDPOINT": "https://vpce.example", "AWS_API_OVERRIDE_PARTITION": "aws", "AWS_API_OVERRIDE_REGION": "us-west-2"]
        let identity = try AWSWebIdentity.fromEnvironment(environment)
        #expect(identity.ecrAPI(for: ECRRegistry.parse("123456789012.dkr.ecr.us-west-2.amazonaws.com")!) == "https://vpce.example")
        #expect(identity.ecrAPI(for: ECRRegistry.parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com")!) == "https://api.ecr.eu-west-1.amazonaws.com")
        environment["AWS_REGION"] = nil
        do {
            _ = try AWSWebIdentity.fromEnvironment(environment)
            Issue.record("IRSA without a region must be refused")
        } catch {
            #expect(error.message.contains("required environment variables not set"))
        }
    }
}
