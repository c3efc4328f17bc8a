internal import CShims

/// Message digests through OpenSSL's EVP interface, the project's one crypto stack.
public enum HashAlgorithm: String, Sendable, CaseIterable {
    case sha256, sha384, sha512

    public var byteCount: Int {
        switch self {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// The digest, fetched from OpenSSL's default provider once per process. The `EVP_sha256()`
    /// kind of object makes OpenSSL 3 fetch the implementation again on every use (a name lookup
    /// and a method-store lookup, under locks): twelve times in a cold verification.
    var evp: OpaquePointer {
        switch self {
        case .sha256: Self.fetched.sha256.pointer
        case .sha384: Self.fetched.sha384.pointer
        case .sha512: Self.fetched.sha512.pointer
        }
    }

    /// An `EVP_MD*` held for the life of the process; fetched methods may be shared by threads.
    struct Fetched: @unchecked Sendable {
        let pointer: OpaquePointer

        init(_ name: String, fallback: OpaquePointer) {
            pointer = EVP_MD_fetch(nil, name, nil) ?? fallback
        }
    }

    private static let fetched = (sha256: Fetched("SHA256", fallback: EVP_sha256()),
                                  sha384: Fetched("SHA384", fallback: EVP_sha384()),
                                  sha512: Fetched("SHA512", fallback: EVP_sha512()))
}

public enum Hash {
    public static func digest(_ algorithm: HashAlgorithm, _ bytes: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(EVP_MAX_MD_SIZE)) { out, count in
            var length: UInt32 = 0
            let ok = bytes.withUnsafeBytes { raw in
                EVP_Digest(raw.baseAddress, raw.count, out.baseAddress, &length, algorithm.evp, nil)
            }
            precondition(ok == 1, "EVP_Digest(\(algorithm)) failed")
            count = Int(length)
        }
    }

    public static func hex(_ algorithm: HashAlgorithm, _ bytes: [UInt8]) -> String {
        hexString(digest(algorithm, bytes))
    }

    /// Bytes of an even-length hex string (either case), or nil.
    public static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    public static func hexString(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (index, byte) in bytes.enumerated() {
                out[2 * index] = hexDigits[Int(byte >> 4)]
                out[2 * index + 1] = hexDigits[Int(byte & 0xF)]
            }
            return bytes.count * 2
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

extension Hash {
    /// HMAC (RFC 2104) over OpenSSL.
    public static func hmac(_ algorithm: HashAlgorithm, key: [UInt8], _ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { rawKey in
            bytes.withUnsafeBytes { raw in
                HMAC(algorithm.evp, rawKey.baseAddress, Int32(rawKey.count), raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &out, &length)
            }
        }
        precondition(result != nil, "HMAC(\(algorithm)) failed")
        return Array(out.prefix(Int(length)))
    }

    /// Equality whose time does not depend on where the inputs differ (for MACs).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
    }
}
