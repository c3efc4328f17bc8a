import Core
import JSON
import Synchronization
import Testing

@Suite struct ProviderRequestDecoding {
    @Test func decodesGatekeeperRequest() throws {
        let body = #"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["a","[ns]b"]}}"#
        #expect(try ProviderRequest.decode(Array(body.utf8)).keys == ["a", "[ns]b"])
    }

    @Test func acceptsV1Alpha1AndOmittedKeys() throws {
        let body = #"{"apiVersion":"externaldata.gatekeeper.sh/v1alpha1","kind":"ProviderRequest","request":{}}"#
        #expect(try ProviderRequest.decode(Array(body.utf8)).keys == [])
    }

    @Test(arguments: [
        ("{", ProviderProtocolError.Code.invalidJSON),
        ("[]", .invalidJSON),
        (#"{"kind":"ProviderRequest","request":{"keys":[]}}"#, .invalidAPIVersion),
        (#"{"apiVersion":"v1","kind":"ProviderRequest"}"#, .invalidAPIVersion),
        (#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse"}"#, .invalidKind),
        (#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1"}"#, .invalidKind),
        (#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":[]}"#, .invalidKeys),
        (#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":"a"}}"#, .invalidKeys),
        (#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["a",1]}}"#, .invalidKeys),
    ])
    func rejectsBadRequests(_ body: String, _ code: ProviderProtocolError.Code) {
        do {
            _ = try ProviderRequest.decode(Array(body.utf8))
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.code == code)
        }
    }

    @Test func errorNamesTheOffendingElement() {
        let body = #"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["a",{}]}}"#
        do {
            _ = try ProviderRequest.decode(Array(body.utf8))
            Issue.record("accepted \(body)")  // decoding must fail: this test must not pass on success
        } catch {
            #expect(error.description == "INVALID_KEYS: request.keys[1] must be a string, found object")
        }
    }
}

@Suite struct ProviderResponseEncoding {
    @Test func omitsEmptyFieldsLikeGoOmitempty() {
        let response = ProviderResponse(items: [ProviderItem(key: "a", value: ["isSuccess": true]), .failure("b", "boom")])
        #expect(String(decoding: response.encoded(), as: UTF8.self) ==
            #"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse","response":{"items":[{"key":"a","value":{"isSuccess":true}},{"key":"b","error":"boom"}]}}"# + "\n")
    }

    @Test func systemErrorOnlyResponseKeepsTheResponseObject() {
        let response = ProviderResponse(idempotent: true, systemError: "bad")
        #expect(String(decoding: response.encoded(), as: UTF8.self) ==
            #"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderResponse","response":{"idempotent":true,"systemError":"bad"}}"# + "\n")
        #expect(String(decoding: ProviderResponse().encoded(), as: UTF8.self).contains(#""response":{}"#))
    }
}

struct SlowExecutor: ProviderExecutor {
    let delay: Duration
    func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] {
        try? await Task.sleep(for: delay)
        return keys.map { ProviderItem(key: $0, value: "done") }
    }
}

struct WrongCountExecutor: ProviderExecutor {
    func execute(_ keys: [String], context: ProviderContext) async -> [ProviderItem] { [] }
}

@Suite struct ProviderEndpointTests {
    let request = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["img:1","img:2"]}}"#.utf8)

    @Test func unconfiguredExecutorAnswersEveryKeyWithAnError() async {
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .seconds(10)) { UnconfiguredExecutor() }
        let answer = await endpoint.answer(body: request, requestID: "r")
        #expect(answer.outcome == .answered && answer.outcome.httpStatus == 200)
        // Each key: the error, then a failing value (see FailClosedAnswerTests).
        #expect(answer.response.items.map(\.key) == ["img:1", "img:1", "img:2", "img:2"])
        let errors = answer.response.items.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        #expect(errors.allSatisfy { $0.value == nil && $0.error?.hasPrefix("EXECUTOR_NOT_CONFIGURED: ") == true })
        let values = answer.response.items.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(values.allSatisfy { $0.error == nil && $0.value?["isSuccess"] == false })
        #expect(answer.response.idempotent == false)
    }

    @Test func mutationAnswersAreIdempotent() async {
        let endpoint = ProviderEndpoint(operation: .mutate, timeout: .seconds(10)) { SlowExecutor(delay: .zero) }
        #expect(await endpoint.answer(body: request, requestID: "r").response.idempotent)
    }

    @Test func timeoutIsASystemErrorNeverASuccess() async {
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .milliseconds(100)) { SlowExecutor(delay: .seconds(60)) }
        let started = ContinuousClock.now
        let answer = await endpoint.answer(body: request, requestID: "r")
        #expect(ContinuousClock.now - started < .seconds(30), "answers without waiting for the 60 s executor")
        #expect(answer.outcome == .failed && answer.outcome.httpStatus == 500)
        #expect(answer.response.items.isEmpty)
        #expect(answer.response.systemError?.hasPrefix("operation timed out after 100ms") == true)
    }

    @Test func malformedRequestIsA400SystemError() async {
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .seconds(10)) { UnconfiguredExecutor() }
        let answer = await endpoint.answer(body: Array("{".utf8), requestID: "r")
        #expect(answer.outcome == .malformedRequest && answer.outcome.httpStatus == 400)
        #expect(answer.response.systemError?.hasPrefix("INVALID_REQUEST_JSON") == true)
    }

    @Test func executorThatLosesKeysIsAnError() async {
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .seconds(10)) { WrongCountExecutor() }
        let answer = await endpoint.answer(body: request, requestID: "r")
        #expect(answer.outcome == .failed && answer.outcome.httpStatus == 500)
        #expect(answer.response.systemError?.contains("0 item(s) for 2 key(s)") == true)
    }

    @Test func withDeadlineReturnsFastWorkAndNilForSlowWork() async {
        #expect(await withDeadline(.seconds(10)) { 42 } == 42)
        #expect(await withDeadline(.milliseconds(20)) { () async -> Int in
            try? await Task.sleep(for: .seconds(3))
            return 1
        } == nil)
    }

    /// The deadline thread is signalled only for a deadline earlier than its next wake-up; later
    /// ones, and ones scheduled after a cancellation emptied the heap, must still fire, in order.
    @Test func deadlinesScheduledWithoutASignalStillFireInOrder() async throws {
        let fired = Mutex<[Int]>([])
        let timer = DeadlineTimer.shared
        let cancelled = timer.schedule(after: .milliseconds(150)) { fired.withLock { $0.append(-1) } }
        timer.cancel(cancelled)
        _ = timer.schedule(after: .milliseconds(400)) { fired.withLock { $0.append(400) } }  // later than the wake-up
        _ = timer.schedule(after: .milliseconds(100)) { fired.withLock { $0.append(100) } }  // earlier: signalled
        _ = timer.schedule(after: .milliseconds(700)) { fired.withLock { $0.append(700) } }
        for _ in 0..<300 where fired.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(fired.withLock { $0 } == [100, 400, 700])
    }
}

/// Keys that cannot be verified are answered so that every Ratify 1.4 template denies them
/// (Tests/rego exercises the templates themselves).
@Suite struct FailClosedAnswerTests {
    @Test func anErroredKeyIsAnsweredWithItsErrorThenAFailingValue() async {
        let endpoint = ProviderEndpoint(operation: .verify, timeout: .seconds(60)) { UnconfiguredExecutor() }
        let body = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["reg.io/app:v1"]}}"#.utf8)
        let answer = await endpoint.answer(body: body, requestID: "trace-7")
        #expect(answer.outcome == .answered)
        let items = answer.response.items
        #expect(items.count == 2)
        #expect(items.first?.error?.hasPrefix("EXECUTOR_NOT_CONFIGURED: ") == true)
        #expect(items.first?.value == nil)
        #expect(items.last?.key == "reg.io/app:v1" && items.last?.error == nil)
        let value = items.last?.value
        #expect(value?["isSuccess"] == false)
        #expect(value?["traceID"] == "trace-7")
        #expect(value?["timestamp"]?.stringValue?.hasSuffix("Z") == true)
        let report = value?["verifierReports"]?.arrayValue?.first
        #expect(report?["errorReason"] == "EXECUTOR_NOT_CONFIGURED")
        #expect(report?["isSuccess"] == false)
    }

    @Test func mutationAnswersAreLeftAlone() async {
        let endpoint = ProviderEndpoint(operation: .mutate, timeout: .seconds(60)) { UnconfiguredExecutor() }
        let body = Array(#"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["reg.io/app:v1"]}}"#.utf8)
        #expect(await endpoint.answer(body: body, requestID: "t").response.items.count == 1)
    }
}

@Suite struct RequestIDTests {
    @Test func requestIDsAreVersion4UUIDsInLowercase() throws {
        let pattern = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        let ids = (0..<10_000).map { _ in RequestID.make() }
        #expect(ids.allSatisfy { $0.wholeMatch(of: pattern) != nil }, "\(ids.first { $0.wholeMatch(of: pattern) == nil } ?? "")")
        #expect(Set(ids).count == ids.count)
    }
}
