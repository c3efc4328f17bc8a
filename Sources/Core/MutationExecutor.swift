/// Answers Gatekeeper's mutation call: each image pinned to the digest its tag resolves to now,
/// so the pod runs exactly what was verified.
public struct MutationExecutor: ProviderExecutor {
    public enum Format: String, Sendable {
        /// `registry/repo:tag@digest` — the tag stays for people reading the pod spec.
        case keepTag
        /// `registry/repo@digest` — Ratify's form.
        case stripTag
    }

    public let store: any ReferrerStore
    public let format: Format
    public let maxConcurrency: Int

    public init(store: any ReferrerStore, format: Format = .keepTag, maxConcurrency: Int = 16) {
        self.store = store
        self.format = format
        self.maxConcurrency = max(1, maxConcurrency)
    }

    public func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        await boundedMap(keys, concurrency: maxConcurrency) { key in await mutate(key, deadline: context.deadline) }
    }

    func mutate(_ key: String, deadline: ContinuousClock.Instant) async -> ProviderItem {
        let reference: ImageReference
        do {
            reference = try ImageReference.parse(key)
        } catch {
            return .failure(key, "failed to mutate image reference \(key): \(error)")
        }
        // Already pinned: unchanged, without a registry call.
        if reference.digest != nil { return ProviderItem(key: key, value: .string(key)) }
        do {
            let descriptor = try await store.resolve(reference, deadline: deadline)
            let pinned = format == .keepTag ? reference.pinned(to: descriptor.digest)
                : ImageReference(registry: reference.registry, repository: reference.repository, digest: descriptor.digest)
            return ProviderItem(key: key, value: .string(pinned.description))
        } catch {
            return .failure(key, "failed to mutate image reference \(key): \(error)")
        }
    }
}

/// Sends verify and mutate requests to different executors.
public struct RoutingExecutor: ProviderExecutor {
    public let verify: any ProviderExecutor
    public let mutate: any ProviderExecutor

    public init(verify: any ProviderExecutor, mutate: any ProviderExecutor) {
        self.verify = verify
        self.mutate = mutate
    }

    public func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        switch context.operation {
        case .verify: await verify.execute(keys, context: context)
        case .mutate: await mutate.execute(keys, context: context)
        }
    }

    public func answersByDeadline(_ operation: ProviderOperation) -> Bool {
        switch operation {
        case .verify: verify.answersByDeadline(operation)
        case .mutate: mutate.answersByDeadline(operation)
        }
    }

    public func cachedItems(_ keys: [String], context: ProviderContext) -> [ProviderItem]? {
        switch context.operation {
        case .verify: verify.cachedItems(keys, context: context)
        case .mutate: mutate.cachedItems(keys, context: context)
        }
    }

    public func preferredTaskExecutor(_ operation: ProviderOperation) -> (any TaskExecutor)? {
        switch operation {
        case .verify: verify.preferredTaskExecutor(operation)
        case .mutate: mutate.preferredTaskExecutor(operation)
        }
    }
}

/// Maps `items` concurrently, at most `concurrency` at a time, keeping input order.
public func boundedMap<T: Sendable, R: Sendable>(_ items: [T], concurrency: Int, _ transform: @escaping @Sendable (T) async -> R) async -> [R] {
    await withTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        for _ in 0..<min(concurrency, items.count) {
            let index = next
            group.addTask { (index, await transform(items[index])) }
            next += 1
        }
        while let (index, value) = await group.next() {
            results[index] = value
            if next < items.count {
                let index = next
                group.addTask { (index, await transform(items[index])) }
                next += 1
            }
        }
        return results.map { $0! }
    }
}
