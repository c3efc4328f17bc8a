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
    /// Ratify's `verificationRequestTimeout` (2900 ms) or `mutationRequestTimeout` (950 ms):
    /// read per request, so a reloaded configuration's value applies to the next request.
    private let currentTimeout: @Sendable () -> Duration
    private let executor: @Sendable () -> any ProviderExecutor

    public var timeout: Duration { currentTimeout() }

    public init(operation: ProviderOperation, timeout: @autoclosure @escaping @Sendable () -> Duration,
                executor: @escaping @Sendable () -> any ProviderExecutor) {
        self.operation = operation
        self.currentTimeout = timeout
        self.executor = executor
    }

    private var idempotent: Bool { operation == .mutate }

    /// Requests larger than this are never answered on the event loop (decoding them there
    /// would hold up every other connection of the loop).
    public static let maxCachedAnswerBody = 16 * 1024

    /// What the event loop can do with a request body without awaiting (`answerFromCache`).
    public enum CacheLookup: Sendable, Equatable {
        /// Every key's verdict was cached: the answer.
        case answered(ProviderAnswer)
        /// Some key needs work: the decoded request, for `answer(_:requestID:)`.
        case needsWork(ProviderRequest)
        /// Large or malformed: for `answer(body:requestID:)`, which says what is wrong.
        case notOnLoop
    }

    /// The answer, when every key's verdict is already cached. Never awaits: for the event loop.
    public func answerFromCache(body: [UInt8], requestID: String) -> CacheLookup {
        guard body.count <= Self.maxCachedAnswerBody, let request = try? ProviderRequest.decode(body) else { return .notOnLoop }
        guard !request.keys.isEmpty else { return .needsWork(request) }
        let context = ProviderContext(requestID: requestID, operation: operation, deadline: ContinuousClock.now + timeout)
        guard let items = executor().cachedItems(request.keys, context: context), items.count == request.keys.count else { return .needsWork(request) }
        return .answered(ProviderAnswer(outcome: .answered, response: ProviderResponse(idempotent: idempotent, items: items)))
    }

    public func answer(body: [UInt8], requestID: String) async -> ProviderAnswer {
        let request: ProviderRequest
        do {
            request = try ProviderRequest.decode(body)
        } catch {
            return ProviderAnswer(outcome: .malformedRequest, response: ProviderResponse(idempotent: idempotent, systemError: error.description))
        }
        return await answer(request, requestID: requestID)
    }

    /// `answer(body:requestID:)` for a request already decoded.
    public func answer(_ request: ProviderRequest, requestID: String) async -> ProviderAnswer {
        let clock = ContinuousClock()
        let timeout = self.timeout
        let context = ProviderContext(requestID: requestID, operation: operation, deadline: clock.now + timeout)
        let executor = executor()
        let keys = request.keys
        // An executor that answers late keys itself by the deadline runs here directly; any other
        // is raced against the deadline.
        let raced: [ProviderItem]? = executor.answersByDeadline(operation)
            ? await executor.execute(keys, context: context)
            : await withDeadline(timeout, { await executor.execute(keys, context: context) })
        guard let items = raced else {
            // Ratify answers a timed-out request with HTTP 500 and a systemError; Gatekeeper then
            // denies (fail closed) instead of admitting on silence.
            return ProviderAnswer(outcome: .failed, response: ProviderResponse(idempotent: idempotent,
                systemError: "operation timed out after \(timeout.milliseconds)ms: \(operation.rawValue) of \(keys.count) key(s) did not finish in time"))
        }
        guard items.count == keys.count, zip(items, keys).allSatisfy({ $0.key == $1 }) else {
            return ProviderAnswer(outcome: .failed, response: ProviderResponse(idempotent: idempotent,
                systemError: "internal error: executor answered \(items.count) item(s) for \(keys.count) key(s)"))
        }
        let answered = operation == .verify ? Self.failClosed(items, traceID: requestID) : items
        return ProviderAnswer(outcome: .answered, response: ProviderResponse(idempotent: idempotent, items: answered))
    }

    /// A key that could not be verified (unknown tag, registry down, 429, timeout) is answered
    /// twice, in this order: Ratify's item `error`, then a `value` whose verdict is a failure.
    /// Gatekeeper puts an item with an error only in `errors` and drops its value, and Ratify
    /// 1.4's notation-validation (and notation-issuer-validation's `responses` rule) read only
    /// `responses` — so with the error alone they admit the image. The value, carrying the
    /// error's code and message as an executor report, makes every template deny; the error
    /// keeps templates that read `errors` working. The value comes last so that Gatekeeper's
    /// response cache, which keeps the last item of a key, replays a denial.
    static func failClosed(_ items: [ProviderItem], traceID: String) -> [ProviderItem] {
        items.flatMap { item -> [ProviderItem] in
            guard let error = item.error, !error.isEmpty, item.value == nil else { return [item] }
            let (code, message) = Self.split(error)
            let subject = ProviderKey(item.key).image
            let report = VerifierReport.executorFailure(subject: subject, errorReason: code, message: message,
                                                        remediation: "the image could not be verified, so it is denied; fix the cause and retry")
            let denial = VerificationResult(subject: subject, isSuccess: false, reports: [report])
            return [item, ProviderItem(key: item.key, value: denial.json(version: ConfigPolicy().resultVersion, traceID: traceID,
                                                                          timestamp: VerificationExecutor.timestamp()))]
        }
    }

    /// Ratify's error text `CODE: detail: remediation` → the code and the rest.
    static func split(_ error: String) -> (code: String, message: String) {
        guard let colon = error.firstIndex(of: ":") else { return ("VERIFY_FAILURE", error) }
        let code = error[..<colon]
        guard !code.isEmpty, code.allSatisfy({ $0.isUppercase || $0 == "_" || $0.isNumber }) else { return ("VERIFY_FAILURE", error) }
        return (String(code), error[error.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
}

extension Duration {
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// Runs `work` and returns its result, or nil once `timeout` passes — without waiting for the
/// work to notice its cancellation (a task group would wait for it). `executor`: where the work
/// prefers to run (an unstructured task does not inherit the caller's preference).
public func withDeadline<T: Sendable>(_ timeout: Duration, executor: (any TaskExecutor)? = nil,
                                      _ work: @escaping @Sendable () async -> T) async -> T? {
    await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
        let once = ResumeOnce(continuation)
        let worker = Task(executorPreference: executor) {
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
