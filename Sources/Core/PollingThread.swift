import Foundation
import Synchronization

/// Runs `tick` every `interval` on a thread of its own (never on Swift's cooperative pool, which
/// on Linux shares its threads with dispatch) until stopped or until `tick` returns false.
public final class PollingThread: Sendable {
    private let condition = NSCondition()
    private let stopped = Mutex(false)

    public init(name: String, interval: Duration, tick: @escaping @Sendable () -> Bool) {
        let thread = Thread { [self] in
            while self.sleep(for: interval), tick() {}
        }
        thread.name = name
        thread.start()
    }

    /// Sleeps for `interval`; false once stopped.
    private func sleep(for interval: Duration) -> Bool {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        condition.lock()
        defer { condition.unlock() }
        if stopped.withLock({ $0 }) { return false }
        _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
        return !stopped.withLock { $0 }
    }

    public func stop() {
        condition.lock()
        stopped.withLock { $0 = true }
        condition.signal()
        condition.unlock()
    }
}
