import CHiredis
import Core
import Crypto
import Foundation
import Synchronization

/// Where the shared cache is and how to reach it (`ratify serve --cache-type redis`).
public struct RedisSettings: Sendable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database = 0
    /// The secret every replica holds (a Kubernetes Secret): entries are authenticated with it.
    public var key: [UInt8]
    /// Connecting and each command: a Redis slower than this is treated as absent.
    public var connectTimeout: Duration = .milliseconds(100)
    public var commandTimeout: Duration = .milliseconds(100)
    public var maxConnections = 8
    /// After a failure, how long Redis is left alone before it is tried again.
    public var retryAfter: Duration = .seconds(1)

    /// At least this many bytes of secret (HMAC-SHA256's block of safety).
    public static let minimumKeyBytes = 32

    public init(host: String, port: Int, key: [UInt8]) {
        self.host = host
        self.port = port
        self.key = key
    }

    /// `host:port`, `[v6]:port`, `redis://[user:password@]host[:port][/db]`, or a bare host (port 6379).
    public static func parse(address: String, key: [UInt8]) throws(SharedCacheError) -> RedisSettings {
        guard key.count >= minimumKeyBytes else {
            throw SharedCacheError("the shared-cache key has \(key.count) bytes; at least \(minimumKeyBytes) are needed (e.g. `head -c 32 /dev/urandom | base64` in a Secret)")
        }
        var rest = Substring(address)
        var username: String?, password: String?, database = 0
        if rest.hasPrefix("redis://") {
            rest = rest.dropFirst("redis://".count)
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                guard let colon = credentials.firstIndex(of: ":") else {
                    throw SharedCacheError("redis address: credentials must be user:password or :password (the password belongs after a colon)")
                }
                let user = String(credentials[..<colon]), secret = String(credentials[credentials.index(after: colon)...])
                guard let decodedUser = user.removingPercentEncoding, let decodedSecret = secret.removingPercentEncoding, !decodedSecret.isEmpty else {
                    throw SharedCacheError("redis address: the password is empty or not valid percent-encoding")
                }
                username = decodedUser.isEmpty ? nil : decodedUser
                password = decodedSecret
            }
            if let slash = rest.firstIndex(of: "/") {
                let db = rest[rest.index(after: slash)...]
                guard db.isEmpty || Int(db) != nil, let number = db.isEmpty ? 0 : Int(db), number >= 0 else {
                    throw SharedCacheError("redis address \(address): the database after / must be a number")
                }
                database = number
                rest = rest[..<slash]
            }
        } else if rest.contains("://") {
            throw SharedCacheError("redis address \(address): only redis:// is supported (TLS to Redis is not built in; use a sidecar or a private network)")
        }
        var host = String(rest), port = 6379
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { throw SharedCacheError("redis address \(address): bad port") }
                port = number
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard !host.contains(":") else {
                throw SharedCacheError("redis address \(address): write an IPv6 address in brackets, e.g. [::1]:6379")
            }
            guard let number = Int(rest[rest.index(after: colon)...]) else { throw SharedCacheError("redis address \(address): bad port") }
            port = number
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw SharedCacheError("redis address \(address): expected host:port, e.g. redis-master.gatekeeper-system:6379")
        }
        var settings = RedisSettings(host: host, port: port, key: key)
        settings.username = username
        settings.password = password
        settings.database = database
        return settings
    }
}

public struct SharedCacheError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How a shared entry is stored: `01 ‖ expiry (ms since the epoch, 8 bytes big-endian) ‖
/// HMAC-SHA256(secret, "ratify-shared-v1" ‖ 00 ‖ key ‖ 00 ‖ expiry ‖ value) ‖ value`. Pure
/// functions over bytes: an entry written without the secret, moved to another key, or read
/// after its sealed expiry (whatever TTL Redis holds it with) does not open.
public enum SealedEntry {
    static let context = Array("ratify-shared-v1".utf8)

    public static func seal(_ value: [UInt8], key: String, expires: Int64, secret: [UInt8]) -> [UInt8] {
        let expiry = withUnsafeBytes(of: UInt64(bitPattern: expires).bigEndian, Array.init)
        return [1] + expiry + mac(key: key, expiry: expiry, value: value, secret: secret) + value
    }

    /// The value and its milliseconds left, or nil.
    public static func open(_ stored: [UInt8], key: String, secret: [UInt8], now: Int64) -> (value: [UInt8], remainingMilliseconds: Int64)? {
        guard stored.count >= 1 + 8 + 32, stored[0] == 1 else { return nil }
        let expiry = Array(stored[1..<9])
        let value = Array(stored[41...])
        guard Hash.constantTimeEqual(Array(stored[9..<41]), mac(key: key, expiry: expiry, value: value, secret: secret)) else { return nil }
        let expires = expiry.reduce(Int64(0)) { $0 << 8 | Int64($1) }
        guard expires > now else { return nil }
        return (value, expires - now)
    }

    static func mac(key: String, expiry: [UInt8], value: [UInt8], secret: [UInt8]) -> [UInt8] {
        Hash.hmac(.sha256, key: secret, context + [0] + Array(key.utf8) + [0] + expiry + value)
    }

    public static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

/// The shared cache on Redis through hiredis (blocking connections, each used by one command at
/// a time on threads of its own, never on the Swift concurrency pool). Every value is a
/// `SealedEntry`.
public final class RedisSharedCache: SharedCache, @unchecked Sendable {
    public enum Event: String, Sendable {
        case hit, miss, rejected, unavailable, stored, dropped
    }

    /// One hiredis connection; owned by whoever checked it out.
    private final class Connection: @unchecked Sendable {
        var context: UnsafeMutablePointer<redisContext>?
        deinit { if let context { redisFree(context) } }
    }

    private struct Pool {
        var idle: [Connection] = []
        var checkedOut = 0
        var downUntil: ContinuousClock.Instant?
        var lastError = ""
    }

    public let settings: RedisSettings
    /// The largest entry read back (a sealed verdict or signature is a few KiB; content over
    /// 256 KiB is never stored): anything larger is refused without being read whole.
    public static let maxValueBytes = 1024 * 1024
    private let pool = Mutex(Pool())
    /// Threads of our own for the blocking calls: never the Swift concurrency pool, nor the
    /// global dispatch queues (which on Linux share its threads).
    private let workers: BlockingWorkers
    private let onEvent: @Sendable (Event, String) -> Void

    /// `onEvent`: each lookup's outcome and each store (metrics), with a detail for `rejected`
    /// and `unavailable` (logs).
    public init(settings: RedisSettings, onEvent: @escaping @Sendable (Event, String) -> Void = { _, _ in }) {
        self.settings = settings
        self.onEvent = onEvent
        workers = BlockingWorkers(count: settings.maxConnections, name: "ratify-redis")
    }

    /// A lookup's own command timeout, and a little for the hop to its thread.
    public var lookupBudget: Duration { settings.commandTimeout + .milliseconds(20) }

    /// Whether Redis answered the last time it was asked (for readiness and logs).
    public var isAvailable: Bool { pool.withLock { $0.downUntil.map { $0 <= .now } ?? true } }

    public func get(_ key: String, deadline: ContinuousClock.Instant) async -> (value: [UInt8], remaining: Duration)? {
        // A caller without a whole command timeout left skips Redis (a miss) rather than
        // cutting the command short: a short cut would count as Redis failing for everyone.
        guard deadline - .now >= settings.commandTimeout, let connection = checkout() else {
            onEvent(.unavailable, "")
            return nil
        }
        let timeout = settings.commandTimeout
        let reply: Reply = await withCheckedContinuation { continuation in
            // GETRANGE, not GET: whoever can write to Redis could store gigabytes under a key we
            // read; at most `maxValueBytes` + 1 are ever transferred.
            let range = [Array("GETRANGE".utf8), Array(key.utf8), Array("0".utf8), Array(String(RedisSharedCache.maxValueBytes).utf8)]
            workers.submit { continuation.resume(returning: self.run(connection, range, timeout: timeout)) }
        }
        switch reply {
        case .failed(let detail):
            onEvent(.unavailable, detail)
            return nil
        case .nil, .ok, .bytes([]):  // GETRANGE answers "" for a missing key
            onEvent(.miss, "")
            return nil
        case .bytes(let stored):
            guard stored.count <= RedisSharedCache.maxValueBytes, let opened = open(stored, key: key) else {
                onEvent(.rejected, key)
                return nil
            }
            onEvent(.hit, "")
            return opened
        }
    }

    public func put(_ key: String, _ value: [UInt8], ttl: Duration) {
        guard value.count + 41 <= Self.maxValueBytes else {
            onEvent(.dropped, "entry of \(value.count) bytes is larger than a shared entry may be")
            return
        }
        let milliseconds = max(1, Int(ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000))
        guard let connection = checkout() else {
            onEvent(.dropped, "")
            return
        }
        let sealed = seal(value, key: key, expires: SealedEntry.nowMilliseconds() + Int64(milliseconds))
        workers.submit {
            switch self.run(connection, [Array("SET".utf8), Array(key.utf8), sealed, Array("PX".utf8), Array(String(milliseconds).utf8)],
                            timeout: self.settings.commandTimeout) {
            case .ok: self.onEvent(.stored, "")
            case .failed(let detail): self.onEvent(.dropped, detail)
            default: self.onEvent(.dropped, "unexpected reply to SET")
            }
        }
    }

    // MARK: envelope

    func seal(_ value: [UInt8], key: String, expires: Int64) -> [UInt8] {
        SealedEntry.seal(value, key: key, expires: expires, secret: settings.key)
    }

    func open(_ stored: [UInt8], key: String) -> (value: [UInt8], remaining: Duration)? {
        SealedEntry.open(stored, key: key, secret: settings.key, now: SealedEntry.nowMilliseconds())
            .map { ($0.value, .milliseconds($0.remainingMilliseconds)) }
    }

    // MARK: connections

    private enum Reply {
        case bytes([UInt8]), `nil`, ok, failed(String)
    }

    /// A connection to use, or nil when Redis is resting after a failure or every connection is
    /// busy (the caller treats either as a miss rather than queueing behind Redis).
    private func checkout() -> Connection? {
        pool.withLock { pool in
            if let down = pool.downUntil, down > .now { return nil }
            if let idle = pool.idle.popLast() {
                pool.checkedOut += 1
                return idle
            }
            guard pool.checkedOut + pool.idle.count < settings.maxConnections else { return nil }
            pool.checkedOut += 1
            return Connection()
        }
    }

    private func checkin(_ connection: Connection, failure: String?) {
        pool.withLock { pool in
            pool.checkedOut -= 1
            if let failure {
                // A broken or slow connection is dropped; Redis is left alone for a while so
                // requests do not each pay a timeout; the next try after that reconnects.
                pool.downUntil = .now + settings.retryAfter
                pool.lastError = failure
                pool.idle.removeAll()
            } else {
                pool.downUntil = nil
                pool.idle.append(connection)
            }
        }
    }

    /// Runs one command on `connection` (connecting first if needed) within `timeout`. Blocking:
    /// called on `workers` only.
    private func run(_ connection: Connection, _ arguments: [[UInt8]], timeout: Duration) -> Reply {
        if connection.context == nil {
            if let failure = connect(connection) {
                checkin(connection, failure: failure)
                return .failed(failure)
            }
        }
        guard let context = connection.context else { return .failed("no connection") }
        redisSetTimeout(context, Self.timeval(timeout))
        let reply = command(context, arguments)
        if case .failed(let detail) = reply {
            checkin(connection, failure: detail)
        } else {
            checkin(connection, failure: nil)
        }
        return reply
    }

    private func connect(_ connection: Connection) -> String? {
        guard let context = redisConnectWithTimeout(settings.host, Int32(settings.port), Self.timeval(settings.connectTimeout)) else {
            return "cannot allocate a redis context"
        }
        connection.context = context
        if context.pointee.err != 0 { return "connect to \(settings.host):\(settings.port): \(Self.errorText(context))" }
        redisSetTimeout(context, Self.timeval(settings.commandTimeout))
        if let password = settings.password {
            let auth: [[UInt8]] = [Array("AUTH".utf8)] + (settings.username.map { [Array($0.utf8)] } ?? []) + [Array(password.utf8)]
            if case .failed(let detail) = command(context, auth) { return "redis AUTH: \(detail)" }
        }
        if settings.database != 0, case .failed(let detail) = command(context, [Array("SELECT".utf8), Array(String(settings.database).utf8)]) {
            return "redis SELECT \(settings.database): \(detail)"
        }
        return nil
    }

    private func command(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [[UInt8]]) -> Reply {
        let pointers = arguments.map { argument -> UnsafeMutablePointer<CChar> in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, argument.count))
            argument.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { copy.update(from: $0.baseAddress!, count: argument.count) }
            }
            return copy
        }
        defer { pointers.forEach { $0.deallocate() } }
        var argv: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) }
        let lengths = arguments.map(\.count)
        guard let raw = redisCommandArgv(context, Int32(arguments.count), &argv, lengths) else {
            return .failed(Self.errorText(context))
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        switch reply.pointee.type {
        case REDIS_REPLY_STRING:
            let length = Int(reply.pointee.len)
            return .bytes(length == 0 ? [] : Array(UnsafeRawBufferPointer(start: reply.pointee.str, count: length)))
        case REDIS_REPLY_NIL:
            return .nil
        case REDIS_REPLY_STATUS, REDIS_REPLY_INTEGER:
            return .ok
        case REDIS_REPLY_ERROR:
            let message = reply.pointee.str.map { String(cString: $0) } ?? "error"
            return .failed("redis answered: \(message)")
        default:
            return .failed("unexpected redis reply type \(reply.pointee.type)")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let micros = max(1000, duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
        return Glibc.timeval(tv_sec: Int(micros / 1_000_000), tv_usec: Int(micros % 1_000_000))
    }
}

/// A fixed set of threads running submitted blocking jobs in order. At most one job per checked
/// out connection is ever queued, so the queue stays as short as the pool.
final class BlockingWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []

    init(count: Int, name: String) {
        for index in 0..<max(1, count) {
            // The threads live as long as the process (one shared cache per process).
            let thread = Thread { self.loop() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
