import Foundation
import Observability

/// The metrics the server records, under Ratify's names where Ratify has one.
public struct ServerMetrics: Sendable {
    public let registry: MetricsRegistry
    /// Ratify: `ratify_verification_request`, duration of a verify request in milliseconds.
    public let verificationRequest: Histogram
    /// Ratify: `ratify_mutation_request`, duration of a mutate request in milliseconds.
    public let mutationRequest: Histogram
    /// Ratify: `ratify_system_error_count`, requests answered with a systemError.
    public let systemErrors: Counter
    public let httpRequests: Counter
    public let httpDuration: Histogram
    public let tlsHandshakeFailures: Counter
    public let certificateReloads: Counter
    /// Ratify: `ratify_registry_request_count`, every request to a registry or its token service.
    public let registryRequests: Counter
    /// TUF refreshes of the sigstore trusted root, by result (success, failure).
    public let tufRefreshes: Counter
    /// The cache replicas share (Redis): lookups by outcome (hit, miss, rejected, unavailable), stores (stored, dropped).
    public let sharedCache: Counter

    static let millisecondBuckets: [Double] = [0, 10, 50, 100, 200, 300, 400, 600, 800, 1100, 1500, 2000, 3000]
    static let secondBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        self.registry = registry
        verificationRequest = registry.histogram("ratify_verification_request",
            help: "Duration of verification requests in milliseconds", buckets: Self.millisecondBuckets)
        mutationRequest = registry.histogram("ratify_mutation_request",
            help: "Duration of mutation requests in milliseconds", buckets: Self.millisecondBuckets)
        systemErrors = registry.counter("ratify_system_error_count",
            help: "Provider requests answered with a systemError")
        httpRequests = registry.counter("ratify_http_requests_total",
            help: "HTTP requests served, by listener, path and status code", labels: ["server", "path", "code"])
        httpDuration = registry.histogram("ratify_http_request_duration_seconds",
            help: "HTTP request handling time in seconds, by listener and path", labels: ["server", "path"],
            buckets: Self.secondBuckets)
        tlsHandshakeFailures = registry.counter("ratify_tls_handshake_failures_total",
            help: "TLS handshakes that failed (untrusted client certificate, protocol version, ...)")
        certificateReloads = registry.counter("ratify_tls_certificate_reloads_total",
            help: "TLS certificate reloads by result", labels: ["result"])
        registryRequests = registry.counter("ratify_registry_request_count",
            help: "Requests sent to registries, by status code (0: no response) and host", labels: ["status_code", "registry_host"])
        tufRefreshes = registry.counter("ratify_tuf_refresh_total",
            help: "TUF refreshes of the sigstore trusted root, by result", labels: ["result"])
        sharedCache = registry.counter("ratify_shared_cache_total",
            help: "Shared (Redis) cache operations by result: hit, miss, rejected, unavailable, stored, dropped", labels: ["result"])
        registry.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes") {
            Double(ProcessStats.residentBytes())
        }
    }
}

public enum ProcessStats {
    /// Current resident set size from /proc/self/statm.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
