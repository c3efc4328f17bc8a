import Core
import Foundation
import JSON
import Logging
import Observability
import RatifyServer
import TLS

/// A real server over loopback TLS with Gatekeeper-style mTLS, driven as Gatekeeper would drive it.
public final class RunningServer: @unchecked Sendable {
    public let pki: TestPKI
    public let server: RatifyServer
    public let client: CurlSession
    public let logs = LogSink.memory()

    /// Makes the shared test PKI off the cooperative pool first (openssl runs for seconds on a
    /// loaded machine; tests waiting for it on pool threads once starved every server in the run).
    public static func start(executor: any ProviderExecutor = UnconfiguredExecutor(), metrics: ServerMetrics = ServerMetrics(),
                             configure: (inout ServeOptions) -> Void = { _ in }) async throws -> RunningServer {
        _ = try await offPool { TestPKI.shared }
        return try RunningServer(executor: executor, metrics: metrics, configure: configure)
    }

    public init(executor: any ProviderExecutor = UnconfiguredExecutor(), metrics: ServerMetrics = ServerMetrics(),
         configure: (inout ServeOptions) -> Void = { _ in }) throws {
        pki = TestPKI.shared
        var options = ServeOptions()
        options.httpAddress = ListenAddress(host: "127.0.0.1", port: 0)
        options.healthAddress = ListenAddress(host: "127.0.0.1", port: 0)
        options.metricsAddress = ListenAddress(host: "127.0.0.1", port: 0)
        options.tls = TLSServerConfiguration(certificateChainFile: pki.path("server.crt"), privateKeyFile: pki.path("server.key"),
                                             clientCAFile: pki.path("gatekeeper-ca.crt"))
        // Generous request deadlines unless a test sets its own: the suite shares 2 cores with
        // dozens of servers and fixture generators, and a 950 ms mutation deadline is missed
        // when the machine stalls for a second (deadline behaviour has tests of its own).
        options.verificationTimeout = .seconds(20)
        options.mutationTimeout = .seconds(20)
        configure(&options)
        let sink = logs
        let logger = Logger(label: "test") { RatifyLogHandler(label: $0, format: .text, level: .debug, sink: sink) }
        server = try RatifyServer(options: options, executor: ExecutorHolder(executor), logger: logger, metrics: metrics)
        client = CurlSession(tls: HTTPClientTLSOptions(caFile: pki.path("server-ca.crt"), clientCertificateFile: pki.path("gatekeeper.crt"),
                                                       clientKeyFile: pki.path("gatekeeper.key")))
    }

    public func post(_ path: String, _ body: String, headers: [(name: String, value: String)] = []) async throws -> HTTPClientResponse {
        let url = "https://localhost:\(server.providerPort)\(path)"
        let client = self.client
        return try await offPool {
            try client.perform(HTTPClientRequest(method: "POST", url: url,
                headers: [(name: "Content-Type", value: "application/json")] + headers, body: Array(body.utf8)))
        }
    }

    public func plainGet(_ port: UInt16, _ path: String) async throws -> HTTPClientResponse {
        try await offPool { try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")) }
    }

    public func json(_ response: HTTPClientResponse) throws -> JSONValue { try JSONParser.parse(response.body) }
}

public let verifyPath = RatifyServer.verifyPath
public let mutatePath = RatifyServer.mutatePath
public func providerRequest(_ keys: [String]) -> String {
    JSONWriter.encodeString(ProviderRequest(keys: keys).json())
}

