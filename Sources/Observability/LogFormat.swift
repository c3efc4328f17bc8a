import Foundation
import Logging
import Synchronization

/// Log output formats Ratify users know: logrus' text formatter (`time="…" level=info msg="…"`)
/// and its JSON formatter (`{"level":"info","msg":"…","time":"…"}`). `logstash` is accepted as
/// Ratify's alias for JSON with `@timestamp`.
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json, logstash
}

/// A swift-log handler writing one line per entry in logrus' formats to a file descriptor
/// (stderr by default, where logrus writes).
public struct RatifyLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let format: LogFormat
    private let sink: LogSink
    private let label: String

    public init(label: String, format: LogFormat, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let line = LogLineFormatter.format(format, time: Date(), level: event.level, message: "\(event.message)",
                                           fields: fields.mapValues { "\($0)" })
        sink.write(line)
    }
}

/// Where log lines go. Writes are serialised so lines from concurrent tasks never interleave.
public final class LogSink: Sendable {
    private let lock = Mutex<[String]?>(nil)
    private let fd: Int32?

    private init(fd: Int32?) { self.fd = fd }

    public static let standardError = LogSink(fd: 2)
    public static let standardOutput = LogSink(fd: 1)
    /// Keeps lines in memory (tests read them back).
    public static func memory() -> LogSink {
        let sink = LogSink(fd: nil)
        sink.lock.withLock { $0 = [] }
        return sink
    }

    public var lines: [String] { lock.withLock { $0 ?? [] } }

    func write(_ line: String) {
        lock.withLock { captured in
            if captured != nil {
                captured!.append(line)
                return
            }
            guard let fd else { return }
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
    }
}

public enum LogLineFormatter {
    /// logrus level names: swift-log's `notice` has no logrus twin and prints as `info`,
    /// `critical` as `fatal`.
    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "trace"
        case .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warning"
        case .error: "error"
        case .critical: "fatal"
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    public static func format(_ format: LogFormat, time: Date, level: Logger.Level, message: String, fields: [String: String]) -> String {
        let stamp = timestamp(time)
        switch format {
        case .text:
            var line = "time=\(quote(stamp)) level=\(levelName(level)) msg=\(quote(message))"
            for key in fields.keys.sorted() { line += " \(key)=\(quote(fields[key]!))" }
            return line
        case .json, .logstash:
            // logrus marshals a map, so keys come out sorted; fields never shadow the core keys.
            var object = fields
            object[format == .logstash ? "@timestamp" : "time"] = stamp
            object["level"] = levelName(level)
            object[format == .logstash ? "message" : "msg"] = message
            return "{" + object.keys.sorted().map { "\(jsonString($0)):\(jsonString(object[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// logrus quotes a value unless every character is in [A-Za-z0-9-._/@^+].
    static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-._/@^+".unicodeScalars.contains($0)
        }
        return plain ? value : jsonString(value)
    }

    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
