import Core
import JSON

/// Ratify's `licensechecker`: every package's concluded license must be allowed. Ratify
/// compares the whole `licenseConcluded` string with each `allowedLicenses` entry (so its
/// samples list whole expressions); that still holds here, and otherwise the value is parsed
/// as an SPDX license expression and evaluated: `A AND B` needs both allowed, `A OR B` one of
/// them, `A WITH E` needs A (or "A WITH E") allowed. Reads SPDX tag-value (Ratify's format),
/// SPDX JSON and CycloneDX JSON, every layer.
public struct LicenseCheckerConfig: Sendable {
    public var common: CommonSettings
    public var allowedLicenses: [String]

    public static func parse(_ value: JSONValue, path: String) throws(ConfigError) -> (LicenseCheckerConfig, warnings: [String]) {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        let config = LicenseCheckerConfig(common: try CommonSettings.parse(object, path: path, kind: "licensechecker"),
                                          allowedLicenses: try Parameters.strings(object, "allowedLicenses", path: path))
        var warnings = CommonSettings.warnings(object, path: path, known: ["allowedLicenses"], kind: "licensechecker")
        if config.allowedLicenses.isEmpty { warnings.append("\(path).allowedLicenses is empty: every SBOM with a package fails") }
        return (config, warnings)
    }
}

public struct LicenseCheckerVerifier: SupplyChainVerifying {
    public let config: LicenseCheckerConfig
    let exact: Set<String>
    let identifiers: Set<String>
    public var common: CommonSettings { config.common }

    public init(config: LicenseCheckerConfig) {
        self.config = config
        exact = Set(config.allowedLicenses)
        identifiers = Set(config.allowedLicenses.map { $0.lowercased() })
    }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        let (reporter, content): (Reporter, ArtifactContent)
        switch await fetch(subject, referrer, store: store, firstOnly: false, deadline: deadline) {
        case .failure(let failed): return failed.report
        case .success(let fetched): (reporter, content) = fetched
        }
        guard !content.layers.isEmpty else {
            return reporter.fail("SBOM_NO_LAYERS", "License Check FAILED: no blobs found for referrer \(subject.name)@\(referrer.digest)",
                                 "attach the SBOM as the artifact's layer")
        }
        var disallowed: [SBOMPackage] = []
        for layer in content.layers {
            let document: SBOMDocument
            do { document = try Self.read(layer.bytes) } catch {
                return reporter.fail("SBOM_INVALID", "License Check FAILED: the SBOM in \(layer.descriptor.digest) could not be read",
                                     "\(error); the licensechecker reads SPDX tag-value, SPDX JSON and CycloneDX JSON")
            }
            disallowed += document.packages.filter { !isAllowed($0.license) }
        }
        guard disallowed.isEmpty else {
            // Go's %s of []PackageLicense: [{name license} …].
            let listed = disallowed.map { "{\($0.name) \($0.license)}" }.joined(separator: " ")
            return reporter.fail("LICENSE_NOT_ALLOWED", "License Check: FAILED. [\(listed)]",
                                 "add the licenses to allowedLicenses, or remove the packages",
                                 extensions: ["licenseViolations": .array(disallowed.map(\.violationJSON))])
        }
        return reporter.pass("License Check: SUCCESS. All packages have allowed licenses")
    }

    /// Listed exactly (Ratify's rule), or an SPDX expression the allowed licenses satisfy.
    func isAllowed(_ license: String) -> Bool {
        if exact.contains(license) { return true }
        guard let expression = try? LicenseExpression.parse(license) else { return false }
        return expression.isSatisfied(by: identifiers)
    }

    /// JSON (SPDX or CycloneDX) or SPDX tag-value, by content.
    static func read(_ bytes: [UInt8]) throws(SBOMError) -> SBOMDocument {
        let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        guard first == UInt8(ascii: "{") else { return try SBOMDocument.spdxTagValue(bytes) }
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self)
        return head.contains("\"bomFormat\"") ? try SBOMDocument.cycloneDX(bytes) : try SBOMDocument.spdxJSON(bytes)
    }
}
