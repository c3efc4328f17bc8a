import Core
import Foundation
import Synchronization

/// Serves the current server `TLSContext` and rebuilds it when the certificate, key or client CA
/// files change (Ratify's `RATIFY_CERT_ROTATION`). A change that does not load — a half-written
/// secret, a key that does not match — is reported and the previous context keeps serving.
/// Connections already open keep the context they were made with, so rotation drops nothing.
public final class ReloadingTLSContext: Sendable {
    public enum Event: Sendable {
        case reloaded
        case reloadFailed(TLSError)
    }

    public let configuration: TLSServerConfiguration
    private let state: Mutex<(context: TLSContext, files: TLSFileSnapshot)>
    private let watching: Mutex<PollingThread?> = Mutex(nil)
    private let onEvent: @Sendable (Event) -> Void

    public init(configuration: TLSServerConfiguration,
                onEvent: @escaping @Sendable (Event) -> Void = { _ in }) throws(TLSError) {
        let files = try TLSFileSnapshot.read(configuration)
        let context = try TLSContext(server: configuration, files: files)
        self.configuration = configuration
        self.state = Mutex((context: context, files: files))
        self.onEvent = onEvent
    }

    public var current: TLSContext { state.withLock { $0.context } }

    /// Re-reads the files; swaps in a new context when they changed and load cleanly.
    /// Returns true when a new context was installed.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        let files: TLSFileSnapshot
        do {
            files = try TLSFileSnapshot.read(configuration)
        } catch {
            onEvent(.reloadFailed(error))
            return false
        }
        if state.withLock({ $0.files == files }) { return false }
        do {
            let context = try TLSContext(server: configuration, files: files)
            state.withLock { $0 = (context: context, files: files) }
            onEvent(.reloaded)
            return true
        } catch {
            // Remember the bad snapshot so a broken file is reported once, not on every poll.
            state.withLock { $0.files = files }
            onEvent(.reloadFailed(error))
            return false
        }
    }

    /// Polls the files on a thread of its own — not a dispatch queue, whose threads on Linux are
    /// Swift's cooperative pool. Polling, rather than inotify, follows Kubernetes' symlink swaps of
    /// secret volumes without special cases.
    public func startWatching(interval: Duration) {
        let watcher = PollingThread(name: "ratify-tls-reload", interval: interval) { [weak self] in
            guard let self else { return false }
            self.reloadIfChanged()
            return true
        }
        watching.withLock { $0?.stop(); $0 = watcher }
    }

    public func stopWatching() {
        watching.withLock { $0?.stop(); $0 = nil }
    }

    deinit { watching.withLock { $0?.stop() } }
}
