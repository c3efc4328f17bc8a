@testable import HTTPServer
import Testing

private func decode(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPDecodeResult {
    HTTPRequestDecoder.decode(Array(text.utf8), limits: limits)
}

private func failureStatus(_ result: HTTPDecodeResult) -> Int? {
    if case .failure(let error) = result { return error.status.code }
    return nil
}

@Suite struct HTTPRequestDecoderTests {
    @Test func decodesRequestWithContentLength() throws {
        let text = "POST /ratify/gatekeeper/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nabcd"
        guard case .request(let request, let consumed) = decode(text) else { Issue.record("no request"); return }
        #expect(request.method == "POST")
        #expect(request.path == "/ratify/gatekeeper/v1/verify")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.body == Array("abcd".utf8))
        #expect(consumed == text.utf8.count)
        #expect(request.wantsKeepAlive)
    }

    /// Routing looks at the path: the target up to its first "?".
    @Test(arguments: [("/v1/verify", "/v1/verify"), ("/v1/verify?x=1", "/v1/verify"), ("/a?", "/a"), ("/?x?y", "/"), ("", ""), ("?q", "")])
    func thePathIsTheTargetBeforeItsQuery(target: String, path: String) {
        #expect(HTTPRequest(method: "GET", target: target).path == path)
    }

    @Test func incompleteBodyNeedsMoreData() {
        #expect(decode("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc") == .needMoreData(expectsContinue: false))
        #expect(decode("POST / HTTP/1.1\r\nContent-Le") == .needMoreData(expectsContinue: false))
        #expect(decode("") == .needMoreData(expectsContinue: false))
    }

    @Test func pipelinedRequestsAreConsumedOneAtATime() {
        let first = "GET /a HTTP/1.1\r\n\r\n"
        let text = first + "GET /b HTTP/1.1\r\n\r\n"
        guard case .request(let a, let consumed) = decode(text) else { Issue.record("no first request"); return }
        #expect(a.target == "/a")
        #expect(consumed == first.utf8.count)
        guard case .request(let b, _) = HTTPRequestDecoder.decode(Array(text.utf8), from: consumed) else {
            Issue.record("no second request"); return
        }
        #expect(b.target == "/b")
    }

    /// RFC 9112 §6.3: a list or repeated fields of one and the same length are that length;
    /// anything else, or more digits than an Int holds, is refused.
    @Test func contentLengthListsMustAgree() {
        for head in ["Content-Length: 3, 3", "Content-Length: 3\r\nContent-Length: 3", "Content-Length: 3 ,3"] {
            guard case .request(let request, _) = decode("POST / HTTP/1.1\r\n\(head)\r\n\r\nabc") else {
                Issue.record("\(head.debugDescription) was refused"); continue
            }
            #expect(request.body == Array("abc".utf8), "\(head.debugDescription)")
        }
        for head in ["Content-Length: 3, 4", "Content-Length: 3,", "Content-Length: ,", "Content-Length: 1234567890123456789"] {
            #expect(failureStatus(decode("POST / HTTP/1.1\r\n\(head)\r\n\r\nabc")) == 400, "\(head.debugDescription)")
        }
    }

    @Test func decodesChunkedBodyWithExtensionsAndTrailers() {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\nNEXT"
        guard case .request(let request, let consumed) = decode(text) else { Issue.record("no request"); return }
        #expect(request.body == Array("Wikipedia".utf8))
        #expect(consumed == text.utf8.count - 4)
        #expect(decode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi") == .needMoreData(expectsContinue: false))
    }

    /// Issue #16: a body in tiny chunks was re-decoded from its first chunk on every read. With
    /// the caller keeping the progress, each call continues where the last complete chunk
    /// ended: fed a byte at a time, the same body comes out, and the progress counts the chunks.
    @Test func chunkedDecodingResumesFromTheLastCompleteChunk() {
        let chunks = (0..<300).map { "1\r\n\(Character(UnicodeScalar(UInt8(97 + $0 % 26))))\r\n" }.joined()
        let whole = Array(("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n").utf8)
        var progress: HTTPRequestDecoder.ChunkedProgress?
        var result: HTTPDecodeResult = .needMoreData(expectsContinue: false)
        var lastChunks = 0
        for end in 1...whole.count {
            result = HTTPRequestDecoder.decode(Array(whole[0..<end]), from: 0, limits: HTTPLimits(), progress: &progress)
            if case .needMoreData = result, let progress {
                #expect(progress.chunks >= lastChunks, "progress never goes back")
                lastChunks = progress.chunks
            }
        }
        guard case .request(let request, let consumed) = result else { Issue.record("no request: \(result)"); return }
        #expect(request.body.count == 300 && consumed == whole.count && progress == nil)
        #expect(lastChunks == 300, "the last partial read resumed after 300 complete chunks")
        #expect(request.body == Array(String((0..<300).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) }).utf8))
    }

    /// More chunks than `maxChunks` is framing, not data: refused at once.
    @Test func aBodyOfTooManyChunksIsRefused() {
        let chunks = String(repeating: "1\r\nx\r\n", count: HTTPRequestDecoder.maxChunks + 1)
        guard case .failure(let error) = decode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks) else {
            Issue.record("accepted"); return
        }
        #expect(error.status.code == 413 && error.reason.contains("chunks"))
    }

    @Test func expectContinueIsReportedUntilTheBodyArrives() {
        #expect(decode("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n") == .needMoreData(expectsContinue: true))
        guard case .request = decode("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc") else {
            Issue.record("body complete"); return
        }
    }

    @Test func http10ClosesUnlessKeepAlive() {
        guard case .request(let plain, _) = decode("GET / HTTP/1.0\r\n\r\n"),
              case .request(let kept, _) = decode("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
              case .request(let closing, _) = decode("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n") else {
            Issue.record("requests"); return
        }
        #expect(!plain.wantsKeepAlive)
        #expect(kept.wantsKeepAlive)
        #expect(!closing.wantsKeepAlive)
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),  // smuggling shape
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),  // whitespace before colon
        ("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400),  // obs-fold
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nA: b\u{01}c\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\n\r\n", 400),
        ("GET http://x/ HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\n\n", 400),  // bare LF
    ])
    func rejectsMalformedRequests(_ text: String, _ status: Int) {
        #expect(failureStatus(decode(text)) == status, "\(text.debugDescription)")
    }

    @Test func enforcesSizeLimits() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        limits.maxHeaderCount = 3
        limits.maxHeaderBytes = 256
        limits.maxRequestLineBytes = 64
        #expect(failureStatus(decode("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits: limits)) == 413)
        #expect(failureStatus(decode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n", limits: limits)) == 413)
        #expect(failureStatus(decode("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits: limits)) == 431)
        #expect(failureStatus(decode("GET / HTTP/1.1\r\nA: " + String(repeating: "x", count: 300), limits: limits)) == 431)
        #expect(failureStatus(decode("GET /" + String(repeating: "x", count: 100), limits: limits)) == 414)
        // Exactly at the body limit is fine.
        guard case .request = decode("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits) else {
            Issue.record("10 bytes is within the limit"); return
        }
    }

    @Test func ignoresLeadingEmptyLines() {
        guard case .request(let request, _) = decode("\r\n\r\nGET /x HTTP/1.1\r\n\r\n") else { Issue.record("request"); return }
        #expect(request.target == "/x")
    }
}

@Suite struct HTTPResponseEncoderTests {
    @Test func framesBodyAndOverridesHandlerFraming() {
        var response = HTTPResponse.text(.ok, "hi")
        response.headers.add("Content-Length", "999")
        response.headers.add("Connection", "keep-alive")
        let text = String(decoding: HTTPResponseEncoder.encode(response, keepAlive: false, date: "D"), as: UTF8.self)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: D\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
    }

    @Test func headResponsesOmitTheBody() {
        let text = String(decoding: HTTPResponseEncoder.encode(.text(.ok, "hi"), keepAlive: true, headOnly: true), as: UTF8.self)
        #expect(text.hasSuffix("Content-Length: 2\r\n\r\n"))
    }
}
