#if canImport(Glibc)
import Glibc
#endif
internal import CShims

/// A socket call that failed, with the errno it set.
public struct SocketError: Error, Equatable, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32

    public var description: String { "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

enum Socket {
    /// Opens a non-blocking listening socket. An empty host or "::" listens dual-stack on every
    /// interface (Go's ":6001"), falling back to IPv4 where the kernel has no IPv6.
    static func listen(host: String, port: UInt16, backlog: Int32 = 1024) throws(SocketError) -> (fd: Int32, port: UInt16) {
        if host.isEmpty || host == "::" {
            if let bound = try? listenIPv6(address: in6addr_any, port: port, backlog: backlog, dualStack: true) { return bound }
            return try listenIPv4(address: "0.0.0.0", port: port, backlog: backlog)
        }
        if host.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { throw SocketError(operation: "inet_pton(\(host))", errno: EINVAL) }
            return try listenIPv6(address: address, port: port, backlog: backlog, dualStack: false)
        }
        return try listenIPv4(address: host == "localhost" ? "127.0.0.1" : host, port: port, backlog: backlog)
    }

    private static func listenIPv4(address: String, port: UInt16, backlog: Int32) throws(SocketError) -> (fd: Int32, port: UInt16) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else { throw SocketError(operation: "inet_pton(\(address))", errno: EINVAL) }
        let fd = try open(family: AF_INET)
        do {
            try withUnsafePointer(to: &addr) { (pointer) throws(SocketError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(SocketError) in
                    try check(bind(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)), "bind(\(address):\(port))")
                }
            }
            try check(Glibc.listen(fd, backlog), "listen")
            return (fd, try boundPort(fd))
        } catch {
            close(fd)
            throw error
        }
    }

    private static func listenIPv6(address: in6_addr, port: UInt16, backlog: Int32, dualStack: Bool) throws(SocketError) -> (fd: Int32, port: UInt16) {
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_port = port.bigEndian
        addr.sin6_addr = address
        let fd = try open(family: AF_INET6)
        do {
            var v6only: Int32 = dualStack ? 0 : 1
            try check(setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, socklen_t(MemoryLayout<Int32>.size)), "setsockopt(IPV6_V6ONLY)")
            try withUnsafePointer(to: &addr) { (pointer) throws(SocketError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(SocketError) in
                    try check(bind(fd, sa, socklen_t(MemoryLayout<sockaddr_in6>.size)), "bind([::]:\(port))")
                }
            }
            try check(Glibc.listen(fd, backlog), "listen")
            return (fd, try boundPort(fd))
        } catch {
            close(fd)
            throw error
        }
    }

    private static func open(family: Int32) throws(SocketError) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    private static func boundPort(_ fd: Int32) throws(SocketError) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SocketError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(SocketError) in
                try check(getsockname(fd, sa, &length), "getsockname")
            }
        }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// Accepts one pending connection as a non-blocking socket with Nagle off (responses are
    /// written whole; Nagle would only add latency). nil when none is pending.
    static func accept(_ listener: Int32) -> Int32? {
        let fd = Shim_accept4(listener, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// The peer's IP address as text ("?" when it cannot be read).
    static func peerAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard ok == 0 else { return "?" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer -> String in
            if family == sa_family_t(AF_INET) {
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil ? String(cString: text) : "?"
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                var raw = address.pointee.sin6_addr
                return inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil ? String(cString: text) : "?"
            }
        }
    }

    static func check(_ rc: Int32, _ operation: String) throws(SocketError) {
        if rc < 0 { throw SocketError(operation: operation, errno: errno) }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
