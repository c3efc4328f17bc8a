import Foundation

/// Strict Base64 decoding for envelopes: JWS members are base64url without padding (RFC 7515
/// §2); `x5c` entries and the timestamp token are standard Base64 with padding (RFC 7515 §4.1.6).
enum Base64 {
    static func url(_ text: String) -> [UInt8]? {
        guard !text.contains("="), text.utf8.allSatisfy({ isURLAlphabet($0) }), text.utf8.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard).map { Array($0) }
    }

    static func standard(_ text: String) -> [UInt8]? {
        guard text.utf8.count % 4 == 0 else { return nil }
        return Data(base64Encoded: text).map { Array($0) }
    }

    private static func isURLAlphabet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }
}

/// RFC 3339 times as the JWS envelope writes them (`2022-08-29T13:50:00-07:00`, fractional
/// seconds allowed).
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
