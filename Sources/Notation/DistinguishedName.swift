import Foundation

/// An X.509 distinguished name as the trust policy writes it: `C=US, ST=WA, O=acme, CN=builder`.
/// Attribute order does not matter for matching; escapes follow the Notary Project spec
/// ("Trusted Identities Constraints"): `\,` `\;` `\\` and an escaped leading/trailing space.
public struct DistinguishedName: Equatable, Sendable, CustomStringConvertible {
    public let attributes: [(type: String, value: String)]

    public static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        lhs.attributes.count == rhs.attributes.count && lhs.isSubset(of: rhs) && rhs.isSubset(of: lhs)
    }

    public var description: String { attributes.map { "\($0.type)=\($0.value)" }.joined(separator: ", ") }

    /// Parses as notation-go does (`internal/pkix.ParseDistinguishedName` over go-ldap's RFC 4514
    /// `ParseDN`): `,` or `;` between RDNs, `\,` `\;` `\+` `\\` `\"` `\=` `\<` `\>` `\#` and `\XX`
    /// hex escapes (UTF-8 bytes), spaces around types and values trimmed unless escaped, `S` an
    /// alias of `ST`. Refused as notation refuses them: multi-valued RDNs (`+`), a type given
    /// twice, and `=#` (BER-encoded values).
    public static func parse(_ text: String) -> DistinguishedName? {
        guard !text.contains("=#") else { return nil }
        let bytes = Array(text.utf8)
        var parts: [[UInt8]] = []
        var current: [UInt8] = []
        /// Positions in `current` that came from an escape: they are never trimmed.
        var escapedPositions: [Set<Int>] = []
        var escapedHere: Set<Int> = []
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count else { return nil }
                if index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                    escapedHere.insert(current.count)
                    current.append(high << 4 | low)
                    index += 3
                } else {
                    escapedHere.insert(current.count)
                    current.append(bytes[index + 1])
                    index += 2
                }
                continue
            }
            if byte == UInt8(ascii: "+") { return nil }  // multi-valued RDN
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";") {
                parts.append(current)
                escapedPositions.append(escapedHere)
                current = []
                escapedHere = []
            } else {
                current.append(byte)
            }
            index += 1
        }
        parts.append(current)
        escapedPositions.append(escapedHere)
        var attributes: [(type: String, value: String)] = []
        for (part, escaped) in zip(parts, escapedPositions) {
            guard let equals = part.firstIndex(where: { $0 == UInt8(ascii: "=") }), !escaped.contains(equals) else { return nil }
            var type = String(decoding: part[..<equals], as: UTF8.self).trimmingCharacters(in: .whitespaces).uppercased()
            if type == "S" { type = "ST" }
            var start = equals + 1, end = part.count
            while start < end, part[start] == UInt8(ascii: " "), !escaped.contains(start) { start += 1 }
            while end > start, part[end - 1] == UInt8(ascii: " "), !escaped.contains(end - 1) { end -= 1 }
            guard let value = String(validating: part[start..<end], as: UTF8.self) else { return nil }
            guard !type.isEmpty, !value.isEmpty, type.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else { return nil }
            guard !attributes.contains(where: { $0.type == type }) else { return nil }
            attributes.append((type, value))
        }
        return attributes.isEmpty ? nil : DistinguishedName(attributes: attributes)
    }

    /// The signing certificate's subject as notation-go reads it (`pkix.ParseDistinguishedName`
    /// of `Subject.String()`): nil for a multi-valued RDN, a repeated attribute type, or a
    /// value notation cannot name (it would print it as `=#…`).
    public init?(certificateSubject attributes: [(type: String, value: String, set: Int)]) {
        var result: [(type: String, value: String)] = []
        for attribute in attributes {
            guard attributes.filter({ $0.set == attribute.set }).count == 1, !attribute.type.contains("."),
                  !result.contains(where: { $0.type == attribute.type }) else { return nil }
            result.append((attribute.type, attribute.value))
        }
        guard !result.isEmpty else { return nil }
        self.attributes = result
    }

    init(attributes: [(type: String, value: String)]) { self.attributes = attributes }

    public func value(_ type: String) -> String? { attributes.first { $0.type == type }?.value }

    /// Every attribute of `self` appears in `other` with the same value (a trusted identity may
    /// name only some of the certificate subject's RDNs).
    public func isSubset(of other: DistinguishedName) -> Bool {
        attributes.allSatisfy { attribute in other.attributes.contains { $0.type == attribute.type && $0.value == attribute.value } }
    }

    /// Two trusted identities overlap when one certificate subject could match both: one is a
    /// subset of the other.
    public func overlaps(_ other: DistinguishedName) -> Bool { isSubset(of: other) || other.isSubset(of: self) }
}
