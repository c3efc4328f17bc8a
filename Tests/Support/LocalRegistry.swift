import Crypto
import Foundation
import JSON
import Synchronization

/// Debian's `docker-registry` (CNCF distribution 2.8) on a free loopback port, with storage in a
/// temporary directory, started for a test and stopped by PID. It has no referrers API, so
/// discovery goes through the tag-schema fallback for real.
public final class LocalRegistry: @unchecked Sendable {
    public enum Auth: Sendable {
        case none
        /// htpasswd (bcrypt) Basic auth.
        case basic(user: String, password: String)
        /// Distribution's token auth, with `token_server.py` issuing the tokens.
        case token(user: String, password: String)
    }

    public let port: UInt16
    public let directory: URL
    public let auth: Auth
    private let children = ChildProcesses()
    public private(set) var tokenPort: UInt16?
    let session = CurlSession()

    public var host: String { "127.0.0.1:\(port)" }
    public var storage: URL { directory.appendingPathComponent("data") }
    var tokenRequestLog: URL { directory.appendingPathComponent("token-requests") }

    public init(auth: Auth = .none) throws {
        self.auth = auth
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        var config = """
        version: 0.1
        log:
          level: error
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: \(directory.path)/data
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:\(port)
        """
        switch auth {
        case .none: break
        case .basic(let user, let password):
            let result = try ProcessRunner.run("/usr/bin/htpasswd", ["-Bbn", user, password])
            guard result.status == 0 else { throw TestFailure("htpasswd failed: \(result.output)") }
            try result.output.write(to: directory.appendingPathComponent("htpasswd"), atomically: true, encoding: .utf8)
            config += "\nauth:\n  htpasswd:\n    realm: test-registry\n    path: \(directory.path)/htpasswd\n"
        case .token(let user, let password):
            let tokenPort = try freePort()
            self.tokenPort = tokenPort
            let key = directory.appendingPathComponent("token.key").path, cert = directory.appendingPathComponent("token.crt").path
            let made = try ProcessRunner.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=test token issuer"])
            guard made.status == 0 else { throw TestFailure("openssl failed: \(made.output)") }
            let requestLog = directory.appendingPathComponent("token-requests").path
            FileManager.default.createFile(atPath: requestLog, contents: nil)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("token_server.py").path
            try children.start("/usr/bin/env", ["python3", script, String(tokenPort), key, cert, "test-issuer", "test-registry", user, password, requestLog])
            config += """

            auth:
              token:
                realm: http://127.0.0.1:\(tokenPort)/token
                service: test-registry
                issuer: test-issuer
                rootcertbundle: \(cert)
            """
            try waitForPort(tokenPort)
        }
        let configFile = directory.appendingPathComponent("config.yml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        try children.start("/usr/bin/docker-registry", ["serve", configFile.path])
        try waitForPort(port)
    }

    deinit { stop() }

    public func stop() {
        // SIGKILL (see ChildProcesses): once, two waitUntilExit() spins after an ignored
        // SIGTERM starved a whole test run. The registry's storage is scratch.
        children.stopAll()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Requests made to the token service so far.
    public var tokenRequests: [String] {
        ((try? String(contentsOf: tokenRequestLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    // MARK: pushing (test-side, over plain HTTP with the registry's own auth)

    func authorization(repository: String) throws -> String? {
        switch auth {
        case .none: return nil
        case .basic(let user, let password):
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .token(let user, let password):
            let basic = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
            let url = "http://127.0.0.1:\(tokenPort!)/token?service=test-registry&scope=repository:\(repository):pull,push"
            let response = try session.perform(HTTPClientRequest(url: url, headers: [(name: "Authorization", value: basic)]))
            guard let token = try JSONParser.parse(response.body)["token"]?.stringValue else { throw TestFailure("no token") }
            return "Bearer " + token
        }
    }

    /// Monolithic blob upload (POST then PUT ?digest=); the registry checks the digest.
    @discardableResult
    public func pushBlob(_ repository: String, _ bytes: [UInt8]) throws -> PushedContent {
        let digest = "sha256:" + Hash.hex(.sha256, bytes)
        let auth = try authorization(repository: repository).map { [(name: "Authorization", value: $0)] } ?? []
        let begin = HTTPClientRequest(method: "POST", url: "http://\(host)/v2/\(repository)/blobs/uploads/", headers: auth, body: [])
        var start = try session.perform(begin)
        if start.status == 400 {
            // Seen once on a loaded machine: docker-registry answered Go's bare "400 Bad Request"
            // (a request it could not parse) on a reused connection. A new connection, once.
            start = try session.perform(begin, freshConnection: true)
        }
        guard start.status == 202, var location = start.header("Location") else {
            throw TestFailure("blob upload start: HTTP \(start.status) \(start.bodyText)")
        }
        if location.hasPrefix("/") { location = "http://\(host)" + location }
        location += (location.contains("?") ? "&" : "?") + "digest=\(digest)"
        let put = try session.perform(HTTPClientRequest(method: "PUT", url: location,
            headers: auth + [(name: "Content-Type", value: "application/octet-stream")], body: bytes))
        guard put.status == 201 else { throw TestFailure("blob upload: HTTP \(put.status) \(put.bodyText)") }
        return PushedContent(digest: digest, size: bytes.count, mediaType: "application/octet-stream")
    }

    @discardableResult
    public func pushManifest(_ repository: String, reference: String, _ bytes: [UInt8], mediaType: String) throws -> PushedContent {
        let auth = try authorization(repository: repository).map { [(name: "Authorization", value: $0)] } ?? []
        let put = try session.perform(HTTPClientRequest(method: "PUT", url: "http://\(host)/v2/\(repository)/manifests/\(reference)",
            headers: auth + [(name: "Content-Type", value: mediaType)], body: bytes))
        guard put.status == 201 else { throw TestFailure("manifest push \(repository):\(reference): HTTP \(put.status) \(put.bodyText)") }
        return PushedContent(digest: "sha256:" + Hash.hex(.sha256, bytes), size: bytes.count, mediaType: mediaType)
    }

    /// The file the registry serves a blob from (distribution's filesystem layout), so a test
    /// can corrupt stored content behind the registry's back.
    public func blobDataPath(_ digest: String) -> URL {
        let hex = String(digest.dropFirst("sha256:".count))
        return storage.appendingPathComponent("docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data")
    }
}

public struct PushedContent: Sendable, Equatable {
    public let digest: String
    public let size: Int
    public let mediaType: String

    public var descriptor: JSONValue {
        ["mediaType": .string(mediaType), "digest": .string(digest), "size": .int(size)]
    }
}

/// A loopback port for a child server to listen on: one the kernel never hands out by itself
/// (below the ephemeral range, from which `bind` to port 0 and outgoing connections take theirs),
/// never the same twice in this process, and free right now. Taking one from the ephemeral range
/// (bind to 0, close, hand the number over) raced: before the child bound it, another test's
/// server could be given the same port, and requests meant for one went to the other (a Python
/// double answering a registry push with HTTP 501).
public func freePort() throws -> UInt16 {
    try portCursor.withLock { cursor -> UInt16 in
        let (low, high) = portRange
        if cursor == 0 { cursor = low + UInt16(truncatingIfNeeded: Int(getpid()) &* 97 % Int(high - low)) }
        for _ in 0..<Int(high - low) {
            let candidate = cursor
            cursor = cursor + 1 >= high ? low : cursor + 1
            if portIsFree(candidate) { return candidate }
        }
        throw TestFailure("no free port between \(low) and \(high)")
    }
}

private let portCursor = Mutex<UInt16>(0)

/// From 10000 to the start of the kernel's ephemeral range (`ip_local_port_range`).
private let portRange: (UInt16, UInt16) = {
    let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    let start = text.split(whereSeparator: \.isWhitespace).first.flatMap { UInt16($0) } ?? 32768
    return (10000, max(start, 12000))
}()

private func portIsFree(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    return withUnsafePointer(to: &addr) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

public func waitForPort(_ port: UInt16, timeout: TimeInterval = 10) throws {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if (try? RawClient(port: port, receiveTimeout: 1)) != nil { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    throw TestFailure("nothing listens on 127.0.0.1:\(port) after \(timeout)s")
}
