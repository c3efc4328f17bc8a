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

