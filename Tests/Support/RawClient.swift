#if canImport(Glibc)
import Glibc
#endif
import Foundation
internal import CShims

/// A deliberately dumb blocking client for tests that need to send exact bytes — pipelined
/// requests, truncated bodies, slow writers — over plain TCP or TLS (OpenSSL's client, set up
/// here independently of the server's TLS code).
public final class RawClient: @unchecked Sendable {
    private let fd: Int32
    private var ssl: OpaquePointer?
    private var ctx: OpaquePointer?

    public init(port: UInt16, tlsCAFile: String? = nil, clientCertificate: (cert: String, key: String)? = nil,
                receiveTimeout: TimeInterval = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close(fd) here: every stored property is set, so a throw runs deinit, which closes
        // it. Closing twice could close a descriptor another thread has just been handed.
        guard rc == 0 else {
            throw TestFailure("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout.truncatingRemainder(dividingBy: 1)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let caFile = tlsCAFile {
            ctx = SSL_CTX_new(TLS_client_method())
            SSL_CTX_load_verify_locations(ctx, caFile, nil)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            if let client = clientCertificate {
                SSL_CTX_use_certificate_chain_file(ctx, client.cert)
                SSL_CTX_use_PrivateKey_file(ctx, client.key, SSL_FILETYPE_PEM)
            }
            ssl = SSL_new(ctx)
            SSL_set_fd(ssl, fd)
            _ = Shim_SSL_set_tlsext_host_name(ssl, "localhost")
            guard SSL_connect(ssl) == 1 else {
                ERR_clear_error()
                throw TestFailure("TLS handshake with 127.0.0.1:\(port) failed")
            }
        }
    }

    deinit {
        if let ssl { SSL_free(ssl) }
        if let ctx { SSL_CTX_free(ctx) }
        close(fd)
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                let base = raw.baseAddress! + offset
                if let ssl { return Int(SSL_write(ssl, base, Int32(raw.count - offset))) }
                return Glibc.send(fd, base, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw TestFailure("send failed") }
            offset += n
        }
    }

    /// Reads until the peer closes or the receive timeout passes; returns what arrived.
    public func receiveAll() -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                if let ssl { return Int(SSL_read(ssl, raw.baseAddress, Int32(raw.count))) }
                return recv(fd, raw.baseAddress, raw.count, 0)
            }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        ERR_clear_error()
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until `marker` has arrived (or the peer closes / the receive timeout passes).
    public func receive(until marker: String) -> String {
        var data: [UInt8] = []
        var byte = [UInt8](repeating: 0, count: 1)
        while !String(decoding: data, as: UTF8.self).hasSuffix(marker) {
            let n = byte.withUnsafeMutableBytes { raw -> Int in
                if let ssl { return Int(SSL_read(ssl, raw.baseAddress, 1)) }
                return recv(fd, raw.baseAddress, 1, 0)
            }
            if n <= 0 { break }
            data.append(byte[0])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads until `count` complete HTTP responses (with Content-Length) have arrived.
    public func receiveResponses(_ count: Int) -> [String] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let responses = Self.splitResponses(data)
            if responses.count >= count { return responses }
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                if let ssl { return Int(SSL_read(ssl, raw.baseAddress, Int32(raw.count))) }
                return recv(fd, raw.baseAddress, raw.count, 0)
            }
            if n <= 0 { return responses }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    static func splitResponses(_ data: [UInt8]) -> [String] {
        var responses: [String] = []
        var text = Substring(String(decoding: data, as: UTF8.self))
        while let headEnd = text.range(of: "\r\n\r\n") {
            let head = text[..<headEnd.lowerBound]
            let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            let length = lengthLine.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let bodyStart = headEnd.upperBound
            guard text.utf8.count - text[..<bodyStart].utf8.count >= length else { break }
            let end = text.utf8.index(bodyStart, offsetBy: length)
            responses.append(String(text[..<end]))
            text = text[end...]
        }
        return responses
    }
}
