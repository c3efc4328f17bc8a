import Core
import Foundation
import Synchronization

/// The sigstore trusted root of cosign verifiers that name none (and RATIFY_COSIGN_TRUSTED_ROOT is
/// unset): the public-good root compiled into the binary, replaced by what a TUF refresh verified
/// (`ratify serve --tuf-mirror`). Read when a configuration is built.
public enum DefaultTrust {
    public struct Current: Sendable {
        public let root: TrustedRoot?
        public let source: String
    }

    static let embedded = Current(root: PublicGoodTrustedRoot.root,
                                  source: "embedded public-good (\(PublicGoodTrustedRoot.source), \(PublicGoodTrustedRoot.date))")
    private static let state = Mutex(embedded)

    public static var current: Current { state.withLock { $0 } }

    /// Installs a root a TUF refresh verified.
    public static func set(_ root: TrustedRoot, source: String) { state.withLock { $0 = Current(root: root, source: source) } }

    /// Back to the embedded root (tests).
    public static func reset() { state.withLock { $0 = embedded } }
}
