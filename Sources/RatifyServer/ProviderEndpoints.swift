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
        router.add("POST", RatifyServer.verifyPath, executor: { holder.current.preferredTaskExecutor(.verify) }) { request in
            await serve(verify, request, histogram: metrics.verificationRequest)
        }
        router.add("POST", RatifyServer.mutatePath) { request in await serve(mutate, request, histogram: metrics.mutationRequest) }
        return Instrumented(router: router, server: "provider", metrics: metrics)
    }

    private func serve(_ endpoint: ProviderEndpoint, _ request: HTTPRequest, histogram: Histogram) async -> HTTPResponse {
        let clock = ContinuousClock()
        let start = clock.now
        let requestID = traceID(request)
        var log = logger
        log[metadataKey: "trace-id"] = "\(requestID)"
        log.debug("start request", metadata: ["method": "\(request.method)", "path": "\(request.path)"])
        let answer = await endpoint.answer(body: request.body, requestID: requestID)
        let elapsed = clock.now - start
        histogram.observe(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        if let systemError = answer.response.systemError {
            metrics.systemErrors.increment()
            log.error("\(endpoint.operation.rawValue) request failed", metadata: ["status": "\(answer.outcome.httpStatus)", "systemError": "\(systemError)"])
        }
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
