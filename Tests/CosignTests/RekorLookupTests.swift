import Core
import Cosign
import Foundation
import HTTPClient
import JSON
import Testing
import TestSupport

/// Ratify's `rekorURL`: a signature without a Rekor bundle, under a policy that requires the log,
/// is looked up in Rekor (Tests/Support/rekor_server.py, a test double serving real entries
/// signed by the test log key) and verified like a bundled one — or fails with the reason,
/// within the deadline.
@Suite(.serialized) struct RekorLookupTests {
    static let server = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Support/rekor_server.py").path

    /// Starts the double with `bundles`; returns its base URL and the process group.
    static func rekor(_ sigs: SignatureFixtures, bundles: [String], delay: Double = 0) throws -> (String, ChildProcesses) {
        let file = sigs.directory.appendingPathComponent("rekor-\(UUID().uuidString).json")
        try Data(JSONWriter.encode(.array(bundles.map { .string($0) }))).write(to: file)
        let port = try freePort(), children = ChildProcesses()
        try children.start("/usr/bin/env", ["python3", server, String(port), file.path, String(delay)])
        try waitForPort(port)
        return ("http://127.0.0.1:\(port)", children)
    }

    /// Counts what reaches Rekor.
    final class CountingFetcher: HTTPFetching, @unchecked Sendable {
        let inner = CurlFetcher()
        private let lock = NSLock()
        private var count = 0
        var calls: Int { lock.withLock { count } }
        func fetch(_ url: String, body: [UInt8]?, contentType: String?, timeout: Duration, maxBytes: Int) async throws -> [UInt8] {
            lock.withLock { count += 1 }
            return try await inner.fetch(url, body: body, contentType: contentType, timeout: timeout, maxBytes: maxBytes)
        }
    }

    func verdict(_ sigs: SignatureFixtures, registry: LocalRegistry, image: PushedContent, base: String, seconds: Int = 10,
                 keyFile: String? = nil, fetcher: any HTTPFetching = CurlFetcher()) async throws -> VerificationResult {
        let fixtures = OCIFixtures(pusher: registry, maintainTagSchema: true)
        // The signature travels without its bundle: only Rekor knows the entry.
        try await offPool {
            try fixtures.pushCosignSignatures("app", for: image, layers: [(payload: sigs.payload, annotations: [
                CosignVerifier.signatureAnnotation: sigs.signatures["ec256"]!])])
        }
        let config = #"{"name":"cosign","trustedRoot":"\#(sigs.directory.appendingPathComponent("trusted_root.json").path)","trustPolicies":[{"name":"tlog","scopes":["*"],"keys":[{"file":"\#(keyFile ?? sigs.key("ec256"))"}],"tLogVerify":true,"rekorURL":"\#(base)"}]}"#
        let cosign = CosignVerifier(config: try CosignVerifierConfig.parse(try JSONParser.parse(config), path: "v").0, rekor: RekorLookup(fetcher: fetcher))
        let executor = VerificationExecutor(store: cosignStore(), verifiers: [cosign], policy: ConfigPolicy())
        return try await executor.verify(key: "\(registry.host)/app:signed", deadline: .now + .seconds(seconds))
    }

    @Test func anEntryFoundInRekorIsVerifiedLikeABundledOne() async throws {
        let (registry, images, sigs) = try await CosignVerifierTests().setUp()
        defer { registry.stop() }
        // A decoy entry for the same content (another signature) comes first.
        let (base, children) = try Self.rekor(sigs, bundles: [sigs.bundles["otherSignature"]!, sigs.bundles["valid"]!])
        defer { children.stopAll() }
        let result = try await verdict(sigs, registry: registry, image: images["signed"]!, base: base)
        #expect(result.isSuccess, "\(result.reports.first?.message ?? "")")
        let summary = result.reports.first?.extensions?["signatures"]?.arrayValue?.first?["verifications"]?.arrayValue?.first?["summary"]
        #expect(summary?.arrayValue?.contains(.string("Rekor entry looked up in Rekor at \(base) and verified")) == true, "\(String(describing: summary))")
    }

    @Test func noEntryOrAnUntrustedLogFails() async throws {
        let (registry, images, sigs) = try await CosignVerifierTests().setUp()
        defer { registry.stop() }
        let (empty, emptyServer) = try Self.rekor(sigs, bundles: [])
        defer { emptyServer.stopAll() }
        let none = try await verdict(sigs, registry: registry, image: images["signed"]!, base: empty)
        #expect(!none.isSuccess && (none.reports.first?.message.contains("has no entry for content sha256:") ?? false), "\(none.reports.first?.message ?? "")")
        // An entry signed by a log the trusted root does not hold is found, and refused.
        let (rogue, rogueServer) = try Self.rekor(sigs, bundles: [sigs.bundles["unknownLog"]!])
        defer { rogueServer.stopAll() }
        let untrusted = try await verdict(sigs, registry: registry, image: images["signed"]!, base: rogue)
        #expect(!untrusted.isSuccess && (untrusted.reports.first?.message.contains("not in the trusted root") ?? false), "\(untrusted.reports.first?.message ?? "")")
    }

    /// Rekor is asked only for a signature that passed every local check: a signature by an
    /// untrusted key never costs a lookup (nor leaks its hash to the log).
    @Test func onlyLocallyValidSignaturesAreLookedUp() async throws {
        let (registry, images, sigs) = try await CosignVerifierTests().setUp()
        defer { registry.stop() }
        let (base, children) = try Self.rekor(sigs, bundles: [sigs.bundles["valid"]!])
        defer { children.stopAll() }
        let counting = CountingFetcher()
        let untrusted = try await verdict(sigs, registry: registry, image: images["signed"]!, base: base, keyFile: sigs.directory.appendingPathComponent("other.pub").path, fetcher: counting)
        #expect(!untrusted.isSuccess && counting.calls == 0, "\(counting.calls) Rekor calls")
        let trusted = try await verdict(sigs, registry: registry, image: images["signed"]!, base: base, fetcher: counting)
        #expect(trusted.isSuccess && counting.calls == 2, "search + one entry: \(counting.calls)")
    }

    @Test func aLookupThatOutlivesTheDeadlineFailsClosed() async throws {
        let (registry, images, sigs) = try await CosignVerifierTests().setUp()
        defer { registry.stop() }
        let (slow, children) = try Self.rekor(sigs, bundles: [sigs.bundles["valid"]!], delay: 30)
        defer { children.stopAll() }
        // Fails closed either way: a failing report, or — when the failure is reached only
        // after the deadline — a timeout error (such a failure is not cached as a verdict).
        do {
            let result = try await verdict(sigs, registry: registry, image: images["signed"]!, base: slow, seconds: 2)
            #expect(!result.isSuccess)
            #expect(result.reports.first?.message.contains("did not answer before the verification deadline") == true, "\(result.reports.first?.message ?? "")")
        } catch {
            #expect("\(error)".contains("VERIFY_TIMEOUT"), "\(error)")
        }
    }
}
