import Core
import Cosign
import Synchronization
import Foundation
import HTTPClient
import Logging

/// Keeps the default sigstore trusted root current through TUF (`ratify serve --tuf-mirror`):
/// `trusted_root.json` is fetched through a verified TUF refresh at start and every `interval`;
/// a new one replaces the default (`DefaultTrust`) and `onChange` rebuilds the configuration.
/// When the mirror cannot be reached or refuses verification, the previous root — the cached,
/// else the embedded one — stays, with a warning and a failed-refresh count.
public final class TrustRefresher: Sendable {
    let client: TUFClient
    let mirror: String
    let logger: Logger
    let onResult: @Sendable (Bool) -> Void
    let task = Mutex<Task<Void, Never>?>(nil)

    /// `initialRoot`: the TUF root.json trust starts from; nil, sigstore's (compiled in).
    public init(mirror: String, initialRoot: [UInt8]?, cacheDirectory: String, logger: Logger,
                onResult: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let base = mirror.hasSuffix("/") ? String(mirror.dropLast()) : mirror
        self.mirror = base
        client = TUFClient(metadataURL: base, targetsURL: base + "/targets", initialRoot: initialRoot ?? Array(PublicGoodTrustedRoot.tufRoot.utf8),
                           cacheDirectory: cacheDirectory, fetcher: CurlFetcher())
        self.logger = logger
        self.onResult = onResult
    }

    /// One refresh; true when the default root changed.
    @discardableResult
    public func refreshOnce(timeout: Duration = .seconds(30)) async -> Bool {
        let bytes: [UInt8]
        do throws(TUFError) {
            bytes = try await client.refresh(target: "trusted_root.json", deadline: .now + timeout)
        } catch {
            onResult(false)
            logger.warning("TUF refresh from \(mirror) failed; keeping \(DefaultTrust.current.source)", metadata: ["error": "\(error)"])
            return false
        }
        onResult(true)
        let digest = Digest.of(bytes).hex
        guard !DefaultTrust.current.source.contains(digest) else { return false }
        let root: TrustedRoot
        do { root = try TrustedRoot.parse(bytes, source: "trusted_root.json from \(mirror)") } catch {
            logger.warning("TUF target trusted_root.json from \(mirror) is not a usable trusted root; keeping \(DefaultTrust.current.source)", metadata: ["error": "\(error)"])
            return false
        }
        DefaultTrust.set(root, source: "TUF \(mirror) trusted_root.json sha256:\(digest)")
        logger.info("sigstore trusted root refreshed through TUF", metadata: ["mirror": "\(mirror)", "sha256": "\(digest)"])
        return true
    }

    /// Refreshes every `interval`; `onChange` rebuilds the configuration when the root changed.
    public func start(interval: Duration, onChange: @escaping @Sendable () async -> Void) {
        let next = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                if await refreshOnce() { await onChange() }
            }
        }
        task.withLock { $0?.cancel(); $0 = next }
    }

    public func stop() { task.withLock { $0?.cancel(); $0 = nil } }
}
