
/// `HTTPFetching` over the shared libcurl transport: OCSP requests and CRL downloads.
public struct CurlFetcher: HTTPFetching {
    let transport: any HTTPTransport

    public init(transport: any HTTPTransport = CurlMultiTransport.shared) { self.transport = transport }

    public func fetch(_ url: String, body: [UInt8]?, contentType: String?, timeout: Duration, maxBytes: Int) async throws -> [UInt8] {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw FetchError("\(url): only http and https URLs are fetched")
        }
        var request = TransportRequest(method: body == nil ? "GET" : "POST", url: url, maxResponseBytes: maxBytes, timeout: timeout, body: body)
        if let contentType { request.headers.append((name: "Content-Type", value: contentType)) }
        let response: TransportResponse
        do { response = try await transport.send(request) } catch { throw FetchError(error.message) }
        guard response.status == 200 else { throw FetchError("\(url) answered HTTP \(response.status)") }
        return response.body
    }
}

/// Why a fetch failed: no answer, or an answer other than 200.
public struct FetchError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
