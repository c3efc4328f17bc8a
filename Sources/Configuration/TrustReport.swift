import Cosign
import Foundation

/// What `ratify trust` prints: for each cosign verifier of a configuration, the sigstore trust it
/// uses — where it comes from, its transparency logs, CT logs, Fulcio CAs and timestamp
/// authorities — and when the first of its certificates expires.
public enum TrustReport {
    public static func lines(for config: RatifyConfig) -> [String] {
        var lines: [String] = []
        for verifier in config.verifiers {
            guard case .cosign(let cosign) = verifier else { continue }
            guard let root = cosign.trustedRoot else {
                lines.append("cosign verifier \(cosign.name): legacy key form, no sigstore trusted root")
                continue
            }
            lines.append("cosign verifier \(cosign.name): trusted root \(cosign.trustedRootSource ?? "configured")")
            lines += describe(root).map { "  " + $0 }
        }
        if lines.isEmpty {
            // The default a cosign verifier would get: the TUF-refreshed root, else the embedded one.
            let fallback = DefaultTrust.current
            lines.append("no cosign verifier configured; the default sigstore trusted root is \(fallback.source):")
            if let root = fallback.root { lines += describe(root).map { "  " + $0 } }
        }
        return lines
    }

    static func describe(_ root: TrustedRoot) -> [String] {
        let format = ISO8601DateFormatter()
        var lines = ["transparency logs: \(root.logs.keys.sorted().joined(separator: ", "))",
                     "CT logs: \(root.ctLogs.keys.sorted().joined(separator: ", "))"]
        for certificate in root.roots + root.intermediates {
            lines.append("Fulcio CA \(certificate.subjectRFC2253): valid until \(format.string(from: certificate.notAfter))")
        }
        for certificate in root.timestampAuthorities {
            lines.append("timestamp authority \(certificate.subjectRFC2253): valid until \(format.string(from: certificate.notAfter))")
        }
        if let first = (root.roots + root.intermediates + root.timestampAuthorities).min(by: { $0.notAfter < $1.notAfter }) {
            lines.append("expires: \(format.string(from: first.notAfter)) (\(first.subjectRFC2253))")
        }
        return lines
    }
}
