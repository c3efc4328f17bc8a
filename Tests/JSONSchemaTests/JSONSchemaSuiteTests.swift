import Foundation
import JSON
@testable import JSONSchema
import Testing

/// The official JSON-Schema-Test-Suite (Tests/Conformance/json-schema-test-suite: draft4, draft6 and
/// draft7, top-level files, and the remotes they reference, served as http://localhost:1234/…
/// from the registry — nothing is fetched). Every case must give the suite's verdict, except
/// the ones listed in `knownDisagreements` with the reason; a listed case that starts agreeing
/// fails too, so the list stays true.
let suiteRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Conformance/json-schema-test-suite")

func loadJSON(_ url: URL) throws -> JSONValue {
    try JSONParser.parse(Array(try Data(contentsOf: url)))
}

func remotesRegistry() throws -> SchemaRegistry {
    var registry = SchemaRegistry()
    let remotes = suiteRoot.appendingPathComponent("remotes")
    let files = FileManager.default.enumerator(at: remotes, includingPropertiesForKeys: nil)!
    for case let file as URL in files where file.pathExtension == "json" {
        let relative = file.path.dropFirst(remotes.path.count + 1)
        registry.add(try loadJSON(file), uri: "http://localhost:1234/\(relative)")
    }
    return registry
}

/// "file / group description / test description" → why we disagree with the suite.
let knownDisagreements: [String: String] = [:]

@Suite struct JSONSchemaTestSuite {
    @Test(arguments: ["draft4", "draft6", "draft7"])
    func everyCaseGivesTheSuitesVerdict(draft: String) async throws {
        // Seconds of work in a debug build: off the cooperative pool, which other tests need.
        let (cases, disagreements) = try await offPool { try Self.run(draft) }
        #expect(cases > 500)
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements:\n\(disagreements.prefix(40).joined(separator: "\n"))")
    }

    static func run(_ draft: String) throws -> (Int, [String]) {
        let registry = try remotesRegistry()
        let directory = suiteRoot.appendingPathComponent(draft)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        guard files.count > 25 else { return (0, ["\(draft): only \(files.count) files"]) }
        var cases = 0
        var disagreements: [String] = []
        for file in files {
            guard let groups = try loadJSON(directory.appendingPathComponent(file)).arrayValue else { continue }
            for group in groups {
                let description = group["description"]?.stringValue ?? ""
                let schema: JSONSchema
                do {
                    schema = try JSONSchema(group["schema"]!, registry: registry, defaultDialect: draft == "draft4" ? .draft4 : draft == "draft6" ? .draft6 : .draft7)
                } catch {
                    for test in group["tests"]?.arrayValue ?? [] {
                        disagreements.append("\(file) / \(description) / \(test["description"]?.stringValue ?? ""): schema refused: \(error)")
                    }
                    continue
                }
                for test in group["tests"]?.arrayValue ?? [] {
                    cases += 1
                    let name = "\(file) / \(description) / \(test["description"]?.stringValue ?? "")"
                    let expected = test["valid"]?.boolValue ?? false
                    let result = schema.validate(test["data"]!)
                    if result.isValid != expected {
                        if knownDisagreements[name] == nil {
                            disagreements.append("\(name): expected \(expected ? "valid" : "invalid"), got \(result.violations.map(\.description))")
                        }
                    } else if knownDisagreements[name] != nil {
                        disagreements.append("\(name): listed as a known disagreement but now agrees; remove it from the list")
                    }
                }
            }
        }
        return (cases, disagreements)
    }
}

/// Runs `work` on a thread of its own (the test target does not link TestSupport).
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
