import Foundation
import JSON
import Rego

/// rego-eval: evaluates Rego policies with the engine `regoPolicy` uses, for the differential
/// suite (Tests/rego/differential.py) and for trying a policy by hand.
///
///   rego-eval POLICY.rego [INPUT.json] [RULE]     prints the rule's value as JSON ("undefined" if none)
///   rego-eval --batch CASES.jsonl                 each line {"policy","input","rule"} → a line {"result"} |
///                                                 {"undefined":true} | {"error"}; a policy refused at load gives
///                                                 {"load_error"}
let arguments = Array(CommandLine.arguments.dropFirst())

nonisolated(unsafe) var lastPolicy: (text: String, policy: Result<RegoPolicy, RegoError>)?

func evaluate(policy text: String, input: JSONValue?, rule: String, file: String) -> JSONValue {
    // Batches ask several rules of one policy in a row: it is parsed once.
    if lastPolicy?.text != text {
        do { lastPolicy = (text, .success(try RegoPolicy(text, file: file))) } catch { lastPolicy = (text, .failure(error)) }
    }
    let policy: RegoPolicy
    switch lastPolicy!.policy {
    case .success(let parsed): policy = parsed
    case .failure(let error): return ["load_error": .string(error.description)]
    }
    do {
        guard let value = try policy.evaluateOnOwnStack(rule, input: input.map(RegoValue.init(json:)),
                                              limits: RegoLimits(deadline: .now + .seconds(10))) else { return ["undefined": true] }
        return ["result": value.json]
    } catch {
        return ["error": .string(error.description)]
    }
}

var options = JSONParser.Options()
options.maximumValues = 5_000_000
if arguments.first == "--batch", arguments.count == 2 {
    guard let data = FileManager.default.contents(atPath: arguments[1]) else {
        FileHandle.standardError.write(Data("rego-eval: cannot read \(arguments[1])\n".utf8))
        exit(2)
    }
    var out = Data()
    for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
        guard let case_ = try? JSONParser.parse(Array(line), options: options), let policy = case_["policy"]?.stringValue else {
            out.append(Data("{\"error\":\"bad case line\"}\n".utf8))
            continue
        }
        let input = case_["input"].flatMap { $0.isNull ? nil : $0 }
        let answer = evaluate(policy: policy, input: input, rule: case_["rule"]?.stringValue ?? "valid", file: "case.rego")
        out.append(Data((JSONWriter.encodeString(answer) + "\n").utf8))
    }
    FileHandle.standardOutput.write(out)
    exit(0)
}
guard (1...3).contains(arguments.count), let text = try? String(contentsOfFile: arguments[0], encoding: .utf8) else {
    FileHandle.standardError.write(Data("usage: rego-eval POLICY.rego [INPUT.json] [RULE] | rego-eval --batch CASES.jsonl\n".utf8))
    exit(2)
}
var input: JSONValue?
if arguments.count >= 2 {
    guard let data = FileManager.default.contents(atPath: arguments[1]), let parsed = try? JSONParser.parse(Array(data), options: options) else {
        FileHandle.standardError.write(Data("rego-eval: \(arguments[1]) is not JSON\n".utf8))
        exit(2)
    }
    input = parsed
}
let answer = evaluate(policy: text, input: input, rule: arguments.count == 3 ? arguments[2] : "valid", file: arguments[0])
print(JSONWriter.encodeString(answer))
exit(answer["load_error"] != nil || answer["error"] != nil ? 1 : 0)
