internal import CShims
import Foundation
import Synchronization

public struct HTTPClientRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.last(where: { $0.name.lowercased() == name.lowercased() })?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A transfer that did not produce an HTTP response: connection, TLS or timeout failure.
public struct HTTPClientError: Error, CustomStringConvertible, Sendable {
    /// libcurl's CURLcode, stable across versions (e.g. 28 timeout, 35 TLS handshake, 60 peer
    /// certificate not trusted).
    public let curlCode: Int
    public let message: String

    public var description: String { "HTTP_CLIENT_\(curlCode): \(message)" }
    public var isTimeout: Bool { curlCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
}

public struct HTTPClientTLSOptions: Sendable {
    public enum Version: Sendable { case tls1_0, tls1_1, tls1_2, tls1_3 }

    /// PEM bundle of CAs to trust instead of the system store.
    public var caFile: String?
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    public var insecureSkipVerify = false
    /// Pin the client to exactly one protocol version (tests use it to offer old versions).
    public var exactVersion: Version?
    public var cipherList: String?

    public init(caFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil,
                insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.insecureSkipVerify = insecureSkipVerify
    }
}

private let curlGlobalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

/// One libcurl easy handle. Reusing a session reuses its connections (HTTP keep-alive and TLS
/// session), exactly as curl does. A session is used by one thread at a time; `perform` blocks,
/// so call it from a thread of your own or a dispatch queue, not from Swift's cooperative pool
/// in production paths.
public final class CurlSession: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let lock = Mutex(())
    public var tls: HTTPClientTLSOptions

    public init(tls: HTTPClientTLSOptions = HTTPClientTLSOptions()) {
        _ = curlGlobalInit
        handle = curl_easy_init()!
        self.tls = tls
    }

    deinit { curl_easy_cleanup(handle) }

    public func perform(_ request: HTTPClientRequest, timeout: Duration = .seconds(30), freshConnection: Bool = false) throws(HTTPClientError) -> HTTPClientResponse {
        try lock.withLock { _ throws(HTTPClientError) in try performLocked(request, timeout: timeout, freshConnection: freshConnection) }
    }

    private func performLocked(_ request: HTTPClientRequest, timeout: Duration, freshConnection: Bool) throws(HTTPClientError) -> HTTPClientResponse {
        curl_easy_reset(handle)
        let sink = ResponseSink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        _ = Shim_curl_easy_setopt_string(handle, CURLOPT_URL, request.url)
        _ = Shim_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = Shim_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        _ = Shim_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        _ = Shim_curl_easy_setopt_long(handle, CURLOPT_FRESH_CONNECT, freshConnection ? 1 : 0)
        _ = Shim_curl_easy_setopt_long(handle, CURLOPT_FORBID_REUSE, freshConnection ? 1 : 0)
        _ = Shim_curl_easy_setopt_write_function(handle, CURLOPT_WRITEFUNCTION, { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        })
        _ = Shim_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
        _ = Shim_curl_easy_setopt_write_function(handle, CURLOPT_HEADERFUNCTION, { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            sink.addHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        })
        _ = Shim_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer)
        _ = Shim_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(sink.errorBytes))

        switch request.method {
        case "GET": break
        case "HEAD": _ = Shim_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1)
        default: _ = Shim_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
        // The body is copied into curl (COPYPOSTFIELDS) so no Swift buffer must outlive this call.
        if let body = request.body {
            _ = Shim_curl_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBytes { raw in
                _ = Shim_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
            if request.method == "GET" { _ = Shim_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "GET") }
        }
        for header in request.headers { headerList = curl_slist_append(headerList, "\(header.name): \(header.value)") }
        // curl would otherwise send Expect: 100-continue for larger bodies and wait for it.
        headerList = curl_slist_append(headerList, "Expect:")
        _ = Shim_curl_easy_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList.map { UnsafeMutableRawPointer($0) })

        applyTLS()

        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            var message = String(cString: curl_easy_strerror(code))
            if !sink.errorBuffer.isEmpty { message += ": " + sink.errorBuffer }
            throw HTTPClientError(curlCode: Int(code.rawValue), message: message)
        }
        var status = 0
        _ = Shim_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPClientResponse(status: status, headers: sink.headers, body: sink.body)
    }

    private func applyTLS() {
        if let caFile = tls.caFile { _ = Shim_curl_easy_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        if let cert = tls.clientCertificateFile { _ = Shim_curl_easy_setopt_string(handle, CURLOPT_SSLCERT, cert) }
        if let key = tls.clientKeyFile { _ = Shim_curl_easy_setopt_string(handle, CURLOPT_SSLKEY, key) }
        if tls.insecureSkipVerify {
            _ = Shim_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            _ = Shim_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let version = tls.exactVersion {
            let pinned: (Int, Int)
            switch version {
            case .tls1_0: pinned = (CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_0)
            case .tls1_1: pinned = (CURL_SSLVERSION_TLSv1_1, CURL_SSLVERSION_MAX_TLSv1_1)
            case .tls1_2: pinned = (CURL_SSLVERSION_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_2)
            case .tls1_3: pinned = (CURL_SSLVERSION_TLSv1_3, CURL_SSLVERSION_MAX_TLSv1_3)
            }
            _ = Shim_curl_easy_setopt_long(handle, CURLOPT_SSLVERSION, pinned.0 | pinned.1)
        }
        if let ciphers = tls.cipherList { _ = Shim_curl_easy_setopt_string(handle, CURLOPT_SSL_CIPHER_LIST, ciphers) }
    }
}

private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    /// CURLOPT_ERRORBUFFER: curl's own sentence about a failure (CURL_ERROR_SIZE bytes).
    let errorBytes: UnsafeMutablePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: 256)
        p.initialize(repeating: 0, count: 256)
        return p
    }()
    var errorBuffer: String { String(cString: errorBytes) }

    deinit { errorBytes.deallocate() }

    func addHeaderLine(_ raw: UnsafeRawBufferPointer) {
        let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\r\n"))
        if line.hasPrefix("HTTP/") {
            // A new response (after 100 Continue or a redirect): keep only the final one's headers.
            headers.removeAll()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        headers.append((name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
}
