import Core
import Foundation
import JSON
import Logging
import Configuration
import Registry
import Testing
import TestSupport

/// Issue #18 end to end: real SBOMs and vulnerability reports (Ratify's, syft's, trivy's test
/// data) attached as referrers in docker-registry, a config.json as Ratify users write it, and the
/// ProviderResponse the server answers.
@Suite(.serialized) struct SupplyChainWiringTests {
    static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Conformance/supply-chain")

    static func file(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: data.appendingPathComponent(path))) }

    static func now(offset: TimeInterval = 0) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date().addingTimeInterval(offset))
    }

    struct Images {
        var good: PushedContent, zlib: PushedContent, unsignedSBOM: PushedContent, vulnerable: PushedContent, staleReport: PushedContent
        var truststore: String
    }

    /// good: a signed SBOM (Ratify's bom.json) and trivy's alpine report (MEDIUM findings), fresh;
    /// zlib: syft's SBOM of alpine (Zlib, GPL), signed; unsignedSBOM: bom.json without a signature;
    /// vulnerable: Ratify's trivy report (CRITICAL, CVE-2021-36159); staleReport: a report from 2023.
    static func seed(_ registry: LocalRegistry) throws -> Images {
        let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
        let spdx = "application/spdx+json", sarif = "application/sarif+json"
        let good = try oci.pushImage("app", tag: "good")
        let goodSBOM = try oci.attach("app", to: good, artifactType: spdx, layers: [(spdx, try file("ratify/sbom/ratify-sbom-bom.spdx.json"))])
        try oci.attach("app", to: good, artifactType: sarif, layers: [(sarif, try file("trivy/trivy-alpine-310.sarif.json"))],
                       annotations: ["org.opencontainers.image.created": now()])
        let zlib = try oci.pushImage("app", tag: "zlib")
        let zlibSBOM = try oci.attach("app", to: zlib, artifactType: spdx, layers: [(spdx, try file("ratify/sbom/ratify-sbom-syftbom.spdx.json"))])
        let unsignedSBOM = try oci.pushImage("app", tag: "unsigned-sbom")
        try oci.attach("app", to: unsignedSBOM, artifactType: spdx, layers: [(spdx, try file("ratify/sbom/ratify-sbom-bom.spdx.json"))])
        let vulnerable = try oci.pushImage("app", tag: "vulnerable")
        try oci.attach("app", to: vulnerable, artifactType: sarif, layers: [(sarif, try file("ratify/vulnerabilityreport/ratify-trivy_scan_report.sarif.json"))],
                       annotations: ["org.opencontainers.image.created": now()])
        let staleReport = try oci.pushImage("app", tag: "stale")
        try oci.attach("app", to: staleReport, artifactType: sarif, layers: [(sarif, try file("trivy/trivy-alpine-310.sarif.json"))],
                       annotations: ["org.opencontainers.image.created": "2023-01-01T00:00:00Z"])
        // Notary Project signatures on the two SBOMs, from the independent generator.
        let fixtures = registry.directory.appendingPathComponent("notation-sbom")
        let subjects = fixtures.appendingPathExtension("subjects.json")
        try FileManager.default.createDirectory(at: fixtures, withIntermediateDirectories: true)
        try Data(JSONWriter.encode(.array([goodSBOM.descriptor, zlibSBOM.descriptor]))).write(to: subjects)
        try ProcessRunner.python(FixtureScripts.path("make_notation_fixtures.py"),
                                 [fixtures.path, goodSBOM.mediaType, goodSBOM.digest, String(goodSBOM.size), "--basic", "--subjects", subjects.path])
        for (index, sbom) in [goodSBOM, zlibSBOM].enumerated() {
            let envelope = Array(try Data(contentsOf: fixtures.appendingPathComponent("subject-\(index).jws")))
            try oci.attach("app", to: sbom, artifactType: MediaType.notarySignature, layers: [("application/jose+json", envelope)])
        }
        return Images(good: good, zlib: zlib, unsignedSBOM: unsignedSBOM, vulnerable: vulnerable, staleReport: staleReport,
                      truststore: fixtures.appendingPathComponent("truststore").path)
    }

    /// Ratify's config/config.json shape: notation, sbom (nested notation signature), vulnerabilityreport.
    static func config(_ registry: LocalRegistry, truststore: String, sbom: String = "", vulnerability: String = "") -> String {
        #"""
        {"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},
         "policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"default":"all"}}},
         "verifier":{"version":"1.0.0","plugins":[
           {"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature","verificationCerts":["\#(truststore)"],
            "trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"default","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:wabbit"],"trustedIdentities":["*"]}]}},
           {"name":"sbom","artifactTypes":"application/spdx+json","nestedReferences":"application/vnd.cncf.notary.signature"\#(sbom)},
           {"name":"vulnerabilityreport","artifactTypes":"application/sarif+json","maximumAge":"24h"\#(vulnerability)}]}}
        """#
    }

    @Test func verdictsForRealSBOMsAndReportsOverTheProviderEndpoint() async throws {
        let registry = try await offPool { try LocalRegistry() }
        defer { registry.stop() }
        let images = try await offPool { try Self.seed(registry) }
        let text = Self.config(registry, truststore: images.truststore, sbom: #","disallowedLicenses":["Zlib"]"#,
                               vulnerability: #","disallowedSeverities":["high","critical"],"denylistCVEs":["CVE-2021-44228"]"#)
        let executor = try ExecutorFactory.make(try RatifyConfig.parse(Array(text.utf8), source: "t"), generation: 1, logger: Logger(label: "t"))
        let running = try await RunningServer.start(executor: executor)
        let keys = ["good", "zlib", "unsigned-sbom", "vulnerable", "stale"].map { "\(registry.host)/app:\($0)" }
        let body = try running.json(try await running.post(verifyPath, providerRequest(keys)))
        let items = try #require(body["response"]?["items"]?.arrayValue)
        #expect(items.map { $0["value"]?["isSuccess"] } == [true, false, false, false, false], "\(items[0])")
        func reports(_ index: Int) -> [JSONValue] { items[index]["value"]?["verifierReports"]?.arrayValue ?? [] }
        func report(_ index: Int, _ type: String) -> JSONValue? { reports(index).first { $0["verifierType"]?.stringValue == type } }
        // The good image: both artifacts pass, the SBOM's signature nested under its report.
        #expect(report(0, "sbom")?["message"] == "SBOM verification success. No license or package violation found.")
        #expect(report(0, "sbom")?["nestedResults"]?.arrayValue?.first?["isSuccess"] == true)
        #expect(report(0, "vulnerabilityreport")?["extensions"]?["scanner"] == "trivy")
        // zlib: syft's SBOM names Zlib.
        #expect(report(1, "sbom")?["errorReason"] == "SBOM_VIOLATION")
        #expect(report(1, "sbom")?["extensions"]?["licenseViolations"]?.arrayValue?.first?["Name"] == "zlib")
        // An SBOM with no signature fails through nestedReferences.
        #expect(report(2, "sbom")?["isSuccess"] == false)
        #expect(report(3, "vulnerabilityreport")?["errorReason"] == "VULNERABILITY_DISALLOWED_SEVERITY")
        #expect(report(4, "vulnerabilityreport")?["errorReason"] == "REPORT_TOO_OLD")
        await running.server.shutdown(gracePeriod: .seconds(1))
    }

    /// A report over the store's blob limit (4 MiB by default) is never read into memory: the
    /// verification fails with the fetch error.
    @Test func anOversizedReportIsRefusedUnread() async throws {
        let registry = try await offPool { try LocalRegistry() }
        defer { registry.stop() }
        let image = try await offPool { () -> PushedContent in
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            let image = try oci.pushImage("app", tag: "huge-report")
            var report = Array(#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"trivy"}},"results":[],"properties":{"padding":""#.utf8)
            report += Array(repeating: UInt8(ascii: "x"), count: 5 * 1024 * 1024) + Array(#""}}]}"#.utf8)
            try oci.attach("app", to: image, artifactType: "application/sarif+json", layers: [("application/sarif+json", report)],
                           annotations: ["org.opencontainers.image.created": Self.now()])
            return image
        }
        let text = #"{"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},"policy":{"version":"1.0.0","plugin":{"name":"configPolicy"}},"verifier":{"version":"1.0.0","plugins":[{"name":"vulnerabilityreport","artifactTypes":"application/sarif+json"}]}}"#
        let executor = try ExecutorFactory.make(try RatifyConfig.parse(Array(text.utf8), source: "t"), generation: 1, logger: Logger(label: "t"))
        let items = await executor.execute(["\(registry.host)/app@\(image.digest)"], context: ProviderContext(requestID: "r", operation: .verify, deadline: .now + .seconds(30)))
        let report = items.first?.value?["verifierReports"]?.arrayValue?.first { $0["verifierType"] == "vulnerabilityreport" }
        #expect(report?["isSuccess"] == false && report?["errorReason"] == "GET_BLOB_CONTENT_FAILURE", "\(String(describing: items.first))")
    }

    /// A report whose signature is required (Ratify's notaryProjectSignatureRequired) but absent.
    @Test func aVulnerabilityReportWithoutItsRequiredSignatureFails() async throws {
        let registry = try await offPool { try LocalRegistry() }
        defer { registry.stop() }
        let images = try await offPool { try Self.seed(registry) }
        let text = Self.config(registry, truststore: images.truststore,
                               vulnerability: #","nestedReferences":"application/vnd.cncf.notary.signature""#)
        let executor = try ExecutorFactory.make(try RatifyConfig.parse(Array(text.utf8), source: "t"), generation: 1, logger: Logger(label: "t"))
        let items = await executor.execute(["\(registry.host)/app:good"], context: ProviderContext(requestID: "r", operation: .verify, deadline: .now + .seconds(30)))
        #expect(items.first?.value?["isSuccess"] == false)
        let vulnerability = items.first?.value?["verifierReports"]?.arrayValue?.first { $0["verifierType"] == "vulnerabilityreport" }
        #expect(vulnerability?["isSuccess"] == false)
    }
}
