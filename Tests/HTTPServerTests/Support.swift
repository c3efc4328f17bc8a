import Foundation
import HTTPServer
import Synchronization
import TLS

/// Counts `/sleep/` requests whose handler has started, so a test can wait until a request is
/// really in flight (accepted *and* read) rather than guess with a sleep.
final class SleepersStarted: Sendable {
    let count = Atomic<Int>(0)
}

/// Echoes what it received; `/sleep/<ms>` answers after that many milliseconds, `/big/<n>` with
/// n bytes.
struct EchoHandler: HTTPHandler {
    var sleepers: SleepersStarted? = nil

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        if request.path.hasPrefix("/sleep/"), let ms = Int(request.path.dropFirst("/sleep/".count)) {
            sleepers?.count.add(1, ordering: .sequentiallyConsistent)
            try? await Task.sleep(for: .milliseconds(ms))
        }
        if request.path.hasPrefix("/big/"), let bytes = Int(request.path.dropFirst("/big/".count)) {
            return .text(.ok, String(repeating: "x", count: bytes))
        }
        return .text(.ok, "\(request.method) \(request.target) \(request.body.count)")
    }
}

/// Who runs the event loops: their own threads, or a host's (`HTTPServerConfiguration.loopHost`).
enum LoopMode: String, CaseIterable, Sendable {
    case ownThreads, hosted
}

/// A host as the registry transport is one, without the transport: a thread that polls the
/// loop's descriptor (waiting no longer than the loop allows) and turns it, until the loop says
/// it has stopped; then the thread ends.
final class PollingHost: Sendable {
    /// Threads of this host still turning a loop.
    let running = Atomic<Int>(0)

    func host(_ loop: HostedEventLoop) {
        running.add(1, ordering: .sequentiallyConsistent)
        let thread = Thread { [self] in
            var readable = false
            while loop.turn(readable) {
                var entry = pollfd(fd: loop.descriptor, events: Int16(POLLIN), revents: 0)
                readable = poll(&entry, 1, loop.hasPendingWork() ? 0 : loop.maxWaitMilliseconds) > 0
            }
            running.subtract(1, ordering: .sequentiallyConsistent)
        }
        thread.name = "test-host-" + loop.name
        thread.start()
    }
}

func startServer(tls: ReloadingTLSContext? = nil, sleepers: SleepersStarted? = nil, mode: LoopMode = .ownThreads,
                 configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> HTTPServer {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, tls: tls)
    if mode == .hosted { configuration.loopHost = PollingHost().host }
    configure(&configuration)
    return try HTTPServer(configuration: configuration, handler: EchoHandler(sleepers: sleepers))
}
