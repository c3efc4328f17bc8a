/// Turns a request into a response. Runs on Swift's cooperative pool, never on an event loop.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async -> HTTPResponse
}

/// Exact-path routing: the handful of endpoints we serve need nothing more.
public struct Router: HTTPHandler {
    public typealias Route = @Sendable (HTTPRequest) async -> HTTPResponse
    private var routes: [String: [String: Route]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ path: String, _ route: @escaping Route) {
        routes[path, default: [:]][method] = route
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
