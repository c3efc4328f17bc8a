import Foundation
import HTTPServer
import Synchronization
import Testing
import TestSupport

@Suite struct HTTPServerLoopbackTests {
    @Test(arguments: LoopMode.allCases) func servesManyRequestsOnOneKeepAliveConnection(mode: LoopMode) async throws {
        let server = try startServer(mode: mode)
        let session = CurlSession()
        for i in 0..<5 {
            let response = try await offPool { try session.perform(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(server.port)/x", body: Array(repeating: 1, count: i))) }
            #expect(response.status == 200)
            #expect(response.bodyText == "POST /x \(i)")
        }
        #expect(server.openConnections == 1)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: LoopMode.allCases) func pipelinedRequestsAreAnsweredInOrder(mode: LoopMode) async throws {
        let server = try startServer(mode: mode)
        let client = try RawClient(port: server.port, receiveTimeout: 30)
        // The first request takes longest; its answer must still come first.
        try client.send("GET /sleep/100 HTTP/1.1\r\n\r\nGET /sleep/1 HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
        let responses = try await offPool { client.receiveResponses(3) }
        #expect(responses.count == 3)
        #expect(responses.map { $0.components(separatedBy: "\r\n\r\n").last! } == ["GET /sleep/100 0", "GET /sleep/1 0", "POST /b 2"])
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: LoopMode.allCases) func slowClientDoesNotBlockOthers(mode: LoopMode) async throws {
        let server = try startServer(mode: mode) { $0.eventLoops = 1; $0.readTimeout = .seconds(60) }
        let slow = try RawClient(port: server.port)
        try slow.send("POST /slow HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly part of the bo")
        let busy = CurlSession()
        let started = ContinuousClock.now
        for _ in 0..<20 {
            let response = try await offPool { try busy.perform(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/fast"), timeout: .seconds(20)) }
            #expect(response.status == 200)
        }
        // Not a latency bound (machines are noisy): well under the 60 s the slow client's request
        // may take, so nobody waited for it.
        #expect(ContinuousClock.now - started < .seconds(30))
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: LoopMode.allCases) func longHandlerDoesNotBlockOtherConnections(mode: LoopMode) async throws {
        let server = try startServer(mode: mode) { $0.eventLoops = 1 }
        let longDone = Mutex(false)
        let long = Task {
            let response = try await offPool { try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/sleep/4000")) }
            longDone.withLock { $0 = true }
            return response
        }
        try await Task.sleep(for: .milliseconds(50))
        let quick = try await offPool { try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/quick")) }
        #expect(quick.status == 200)
        // Answered while the long handler still holds its connection (an order, not a latency bound).
        #expect(longDone.withLock { !$0 })
        #expect(try await long.value.bodyText == "GET /sleep/4000 0")
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: LoopMode.allCases) func incompleteRequestTimesOutWith408(mode: LoopMode) async throws {
        let server = try startServer(mode: mode) { $0.readTimeout = .milliseconds(300) }
        let client = try RawClient(port: server.port, receiveTimeout: 30)
        try client.send("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        let answer = try await offPool { client.receiveAll() }
        #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(answer.contains("Connection: close"))
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func malformedRequestGets400AndServerKeepsServing() async throws {
        let server = try startServer()
        let bad = try RawClient(port: server.port, receiveTimeout: 30)
        try bad.send("GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        let answer = try await offPool { bad.receiveAll() }
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        let good = try await offPool { try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/ok")) }
        #expect(good.status == 200)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func answers100ContinueBeforeTheBody() async throws {
        let server = try startServer()
        let client = try RawClient(port: server.port, receiveTimeout: 30)
        try client.send("POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        // Read the interim response before sending the body, as a waiting client would.
        let interim = try await offPool { client.receive(until: "\r\n\r\n") }
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        try client.send("hello")
        let responses = try await offPool { client.receiveResponses(1) }
        #expect(responses.first?.hasPrefix("HTTP/1.1 200 OK") == true)
        #expect(responses.first?.hasSuffix("POST /c 5") == true)
        await server.shutdown(gracePeriod: .seconds(1))
    }

    /// Go's net/http rule: during shutdown a keep-alive connection between requests is closed at
    /// once (its client retries), but one that has not sent its first request yet may still send it
    /// for a short while — its request can already be on the wire, and clients do not retry a
    /// fresh connection. One that stays silent is closed after that grace, not the whole period.
    @Test func aFreshConnectionMaySendItsFirstRequestWhileShuttingDown() async throws {
        // 10 s of grace (2 s by default): the steps below can stall for seconds on a loaded machine.
        let server = try startServer { $0.drainGraceForNewConnections = .seconds(10) }
        let port = server.port
        let fresh = try RawClient(port: port, receiveTimeout: 30)
        let silent = try RawClient(port: port, receiveTimeout: 30)
        let served = CurlSession()
        _ = try await offPool { try served.perform(HTTPClientRequest(url: "http://127.0.0.1:\(port)/first")) }
        let accepted = ContinuousClock.now
        while server.openConnections < 3, ContinuousClock.now - accepted < .seconds(30) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.openConnections == 3)
        let shutdown = Task { await server.shutdown(gracePeriod: .seconds(60)) }
        // Draining has begun once the listener refuses connections.
        let draining = ContinuousClock.now
        while (try? RawClient(port: port)) != nil, ContinuousClock.now - draining < .seconds(30) {
            try await Task.sleep(for: .milliseconds(10))
        }
        try fresh.send("GET /late HTTP/1.1\r\n\r\n")
        let answer = try await offPool { fresh.receiveAll() }
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains("Connection: close"))
        #expect(answer.hasSuffix("GET /late 0"))
        // The silent one is closed by the server (end of stream), and shutdown completes.
        #expect(try await offPool { silent.receiveAll() } == "")
        await shutdown.value
        #expect(server.openConnections == 0)
    }

    @Test(arguments: LoopMode.allCases) func gracefulShutdownFinishesRequestsInFlight(mode: LoopMode) async throws {
        let sleepers = SleepersStarted()
        let server = try startServer(sleepers: sleepers, mode: mode)
        let port = server.port
        // 10 s in flight: still running when shutdown starts, even when a loaded 2-core machine
        // stalls the test for seconds.
        let inFlight = Task { try await offPool { try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(port)/sleep/10000"), timeout: .seconds(60)) } }
        // Wait until its handler runs: a connection accepted whose request has not been read yet is
        // idle, and graceful shutdown rightly closes idle connections (CI once raced exactly there).
        let waitStart = ContinuousClock.now
        while sleepers.count.load(ordering: .sequentiallyConsistent) == 0, ContinuousClock.now - waitStart < .seconds(30) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(sleepers.count.load(ordering: .sequentiallyConsistent) == 1)
        let idle = CurlSession()
        _ = try await offPool { try idle.perform(HTTPClientRequest(url: "http://127.0.0.1:\(port)/idle")) }
        #expect(server.openConnections == 2)
        await server.shutdown(gracePeriod: .seconds(30))
        let response = try await inFlight.value
        #expect(response.status == 200)
        #expect(response.bodyText == "GET /sleep/10000 0")
        #expect(response.header("Connection") == "close")
        #expect(server.openConnections == 0)
        // The listener is closed: new connections are refused.
        #expect(throws: HTTPClientError.self) {
            _ = try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(port)/after"), timeout: .seconds(1))
        }
    }

    /// A hosted loop's thread is the host's: the server starts none, the host turns the loop,
    /// and when the server shuts down the loop says so and the host's thread ends.
    @Test func aHostedLoopEndsWithItsServer() async throws {
        let host = PollingHost()
        let server = try startServer { $0.eventLoops = 2; $0.loopHost = host.host }
        #expect(host.running.load(ordering: .sequentiallyConsistent) == 2)
        let response = try await offPool { try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/x")) }
        #expect(response.bodyText == "GET /x 0")
        await server.shutdown(gracePeriod: .seconds(1))
        let start = ContinuousClock.now
        while host.running.load(ordering: .sequentiallyConsistent) > 0, ContinuousClock.now - start < .seconds(10) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(host.running.load(ordering: .sequentiallyConsistent) == 0)
    }
}
