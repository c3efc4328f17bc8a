import Foundation
import JSON
import Testing

/// The upstream test vectors under Tests/Conformance (see its README.md): every
/// `<repository>/cases.json`, and `disagreements.json` — the cases where our verdict differs
/// from the upstream test's, each with the reason (a deliberate security decision named in
/// docs/compatibility.md, a check the Ratify configuration cannot express, or the open issue
/// that builds the missing piece).
struct ConformanceCase: Sendable, CustomTestStringConvertible {
    let id: String
    let kind: String
    let expect: String
    let upstream: String
    /// The directory holding this case's cases.json: paths in the case are relative to it.
    let directory: URL
    let fields: JSONValue
    var testDescription: String { id }

    func string(_ key: String) -> String? { fields[key]?.stringValue }
    func path(_ relative: String) -> URL { directory.appendingPathComponent(relative) }
    func file(_ key: String) throws -> [UInt8] {
        guard let name = string(key) else { throw CorpusError("\(id): \(key) is missing") }
        return Array(try Data(contentsOf: path(name)))
    }
    func date(_ key: String) throws -> Date? {
        guard let text = string(key) else { return nil }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else { throw CorpusError("\(id): \(key) \"\(text)\" is not RFC 3339") }
        return date
    }
}

struct Disagreement: Sendable {
    /// Our verdict, pinned so a change either way is noticed.
    let ours: String
    let why: String
}

struct CorpusError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum ConformanceCorpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Conformance")

    static let cases: [ConformanceCase] = {
        let repositories = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        var all: [ConformanceCase] = []
        for repository in repositories.sorted() {
            let directory = root.appendingPathComponent(repository)
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("cases.json").path),
                  let document = try? JSONParser.parse(Array(data)), let list = document["cases"]?.arrayValue else { continue }
            for entry in list {
                all.append(ConformanceCase(id: entry["id"]?.stringValue ?? "?", kind: entry["kind"]?.stringValue ?? "?",
                                           expect: entry["expect"]?.stringValue ?? "?", upstream: entry["upstream"]?.stringValue ?? "?",
                                           directory: directory, fields: entry))
            }
        }
        return all
    }()

    static let disagreements: [String: Disagreement] = {
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent("disagreements.json").path),
              let document = try? JSONParser.parse(Array(data)), let members = document.objectValue?.members else { return [:] }
        var result: [String: Disagreement] = [:]
        for member in members {
            result[member.key] = Disagreement(ours: member.value["ours"]?.stringValue ?? "?", why: member.value["why"]?.stringValue ?? "")
        }
        return result
    }()

    /// A Ratify config object with every string that names a file relative to `directory`
    /// made absolute (key files, trusted roots, trust stores, trust policy documents).
    static func absolutePaths(_ value: JSONValue, in directory: URL) -> JSONValue {
        switch value {
        case .string(let text) where !text.isEmpty && !text.hasPrefix("/") && !text.contains("://")
            && FileManager.default.fileExists(atPath: directory.appendingPathComponent(text).path):
            return .string(directory.appendingPathComponent(text).path)
        case .array(let items): return .array(items.map { absolutePaths($0, in: directory) })
        case .object(let object): return .object(JSONObject(object.members.map { (key: $0.key, value: absolutePaths($0.value, in: directory)) }))
        default: return value
        }
    }
}
