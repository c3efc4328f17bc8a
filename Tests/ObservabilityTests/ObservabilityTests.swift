import Foundation
import Logging
import Observability
import Testing

@Suite struct LogFormatTests {
    let time = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func textLooksLikeLogrus() {
        let line = LogLineFormatter.format(.text, time: time, level: .info, message: "verify result for subject x",
                                           fields: ["trace-id": "abc-1", "note": "two words"])
        #expect(line == #"time="2023-11-14T22:13:20Z" level=info msg="verify result for subject x" note="two words" trace-id=abc-1"#)
    }

    @Test func jsonHasSortedKeysAndEscapes() {
        let line = LogLineFormatter.format(.json, time: time, level: .warning, message: "say \"hi\"\n", fields: ["a": "1"])
        #expect(line == #"{"a":"1","level":"warning","msg":"say \"hi\"\n","time":"2023-11-14T22:13:20Z"}"#)
    }

    @Test func logstashUsesTimestampAndMessage() {
        let line = LogLineFormatter.format(.logstash, time: time, level: .error, message: "m", fields: [:])
        #expect(line == #"{"@timestamp":"2023-11-14T22:13:20Z","level":"error","message":"m"}"#)
    }

    @Test func handlerFiltersByLevelAndCarriesMetadata() {
        let sink = LogSink.memory()
        var logger = Logger(label: "t") { RatifyLogHandler(label: $0, format: .text, level: .info, sink: sink) }
        logger[metadataKey: "req"] = "r1"
        logger.debug("hidden")
        logger.info("shown")
        #expect(sink.lines.count == 1)
        #expect(sink.lines[0].hasSuffix(#"level=info msg=shown req=r1"#))
    }
}

@Suite struct MetricsTests {
    @Test func rendersPrometheusTextFormat() {
        let registry = MetricsRegistry()
        let counter = registry.counter("ratify_things_total", help: "Things", labels: ["kind"])
        counter.increment(["a\"b"])
        counter.increment(["a\"b"], by: 2)
        let histogram = registry.histogram("ratify_verification_request", help: "Duration", buckets: [10, 100])
        histogram.observe(5)
        histogram.observe(50)
        histogram.observe(500)
        #expect(registry.render() == """
        # HELP ratify_things_total Things
        # TYPE ratify_things_total counter
        ratify_things_total{kind="a\\"b"} 3
        # HELP ratify_verification_request Duration
        # TYPE ratify_verification_request histogram
        ratify_verification_request_bucket{le="10"} 1
        ratify_verification_request_bucket{le="100"} 2
        ratify_verification_request_bucket{le="+Inf"} 3
        ratify_verification_request_sum 555
        ratify_verification_request_count 3

        """)
    }
}
