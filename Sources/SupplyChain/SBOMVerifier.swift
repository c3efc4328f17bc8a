import Core
import Foundation
import JSON

public enum SBOMMediaType {
    public static let spdxJSON = "application/spdx+json"
    public static let cycloneDXJSON = "application/vnd.cyclonedx+json"
    /// Ratify's licensechecker samples: an SPDX tag-value SBOM.
    public static let ratifySPDXTagValue = "application/vnd.ratify.spdx.v0"
}

/// Ratify's `sbom` verifier: `disallowedLicenses`, `disallowedPackages` (name, optional
/// version), and — beyond Ratify — `maximumAge` against the SBOM's creation time and CycloneDX
/// JSON next to SPDX JSON.
public struct SBOMVerifierConfig: Sendable {
    public struct DeniedPackage: Sendable, Equatable {
        public var name: String
        /// nil or empty: every version of `name`.
        public var version: String?
    }

    public var common: CommonSettings
    public var disallowedLicenses: [String]
    public var disallowedPackages: [DeniedPackage]
    public var maximumAge: Duration?
    /// As written ("24h"), for messages.
    public var maximumAgeText: String = ""

    static let known: Set<String> = ["disallowedLicenses", "disallowedPackages", "maximumAge"]

    public static func parse(_ value: JSONValue, path: String) throws(ConfigError) -> (SBOMVerifierConfig, warnings: [String]) {
        guard let object = value.objectValue else { throw ConfigError(path: path, "must be an object") }
        let common = try CommonSettings.parse(object, path: path, kind: "sbom")
        var packages: [DeniedPackage] = []
        if let list = object["disallowedPackages"], !list.isNull {
            guard let items = list.arrayValue else { throw ConfigError(path: "\(path).disallowedPackages", "must be a list of {name, version}") }
            for (index, item) in items.enumerated() {
                guard let entry = item.objectValue else { throw ConfigError(path: "\(path).disallowedPackages[\(index)]", "must be an object with name and optional version") }
                guard let name = entry["name"]?.stringValue else { throw ConfigError(path: "\(path).disallowedPackages[\(index)].name", "must be a string") }
                if let version = entry["version"], !version.isNull, version.stringValue == nil {
                    throw ConfigError(path: "\(path).disallowedPackages[\(index)].version", "must be a string")
                }
                packages.append(DeniedPackage(name: name, version: entry["version"]?.stringValue))
            }
        }
        let config = SBOMVerifierConfig(common: common, disallowedLicenses: try Parameters.strings(object, "disallowedLicenses", path: path),
                                        disallowedPackages: packages, maximumAge: try Parameters.duration(object, "maximumAge", path: path),
                                        maximumAgeText: object["maximumAge"]?.stringValue ?? "")
        return (config, CommonSettings.warnings(object, path: path, known: known, kind: "sbom"))
    }
}

public struct SBOMVerifier: SupplyChainVerifying {
    public let config: SBOMVerifierConfig
    public var common: CommonSettings { config.common }

    public init(config: SBOMVerifierConfig) { self.config = config }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        let (reporter, content): (Reporter, ArtifactContent)
        switch await fetch(subject, referrer, store: store, firstOnly: true, deadline: deadline) {
        case .failure(let failed): return failed.report
        case .success(let fetched): (reporter, content) = fetched
        }
        guard let layer = content.layers.first else {
            return reporter.fail("SBOM_NO_LAYERS", "SBOM validation failed",
                                 "No layers found in manifest for referrer \(subject.name)@\(referrer.digest): attach the SBOM as the artifact's layer")
        }
        let document: SBOMDocument
        do {
            switch referrer.artifactType {
            case SBOMMediaType.spdxJSON: document = try SBOMDocument.spdxJSON(layer.bytes)
            case SBOMMediaType.cycloneDXJSON: document = try SBOMDocument.cycloneDX(layer.bytes)
            default:
                return reporter.fail("UNSUPPORTED_ARTIFACT_TYPE", "Failed to process SBOM blobs.",
                                     "Unsupported artifactType: \(referrer.artifactType ?? "(none)"); the sbom verifier reads \(SBOMMediaType.spdxJSON) and \(SBOMMediaType.cycloneDXJSON)")
            }
        } catch {
            return reporter.fail("SBOM_INVALID", "failed to verify artifact: \(name)", "the SBOM could not be read: \(error)")
        }
        return Self.evaluate(document, config: config, reporter: reporter, now: Date())
    }

    /// The decision, pure: Ratify's license and package rules, then the age.
    static func evaluate(_ document: SBOMDocument, config: SBOMVerifierConfig, reporter: Reporter, now: Date) -> VerifierReport {
        let (licenses, packages) = violations(document.packages, disallowedLicenses: config.disallowedLicenses,
                                              disallowedPackages: config.disallowedPackages)
        var extensions: JSONObject = ["creationInfo": document.creationInfo]
        if let maximumAge = config.maximumAge {
            guard let createdText = document.created, let created = Timestamp.parse(createdText) else {
                return reporter.fail("SBOM_CREATED_MISSING", "SBOM validation failed",
                                     "maximumAge is set but the SBOM has no valid creation time (\(document.created ?? "none")); regenerate it with one",
                                     extensions: .object(extensions))
            }
            let age = now.timeIntervalSince(created)
            if age > Double(maximumAge.components.seconds) + Double(maximumAge.components.attoseconds) / 1e18 {
                return reporter.fail("SBOM_TOO_OLD", "SBOM is older than maximum age:[\(config.maximumAgeText)].",
                                     "the SBOM was created \(createdText); attach a newer one", extensions: .object(extensions))
            }
        }
        guard licenses.isEmpty && packages.isEmpty else {
            if !licenses.isEmpty { extensions["licenseViolations"] = .array(licenses.map(\.violationJSON)) }
            if !packages.isEmpty { extensions["packageViolations"] = .array(packages.map(\.violationJSON)) }
            return reporter.fail("SBOM_VIOLATION", "SBOM validation failed",
                                 "Please review extensions data for license and package violation found.", extensions: .object(extensions))
        }
        return reporter.pass("SBOM verification success. No license or package violation found.", extensions: .object(extensions))
    }

    /// Ratify's rules (plugins/verifier/sbom): a package violates a disallowed license when the
    /// license appears in its `licenseConcluded` (case-insensitive) as a whole term — a license
    /// identifier of the parsed SPDX expression, or, for a deny entry that is itself an
    /// expression or a value that does not parse, bounded by start, end, parentheses or
    /// whitespace (Ratify's regular expression) — once per matching entry; a package violates
    /// a denied package on its exact name, and version when the entry has one.
    static func violations(_ packages: [SBOMPackage], disallowedLicenses: [String],
                           disallowedPackages: [SBOMVerifierConfig.DeniedPackage]) -> (licenses: [SBOMPackage], packages: [SBOMPackage]) {
        var licenseViolations: [SBOMPackage] = []
        var packageViolations: [SBOMPackage] = []
        for package in packages {
            let parsed = try? LicenseExpression.parse(package.license)
            let identifiers = Set((parsed?.licenses ?? []).map { $0.lowercased() })
            for disallowed in disallowedLicenses {
                let term = disallowed.lowercased()
                let single = (try? LicenseExpression.parse(disallowed)).map { if case .license = $0 { true } else { false } } ?? false
                let matches = parsed != nil && single ? identifiers.contains(term) : containsTerm(package.license.lowercased(), term)
                if matches { licenseViolations.append(package) }
            }
            for denied in disallowedPackages where denied.name == package.name {
                if (denied.version ?? "").isEmpty || denied.version == package.version { packageViolations.append(package) }
            }
        }
        return (licenseViolations, packageViolations)
    }

    /// `(?:^|\(|\s)(<term>)(?:$|\)|\s)` without a regular expression.
    static func containsTerm(_ text: String, _ term: String) -> Bool {
        guard !term.isEmpty else { return text.isEmpty }
        var searchStart = text.startIndex
        while let range = text.range(of: term, range: searchStart..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            let leftOK = before == nil || before == "(" || before!.isWhitespace
            let rightOK = after == nil || after == ")" || after!.isWhitespace
            if leftOK && rightOK { return true }
            searchStart = text.index(after: range.lowerBound)
        }
        return false
    }
}
