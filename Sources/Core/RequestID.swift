import Crypto

/// Trace IDs for requests that arrive without one: a random (version 4) UUID in its lowercase
/// text form, as Ratify's are. The 16 bytes come from OpenSSL's user-space DRBG
/// (`SecureRandom`): Foundation's `UUID()` opens, reads and closes /dev/urandom on every call
/// here, and `SystemRandomNumberGenerator` makes a `getrandom` call per 8 bytes.
public enum RequestID {
    private static let hex = Array("0123456789abcdef".utf8)

    public static func make() -> String {
        var bytes = SecureRandom.bytes(16)
        // RFC 9562 §5.4: version 4 in the high nibble of octet 6, variant 0b10 in the top bits of octet 8.
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
