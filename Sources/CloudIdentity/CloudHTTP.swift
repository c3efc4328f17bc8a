import Foundation
import HTTPClient
import JSON
import Registry

/// The HTTP exchanges of identity providers: bounded, inside the caller's time, every failure a
/// `credentialProvider` error naming the provider, the endpoint and the provider's own reason —
/// never a token, a secret or a body that could hold one.
public struct CloudHTTP: Sendable {
    public let transport: any HTTPTransport
    /// Upper bound for one identity request (the cache's caller may wait less).
    public var requestTimeout: Duration
    /// Tests reach their doubles over plain HTTP or a private CA.
    public var caFile: String?

    public init(transport: any HTTPTransport = CurlMultiTransport.shared, requestTimeout: Duration = .seconds(10), caFile: String? = nil) {
        self.transport = transport
        self.requestTimeout = requestTimeout
        self.caFile = caFile
    }

    /// Sends; any answer comes back (the caller reads the status, as error bodies carry reasons).
    public func send(_ method: String, _ url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
                     provider: String) async throws(RegistryError) -> TransportResponse {
        var request = TransportRequest(method: method, url: url, headers: headers, maxResponseBytes: 1024 * 1024, timeout: requestTimeout)
        request.body = body
        request.caFile = caFile
        // Identity requests carry credentials (in the body or the headers): never re-sent elsewhere.
        request.followRedirects = false
        do {
            return try await transport.send(request)
        } catch {
            throw RegistryError(.credentialProvider, "\(provider): \(method) \(Self.redacted(url)) failed: \(error.message)")
        }
    }

    /// POSTs an application/x-www-form-urlencoded form.
    public func postForm(_ url: String, _ fields: [(String, String)], headers: [(name: String, value: String)] = [],
                         provider: String) async throws(RegistryError) -> TransportResponse {
        try await send("POST", url, headers: headers + [(name: "Content-Type", value: "application/x-www-form-urlencoded")],
                       body: Array(Self.form(fields).utf8), provider: provider)
    }

    public static func form(_ fields: [(String, String)]) -> String {
        fields.map { SigV4.percentEncode($0.0, keepSlash: false) + "=" + SigV4.percentEncode($0.1, keepSlash: false) }.joined(separator: "&")
    }

    /// A JSON object body, or an error naming what answered.
    public static func json(_ response: TransportResponse, provider: String, what: String) throws(RegistryError) -> JSONValue {
        guard let document = try? JSONParser.parse(response.body), document.objectValue != nil else {
            throw RegistryError(.credentialProvider, "\(provider): \(what) answered HTTP \(response.status) without a JSON object")
        }
        return document
    }

    /// URLs without their query (a SAS, a token) for messages.
    static func redacted(_ url: String) -> String {
        url.firstIndex(of: "?").map { String(url[..<$0]) + "?…" } ?? url
    }
}

/// Reads a file a projected service-account token lives in (re-read each time: the kubelet
/// rotates it).
enum TokenFile {
    static func read(_ path: String, provider: String, variable: String) throws(RegistryError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistryError(.credentialProvider, "\(provider): cannot read the service account token file \(path) (\(variable))")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw RegistryError(.credentialProvider, "\(provider): the token file \(path) (\(variable)) is empty") }
        guard token.utf8.count <= 64 * 1024 else { throw RegistryError(.credentialProvider, "\(provider): the token file \(path) is larger than 64 KiB") }
        return token
    }
}

extension URLComponents {
    /// The Host header curl sends for this URL, and so the one a request signature must cover:
    /// the port only when it is not the scheme's default. Nil without a host.
    var hostHeader: String? {
        guard let host else { return nil }
        let defaultPort = scheme == "http" ? 80 : 443
        return port.flatMap { $0 == defaultPort ? nil : "\(host):\($0)" } ?? host
    }
}
