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

    var evp: OpaquePointer {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
    }
}

public enum Hash {
    public static func digest(_ algorithm: HashAlgorithm, _ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &out, &length, algorithm.evp, nil)
        }
        precondition(ok == 1, "EVP_Digest(\(algorithm)) failed")
        return Array(out.prefix(Int(length)))
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
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
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
