import Foundation
import JSON

/// One package of an SBOM, as the sbom and licensechecker verifiers judge it.
public struct SBOMPackage: Sendable, Equatable {
    public var name: String
    public var version: String
    /// SPDX `licenseConcluded` (Ratify reads this one, not `licenseDeclared`); for CycloneDX,
    /// the component's `expression`, or its license ids joined with AND. "" when absent.
    public var license: String

    public init(name: String, version: String, license: String) {
        self.name = name
        self.version = version
        self.license = license
    }

    /// Ratify's `PackageLicense` (no JSON tags in Go, hence the capitalised keys).
    public var violationJSON: JSONValue {
        ["Name": .string(name), "Version": .string(version), "License": .string(license)]
    }
}

public struct SBOMError: Error, Sendable, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An SBOM reduced to what the verifiers read: SPDX 2.1–2.3 (JSON or tag-value) or CycloneDX
/// JSON. Pure over bytes; every document is bounded (the store's blob limit, the parser's
/// value limit).
public struct SBOMDocument: Sendable {
    public enum Format: Sendable, Equatable {
        case spdxJSON(version: String)
        case spdxTagValue(version: String)
        case cycloneDX(specVersion: String)
    }

    public var format: Format
    public var packages: [SBOMPackage]
    /// `creationInfo` as Ratify's report carries it (SPDX: licenseListVersion, creators, created,
    /// comment; CycloneDX: created and the tools as creators).
    public var creationInfo: JSONValue
    /// When the SBOM was made (RFC 3339), if it says.
    public var created: String?

    static let parseOptions: JSONParser.Options = {
        var options = JSONParser.Options()
        // SBOMs of large images hold hundreds of thousands of values; the blob limit bounds memory.
        options.maximumValues = 4_000_000
        return options
    }()

    static let spdxVersions: Set<String> = ["SPDX-2.1", "SPDX-2.2", "SPDX-2.3"]

    /// SPDX JSON, as spdx/tools-golang reads it (versions 2.1, 2.2 and 2.3).
    public static func spdxJSON(_ bytes: [UInt8]) throws(SBOMError) -> SBOMDocument {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes, options: parseOptions) } catch {
            throw SBOMError("the SBOM is not valid JSON: \(error)")
        }
        guard let object = document.objectValue else { throw SBOMError("not a valid SPDX JSON document: the top level is not an object") }
        guard let version = object["spdxVersion"]?.stringValue else {
            throw SBOMError("JSON document does not contain spdxVersion field")
        }
        guard spdxVersions.contains(version) else { throw SBOMError("unsupported SPDX version: \(version) (2.1, 2.2 and 2.3 are)") }
        var packages: [SBOMPackage] = []
        if let list = object["packages"], !list.isNull {
            guard let items = list.arrayValue else { throw SBOMError("packages must be an array") }
            for (index, item) in items.enumerated() {
                guard item.objectValue != nil else { throw SBOMError("packages[\(index)] must be an object") }
                guard let name = item["name"]?.stringValue else { throw SBOMError("packages[\(index)].name must be a string") }
                packages.append(SBOMPackage(name: name, version: item["versionInfo"]?.stringValue ?? "",
                                            license: item["licenseConcluded"]?.stringValue ?? ""))
            }
        }
        var creationInfo = JSONValue.null
        var created: String?
        if let info = object["creationInfo"], !info.isNull {
            guard info.objectValue != nil else { throw SBOMError("creationInfo must be an object") }
            var out = JSONObject()
            if let list = info["licenseListVersion"]?.stringValue, !list.isEmpty { out["licenseListVersion"] = .string(list) }
            var creators: [JSONValue] = []
            for creator in info["creators"]?.arrayValue ?? [] {
                // tools-golang: "Type: Name", or "failed to parse Creator".
                guard let text = creator.stringValue, text.contains(": ") else {
                    throw SBOMError("failed to parse Creator '\(creator.stringValue ?? JSONWriter.encodeString(creator))'")
                }
                creators.append(.string(text))
            }
            out["creators"] = .array(creators)
            created = info["created"]?.stringValue
            out["created"] = .string(created ?? "")
            if let comment = info["comment"]?.stringValue, !comment.isEmpty { out["comment"] = .string(comment) }
            creationInfo = .object(out)
        }
        return SBOMDocument(format: .spdxJSON(version: version), packages: packages, creationInfo: creationInfo, created: created)
    }

    /// SPDX tag-value (`Tag: value` lines, `<text>…</text>` spans), what Ratify's
    /// licensechecker reads.
    public static func spdxTagValue(_ bytes: [UInt8]) throws(SBOMError) -> SBOMDocument {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw SBOMError("the SBOM is not UTF-8 text") }
        var version: String?
        var packages: [SBOMPackage] = []
        var creators: [JSONValue] = []
        var created: String?
        var inText = false
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if inText {
                if line.contains("</text>") { inText = false }
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else { throw SBOMError("SPDX tag-value line without a tag: \"\(line.prefix(80))\"") }
            let tag = String(line[..<colon])
            var value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("<text>") {
                if value.contains("</text>") {
                    value = value.replacing("<text>", with: "").replacing("</text>", with: "")
                } else {
                    inText = true
                    continue
                }
            }
            switch tag {
            case "SPDXVersion": version = value
            case "Creator":
                guard value.contains(": ") else { throw SBOMError("failed to parse Creator '\(value)'") }
                creators.append(.string(value))
            case "Created": created = value
            case "PackageName": packages.append(SBOMPackage(name: value, version: "", license: ""))
            case "PackageVersion":
                guard !packages.isEmpty else { throw SBOMError("PackageVersion before any PackageName") }
                packages[packages.count - 1].version = value
            case "PackageLicenseConcluded":
                guard !packages.isEmpty else { throw SBOMError("PackageLicenseConcluded before any PackageName") }
                packages[packages.count - 1].license = value
            default:
                continue
            }
        }
        guard let version else { throw SBOMError("the tag-value document has no SPDXVersion") }
        guard spdxVersions.contains(version) else { throw SBOMError("unsupported SPDX version: \(version) (2.1, 2.2 and 2.3 are)") }
        let info: JSONValue = ["creators": .array(creators), "created": .string(created ?? "")]
        return SBOMDocument(format: .spdxTagValue(version: version), packages: packages, creationInfo: info, created: created)
    }

    /// CycloneDX JSON (1.2–1.7): components, nested components included.
    public static func cycloneDX(_ bytes: [UInt8]) throws(SBOMError) -> SBOMDocument {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes, options: parseOptions) } catch {
            throw SBOMError("the SBOM is not valid JSON: \(error)")
        }
        guard document["bomFormat"]?.stringValue == "CycloneDX" else { throw SBOMError("not a CycloneDX document: bomFormat is not \"CycloneDX\"") }
        guard let specVersion = document["specVersion"]?.stringValue else { throw SBOMError("the CycloneDX document has no specVersion") }
        var packages: [SBOMPackage] = []
        var pending = document["components"]?.arrayValue ?? []
        var visited = 0
        while let component = pending.popLast() {
            visited += 1
            guard visited <= 1_000_000 else { throw SBOMError("the CycloneDX document has more than 1,000,000 components") }
            guard let name = component["name"]?.stringValue else { continue }
            packages.append(SBOMPackage(name: name, version: component["version"]?.stringValue ?? "", license: license(of: component)))
            pending += component["components"]?.arrayValue ?? []
        }
        let created = document["metadata"]?["timestamp"]?.stringValue
        var creators: [JSONValue] = []
        let tools = document["metadata"]?["tools"]
        // 1.2–1.4: tools is an array; 1.5+: {components: [...], services: [...]}.
        for tool in (tools?.arrayValue ?? []) + (tools?["components"]?.arrayValue ?? []) {
            let name = [tool["vendor"]?.stringValue, tool["name"]?.stringValue, tool["version"]?.stringValue].compactMap { $0 }.joined(separator: " ")
            if !name.isEmpty { creators.append(.string("Tool: \(name)")) }
        }
        let info: JSONValue = ["creators": .array(creators), "created": .string(created ?? "")]
        return SBOMDocument(format: .cycloneDX(specVersion: specVersion), packages: packages, creationInfo: info, created: created)
    }

    private static func license(of component: JSONValue) -> String {
        var parts: [String] = []
        for entry in component["licenses"]?.arrayValue ?? [] {
            if let expression = entry["expression"]?.stringValue {
                parts.append(parts.isEmpty ? expression : "(\(expression))")
            } else if let id = entry["license"]?["id"]?.stringValue ?? entry["license"]?["name"]?.stringValue {
                parts.append(id)
            }
        }
        return parts.count > 1 ? parts.map { $0.contains(" ") && !$0.hasPrefix("(") ? "(\($0))" : $0 }.joined(separator: " AND ") : parts.first ?? ""
    }
}
