/// Size limits applied while decoding; exceeding one is answered with the matching status.
public struct HTTPLimits: Sendable, Equatable {
    public var maxRequestLineBytes = 8 * 1024
    public var maxHeaderBytes = 32 * 1024
    public var maxHeaderCount = 100
    public var maxBodyBytes = 4 * 1024 * 1024

    public init() {}
}

public struct HTTPDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: HTTPStatus
    public let reason: String

    public init(_ status: HTTPStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status.code) \(status.reason): \(reason)" }
}

public enum HTTPDecodeResult: Equatable, Sendable {
    /// More bytes are needed. `expectsContinue` is true once a complete head announced
    /// `Expect: 100-continue` and the body has not fully arrived.
    case needMoreData(expectsContinue: Bool)
    /// One request; `consumed` bytes of the input belong to it (pipelined bytes follow).
    case request(HTTPRequest, consumed: Int)
    case failure(HTTPDecodeError)
}

/// HTTP/1.1 request decoding (RFC 9112) as a pure function over bytes: no sockets, no state kept
/// between calls. The connection calls it again with the whole unconsumed buffer when more bytes
/// arrive; heads are bounded by `maxHeaderBytes`, so re-scanning a head is cheap.
public enum HTTPRequestDecoder {
    /// Where a chunked body's decoding stopped for lack of bytes: the next call continues from
    /// there instead of re-reading every chunk (a body sent in 1-byte chunks made each read cost
    /// a scan of all earlier chunks). Offsets are relative to the request's first byte.
    public struct ChunkedProgress: Sendable, Equatable {
        var cursor: Int
        var body: [UInt8]
        var chunks: Int
    }

    /// Chunks per body at most: 16,384 is 256-byte chunks for the largest body; tiny chunks are
    /// framing, not data, and a body of them is refused at once.
    public static let maxChunks = 16_384

    public static func decode(_ bytes: [UInt8], from start: Int = 0, limits: HTTPLimits = HTTPLimits()) -> HTTPDecodeResult {
        var progress: ChunkedProgress?
        return decode(bytes, from: start, limits: limits, progress: &progress)
    }

    /// As `decode`, continuing a chunked body from `progress` (kept by the caller between calls
    /// for the same request; nil for a new one).
    public static func decode(_ bytes: [UInt8], from start: Int, limits: HTTPLimits, progress: inout ChunkedProgress?) -> HTTPDecodeResult {
        bytes.withUnsafeBufferPointer { buffer in
            decode(UnsafeBufferPointer(rebasing: buffer[start...]), limits: limits, progress: &progress)
        }
    }

    static func decode(_ input: UnsafeBufferPointer<UInt8>, limits: HTTPLimits, progress: inout ChunkedProgress?) -> HTTPDecodeResult {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request-line.
        var index = 0
        while index + 1 < input.count, input[index] == CR, input[index + 1] == LF { index += 2 }

        guard let headEnd = findHeadEnd(input, from: index, limit: limits.maxHeaderBytes) else {
            let lineEnd = find(CR, LF, in: input, from: index, limit: input.count) ?? input.count
            if lineEnd - index > limits.maxRequestLineBytes {
                return .failure(HTTPDecodeError(.uriTooLong, "request line longer than \(limits.maxRequestLineBytes) bytes"))
            }
            if input.count - index > limits.maxHeaderBytes {
                return .failure(HTTPDecodeError(.headersTooLarge, "request head larger than \(limits.maxHeaderBytes) bytes"))
            }
            if firstBareLF(input, from: index) != nil {
                return .failure(HTTPDecodeError(.badRequest, "line terminated by a bare LF; CRLF is required"))
            }
            return .needMoreData(expectsContinue: false)
        }

        let head: Head
        switch parseHead(input, from: index, to: headEnd, limits: limits) {
        case .success(let parsed): head = parsed
        case .failure(let error): return .failure(error)
        }
        let bodyStart = headEnd + 4

        switch head.framing {
        case .none:
            return .request(head.request(body: []), consumed: bodyStart)
        case .contentLength(let length):
            guard input.count - bodyStart >= length else { return .needMoreData(expectsContinue: head.expectsContinue) }
            let body = Array(UnsafeBufferPointer(rebasing: input[bodyStart..<(bodyStart + length)]))
            return .request(head.request(body: body), consumed: bodyStart + length)
        case .chunked:
            var resume = progress ?? ChunkedProgress(cursor: bodyStart, body: [], chunks: 0)
            if resume.cursor < bodyStart { resume = ChunkedProgress(cursor: bodyStart, body: [], chunks: 0) }
            switch decodeChunked(input, progress: &resume, limits: limits) {
            case .needMoreData:
                progress = resume
                return .needMoreData(expectsContinue: head.expectsContinue)
            case .failure(let error):
                progress = nil
                return .failure(error)
            case .complete(let body, let end):
                progress = nil
                return .request(head.request(body: body), consumed: end)
            }
        }
    }

    // MARK: head

    enum Framing: Equatable { case none, contentLength(Int), chunked }

    struct Head {
        var method: String
        var target: String
        var versionMinor: Int
        var headers: HTTPHeaders
        var framing: Framing
        var expectsContinue: Bool

        func request(body: [UInt8]) -> HTTPRequest {
            HTTPRequest(method: method, target: target, versionMinor: versionMinor, headers: headers, body: body)
        }
    }

    static func parseHead(_ input: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, limits: HTTPLimits) -> Result<Head, HTTPDecodeError> {
        let lineEnd = find(CR, LF, in: input, from: start, limit: end + 2) ?? end
        if lineEnd - start > limits.maxRequestLineBytes {
            return .failure(HTTPDecodeError(.uriTooLong, "request line longer than \(limits.maxRequestLineBytes) bytes"))
        }
        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
        let line = UnsafeBufferPointer(rebasing: input[start..<lineEnd])
        let parts = line.split(separator: SP, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failure(HTTPDecodeError(.badRequest, "malformed request line"))
        }
        guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte) else {
            return .failure(HTTPDecodeError(.badRequest, "invalid method"))
        }
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            return .failure(HTTPDecodeError(.badRequest, "invalid request target"))
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        let versionMinor: Int
        switch version {
        case "HTTP/1.1": versionMinor = 1
        case "HTTP/1.0": versionMinor = 0
        default:
            if version.hasPrefix("HTTP/"), version.count == 8 {
                return .failure(HTTPDecodeError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served"))
            }
            return .failure(HTTPDecodeError(.badRequest, "malformed HTTP version"))
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        guard let target = String(validating: parts[1], as: UTF8.self), target.hasPrefix("/") || target == "*" else {
            return .failure(HTTPDecodeError(.badRequest, "request target must be in origin-form"))
        }

        var headers = HTTPHeaders()
        var cursor = lineEnd + 2
        while cursor < end + 2 {
            let fieldEnd = find(CR, LF, in: input, from: cursor, limit: end + 2) ?? end
            if fieldEnd == cursor { break }
            let field = UnsafeBufferPointer(rebasing: input[cursor..<fieldEnd])
            cursor = fieldEnd + 2
            // RFC 9112 §5.2: obs-fold is rejected with 400.
            if field[0] == SP || field[0] == HTAB {
                return .failure(HTTPDecodeError(.badRequest, "obsolete header line folding is not accepted"))
            }
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(HTTPDecodeError(.badRequest, "header line without ':'"))
            }
            let name = UnsafeBufferPointer(rebasing: field[..<colon])
            // RFC 9112 §5.1: no whitespace between field name and colon.
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                return .failure(HTTPDecodeError(.badRequest, "invalid header field name"))
            }
            var valueStart = colon + 1, valueEnd = field.count
            while valueStart < valueEnd, field[valueStart] == SP || field[valueStart] == HTAB { valueStart += 1 }
            while valueEnd > valueStart, field[valueEnd - 1] == SP || field[valueEnd - 1] == HTAB { valueEnd -= 1 }
            let valueBytes = UnsafeBufferPointer(rebasing: field[valueStart..<valueEnd])
            guard valueBytes.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == HTAB }) else {
                return .failure(HTTPDecodeError(.badRequest, "control character in header value"))
            }
            headers.add(String(decoding: name, as: UTF8.self), String(decoding: valueBytes, as: UTF8.self))
            if headers.fields.count > limits.maxHeaderCount {
                return .failure(HTTPDecodeError(.headersTooLarge, "more than \(limits.maxHeaderCount) header fields"))
            }
        }

        let framing: Framing
        switch bodyFraming(headers, limits: limits) {
        case .success(let f): framing = f
        case .failure(let error): return .failure(error)
        }
        let expects = headers["Expect"]?.lowercased() == "100-continue" && versionMinor >= 1
        return .success(Head(method: method, target: target, versionMinor: versionMinor, headers: headers,
                             framing: framing, expectsContinue: expects))
    }

    /// RFC 9112 §6.1–6.3. Both Transfer-Encoding and Content-Length is the request-smuggling
    /// shape and is refused outright rather than resolved.
    static func bodyFraming(_ headers: HTTPHeaders, limits: HTTPLimits) -> Result<Framing, HTTPDecodeError> {
        let transferEncodings = headers.values("Transfer-Encoding")
        let lengths = headers.values("Content-Length")
        if !transferEncodings.isEmpty {
            guard lengths.isEmpty else {
                return .failure(HTTPDecodeError(.badRequest, "both Transfer-Encoding and Content-Length"))
            }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: " \t").lowercased() }
            guard codings.last == "chunked" else {
                return .failure(HTTPDecodeError(.badRequest, "Transfer-Encoding must end with chunked"))
            }
            guard codings == ["chunked"] else {
                return .failure(HTTPDecodeError(.notImplemented, "unsupported transfer coding \(codings.dropLast().joined(separator: ", "))"))
            }
            return .success(.chunked)
        }
        guard !lengths.isEmpty else { return .success(.none) }
        // The usual shape, one field and no list (its whitespace already trimmed), is taken as
        // it is; lists and repeated fields are split and must all agree.
        let text: String?
        if lengths.count == 1, !lengths[0].utf8.contains(UInt8(ascii: ",")) {
            text = lengths[0]
        } else {
            let values = Set(lengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { $0.trimmingCharacters(in: " \t") })
            text = values.count == 1 ? values.first : nil
        }
        guard let text, !text.isEmpty, text.utf8.count <= 18,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let length = Int(text) else {
            return .failure(HTTPDecodeError(.badRequest, "invalid Content-Length"))
        }
        guard length <= limits.maxBodyBytes else {
            return .failure(HTTPDecodeError(.payloadTooLarge, "body of \(length) bytes exceeds the \(limits.maxBodyBytes)-byte limit"))
        }
        return .success(length == 0 ? .none : .contentLength(length))
    }

    // MARK: chunked body (RFC 9112 §7.1)

    enum ChunkedResult { case needMoreData, failure(HTTPDecodeError), complete([UInt8], end: Int) }

    /// Decodes chunks from `progress.cursor`; on `.needMoreData`, `progress` holds the chunks
    /// complete so far, so the next call reads only what is new.
    static func decodeChunked(_ input: UnsafeBufferPointer<UInt8>, progress: inout ChunkedProgress, limits: HTTPLimits) -> ChunkedResult {
        var body = progress.body
        progress.body = []  // one owner while appending (no copy per chunk)
        var cursor = progress.cursor
        var chunks = progress.chunks
        // Every `.needMoreData` below returns before the chunk it stopped in was appended, so
        // the body so far and the boundary it ends at are what the next call resumes from.
        var boundary = (cursor: cursor, chunks: chunks)
        func needMore() -> ChunkedResult {
            progress = ChunkedProgress(cursor: boundary.cursor, body: body, chunks: boundary.chunks)
            return .needMoreData
        }
        while true {
            boundary = (cursor, chunks)
            guard let lineEnd = find(CR, LF, in: input, from: cursor, limit: min(input.count, cursor + 1024)) else {
                return input.count - cursor > 1024
                    ? .failure(HTTPDecodeError(.badRequest, "chunk size line too long")) : needMore()
            }
            chunks += 1
            guard chunks <= maxChunks else {
                return .failure(HTTPDecodeError(.payloadTooLarge, "chunked body in more than \(maxChunks) chunks"))
            }
            // chunk-size [ chunk-ext ] CRLF; extensions are ignored.
            var sizeEnd = cursor
            var size = 0
            while sizeEnd < lineEnd, let digit = hexValue(input[sizeEnd]) {
                size = size * 16 + digit
                sizeEnd += 1
                if size > limits.maxBodyBytes {
                    return .failure(HTTPDecodeError(.payloadTooLarge, "chunked body exceeds the \(limits.maxBodyBytes)-byte limit"))
                }
            }
            guard sizeEnd > cursor, sizeEnd == lineEnd || input[sizeEnd] == UInt8(ascii: ";")
                || input[sizeEnd] == SP || input[sizeEnd] == HTAB else {
                return .failure(HTTPDecodeError(.badRequest, "invalid chunk size"))
            }
            cursor = lineEnd + 2
            if size == 0 {
                // trailer-section CRLF: skip trailer fields until the empty line.
                while true {
                    guard let end = find(CR, LF, in: input, from: cursor, limit: min(input.count, cursor + limits.maxHeaderBytes)) else {
                        return input.count - cursor > limits.maxHeaderBytes
                            ? .failure(HTTPDecodeError(.headersTooLarge, "trailer section too large")) : needMore()
                    }
                    if end == cursor { return .complete(body, end: end + 2) }
                    cursor = end + 2
                }
            }
            guard body.count + size <= limits.maxBodyBytes else {
                return .failure(HTTPDecodeError(.payloadTooLarge, "chunked body exceeds the \(limits.maxBodyBytes)-byte limit"))
            }
            guard input.count >= cursor + size + 2 else { return needMore() }
            body.append(contentsOf: UnsafeBufferPointer(rebasing: input[cursor..<(cursor + size)]))
            cursor += size
            guard input[cursor] == CR, input[cursor + 1] == LF else {
                return .failure(HTTPDecodeError(.badRequest, "chunk data not followed by CRLF"))
            }
            cursor += 2
        }
    }

    // MARK: byte helpers

    static let CR: UInt8 = 0x0D, LF: UInt8 = 0x0A, SP: UInt8 = 0x20, HTAB: UInt8 = 0x09

    static func findHeadEnd(_ input: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> Int? {
        let end = min(input.count, start + limit + 4)
        var i = start
        while i + 3 < end {
            if input[i] == CR, input[i + 1] == LF, input[i + 2] == CR, input[i + 3] == LF { return i }
            i += 1
        }
        return nil
    }

    static func find(_ a: UInt8, _ b: UInt8, in input: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> Int? {
        var i = start
        while i + 1 < limit {
            if input[i] == a, input[i + 1] == b { return i }
            i += 1
        }
        return nil
    }

    static func firstBareLF(_ input: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var i = start
        while i < input.count {
            if input[i] == LF, i == start || input[i - 1] != CR { return i }
            i += 1
        }
        return nil
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// tchar from RFC 9110 §5.6.2.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
