import Foundation
import JSON

/// Keeps one kind's objects current: list, then watch from the list's resourceVersion
/// (bookmarks move it along), relist on `410 Gone`, reconnect with capped exponential backoff
/// on any other failure. `onChange` runs after the initial list and after every event that
/// changed a spec (status-only updates — including our own status writes — do not count).
public final class ResourceWatcher: @unchecked Sendable {
    public let kind: RatifyKind
    let client: KubeClient
    let onChange: @Sendable () -> Void
    private let lock = NSLock()
    private var objects: [String: ResourceObject] = [:]
    private var resourceVersion = ""
    private var task: Task<Void, Never>?
    /// Lists performed (for tests and logs): 1 + relists.
    public private(set) var lists = 0

    public init(kind: RatifyKind, client: KubeClient, onChange: @escaping @Sendable () -> Void) {
        self.kind = kind
        self.client = client
        self.onChange = onChange
    }

    public var snapshot: [ResourceObject] { lock.withLock { Array(objects.values) } }

    public func start(onError: @escaping @Sendable (KubeError) -> Void) {
        task = Task { [self] in
            var backoff = Duration.milliseconds(250)
            var needList = true
            while !Task.isCancelled {
                do throws(KubeError) {
                    if needList {
                        try await relist()
                        needList = false
                    }
                    let version = lock.withLock { resourceVersion }
                    try await client.watch(kind.collectionPath, resourceVersion: version) { [self] event in handle(event) }
                    backoff = .milliseconds(250)  // the server ended the watch normally: resume from the last version
                } catch {
                    if error.code == .gone {
                        needList = true
                        continue
                    }
                    onError(error)
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(30))
                    needList = true
                }
            }
        }
    }

    public func stop() { task?.cancel() }

    func relist() async throws(KubeError) {
        let (items, version) = try await client.list(kind.collectionPath)
        let listed = Dictionary(items.compactMap { ResourceObject(kind: kind, $0) }.map { ($0.key, $0) }) { $1 }
        lock.withLock {
            objects = listed
            resourceVersion = version
            lists += 1
        }
        onChange()
    }

    func handle(_ event: WatchEvent) {
        if let version = event.object["metadata"]?["resourceVersion"]?.stringValue, event.kind != .error {
            lock.withLock { resourceVersion = version }
        }
        guard event.kind != .bookmark, event.kind != .error, let object = ResourceObject(kind: kind, event.object) else { return }
        let changed: Bool = lock.withLock {
            let previous = objects[object.key]
            if event.kind == .deleted {
                objects[object.key] = nil
                return previous != nil
            }
            objects[object.key] = object
            return previous == nil || previous?.spec != object.spec
        }
        if changed { onChange() }
    }
}
