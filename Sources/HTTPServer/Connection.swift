#if canImport(Glibc)
import Glibc
#endif
import TLS
internal import CShims

/// One client connection, confined to the event loop that accepted it. A connection serves one
/// request at a time: bytes that arrive pipelined behind a request wait in `input` until its
/// response is written, so responses always leave in request order.
final class Connection {
    enum State { case handshaking, reading, processing, writing, closed }

    unowned let loop: EventLoop
    let fd: Int32
    let id: UInt64
    let transport: Transport
    /// The peer's address (per-peer connection counts).
    let peer: String
    /// When the connection last became idle (accepted, or a response finished); nil while a
    /// request is being read, processed or answered.
    private(set) var idleSince: UInt64?
    private(set) var hasServedRequest = false
    /// Set when the server drains while this connection waits for its first request: it is closed
    /// at this monotonic time unless a request has started by then.
    private var drainCloseAt: UInt64?
    private(set) var state: State
    /// Monotonic nanoseconds at which the current stage times out.
    private(set) var deadline: UInt64

    private var input: [UInt8] = []
    private var inputStart = 0
    /// How far the chunked body of the request being read is decoded (resumed, not re-read).
    private var chunkedProgress: HTTPRequestDecoder.ChunkedProgress?
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var interest: UInt32 = EPOLLIN.rawValue
    private var registered = true
    private var requestStartedAt: UInt64?
    private var continueSent = false
    private var keepAlive = true
    private var closeAfterWrite = false
    private var headRequest = false
    private var peerGone = false

    private var configuration: HTTPServerConfiguration { loop.shared.configuration }

    init(loop: EventLoop, fd: Int32, id: UInt64, transport: Transport, peer: String) {
        self.loop = loop
        self.fd = fd
        self.id = id
        self.transport = transport
        self.peer = peer
        let now = Socket.monotonicNanoseconds()
        idleSince = now
        if case .tls = transport {
            state = .handshaking
            deadline = now + loop.shared.configuration.handshakeTimeout.nanoseconds
        } else {
            state = .reading
            deadline = now + loop.shared.configuration.idleTimeout.nanoseconds
        }
    }

    /// Between requests with nothing buffered: safe to close when draining.
    var isIdle: Bool { state == .handshaking || (state == .reading && inputStart == input.count && output.isEmpty) }

    func handle(events: UInt32) {
        if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0, state == .processing {
            // The peer is gone while its handler runs: stop listening (HUP is level-triggered and
            // would spin) and close when the response arrives.
            peerGone = true
            loop.unregister(fd)
            registered = false
            return
        }
        switch state {
        case .handshaking: advanceHandshake()
        case .reading:
            if !output.isEmpty, events & EPOLLOUT.rawValue != 0 { flush() }
            if state == .reading { readAndProcess() }
        case .writing: flush()
        // A pipelined request or the client's FIN while the handler runs: level-triggered epoll
        // would report it again and again; listen again once the response is out.
        case .processing: setInterest(0)
        case .closed: break
        }
    }

    private func advanceHandshake() {
        guard case .tls(let tls) = transport else { return }
        switch tls.handshake() {
        case .done:
            state = .reading
            deadline = min(Socket.monotonicNanoseconds() + configuration.idleTimeout.nanoseconds, drainCloseAt ?? .max)
            setInterest(EPOLLIN.rawValue)
            readAndProcess()
        case .wantRead: setInterest(EPOLLIN.rawValue)
        case .wantWrite: setInterest(EPOLLOUT.rawValue)
        case .closed: close()
        case .failed(let error):
            loop.shared.onEvent(.handshakeFailed(error))
            close()
        }
    }

    /// Enough for the largest acceptable request (a chunked one within its chunk bound).
    private var bufferCap: Int {
        let limits = configuration.limits
        return limits.maxBodyBytes + limits.maxHeaderBytes + 256 * 1024
    }

    private func readAndProcess() {
        let bufferCap = self.bufferCap
        var readClosed = false
        reading: while input.count - inputStart < bufferCap {
            switch transport.read(into: loop.scratch) {
            case .done(let count):
                input.append(contentsOf: UnsafeRawBufferPointer(rebasing: loop.scratch[0..<count]))
            case .wantRead: break reading
            case .wantWrite:
                setInterest(EPOLLOUT.rawValue)
                return
            case .closed:
                readClosed = true
                break reading
            case .failed:
                close()
                return
            }
        }
        if readClosed && inputStart == input.count {
            close()
            return
        }
        processInput()
        if readClosed && state == .reading { close() }
    }

    private func processInput() {
        guard state == .reading else { return }
        let now = Socket.monotonicNanoseconds()
        if inputStart == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 16 * 1024)
            inputStart = 0
            requestStartedAt = nil
            if idleSince == nil { idleSince = now }
            deadline = min(now + configuration.idleTimeout.nanoseconds, drainCloseAt ?? .max)
            setInterest(EPOLLIN.rawValue)
            return
        }
        switch HTTPRequestDecoder.decode(input, from: inputStart, limits: configuration.limits, progress: &chunkedProgress) {
        case .needMoreData(let expectsContinue):
            // The buffer holds as much as any acceptable request needs and still no request:
            // refuse now rather than wait (reading stops at the cap, and the socket stays readable).
            if input.count - inputStart >= bufferCap {
                loop.shared.onEvent(.requestRejected(HTTPDecodeError(.payloadTooLarge, "request larger than \(bufferCap) bytes")))
                input.removeAll()
                inputStart = 0
                chunkedProgress = nil
                respond(configuration.errorResponse(HTTPDecodeError(.payloadTooLarge, "request larger than the server accepts")), keepAlive: false)
                return
            }
            if requestStartedAt == nil {
                requestStartedAt = now
                idleSince = nil
                deadline = now + configuration.readTimeout.nanoseconds
            }
            if expectsContinue && !continueSent {
                continueSent = true
                output.append(contentsOf: HTTPResponseEncoder.continueResponse)
                flush()
            }
            if state == .reading { setInterest(EPOLLIN.rawValue | (output.isEmpty ? 0 : EPOLLOUT.rawValue)) }
        case .request(let request, let consumed):
            chunkedProgress = nil
            inputStart += consumed
            if inputStart == input.count {
                input.removeAll(keepingCapacity: input.capacity <= 16 * 1024)
                inputStart = 0
            } else if inputStart > 64 * 1024 {
                input.removeFirst(inputStart)
                inputStart = 0
            }
            state = .processing
            idleSince = nil
            hasServedRequest = true
            deadline = .max
            requestStartedAt = nil
            continueSent = false
            keepAlive = request.wantsKeepAlive
            headRequest = request.method == "HEAD"
            // Interest stays as it is while the handler runs: most clients send nothing more
            // until answered, and changing it costs two epoll_ctl calls per request. If the
            // socket does become ready meanwhile, `handle(events:)` stops listening then.
            loop.dispatch(request, fd: fd, id: id)
        case .failure(let error):
            chunkedProgress = nil
            loop.shared.onEvent(.requestRejected(error))
            input.removeAll()
            inputStart = 0
            respond(configuration.errorResponse(error), keepAlive: false)
        }
    }

    /// The handler's response for the request in flight.
    func complete(_ response: HTTPResponse) {
        guard state == .processing else { return }
        if peerGone {
            close()
            return
        }
        respond(response, keepAlive: keepAlive)
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool) {
        let persist = keepAlive && !loop.draining
        output.append(contentsOf: HTTPResponseEncoder.encode(response, keepAlive: persist, date: loop.httpDate(),
                                                             headOnly: headRequest))
        closeAfterWrite = !persist
        state = .writing
        deadline = Socket.monotonicNanoseconds() + configuration.writeTimeout.nanoseconds
        flush()
    }

    private func flush() {
        while outputOffset < output.count {
            let status = output.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[outputOffset...])) }
            switch status {
            case .done(let count):
                outputOffset += count
            case .wantWrite:
                setInterest(EPOLLOUT.rawValue)
                return
            case .wantRead:
                setInterest(EPOLLIN.rawValue)
                return
            case .closed, .failed:
                close()
                return
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        outputOffset = 0
        if state == .writing { finishResponse() }
    }

    private func finishResponse() {
        if closeAfterWrite {
            close()
            return
        }
        state = .reading
        processInput()
    }

    /// Graceful shutdown reached this connection before its first request: wait for it until
    /// `time`, no longer (a TLS handshake in progress counts as waiting).
    func drain(closingBy time: UInt64) {
        drainCloseAt = time
        deadline = min(deadline, time)
    }

    func timedOut() {
        switch state {
        case .handshaking:
            loop.shared.onEvent(.timedOut(stage: "handshake"))
            close()
        case .reading where requestStartedAt != nil:
            loop.shared.onEvent(.timedOut(stage: "read"))
            input.removeAll()
            inputStart = 0
            respond(configuration.errorResponse(HTTPDecodeError(.requestTimeout, "request not received within \(configuration.readTimeout)")),
                    keepAlive: false)
        case .reading:
            close()
        case .writing:
            loop.shared.onEvent(.timedOut(stage: "write"))
            close()
        case .processing, .closed:
            break
        }
    }

    func close() {
        guard state != .closed else { return }
        let wasProcessing = state == .processing
        state = .closed
        if case .tls(let tls) = transport, !peerGone, !wasProcessing { tls.shutdown() }
        if registered { loop.unregister(fd) }
        registered = false
        Glibc.close(fd)
        loop.remove(self)
    }

    private func setInterest(_ events: UInt32) {
        guard events != interest || !registered else { return }
        interest = events
        if registered {
            loop.setInterest(fd, events)
        } else {
            loop.reregister(fd, events)
            registered = true
        }
    }
}
