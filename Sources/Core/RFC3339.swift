import Foundation

/// RFC 3339 times as the JWS envelope writes them (`2022-08-29T13:50:00-07:00`, fractional
/// seconds allowed).
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
