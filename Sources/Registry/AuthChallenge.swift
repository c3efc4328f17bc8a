import Foundation

/// A `WWW-Authenticate` challenge (RFC 9110 §11.6.1): `Bearer realm="…",service="…",scope="…"`.
public struct AuthChallenge: Equatable, Sendable {
    public var scheme: String
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Parses one challenge; parameter names are case-insensitive, values may be quoted
    /// strings with backslash escapes (a scope may hold commas: `"repository:a:pull,push"`).
    public static func parse(_ header: String) -> AuthChallenge? {
        let text = Array(header.utf8)
        var i = 0
        func skipSpace() { while i < text.count, text[i] == 0x20 || text[i] == 0x09 { i += 1 } }
        skipSpace()
        let schemeStart = i
        while i < text.count, text[i] != 0x20, text[i] != 0x09 { i += 1 }
        guard i > schemeStart else { return nil }
        let scheme = String(decoding: text[schemeStart..<i], as: UTF8.self).lowercased()
        var parameters: [String: String] = [:]
        while i < text.count {
            skipSpace()
            let nameStart = i
            while i < text.count, text[i] != UInt8(ascii: "="), text[i] != UInt8(ascii: ",") { i += 1 }
            let name = String(decoding: text[nameStart..<i], as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
            guard i < text.count, text[i] == UInt8(ascii: "=") else { i += 1; continue }
            i += 1
            skipSpace()
            var value: [UInt8] = []
            if i < text.count, text[i] == UInt8(ascii: "\"") {
                i += 1
                while i < text.count, text[i] != UInt8(ascii: "\"") {
                    if text[i] == UInt8(ascii: "\\"), i + 1 < text.count { i += 1 }
                    value.append(text[i])
                    i += 1
                }
                i += 1
            } else {
                while i < text.count, text[i] != UInt8(ascii: ",") { value.append(text[i]); i += 1 }
            }
            if !name.isEmpty { parameters[name] = String(decoding: value, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
            skipSpace()
            if i < text.count, text[i] == UInt8(ascii: ",") { i += 1 }
        }
        return AuthChallenge(scheme: scheme, parameters: parameters)
    }
}
