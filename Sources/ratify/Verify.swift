import ArgumentParser
import Configuration
import Core
import Foundation
import JSON
import Logging
import Registry

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify one image with a config file and print the report Gatekeeper would get.",
        discussion: "Exit status: 0 when the verdict is success, 1 when it is not (or the image cannot be verified), 2 on a usage or config error.")

    @Option(name: [.customShort("c"), .customLong("config")], help: "Ratify config.json; the embedded default when omitted.")
    var configPath: String?

    @Option(name: [.customShort("s"), .customLong("subject")],
            help: "Image reference, by tag or digest (optionally [namespace]image), or oci-layout:PATH[:TAG|@DIGEST] for an OCI image layout directory.")
    var subject: String

    @Option(help: "With an oci-layout: subject, the registry/repository its trust policies are chosen by (default localhost/<directory name>).")
    var scope: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "json or text.")
    var output = "json"

    @Option(help: "Milliseconds the verification may take; the config's executor.verificationRequestTimeout when omitted.")
    var timeout: Int?

    func run() async throws {
        guard output == "json" || output == "text" else { usage("--output must be json or text") }
        let config: RatifyConfig
        var pluginWarnings: [String] = []
        do {
            // Dynamic plugins named by the file are pulled before its verifiers are resolved.
            if let configPath { pluginWarnings = try await PluginSources.installAll(in: try RatifyConfig.rawDocument(path: configPath)).warnings }
            config = try RatifyConfig.load(path: configPath)
        } catch {
            usage("\(error)")
        }
        for warning in config.warnings + pluginWarnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let budget: Duration = timeout.map { .milliseconds($0) } ?? config.verificationRequestTimeout ?? .milliseconds(2900)
        let executor: any ProviderExecutor
        var key = subject
        do {
            let store: any ReferrerStore
            if let layout = try LayoutSubject.parse(subject, scope: scope) {
                store = try OCILayoutStore(path: layout.path)
                key = layout.key
            } else {
                guard scope == nil else { usage("--scope applies to oci-layout: subjects only") }
                store = try StoreFactory.makeStore(for: config)
            }
            executor = try ExecutorFactory.verifyExecutor(config, store: store, generation: 1, logger: Logger(label: "ratify-verify") { _ in SwiftLogNoOpLogHandler() })
        } catch {
            usage("\(error)")
        }
        let requestID = RequestID.make()
        let item = await executor.execute([key], context: ProviderContext(requestID: requestID, operation: .verify, deadline: .now + budget))[0]
        if let error = item.error {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard let value = item.value else { throw ExitCode(1) }
        print(output == "json" ? JSONWriter.encodeIndented(value) : ReportText.render(value))
        if value["isSuccess"] != .bool(true) { throw ExitCode(1) }
    }

    private func usage(_ message: String) -> Never {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        Foundation.exit(2)
    }
}

/// `oci-layout:PATH[:TAG|@DIGEST]` (the form oras and skopeo write): the layout directory and
/// the key the executor verifies — the scope's name with the layout's tag or digest.
struct LayoutSubject {
    static let prefix = "oci-layout:"
    var path: String
    var key: String

    static func parse(_ text: String, scope: String?) throws(ReferenceError) -> LayoutSubject? {
        guard text.hasPrefix(prefix) else { return nil }
        var path = String(text.dropFirst(prefix.count))
        var target = ":latest"
        if let at = path.lastIndex(of: "@") {
            target = "@" + (try Digest.parse(String(path[path.index(after: at)...]))).description
            path = String(path[..<at])
        } else if let colon = path.lastIndex(of: ":"), !path[colon...].contains("/") {
            target = ":" + path[path.index(after: colon)...]
            path = String(path[..<colon])
        }
        guard !path.isEmpty else { throw ReferenceError(.invalidReference, "\(text) names no directory; use oci-layout:PATH[:TAG|@DIGEST]") }
        let name = scope ?? "localhost/" + defaultRepository(for: path)
        let reference = try ImageReference.parse(name + target)
        guard reference.description.hasPrefix(name) || scope == nil else {
            throw ReferenceError(.invalidReference, "--scope \(name) must be registry/repository without tag or digest")
        }
        return LayoutSubject(path: path, key: reference.description)
    }

    /// The directory's name, lowercased, with what a repository name cannot hold replaced by `-`.
    static func defaultRepository(for path: String) -> String {
        let base = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent.lowercased()
        let cleaned = String(base.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
            .split(separator: "-").joined(separator: "-")
        return cleaned.isEmpty ? "layout" : cleaned
    }
}

/// The report as a readable tree: verdict, then each verifier result with its reason.
enum ReportText {
    static func render(_ value: JSONValue) -> String {
        var lines: [String] = []
        let verdict = value["isSuccess"] == .bool(true) ? "PASS" : "FAIL"
        let reports = value["verifierReports"]?.arrayValue ?? []
        let subject = reports.first?["subject"]?.stringValue ?? ""
        lines.append("\(verdict) \(subject)")
        append(reports, indent: "", into: &lines)
        return lines.joined(separator: "\n")
    }

    private static func append(_ reports: [JSONValue], indent: String, into lines: inout [String]) {
        for (index, report) in reports.enumerated() {
            let last = index == reports.count - 1
            let mark = report["isSuccess"] == .bool(true) ? "ok  " : "FAIL"
            let what = [report["artifactType"]?.stringValue, report["referenceDigest"]?.stringValue].compactMap { $0 }.joined(separator: " ")
            lines.append(indent + (last ? "└── " : "├── ") + "\(mark) \(report["verifierName"]?.stringValue ?? "?") \(what)")
            let inner = indent + (last ? "    " : "│   ")
            if let message = report["message"]?.stringValue { lines.append(inner + message) }
            if let reason = report["errorReason"]?.stringValue { lines.append(inner + "reason: \(reason)") }
            if let remediation = report["remediation"]?.stringValue { lines.append(inner + "fix: \(remediation)") }
            append(report["nestedResults"]?.arrayValue ?? [], indent: inner, into: &lines)
        }
    }
}
