import Crypto
import Foundation

/// AWS credentials: long-lived keys, or a session's (with its token). `description` never shows
/// the secret or the token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "aws-credentials(\(accessKeyID), secret: <redacted>)" }
}

/// AWS Signature Version 4, pure: canonical request → string to sign → signature
/// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), checked
/// against AWS's published test suite (`Tests/Conformance/aws-sigv4`).
public enum SigV4 {
    public struct Request: Sendable {
        public var method: String
        /// The decoded path (`/`, `/a b/ሴ`): normalised and percent-encoded here.
        public var path: String
        /// Decoded query parameters in any order.
        public var query: [(name: String, value: String)]
        /// Headers to sign; `Host` must be among them.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String = "/", query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    public struct Signature: Sendable {
        public let canonicalRequest: String
        public let stringToSign: String
        public let authorization: String
        /// What to send: the request's headers with `X-Amz-Date`, `X-Amz-Security-Token` (for
        /// session credentials) and `Authorization` set.
        public let headers: [(name: String, value: String)]
    }

    /// `20150830T123600Z`.
    public static func amzDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    public static func sign(_ request: Request, credentials: AWSCredentials, region: String, service: String, date: Date) -> Signature {
        let stamp = amzDate(date)
        var headers = request.headers.filter { $0.name.lowercased() != "x-amz-date" && $0.name.lowercased() != "authorization" }
        headers.append((name: "X-Amz-Date", value: stamp))
        if let token = credentials.sessionToken, !headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }) {
            headers.append((name: "X-Amz-Security-Token", value: token))
        }
        let (canonicalHeaders, signedHeaders) = canonicalize(headers)
        let canonicalRequest = [
            request.method,
            canonicalURI(request.path),
            canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            Hash.hex(.sha256, request.body),
        ].joined(separator: "\n")
        let day = String(stamp.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, Hash.hex(.sha256, Array(canonicalRequest.utf8))].joined(separator: "\n")
        var key = Hash.hmac(.sha256, key: Array("AWS4\(credentials.secretAccessKey)".utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = Hash.hmac(.sha256, key: key, Array(part.utf8)) }
        let signature = Hash.hexString(Hash.hmac(.sha256, key: key, Array(stringToSign.utf8)))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        headers.append((name: "Authorization", value: authorization))
        return Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign, authorization: authorization, headers: headers)
    }

    /// Lower-case names, sorted; values trimmed with inner runs of white space collapsed to one
    /// space; repeated names joined by commas in their order.
    static func canonicalize(_ headers: [(name: String, value: String)]) -> (block: String, signed: String) {
        var byName: [String: [String]] = [:]
        for header in headers {
            let collapsed = header.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
            byName[header.name.lowercased(), default: []].append(collapsed)
        }
        let names = byName.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let block = names.map { "\($0):\(byName[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    /// Dot segments removed and empty segments dropped (`//a/./b/../` → `/a/`), a trailing slash
    /// kept; every byte but the unreserved ones and `/` percent-encoded.
    static func canonicalURI(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." { _ = segments.popLast(); continue }
            segments.append(segment)
        }
        var normalized = "/" + segments.joined(separator: "/")
        if path.hasSuffix("/"), normalized != "/" { normalized += "/" }
        return percentEncode(normalized, keepSlash: true)
    }

    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (percentEncode($0.name, keepSlash: false), percentEncode($0.value, keepSlash: false)) }
            .sorted { a, b in a.0 == b.0 ? Array(a.1.utf8).lexicographicallyPrecedes(Array(b.1.utf8))
                                         : Array(a.0.utf8).lexicographicallyPrecedes(Array(b.0.utf8)) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 unreserved characters stay; everything else as %XX (upper-case hex) of its UTF-8.
    public static func percentEncode(_ text: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
