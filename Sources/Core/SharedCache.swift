/// A cache replicas share (Redis, for `provider.cache.type: redis|dapr`). It is an optimisation
/// and never an authority:
/// - every value it returns was written under the same key by a process holding the shared
///   secret (the implementation authenticates key, expiry and value), so a writable cache cannot
///   forge an entry;
/// - content-addressed values are re-checked against their digest by the caller as well;
/// - a slow or unreachable cache is a miss within `deadline`, never an error and never a wait
///   past it.
public protocol SharedCache: Sendable {
    /// The value and how long it has left to live, or nil (absent, expired, not authentic,
    /// unreachable, or not answered by `deadline`).
    func get(_ key: String, deadline: ContinuousClock.Instant) async -> (value: [UInt8], remaining: Duration)?
    /// Stores in the background; a put that cannot be made is dropped.
    func put(_ key: String, _ value: [UInt8], ttl: Duration)
    /// How long a lookup may take at most, whatever the caller's deadline: a shared cache that
    /// is slower than this is treated as absent (registries answer in a few milliseconds).
    var lookupBudget: Duration { get }
}

/// The namespaces of shared entries, so each kind of value has one key shape.
public enum SharedKey {
    /// A verdict: configuration fingerprint + subject (`name@digest`).
    public static func verdict(configuration: String, subject: String) -> String { "ratify:v1:verdict:\(configuration):\(subject)" }
    /// A store-level entry (resolved tag, referrer list, content): the store's fingerprint
    /// (its configuration, credentials included, so tenants do not read each other's), then what.
    public static func store(_ scope: String, _ what: String) -> String { "ratify:v1:store:\(scope):\(what)" }
}

