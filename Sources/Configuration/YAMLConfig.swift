import JSON
import Yams

/// Reads a YAML document of config.json's shape into the same `JSONValue` the JSON path
/// produces, so both formats go through one set of checks. Mapping order is kept; duplicate
/// keys are an error, as they are for JSON.
public enum YAMLConfig {
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError("\(source) is not valid YAML: \(error)")
        }
        guard let node else { throw ConfigurationError("\(source) is empty") }
        return try convert(node, path: "", source: source)
    }

    private static func convert(_ node: Node, path: String, source: String) throws(ConfigurationError) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            // Quoted scalars are strings whatever they look like; plain ones may be
            // null, a boolean or a number.
            if scalar.style == .singleQuoted || scalar.style == .doubleQuoted { return .string(scalar.string) }
            if node.null != nil { return .null }
            if let flag = node.bool { return .bool(flag) }
            if let whole = node.int { return .int(whole) }
            if let number = node.float, number.isFinite, Double(scalar.string) != nil { return .number(String(number)) }
            return .string(scalar.string)
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw ConfigurationError("\(source): \(path.isEmpty ? "top level" : path) has a non-string key")
                }
                let name = keyScalar.string
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                guard object[name] == nil else { throw ConfigurationError("\(source): \(childPath) appears twice") }
                object[name] = try convert(value, path: childPath, source: source)
            }
            return .object(object)
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            for (index, element) in sequence.enumerated() {
                elements.append(try convert(element, path: "\(path)[\(index)]", source: source))
            }
            return .array(elements)
        }
    }
}
