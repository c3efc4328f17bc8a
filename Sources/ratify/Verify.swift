import ArgumentParser
import Core
import Foundation
import JSON
import Logging
import RatifyServer
import Registry

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify one image with a config file and print the report Gatekeeper would get.",
        discussion: "Exit status: 0 when the verdict is success, 1 when it is not (or the image cannot be verified), 2 on a usage or config error.")

    @Option(name: [.customShort("c"), .customLong("config")], help: "Ratify config.json; the embedded default when omitted.")
    var configPath: String?

    @Option(name: [.customShort("s"), .customLong("subject")], help: "Image reference, by tag or digest (optionally [namespace]image).")
    var subject: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "json or text.")
    var output = "json"

    @Option(help: "Milliseconds the verification may take; the config's executor.verificationRequestTimeout when omitted.")
    var timeout: Int?

    func run() async throws {
        guard output == "json" || output == "text" else { usage("--output must be json or text") }
        let config: ServerConfigFile
        do {
            config = try configPath.map { try ServerConfigFile.load(path: $0) }
                ?? ServerConfigFile.parse(Array(ServerConfigFile.embeddedDefault.utf8), source: "embedded default config")
        } catch {
            usage("\(error)")
        }
        for warning in config.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let budget: Duration = timeout.map { .milliseconds($0) } ?? config.verificationRequestTimeout ?? .milliseconds(2900)
        let executor: any ProviderExecutor
        do {
            let store = try StoreFactory.makeStore(config.storeOptions, metrics: nil)
            executor = try ExecutorFactory.verifyExecutor(config, store: store, generation: 1, logger: Logger(label: "ratify-verify") { _ in SwiftLogNoOpLogHandler() })
        } catch {
            usage("\(error)")
        }
        let requestID = UUID().uuidString.lowercased()
        let item = await executor.execute([subject], context: ProviderContext(requestID: requestID, operation: .verify, deadline: .now + budget))[0]
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
