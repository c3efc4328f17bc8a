import TLS

public struct HTTPServerConfiguration: Sendable {
    /// Empty or "::" means every interface, dual-stack where the kernel has IPv6.
    public var host: String
    /// 0 picks a free port; `HTTPServer.port` tells which.
    public var port: UInt16
    /// TLS when set; plain HTTP otherwise (health and metrics ports).
    public var tls: ReloadingTLSContext?
    public var limits: HTTPLimits
    /// How long a client may take to send one whole request.
    public var readTimeout: Duration
    /// How long a client may take to complete its TLS handshake (shorter than `readTimeout`: a
    /// connection that never handshakes holds a slot for nothing).
    public var handshakeTimeout: Duration = .seconds(5)
    /// Connections one peer address may hold at once (a single client cannot take every slot).
    public var maxConnectionsPerPeer: Int = 1024
    /// How long a keep-alive connection may sit idle between requests.
    public var idleTimeout: Duration
    /// Once shutting down, how long a connection that has not sent its first request may still
    /// send it (Go's net/http gives such connections 5 s).
    public var drainGraceForNewConnections: Duration = .seconds(2)
    /// How long a client may take to accept one response.
    public var writeTimeout: Duration
    /// Event-loop threads; each owns its connections for their whole life.
    public var eventLoops: Int
    public var maxConnections: Int
    /// The response sent for a request that could not be decoded (malformed, too large). The
    /// provider port answers these with a ProviderResponse `systemError`; the default is text.
    public var errorResponse: @Sendable (HTTPDecodeError) -> HTTPResponse = { .text($0.status, $0.reason + "\n") }
    /// Runs each event loop on a thread of the host's, which turns it between its own work (the
    /// registry transport, so that a request's registry round trips and its response stay on the
    /// thread that read it). nil: every loop gets a thread of its own.
    public var loopHost: (@Sendable (HostedEventLoop) -> Void)?

    public init(host: String = "", port: UInt16, tls: ReloadingTLSContext? = nil, limits: HTTPLimits = HTTPLimits(),
                readTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(90),
                writeTimeout: Duration = .seconds(10), eventLoops: Int = 2, maxConnections: Int = 4096) {
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.eventLoops = max(1, eventLoops)
        self.maxConnections = maxConnections
    }
}

/// An event loop handed to a host (`HTTPServerConfiguration.loopHost`).
public struct HostedEventLoop: Sendable {
    /// Readable when the loop has events waiting: the host polls it with its own descriptors.
    public let descriptor: Int32
    /// A name for the host's thread.
    public let name: String
    /// The longest the host may wait between turns (ms): the loop sweeps for timeouts then.
    public let maxWaitMilliseconds: Int32
    /// One turn that does not block: the ready events when `readable`, the work queued on the
    /// loop, the sweep when due. False once the loop has stopped and closed everything.
    public let turn: @Sendable (_ readable: Bool) -> Bool
    /// Work queued for the loop from the host's thread itself (no wake-up was sent for it).
    public let hasPendingWork: @Sendable () -> Bool
}

/// What happened on the wire that an operator may want to see; the server itself does not log.
public enum HTTPServerEvent: Sendable {
    case handshakeFailed(TLSError)
    case requestRejected(HTTPDecodeError)
    case connectionRefused(reason: String)
    case timedOut(stage: String)
}

extension Duration {
    var nanoseconds: UInt64 {
        let c = components
        return UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds) / 1_000_000_000)
    }
}
