import Foundation
import JSON
import Kubernetes
import Testing
import TestSupport

/// The watcher against Tests/Support/kube_api_server.py (a test double of the Kubernetes API's
/// list/watch wire format): list, watch events, status-only updates ignored, 410 → relist,
/// bearer token required.
@Suite(.serialized) struct ResourceWatcherTests {
    final class API: @unchecked Sendable {
        let port: UInt16
        let children = ChildProcesses()
        let session = CurlSession()

        init() throws {
            port = try freePort()
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Support/kube_api_server.py").path
            try children.start("/usr/bin/env", ["python3", script, String(port), "secret-token"])
            try waitForPort(port)
        }

        func stop() { children.stopAll() }

        @discardableResult
        func call(_ method: String, _ path: String, _ body: String? = nil) throws -> Int {
            try session.perform(HTTPClientRequest(method: method, url: "http://127.0.0.1:\(port)\(path)",
                headers: [("Authorization", "Bearer secret-token"), ("Content-Type", method == "PATCH" ? "application/merge-patch+json" : "application/json")],
                body: body.map { Array($0.utf8) })).status
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add() { lock.withLock { value += 1 } }
        var count: Int { lock.withLock { value } }
    }

    func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test func listWatchStatusUpdatesAndRelistOnGone() async throws {
        let api = try await offPool { try API() }
        defer { api.stop() }
        let path = "/apis/config.ratify.deislabs.io/v1beta1/verifiers"
        try await offPool { try api.call("POST", path, #"{"metadata":{"name":"first"},"spec":{"name":"cosign"}}"#) }
        let changes = Counter()
        let client = KubeClient(connection: KubeConnection(server: "http://127.0.0.1:\(api.port)", token: "secret-token"))
        let watcher = ResourceWatcher(kind: .verifiers, client: client) { changes.add() }
        let errors = Counter()
        watcher.start { _ in errors.add() }
        defer { watcher.stop() }
        try await eventually("the initial list") { watcher.snapshot.map(\.name) == ["first"] }
        try await offPool { try api.call("POST", path, #"{"metadata":{"name":"second"},"spec":{"name":"notation"}}"#) }
        try await eventually("the ADDED event") { watcher.snapshot.count == 2 }
        let before = changes.count
        // A status write changes no spec: not a configuration change.
        try await offPool { try api.call("PATCH", "\(path)/second/status", #"{"status":{"issuccess":true}}"#) }
        try await eventually("the status update to reach the cache") { watcher.snapshot.first { $0.name == "second" }?.status?["issuccess"] == true }
        #expect(changes.count == before, "a status-only update must not rebuild the configuration")
        // History compacted and streams closed: the resumed watch gets 410 and the watcher relists.
        try await offPool {
            try api.call("POST", "/__compact")
        }
        try await eventually("the relist after 410") { watcher.lists >= 2 }
        // The API server may refuse the watch request itself with HTTP 410: also a relist.
        try await offPool {
            try api.call("POST", "/__compact?status=1")
        }
        try await eventually("the relist after an HTTP 410") { watcher.lists >= 3 }
        try await offPool { try api.call("DELETE", "\(path)/first") }
        try await eventually("the DELETED event on the new watch") { watcher.snapshot.map(\.name) == ["second"] }
        #expect(errors.count == 0, "410 is not an error: it is answered with a relist")
        // A watch from no resourceVersion starts with ADDED events for what exists (the double
        // streams them in one chunk, split across two: the client reads events, not chunks).
        let seen = Counter()
        try await client.watch(path, resourceVersion: "", timeoutSeconds: 1) { event in
            if event.kind == .added, event.object["metadata"]?["name"]?.stringValue == "second" { seen.add() }
        }
        #expect(seen.count == 1)

        // Optimistic concurrency as the API server has it: a PUT naming a stale resourceVersion
        // is a 409 Conflict; the current one is accepted.
        let current = try await client.list(path).items.first { $0["metadata"]?["name"]?.stringValue == "second" }
        let version = try #require(current?["metadata"]?["resourceVersion"]?.stringValue)
        let stale = try await offPool { try api.call("PUT", "\(path)/second", #"{"metadata":{"name":"second","resourceVersion":"1"},"spec":{"name":"notation"}}"#) }
        #expect(stale == 409)
        let fresh = try await offPool { try api.call("PUT", "\(path)/second", #"{"metadata":{"name":"second","resourceVersion":"\#(version)"},"spec":{"name":"notation"}}"#) }
        #expect(fresh == 200)

        // Without the token the API refuses, and the client says so.
        let anonymous = KubeClient(connection: KubeConnection(server: "http://127.0.0.1:\(api.port)"))
        do {
            _ = try await anonymous.list(path)
            Issue.record("an unauthenticated list must fail")
        } catch {
            #expect(error.message.contains("HTTP 401"))
        }
    }
}

/// The in-cluster path as a pod runs it: KUBERNETES_SERVICE_HOST/PORT, the mounted service
/// account token and CA, against the API double served over TLS. A CA that did not issue the
/// server's certificate and a wrong token are each refused.
@Suite struct InClusterConnectionTests {
    @Test func theInClusterPathSpeaksTLSWithTheMountedCAAndToken() async throws {
        let pki = try await offPool { TestPKI.shared }
        let port = try freePort(), children = ChildProcesses()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/kube_api_server.py").path
        try children.start("/usr/bin/env", ["python3", script, String(port), "pod-token", pki.path("server.crt"), pki.path("server.key")])
        defer { children.stopAll() }
        try waitForPort(port)
        let mounts = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-sa-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: mounts) }
        func mount(token: String, ca: String) throws -> String {
            let dir = mounts.appendingPathComponent(UUID().uuidString).path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "\(token)\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(atPath: pki.path(ca), toPath: dir + "/ca.crt")
            return dir
        }
        let environment = ["KUBERNETES_SERVICE_HOST": "localhost", "KUBERNETES_SERVICE_PORT": String(port)]
        let path = "/apis/config.ratify.deislabs.io/v1beta1/verifiers"
        let good = try KubeConnection.inCluster(environment: environment, serviceAccount: try mount(token: "pod-token", ca: "server-ca.crt"))
        #expect(good.server == "https://localhost:\(port)")
        #expect(try await KubeClient(connection: good).list(path).items.isEmpty)
        let otherCA = try KubeConnection.inCluster(environment: environment, serviceAccount: try mount(token: "pod-token", ca: "rogue-ca.crt"))
        do {
            _ = try await KubeClient(connection: otherCA).list(path)
            Issue.record("a server certificate the mounted CA did not issue was accepted")
        } catch {
            #expect(error.code == .transport, "\(error)")
        }
        let wrongToken = try KubeConnection.inCluster(environment: environment, serviceAccount: try mount(token: "stolen", ca: "server-ca.crt"))
        do {
            _ = try await KubeClient(connection: wrongToken).list(path)
            Issue.record("a wrong token was accepted")
        } catch {
            #expect(error.message.contains("HTTP 401"), "\(error)")
        }
    }
}
