import Foundation
import JSON

/// A SARIF 2.1.0 log reduced to what the vulnerabilityreport verifier reads: each run's tool,
/// its rules and its results. Pure over bytes.
public struct SARIFReport: Sendable {
    public struct Rule: Sendable {
        public var id: String
        public var helpText: String?
        /// `properties["security-severity"]`, a CVSS score as text (GitHub's convention, which
        /// trivy and grype follow).
        public var securitySeverity: String?
    }

    public struct Result: Sendable {
        public var ruleID: String?
        public var ruleIndex: Int?
        public var level: String?
        /// A short rendering for messages.
        public var brief: String
    }

    public struct Run: Sendable {
        public var toolName: String
        public var rules: [Rule]
        public var results: [Result]
    }

    public var runs: [Run]
    public var document: JSONValue

    public static let parseOptions = SBOMDocument.parseOptions

    public static func parse(_ bytes: [UInt8]) throws(SBOMError) -> SARIFReport {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes, options: parseOptions) } catch {
            throw SBOMError("the report is not valid JSON: \(error)")
        }
        return try parse(document)
    }

    public static func parse(_ document: JSONValue) throws(SBOMError) -> SARIFReport {
        guard document.objectValue != nil else { throw SBOMError("a SARIF log is a JSON object") }
        var runs: [Run] = []
        for (index, run) in (document["runs"]?.arrayValue ?? []).enumerated() {
            guard let driver = run["tool"]?["driver"], let name = driver["name"]?.stringValue else {
                throw SBOMError("runs[\(index)].tool.driver.name is missing")
            }
            let rules = (driver["rules"]?.arrayValue ?? []).compactMap { rule -> Rule? in
                guard let id = rule["id"]?.stringValue else { return nil }
                let score = rule["properties"]?["security-severity"]
                return Rule(id: id, helpText: rule["help"]?["text"]?.stringValue,
                            securitySeverity: score?.stringValue ?? score.flatMap { if case .number(let n) = $0 { n } else { nil } })
            }
            let results = (run["results"]?.arrayValue ?? []).map { result in
                Result(ruleID: result["ruleId"]?.stringValue, ruleIndex: result["ruleIndex"]?.intValue,
                       level: result["level"]?.stringValue, brief: String(JSONWriter.encodeString(result).prefix(200)))
            }
            runs.append(Run(toolName: name, rules: rules, results: results))
        }
        return SARIFReport(runs: runs, document: document)
    }
}

/// A rule's severity: Ratify's reading first — `Severity: <word>` in the rule's help text, as
/// trivy and grype write it — else the CVSS `security-severity` score mapped to CVSS v3.x
/// qualitative ratings (0 none, 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical).
public enum Severity {
    public static func of(_ rule: SARIFReport.Rule) -> String? {
        if let help = rule.helpText, let range = help.range(of: #"Severity:\s*(\w+)"#, options: .regularExpression) {
            let word = help[range].dropFirst("Severity:".count).trimmingCharacters(in: .whitespaces)
            if !word.isEmpty { return word.lowercased() }
        }
        guard let text = rule.securitySeverity, let score = Double(text), (0...10).contains(score) else { return nil }
        switch score {
        case 0: return "none"
        case ..<4: return "low"
        case ..<7: return "medium"
        case ..<9: return "high"
        default: return "critical"
        }
    }
}
