import Foundation
import Synchronization

/// A small Prometheus registry rendering the text exposition format (version 0.0.4). Metric
/// names follow Ratify's (`ratify_verification_request`, `ratify_system_error_count`, …) so
/// existing dashboards keep working.
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[any MetricFamily]>([])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> Counter {
        let counter = Counter(name: name, help: help, labelNames: labels)
        families.withLock { $0.append(counter) }
        return counter
    }

    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double]) -> Histogram {
        let histogram = Histogram(name: name, help: help, labelNames: labels, buckets: buckets.sorted())
        families.withLock { $0.append(histogram) }
        return histogram
    }

    public func gauge(_ name: String, help: String, read: @escaping @Sendable () -> Double) {
        families.withLock { $0.append(Gauge(name: name, help: help, read: read)) }
    }

    public func render() -> String {
        families.withLock { $0 }.map { $0.render() }.joined()
    }
}

protocol MetricFamily: Sendable {
    func render() -> String
}

func renderLabels(_ names: [String], _ values: [String], extra: (String, String)? = nil) -> String {
    var pairs = zip(names, values).map { "\($0)=\"\(escapeLabel($1))\"" }
    if let extra { pairs.append("\(extra.0)=\"\(extra.1)\"") }
    return pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}"
}

/// Exposition format: label values escape backslash, double quote and line feed.
func escapeLabel(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        .replacingOccurrences(of: "\n", with: "\\n")
}

func formatNumber(_ value: Double) -> String {
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}

public final class Counter: MetricFamily {
    let name: String, help: String, labelNames: [String]
    private let values = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    public func increment(_ labels: [String] = [], by amount: Double = 1) {
        precondition(labels.count == labelNames.count, "\(name) takes labels \(labelNames)")
        values.withLock { $0[labels, default: 0] += amount }
    }

    public func value(_ labels: [String] = []) -> Double { values.withLock { $0[labels] ?? 0 } }

    func render() -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (labels, value) in values.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out += "\(name)\(renderLabels(labelNames, labels)) \(formatNumber(value))\n"
        }
        return out
    }
}

public final class Histogram: MetricFamily {
    let name: String, help: String, labelNames: [String], buckets: [Double]
    private struct Series { var counts: [UInt64]; var sum: Double; var count: UInt64 }
    private let series = Mutex<[[String]: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.buckets = buckets
    }

    public func observe(_ value: Double, _ labels: [String] = []) {
        precondition(labels.count == labelNames.count, "\(name) takes labels \(labelNames)")
        let index = buckets.firstIndex(where: { value <= $0 }) ?? buckets.count
        series.withLock { all in
            var entry = all[labels] ?? Series(counts: Array(repeating: 0, count: buckets.count + 1), sum: 0, count: 0)
            entry.counts[index] += 1
            entry.sum += value
            entry.count += 1
            all[labels] = entry
        }
    }

    public func count(_ labels: [String] = []) -> UInt64 { series.withLock { $0[labels]?.count ?? 0 } }

    func render() -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, entry) in series.withLock({ $0 }).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            var cumulative: UInt64 = 0
            for (i, bound) in buckets.enumerated() {
                cumulative += entry.counts[i]
                out += "\(name)_bucket\(renderLabels(labelNames, labels, extra: ("le", formatNumber(bound)))) \(cumulative)\n"
            }
            out += "\(name)_bucket\(renderLabels(labelNames, labels, extra: ("le", "+Inf"))) \(entry.count)\n"
            out += "\(name)_sum\(renderLabels(labelNames, labels)) \(formatNumber(entry.sum))\n"
            out += "\(name)_count\(renderLabels(labelNames, labels)) \(entry.count)\n"
        }
        return out
    }
}

final class Gauge: MetricFamily {
    let name: String, help: String
    let read: @Sendable () -> Double

    init(name: String, help: String, read: @escaping @Sendable () -> Double) {
        self.name = name
        self.help = help
        self.read = read
    }

    func render() -> String { "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(formatNumber(read()))\n" }
}
