#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// An HTTP/1.1 server on plain sockets and epoll, with optional TLS through OpenSSL. No SwiftNIO.
///
/// Concurrency: `eventLoops` threads each own an epoll set and the connections they accepted;
/// all socket and TLS syscalls happen there, so Swift's cooperative pool never blocks on I/O.
/// The threads are the server's own, or a host's (`HTTPServerConfiguration.loopHost`). Complete
/// requests run as Tasks, on the cooperative pool or the executor the handler prefers. A slow
/// client only ever occupies its own connection's buffers.
public final class HTTPServer: Sendable {
    public let port: UInt16
    private let loops: [EventLoop]
    private let listener: Int32
    private let shared: ServerShared
    private let shutDown = Mutex(false)

    /// Binds and starts serving immediately.
    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler,
                onEvent: @escaping @Sendable (HTTPServerEvent) -> Void = { _ in }) throws(SocketError) {
        // A peer that resets mid-write must not kill the process.
        signal(SIGPIPE, SIG_IGN)
        let bound = try Socket.listen(host: configuration.host, port: configuration.port)
        listener = bound.fd
        port = bound.port
        shared = ServerShared(configuration: configuration, handler: handler, onEvent: onEvent)
        var loops: [EventLoop] = []
        do {
            for index in 0..<configuration.eventLoops {
                loops.append(try EventLoop(index: index, shared: shared, listener: bound.fd))
            }
        } catch {
            Glibc.close(bound.fd)
            throw error
        }
        self.loops = loops
        for loop in loops {
            let name = "ratify-http-\(configuration.port)-\(loop.index)"
            if let host = configuration.loopHost {
                host(HostedEventLoop(descriptor: loop.descriptor, name: name, maxWaitMilliseconds: EventLoop.sweepPeriodMilliseconds,
                                     turn: { readable in loop.turn(waitingUpTo: readable ? 0 : nil) },
                                     hasPendingWork: { loop.hasPendingJobs }))
            } else {
                let thread = Thread { loop.run() }
                thread.name = name
                thread.start()
            }
        }
    }

    /// Connections currently open across all loops.
    public var openConnections: Int { shared.connectionCount.load(ordering: .relaxed) }

    /// Whether a client was refused within `window` because every connection slot was busy
    /// (none idle to close): readiness reports it, so the pod stops getting new traffic.
    public func wasSaturated(within window: Duration) -> Bool {
        let last = shared.lastSaturated.load(ordering: .relaxed)
        return last != 0 && Socket.monotonicNanoseconds() - last < window.nanoseconds
    }

    /// Graceful shutdown: stop accepting, close idle connections, let requests in flight finish
    /// (their responses say `Connection: close`), then close whatever is left after `gracePeriod`.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        let first = shutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let drained = Atomic<Int>(0)
        for loop in loops { loop.beginDraining { drained.add(1, ordering: .relaxed) } }
        let clock = ContinuousClock()
        let deadline = clock.now + gracePeriod
        while drained.load(ordering: .relaxed) < loops.count, clock.now < deadline + .seconds(1) {
            try? await Task.sleep(for: .milliseconds(2))
        }
        Glibc.close(listener)
        while openConnections > 0, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        for loop in loops { loop.stop() }
        while !loops.allSatisfy(\.hasStopped) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}
