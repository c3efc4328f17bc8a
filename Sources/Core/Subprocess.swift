import Foundation
import Synchronization

/// What running a plugin executable gave.
public enum SubprocessOutcome: Sendable, Equatable {
    /// It ran to its end: exit status and what it wrote.
    case exited(status: Int32, stdout: [UInt8], stderr: [UInt8])
    /// It did not finish before the deadline and was killed.
    case timedOut
    /// It wrote more than the limit and was killed.
    case outputTooLarge(limit: Int)
    /// It could not be started (missing, not executable, not a program).
    case notStarted(String)
}

/// Runs an executable with arguments, an environment and stdin, within a deadline: the edge
/// through which verification plugins (Notary Project plugins, Ratify plugins) are reached.
/// Injected, so verifiers stay testable without processes.
public protocol SubprocessRunning: Sendable {
    func run(_ path: String, arguments: [String], environment: [String: String]?, input: [UInt8],
             deadline: ContinuousClock.Instant, maxOutputBytes: Int) async -> SubprocessOutcome
}

/// `SubprocessRunning` over Foundation's `Process`. Waiting and reading happen on threads of
/// their own, never on Swift's cooperative pool; a process past its deadline or its output
/// limit is killed with SIGKILL (a child may inherit an ignored SIGTERM).
public struct ProcessSubprocessRunner: SubprocessRunning {
    public init() {}

    public func run(_ path: String, arguments: [String], environment: [String: String]?, input: [UInt8],
                    deadline: ContinuousClock.Instant, maxOutputBytes: Int) async -> SubprocessOutcome {
        let remaining = deadline - .now
        guard remaining > .zero else { return .timedOut }
        return await withCheckedContinuation { continuation in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            if let environment { process.environment = environment }
            let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = stderr
            let state = RunState(limit: maxOutputBytes)
            do { try process.run() } catch {
                continuation.resume(returning: .notStarted("\(path) cannot be run: \(error.localizedDescription)"))
                return
            }
            let pid = process.processIdentifier
            let timer = DeadlineTimer.shared.schedule(after: remaining) {
                state.mark(.timedOut)
                kill(pid, SIGKILL)
            }
            let group = DispatchGroup()
            for (pipe, isError) in [(stdout, false), (stderr, true)] {
                group.enter()
                Thread.detachNewThread {
                    let handle = pipe.fileHandleForReading
                    while true {
                        let chunk = handle.availableData
                        if chunk.isEmpty { break }
                        if !state.append(Array(chunk), toError: isError) {
                            kill(pid, SIGKILL)
                            break
                        }
                    }
                    group.leave()
                }
            }
            Thread.detachNewThread {
                // Write stdin, then close it; a plugin that exits without reading must not make us fail.
                signal(SIGPIPE, SIG_IGN)
                try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
                try? stdin.fileHandleForWriting.close()
                process.waitUntilExit()
                // Cancelled as soon as the process is reaped: its pid may be reused.
                DeadlineTimer.shared.cancel(timer)
                // The output is read to its end, but not past the deadline: a child the plugin
                // left behind can hold the pipes open, and must not hold the verification.
                let left = max(deadline - .now, .milliseconds(200))
                if group.wait(timeout: .now() + .milliseconds(Int(left / .milliseconds(1)))) == .timedOut {
                    state.mark(.timedOut)
                }
                continuation.resume(returning: state.outcome(status: process.terminationStatus))
            }
        }
    }

    private final class RunState: Sendable {
        private struct Buffers {
            var stdout: [UInt8] = []
            var stderr: [UInt8] = []
            var verdict: SubprocessOutcome?
        }
        private let buffers = Mutex(Buffers())
        private let limit: Int

        init(limit: Int) { self.limit = limit }

        func mark(_ outcome: SubprocessOutcome) {
            buffers.withLock { if $0.verdict == nil { $0.verdict = outcome } }
        }

        /// False once the output passes the limit.
        func append(_ bytes: [UInt8], toError: Bool) -> Bool {
            buffers.withLock { b in
                if toError { b.stderr += bytes } else { b.stdout += bytes }
                guard b.stdout.count + b.stderr.count <= limit else {
                    if b.verdict == nil { b.verdict = .outputTooLarge(limit: limit) }
                    return false
                }
                return true
            }
        }

        func outcome(status: Int32) -> SubprocessOutcome {
            buffers.withLock { b in b.verdict ?? .exited(status: status, stdout: b.stdout, stderr: b.stderr) }
        }
    }
}
