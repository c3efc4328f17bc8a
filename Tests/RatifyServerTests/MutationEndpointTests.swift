import Configuration
import Core
import Foundation
import JSON
import Logging
import Observability
@testable import RatifyServer
import Registry
import Testing
import TestSupport

@Suite(.serialized) struct MutationEndpointTests {
    @Test func mutateAnswersPinnedReferencesFromTheRealRegistry() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let image = try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("team/app", tag: "v1") }
        let metrics = ServerMetrics()
        var storeOptions = ORASStoreOptions()
        storeOptions.useHttp = true
        let store = try StoreFactory.makeStore(storeOptions) { host, status in metrics.registryRequests.increment([String(status), host]) }
        let executor = RoutingExecutor(verify: UnconfiguredExecutor(), mutate: MutationExecutor(store: store))
        let running = try await RunningServer.start(executor: executor, metrics: metrics)
        let keys = ["\(registry.host)/team/app:v1", "\(registry.host)/team/app@\(image.digest)"]
        let body = try running.json(try await running.post(mutatePath, providerRequest(keys)))
        #expect(body["response"]?["idempotent"] == true)
        let items = try #require(body["response"]?["items"]?.arrayValue)
        #expect(items.map { $0["value"]?.stringValue } == ["\(registry.host)/team/app:v1@\(image.digest)", keys[1]])
        // Verification is still unconfigured: an error, never a value.
        let verify = try running.json(try await running.post(verifyPath, providerRequest([keys[0]])))
        #expect(verify["response"]?["items"]?.arrayValue?.first?["value"] == nil)
        #expect(metrics.registryRequests.value(["200", registry.host]) == 1)
        await running.server.shutdown(gracePeriod: .seconds(1))
        registry.stop()
    }
}

@Suite struct StoreConfigTests {
    @Test func readsTheOrasStorePlugin() throws {
        let text = #"{"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true,"cosignEnabled":true,"ttl":20,"extra":1}]}}"#
        let config = try RatifyConfig.parse(Array(text.utf8), source: "c.json")
        #expect(config.storeOptions.useHttp && config.storeOptions.cosignEnabled)
        #expect(config.storeOptions.ttl == .seconds(20))
        #expect(config.warnings == ["store.plugins[0].extra is not a known oras store setting and is ignored"])
    }

    @Test(arguments: [
        (#"{"store":{"plugins":[{"name":"azure"}]}}"#, #"store.plugins[0].name: store "azure" is neither built in (oras) nor a plugin in"#),
        (#"{"store":{"plugins":{"name":"oras"}}}"#, "store.plugins must be a list"),
        (#"{"store":{"plugins":[{"name":"oras","ttl":"10s"}]}}"#, "store.plugins[0].ttl must be a positive whole number"),
        (#"{"store":{"plugins":[{"name":"oras"},{"name":"oras"}]}}"#, "only one store may be configured"),
    ])
    func refusesBadStoreConfig(_ text: String, _ message: String) {
        do {
            _ = try RatifyConfig.parse(Array(text.utf8), source: "c.json")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
