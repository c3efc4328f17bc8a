import JSON

public enum ProviderOperation: String, Sendable {
    case verify, mutate
}

public struct ProviderContext: Sendable {
    public var requestID: String
    public var operation: ProviderOperation
    /// When the whole request must be answered; work that cannot finish by then fails.
    public var deadline: ContinuousClock.Instant

    public init(requestID: String, operation: ProviderOperation, deadline: ContinuousClock.Instant) {
        self.requestID = requestID
        self.operation = operation
        self.deadline = deadline
    }
}

/// Turns the keys of one ProviderRequest into items, one per key, in request order. The
/// verifier and store issues plug their executor in here; the HTTP layer knows only this.
public protocol ProviderExecutor: Sendable {
    func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem]
    /// True when `execute` for this operation always returns by `context.deadline`, answering
    /// late keys itself: the endpoint then runs it without a deadline task of its own (one task
    /// hop less per request). False unless an executor guarantees it.
    func answersByDeadline(_ operation: ProviderOperation) -> Bool
    /// Where requests of this operation prefer to run (nil: the cooperative pool). Requests
    /// answered from caches are cheap there too; work that is CPU-heavy moves off it itself.
    func preferredTaskExecutor(_ operation: ProviderOperation) -> (any TaskExecutor)?
    /// Every key's answer when each is already known (cached verdicts), computed at once without
    /// awaiting; nil when any key needs work. Lets the endpoint answer on the event loop.
    func cachedItems(_ keys: [String], context: ProviderContext) -> [ProviderItem]?
}

extension ProviderExecutor {
    public func answersByDeadline(_ operation: ProviderOperation) -> Bool { false }
    public func preferredTaskExecutor(_ operation: ProviderOperation) -> (any TaskExecutor)? { nil }
    public func cachedItems(_ keys: [String], context: ProviderContext) -> [ProviderItem]? { nil }
}

/// What serves before any verifier is configured: every key fails with a reason. It never
/// produces a value, so nothing reading our answer can mistake it for a verdict.
public struct UnconfiguredExecutor: ProviderExecutor {
    public static let errorCode = "EXECUTOR_NOT_CONFIGURED"
    public let reason: String

    public init(reason: String = "no verifier or referrer store is configured") {
        self.reason = reason
    }

    public func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        let operation = context.operation == .verify ? "verified" : "mutated"
        return keys.map {
            .failure($0, "\(Self.errorCode): \($0) was not \(operation): \(reason): configure verifiers and a store in the config file")
        }
    }
}

/// Ratify's multi-tenancy: a key `[namespace]image` is answered by that namespace's executor
/// (built from its Namespaced* resources) when it has one, else by the cluster's. Items keep
/// request order.
public struct NamespaceRoutingExecutor: ProviderExecutor {
    public let cluster: any ProviderExecutor
    public let namespaces: [String: any ProviderExecutor]

    public init(cluster: any ProviderExecutor, namespaces: [String: any ProviderExecutor]) {
        self.cluster = cluster
        self.namespaces = namespaces
    }

    public func answersByDeadline(_ operation: ProviderOperation) -> Bool {
        cluster.answersByDeadline(operation) && namespaces.values.allSatisfy { $0.answersByDeadline(operation) }
    }

    public func cachedItems(_ keys: [String], context: ProviderContext) -> [ProviderItem]? {
        var items: [ProviderItem] = []
        items.reserveCapacity(keys.count)
        for key in keys {
            let executor = ProviderKey(key).namespace.flatMap { namespaces[$0] } ?? cluster
            guard let answered = executor.cachedItems([key], context: context)?.first else { return nil }
            items.append(answered)
        }
        return items
    }

    /// The cluster's preference when every namespace shares it (they all use one transport).
    public func preferredTaskExecutor(_ operation: ProviderOperation) -> (any TaskExecutor)? {
        guard let preferred = cluster.preferredTaskExecutor(operation) else { return nil }
        return namespaces.values.allSatisfy({ $0.preferredTaskExecutor(operation) === preferred }) ? preferred : nil
    }

    public func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        var groups: [String?: [(index: Int, key: String)]] = [:]
        for (index, key) in keys.enumerated() {
            let namespace = ProviderKey(key).namespace.flatMap { namespaces[$0] == nil ? nil : $0 }
            groups[namespace, default: []].append((index, key))
        }
        var items = [ProviderItem?](repeating: nil, count: keys.count)
        await withTaskGroup(of: [(Int, ProviderItem)].self) { group in
            for (namespace, entries) in groups {
                let executor = namespace.flatMap { namespaces[$0] } ?? cluster
                group.addTask {
                    let answers = await executor.execute(entries.map(\.key), context: context)
                    return Array(zip(entries.map(\.index), answers))
                }
            }
            for await answered in group { for (index, item) in answered { items[index] = item } }
        }
        return items.enumerated().map { $0.element ?? .failure(keys[$0.offset], "no answer for this key") }
    }
}
