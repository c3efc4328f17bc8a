import Foundation
import HTTPServer
import Synchronization
import Testing
import TestSupport
import TLS

/// Each connection limit of the server with a client that provokes it: a TLS handshake that never
/// comes, a keep-alive connection left idle, a response the client never reads, one connection
/// more than `maxConnections`. Each is closed (and reported) — not kept open.
@Suite struct ServerLimitTests {
    final class Events: Sendable {
        let list = Mutex<[String]>([])
        func record(_ event: HTTPServerEvent) {
            let text: String = switch event {
            case .timedOut(let stage): "timedOut \(stage)"
            case .connectionRefused(let reason): "refused \(reason)"
            case .handshakeFailed: "handshakeFailed"
            case .requestRejected: "rejected"
            }
            list.withLock { $0.append(text) }
        }
        func contains(_ text: String) -> Bool { list.withLock { $0.contains(text) } }
    }

    func start(tls: ReloadingTLSContext? = nil, mode: LoopMode = .ownThreads, _ configure: (inout HTTPServerConfiguration) -> Void) throws -> (HTTPServer, Events) {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, tls: tls)
        if mode == .hosted { configuration.loopHost = PollingHost().host }
        configure(&configuration)
        let events = Events()
        return (try HTTPServer(configuration: configuration, handler: EchoHandler(), onEvent: { events.record($0) }), events)
    }

    /// Polls (the server closes on its own loop) for up to 30 s — generous for a loaded 2-core
    /// machine; false if `condition` never held.
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<1200 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return condition()
    }

    @Test func aTLSHandshakeThatNeverComesIsClosed() async throws {
        // TestPKI.shared runs openssl once: off the cooperative pool, which other tests need.
        let pki = try await offPool { TestPKI.shared }
        let tls = try ReloadingTLSContext(configuration: TLSServerConfiguration(certificateChainFile: pki.path("server.crt"), privateKeyFile: pki.path("server.key")))
        // The handshake has its own, shorter, timeout (the read timeout is for a request).
        let (server, events) = try start(tls: tls) { $0.handshakeTimeout = .milliseconds(300); $0.readTimeout = .seconds(600) }
        let client = try RawClient(port: server.port, receiveTimeout: 10)
        let answer = try await offPool { client.receiveAll() }
        #expect(answer.isEmpty)
        #expect(events.contains("timedOut handshake"))
        #expect(await eventually { server.openConnections == 0 }, "the silent connection is closed")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: LoopMode.allCases) func anIdleKeepAliveConnectionIsClosed(mode: LoopMode) async throws {
        let (server, _) = try start(mode: mode) { $0.idleTimeout = .milliseconds(300) }
        let client = try RawClient(port: server.port, receiveTimeout: 10)
        try client.send("GET /x HTTP/1.1\r\n\r\n")
        let answer = try await offPool { client.receiveAll() }
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.hasSuffix("GET /x 0"), "\(answer)")
        #expect(await eventually { server.openConnections == 0 }, "closed after the idle timeout")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func aResponseTheClientNeverReadsTimesOut() async throws {
        let (server, events) = try start { $0.writeTimeout = .milliseconds(300) }
        let client = try RawClient(port: server.port, receiveTimeout: 10)
        // 64 MiB never read: the socket buffers fill and the write stalls.
        try client.send("GET /big/67108864 HTTP/1.1\r\n\r\n")
        #expect(await eventually { events.contains("timedOut write") })
        #expect(await eventually { server.openConnections == 0 }, "the stalled connection is closed")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Issue #16: once the read buffer was full of a request that was not complete (chunks with
    /// long extensions), reading stopped but the socket stayed readable: the connection pinned a
    /// core until the read timeout (408). Now it is refused with 413 at once.
    @Test func aRequestThatFillsTheBufferIsRefusedAtOnce() async throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 64 * 1024
        let (server, events) = try start { $0.limits = limits; $0.readTimeout = .seconds(60) }
        let client = try RawClient(port: server.port, receiveTimeout: 30)
        let chunk = "1;" + String(repeating: "x", count: 1000) + "\r\na\r\n"
        let answer = try await offPool { () -> String in
            try? client.send("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in 0..<500 { if (try? client.send(chunk)) == nil { break } }  // ~500 KB; the server stops reading at its cap
            return client.receiveAll()
        }
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(200))")
        #expect(events.contains("rejected") && !events.contains("timedOut read"))
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Both slots busy with a request each (nothing idle to close): the newcomer is refused.
    @Test func connectionsPastMaxConnectionsAreRefused() async throws {
        let (server, events) = try start { $0.maxConnections = 2; $0.eventLoops = 1 }
        let first = try RawClient(port: server.port, receiveTimeout: 30), second = try RawClient(port: server.port, receiveTimeout: 30)
        try first.send("GET /sleep/4000 HTTP/1.1\r\nConnection: close\r\n\r\n")
        try second.send("GET /sleep/4000 HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(await eventually { server.openConnections == 2 })
        try await Task.sleep(for: .milliseconds(200))  // both requests are being handled
        let third = try RawClient(port: server.port, receiveTimeout: 10)
        try? third.send("GET /third HTTP/1.1\r\n\r\n")
        let refused = try await offPool { third.receiveAll() }
        #expect(refused.isEmpty, "\(refused)")
        #expect(events.contains("refused more than 2 open connections, none idle"))
        #expect(server.wasSaturated(within: .seconds(60)), "readiness can report it")
        // The two admitted connections are still served.
        #expect(try await offPool { first.receiveAll() }.hasSuffix("GET /sleep/4000 0"))
        #expect(try await offPool { second.receiveAll() }.hasSuffix("GET /sleep/4000 0"))
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Issue #16: at the cap, idle keep-alive connections held every slot for 90 s and new
    /// clients (Gatekeeper) were refused. Now the longest-idle one is closed for the newcomer.
    @Test func atTheCapTheLongestIdleConnectionMakesRoom() async throws {
        let (server, events) = try start { $0.maxConnections = 3; $0.eventLoops = 1 }
        var clients: [RawClient] = []
        for name in ["a", "b", "c"] {
            let client = try RawClient(port: server.port, receiveTimeout: 10)
            try client.send("GET /\(name) HTTP/1.1\r\n\r\n")
            #expect(try await offPool { client.receiveResponses(1) }.first?.hasSuffix("GET /\(name) 0") == true)
            clients.append(client)
        }
        let idle = clients
        let newcomer = try RawClient(port: server.port, receiveTimeout: 10)
        try newcomer.send("GET /new HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(try await offPool { newcomer.receiveAll() }.hasSuffix("GET /new 0"), "the newcomer is served")
        #expect(try await offPool { idle[0].receiveAll() }.isEmpty, "the longest-idle connection was closed")
        #expect(events.contains("refused at 3 open connections: closed the longest-idle one"))
        try idle[2].send("GET /c2 HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(try await offPool { idle[2].receiveAll() }.hasSuffix("GET /c2 0"), "the others are still served")
        #expect(!server.wasSaturated(within: .seconds(60)))
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// One peer cannot take every slot.
    @Test func connectionsPerPeerAreBounded() async throws {
        let (server, events) = try start { $0.maxConnectionsPerPeer = 2; $0.eventLoops = 1 }
        let first = try RawClient(port: server.port, receiveTimeout: 30), second = try RawClient(port: server.port, receiveTimeout: 30)
        #expect(await eventually { server.openConnections == 2 })
        let third = try RawClient(port: server.port, receiveTimeout: 10)
        try? third.send("GET /third HTTP/1.1\r\n\r\n")
        #expect(try await offPool { third.receiveAll() }.isEmpty)
        #expect(events.contains("refused 127.0.0.1 already holds 2 connections"))
        try first.send("GET /first HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(try await offPool { first.receiveAll() }.hasSuffix("GET /first 0"))
        #expect(await eventually { server.openConnections == 1 })
        let fourth = try RawClient(port: server.port, receiveTimeout: 10)
        try fourth.send("GET /fourth HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(try await offPool { fourth.receiveAll() }.hasSuffix("GET /fourth 0"), "a slot freed by the peer is its again")
        _ = second
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Issue #16: health checks queued behind CPU-heavy work on the shared pool. A handler's
    /// `respondOnLoop` answer is sent from the event loop: here the pool path never answers at
    /// all, and the request is still answered.
    struct PoolNeverAnswers: HTTPHandler {
        func handle(_ request: HTTPRequest) async -> HTTPResponse {
            try? await Task.sleep(for: .seconds(3600))
            return .text(.ok, "from the pool\n")
        }
        func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse? {
            var router = Router()
            router.addImmediate("GET", "/healthz") { _ in .text(.ok, "from the loop\n") }
            return router.respondOnLoop(&request)
        }
    }

    /// A route that prefers a task executor runs there from its first line (the verify route
    /// prefers the registry transport's I/O thread): no pool thread starts it.
    struct PreferringRouter: HTTPHandler {
        let router: Router
        init(_ executor: ThreadPerJobExecutor) {
            var router = Router()
            router.add("POST", "/preferring", executor: { executor }) { _ in .text(.ok, "on executor: \(executor.isCurrent)\n") }
            router.add("POST", "/pool") { _ in .text(.ok, "on executor: \(executor.isCurrent)\n") }
            self.router = router
        }
        func handle(_ request: HTTPRequest) async -> HTTPResponse { await router.handle(request) }
        func preferredExecutor(for request: HTTPRequest) -> (any TaskExecutor)? { router.preferredExecutor(for: request) }
    }

    @Test func aRouteThatPrefersAnExecutorRunsThere() async throws {
        let executor = ThreadPerJobExecutor()
        let server = try HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), handler: PreferringRouter(executor))
        for (path, expected) in [("/preferring", "on executor: true\n"), ("/pool", "on executor: false\n")] {
            let client = try RawClient(port: server.port, receiveTimeout: 10)
            try client.send("POST \(path) HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            let answer = try await offPool { client.receiveAll() }
            #expect(answer.hasSuffix(expected), "\(path): \(answer)")
        }
        #expect(executor.jobs > 0)
        await server.shutdown(gracePeriod: .milliseconds(100))
    }

    /// A route's `onLoop` answer, when it has one, is sent from the event loop (the pool path
    /// here never answers); when it has none, the request goes to the route as usual, with what
    /// `onLoop` prepared.
    struct CachedOnLoop: HTTPHandler {
        let router: Router
        init() {
            var router = Router()
            router.add("POST", "/verify", onLoop: { request in
                if request.body == Array("cached".utf8) { return .text(.ok, "from the loop\n") }
                request.prepared = "body read on the loop"
                return nil
            }) { request in
                if request.body == Array("never".utf8) { try? await Task.sleep(for: .seconds(3600)) }
                return .text(.ok, "from the route, \(request.prepared as? String ?? "nothing prepared")\n")
            }
            self.router = router
        }
        func handle(_ request: HTTPRequest) async -> HTTPResponse { await router.handle(request) }
        func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse? { router.respondOnLoop(&request) }
    }

    @Test func aRouteAnswersOnTheLoopWhenItCanAndOtherwiseAsUsual() async throws {
        let server = try HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), handler: CachedOnLoop())
        for (body, expected) in [("cached", "from the loop\n"), ("other", "from the route, body read on the loop\n")] {
            let client = try RawClient(port: server.port, receiveTimeout: 10)
            try client.send("POST /verify HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            let answer = try await offPool { client.receiveAll() }
            #expect(answer.hasSuffix(expected), "\(body): \(answer)")
        }
        await server.shutdown(gracePeriod: .milliseconds(100))
    }

    @Test(arguments: LoopMode.allCases) func immediateAnswersAreSentFromTheEventLoop(mode: LoopMode) async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        if mode == .hosted { configuration.loopHost = PollingHost().host }
        let server = try HTTPServer(configuration: configuration, handler: PoolNeverAnswers())
        let client = try RawClient(port: server.port, receiveTimeout: 10)
        try client.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(try await offPool { client.receiveAll() }.hasSuffix("from the loop\n"))
        await server.shutdown(gracePeriod: .milliseconds(100))
    }
}
