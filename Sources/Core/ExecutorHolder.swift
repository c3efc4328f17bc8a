import Synchronization

/// Request deadlines a configuration sets (`executor.verificationRequestTimeout`,
/// `mutationRequestTimeout`); nil: the server's own.
public struct RequestTimeouts: Sendable, Equatable {
    public var verification: Duration?
    public var mutation: Duration?
    public init(verification: Duration?, mutation: Duration?) {
        self.verification = verification
        self.mutation = mutation
    }
}

/// The executor currently serving, with the request deadlines of the configuration it was
/// built from. A configuration change builds a new executor and swaps both in whole; requests
/// already running keep the ones they started with.
public final class ExecutorHolder: Sendable {
    private struct State {
        var executor: any ProviderExecutor
        var generation: UInt64
        var timeouts: RequestTimeouts?
    }
    private let state: Mutex<State>

    public init(_ executor: any ProviderExecutor) {
        state = Mutex(State(executor: executor, generation: 1, timeouts: nil))
    }

    public var current: any ProviderExecutor { state.withLock { $0.executor } }
    public var generation: UInt64 { state.withLock { $0.generation } }
    /// Set by a reload; nil until then (the deadlines the server started with apply).
    public var timeouts: RequestTimeouts? { state.withLock { $0.timeouts } }

    /// `timeouts` nil keeps the current ones (a rebuild that does not reread them).
    public func replace(with executor: any ProviderExecutor, timeouts: RequestTimeouts? = nil) {
        state.withLock { $0 = State(executor: executor, generation: $0.generation + 1, timeouts: timeouts ?? $0.timeouts) }
    }
}
