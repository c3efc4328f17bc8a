import HTTPServer
import TLS

/// Everything `ratify serve` needs to start. Defaults are Ratify's: TLS on 6001, health on
/// 9099, metrics on 8888, 2900 ms to answer a verification and 950 ms a mutation.
public struct ServeOptions: Sendable {
    public var httpAddress = ListenAddress(port: 6001)
    public var healthAddress = ListenAddress(port: 9099)
    /// nil disables the metrics listener.
    public var metricsAddress: ListenAddress? = ListenAddress(port: 8888)
    /// nil serves plain HTTP, as Ratify does without `--cert-dir` (Gatekeeper itself requires HTTPS).
    public var tls: TLSServerConfiguration?
    public var certificateWatchInterval: Duration = .seconds(2)
    public var maxRequestBodyBytes = 4 * 1024 * 1024
    public var eventLoops = 2
    public var verificationTimeout: Duration = .milliseconds(2900)
    public var mutationTimeout: Duration = .milliseconds(950)
    public var readTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(90)
    /// Request headers whose value becomes the trace ID (Ratify's `logger.requestHeaders.traceIDHeaderName`).
    public var traceIDHeaders: [String] = []
    /// Runs the provider listener's event loops on threads of the registry transport's (see
    /// `HTTPServerConfiguration.loopHost`); nil: threads of their own.
    public var providerLoopHost: (@Sendable (HostedEventLoop) -> Void)?

    public init() {}
}
