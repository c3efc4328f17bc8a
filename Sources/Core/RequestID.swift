/// Trace IDs for requests that arrive without one: a random (version 4) UUID in its lowercase
/// text form, as Ratify's are. Drawn from `SystemRandomNumberGenerator` (one `getrandom` call):
/// Foundation's `UUID()` opens, reads and closes /dev/urandom on every call here, three system
/// calls on each admission request.
public enum RequestID {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        // RFC 9562 §5.4: version 4 in bits 48–51, variant 0b10 in bits 64–65.
        high = (high & ~0xF000) | 0x4000
        low = (low & ~(0xC << 60)) | (0x8 << 60)
        let hex = hexDigits(high) + hexDigits(low)
        var out = ""
        out.reserveCapacity(36)
        for (index, character) in hex.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { out.append("-") }
            out.append(character)
        }
        return out
    }

    private static func hexDigits(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
