import Crypto

/// An OCI content digest, `algorithm:hex` (OCI image spec, descriptor.md). Only the algorithms
/// go-digest registers are accepted — sha256, sha384, sha512 — with lowercase hex of the exact
/// length; anything else is refused with a reason, never guessed at.
public struct Digest: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let algorithm: HashAlgorithm
    public let hex: String
    /// `algorithm:hex`, made once: a digest is written into cache keys, URLs and reports many
    /// times per verification.
    public let description: String

    public init(algorithm: HashAlgorithm, hex: String) {
        self.algorithm = algorithm
        self.hex = hex
        self.description = "\(algorithm.rawValue):\(hex)"
    }

    // The text determines algorithm and hex, so it alone is compared and hashed.
    public static func == (lhs: Digest, rhs: Digest) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public static func parse(_ text: String) throws(ReferenceError) -> Digest {
        guard let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) else {
            throw ReferenceError(.invalidDigest, "digest \"\(text)\" must be algorithm:hex")
        }
        let name = String(text[..<colon]), hex = String(text[text.utf8.index(after: colon)...])
        guard let algorithm = HashAlgorithm(rawValue: name) else {
            throw ReferenceError(.unsupportedDigestAlgorithm,
                "digest algorithm \"\(name)\" is not supported; use sha256, sha384 or sha512")
        }
        guard hex.utf8.count == algorithm.byteCount * 2,
              hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw ReferenceError(.invalidDigest,
                "\(name) digest must be \(algorithm.byteCount * 2) lowercase hex characters, got \"\(hex)\"")
        }
        // `text` is already the canonical `algorithm:hex`: kept, not written again.
        return Digest(algorithm: algorithm, hex: hex, description: text)
    }

    private init(algorithm: HashAlgorithm, hex: String, description: String) {
        self.algorithm = algorithm
        self.hex = hex
        self.description = description
    }

    /// The digest of `bytes` under the same algorithm.
    public static func of(_ bytes: [UInt8], algorithm: HashAlgorithm = .sha256) -> Digest {
        Digest(algorithm: algorithm, hex: Hash.hex(algorithm, bytes))
    }

    /// True when `bytes` hash to this digest.
    public func matches(_ bytes: [UInt8]) -> Bool { Hash.hex(algorithm, bytes) == hex }

    /// The tag the OCI distribution spec's referrers tag schema uses: `<alg>-<ref>`.
    public var referrersTag: String { "\(algorithm.rawValue)-\(hex)" }
}

/// Why a reference or digest was refused. Codes are stable.
public struct ReferenceError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidReference = "INVALID_REFERENCE"
        case invalidDigest = "INVALID_DIGEST"
        case unsupportedDigestAlgorithm = "UNSUPPORTED_DIGEST_ALGORITHM"
        case nameNotLowercase = "REPOSITORY_NAME_NOT_LOWERCASE"
        case nameTooLong = "REPOSITORY_NAME_TOO_LONG"
        case invalidTag = "INVALID_TAG"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
