#if canImport(Glibc)
import Glibc
#endif
import TLS

/// The byte stream under one connection: the raw socket, or TLS over it. Both are non-blocking
/// and report "would block" the same way, so the connection logic is written once.
enum Transport {
    case plain(Int32)
    case tls(TLSConnection)

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSIOStatus {
        switch self {
        case .tls(let connection): return connection.read(into: buffer)
        case .plain(let fd):
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .done(n) }
            if n == 0 { return .closed }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wantRead : .closed
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> TLSIOStatus {
        switch self {
        case .tls(let connection): return connection.write(buffer)
        case .plain(let fd):
            let n = send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .done(n) }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wantWrite : .closed
        }
    }
}
