/// Go's `time.ParseDuration`, the format Ratify's `maximumAge` is written in ("24h", "90m",
/// "1h30m", "1.5h", "300ms"): a sequence of decimal numbers, each with an optional fraction
/// and a unit of ns, us (µs, μs), ms, s, m or h. Days are not a unit ("1d" is refused, as Go
/// refuses it).
public enum GoDuration {
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var totalNanoseconds: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1_000
            case "ms": scale = 1_000_000
            case "s": scale = 1_000_000_000
            case "m": scale = 60_000_000_000
            case "h": scale = 3_600_000_000_000
            default: return nil
            }
            totalNanoseconds += value * scale
        }
        // Go's limit: about 290 years. `Double(Int64.max)` rounds up to 2^63, which `Int64(_:)`
        // would trap on (a tenant's resource crash-looping the process): strictly below it.
        guard totalNanoseconds.isFinite, totalNanoseconds < 9_223_372_036_854_775_807.0,
              let nanoseconds = Int64(exactly: totalNanoseconds.rounded(.towardZero)) else { return nil }
        let duration = Duration.nanoseconds(nanoseconds)
        return negative ? .zero - duration : duration
    }
}
