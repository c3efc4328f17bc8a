/// A Go-style listen address: ":6001", "127.0.0.1:6001", "[::1]:6001", or a bare port "6001".
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String = "", port: UInt16) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ServeError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var host = "", portText = trimmed
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]"), trimmed[trimmed.index(after: close)...].hasPrefix(":") else {
                throw ServeError(.invalidFlag, "invalid listen address \"\(text)\": expected [host]:port")
            }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            portText = String(trimmed[trimmed.index(close, offsetBy: 2)...])
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = String(trimmed[..<colon])
            portText = String(trimmed[trimmed.index(after: colon)...])
        }
        guard let port = UInt16(portText) else {
            throw ServeError(.invalidFlag, "invalid listen address \"\(text)\": port must be a number from 0 to 65535")
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

import Foundation
