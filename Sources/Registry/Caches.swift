import Foundation
import Synchronization

/// Least-recently-used cache bounded by the bytes it holds. For content-addressed data only
/// (manifests and blobs by digest): what it returns was digest-checked before it went in.
public final class ByteLRUCache: Sendable {
    private final class Node: @unchecked Sendable {
        let key: String
        let value: [UInt8]
        var newer: Node?
        weak var older: Node?
        init(key: String, value: [UInt8]) { self.key = key; self.value = value }
    }

    private struct State: @unchecked Sendable {
        var nodes: [String: Node] = [:]
        var newest: Node?
        var oldest: Node?
        var bytes = 0
    }

    public let capacityBytes: Int
    private let state = Mutex(State())

    public init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    public var totalBytes: Int { state.withLock { $0.bytes } }
    public var count: Int { state.withLock { $0.nodes.count } }

    public func get(_ key: String) -> [UInt8]? {
        state.withLock { s in
            guard let node = s.nodes[key] else { return nil }
            Self.unlink(node, &s)
            Self.pushNewest(node, &s)
            return node.value
        }
    }

    public func put(_ key: String, _ value: [UInt8]) {
        guard value.count <= capacityBytes else { return }
        state.withLock { s in
            if let existing = s.nodes.removeValue(forKey: key) {
                Self.unlink(existing, &s)
                s.bytes -= existing.value.count
            }
            let node = Node(key: key, value: value)
            s.nodes[key] = node
            Self.pushNewest(node, &s)
            s.bytes += value.count
            while s.bytes > capacityBytes, let victim = s.oldest {
                Self.unlink(victim, &s)
                s.nodes[victim.key] = nil
                s.bytes -= victim.value.count
            }
        }
    }

    private static func unlink(_ node: Node, _ s: inout State) {
        if let older = node.older { older.newer = node.newer } else { s.oldest = node.newer }
        if let newer = node.newer { newer.older = node.older } else { s.newest = node.older }
        node.newer = nil
        node.older = nil
    }

    private static func pushNewest(_ node: Node, _ s: inout State) {
        node.older = s.newest
        s.newest?.newer = node
        s.newest = node
        if s.oldest == nil { s.oldest = node }
    }
}

/// Values that go stale: tag → digest and referrer lists (Ratify's ORAS store `ttl`).
public final class TTLCache<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: (value: Value, expires: ContinuousClock.Instant)]>([:])
    public let ttl: Duration
    public let maxEntries: Int

    public init(ttl: Duration, maxEntries: Int = 10_000) {
        self.ttl = ttl
        self.maxEntries = maxEntries
    }

    public func get(_ key: String, now: ContinuousClock.Instant = .now) -> Value? {
        entries.withLock { all in
            guard let entry = all[key] else { return nil }
            if entry.expires <= now {
                all[key] = nil
                return nil
            }
            return entry.value
        }
    }

    public func put(_ key: String, _ value: Value, ttl: Duration? = nil, now: ContinuousClock.Instant = .now) {
        entries.withLock { all in
            if all.count >= maxEntries {
                all = all.filter { $0.value.expires > now }
                if all.count >= maxEntries { all.removeAll() }
            }
            all[key] = (value: value, expires: now + (ttl ?? self.ttl))
        }
    }
}

/// Runs identical concurrent requests once: callers asking for a key while its work is in
/// flight await the same result.
public final class Coalescer<Value: Sendable>: Sendable {
    private let inFlight = Mutex<[String: Task<Value, any Error>]>([:])

    public init() {}

    public func run(_ key: String, _ work: @escaping @Sendable () async throws(RegistryError) -> Value) async throws(RegistryError) -> Value {
        let task = inFlight.withLock { tasks in
            if let existing = tasks[key] { return existing }
            let task = Task<Value, any Error> { [weak self] in
                defer { self?.inFlight.withLock { $0[key] = nil } }
                return try await work()
            }
            tasks[key] = task
            return task
        }
        do {
            return try await task.value
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(.connection, "\(error)")
        }
    }
}
