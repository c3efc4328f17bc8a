import Foundation
import Synchronization

/// One thread that fires deadline actions, for `withDeadline`. `Task.sleep` would leave a
/// dispatch timer armed until its deadline even after cancellation — thousands of them per
/// second under load, each holding memory for the whole timeout. Here a cancelled deadline is
/// forgotten at once.
public final class DeadlineTimer: Sendable {
    public static let shared = DeadlineTimer()

    public struct Token: Sendable, Hashable { let id: UInt64 }

    private struct State {
        var nextID: UInt64 = 0
        var actions: [UInt64: @Sendable () -> Void] = [:]
        /// Min-heap of (deadline, id); ids whose action is gone were cancelled and are skipped.
        var heap: [(at: ContinuousClock.Instant, id: UInt64)] = []
        /// When the thread wakes next on its own. A deadline later than that needs no signal:
        /// the thread finds it then. (Signalling for every request would wake the thread twice
        /// per request, since each request's deadline, alone in the heap, is the earliest.)
        var wakeAt: ContinuousClock.Instant = .now
    }

    private let state = Mutex(State())
    private let condition = NSCondition()

    private init() {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "ratify-deadlines"
        thread.start()
    }

    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> Token {
        let at = ContinuousClock.now + delay
        let (token, earliest) = state.withLock { s -> (Token, Bool) in
            s.nextID += 1
            s.actions[s.nextID] = action
            Self.push((at, s.nextID), into: &s.heap)
            return (Token(id: s.nextID), at < s.wakeAt)
        }
        if earliest {
            condition.lock()
            condition.signal()
            condition.unlock()
        }
        return token
    }

    public func cancel(_ token: Token) {
        state.withLock { s in
            s.actions[token.id] = nil
            if s.actions.isEmpty { s.heap.removeAll(keepingCapacity: true) }
        }
    }

    private func run() {
        // The condition's lock is held from reading the heap until waiting, so a `schedule` that
        // signals in between cannot be missed.
        condition.lock()
        while true {
            let now = ContinuousClock.now
            var due: [@Sendable () -> Void] = []
            let next: ContinuousClock.Instant? = state.withLock { s in
                while let top = s.heap.first, top.at <= now {
                    Self.pop(&s.heap)
                    if let action = s.actions.removeValue(forKey: top.id) { due.append(action) }
                }
                while let top = s.heap.first, s.actions[top.id] == nil { Self.pop(&s.heap) }
                // Set under the condition's lock, which is held until the wait: a schedule
                // that reads it and decides not to signal is found by this wait's end.
                s.wakeAt = due.isEmpty ? (s.heap.first?.at ?? now + .seconds(60)) : now
                return s.heap.first?.at
            }
            if !due.isEmpty {
                condition.unlock()
                for action in due { action() }
                condition.lock()
                continue
            }
            let wait = next.map { $0 - ContinuousClock.now } ?? .seconds(60)
            if wait > .zero {
                let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
                _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
            }
        }
    }

    private static func push(_ entry: (at: ContinuousClock.Instant, id: UInt64), into heap: inout [(at: ContinuousClock.Instant, id: UInt64)]) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].at < heap[parent].at else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func pop(_ heap: inout [(at: ContinuousClock.Instant, id: UInt64)]) {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].at < heap[smallest].at { smallest = left }
            if right < heap.count, heap[right].at < heap[smallest].at { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
