import Synchronization

/// Values that go stale: tag → digest and referrer lists (Ratify's ORAS store `ttl`), results.
/// Bounded by entries and by (estimated) bytes: past either bound, expired entries go first,
/// then those closest to expiring, down to 90%.
public final class TTLCache<Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
        var cost: Int
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var putsSinceSweep = 0
    }
    private let state = Mutex(State())
    /// Expired entries are dropped every this many puts (amortised), not only when the cache is
    /// full: memory follows what is live, not the largest burst within `maxEntries`.
    public static var sweepInterval: Int { 1024 }
    public let ttl: Duration
    public let maxEntries: Int
    public let maxBytes: Int
    /// An estimate of a value's memory (bytes); the bound applies to the sum.
    private let cost: @Sendable (Value) -> Int

    public init(ttl: Duration, maxEntries: Int = 10_000, maxBytes: Int = .max, cost: @escaping @Sendable (Value) -> Int = { _ in 256 }) {
        self.ttl = ttl
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.cost = cost
    }

    public var count: Int { state.withLock { $0.entries.count } }
    public var totalBytes: Int { state.withLock { $0.bytes } }

    public func get(_ key: String, now: ContinuousClock.Instant = .now) -> Value? {
        state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            if entry.expires <= now {
                state.entries[key] = nil
                state.bytes -= entry.cost
                return nil
            }
            return entry.value
        }
    }

    public func put(_ key: String, _ value: Value, ttl: Duration? = nil, now: ContinuousClock.Instant = .now) {
        let size = cost(value) + key.utf8.count + 64
        guard size <= maxBytes else { return }
        state.withLock { state in
            if let old = state.entries.removeValue(forKey: key) { state.bytes -= old.cost }
            state.putsSinceSweep += 1
            if state.entries.count >= maxEntries || state.bytes + size > maxBytes || state.putsSinceSweep >= Self.sweepInterval {
                state.putsSinceSweep = 0
                Self.evict(&state, now: now, entries: maxEntries, bytes: maxBytes - size)
            }
            state.entries[key] = Entry(value: value, expires: now + (ttl ?? self.ttl), cost: size)
            state.bytes += size
        }
    }

    /// Expired entries; then, if still over `entries` - 1 or `bytes`, the soonest to expire
    /// until at 90% of both.
    private static func evict(_ state: inout State, now: ContinuousClock.Instant, entries: Int, bytes: Int) {
        state.entries = state.entries.filter { $0.value.expires > now }
        state.bytes = state.entries.values.reduce(0) { $0 + $1.cost }
        guard state.entries.count >= entries || state.bytes > bytes else { return }
        let entryTarget = entries * 9 / 10, byteTarget = bytes / 10 * 9
        for (key, entry) in state.entries.sorted(by: { $0.value.expires < $1.value.expires }) {
            guard state.entries.count > entryTarget || state.bytes > byteTarget else { break }
            state.entries[key] = nil
            state.bytes -= entry.cost
        }
    }

    public func remove(_ key: String) {
        state.withLock { state in
            if let old = state.entries.removeValue(forKey: key) { state.bytes -= old.cost }
        }
    }
}

/// Runs identical concurrent requests once: callers asking for a key while its work is in
/// flight await the same result. When every caller has gone (each was cancelled: its request's
/// deadline passed), the work is cancelled too — it must not go on using CPU, memory and the
/// registry for nobody.
public final class Coalescer<Value: Sendable, Failure: Error>: Sendable {
    private final class Entry: Sendable {
        let id: UInt64
        let task: Task<Value, any Error>
        init(id: UInt64, task: Task<Value, any Error>) {
            self.id = id
            self.task = task
        }
    }

    /// Entries and their waiter counts, under one lock: a caller joining and the last caller
    /// leaving cannot interleave (the leaver would cancel work the joiner waits for).
    private struct State {
        var entries: [String: Entry] = [:]
        var waiters: [UInt64: Int] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())
    /// How a failure that is not a `Failure` (a bug, not a verdict) is reported.
    private let wrap: @Sendable (any Error) -> Failure

    public init(wrap: @escaping @Sendable (any Error) -> Failure) { self.wrap = wrap }

    /// `executor`: where the work prefers to run (the caller's preference does not carry into
    /// the shared task by itself).
    public func run(_ key: String, executor: (any TaskExecutor)? = nil,
                    _ work: @escaping @Sendable () async throws(Failure) -> Value) async throws(Failure) -> Value {
        let entry = state.withLock { state in
            if let existing = state.entries[key] {
                state.waiters[existing.id, default: 0] += 1
                return existing
            }
            state.nextID += 1
            let id = state.nextID
            let entry = Entry(id: id, task: Task<Value, any Error>(executorPreference: executor) { [weak self] in
                // Only this run's entry: after a cancellation a newer run may hold the key.
                defer {
                    self?.state.withLock { state in
                        if state.entries[key]?.id == id { state.entries[key] = nil }
                        state.waiters[id] = nil
                    }
                }
                return try await work()
            })
            state.entries[key] = entry
            state.waiters[id] = 1
            return entry
        }
        do {
            return try await withTaskCancellationHandler {
                try await entry.task.value
            } onCancel: {
                let last = self.state.withLock { state -> Bool in
                    guard let count = state.waiters[entry.id] else { return false }
                    guard count <= 1 else {
                        state.waiters[entry.id] = count - 1
                        return false
                    }
                    // Nobody waits: stop the work, and let the next caller start afresh.
                    state.waiters[entry.id] = nil
                    if state.entries[key]?.id == entry.id { state.entries[key] = nil }
                    return true
                }
                if last { entry.task.cancel() }
            }
        } catch let error as Failure {
            throw error
        } catch {
            throw wrap(error)
        }
    }
}
