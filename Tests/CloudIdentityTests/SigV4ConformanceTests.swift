import CloudIdentity
import Foundation
import Testing

/// AWS's Signature Version 4 test suite (as botocore carries it; Tests/Conformance/aws-sigv4,
/// SOURCES.md): for every raw request, our canonical request, string to sign and Authorization
/// header must be AWS's, byte for byte.
@Suite struct SigV4ConformanceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Conformance/aws-sigv4")

    static var cases: [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if path.hasSuffix(".req") { found.append(String(path.dropLast(4))) }
        }
        return found.sorted()
    }

    @Test func theSuiteIsThere() {
        #expect(Self.cases.count == 34)
    }

    @Test(arguments: cases) func signsAsAWSSays(_ name: String) throws {
        func read(_ suffix: String) throws -> String {
            try String(contentsOf: Self.root.appendingPathComponent(name + suffix), encoding: .utf8).replacingOccurrences(of: "\r", with: "")
        }
        let raw = try read(".req"), creq = try read(".creq")
        var request = try Self.parse(raw)
        var token: String?
        if !request.headers.contains(where: { $0.name.lowercased() == "x-amz-security-token" }),
           let line = creq.split(separator: "\n").first(where: { $0.hasPrefix("x-amz-security-token:") }) {
            token = String(line.dropFirst("x-amz-security-token:".count))
        }
        request.headers.removeAll { $0.name.lowercased() == "x-amz-date" }
        var date = DateComponents()
        (date.year, date.month, date.day, date.hour, date.minute, date.second) = (2015, 8, 30, 12, 36, 0)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let signature = SigV4.sign(request, credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE",
                                   secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: token),
                                   region: "us-east-1", service: "service", date: calendar.date(from: date)!)
        #expect(signature.canonicalRequest == creq)
        #expect(signature.stringToSign == (try read(".sts")))
        #expect(signature.authorization == (try read(".authz")))
    }

    /// The suite's raw HTTP/1.1 requests: request line (the target may hold a space), header
    /// lines (folded continuation lines kept for the signer to collapse), body after a blank line.
    static func parse(_ raw: String) throws -> SigV4.Request {
        var lines = raw.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        guard let space = requestLine.firstIndex(of: " "), requestLine.hasSuffix(" HTTP/1.1") else {
            throw SigV4TestError("bad request line \(requestLine)")
        }
        let method = String(requestLine[..<space])
        let target = String(requestLine[requestLine.index(after: space)...].dropLast(" HTTP/1.1".count))
        var path = target, query: [(name: String, value: String)] = []
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            for pair in target[target.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((name: String(parts[0]).removingPercentEncoding ?? String(parts[0]),
                              value: parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""))
            }
        }
        var headers: [(name: String, value: String)] = []
        var body: [UInt8] = []
        while !lines.isEmpty {
            let line = lines.removeFirst()
            if line.isEmpty {
                body = Array(lines.joined(separator: "\n").utf8)
                break
            }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw SigV4TestError("bad header line \(line)") }
            headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
        }
        return SigV4.Request(method: method, path: path, query: query, headers: headers, body: body)
    }
}

struct SigV4TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
