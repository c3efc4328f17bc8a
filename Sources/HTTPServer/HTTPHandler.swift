/// Turns a request into a response. Runs on Swift's cooperative pool, never on an event loop —
/// except `respondOnLoop`, for answers that need no work (health checks): those are answered on
/// the event loop itself, so a pool busy with verification cannot delay them.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async -> HTTPResponse
    /// A response computed at once, without blocking or awaiting, or nil for `handle`.
    func respondOnLoop(_ request: HTTPRequest) -> HTTPResponse?
}

extension HTTPHandler {
    public func respondOnLoop(_ request: HTTPRequest) -> HTTPResponse? { nil }
}

/// Exact-path routing: the handful of endpoints we serve need nothing more.
public struct Router: HTTPHandler {
    public typealias Route = @Sendable (HTTPRequest) async -> HTTPResponse
    public typealias ImmediateRoute = @Sendable (HTTPRequest) -> HTTPResponse
    private var routes: [String: [String: Route]] = [:]
    private var immediate: [String: [String: ImmediateRoute]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ path: String, _ route: @escaping Route) {
        routes[path, default: [:]][method] = route
    }

    /// A route answered on the event loop (`respondOnLoop`): it must be quick and never block.
    public mutating func addImmediate(_ method: String, _ path: String, _ route: @escaping ImmediateRoute) {
        immediate[path, default: [:]][method] = route
        routes[path, default: [:]][method] = { route($0) }
    }

    public func respondOnLoop(_ request: HTTPRequest) -> HTTPResponse? {
        guard let byMethod = immediate[String(request.path)] else { return nil }
        return (byMethod[request.method] ?? (request.method == "HEAD" ? byMethod["GET"] : nil))?(request)
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
