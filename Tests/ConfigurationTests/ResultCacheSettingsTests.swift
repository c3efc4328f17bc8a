import Configuration
import Testing

/// `ratify serve --cache-*` as Ratify takes them (the chart's provider.cache.*).
@Suite struct ResultCacheSettingsTests {
    @Test func goDurationsAsRatifyWritesThem() {
        #expect(GoDuration.parse("10s") == .seconds(10))
        #expect(GoDuration.parse("1m30s") == .seconds(90))
        #expect(GoDuration.parse("500ms") == .milliseconds(500))
        #expect(GoDuration.parse("1.5h") == .seconds(5400))
        #expect(GoDuration.parse("0") == .zero)
        #expect(GoDuration.parse("100us") == .milliseconds(1))
        for bad in ["", "10", "s", "10x", "-1s", "1s2", "99999999999999999999h"] { #expect(GoDuration.parse(bad) == nil, "\(bad)") }
    }

    @Test func chartDefaultsAndLimits() throws {
        let settings = try ResultCacheSettings.parse(enabled: true, type: "ristretto", sizeMB: 256, ttl: "10s")
        #expect(settings == ResultCacheSettings(enabled: true, ttl: .seconds(10), maxEntries: 65_536))
        #expect(try !ResultCacheSettings.parse(enabled: false, type: "ristretto", sizeMB: 256, ttl: "10s").enabled)
        #expect(try !ResultCacheSettings.parse(enabled: true, type: "ristretto", sizeMB: 1, ttl: "0").enabled)
        #expect(try ResultCacheSettings.parse(enabled: true, type: "dapr", sizeMB: 256, ttl: "10s").shared)
        #expect(try ResultCacheSettings.parse(enabled: true, type: "redis", sizeMB: 256, ttl: "10s").shared)
        #expect(try !ResultCacheSettings.parse(enabled: true, type: "ristretto", sizeMB: 256, ttl: "10s").shared)
        #expect { try ResultCacheSettings.parse(enabled: true, type: "memcached", sizeMB: 256, ttl: "10s") } throws: {
            "\($0)".contains("--cache-type \"memcached\" is not supported")
        }
        #expect(throws: ConfigurationError.self) { try ResultCacheSettings.parse(enabled: true, type: "ristretto", sizeMB: 0, ttl: "10s") }
        #expect(throws: ConfigurationError.self) { try ResultCacheSettings.parse(enabled: true, type: "ristretto", sizeMB: 1, ttl: "ten") }
    }
}
