import JSON
import Synchronization

/// The answer to one POST on a provider path: an outcome and a ProviderResponse body.
public struct ProviderAnswer: Sendable, Equatable {
    /// How the request as a whole went, and the HTTP status Ratify answers it with.
    public enum Outcome: Int, Sendable, Equatable {
        /// Items answered (each with its own value or error).
        case answered = 200
        /// The body is not a ProviderRequest.
        case malformedRequest = 400
        /// No answer in time, or an internal fault: a systemError, which Gatekeeper denies on.
        case failed = 500

        public var httpStatus: Int { rawValue }
        public var reasonPhrase: String {
            switch self {
            case .answered: "OK"
            case .malformedRequest: "Bad Request"
            case .failed: "Internal Server Error"
            }
        }
    }

    public var outcome: Outcome
    public var response: ProviderResponse

    public var body: [UInt8] { response.encoded() }
}

/// Decodes a ProviderRequest, runs the executor within the operation's deadline, and encodes
/// the ProviderResponse. Transport-free: the server hands it bytes and gets bytes back.
public struct ProviderEndpoint: Sendable {
    public let operation: ProviderOperation
    /// Ratify's `verificationRequestTimeout` (2900 ms) or `mutationRequestTimeout` (950 ms).
    public let timeout: Duration
    private let executor: @Sendable () -> any ProviderExecutor

    public init(operation: ProviderOperation, timeout: Duration, executor: @escaping @Sendable () -> any ProviderExecutor) {
        self.operation = operation
        self.timeout = timeout
        self.executor = executor
    }

    private var idempotent: Bool { operation == .mutate }

    public func answer(body: [UInt8], requestID: String) async -> ProviderAnswer {
        let request: ProviderRequest
        do {
            request = try ProviderRequest.decode(body)
        } catch {
            return ProviderAnswer(outcome: .malformedRequest, response: ProviderResponse(idempotent: idempotent, systemError: error.description))
        }
        let clock = ContinuousClock()
        let context = ProviderContext(requestID: requestID, operation: operation, deadline: clock.now + timeout)
        let executor = executor()
        let keys = request.keys
        guard let items = await withDeadline(timeout, { await executor.execute(keys, context: context) }) else {
            // Ratify answers a timed-out request with HTTP 500 and a systemError; Gatekeeper then
            // denies (fail closed) instead of admitting on silence.
            return ProviderAnswer(outcome: .failed, response: ProviderResponse(idempotent: idempotent,
                systemError: "operation timed out after \(timeout.milliseconds)ms: \(operation.rawValue) of \(keys.count) key(s) did not finish in time"))
        }
        guard items.count == keys.count, zip(items, keys).allSatisfy({ $0.key == $1 }) else {
            return ProviderAnswer(outcome: .failed, response: ProviderResponse(idempotent: idempotent,
                systemError: "internal error: executor answered \(items.count) item(s) for \(keys.count) key(s)"))
        }
        return ProviderAnswer(outcome: .answered, response: ProviderResponse(idempotent: idempotent, items: items))
    }
}

extension Duration {
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// Runs `work` and returns its result, or nil once `timeout` passes — without waiting for the
/// work to notice its cancellation (a task group would wait for it).
public func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
    await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
        let once = ResumeOnce(continuation)
        let worker = Task {
            let value = await work()
            once.resume(value)
        }
        let timer = DeadlineTimer.shared.schedule(after: timeout) {
            if once.resume(nil) { worker.cancel() }
        }
        once.onResume { DeadlineTimer.shared.cancel(timer) }
    }
}

/// Resumes a continuation exactly once, whichever of the racing tasks gets there first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T?, Never>?
        var onResume: (@Sendable () -> Void)?
    }
    private let state: Mutex<State>

    init(_ continuation: CheckedContinuation<T?, Never>) {
        state = Mutex(State(continuation: continuation))
    }

    /// Runs `action` once the continuation is resumed (at once if it already was).
    func onResume(_ action: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s in
            if s.continuation == nil { return true }
            s.onResume = action
            return false
        }
        if runNow { action() }
    }

    @discardableResult
    func resume(_ value: T?) -> Bool {
        let taken = state.withLock { s in
            let c = s.continuation
            s.continuation = nil
            let action = s.onResume
            s.onResume = nil
            return (c, action)
        }
        guard let continuation = taken.0 else { return false }
        continuation.resume(returning: value)
        taken.1?()
        return true
    }
}
