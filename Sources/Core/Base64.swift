/// Base64 decoding with the exact leniency of the Go decoders the reference implementations
/// use, so that what notation, cosign and sigstore-go accept, we accept (and nothing more):
///
/// - Go's `encoding/base64` decoders skip `\r` and `\n` anywhere in the input ("New line
///   characters (\r and \n) are ignored", encoding/base64 `Decode`). cosign writes and reads
///   `dev.cosignproject.cosign/signature` with `base64.StdEncoding`, so a line-wrapped
///   annotation is a valid signature.
/// - `.standard` is `base64.StdEncoding` (also what `encoding/json` uses for `[]byte`):
///   `+/` alphabet, `=` padding required.
/// - `.rawURL` is `base64.RawURLEncoding` (JWS segments, RFC 7515 §2): `-_` alphabet, no `=`.
/// - `.protobufJSON` is protojson's rule for `bytes` fields (sigstore bundles, trusted roots):
///   the URL alphabet when the text holds `-` or `_`, else the standard one; padding optional
///   ("Either standard or URL-safe base64 encoding with or without paddings are accepted").
///
/// Trailing bits that are not zero are ignored, as Go's non-strict decoders ignore them.
public enum Base64 {
    public enum Variant: Sendable { case standard, rawURL, protobufJSON }

    public static func decode(_ text: String, _ variant: Variant) -> [UInt8]? {
        decode(Array(text.utf8), variant)
    }

    public static func decode(_ input: [UInt8], _ variant: Variant) -> [UInt8]? {
        var urlAlphabet = false
        var padding: Bool
        switch variant {
        case .standard: padding = true
        case .rawURL: urlAlphabet = true; padding = false
        case .protobufJSON:
            urlAlphabet = input.contains(UInt8(ascii: "-")) || input.contains(UInt8(ascii: "_"))
            padding = input.count % 4 == 0
        }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3 + 3)
        var quantum: UInt32 = 0
        var count = 0
        var index = 0
        while index < input.count {
            let byte = input[index]
            index += 1
            if byte == 0x0a || byte == 0x0d { continue }
            if byte == UInt8(ascii: "=") {
                // Padding ends the data: 2 or 3 symbols before it in this quantum, then exactly
                // enough `=` to complete it, then nothing but line breaks.
                guard padding, count >= 2 else { return nil }
                var needed = 4 - count - 1
                while needed > 0 {
                    while index < input.count, input[index] == 0x0a || input[index] == 0x0d { index += 1 }
                    guard index < input.count, input[index] == UInt8(ascii: "=") else { return nil }
                    index += 1
                    needed -= 1
                }
                guard input[index...].allSatisfy({ $0 == 0x0a || $0 == 0x0d }) else { return nil }
                emit(&out, quantum, count)
                return out
            }
            guard let value = symbol(byte, url: urlAlphabet) else { return nil }
            quantum = quantum << 6 | UInt32(value)
            count += 1
            if count == 4 {
                out.append(UInt8(truncatingIfNeeded: quantum >> 16))
                out.append(UInt8(truncatingIfNeeded: quantum >> 8))
                out.append(UInt8(truncatingIfNeeded: quantum))
                quantum = 0
                count = 0
            }
        }
        guard count != 0 else { return out }
        // Unpadded tail: allowed only without padding, and never a single symbol.
        guard !padding, count >= 2 else { return nil }
        emit(&out, quantum, count)
        return out
    }

    /// The bytes of a final quantum of `count` (2 or 3) symbols.
    private static func emit(_ out: inout [UInt8], _ quantum: UInt32, _ count: Int) {
        if count == 2 {
            out.append(UInt8(truncatingIfNeeded: quantum >> 4))
        } else {
            out.append(UInt8(truncatingIfNeeded: quantum >> 10))
            out.append(UInt8(truncatingIfNeeded: quantum >> 2))
        }
    }

    private static func symbol(_ byte: UInt8, url: Bool) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+") where !url: 62
        case UInt8(ascii: "/") where !url: 63
        case UInt8(ascii: "-") where url: 62
        case UInt8(ascii: "_") where url: 63
        default: nil
        }
    }
}
