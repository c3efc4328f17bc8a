import Synchronization

/// The executor currently serving. A configuration change builds a new executor and swaps it in
/// whole; requests already running keep the one they started with.
public final class ExecutorHolder: Sendable {
    private let state: Mutex<(executor: any ProviderExecutor, generation: UInt64)>

    public init(_ executor: any ProviderExecutor) {
        state = Mutex((executor: executor, generation: 1))
    }

    public var current: any ProviderExecutor { state.withLock { $0.executor } }
    public var generation: UInt64 { state.withLock { $0.generation } }

    public func replace(with executor: any ProviderExecutor) {
        state.withLock { $0 = (executor: executor, generation: $0.generation + 1) }
    }
}
