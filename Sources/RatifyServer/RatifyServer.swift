import Core
import Foundation
import HTTPServer
import JSON
import Logging
import Observability
import Synchronization
import TLS

/// The running process: the provider listener (HTTPS), the health listener and the metrics
/// listener, wired to the executor. Knows nothing about signatures.
public final class RatifyServer: Sendable {
    public static let verifyPath = "/ratify/gatekeeper/v1/verify"
    public static let mutatePath = "/ratify/gatekeeper/v1/mutate"

    public let options: ServeOptions
    public let executor: ExecutorHolder
    public let metrics: ServerMetrics
    public let tls: ReloadingTLSContext?
    private let provider: HTTPServer
    private let health: HTTPServer
    private let metricsServer: HTTPServer?
    private let logger: Logger
    private let readiness = Readiness()

    public var providerPort: UInt16 { provider.port }
    public var healthPort: UInt16 { health.port }
    public var metricsPort: UInt16? { metricsServer?.port }

    public init(options: ServeOptions, executor: ExecutorHolder, logger: Logger, metrics: ServerMetrics = ServerMetrics()) throws(ServeError) {
        self.options = options
        self.executor = executor
        self.logger = logger
        self.metrics = metrics

        if let tlsConfiguration = options.tls {
            do {
                let reloads = metrics.certificateReloads
                tls = try ReloadingTLSContext(configuration: tlsConfiguration) { event in
                    switch event {
                    case .reloaded:
                        reloads.increment(["success"])
                        logger.info("reloaded TLS certificate", metadata: ["cert": "\(tlsConfiguration.certificateChainFile)"])
                    case .reloadFailed(let error):
                        reloads.increment(["failure"])
                        logger.error("TLS certificate change not applied; still serving the previous certificate",
                                     metadata: ["error": "\(error)"])
                    }
                }
            } catch {
                throw ServeError(.tls, error.description)
            }
        } else {
            tls = nil
        }

        var limits = HTTPLimits()
        limits.maxBodyBytes = options.maxRequestBodyBytes
        // Descriptors: as many as the hard limit allows (the default soft limit of 1024 let ~1,000
        // idle connections starve health checks and registry requests), and the provider keeps
        // 256 of them for those.
        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        var providerConfiguration = HTTPServerConfiguration(
            host: options.httpAddress.host, port: options.httpAddress.port, tls: tls, limits: limits,
            readTimeout: options.readTimeout, idleTimeout: options.idleTimeout, eventLoops: options.eventLoops)
        providerConfiguration.maxConnections = min(providerConfiguration.maxConnections, max(64, descriptors - 256))
        providerConfiguration.loopHost = options.providerLoopHost
        // Gatekeeper reads JSON; even a request we cannot parse gets a ProviderResponse.
        providerConfiguration.errorResponse = { error in
            metrics.systemErrors.increment()
            let body = ProviderResponse(systemError: "\(error.status.code) \(error.status.reason): \(error.reason)").encoded()
            return .json(error.status, body)
        }

        let events = Self.eventLogger(logger: logger, metrics: metrics)
        let providerServer: HTTPServer
        let endpoints = ProviderEndpoints(options: options, executor: executor, metrics: metrics, logger: logger)
        do {
            providerServer = try HTTPServer(configuration: providerConfiguration, handler: endpoints.router(), onEvent: events)
        } catch {
            throw ServeError(.listen, "provider listener on \(options.httpAddress): \(error)")
        }
        provider = providerServer
        let readiness = self.readiness
        let connectionLimit = providerConfiguration.maxConnections
        var healthRouter = Router()
        // Answered on the health listener's event loop: a cooperative pool busy with
        // verifications (or stalled) must not make Kubernetes think the pod is dead.
        healthRouter.addImmediate("GET", "/healthz") { _ in .text(.ok, "ok\n") }
        healthRouter.addImmediate("GET", "/readyz") { _ in
            if let reason = readiness.notReadyReason { return .text(.serviceUnavailable, reason + "\n") }
            // Refusing clients with every slot busy: not ready, so traffic goes to other replicas.
            if providerServer.wasSaturated(within: .seconds(5)) {
                return .text(.serviceUnavailable, "saturated: \(providerServer.openConnections) of \(connectionLimit) connections busy, new clients refused\n")
            }
            return .text(.ok, "ok\n")
        }
        do {
            health = try HTTPServer(configuration: HTTPServerConfiguration(
                host: options.healthAddress.host, port: options.healthAddress.port, eventLoops: 1),
                handler: Instrumented(router: healthRouter, server: "health", metrics: metrics))
        } catch {
            provider.shutdownNow()
            throw ServeError(.listen, "health listener on \(options.healthAddress): \(error)")
        }
        if let metricsAddress = options.metricsAddress {
            var metricsRouter = Router()
            let registry = metrics.registry
            metricsRouter.add("GET", "/metrics") { _ in
                HTTPResponse(status: .ok, headers: HTTPHeaders([(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")]),
                             body: Array(registry.render().utf8))
            }
            do {
                metricsServer = try HTTPServer(configuration: HTTPServerConfiguration(
                    host: metricsAddress.host, port: metricsAddress.port, eventLoops: 1), handler: metricsRouter)
            } catch {
                provider.shutdownNow()
                health.shutdownNow()
                throw ServeError(.listen, "metrics listener on \(metricsAddress): \(error)")
            }
        } else {
            metricsServer = nil
        }
        tls?.startWatching(interval: options.certificateWatchInterval)
    }

    /// Marks whether a configuration is loaded; `/readyz` fails until it is.
    public func setConfigurationLoaded(_ loaded: Bool) { readiness.state.withLock { $0.configLoaded = loaded } }

    /// Graceful stop: `/readyz` fails at once, requests in flight finish, then listeners close.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        readiness.state.withLock { $0.shuttingDown = true }
        tls?.stopWatching()
        await provider.shutdown(gracePeriod: gracePeriod)
        await metricsServer?.shutdown(gracePeriod: .seconds(1))
        await health.shutdown(gracePeriod: .seconds(1))
    }

    static func eventLogger(logger: Logger, metrics: ServerMetrics) -> @Sendable (HTTPServerEvent) -> Void {
        { event in
            switch event {
            case .handshakeFailed(let error):
                metrics.tlsHandshakeFailures.increment()
                logger.debug("TLS handshake failed", metadata: ["error": "\(error)"])
            case .requestRejected(let error):
                logger.info("rejected malformed request", metadata: ["status": "\(error.status.code)", "reason": "\(error.reason)"])
            case .connectionRefused(let reason):
                logger.warning("connection refused", metadata: ["reason": "\(reason)"])
            case .timedOut(let stage):
                logger.debug("connection timed out", metadata: ["stage": "\(stage)"])
            }
        }
    }
}

extension HTTPServer {
    /// For start-up failures: stop a listener that was already started, without waiting.
    func shutdownNow() {
        Task { await self.shutdown(gracePeriod: .zero) }
    }
}

/// Counts and times every request by listener and path.
struct Instrumented: HTTPHandler {
    let router: Router
    let server: String
    let metrics: ServerMetrics
    var knownPaths: Set<String> = ["/healthz", "/readyz", "/metrics", RatifyServer.verifyPath, RatifyServer.mutatePath]

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let start = ContinuousClock.now
        return record(request, await router.handle(request), since: start)
    }

    func respondOnLoop(_ request: inout HTTPRequest) -> HTTPResponse? {
        let start = ContinuousClock.now
        return router.respondOnLoop(&request).map { record(request, $0, since: start) }
    }

    func preferredExecutor(for request: HTTPRequest) -> (any TaskExecutor)? { router.preferredExecutor(for: request) }

    private func record(_ request: HTTPRequest, _ response: HTTPResponse, since start: ContinuousClock.Instant) -> HTTPResponse {
        let path = knownPaths.contains(String(request.path)) ? String(request.path) : "other"
        let elapsed = ContinuousClock.now - start
        metrics.httpRequests.increment([server, path, String(response.status.code)])
        metrics.httpDuration.observe(Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds), [server, path])
        return response
    }
}

/// What `/readyz` reports: not ready while no configuration is loaded or once shutdown began
/// (so Kubernetes stops routing to a pod that is draining).
final class Readiness: Sendable {
    let state = Mutex<(configLoaded: Bool, shuttingDown: Bool)>((configLoaded: true, shuttingDown: false))

    var notReadyReason: String? {
        state.withLock { s in
            if s.shuttingDown { return "shutting down" }
            if !s.configLoaded { return "configuration not loaded" }
            return nil
        }
    }
}

/// RLIMIT_NOFILE: the soft limit raised to the hard one at start.
enum FileDescriptorLimit {
    /// The soft limit after raising it (what this process may open).
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }
}
