import Crypto
import Synchronization

/// Trace IDs for requests that arrive without one: a random-looking (version 4) UUID in its
/// lowercase text form, as Ratify's are. A trace ID must be unique, not secret: each is a
/// counter run through SplitMix64's mixing function (a bijection of 64-bit words) under two
/// keys drawn once per process from OpenSSL's DRBG. So no two IDs of one process are equal, IDs
/// of two processes collide with odds of 2^-122, and an ID costs no lock, no DRBG call and no
/// system call (a `RAND_bytes` per request was 1.7 % of a cold verification's CPU).
public enum RequestID {
    private static let hex = Array("0123456789abcdef".utf8)
    private static let keys: (UInt64, UInt64) = {
        let bytes = SecureRandom.bytes(16)
        let word = { (offset: Int) in bytes[offset..<offset + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        return (word(0), word(8))
    }()
    private static let counter = Atomic<UInt64>(0)

    /// SplitMix64's output function (Steele, Lea, Flood 2014): every step is invertible.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func make() -> String {
        let count = counter.add(1, ordering: .relaxed).newValue
        let high = mix(count &+ keys.0), low = mix(count ^ keys.1)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { out in
            var position = 0
            for index in 0..<16 {
                var byte = UInt8(truncatingIfNeeded: (index < 8 ? high : low) >> (56 - 8 * UInt64(index % 8)))
                // RFC 9562 §5.4: version 4 in the high nibble of octet 6, variant 0b10 in the top bits of octet 8.
                if index == 6 { byte = (byte & 0x0F) | 0x40 }
                if index == 8 { byte = (byte & 0x3F) | 0x80 }
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    out[position] = UInt8(ascii: "-")
                    position += 1
                }
                out[position] = hex[Int(byte >> 4)]
                out[position + 1] = hex[Int(byte & 0x0F)]
                position += 2
            }
            return String(decoding: UnsafeBufferPointer(rebasing: out[0..<36]), as: UTF8.self)
        }
    }
}
