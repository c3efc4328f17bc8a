internal import CShims
import Crypto

/// What a non-blocking TLS call achieved. WANT_READ / WANT_WRITE mean "wait on the socket and
/// call again", exactly as OpenSSL documents for non-blocking BIOs.
public enum TLSIOStatus: Equatable, Sendable {
    case done(Int)
    case wantRead
    case wantWrite
    case closed
    case failed(TLSError)
}

/// Owns one `SSL*` over a non-blocking socket that the caller owns. Not thread-safe: it lives on
/// the event loop that owns the socket.
public final class TLSConnection {
    let pointer: OpaquePointer
    /// Keeps the context this connection was created from alive, whatever the reloader does.
    public let context: TLSContext

    public init(context: TLSContext, socket: Int32) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError.fromQueue(.handshake, "could not create a TLS session")
        }
        pointer = ssl
        self.context = context
        guard SSL_set_fd(ssl, socket) == 1 else {
            throw TLSError.fromQueue(.handshake, "could not attach the TLS session to the socket")
        }
        SSL_set_accept_state(ssl)
    }

    deinit { SSL_free(pointer) }

    public var isHandshakeComplete: Bool { SSL_is_init_finished(pointer) == 1 }

    /// The negotiated protocol, e.g. "TLSv1.3".
    public var protocolVersion: String { String(cString: SSL_get_version(pointer)) }

    public func handshake() -> TLSIOStatus {
        OpenSSLErrorQueue.clear()
        let rc = SSL_do_handshake(pointer)
        return rc == 1 ? .done(0) : status(rc, during: "handshake")
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOStatus {
        OpenSSLErrorQueue.clear()
        var count = 0
        let rc = SSL_read_ex(pointer, buffer.baseAddress, buffer.count, &count)
        return rc == 1 ? .done(count) : status(rc, during: "read")
    }

    public func write(_ buffer: UnsafeRawBufferPointer) -> TLSIOStatus {
        OpenSSLErrorQueue.clear()
        var count = 0
        let rc = SSL_write_ex(pointer, buffer.baseAddress, buffer.count, &count)
        return rc == 1 ? .done(count) : status(rc, during: "write")
    }

    /// Sends close_notify once; we do not wait for the peer's (RFC 8446 §6.1 allows it).
    public func shutdown() {
        OpenSSLErrorQueue.clear()
        if isHandshakeComplete { _ = SSL_shutdown(pointer) }
        _ = OpenSSLErrorQueue.drain()
    }

    private func status(_ rc: Int32, during operation: String) -> TLSIOStatus {
        switch SSL_get_error(pointer, rc) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let errors = OpenSSLErrorQueue.drain()
            return errors.isEmpty ? .closed : .failed(TLSError(.io, "\(operation) failed", openSSLErrors: errors))
        default:
            return .failed(TLSError.fromQueue(operation == "handshake" ? .handshake : .io, "\(operation) failed"))
        }
    }
}
