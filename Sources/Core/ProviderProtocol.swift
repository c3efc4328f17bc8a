import JSON

/// Gatekeeper's external-data wire format (`externaldata.gatekeeper.sh/v1beta1`), as its Go
/// types marshal it: every field `omitempty`, `response` always present (a struct), items in
/// request order.
public enum ProviderProtocol {
    public static let apiVersion = "externaldata.gatekeeper.sh/v1beta1"
    /// Gatekeeper before 3.11 sent v1alpha1; the shape is the same.
    public static let acceptedAPIVersions: Set<String> = [apiVersion, "externaldata.gatekeeper.sh/v1alpha1"]
    public static let requestKind = "ProviderRequest"
    public static let responseKind = "ProviderResponse"
}

/// Why a ProviderRequest was refused. The code is stable; the message names the offending field.
public struct ProviderProtocolError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidJSON = "INVALID_REQUEST_JSON"
        case invalidAPIVersion = "INVALID_API_VERSION"
        case invalidKind = "INVALID_KIND"
        case invalidKeys = "INVALID_KEYS"
    }

    public let code: Code
    public let message: String

    public var description: String { "\(code.rawValue): \(message)" }
}

public struct ProviderRequest: Sendable, Equatable {
    public var keys: [String]

    public init(keys: [String]) { self.keys = keys }

    public static func decode(_ body: [UInt8]) throws(ProviderProtocolError) -> ProviderRequest {
        let document: JSONValue
        do {
            document = try JSONParser.parse(body)
        } catch {
            throw ProviderProtocolError(code: .invalidJSON, message: "request body is not valid JSON: \(error)")
        }
        guard let object = document.objectValue else {
            throw ProviderProtocolError(code: .invalidJSON, message: "request body must be a JSON object, found \(document.typeName)")
        }
        guard let apiVersion = object["apiVersion"]?.stringValue else {
            throw ProviderProtocolError(code: .invalidAPIVersion,
                message: "apiVersion is missing; expected \"\(ProviderProtocol.apiVersion)\"")
        }
        guard ProviderProtocol.acceptedAPIVersions.contains(apiVersion) else {
            throw ProviderProtocolError(code: .invalidAPIVersion,
                message: "unsupported apiVersion \"\(apiVersion)\"; expected \"\(ProviderProtocol.apiVersion)\"")
        }
        guard let kind = object["kind"]?.stringValue, kind == ProviderProtocol.requestKind else {
            let found = object["kind"].map { $0.stringValue.map { "\"\($0)\"" } ?? $0.typeName } ?? "nothing"
            throw ProviderProtocolError(code: .invalidKind, message: "kind must be \"ProviderRequest\", found \(found)")
        }
        // `keys` is omitempty in Gatekeeper's types: an empty list arrives as `"request":{}`.
        guard let request = object["request"] else { return ProviderRequest(keys: []) }
        guard let requestObject = request.objectValue else {
            throw ProviderProtocolError(code: .invalidKeys, message: "request must be an object, found \(request.typeName)")
        }
        guard let keysValue = requestObject["keys"], !keysValue.isNull else { return ProviderRequest(keys: []) }
        guard let array = keysValue.arrayValue else {
            throw ProviderProtocolError(code: .invalidKeys, message: "request.keys must be an array of strings, found \(keysValue.typeName)")
        }
        var keys: [String] = []
        keys.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            guard let key = element.stringValue else {
                throw ProviderProtocolError(code: .invalidKeys, message: "request.keys[\(index)] must be a string, found \(element.typeName)")
            }
            keys.append(key)
        }
        return ProviderRequest(keys: keys)
    }

    public func json() -> JSONValue {
        ["apiVersion": .string(ProviderProtocol.apiVersion), "kind": .string(ProviderProtocol.requestKind),
         "request": .object(keys.isEmpty ? [:] : ["keys": .array(keys.map { .string($0) })])]
    }
}

public struct ProviderItem: Sendable, Equatable {
    public var key: String
    public var value: JSONValue?
    public var error: String?

    public init(key: String, value: JSONValue? = nil, error: String? = nil) {
        self.key = key
        self.value = value
        self.error = error
    }

    public static func failure(_ key: String, _ error: String) -> ProviderItem { ProviderItem(key: key, error: error) }

    func json() -> JSONValue {
        var object = JSONObject()
        if !key.isEmpty { object["key"] = .string(key) }
        if let value, !value.isNull { object["value"] = value }
        if let error, !error.isEmpty { object["error"] = .string(error) }
        return .object(object)
    }
}

public struct ProviderResponse: Sendable, Equatable {
    public var idempotent: Bool
    public var items: [ProviderItem]
    public var systemError: String?

    public init(idempotent: Bool = false, items: [ProviderItem] = [], systemError: String? = nil) {
        self.idempotent = idempotent
        self.items = items
        self.systemError = systemError
    }

    public func json() -> JSONValue {
        var response = JSONObject()
        if idempotent { response["idempotent"] = .bool(true) }
        if !items.isEmpty { response["items"] = .array(items.map { $0.json() }) }
        if let systemError, !systemError.isEmpty { response["systemError"] = .string(systemError) }
        return ["apiVersion": .string(ProviderProtocol.apiVersion), "kind": .string(ProviderProtocol.responseKind),
                "response": .object(response)]
    }

    /// Compact JSON followed by a newline, as Go's `json.NewEncoder(w).Encode` writes it.
    public func encoded() -> [UInt8] {
        var bytes = JSONWriter.encode(json())
        bytes.append(0x0A)
        return bytes
    }
}
