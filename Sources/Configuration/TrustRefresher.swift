import Core
import Cosign
import Synchronization
import Foundation
import HTTPClient
import Logging

/// Keeps the default sigstore trusted root current through TUF (`ratify serve --tuf-mirror`):
/// `trusted_root.json` is fetched through a verified TUF refresh at start and every `interval`;
/// a new one replaces the default (`DefaultTrust`) and `onChange` rebuilds the configuration.
/// When the mirror cannot be reached or refuses verification, the previous root — the last one
/// refreshed, else the embedded one — stays, with a warning and a failed-refresh count. A root is
/// "applied" only once a rebuild with it succeeded; until then every refresh offers it again.
public final class TrustRefresher: Sendable {
    let client: TUFClient
    let mirror: String
    let logger: Logger
    let onResult: @Sendable (Bool) -> Void
    /// Where the refreshed root goes: the process-wide default (`DefaultTrust`), or a test's own.
    let currentSource: @Sendable () -> String
    let install: @Sendable (TrustedRoot, String) -> Void
    let task = Mutex<Task<Void, Never>?>(nil)
    /// SHA-256 of the trusted_root.json the running configuration was built with.
    let applied = Mutex<String?>(nil)

    /// `initialRoot`: the TUF root.json trust starts from; nil, sigstore's (compiled in).
    public init(mirror: String, initialRoot: [UInt8]?, cacheDirectory: String, logger: Logger,
                onResult: @escaping @Sendable (Bool) -> Void = { _ in },
                currentSource: @escaping @Sendable () -> String = { DefaultTrust.current.source },
                install: @escaping @Sendable (TrustedRoot, String) -> Void = { DefaultTrust.set($0, source: $1) }) {
        let base = mirror.hasSuffix("/") ? String(mirror.dropLast()) : mirror
        self.mirror = base
        client = TUFClient(metadataURL: base, targetsURL: base + "/targets", initialRoot: initialRoot ?? Array(PublicGoodTrustedRoot.tufRoot.utf8),
                           cacheDirectory: cacheDirectory, fetcher: CurlFetcher())
        self.logger = logger
        self.onResult = onResult
        self.currentSource = currentSource
        self.install = install
    }

    /// One refresh; the SHA-256 of the new root when the configuration must be rebuilt with it
    /// (then `markApplied` once that succeeded), nil when nothing is to be done.
    @discardableResult
    public func refreshOnce(timeout: Duration = .seconds(30)) async -> String? {
        let bytes: [UInt8]
        do throws(TUFError) {
            bytes = try await client.refresh(target: "trusted_root.json", deadline: .now + timeout)
        } catch {
            onResult(false)
            logger.warning("TUF refresh from \(mirror) failed; keeping \(currentSource())", metadata: ["error": "\(error)"])
            return nil
        }
        onResult(true)
        let digest = Digest.of(bytes).hex
        guard applied.withLock({ $0 }) != digest else { return nil }
        if currentSource().contains(digest) { return digest }  // set before, its rebuild failed
        let root: TrustedRoot
        do { root = try TrustedRoot.parse(bytes, source: "trusted_root.json from \(mirror)") } catch {
            logger.warning("TUF target trusted_root.json from \(mirror) is not a usable trusted root; keeping \(currentSource())", metadata: ["error": "\(error)"])
            return nil
        }
        install(root, "TUF \(mirror) trusted_root.json sha256:\(digest)")
        logger.info("sigstore trusted root refreshed through TUF", metadata: ["mirror": "\(mirror)", "sha256": "\(digest)"])
        return digest
    }

    /// The configuration now runs on the root with this SHA-256.
    public func markApplied(_ digest: String) { applied.withLock { $0 = digest } }

    /// Refreshes every `interval`; `onChange` rebuilds the configuration when the root changed and
    /// returns whether that worked (if not, the next refresh tries again).
    public func start(interval: Duration, onChange: @escaping @Sendable () async -> Bool) {
        let next = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                if let digest = await refreshOnce(), await onChange() { markApplied(digest) }
            }
        }
        task.withLock { $0?.cancel(); $0 = next }
    }

    public func stop() { task.withLock { $0?.cancel(); $0 = nil } }
}
