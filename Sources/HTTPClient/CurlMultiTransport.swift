internal import CShims
import Foundation
import Synchronization

public struct TransportRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    /// Responses larger than this abort the transfer (`tooLarge`), so a hostile registry cannot
    /// make us buffer without bound.
    public var maxResponseBytes: Int
    public var timeout: Duration
    public var insecureSkipVerify: Bool
    /// A request body (POST, PATCH); curl copies it.
    public var body: [UInt8]?
    /// PEM CA bundle to verify the server with instead of the system store (the Kubernetes API's CA).
    public var caFile: String?
    /// Follow redirects (at most 3). Off for requests whose body is a credential (an identity
    /// token, a client assertion, a refresh-token form): curl would POST it again to wherever a
    /// 307/308 points.
    public var followRedirects = true
    /// Streamed responses (a Kubernetes watch): each chunk of a 2xx body is handed here as it
    /// arrives, on the transport's thread, instead of being buffered; the final response's body
    /// is then empty. Error bodies are still buffered, for their message.
    public var onChunk: (@Sendable ([UInt8]) -> Void)?

    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [],
                maxResponseBytes: Int = 4 * 1024 * 1024, timeout: Duration = .seconds(10), insecureSkipVerify: Bool = false,
                body: [UInt8]? = nil) {
        self.body = body
        self.method = method
        self.url = url
        self.headers = headers
        self.maxResponseBytes = maxResponseBytes
        self.timeout = timeout
        self.insecureSkipVerify = insecureSkipVerify
    }
}

public struct TransportResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// The header fields as received, in one buffer: names and values side by side, located by
    /// `fields`. A response's headers are read a few at a time (`header(_:)`), so strings are made
    /// only for those: two strings per field were a good part of receiving a small response.
    private var block: [UInt8]
    private var fields: [Field]

    struct Field: Sendable {
        let name: Range<Int>
        let value: Range<Int>
    }

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        var block: [UInt8] = [], fields: [Field] = []
        for header in headers {
            let nameStart = block.count
            block.append(contentsOf: header.name.utf8)
            let valueStart = block.count
            block.append(contentsOf: header.value.utf8)
            fields.append(Field(name: nameStart..<valueStart, value: valueStart..<block.count))
        }
        self.init(status: status, block: block, fields: fields, body: body)
    }

    init(status: Int, block: [UInt8], fields: [Field], body: [UInt8]) {
        self.status = status
        self.block = block
        self.fields = fields
        self.body = body
    }

    /// Every field, in the order received.
    public var headers: [(name: String, value: String)] {
        fields.map { (name: string($0.name), value: string($0.value)) }
    }

    /// The last field named `name` (ASCII case-insensitive), as HTTP's single-valued headers are read.
    public func header(_ name: String) -> String? {
        fields.last(where: { named($0, name) }).map { string($0.value) }
    }

    public func headerValues(_ name: String) -> [String] {
        fields.filter { named($0, name) }.map { string($0.value) }
    }

    private func named(_ field: Field, _ name: String) -> Bool {
        block[field.name].elementsEqual(name.utf8, by: Self.sameASCIIIgnoringCase)
    }

    private func string(_ range: Range<Int>) -> String {
        block.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    static func sameASCIIIgnoringCase(_ a: UInt8, _ b: UInt8) -> Bool {
        a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= 0x61 && (a | 0x20) <= 0x7A)
    }
}

/// Why a transfer produced no HTTP response. Codes are stable; callers map them onto their
/// own errors (a registry's, the Kubernetes API's, a revocation server's).
public struct TransportError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case connection = "TRANSPORT_CONNECTION"
        case timeout = "TRANSPORT_TIMEOUT"
        case tooLarge = "TRANSPORT_RESPONSE_TOO_LARGE"
        /// The caller stopped waiting (its task was cancelled); the transfer was abandoned.
        case cancelled = "TRANSPORT_CANCELLED"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// Sends HTTP requests: the one HTTP client of the process (registries, the Kubernetes API,
/// OCSP responders and CRL distribution points), over libcurl.
public protocol HTTPTransport: Sendable {
    func send(_ request: TransportRequest) async throws(TransportError) -> TransportResponse
}

private let curlGlobalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

/// libcurl's multi interface: every transfer of the process goes through one of the transport's
/// *lanes*, a multi handle with the thread that drives it (connection cache, keep-alive, TLS
/// session reuse, HTTP/2 multiplexing where the registry offers it). No Swift task ever blocks on
/// network I/O.
///
/// The transport starts with one lane on a thread of its own (`ratify-http-io`). An event loop
/// of the HTTP server can be *hosted* (`host(_:)`): it then runs on a new lane's thread,
/// between that lane's transfers, so a verify request read there, its registry requests, the
/// answers and the response all stay on one thread. A caller on a lane's thread uses that lane;
/// every other caller uses the first.
public final class CurlMultiTransport: HTTPTransport, @unchecked Sendable {
    private let maxConnectionsPerHost: Int
    /// The lane of callers that are not on a lane's thread.
    private let home: Lane

    public static let shared = CurlMultiTransport()

    /// `name`: the first lane's thread (as `top -H` and /proc show it).
    public init(maxConnectionsPerHost: Int = 16, name: String = "ratify-http-io") {
        _ = curlGlobalInit
        self.maxConnectionsPerHost = maxConnectionsPerHost
        home = Lane(maxConnectionsPerHost: maxConnectionsPerHost)
        home.start(transport: self, name: name, hosting: nil)
    }

    /// The calling thread's lane when it runs one of this transport's, else the first.
    private var lane: Lane { Lane.current(of: self) ?? home }

    /// Runs `loop` on a lane of its own from now on: its turns interleave with the lane's
    /// transfers and with the jobs of tasks that prefer this transport.
    public func host(_ loop: HostedLoop) {
        Lane(maxConnectionsPerHost: maxConnectionsPerHost).start(transport: self, name: loop.name, hosting: loop)
    }

    /// Cancelling the calling task abandons the transfer: the caller gets `.cancelled` at once
    /// and the connection is dropped, instead of the work going on for nobody.
    public func send(_ request: TransportRequest) async throws(TransportError) -> TransportResponse {
        if Task.isCancelled { throw TransportError(.cancelled, "\(request.method) \(request.url) was not sent: the request was cancelled") }
        let transfer = Transfer(request: request)
        let lane = self.lane
        lane.unanswered.add(1, ordering: .relaxed)
        defer { lane.unanswered.subtract(1, ordering: .relaxed) }
        let result: Result<TransportResponse, TransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.continuation = continuation
                lane.queue.withLock { $0.append(transfer) }
                // From the lane's thread itself (a task running there) the lane's next turn
                // picks it up: no wake-up needed.
                if !lane.isCurrent { lane.wake() }
            }
        } onCancel: {
            transfer.cancelRequested.store(true, ordering: .relaxed)
            lane.cancellations.withLock { $0.append(transfer) }
            lane.wake()
        }
        return try result.get()
    }
}

/// An event loop run by a lane (see `CurlMultiTransport.host`).
public struct HostedLoop: Sendable {
    /// Readable when the loop has events waiting (its epoll descriptor).
    public let descriptor: Int32
    /// The thread's name.
    public let name: String
    /// One turn that does not block: the loop's ready events when `readable`, the work queued
    /// for it, its periodic sweep when due. False once the loop has stopped for good.
    public let turn: @Sendable (_ readable: Bool) -> Bool
    /// Work queued for the loop from its own thread (no wake-up was sent for it).
    public let hasPendingWork: @Sendable () -> Bool
    /// The longest the lane may wait before the next turn, in milliseconds (the sweep's period).
    public let maxWaitMilliseconds: Int32

    public init(descriptor: Int32, name: String, maxWaitMilliseconds: Int32, turn: @escaping @Sendable (_ readable: Bool) -> Bool,
                hasPendingWork: @escaping @Sendable () -> Bool) {
        self.descriptor = descriptor
        self.name = name
        self.maxWaitMilliseconds = maxWaitMilliseconds
        self.turn = turn
        self.hasPendingWork = hasPendingWork
    }
}

/// A multi handle and the thread that drives it. The queues are filled from any thread; the
/// handle, `active` and the hosted loop are touched by the lane's thread only.
private final class Lane: @unchecked Sendable {
    let multi: UnsafeMutableRawPointer
    let queue = Mutex<[Transfer]>([])
    /// Transfers whose caller was cancelled: abandoned on the lane's thread.
    let cancellations = Mutex<[Transfer]>([])
    /// Jobs of tasks that prefer the transport as their executor (see `TaskExecutor` below).
    let jobs = Mutex<[UnownedJob]>([])
    /// Transfers whose callers have not had their answer yet (see `isBusy`).
    let unanswered = Atomic<Int>(0)
    /// A job is running on the lane's thread (see `isBusy`).
    let runningJob = Atomic<Bool>(false)
    /// The lane waits in one epoll set: curl's sockets (CURLMOPT_SOCKETFUNCTION), the hosted
    /// loop's descriptor, and `wakeFD` for work queued from other threads. curl is driven with
    /// `curl_multi_socket_action` for the sockets that are ready and when its timer is due, so a
    /// turn costs no `poll` of every socket and no walk over every transfer (`curl_multi_poll`
    /// and `curl_multi_perform` did both, on every turn: most of the lane's system calls).
    private let epollFD: Int32
    private let wakeFD: Int32
    // Touched by the lane's thread only:
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var hosted: HostedLoop?
    private weak var transport: CurlMultiTransport?
    /// curl's sockets in the epoll set that curl does not watch now (see `watch`).
    private var parked: Set<Int32> = []
    /// When curl wants `socket_action(CURL_SOCKET_TIMEOUT)` (CURLMOPT_TIMERFUNCTION), in
    /// CLOCK_MONOTONIC milliseconds; nil: no timer.
    private var timerDue: Int64?
    /// The queues' buffers are swapped with these, so that taking a batch allocates nothing.
    private var spareJobs: [UnownedJob] = []
    private var spareQueue: [Transfer] = []

    init(maxConnectionsPerHost: Int) {
        multi = curl_multi_init()!
        _ = Shim_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(epollFD >= 0 && wakeFD >= 0, "the HTTP client's lane could not create its epoll set (errno \(errno))")
        _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, EPOLLIN.rawValue)
        let me = Unmanaged.passUnretained(self).toOpaque()  // lanes live as long as the process
        _ = Shim_curl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        _ = Shim_curl_multi_setopt_socket_function(multi) { _, socket, what, context, _ in
            Unmanaged<Lane>.fromOpaque(context!).takeUnretainedValue().watch(socket, what)
            return 0
        }
        _ = Shim_curl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        _ = Shim_curl_multi_setopt_timer_function(multi) { _, milliseconds, context in
            let lane = Unmanaged<Lane>.fromOpaque(context!).takeUnretainedValue()
            lane.timerDue = milliseconds < 0 ? nil : Lane.now() + Int64(milliseconds)
            return 0
        }
    }

    /// Which lane, of which transport, the current thread drives.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static func current(of transport: CurlMultiTransport) -> Lane? {
        guard let pointer = pthread_getspecific(key) else { return nil }
        let lane = Unmanaged<Lane>.fromOpaque(pointer).takeUnretainedValue()
        return lane.transport === transport ? lane : nil
    }

    var isCurrent: Bool { pthread_getspecific(Lane.key) == Unmanaged.passUnretained(self).toOpaque() }

    func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)  // EAGAIN: the counter is already non-zero, the lane will wake
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// CURLMOPT_SOCKETFUNCTION: what curl waits for on `socket` now.
    ///
    /// A socket curl stops watching (its transfer is done; the connection waits in curl's cache
    /// for the next one) stays in the epoll set, *parked*: most come back for the next request,
    /// and a modification then costs less than a removal and an addition. A parked socket that
    /// becomes readable (the registry closed the idle connection) is removed when that is seen.
    /// A socket is modified, and added only when it is not in the set: a new connection's, or
    /// one closed meanwhile (it left the set with its file) whose number a new socket reuses.
    private func watch(_ socket: Int32, _ what: Int32) {
        if what == CURL_POLL_REMOVE {
            parked.insert(socket)
            return
        }
        var events: UInt32 = 0
        if what & CURL_POLL_IN != 0 { events |= EPOLLIN.rawValue }
        if what & CURL_POLL_OUT != 0 { events |= EPOLLOUT.rawValue }
        parked.remove(socket)
        if Shim_epoll_ctl(epollFD, EPOLL_CTL_MOD, socket, events) != 0 && errno == ENOENT {
            _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, socket, events)
        }
    }

    /// An event on a parked socket: nobody waits on it, so it leaves the set (level-triggered,
    /// it would otherwise wake the lane until curl reuses or closes the connection).
    private func unpark(_ socket: Int32) {
        parked.remove(socket)
        _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_DEL, socket, 0)
    }

    func start(transport: CurlMultiTransport, name: String, hosting loop: HostedLoop?) {
        self.transport = transport
        hosted = loop
        if let loop { _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_ADD, loop.descriptor, EPOLLIN.rawValue) }
        let thread = Thread { [self] in
            // Foundation keeps `Thread.name` to itself on Linux: the kernel's name is what `top -H`,
            // `perf` and /proc show (15 bytes at most).
            let bytes = Array(name.utf8.prefix(15)).map { CChar(bitPattern: $0) } + [0]
            _ = bytes.withUnsafeBufferPointer { Shim_pthread_setname_self($0.baseAddress!) }
            run()
        }
        thread.name = name
        thread.start()
    }

    private func run() {
        // Lanes live as long as the process: the key keeps a pointer, not a reference.
        pthread_setspecific(Lane.key, Unmanaged.passRetained(self).toOpaque())
        var readable = false
        let capacity: Int32 = 64
        var readyFDs = [Int32](repeating: 0, count: Int(capacity))
        var readyEvents = [UInt32](repeating: 0, count: Int(capacity))
        while true {
            // Requests read now start their tasks here, queue their transfers, and those go out
            // in this same turn.
            turnHosted(readable)
            // Jobs run, their transfers go out, answers resume their tasks (when they prefer this
            // executor: no pool thread is woken), and the requests those tasks queue go out in
            // the same turn, a few rounds at most before the lane looks at its sockets again.
            for _ in 0..<4 {
                runJobs()
                addQueued()
                // A transfer just added is due at once (curl sets a zero timer): it goes out now.
                runTimerIfDue()
                if queue.withLock({ $0.isEmpty }) && jobs.withLock({ $0.isEmpty }) { break }
            }
            // Responses those tasks produced are written now, not after another wait.
            turnHosted(false)
            let more = !queue.withLock({ $0.isEmpty }) || !jobs.withLock({ $0.isEmpty }) || (hosted?.hasPendingWork() ?? false)
            var wait = Int64(more ? 0 : (hosted?.maxWaitMilliseconds ?? 1000))
            if let due = timerDue { wait = min(wait, max(0, due - Lane.now())) }
            let count = Shim_epoll_wait(epollFD, &readyFDs, &readyEvents, capacity, Int32(wait))
            readable = false
            var running: Int32 = 0
            for index in 0..<Int(max(0, count)) {
                let fd = readyFDs[index], events = readyEvents[index]
                if fd == wakeFD {
                    var counter: UInt64 = 0
                    _ = read(wakeFD, &counter, 8)
                } else if fd == hosted?.descriptor {
                    readable = true
                } else if parked.contains(fd) {
                    unpark(fd)
                } else {
                    var action: Int32 = 0
                    if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue) != 0 { action |= CURL_CSELECT_IN }
                    if events & EPOLLOUT.rawValue != 0 { action |= CURL_CSELECT_OUT }
                    if events & EPOLLERR.rawValue != 0 { action |= CURL_CSELECT_ERR }
                    curl_multi_socket_action(multi, fd, action, &running)
                }
            }
            runTimerIfDue()
        }
    }

    private func turnHosted(_ readable: Bool) {
        guard let loop = hosted, !loop.turn(readable) else { return }
        _ = Shim_epoll_ctl(epollFD, EPOLL_CTL_DEL, loop.descriptor, 0)
        hosted = nil
    }

    /// curl's timer: connection and transfer timeouts, and transfers just added.
    private func runTimerIfDue() {
        if let due = timerDue, due <= Lane.now() {
            timerDue = nil
            var running: Int32 = 0
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running)
        }
        finishDone()
    }

    /// Answers the transfers curl has finished.
    private func finishDone() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            if let transfer = active.removeValue(forKey: easy) { transfer.finish(code) }
        }
    }

    private func addQueued() {
        queue.withLock { pending in swap(&pending, &spareQueue) }
        defer { spareQueue.removeAll(keepingCapacity: true) }
        for transfer in spareQueue {
            // Cancelled before it was queued (its cancellation may have been handled already).
            if transfer.cancelRequested.load(ordering: .relaxed) {
                transfer.abandon()
                continue
            }
            active[transfer.easy] = transfer
            curl_multi_add_handle(multi, transfer.easy)
        }
        for transfer in cancellations.withLock({ list in defer { list.removeAll() }; return list }) {
            // Still running (not finished, and already added above if it was queued).
            guard active.removeValue(forKey: transfer.easy) != nil else { continue }
            curl_multi_remove_handle(multi, transfer.easy)
            transfer.abandon()
        }
    }

    private func runJobs() {
        guard let executor = transport?.asUnownedTaskExecutor() else { return }
        for _ in 0..<64 {  // bounded: transfers must keep moving even under a stream of jobs
            jobs.withLock { pending in swap(&pending, &spareJobs) }
            if spareJobs.isEmpty { return }
            runningJob.store(true, ordering: .relaxed)
            for job in spareJobs { job.runSynchronously(on: executor) }
            runningJob.store(false, ordering: .relaxed)
            spareJobs.removeAll(keepingCapacity: true)
        }
    }

    /// Work besides the caller's: transfers not yet answered, jobs waiting, or (asked from
    /// another thread) a job running now.
    var isBusy: Bool { isBusy(besides: 0) }

    /// `isBusy`, not counting `own` unanswered transfers that belong to the caller.
    func isBusy(besides own: Int) -> Bool {
        unanswered.load(ordering: .relaxed) > own || !jobs.withLock { $0.isEmpty }
            || (runningJob.load(ordering: .relaxed) && !isCurrent)
    }
}

/// Verification tasks prefer this transport as their executor (`withTaskExecutorPreference`):
/// a registry answer then resumes its task on the lane thread that received it, instead of
/// waking a thread of the cooperative pool for every response, and the task's next request is
/// queued without a wake-up. A cold verification is a chain of small requests with little CPU
/// between them; the hops were most of its cost. CPU-heavy or blocking work must not run under
/// this preference. A job enqueued on a lane's thread runs on that lane; any other, on the first.
extension CurlMultiTransport: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let lane = self.lane
        lane.jobs.withLock { $0.append(unowned) }
        if !lane.isCurrent { lane.wake() }
    }

    /// Whether the caller's lane (the first, for callers on no lane's thread) has work besides
    /// the caller's: transfers not yet answered, jobs waiting to run, or (asked from another
    /// thread) a job running now. A task running there moves its CPU work to the pool when it
    /// has, so that the thread keeps moving the rest; a new request starts on the pool then
    /// instead of queueing behind it.
    public var isBusy: Bool { lane.isBusy }
    /// `isBusy`, not counting `own` unanswered transfers that are the caller's.
    public func isBusy(besides own: Int) -> Bool { lane.isBusy(besides: own) }

    /// Whether the caller runs on one of the transport's lane threads (diagnostics and tests).
    public var isLoopThread: Bool { Lane.current(of: self) != nil }
}

/// An easy handle between transfers, with what its options were last set to.
private final class EasyHandle: @unchecked Sendable {  // owned by one transfer at a time
    let pointer: UnsafeMutableRawPointer
    /// curl writes a failure's detail here (CURLOPT_ERRORBUFFER), for the handle's life.
    let errorBytes: UnsafeMutablePointer<CChar>
    /// The settings shared by a class of plain requests (see `Transfer.configure`); nil when the
    /// options hold something else (a body, a custom method) and need a reset first.
    var settings: Transfer.Settings?

    init() {
        pointer = curl_easy_init()!
        errorBytes = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBytes.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(pointer)
        errorBytes.deallocate()
    }
}

/// Easy handles are reused across transfers: their setup is a good part of a small request's
/// cost. Connections and the DNS cache live in the multi handle either way. A handle whose
/// options already match a plain request's settings is taken as it is, without a
/// `curl_easy_reset` and the dozen options after it.
private enum EasyHandles {
    private static let idle = Mutex<[EasyHandle]>([])
    private static let keep = 64

    static func take(for settings: Transfer.Settings?) -> EasyHandle {
        idle.withLock { handles in
            if let settings, let index = handles.lastIndex(where: { $0.settings == settings }) {
                return handles.remove(at: index)
            }
            return handles.popLast()
        } ?? EasyHandle()
    }

    static func give(_ handle: EasyHandle) {
        // Nothing of the finished transfer is left for curl to reach: its header list and the
        // transfer object are freed next.
        _ = Shim_curl_easy_setopt_pointer(handle.pointer, CURLOPT_HTTPHEADER, nil)
        _ = Shim_curl_easy_setopt_pointer(handle.pointer, CURLOPT_WRITEDATA, nil)
        _ = Shim_curl_easy_setopt_pointer(handle.pointer, CURLOPT_HEADERDATA, nil)
        idle.withLock { handles in
            guard handles.count < keep else { return }
            handles.append(handle)
        }
    }
}

/// One request in flight: its easy handle, the bytes received, and who is waiting.
private final class Transfer: @unchecked Sendable {  // handed to the loop thread once, then confined to it
    let handle: EasyHandle
    var easy: UnsafeMutableRawPointer { handle.pointer }
    let request: TransportRequest
    /// Set by `send` before the transfer is handed to the loop thread.
    var continuation: CheckedContinuation<Result<TransportResponse, TransportError>, Never>?
    /// Set by the caller's cancellation handler, on any thread.
    let cancelRequested = Atomic<Bool>(false)
    var body: [UInt8] = []
    var headerBlock: [UInt8] = []
    var headerFields: [TransportResponse.Field] = []
    var exceeded = false
    var headerList: UnsafeMutablePointer<curl_slist>?
    var errorBytes: UnsafeMutablePointer<CChar> { handle.errorBytes }

    /// What a GET or HEAD without a body sets beyond its URL, method, headers and timeouts:
    /// two such requests with equal settings can share a handle without a reset.
    struct Settings: Equatable {
        let followRedirects: Bool
        let httpsOnly: Bool
        let caFile: String?
        let insecureSkipVerify: Bool
        let connectTo: UInt

        init?(_ request: TransportRequest) {
            guard request.method == "GET" || request.method == "HEAD", request.body == nil else { return nil }
            followRedirects = request.followRedirects
            httpsOnly = Transfer.isHTTPS(request.url)
            caFile = request.caFile
            insecureSkipVerify = request.insecureSkipVerify
            connectTo = UInt(bitPattern: ConnectTo.list)
        }
    }

    init(request: TransportRequest) {
        self.request = request
        let settings = Settings(request)
        handle = EasyHandles.take(for: settings)
        if settings == nil || handle.settings != settings {
            curl_easy_reset(handle.pointer)
            configureSettings()
            handle.settings = settings
        }
        configure()
    }

    deinit {
        EasyHandles.give(handle)
        curl_slist_free_all(headerList)
    }

    static func isHTTPS(_ url: String) -> Bool {
        url.utf8.prefix(8).elementsEqual("https://".utf8, by: TransportResponse.sameASCIIIgnoringCase)
    }

    /// The options a reset handle needs, besides those `configure` sets for every transfer.
    private func configureSettings() {
        _ = Shim_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        // At most 3 redirects, and only to http(s): blob downloads are redirected to storage. A
        // request made over https is never redirected to plain http (the answer would travel,
        // and could be altered, in clear). libcurl sends a custom Authorization header to the
        // original host and port only (CURLOPT_UNRESTRICTED_AUTH stays off).
        _ = Shim_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0)
        _ = Shim_curl_easy_setopt_long(easy, CURLOPT_MAXREDIRS, 3)
        _ = Shim_curl_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, Self.isHTTPS(request.url) ? "https" : "http,https")
        _ = Shim_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = Shim_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        _ = Shim_curl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        _ = Shim_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBytes))
        if let caFile = request.caFile { _ = Shim_curl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        if let connectTo = ConnectTo.list { _ = Shim_curl_easy_setopt_pointer(easy, CURLOPT_CONNECT_TO, UnsafeMutableRawPointer(connectTo)) }
        if request.insecureSkipVerify {
            _ = Shim_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0)
            _ = Shim_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0)
        }
        switch request.method {
        case "GET", "HEAD": break  // `configure`
        case "POST", "PATCH", "PUT":
            if request.method != "POST" { _ = Shim_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) }
            let body = request.body ?? []
            _ = Shim_curl_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count)
            _ = body.withUnsafeBytes { Shim_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)) }
        default: _ = Shim_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        _ = Shim_curl_easy_setopt_write_function(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let onChunk = transfer.request.onChunk, transfer.streamingStatus() {
                onChunk(Array(UnsafeRawBufferPointer(start: data, count: length)))
                return length
            }
            if transfer.body.count + length > transfer.request.maxResponseBytes {
                transfer.exceeded = true
                return 0  // aborts the transfer with CURLE_WRITE_ERROR
            }
            transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
            return length
        }
        _ = Shim_curl_easy_setopt_write_function(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            transfer.addHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
    }

    /// The options every transfer sets: URL, method (GET or HEAD), timeouts, headers, and where
    /// curl hands what it receives.
    private func configure() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        errorBytes[0] = 0
        _ = Shim_curl_easy_setopt_string(easy, CURLOPT_URL, request.url)
        let ms = max(1, Int(request.timeout.components.seconds * 1000 + request.timeout.components.attoseconds / 1_000_000_000_000_000))
        _ = Shim_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, ms)
        _ = Shim_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(ms, 5000))
        // NOBODY 0 turns a handle's HEAD back into a GET.
        if request.method == "HEAD" || request.method == "GET" { _ = Shim_curl_easy_setopt_long(easy, CURLOPT_NOBODY, request.method == "HEAD" ? 1 : 0) }
        for header in request.headers { headerList = curl_slist_append(headerList, "\(header.name): \(header.value)") }
        _ = Shim_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerList.map { UnsafeMutableRawPointer($0) })
        _ = Shim_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        _ = Shim_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me)
    }

    /// One header line as curl hands it over ("Name: value\r\n"), parsed at the byte level:
    /// Foundation's string trimming showed up in profiles of cold verifications.
    private func addHeaderLine(_ raw: UnsafeRawBufferPointer) {
        var end = raw.count
        while end > 0, raw[end - 1] == 0x0A || raw[end - 1] == 0x0D { end -= 1 }
        if end >= 5, raw[0] == UInt8(ascii: "H"), raw[1] == UInt8(ascii: "T"), raw[2] == UInt8(ascii: "T"),
           raw[3] == UInt8(ascii: "P"), raw[4] == UInt8(ascii: "/") {
            // A new response begins (after a redirect): keep only the final response's headers.
            headerBlock.removeAll(keepingCapacity: true)
            headerFields.removeAll(keepingCapacity: true)
            return
        }
        guard let colon = (0..<end).first(where: { raw[$0] == UInt8(ascii: ":") }) else { return }
        var start = colon + 1
        while start < end, raw[start] == 0x20 || raw[start] == 0x09 { start += 1 }
        var stop = end
        while stop > start, raw[stop - 1] == 0x20 || raw[stop - 1] == 0x09 { stop -= 1 }
        // Room for a registry's usual response head at once, not by doubling from one.
        if headerBlock.isEmpty { headerBlock.reserveCapacity(512) }
        if headerFields.isEmpty { headerFields.reserveCapacity(12) }
        let nameStart = headerBlock.count
        headerBlock.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<colon]))
        let valueStart = headerBlock.count
        headerBlock.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<stop]))
        headerFields.append(TransportResponse.Field(name: nameStart..<valueStart, value: valueStart..<headerBlock.count))
    }

    /// Whether the response status so far is 2xx (streaming only delivers successful bodies).
    func streamingStatus() -> Bool {
        var status = 0
        _ = Shim_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return (200..<300).contains(status)
    }

    func finish(_ code: CURLcode) {
        let result: Result<TransportResponse, TransportError>
        // Parsed only to name the host in an error: not on the path every response takes.
        var host: String { URLComponents(string: request.url)?.host ?? request.url }
        if code == CURLE_OK {
            var status = 0
            _ = Shim_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            result = .success(TransportResponse(status: status, block: headerBlock, fields: headerFields, body: body))
        } else if exceeded {
            result = .failure(TransportError(.tooLarge, "response from \(host) exceeds the \(request.maxResponseBytes)-byte limit"))
        } else if code == CURLE_OPERATION_TIMEDOUT {
            result = .failure(TransportError(.timeout, "\(request.method) \(host) timed out after \(request.timeout)"))
        } else {
            let detail = String(cString: errorBytes)
            result = .failure(TransportError(.connection, "\(request.method) \(host): \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)"))
        }
        continuation?.resume(returning: result)
        continuation = nil
    }

    /// The caller was cancelled: answer it now; the handle is already out of the multi.
    func abandon() {
        let host = URLComponents(string: request.url)?.host ?? request.url
        continuation?.resume(returning: .failure(TransportError(.cancelled, "\(request.method) \(host) abandoned: nobody waits for the answer any more")))
        continuation = nil
    }
}

/// curl's `--connect-to` for the whole process, from `RATIFY_CONNECT_TO`
/// (`HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT`, comma-separated): requests for HOST:PORT are sent
/// to the other address while URLs, Host headers, TLS name checks and credentials still name
/// HOST. For reaching a registry by its real name through a tunnel or a local stand-in (the
/// tests reach `<account>.dkr.ecr.<region>.amazonaws.com` on loopback this way); whoever sets
/// the environment could change DNS as well, so it grants nothing new.
public enum ConnectTo {
    /// A curl string list, immutable once built.
    struct List: @unchecked Sendable {
        let entries: [String]
        let pointer: UnsafeMutablePointer<curl_slist>?
    }

    private static let state = Mutex<List>(build((ProcessInfo.processInfo.environment["RATIFY_CONNECT_TO"] ?? "").split(separator: ",").map(String.init)))

    /// Every list ever built stays allocated: a transfer configured with an older one may still
    /// be running. Entries are few and change rarely (startup, tests).
    private static func build(_ entries: [String]) -> List {
        let valid = entries.filter { $0.split(separator: ":", omittingEmptySubsequences: false).count == 4 }
        var pointer: UnsafeMutablePointer<curl_slist>?
        for entry in valid { pointer = curl_slist_append(pointer, entry) }
        return List(entries: valid, pointer: pointer)
    }

    static var list: UnsafeMutablePointer<curl_slist>? { state.withLock { $0.pointer } }

    /// Adds entries for this process (tests in one process cannot set the environment in time).
    public static func add(_ entries: [String]) {
        state.withLock { current in current = build(current.entries + entries) }
    }
}
