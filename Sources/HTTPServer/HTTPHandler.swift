/// Turns a request into a response. Runs on Swift's cooperative pool (or the task executor the
/// handler prefers for the request), never on an event loop — except `respondOnLoop`, for
/// answers that need no work (health checks): those are answered on the event loop itself, so a
/// pool busy with verification cannot delay them.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async -> HTTPResponse
    /// A response computed at once, without blocking or awaiting, or nil for `handle` (which
    /// then gets the request with what this set in its `prepared`).
    func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse?
    /// Where `handle` runs for this request (nil: the cooperative pool). A handler whose work
    /// waits on an I/O thread that is also a task executor runs there from the start: no pool
    /// thread is woken to begin the request or to hand its response back.
    func preferredExecutor(for request: HTTPRequest) -> (any TaskExecutor)?
}

extension HTTPHandler {
    public func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse? { nil }
    public func preferredExecutor(for request: HTTPRequest) -> (any TaskExecutor)? { nil }
}

/// Exact-path routing: the handful of endpoints we serve need nothing more.
public struct Router: HTTPHandler {
    public typealias Route = @Sendable (HTTPRequest) async -> HTTPResponse
    public typealias ImmediateRoute = @Sendable (HTTPRequest) -> HTTPResponse
    /// An answer on the event loop when one is ready at once (nil: the route's `handle`).
    public typealias OptionalImmediateRoute = @Sendable (inout HTTPRequest) -> HTTPResponse?
    public typealias ExecutorChoice = @Sendable () -> (any TaskExecutor)?
    private var routes: [String: [String: Route]] = [:]
    private var immediate: [String: [String: OptionalImmediateRoute]] = [:]
    private var executors: [String: [String: ExecutorChoice]] = [:]

    public init() {}

    /// `executor`: where the route prefers to run, asked per request (see `preferredExecutor`).
    /// `onLoop`: an answer given on the event loop when it is ready at once (a cached verdict):
    /// quick, never blocking; nil sends the request to `route` as usual.
    public mutating func add(_ method: String, _ path: String, executor: ExecutorChoice? = nil,
                             onLoop: OptionalImmediateRoute? = nil, _ route: @escaping Route) {
        routes[path, default: [:]][method] = route
        if let executor { executors[path, default: [:]][method] = executor }
        if let onLoop { immediate[path, default: [:]][method] = onLoop }
    }

    public func preferredExecutor(for request: HTTPRequest) -> (any TaskExecutor)? {
        executors[String(request.path)]?[request.method]?()
    }

    /// A route answered on the event loop (`respondOnLoop`): it must be quick and never block.
    public mutating func addImmediate(_ method: String, _ path: String, _ route: @escaping ImmediateRoute) {
        immediate[path, default: [:]][method] = { route($0) }
        routes[path, default: [:]][method] = { route($0) }
    }

    public func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse? {
        guard let byMethod = immediate[String(request.path)],
              let route = byMethod[request.method] ?? (request.method == "HEAD" ? byMethod["GET"] : nil) else { return nil }
        return route(&request)
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard let byMethod = routes[String(request.path)] else {
            return .text(.notFound, "404 page not found\n")
        }
        if let route = byMethod[request.method] { return await route(request) }
        if request.method == "HEAD", let get = byMethod["GET"] { return await get(request) }
        var response = HTTPResponse.text(.methodNotAllowed, "method \(request.method) not allowed\n")
        response.headers.add("Allow", byMethod.keys.sorted().joined(separator: ", "))
        return response
    }
}
