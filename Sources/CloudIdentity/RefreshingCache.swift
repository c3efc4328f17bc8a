import Core
import Foundation
import HTTPClient
import Registry

/// A value that expires (an access token, registry credentials), with when it does.
public struct Expiring<Value: Sendable>: Sendable, CustomStringConvertible {
    public let value: Value
    /// Monotonic: wall-clock jumps do not move it.
    public let expiresAt: ContinuousClock.Instant
    public let obtainedAt: ContinuousClock.Instant

    public init(_ value: Value, lifetime: Duration, obtainedAt: ContinuousClock.Instant = .now) {
        self.value = value
        self.obtainedAt = obtainedAt
        self.expiresAt = obtainedAt + lifetime
    }

    var lifetime: Duration { expiresAt - obtainedAt }

    /// Never the value (a token): what it is and how long it lives.
    public var description: String { "expiring(\(Value.self), lifetime: \(lifetime))" }
    /// From here on a refresh starts in the background while this one is still served: the last
    /// fifth of its life, at most the last 5 minutes.
    var refreshFrom: ContinuousClock.Instant { expiresAt - min(.seconds(300), lifetime / 5) }
    /// Past here it is not handed out: the last tenth of its life, at most 30 s, so it never
    /// expires on its way to the registry.
    var usableUntil: ContinuousClock.Instant { expiresAt - min(.seconds(30), lifetime / 10) }
}

/// Values per key (a registry, a token scope), each fetched once and shared, refreshed before it
/// expires: one fetch at a time per key; while the current value is in its refresh window it is
/// still served and the refresh runs in the background; a caller waits for a fetch only when
/// nothing usable is cached, and no longer than its own deadline (the fetch goes on and serves
/// the next caller). A failed fetch is not cached: the next caller tries again.
public actor RefreshingCache<Key: Hashable & Sendable, Value: Sendable> {
    public typealias Fetch = @Sendable (Key) async throws(RegistryError) -> Expiring<Value>

    private let fetch: Fetch
    private let maxEntries: Int
    private var entries: [Key: Expiring<Value>] = [:]
    private var inFlight: [Key: Task<Expiring<Value>, any Error>] = [:]
    private var failures: [Key: (at: ContinuousClock.Instant, error: RegistryError)] = [:]
    /// Fetches started (tests and logs: how often the identity provider was asked).
    public private(set) var fetches = 0

    /// After a failed fetch, how long its error is answered before the provider is asked again.
    let retryAfterFailure: Duration

    public init(maxEntries: Int = 256, retryAfterFailure: Duration = .seconds(2), fetch: @escaping Fetch) {
        self.fetch = fetch
        self.maxEntries = maxEntries
        self.retryAfterFailure = retryAfterFailure
    }

    public func value(for key: Key, deadline: ContinuousClock.Instant) async throws(RegistryError) -> Value {
        let now = ContinuousClock.now
        let recentFailure = failures[key].flatMap { now - $0.at < retryAfterFailure ? $0.error : nil }
        if let current = entries[key], now < current.usableUntil {
            // In its refresh window: refreshed behind the caller — but not again right after a
            // failed refresh (an identity provider refusing fast must not get a call per request).
            if now >= current.refreshFrom, inFlight[key] == nil, recentFailure == nil { _ = start(key, background: true) }
            return current.value
        }
        if inFlight[key] == nil, let recentFailure { throw recentFailure }
        let task = inFlight[key] ?? start(key, background: false)
        return try await Self.wait(for: task, until: deadline, key: key).value
    }

    /// How long the cached value of `key` has left (nil: none cached).
    public func remaining(for key: Key) -> Duration? {
        entries[key].map { $0.expiresAt - .now }
    }

    /// Forgets a key's value (the registry refused it): the next caller fetches a fresh one.
    public func invalidate(_ key: Key) {
        entries[key] = nil
        failures[key] = nil
    }

    private func start(_ key: Key, background: Bool) -> Task<Expiring<Value>, any Error> {
        fetches += 1
        let fetch = self.fetch
        let task = Task<Expiring<Value>, any Error> {
            do throws(RegistryError) {
                let fresh = try await fetch(key)
                self.finished(key, .success(fresh))
                return fresh
            } catch {
                self.finished(key, .failure(error))
                throw error
            }
        }
        inFlight[key] = task
        return task
    }

    private func finished(_ key: Key, _ result: Result<Expiring<Value>, RegistryError>) {
        inFlight[key] = nil
        switch result {
        case .success(let fresh):
            if entries[key] == nil, entries.count >= maxEntries, let oldest = entries.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                entries[oldest] = nil
            }
            entries[key] = fresh
            failures[key] = nil
        case .failure(let error):
            if failures.count >= maxEntries { failures.removeAll() }
            failures[key] = (.now, error)
        }
    }

    /// The fetch's result, or a timeout at `deadline` — whichever comes first (Core's
    /// `withDeadline`: the caller is answered without waiting for the fetch, which goes on and
    /// serves the next caller).
    private static func wait(for task: Task<Expiring<Value>, any Error>, until deadline: ContinuousClock.Instant,
                             key: Key) async throws(RegistryError) -> Expiring<Value> {
        let outcome = await withDeadline(deadline - .now) { () -> Result<Expiring<Value>, RegistryError> in
            switch await task.result {
            case .success(let value): .success(value)
            case .failure(let error as RegistryError): .failure(error)
            case .failure(let error): .failure(RegistryError(.credentialProvider, "\(error)"))
            }
        }
        switch outcome {
        case .success(let value)?: return value
        case .failure(let error)?: throw error
        case nil: throw RegistryError(.timeout, "the credentials for \(key) did not arrive before the deadline (the request for them goes on)")
        }
    }
}

/// Reads a form or JSON answer's lifetime the way token endpoints state it, robust to clock skew:
/// a relative `expires_in` as is; an absolute expiry measured against the response's own `Date`
/// header (the server's clock) when there is one, else against ours. Never less than 10 s, so a
/// skewed or already-past expiry does not make every request fetch again.
public enum TokenLifetime {
    public static func relative(seconds: Double) -> Duration {
        .milliseconds(Int64(max(10, min(seconds, 366 * 86400)) * 1000))
    }

    public static func absolute(expiresAt: Date, serverDate: String?) -> Duration {
        // A Date header has whole seconds (truncated): up to one more may have passed.
        if let server = serverDate.flatMap(HTTPDate.parse) { return relative(seconds: expiresAt.timeIntervalSince(server) - 1) }
        return relative(seconds: expiresAt.timeIntervalSince(Date()))
    }
}
