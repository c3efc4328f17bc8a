import Core
import Foundation
import JSON
import JSONSchema
@testable import SupplyChain
import Testing
import TestSupport

/// Real tool output (Ratify's, syft's, trivy's and grype's test data; Tests/Conformance/SOURCES.md)
/// with the verdicts Ratify's own tests expect.
let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Conformance/supply-chain")

func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: data.appendingPathComponent(path))) }
func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

let syftSBOM = "ratify/sbom/ratify-sbom-syftbom.spdx.json"
let trivySARIF = "ratify/vulnerabilityreport/ratify-trivy_scan_report.sarif.json"
let subject = try! ImageReference.parse("registry.test/app@sha256:" + String(repeating: "a", count: 64))
let referrerDigest = try! Digest.parse("sha256:" + String(repeating: "b", count: 64))

func emptyManifest() throws -> Manifest {
    try Manifest.parse(Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.utf8), mediaType: nil)
}

func reporter(_ type: String) -> Reporter {
    Reporter(subject: subject, referrer: Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: referrerDigest, size: 1, artifactType: type),
             name: "verifier-\(type)", type: type)
}

@Suite struct SBOMTests {
    func config(_ text: String) throws -> SBOMVerifierConfig {
        try SBOMVerifierConfig.parse(try json(text), path: "verifier.plugins[0]").0
    }

    func denied(_ licenses: [String] = [], _ packages: [(String, String?)] = []) -> ([String], [String]) {
        let document = try! SBOMDocument.spdxJSON(try! bytes(syftSBOM))
        let (l, p) = SBOMVerifier.violations(document.packages, disallowedLicenses: licenses,
                                             disallowedPackages: packages.map { .init(name: $0.0, version: $0.1) })
        return (l.map { "\($0.name) \($0.version) \($0.license)" }, p.map { "\($0.name) \($0.version) \($0.license)" })
    }

    /// Ratify's TestGetViolations on syftbom.spdx.json, case by case.
    @Test func ratifysViolationCases() throws {
        #expect(denied(["MPL"]) == ([], []))
        #expect(denied([], [("libcrypto3", nil)]) == ([], ["libcrypto3 3.0.7-r2 Apache-2.0"]))
        #expect(denied(["BSD-3-Clause", "Zlib"], [("libcrypto3", "3.0.7-r2")])
                == (["libc-utils 0.7.2-r3 BSD-2-Clause AND LicenseRef-AND AND BSD-3-Clause", "zlib 1.2.13-r0 Zlib"], ["libcrypto3 3.0.7-r2 Apache-2.0"]))
        #expect(denied([], [("", "3.0.7-r2")]) == ([], []))
        #expect(denied(["Zlib"]) == (["zlib 1.2.13-r0 Zlib"], []))
        #expect(denied(["zlib"]) == (["zlib 1.2.13-r0 Zlib"], []))
        #expect(denied([], [("libcrypto3", "3.0.7-r3")]) == ([], []))
        #expect(denied(["GPL-3.0-only"]) == ([], []))
        #expect(try SBOMDocument.spdxJSON(try bytes(syftSBOM)).packages.count == 16)
    }

    /// Ratify's TestContainsLicense.
    @Test(arguments: [("MIT", "MIT", true), ("(MIT)", "MIT", true), ("MPL-2.0 AND LicenseRef-AND AND MIT", "MPL", false),
                      ("MPL-2.0 AND LicenseRef-AND AND MIT", "MPL-2.0", true), ("MIT AND LicenseRef-AND AND MPL-2.0", "MPL-2.0", true),
                      ("MIT AND LicenseRef-BSD AND GPL-2.0-or-later", "GPL-2.0", false),
                      ("MIT AND (LicenseRef-BSD OR GPL-2.0-or-later)", "GPL-2.0-or-later", true),
                      ("MIT AND (LicenseRef-BSD OR GPL-2.0-or-later)", "(LicenseRef-BSD OR GPL-2.0-or-later)", true)])
    func ratifysLicenseTermCases(expression: String, disallowed: String, expected: Bool) {
        let package = SBOMPackage(name: "p", version: "1", license: expression)
        #expect(!SBOMVerifier.violations([package], disallowedLicenses: [disallowed], disallowedPackages: []).licenses.isEmpty == expected)
    }

    @Test func reportsCarryRatifysMessagesAndExtensions() throws {
        let document = try SBOMDocument.spdxJSON(try bytes(syftSBOM))
        let pass = SBOMVerifier.evaluate(document, config: try config(#"{"name":"verifier-sbom","type":"sbom"}"#), reporter: reporter("application/spdx+json"), now: Date())
        #expect(pass.isSuccess && pass.message == "SBOM verification success. No license or package violation found.")
        #expect(pass.extensions?["creationInfo"] == (try json(#"{"licenseListVersion":"3.20","creators":["Organization: Anchore, Inc","Tool: syft-0.76.0"],"created":"2023-11-29T01:44:41Z"}"#)))
        let fail = SBOMVerifier.evaluate(document, config: try config(#"{"name":"s","disallowedLicenses":["Zlib"],"disallowedPackages":[{"name":"musl-utils","version":"1.2.3-r4"}]}"#),
                                         reporter: reporter("application/spdx+json"), now: Date())
        #expect(!fail.isSuccess && fail.message == "SBOM validation failed" && fail.errorReason == "SBOM_VIOLATION")
        #expect(fail.extensions?["licenseViolations"] == (try json(#"[{"Name":"zlib","Version":"1.2.13-r0","License":"Zlib"}]"#)))
        #expect(fail.extensions?["packageViolations"]?.arrayValue?.first?["Name"] == "musl-utils")
    }

    @Test func maximumAgeUsesTheSBOMsCreationTime() throws {
        let document = try SBOMDocument.spdxJSON(try bytes(syftSBOM))  // created 2023-11-29T01:44:41Z
        let day = try config(#"{"name":"s","maximumAge":"24h"}"#)
        let created = try #require(Timestamp.parse("2023-11-29T01:44:41Z"))
        #expect(SBOMVerifier.evaluate(document, config: day, reporter: reporter("application/spdx+json"), now: created.addingTimeInterval(3600)).isSuccess)
        let old = SBOMVerifier.evaluate(document, config: day, reporter: reporter("application/spdx+json"), now: created.addingTimeInterval(86_401))
        #expect(!old.isSuccess && old.errorReason == "SBOM_TOO_OLD" && old.message == "SBOM is older than maximum age:[24h].")
        #expect(throws: ConfigError.self) { try config(#"{"name":"s","maximumAge":"1d"}"#) }
    }

    @Test func ratifysInvalidSBOMAndOtherToolsOutput() throws {
        let error = #expect(throws: SBOMError.self) { try SBOMDocument.spdxJSON(try bytes("ratify/sbom/ratify-sbom-invalid-bom.spdx.json")) }
        #expect(error?.description == "JSON document does not contain spdxVersion field")
        #expect(try SBOMDocument.spdxJSON(try bytes("ratify/sbom/ratify-sbom-bom.spdx.json")).packages.map(\.name) == ["demo2"])
        for file in ["trivy/trivy-conda.spdx.json", "trivy/trivy-julia.spdx.json", "syft/syft-TestSPDXJSONImageEncoder.spdx.json"] {
            #expect(try SBOMDocument.spdxJSON(try bytes(file)).packages.isEmpty == false, "\(file)")
        }
        for file in ["trivy/trivy-npm.cdx.json", "trivy/trivy-pom.cdx-1.5.json", "syft/syft-TestCycloneDxImageEncoder.cdx.json"] {
            let document = try SBOMDocument.cycloneDX(try bytes(file))
            #expect(!document.packages.isEmpty, "\(file)")
        }
        #expect(throws: SBOMError.self) { try SBOMDocument.spdxJSON(Array("{\"spdxVersion\":\"SPDX-3.0\"}".utf8)) }
        #expect(throws: SBOMError.self) { try SBOMDocument.spdxJSON(Array("[1,2".utf8)) }
        #expect(throws: SBOMError.self) { try SBOMDocument.cycloneDX(try bytes(syftSBOM)) }
    }

    /// A document past the value bound is refused, not parsed into memory.
    @Test func oversizedDocumentsAreRefused() async throws {
        // Seconds of parsing in a debug build: off the cooperative pool, which other tests need.
        let description = try await offPool { () -> String? in
            var huge = Array("{\"spdxVersion\":\"SPDX-2.3\",\"packages\":[".utf8)
            huge.reserveCapacity(8_300_000)
            for _ in 0..<4_100_000 { huge.append(UInt8(ascii: "0")); huge.append(UInt8(ascii: ",")) }
            huge += Array("0]}".utf8)
            do { _ = try SBOMDocument.spdxJSON(huge); return nil } catch { return "\(error)" }
        }
        #expect(description?.contains("not valid JSON") == true)
    }
}

@Suite struct LicenseExpressionTests {
    @Test func parsesPrecedenceWithAndParentheses() throws {
        #expect(try LicenseExpression.parse("MIT OR Apache-2.0 AND BSD-3-Clause")
                == .or(.license("MIT"), .and(.license("Apache-2.0"), .license("BSD-3-Clause"))))
        #expect(try LicenseExpression.parse("(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0")
                == .and(.or(.license("MIT"), .license("Apache-2.0")), .with("GPL-2.0-only", exception: "Classpath-exception-2.0")))
        for bad in ["", "MIT AND", "(MIT", "MIT)", "AND MIT", "MIT WITH", "MIT and Apache"] {
            #expect(throws: LicenseExpression.ParseError.self, "\(bad)") { try LicenseExpression.parse(bad) }
        }
    }

    @Test func evaluatesAgainstAllowedLicenses() throws {
        let allowed: Set<String> = ["mit", "apache-2.0", "gpl-2.0-only"]
        #expect(try LicenseExpression.parse("MIT OR GPL-3.0-only").isSatisfied(by: allowed))
        #expect(try !LicenseExpression.parse("MIT AND GPL-3.0-only").isSatisfied(by: allowed))
        #expect(try LicenseExpression.parse("(GPL-3.0-only OR Apache-2.0) AND mit").isSatisfied(by: allowed))
        #expect(try LicenseExpression.parse("GPL-2.0-only WITH Classpath-exception-2.0").isSatisfied(by: allowed))
    }
}

@Suite struct LicenseCheckerTests {
    func checker(_ allowed: [String]) throws -> LicenseCheckerVerifier {
        let list = allowed.map { "\"\($0)\"" }.joined(separator: ",")
        return LicenseCheckerVerifier(config: try LicenseCheckerConfig.parse(try json(#"{"name":"l","allowedLicenses":[\#(list)]}"#), path: "p").0)
    }

    /// Ratify's bats configs on Ratify's syft SBOM: the complete list passes, MIT alone fails.
    @Test func ratifysCompleteAndPartialLists() throws {
        let complete = try json(String(decoding: try bytes("ratify/test-config/ratify-complete_licensechecker_config.json"), as: UTF8.self))
        let allowed = complete["verifier"]?["plugins"]?.arrayValue?.first { $0["name"]?.stringValue?.contains("license") == true }?["allowedLicenses"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(allowed.count > 10)
        let document = try LicenseCheckerVerifier.read(try bytes(syftSBOM))
        #expect(document.packages.allSatisfy { (try? checker(allowed))?.isAllowed($0.license) == true })
        let mitOnly = try checker(["MIT"])
        #expect(document.packages.filter { !mitOnly.isAllowed($0.license) }.count == 14)  // all but alpine-keys and musl
    }

    /// Beyond Ratify: expressions evaluated, not compared as strings.
    @Test func expressionsAreEvaluated() throws {
        let checker = try checker(["MIT", "BSD-2-Clause", "BSD-3-Clause", "LicenseRef-AND"])
        #expect(checker.isAllowed("BSD-2-Clause AND LicenseRef-AND AND BSD-3-Clause"))
        #expect(checker.isAllowed("GPL-2.0-only OR MIT"))
        #expect(!checker.isAllowed("GPL-2.0-only AND MIT"))
        #expect(!checker.isAllowed("MIT AND (GPL"))
        #expect(!checker.isAllowed(""))
    }

    @Test func readsTagValueAsRatifyDoes() throws {
        let text = "SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\nDocumentName: localhost-5000/test-v1\nCreator: Tool: syft-0.30.1\nCreated: 2021-12-17T20:24:36Z\n\nPackageName: test-baselayout\nPackageVersion: 1.1.1-r1\nPackageLicenseConcluded: GPL-2.0-only\nPackageComment: <text>multi\nline</text>\n"
        let document = try LicenseCheckerVerifier.read(Array(text.utf8))
        #expect(document.packages == [SBOMPackage(name: "test-baselayout", version: "1.1.1-r1", license: "GPL-2.0-only")])
        #expect(try checker(["GPL-2.0-only"]).isAllowed(document.packages[0].license))
        #expect(throws: SBOMError.self) { try LicenseCheckerVerifier.read(Array("no tags here".utf8)) }
    }
}

@Suite struct VulnerabilityReportTests {
    func config(_ text: String) throws -> VulnerabilityReportConfig {
        try VulnerabilityReportConfig.parse(try json(text), path: "verifier.plugins[0]").0
    }

    func evaluate(_ file: String, _ text: String, created: String? = "2024-05-01T12:00:00Z", now: String = "2024-05-01T13:00:00Z") async throws -> VerifierReport {
        let parsed = try config(text)
        // Schema validation of a 144 KB report: seconds in a debug build, off the cooperative pool.
        return try await offPool { try Self.evaluateNow(file, parsed, created: created, now: now) }
    }

    static func evaluateNow(_ file: String, _ config: VulnerabilityReportConfig, created: String?, now: String) throws -> VerifierReport {
        let blob = try bytes(file)
        let annotations = created.map { ["org.opencontainers.image.created": $0] } ?? [:]
        let referrer = Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: referrerDigest, size: 1,
                                  artifactType: "application/sarif+json", annotations: annotations)
        let manifest = try emptyManifest()
        return VulnerabilityReportVerifier.evaluate(referrer: referrer, manifest: manifest, blob: blob, blobDigest: "sha256:blob",
                                                    config: config, reporter: reporter("application/sarif+json"),
                                                    now: Timestamp.parse(now)!)
    }

    @Test func trivysReportPassesWithoutDenialsAndFailsEachKind() async throws {
        let pass = try await evaluate(trivySARIF, #"{"name":"v"}"#)
        #expect(pass.isSuccess && pass.message == "Validation succeeded")
        #expect(pass.extensions == (try json(#"{"createdAt":"2024-05-01T12:00:00Z","scanner":"trivy"}"#)))
        let cve = try await evaluate(trivySARIF, #"{"name":"v","denylistCVEs":["cve-2021-36159","CVE-2021-44228"]}"#)
        #expect(!cve.isSuccess && cve.errorReason == "VULNERABILITY_DENIED_CVE" && cve.message == "Found denied CVEs. See extensions field for details.")
        #expect(cve.extensions?["cveViolations"] == ["cve-2021-36159"])
        let severity = try await evaluate(trivySARIF, #"{"name":"v","disallowedSeverities":["critical"]}"#)
        #expect(!severity.isSuccess && severity.errorReason == "VULNERABILITY_DISALLOWED_SEVERITY")
        #expect(severity.extensions?["severityViolations"]?.objectValue?.count == 3)
        #expect(severity.extensions?["severityViolations"]?["CVE-2021-36159"] == "critical")
        let old = try await evaluate(trivySARIF, #"{"name":"v","maximumAge":"30m"}"#)
        #expect(!old.isSuccess && old.errorReason == "REPORT_TOO_OLD" && old.message == "Report is older than maximum age:[30m].")
        let missing = try await evaluate(trivySARIF, #"{"name":"v"}"#, created: nil)
        #expect(!missing.isSuccess && missing.message == "Failed to create timestamp annotation." && missing.errorReason == "REPORT_CREATED_MISSING")
        let badTime = try await evaluate(trivySARIF, #"{"name":"v"}"#, created: "yesterday")
        #expect(!badTime.isSuccess && badTime.errorReason == "REPORT_CREATED_INVALID")
        let passthrough = try await evaluate(trivySARIF, #"{"name":"v","passthrough":true,"denylistCVEs":["CVE-2021-36159"]}"#)
        #expect(passthrough.isSuccess && passthrough.message == "Validation skipped. passthrough enabled")
        #expect(passthrough.extensions?["report"]?.stringValue?.count == 144062)
    }

    /// Ratify's unit test: grype's rule ids carry the package, so a bare CVE does not match them,
    /// while their severity does.
    @Test func grypesRuleIDsAndSeverities() async throws {
        let grype = "grype/grype-TestSarifPresenter_image.sarif.json"
        #expect(try await evaluate(grype, #"{"name":"v","denylistCVEs":["CVE-1999-0002"],"disallowedSeverities":["high"]}"#).isSuccess)
        let critical = try await evaluate(grype, #"{"name":"v","denylistCVEs":["CVE-1999-0002"],"disallowedSeverities":["critical"]}"#)
        #expect(!critical.isSuccess && critical.errorReason == "VULNERABILITY_DISALLOWED_SEVERITY")
        #expect(try await !evaluate(grype, #"{"name":"v","denylistCVEs":["CVE-1999-0002-package-2"]}"#).isSuccess)
        #expect(try await evaluate("trivy/trivy-alpine-310.sarif.json", #"{"name":"v","disallowedSeverities":["high","critical"]}"#).isSuccess)
    }

    @Test func theReportIsValidatedAgainstTheSARIFSchema() async throws {
        // Schema validation of 144 KB reports: seconds in a debug build, off the cooperative pool.
        let (report, invalid) = try await offPool { () -> (VerifierReport, [String]) in
            let referrer = Descriptor(mediaType: "m", digest: referrerDigest, size: 1, artifactType: "application/sarif+json",
                                      annotations: ["org.opencontainers.image.created": "2024-05-01T12:00:00Z"])
            let report = VulnerabilityReportVerifier.evaluate(referrer: referrer, manifest: try emptyManifest(), blob: Array("{}".utf8), blobDigest: "sha256:x",
                                                              config: try VulnerabilityReportConfig.parse(try json(#"{"name":"v"}"#), path: "p").0,
                                                              reporter: reporter("application/sarif+json"), now: Date())
            // Every real report validates against every embedded SARIF schema.
            var invalid: [String] = []
            for url in ["https://json.schemastore.org/sarif-2.1.0-rtm.5.json", "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
                        "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"] {
                let schema = try SchemaSource.load(url, path: "p")
                for file in [trivySARIF, "trivy/trivy-alpine-310.sarif.json", "grype/grype-TestSarifPresenter_image.sarif.json", "grype/grype-TestSarifPresenter_directory.sarif.json"] {
                    let result = schema.validate(try JSONParser.parse(try bytes(file)))
                    if !result.isValid { invalid.append("\(file) against \(url): \(result.violations)") }
                }
            }
            return (report, invalid)
        }
        #expect(!report.isSuccess && report.errorReason == "SCHEMA_VALIDATION_FAILED")
        #expect(report.remediation?.contains("\"version\" is required") == true && report.remediation?.contains("\"runs\" is required") == true)
        #expect(invalid.isEmpty, "\(invalid)")
    }

    @Test func notaryProjectSignatureRequiredAddsTheNestedReference() throws {
        #expect(try config(#"{"name":"v","notaryProjectSignatureRequired":true}"#).common.nestedReferences == ["application/vnd.cncf.notary.signature"])
        #expect(try config(#"{"name":"v","notaryProjectSignatureRequired":"true","nestedReferences":"application/vnd.cncf.notary.signature"}"#).common.nestedReferences
                 == ["application/vnd.cncf.notary.signature"])
        #expect(try config(#"{"name":"v"}"#).common.nestedReferences.isEmpty)
        #expect(throws: ConfigError.self) { try config(#"{"name":"v","notaryProjectSignatureRequired":"maybe"}"#) }
    }

    @Test func schemasAreNeverFetched() throws {
        let error = #expect(throws: ConfigError.self) { try config(#"{"name":"v","schemaURL":"https://example.com/sarif.json"}"#) }
        #expect(error?.message.contains("not fetched over the network") == true)
        #expect(throws: ConfigError.self) { try config(#"{"name":"v","maximumAge":"1d"}"#) }
    }
}

@Suite struct SchemaValidatorTests {
    /// Ratify's schemavalidation tests: trivy's report against the rtm.5 schema passes, against
    /// the SPDX schema (mismatch_schema.json) fails, and a schema that is not JSON is refused.
    @Test func ratifysSchemaCases() async throws {
        let verdicts = try await offPool { () -> [Bool] in
            let rtm5 = try SchemaSource.load("https://json.schemastore.org/sarif-2.1.0-rtm.5.json", path: "p")
            let report = try JSONParser.parse(try bytes(trivySARIF))
            let mismatch = try SchemaSource.load("file://" + data.appendingPathComponent("ratify/vulnerabilityreport/ratify-mismatch_schema.spdx-2.3.schema.json").path, path: "p")
            // SPDX 2.3's schema accepts trivy's SPDX output and refuses Ratify's invalid bom.
            let spdx = try SchemaSource.load("https://raw.githubusercontent.com/spdx/spdx-spec/v2.3/schemas/spdx-schema.json", path: "p")
            return [rtm5.validate(report).isValid, mismatch.validate(report).isValid,
                    spdx.validate(try JSONParser.parse(try bytes("trivy/trivy-conda.spdx.json"))).isValid,
                    spdx.validate(try JSONParser.parse(try bytes("ratify/sbom/ratify-sbom-invalid-bom.spdx.json"))).isValid]
        }
        #expect(verdicts == [true, false, true, false])
        let bad = #expect(throws: ConfigError.self) {
            try SchemaSource.load("file://" + data.appendingPathComponent("ratify/vulnerabilityreport/ratify-bad_schema.json").path, path: "p")
        }
        #expect(bad?.message.contains("not valid JSON") == true)
    }

    @Test func configNeedsSchemas() throws {
        #expect(throws: ConfigError.self) { try SchemaValidatorConfig.parse(try json(#"{"name":"s"}"#), path: "p") }
        #expect(throws: ConfigError.self) { try SchemaValidatorConfig.parse(try json(#"{"name":"s","schemas":{"application/sarif+json":"https://elsewhere.test/s.json"}}"#), path: "p") }
        let (config, _) = try SchemaValidatorConfig.parse(try json(#"{"name":"s","schemas":{"application/sarif+json":"https://json.schemastore.org/sarif-2.1.0-rtm.5.json"}}"#), path: "p")
        #expect(config.schemas.count == 1)
    }
}

/// Each verifier through `verify`, over a store: fetch failures, unsupported types, malformed
/// content — a clear failing report every time, never a pass.
@Suite struct SupplyChainVerifyTests {
    let store = MemoryStore()
    let subjectDigest = Digest.of(Array("image".utf8))

    /// An artifact manifest over `layers` (in the store unless `missingBlobs`), as a referrer of the subject.
    func artifact(_ artifactType: String, _ layers: [(String, [UInt8])], missingBlobs: Bool = false,
                  annotations: [String: String] = ["org.opencontainers.image.created": "2099-01-01T00:00:00Z"]) -> (ImageReference, Descriptor) {
        let descriptors: [JSONValue] = layers.map { mediaType, bytes in
            let blob = missingBlobs ? Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: bytes.count) : store.putBlob(bytes, mediaType: mediaType)
            return ["mediaType": .string(mediaType), "digest": .string(blob.digest.description), "size": .int(blob.size)]
        }
        let manifest: JSONValue = ["schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": .string(artifactType),
                                   "config": ["mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2],
                                   "layers": .array(descriptors)]
        var descriptor = store.putManifest(JSONWriter.encode(manifest), mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: artifactType)
        descriptor.annotations = annotations
        return (try! ImageReference.parse("registry.test/app@\(subjectDigest)"), descriptor)
    }

    func run(_ verifier: any Verifier, _ item: (ImageReference, Descriptor)) async -> VerifierReport {
        await verifier.verify(subject: item.0, referrer: item.1, store: store, deadline: .now + .seconds(10))
    }

    @Test func sbomFailures() async throws {
        let sbom = SBOMVerifier(config: try SBOMVerifierConfig.parse(try json(#"{"name":"sbom"}"#), path: "p").0)
        let syft = try bytes(syftSBOM)
        let unsupported = await run(sbom, artifact("application/vnd.syft+json", [("application/vnd.syft+json", syft)]))
        #expect(!unsupported.isSuccess && unsupported.errorReason == "UNSUPPORTED_ARTIFACT_TYPE" && unsupported.message == "Failed to process SBOM blobs.")
        let empty = await run(sbom, artifact("application/spdx+json", []))
        #expect(!empty.isSuccess && empty.errorReason == "SBOM_NO_LAYERS" && empty.message == "SBOM validation failed")
        let missing = await run(sbom, artifact("application/spdx+json", [("application/spdx+json", syft + Array(" ".utf8))], missingBlobs: true))
        #expect(!missing.isSuccess && missing.errorReason == "GET_BLOB_CONTENT_FAILURE")
        let noManifest = await sbom.verify(subject: try ImageReference.parse("registry.test/app@\(subjectDigest)"),
                                           referrer: Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: referrerDigest, size: 9, artifactType: "application/spdx+json"),
                                           store: store, deadline: .now + .seconds(10))
        #expect(!noManifest.isSuccess && noManifest.errorReason == "GET_REFERRER_MANIFEST_FAILURE")
        let garbage = await run(sbom, artifact("application/spdx+json", [("application/spdx+json", Array("{\"spdxVersion\":".utf8))]))
        #expect(!garbage.isSuccess && garbage.errorReason == "SBOM_INVALID" && garbage.message == "failed to verify artifact: sbom")
        let cyclone = await run(sbom, artifact("application/vnd.cyclonedx+json", [("application/vnd.cyclonedx+json", try bytes("trivy/trivy-pom.cdx-1.5.json"))]))
        #expect(cyclone.isSuccess, "\(cyclone)")
    }

    @Test func licenseCheckerThroughTheStore() async throws {
        let checker = LicenseCheckerVerifier(config: try LicenseCheckerConfig.parse(try json(#"{"name":"l","allowedLicenses":["MIT"]}"#), path: "p").0)
        let spdx = await run(checker, artifact("application/vnd.ratify.spdx.v0", [("application/text", try bytes(syftSBOM))]))
        #expect(!spdx.isSuccess && spdx.errorReason == "LICENSE_NOT_ALLOWED" && spdx.message.hasPrefix("License Check: FAILED. [{alpine-baselayout GPL-2.0-only}"))
        let tagValue = "SPDXVersion: SPDX-2.2\nCreator: Tool: syft\nPackageName: musl\nPackageVersion: 1.2.3\nPackageLicenseConcluded: MIT\n"
        let pass = await run(checker, artifact("application/vnd.ratify.spdx.v0", [("application/text", Array(tagValue.utf8))]))
        #expect(pass.isSuccess && pass.message == "License Check: SUCCESS. All packages have allowed licenses")
        let none = await run(checker, artifact("application/vnd.ratify.spdx.v0", []))
        #expect(!none.isSuccess && none.message.hasPrefix("License Check FAILED: no blobs found for referrer"))
    }

    @Test func vulnerabilityReportMalformed() async throws {
        let verifier = VulnerabilityReportVerifier(config: try VulnerabilityReportConfig.parse(try json(#"{"name":"v"}"#), path: "p").0)
        let garbage = await run(verifier, artifact("application/sarif+json", [("application/sarif+json", Array("{\"version\":".utf8))]))
        #expect(!garbage.isSuccess && garbage.errorReason == "REPORT_INVALID" && garbage.message == "Failed to parse sarif report.")
        let noRuns = await run(verifier, artifact("application/sarif+json", [("application/sarif+json", Array(#"{"version":"2.1.0","runs":[]}"#.utf8))]))
        #expect(!noRuns.isSuccess && noRuns.message == "No runs found in sarif report.")
        let wrongType = await run(verifier, artifact("application/vnd.aquasecurity.trivy.report.sarif.v1", [("application/sarif+json", try bytes(trivySARIF))]))
        #expect(!wrongType.isSuccess && wrongType.errorReason == "UNSUPPORTED_ARTIFACT_TYPE")
        let fresh = await run(verifier, artifact("application/sarif+json", [("application/sarif+json", try bytes(trivySARIF))]))
        #expect(fresh.isSuccess, "\(fresh)")
    }

    @Test func schemaValidatorThroughTheStore() async throws {
        let config = try SchemaValidatorConfig.parse(try json(#"{"name":"s","artifactTypes":"application/vnd.aquasecurity.trivy.report.sarif.v1","schemas":{"application/sarif+json":"https://json.schemastore.org/sarif-2.1.0-rtm.5.json"}}"#), path: "p").0
        let validator = SchemaValidatorVerifier(config: config)
        let pass = await run(validator, artifact("application/vnd.aquasecurity.trivy.report.sarif.v1", [("application/sarif+json", try bytes(trivySARIF))]))
        #expect(pass.isSuccess && pass.message == "schema validation passed for configured media types")
        let unconfigured = await run(validator, artifact("x", [("application/schema+json", Array("{}".utf8))]))
        #expect(!unconfigured.isSuccess && unconfigured.errorReason == "SCHEMA_NOT_CONFIGURED" && unconfigured.remediation?.contains("media type not configured for plugin:[application/schema+json]") == true)
        let invalid = await run(validator, artifact("x", [("application/sarif+json", Array("{}".utf8))]))
        #expect(!invalid.isSuccess && invalid.errorReason == "SCHEMA_VALIDATION_FAILED" && invalid.message.hasPrefix("schema validation failed for digest:["))
        let notJSON = await run(validator, artifact("x", [("application/sarif+json", Array("nope".utf8))]))
        #expect(!notJSON.isSuccess && notJSON.remediation?.contains("not valid JSON") == true)
    }
}
