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

    public static func parse(_ text: String) -> DistinguishedName? {
        var attributes: [(type: String, value: String)] = []
        var current = ""
        var escaped = false
        var parts: [String] = []
        for character in text {
            if escaped {
                current.append(character == " " ? "\u{0}" : character)  // an escaped space survives trimming
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "," || character == ";" {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        guard !escaped else { return nil }
        parts.append(current)
        for part in parts {
            guard let equals = part.firstIndex(of: "=") else { return nil }
            let type = part[..<equals].trimmingCharacters(in: .whitespaces).uppercased()
            let value = part[part.index(after: equals)...].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\u{0}", with: " ")
            guard !type.isEmpty, !value.isEmpty, type.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else { return nil }
            attributes.append((type, value))
        }
        return attributes.isEmpty ? nil : DistinguishedName(attributes: attributes)
    }

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
