#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TLS
internal import CShims

/// State every loop of one server shares.
final class ServerShared: Sendable {
    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    let onEvent: @Sendable (HTTPServerEvent) -> Void
    let connectionCount = Atomic<Int>(0)
    /// Open connections per peer address.
    let peers = Mutex<[String: Int]>([:])
    /// When a newcomer was last refused at the cap with nothing idle to close (monotonic ns; 0: never).
    let lastSaturated = Atomic<UInt64>(0)
    /// The most connections open since memory was last given back to the system.
    let peakConnections = Atomic<Int>(0)

    init(configuration: HTTPServerConfiguration, handler: any HTTPHandler, onEvent: @escaping @Sendable (HTTPServerEvent) -> Void) {
        self.configuration = configuration
        self.handler = handler
        self.onEvent = onEvent
    }
}

/// One thread, one epoll set, and the connections it accepted. Everything below `jobs` is touched
/// only on the loop's own thread; other threads talk to the loop through `execute`, which queues
/// a closure and wakes the loop through an eventfd. Handlers never run here: a complete request
/// becomes a Task (on Swift's cooperative pool, or the executor the handler prefers), and its
/// response comes back through `execute`.
///
/// The thread is the loop's own (`run`), or a host's that calls `turn` between its own work
/// (`HTTPServerConfiguration.loopHost`).
final class EventLoop: @unchecked Sendable {
    let index: Int
    let shared: ServerShared
    private let epollFD: Int32
    private let wakeFD: Int32
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let stopped = Atomic<Bool>(false)
    /// The thread that turns the loop, once it has turned (jobs it queues itself need no wake-up).
    private let thread = Mutex<pthread_t?>(nil)

    // Loop-confined state.
    private var connections: [Int32: Connection] = [:]
    private var listener: Int32 = -1
    private var running = true
    private(set) var draining = false
    private var listenerPaused = false
    private var nextConnectionID: UInt64 = 0
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private var dateSecond = 0
    private var dateText = ""
    private var lastSweep: UInt64 = 0
    /// The first turn records the thread that runs the loop (its own, or a host's lane).
    private var started = false
    private var readyFDs = [Int32](repeating: 0, count: 256)
    private var readyEvents = [UInt32](repeating: 0, count: 256)

    init(index: Int, shared: ServerShared, listener: Int32) throws(SocketError) {
        self.index = index
        self.shared = shared
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SocketError(operation: "epoll_create1", errno: errno) }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw SocketError(operation: "eventfd", errno: errno) }
        self.listener = listener
        try Socket.check(Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, EPOLLIN.rawValue), "epoll_ctl(eventfd)")
        // EPOLLEXCLUSIVE: one listener in every loop's set, but a connection wakes only one loop.
        try Socket.check(Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, listener, EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue),
                         "epoll_ctl(listener)")
    }

    deinit {
        scratch.deallocate()
    }

    var hasStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Runs `job` on the loop thread. Safe from any thread.
    func execute(_ job: @escaping @Sendable () -> Void) {
        let wasEmpty = jobs.withLock { queue in
            let empty = queue.isEmpty
            queue.append(job)
            return empty
        }
        // Queued on the loop's own thread, the job runs at the end of the current turn.
        if wasEmpty, !isLoopThread {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    private var isLoopThread: Bool { thread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false } }

    /// Jobs queued from the loop's own thread, not yet run.
    var hasPendingJobs: Bool { !jobs.withLock { $0.isEmpty } }

    /// The epoll descriptor: readable when the loop has events (for a host's poll).
    var descriptor: Int32 { epollFD }

    /// How often connections are swept for deadlines (ms): the longest a host may wait between turns.
    static let sweepPeriodMilliseconds: Int32 = 250

    /// The loop on a thread of its own.
    func run() {
        while turn(waitingUpTo: Self.sweepPeriodMilliseconds) {}
    }

    /// One turn: the ready events, waiting up to `timeout` ms for them (0: only look; nil: do
    /// not look, a host knows there are none), then the jobs queued on this thread and the sweep
    /// when due. Returns false once the loop has stopped and closed everything.
    func turn(waitingUpTo timeout: Int32?) -> Bool {
        if !started {
            started = true
            thread.withLock { $0 = pthread_self() }
            lastSweep = Socket.monotonicNanoseconds()
        }
        if running, let timeout {
            let count = Shim_epoll_wait(epollFD, &readyFDs, &readyEvents, 256, timeout)
            if count < 0 && errno != EINTR { running = false }
            for i in 0..<max(0, Int(count)) {
                let fd = readyFDs[i]
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                } else if fd == listener {
                    acceptAll()
                } else if let connection = connections[fd] {
                    connection.handle(events: readyEvents[i])
                }
            }
        }
        runJobs()
        let now = Socket.monotonicNanoseconds()
        if now &- lastSweep >= UInt64(Self.sweepPeriodMilliseconds) * 1_000_000 {
            sweep(now: now)
            lastSweep = now
        }
        if running { return true }
        for connection in Array(connections.values) { connection.close() }
        close(epollFD)
        close(wakeFD)
        stopped.store(true, ordering: .releasing)
        return false
    }

    private func runJobs() {
        // Jobs may queue jobs (a response completed on the loop): run those in this turn too.
        for _ in 0..<16 {
            let batch = jobs.withLock { queue in
                let taken = queue
                queue.removeAll()
                return taken
            }
            if batch.isEmpty { return }
            for job in batch { job() }
        }
        // Still more: make sure the next wait returns at once.
        if hasPendingJobs {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    private func acceptAll() {
        let configuration = shared.configuration
        while listener >= 0 {
            guard let fd = Socket.accept(listener) else {
                // Out of descriptors: the listener stays readable and level-triggered epoll would
                // spin. Stop listening until the next sweep; the kernel keeps the backlog.
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    unregister(listener)
                    listenerPaused = true
                    shared.onEvent(.connectionRefused(reason: "accept failed: \(String(cString: strerror(errno))); pausing accepts"))
                }
                return
            }
            if draining {
                close(fd)
                continue
            }
            // The per-peer bound first: a client refused for it must not make room by closing
            // someone else's connection.
            let peer = Socket.peerAddress(fd)
            let admitted = shared.peers.withLock { peers -> Bool in
                guard peers[peer, default: 0] < configuration.maxConnectionsPerPeer else { return false }
                peers[peer, default: 0] += 1
                return true
            }
            guard admitted else {
                close(fd)
                shared.onEvent(.connectionRefused(reason: "\(peer) already holds \(configuration.maxConnectionsPerPeer) connections"))
                continue
            }
            if shared.connectionCount.load(ordering: .relaxed) >= configuration.maxConnections {
                // At the cap: make room by closing this loop's oldest connection that is silent in
                // its handshake (or has sent nothing) for a second, else the longest-idle
                // keep-alive one; only when there is none is the newcomer refused.
                if let victim = evictionCandidate() {
                    victim.close()
                    shared.onEvent(.connectionRefused(reason: "at \(configuration.maxConnections) open connections: closed the longest-idle one"))
                } else {
                    close(fd)
                    shared.peers.withLock { Self.release(peer, in: &$0) }
                    shared.lastSaturated.store(Socket.monotonicNanoseconds(), ordering: .relaxed)
                    shared.onEvent(.connectionRefused(reason: "more than \(configuration.maxConnections) open connections, none idle"))
                    continue
                }
            }
            let transport: Transport
            if let tls = configuration.tls {
                do {
                    transport = .tls(try TLSConnection(context: tls.current, socket: fd))
                } catch {
                    close(fd)
                    shared.peers.withLock { Self.release(peer, in: &$0) }
                    shared.onEvent(.handshakeFailed(error))
                    continue
                }
            } else {
                transport = .plain(fd)
            }
            nextConnectionID += 1
            let connection = Connection(loop: self, fd: fd, id: nextConnectionID, transport: transport, peer: peer)
            guard Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, EPOLLIN.rawValue) == 0 else {
                close(fd)
                shared.peers.withLock { Self.release(peer, in: &$0) }
                continue
            }
            connections[fd] = connection
            let open = shared.connectionCount.add(1, ordering: .relaxed).newValue
            if open > shared.peakConnections.load(ordering: .relaxed) { shared.peakConnections.store(open, ordering: .relaxed) }
        }
    }

    // MARK: called by connections (loop thread)

    func setInterest(_ fd: Int32, _ events: UInt32) {
        _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, events)
    }

    func unregister(_ fd: Int32) {
        _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, 0)
    }

    func reregister(_ fd: Int32, _ events: UInt32) {
        _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, events)
    }

    func remove(_ connection: Connection) {
        if connections[connection.fd] === connection {
            connections[connection.fd] = nil
            shared.connectionCount.subtract(1, ordering: .relaxed)
            shared.peers.withLock { Self.release(connection.peer, in: &$0) }
        }
    }

    static func release(_ peer: String, in peers: inout [String: Int]) {
        let left = (peers[peer] ?? 1) - 1
        peers[peer] = left > 0 ? left : nil
    }

    /// The connection to close for a newcomer at the cap: the oldest still handshaking (or
    /// silent) after a second, else the longest idle between requests (a client that was served,
    /// such as Gatekeeper, keeps its connection while a silent one can go). Never one with a request.
    func evictionCandidate() -> Connection? {
        let now = Socket.monotonicNanoseconds()
        var idle: Connection?, stalled: Connection?
        for connection in connections.values {
            guard let since = connection.idleSince else { continue }
            if connection.state == .handshaking || !connection.hasServedRequest {
                if now - since >= 1_000_000_000, stalled.map({ since < $0.idleSince! }) ?? true { stalled = connection }
            } else if idle.map({ since < $0.idleSince! }) ?? true {
                idle = connection
            }
        }
        return stalled ?? idle
    }

    /// Hands a request to the handler on the cooperative pool (or the executor it prefers for
    /// the request); the response comes back to this loop.
    func dispatch(_ request: HTTPRequest, fd: Int32, id: UInt64) {
        let handler = shared.handler
        var request = request
        if let response = handler.respondOnLoop(&request) {
            // Completed after the current event is handled, as a Task's response would be.
            execute { self.complete(fd: fd, id: id, response: response) }
            return
        }
        Task(executorPreference: handler.preferredExecutor(for: request)) {
            let response = await handler.handle(request)
            self.execute { self.complete(fd: fd, id: id, response: response) }
        }
    }

    private func complete(fd: Int32, id: UInt64, response: HTTPResponse) {
        // The connection may have closed (and its fd been reused) while the handler ran.
        guard let connection = connections[fd], connection.id == id else { return }
        connection.complete(response)
    }

    /// RFC 9110 §6.6.1: an origin server with a clock MUST send Date. Formatted once a second.
    func httpDate() -> String {
        var now = time(nil)
        if Int(now) != dateSecond {
            dateSecond = Int(now)
            var parts = tm()
            gmtime_r(&now, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
            dateText = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return dateText
    }

    /// After a burst of connections has gone (a flood of half-open TLS handshakes: ~40 KB of
    /// OpenSSL state each), glibc keeps the freed memory in its arenas and RSS stays at the
    /// burst's peak. Give it back once the count has fallen by half and by at least 256.
    private func returnMemoryAfterBursts() {
        let open = shared.connectionCount.load(ordering: .relaxed), peak = shared.peakConnections.load(ordering: .relaxed)
        guard peak - open >= 256, open <= peak / 2 else { return }
        shared.peakConnections.store(open, ordering: .relaxed)
        _ = malloc_trim(0)
    }

    private func sweep(now: UInt64) {
        if index == 0 { returnMemoryAfterBursts() }
        if listenerPaused, listener >= 0 {
            listenerPaused = false
            reregister(listener, EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue)
        }
        for connection in Array(connections.values) where connection.deadline <= now {
            connection.timedOut()
        }
    }

    // MARK: shutdown

    /// Stops accepting and closes connections that are idle between requests. Connections with a
    /// request in flight finish it (answered with `Connection: close`) and then close.
    func beginDraining(_ done: @escaping @Sendable () -> Void) {
        execute {
            self.draining = true
            if self.listener >= 0 {
                self.unregister(self.listener)
                self.listener = -1
            }
            // A keep-alive connection between requests is closed now: its client retries on a new
            // connection. A connection that has not sent its first request yet is not idle in that
            // sense (its request may already be on the wire, and a client does not retry a fresh
            // connection); it gets `drainGraceForNewConnections` to send it (Go's net/http gives
            // such connections 5 s), then the sweep closes it.
            let freshUntil = Socket.monotonicNanoseconds() + self.shared.configuration.drainGraceForNewConnections.nanoseconds
            for connection in Array(self.connections.values) where connection.isIdle {
                if connection.hasServedRequest { connection.close() } else { connection.drain(closingBy: freshUntil) }
            }
            done()
        }
    }

    func stop() {
        execute { self.running = false }
    }
}
