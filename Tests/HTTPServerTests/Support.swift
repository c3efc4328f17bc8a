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

func startServer(tls: ReloadingTLSContext? = nil, sleepers: SleepersStarted? = nil, configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> HTTPServer {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, tls: tls)
    configure(&configuration)
    return try HTTPServer(configuration: configuration, handler: EchoHandler(sleepers: sleepers))
}
