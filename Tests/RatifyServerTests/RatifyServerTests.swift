import Configuration
import Core
import Foundation
import JSON
import Logging
import Observability
@testable import RatifyServer
import Testing
import TestSupport
import TLS

struct SlowExecutor: ProviderExecutor {
    func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        try? await Task.sleep(for: .seconds(60))
        return keys.map { ProviderItem(key: $0, value: "late") }
    }
}

@Suite struct RatifyServerTests {
    @Test func answersAProviderRequestOverMutualTLS() async throws {
        let running = try await RunningServer.start()
        let response = try await running.post(verifyPath, providerRequest(["busybox:1.36", "[team-a]ghcr.io/o/app@sha256:" + String(repeating: "a", count: 64)]))
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("X-Request-Id")?.isEmpty == false)
        let body = try running.json(response)
        #expect(body["apiVersion"] == "externaldata.gatekeeper.sh/v1beta1")
        #expect(body["kind"] == "ProviderResponse")
        let items = try #require(body["response"]?["items"]?.arrayValue)
        let tenantKey = "[team-a]ghcr.io/o/app@sha256:" + String(repeating: "a", count: 64)
        #expect(items.map { $0["key"]?.stringValue } == ["busybox:1.36", "busybox:1.36", tenantKey, tenantKey])
        // Not configured: per key the error, then a failing value (so templates that read only
        // responses deny too) — never a value that could read as a pass.
        #expect(items.enumerated().allSatisfy { index, item in
            index % 2 == 0 ? item["value"] == nil && item["error"]?.stringValue?.hasPrefix("EXECUTOR_NOT_CONFIGURED") == true
                           : item["error"] == nil && item["value"]?["isSuccess"] == false
        })
        #expect(body["response"]?["idempotent"] == nil)
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func badRequestsGetASystemErrorAndTheServerKeepsServing() async throws {
        let running = try await RunningServer.start { $0.maxRequestBodyBytes = 1024 }
        let cases: [(String, Int, String)] = [
            ("{not json", 400, "INVALID_REQUEST_JSON"),
            (#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse","request":{"keys":[]}}"#, 400, "INVALID_KIND"),
            (#"{"apiVersion":"v2","kind":"ProviderRequest","request":{"keys":[]}}"#, 400, "INVALID_API_VERSION"),
            (providerRequest([String(repeating: "x", count: 2000)]), 413, "413 Content Too Large"),
        ]
        for (body, status, prefix) in cases {
            let response = try await running.post(verifyPath, body)
            #expect(response.status == status, "\(body.prefix(40))")
            let systemError = try running.json(response)["response"]?["systemError"]?.stringValue
            #expect(systemError?.hasPrefix(prefix) == true, "\(systemError ?? "nil")")
            #expect(try await running.post(verifyPath, providerRequest(["ok"])).status == 200)
        }
        #expect(running.server.metrics.systemErrors.value() == 4)
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func truncatedRequestTimesOutWithASystemError() async throws {
        let running = try await RunningServer.start { $0.readTimeout = .milliseconds(300) }
        let port = running.server.providerPort
        let raw = try RawClient(port: port, tlsCAFile: running.pki.path("server-ca.crt"),
                                clientCertificate: (running.pki.path("gatekeeper.crt"), running.pki.path("gatekeeper.key")))
        try raw.send("POST \(verifyPath) HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"apiVersion\":")
        let answer = try await offPool { raw.receiveAll() }
        #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout"))
        #expect(answer.contains(#""systemError":"408 Request Timeout: request not received within"#))
        #expect(try await running.post(verifyPath, providerRequest(["ok"])).status == 200)
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func slowVerificationFailsClosedWithinTheTimeout() async throws {
        let running = try await RunningServer.start(executor: SlowExecutor()) { $0.verificationTimeout = .milliseconds(200) }
        let started = ContinuousClock.now
        let response = try await running.post(verifyPath, providerRequest(["img"]))
        // Not a latency bound (machines are noisy): the answer did not wait for the 60 s executor.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(response.status == 500)
        let body = try running.json(response)
        #expect(body["response"]?["items"] == nil)
        #expect(body["response"]?["systemError"]?.stringValue?.hasPrefix("operation timed out after 200ms") == true)
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    /// Issue #16: a reloaded `executor.verificationRequestTimeout` was logged as applied but the
    /// endpoint kept the deadline it started with. Now the next request uses the file's value.
    @Test func aReloadedRequestTimeoutAppliesToTheNextRequest() async throws {
        let running = try await RunningServer.start(executor: SlowExecutor())  // starts with a 20 s deadline
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-timeout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.json").path
        try "{}".write(toFile: path, atomically: true, encoding: .utf8)
        let reloader = ConfigReloader(path: path, holder: running.server.executor, logger: Logger(label: "t")) { _, _ in SlowExecutor() }
        try #"{"executor":{"verificationRequestTimeout":150,"mutationRequestTimeout":120}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.reloadIfChanged())
        #expect(running.server.executor.timeouts == RequestTimeouts(verification: .milliseconds(150), mutation: .milliseconds(120)))
        let verify = try running.json(try await running.post(verifyPath, providerRequest(["img"])))
        #expect(verify["response"]?["systemError"]?.stringValue?.hasPrefix("operation timed out after 150ms") == true, "\(verify)")
        let mutate = try running.json(try await running.post(mutatePath, providerRequest(["img"])))
        #expect(mutate["response"]?["systemError"]?.stringValue?.hasPrefix("operation timed out after 120ms") == true, "\(mutate)")
        // The key removed again: Ratify's defaults, not the last value.
        try #"{"executor":{}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.reloadIfChanged())
        #expect(running.server.executor.timeouts == RequestTimeouts(verification: .milliseconds(2900), mutation: .milliseconds(950)))
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func mutateIsIdempotent() async throws {
        let running = try await RunningServer.start()
        let body = try running.json(try await running.post(mutatePath, providerRequest(["busybox"])))
        #expect(body["response"]?["idempotent"] == true)
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func unknownPathsAndMethodsAreRefused() async throws {
        let running = try await RunningServer.start()
        #expect(try await running.post("/ratify/gatekeeper/v2/verify", "{}").status == 404)
        let url = "https://localhost:\(running.server.providerPort)\(verifyPath)"
        let client = running.client
        let get = try await offPool { try client.perform(HTTPClientRequest(url: url)) }
        #expect(get.status == 405)
        #expect(get.header("Allow") == "POST")
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func traceIDComesFromTheConfiguredHeader() async throws {
        let running = try await RunningServer.start(executor: SlowExecutor()) {
            $0.traceIDHeaders = ["X-Trace"]
            $0.verificationTimeout = .milliseconds(50)
        }
        let response = try await running.post(verifyPath, providerRequest(["img"]), headers: [(name: "X-Trace", value: "trace-123")])
        #expect(response.header("X-Request-Id") == "trace-123")
        #expect(running.logs.lines.contains { $0.contains("trace-id=trace-123") && $0.contains("level=error") })
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func healthAndReadiness() async throws {
        let running = try await RunningServer.start()
        let port = running.server.healthPort
        #expect(try await running.plainGet(port, "/healthz").status == 200)
        #expect(try await running.plainGet(port, "/readyz").status == 200)
        running.server.setConfigurationLoaded(false)
        let notReady = try await running.plainGet(port, "/readyz")
        #expect(notReady.status == 503)
        #expect(notReady.bodyText == "configuration not loaded\n")
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func metricsCountRequestsPerEndpoint() async throws {
        let running = try await RunningServer.start()
        _ = try await running.post(verifyPath, providerRequest(["a"]))
        _ = try await running.post(verifyPath, providerRequest(["b"]))
        _ = try await running.post(mutatePath, providerRequest(["c"]))
        _ = try await running.post(verifyPath, "{")
        let text = try await running.plainGet(try #require(running.server.metricsPort), "/metrics")
        #expect(text.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let body = text.bodyText
        #expect(body.contains("ratify_verification_request_count 3\n"))
        #expect(body.contains("ratify_mutation_request_count 1\n"))
        #expect(body.contains("ratify_system_error_count 1\n"))
        #expect(body.contains(#"ratify_http_requests_total{server="provider",path="/ratify/gatekeeper/v1/verify",code="200"} 2"#))
        #expect(body.contains(#"ratify_http_requests_total{server="provider",path="/ratify/gatekeeper/v1/verify",code="400"} 1"#))
        #expect(body.contains("process_resident_memory_bytes "))
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func refusesToStartWithUnusableTLSFiles() throws {
        var options = ServeOptions()
        options.httpAddress = ListenAddress(host: "127.0.0.1", port: 0)
        options.healthAddress = ListenAddress(host: "127.0.0.1", port: 0)
        options.metricsAddress = nil
        options.tls = .certificateDirectory("/nonexistent")
        do {
            _ = try RatifyServer(options: options, executor: ExecutorHolder(UnconfiguredExecutor()), logger: Logger(label: "t"))
            Issue.record("started without certificates")
        } catch {
            #expect(error.code == .tls)
            #expect(error.message.contains("/nonexistent/tls.crt"))
        }
    }
}

@Suite struct ServeConfigurationTests {
    @Test(arguments: [(":6001", "", 6001), ("127.0.0.1:0", "127.0.0.1", 0), ("[::1]:9099", "::1", 9099), ("8888", "", 8888)])
    func parsesGoListenAddresses(_ text: String, _ host: String, _ port: Int) throws {
        #expect(try ListenAddress(parsing: text) == ListenAddress(host: host, port: UInt16(port)))
    }

    @Test(arguments: ["", ":http", ":70000", "[::1]9099"])
    func rejectsBadListenAddresses(_ text: String) {
        #expect(throws: ServeError.self) { try ListenAddress(parsing: text) }
    }

}
