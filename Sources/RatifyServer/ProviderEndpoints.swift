import Core
import Foundation
import HTTPServer
import JSON
import Logging
import Observability

/// The two Gatekeeper paths on the provider listener.
struct ProviderEndpoints: Sendable {
    let options: ServeOptions
    let executor: ExecutorHolder
    let metrics: ServerMetrics
    let logger: Logger

    func router() -> Instrumented {
        var router = Router()
        let holder = executor
        let (verifyDefault, mutateDefault) = (options.verificationTimeout, options.mutationTimeout)
        let verify = ProviderEndpoint(operation: .verify, timeout: holder.timeouts?.verification ?? verifyDefault) { holder.current }
        let mutate = ProviderEndpoint(operation: .mutate, timeout: holder.timeouts?.mutation ?? mutateDefault) { holder.current }
        // Verification runs where registry answers arrive (the transport's I/O thread, when the
        // configuration uses it) from the start: see `ProviderExecutor.preferredTaskExecutor`.
        // A request whose every key has a cached verdict is answered on the event loop itself.
        router.add("POST", RatifyServer.verifyPath, executor: { holder.current.preferredTaskExecutor(.verify) },
                   onLoop: { request in serveFromCache(verify, &request, histogram: metrics.verificationRequest) }) { request in
            await serve(verify, request, histogram: metrics.verificationRequest)
        }
        router.add("POST", RatifyServer.mutatePath) { request in await serve(mutate, request, histogram: metrics.mutationRequest) }
        return Instrumented(router: router, server: "provider", metrics: metrics)
    }

    private func serve(_ endpoint: ProviderEndpoint, _ request: HTTPRequest, histogram: Histogram) async -> HTTPResponse {
        let start = ContinuousClock.now
        let prepared = request.prepared as? Prepared
        let requestID = prepared?.requestID ?? traceID(request)
        var log = logger
        log[metadataKey: "trace-id"] = "\(requestID)"
        log.debug("start request", metadata: ["method": "\(request.method)", "path": "\(request.path)"])
        let answer = if let prepared {
            await endpoint.answer(prepared.request, requestID: requestID)
        } else {
            await endpoint.answer(body: request.body, requestID: requestID)
        }
        if let systemError = answer.response.systemError {
            metrics.systemErrors.increment()
            log.error("\(endpoint.operation.rawValue) request failed", metadata: ["status": "\(answer.outcome.httpStatus)", "systemError": "\(systemError)"])
        }
        return respond(answer, requestID: requestID, since: start, histogram: histogram)
    }

    /// A request decoded on the event loop that needs `serve`: its body is not decoded twice.
    private struct Prepared: Sendable {
        let request: ProviderRequest
        let requestID: String
    }

    /// `serve` for a request answered from the verdict cache, on the event loop (nil: not all
    /// keys are cached; the decoded request then goes on to `serve` in `prepared`).
    private func serveFromCache(_ endpoint: ProviderEndpoint, _ request: inout HTTPRequest, histogram: Histogram) -> HTTPResponse? {
        let start = ContinuousClock.now
        let requestID = traceID(request)
        switch endpoint.answerFromCache(body: request.body, requestID: requestID) {
        case .answered(let answer):
            return respond(answer, requestID: requestID, since: start, histogram: histogram)
        case .needsWork(let decoded):
            request.prepared = Prepared(request: decoded, requestID: requestID)
            return nil
        case .notOnLoop:
            return nil
        }
    }

    private func respond(_ answer: ProviderAnswer, requestID: String, since start: ContinuousClock.Instant, histogram: Histogram) -> HTTPResponse {
        let elapsed = ContinuousClock.now - start
        histogram.observe(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        var response = HTTPResponse.json(HTTPStatus(answer.outcome.httpStatus, answer.outcome.reasonPhrase), answer.body)
        response.headers.add("X-Request-Id", requestID)
        return response
    }

    private func traceID(_ request: HTTPRequest) -> String {
        for header in options.traceIDHeaders {
            if let value = request.headers[header], !value.isEmpty { return value }
        }
        return RequestID.make()
    }
}
