/// Serialises a response head and body. `Content-Length` and `Connection` are ours to set; a
/// handler's own values for them are dropped so framing can never disagree with the body.
public enum HTTPResponseEncoder {
    public static func encode(_ response: HTTPResponse, keepAlive: Bool, date: String? = nil, headOnly: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + response.body.count)
        out.append(contentsOf: "HTTP/1.1 \(response.status.code) \(response.status.reason)\r\n".utf8)
        for field in response.headers where !field.name.caseInsensitiveEquals("Content-Length")
            && !field.name.caseInsensitiveEquals("Connection") {
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        if let date { out.append(contentsOf: "Date: \(date)\r\n".utf8) }
        out.append(contentsOf: "Content-Length: \(response.body.count)\r\n".utf8)
        if !keepAlive { out.append(contentsOf: "Connection: close\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
        if !headOnly { out.append(contentsOf: response.body) }
        return out
    }

    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
