import Foundation
import Synchronization

/// A task executor for tests that runs each job on a new thread of its own, counts the jobs and
/// marks its threads: a test can tell whether work ran on it (`isCurrent`) and how often it was
/// asked to run something (`jobs`). Stands in for the registry transport's I/O thread.
public final class ThreadPerJobExecutor: TaskExecutor, @unchecked Sendable {
    private static let marker = "thread-per-job-executor"
    private let counted = Mutex(0)

    public init() {}

    /// Jobs enqueued so far.
    public var jobs: Int { counted.withLock { $0 } }

    /// Whether the caller runs on one of this executor's threads.
    public var isCurrent: Bool { (Thread.current.threadDictionary[Self.marker] as? ObjectIdentifier) == ObjectIdentifier(self) }

    public func enqueue(_ job: consuming ExecutorJob) {
        counted.withLock { $0 += 1 }
        let unowned = UnownedJob(job)
        let thread = Thread {
            Thread.current.threadDictionary[Self.marker] = ObjectIdentifier(self)
            unowned.runSynchronously(on: self.asUnownedTaskExecutor())
        }
        thread.start()
    }
}
