internal import CShims

/// OpenSSL's per-thread error queue: cleared before a call, drained after a failure into
/// readable reasons. Shared by this package's OpenSSL owners (Crypto, TLS).
package enum OpenSSLErrorQueue {
    package static func clear() { ERR_clear_error() }

    /// Every queued error, oldest first, as OpenSSL renders them; the queue is left empty.
    package static func drain() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(cString(buffer))
        }
        return messages
    }

    /// The innermost reason of a failure, for one-line messages.
    package static func reason() -> String { drain().last ?? "no detail from OpenSSL" }
}
