import Core
import Foundation
import JSON
import Testing
import TestSupport

/// `ratify serve --enable-crd-manager` (the real binary) against Tests/Support/kube_api_server.py,
/// a test double of the Kubernetes API speaking its list/watch wire format, and the real
/// docker-registry with a cosign-signed image. Resources are created, replaced and deleted over
/// HTTP exactly as kubectl would, and each change must reach the verification result.
@Suite(.serialized) struct CRDManagerTests {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let binary = tests.deletingLastPathComponent().appendingPathComponent(".build/debug/ratify").path
    static let group = "/apis/config.ratify.deislabs.io/v1beta1"

    final class Cluster: @unchecked Sendable {
        let registry: LocalRegistry
        let apiPort: UInt16, httpPort: UInt16
        let children = ChildProcesses()
        let session = CurlSession()
        let key: String, otherKey: String
        let work: URL

        /// `environment`: added to the server's (feature flags).
        init(environment: [String: String] = [:]) throws {
            // Basic auth: the store can only read the images with the secret it gets through the API.
            registry = try LocalRegistry(auth: .basic(user: "alice", password: "s3cret"))
            work = registry.directory
            apiPort = try freePort()
            httpPort = try freePort()
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            let image = try oci.pushImage("app", tag: "signed")
            try oci.pushImage("app", tag: "unsigned")
            try ProcessRunner.python(FixtureScripts.path("make_signatures.py"),
                                     [work.appendingPathComponent("cosign").path, image.digest])
            let signatures = try JSONParser.parse(Array(try Data(contentsOf: work.appendingPathComponent("cosign/signatures.json"))))
            try oci.pushCosignSignatures("app", for: image, layers: [(payload: Array(Data(base64Encoded: signatures["payload"]!.stringValue!)!),
                                                                       annotations: ["dev.cosignproject.cosign/signature": signatures["signatures"]!["ec256"]!.stringValue!])])
            key = try String(contentsOf: work.appendingPathComponent("cosign/ec256.pub"), encoding: .utf8)
            otherKey = try String(contentsOf: work.appendingPathComponent("cosign/other.pub"), encoding: .utf8)
            try children.start("/usr/bin/env", ["python3", tests.appendingPathComponent("Support/kube_api_server.py").path, String(apiPort), "test-token"])
            try waitForPort(apiPort)
            // A kubeconfig, as `ratify serve --kubeconfig` reads it for local runs (JSON is YAML too).
            let kubeconfig = work.appendingPathComponent("kubeconfig").path
            try #"{"apiVersion":"v1","kind":"Config","current-context":"test","contexts":[{"name":"test","context":{"cluster":"double","user":"ratify"}}],"clusters":[{"name":"double","cluster":{"server":"http://127.0.0.1:\#(apiPort)"}}],"users":[{"name":"ratify","user":{"token":"test-token"}}]}"#
                .write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let config = work.appendingPathComponent("config.json").path
            try #"{"executor":{"verificationRequestTimeout":10000}}"#.write(toFile: config, atomically: true, encoding: .utf8)
            try children.start(binary, ["serve", "--http", "127.0.0.1:\(httpPort)", "--health-port", "127.0.0.1:\(try freePort())", "--metrics-port", "off",
                               "-c", config, "--enable-crd-manager", "--kubeconfig", kubeconfig], log: serverLog.path,
                               environment: environment.merging(["RATIFY_CONFIG": work.path]) { $1 })
            try waitForPort(httpPort)
        }

        var serverLog: URL { work.appendingPathComponent("ratify.log") }

        /// The registry's pull secret and the store reading it through k8Secrets (Ratify's quickstart).
        var dockerConfig: String {
            let auth = Data("alice:s3cret".utf8).base64EncodedString()
            return Data(#"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}}}"#.utf8).base64EncodedString()
        }

        func createRegistrySecretAndStore() throws {
            try api("POST", "/api/v1/namespaces/gatekeeper-system/secrets", ["metadata": ["name": "regcred"], "type": "kubernetes.io/dockerconfigjson",
                                                                            "data": [".dockerconfigjson": .string(dockerConfig)]])
            try create("stores", "store-oras", spec: ["name": "oras", "parameters": ["useHttp": true, "cosignEnabled": true,
                "authProvider": ["name": "k8Secrets", "secrets": [["secretName": "regcred", "namespace": "gatekeeper-system"]]]]])
        }

        func stop() {
            children.stopAll()
            registry.stop()
        }

        /// kubectl-style calls against the API double.
        @discardableResult
        func api(_ method: String, _ path: String, _ body: JSONValue? = nil) throws -> (status: Int, body: JSONValue?) {
            let response = try session.perform(HTTPClientRequest(method: method, url: "http://127.0.0.1:\(apiPort)\(path)",
                headers: [("Authorization", "Bearer test-token"), ("Content-Type", "application/json")], body: body.map(JSONWriter.encode)))
            return (response.status, try? JSONParser.parse(response.body))
        }

        func create(_ plural: String, _ name: String, namespace: String? = nil, spec: JSONValue) throws {
            let collection = namespace.map { "\(group)/namespaces/\($0)/\(plural)" } ?? "\(group)/\(plural)"
            let result = try api("POST", collection, ["metadata": ["name": .string(name)], "spec": spec])
            guard result.status == 201 else { throw TestFailure("create \(plural)/\(name): HTTP \(result.status)") }
        }

        func replace(_ plural: String, _ name: String, namespace: String? = nil, spec: JSONValue) throws {
            let collection = namespace.map { "\(group)/namespaces/\($0)/\(plural)" } ?? "\(group)/\(plural)"
            let result = try api("PUT", "\(collection)/\(name)", ["metadata": ["name": .string(name)], "spec": spec])
            guard result.status == 200 else { throw TestFailure("replace \(plural)/\(name): HTTP \(result.status)") }
        }

        func delete(_ plural: String, _ name: String) throws {
            let result = try api("DELETE", "\(group)/\(plural)/\(name)")
            guard result.status == 200 else { throw TestFailure("delete \(plural)/\(name): HTTP \(result.status)") }
        }

        /// The verdict for each key, from the running server.
        func verdicts(_ keys: [String]) throws -> [Bool?] {
            let body = #"{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":\#(JSONWriter.encodeString(.array(keys.map { .string($0) })))}}"#
            let response = try session.perform(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(httpPort)/ratify/gatekeeper/v1/verify",
                                                                 headers: [("Content-Type", "application/json")], body: Array(body.utf8)))
            let items = try JSONParser.parse(response.body)["response"]?["items"]?.arrayValue ?? []
            // An item error (e.g. nothing configured yet) is a failure too: Gatekeeper denies it.
            // A key may be answered twice (its error, then a failing value): one verdict per key,
            // the last item's, as Gatekeeper's cache keeps it.
            var verdict: [String: Bool?] = [:]
            for item in items {
                verdict[item["key"]?.stringValue ?? ""] = item["value"]?["isSuccess"]?.boolValue ?? (item["error"] != nil ? false : nil)
            }
            return keys.map { verdict[$0] ?? nil }
        }

        /// Polls until the verdicts match (a watch event, a 100 ms debounce and a rebuild apart).
        func eventually(_ keys: [String], _ expected: [Bool?], _ what: String) throws {
            let end = Date().addingTimeInterval(15)
            var last: [Bool?] = []
            while Date() < end {
                last = try verdicts(keys)
                if last == expected { return }
                Thread.sleep(forTimeInterval: 0.1)
            }
            let log = (try? String(contentsOf: serverLog, encoding: .utf8)) ?? ""
            throw TestFailure("\(what): verdicts \(last), expected \(expected)\nserver log tail:\n\(log.split(separator: "\n").filter { $0.contains("rebuil") || $0.contains("status") || $0.contains("level=warning") || $0.contains("level=error") }.suffix(14).joined(separator: "\n"))")
        }

        /// `Name@Version/Enabled` of each row of kmprovider-akv's status `properties[section]`,
        /// polled until they are `expected` (a refresh and a rebuild apart) or 15 s have passed.
        func keyVaultRows(_ section: String, becoming expected: [String]) throws -> [String] {
            let end = Date().addingTimeInterval(15)
            while true {
                let status = try status("\(CRDManagerTests.group)/keymanagementproviders/kmprovider-akv")
                let rows = (status?["properties"]?[section]?.arrayValue ?? []).map {
                    "\($0["Name"]?.stringValue ?? "")@\($0["Version"]?.stringValue ?? "")/\($0["Enabled"]?.stringValue ?? "")"
                }
                if rows == expected || Date() > end { return rows }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }

        func status(_ path: String) throws -> JSONValue? {
            let end = Date().addingTimeInterval(10)
            while Date() < end {
                if let status = try api("GET", path).body?["status"], status["issuccess"] != nil { return status }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return nil
        }
    }

    static func cosignVerifier(provider: String) -> JSONValue {
        ["name": "cosign", "type": "cosign", "artifactTypes": "application/vnd.dev.cosign.artifact.sig.v1+json",
         "parameters": ["trustPolicies": [["name": "default", "version": "1.0.0", "scopes": ["*"],
                                           "keys": [["provider": .string(provider)]], "tLogVerify": false]]]]
    }

    static func inlineKey(_ pem: String) -> JSONValue {
        ["type": "inline", "parameters": ["contentType": "key", "value": .string(pem)]]
    }

    @Test func resourcesDriveVerificationLiveWithStatusesNamespacesAndRelists() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        let cluster = try await offPool { try Cluster() }
        defer { cluster.stop() }
        try await offPool {
            let host = cluster.registry.host
            let signed = "\(host)/app:signed", unsigned = "\(host)/app:unsigned"
            // No resources yet: nothing verifies, nothing passes.
            try cluster.eventually([signed], [false], "before any resource")

            // A registry secret, then store, key (inline KMP), verifier, policy — as in Ratify's quickstart.
            try cluster.createRegistrySecretAndStore()
            try cluster.create("keymanagementproviders", "cosign-key", spec: Self.inlineKey(cluster.key))
            try cluster.create("verifiers", "verifier-cosign", spec: Self.cosignVerifier(provider: "cosign-key"))
            try cluster.create("policies", "ratify-policy", spec: ["type": "config-policy", "parameters": ["artifactVerificationPolicies": ["default": "all"]]])
            try cluster.eventually([signed, unsigned], [true, false], "after creating store, key, verifier and policy")
            let verifierStatus = try cluster.status("\(Self.group)/verifiers/verifier-cosign")
            #expect(verifierStatus?["issuccess"] == true)
            #expect(verifierStatus?["lastfetchedtime"]?.stringValue?.isEmpty == false)
            let kmpStatus = try cluster.status("\(Self.group)/keymanagementproviders/cosign-key")
            #expect(kmpStatus?["properties"]?["keys"]?.arrayValue?.first?["name"] == "cosign-key")

            // Replacing the key with another one turns the verdict; restoring it turns it back.
            try cluster.replace("keymanagementproviders", "cosign-key", spec: Self.inlineKey(cluster.otherKey))
            try cluster.eventually([signed], [false], "after replacing the key")
            try cluster.replace("keymanagementproviders", "cosign-key", spec: Self.inlineKey(cluster.key))
            try cluster.eventually([signed], [true], "after restoring the key")

            // A policy naming notation's type makes the cosign-only image fail; deleting it restores the default.
            try cluster.replace("policies", "ratify-policy", spec: ["type": "config-policy", "parameters": ["artifactVerificationPolicies": ["application/vnd.cncf.notary.signature": "any"]]])
            try cluster.eventually([signed], [false], "after the policy update")
            try cluster.delete("policies", "ratify-policy")
            try cluster.eventually([signed], [true], "after deleting the policy")

            // Issue #19: a rego-policy Policy (as the chart renders it for policy.useRego) decides;
            // one requiring a notation report denies the cosign-only image, Ratify's default admits it.
            let requireNotation = "package ratify.policy\nimport rego.v1\ndefault valid := false\nvalid if {\n  some artifact in input.verifierReports\n  some report in artifact.verifierReports\n  report.verifierType == \"notation\"\n  report.isSuccess\n}\n"
            try cluster.create("policies", "ratify-policy", spec: ["type": "rego-policy", "parameters": ["policy": .string(requireNotation)]])
            try cluster.eventually([signed], [false], "under a rego policy requiring notation")
            let chartDefault = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Conformance/ratify-rego/helm-policy-useRego.rego"), encoding: .utf8)
            try cluster.replace("policies", "ratify-policy", spec: ["type": "rego-policy", "parameters": ["policy": .string(chartDefault), "passthroughEnabled": false]])
            try cluster.eventually([signed], [true], "under the chart's default rego policy")
            try cluster.delete("policies", "ratify-policy")
            try cluster.eventually([signed], [true], "after deleting the rego policy")

            // A bad resource reports itself and leaves the others working.
            try cluster.create("verifiers", "verifier-sbom", spec: ["name": "sbom-scanner", "type": "sbom-scanner", "artifactTypes": "application/spdx+json"])
            let bad = try cluster.status("\(Self.group)/verifiers/verifier-sbom")
            #expect(bad?["issuccess"] == false)
            #expect(bad?["error"]?.stringValue?.contains("verifier \"sbom-scanner\" is neither built in (cosign, notation, sbom, licensechecker, vulnerabilityreport, schemavalidator) nor a plugin in \(cluster.work.path)/plugins") == true, "\(String(describing: bad))")
            #expect(bad?["brieferror"]?.stringValue?.count ?? 99 <= 30)
            // Repaired, its status no longer carries the old error (merge patch with nulls).
            try cluster.replace("verifiers", "verifier-sbom", spec: Self.cosignVerifier(provider: "cosign-key"))
            let repairEnd = Date().addingTimeInterval(10)
            var repaired: JSONValue?
            while Date() < repairEnd {
                repaired = try cluster.api("GET", "\(Self.group)/verifiers/verifier-sbom").body?["status"]
                if repaired?["issuccess"] == true { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(repaired?["issuccess"] == true && repaired?["error"] == nil && repaired?["brieferror"] == nil, "\(String(describing: repaired))")
            try cluster.delete("verifiers", "verifier-sbom")
            try cluster.eventually([signed], [true], "with a bad verifier next to a good one")
            // A dynamic plugin with the feature flag off is refused with that reason.
            try cluster.create("verifiers", "verifier-dynamic", spec: ["name": "sbom", "source": ["artifact": .string("\(host)/plugins/sbom:v1")]])
            let dynamic = try cluster.status("\(Self.group)/verifiers/verifier-dynamic")
            #expect(dynamic?["issuccess"] == false)
            #expect(dynamic?["error"]?.stringValue?.contains("dynamic plugins are disabled: set featureFlags.RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS") == true, "\(String(describing: dynamic))")

            // Namespaced resources: team-a trusts only "other" through its own verifier and key;
            // team-b has none and falls back to the cluster's.
            try cluster.create("namespacedkeymanagementproviders", "team-key", namespace: "team-a", spec: Self.inlineKey(cluster.otherKey))
            try cluster.create("namespacedverifiers", "team-verifier", namespace: "team-a", spec: Self.cosignVerifier(provider: "team-key"))
            try cluster.eventually(["[team-a]\(signed)", "[team-b]\(signed)", signed], [false, true, true], "with team-a's own verifier")
            // A namespace cannot use another namespace's keys: team-c naming team-key gets nothing.
            try cluster.create("namespacedverifiers", "borrower", namespace: "team-c", spec: Self.cosignVerifier(provider: "team-key"))
            try cluster.eventually(["[team-c]\(signed)"], [false], "team-c cannot see team-a's key")

            // Every other kind, each through to a verdict: a namespace's own policy and store...
            try cluster.create("namespacedkeymanagementproviders", "team-key", namespace: "team-d", spec: Self.inlineKey(cluster.key))
            try cluster.create("namespacedverifiers", "team-verifier", namespace: "team-d", spec: Self.cosignVerifier(provider: "team-key"))
            try cluster.eventually(["[team-d]\(signed)"], [true], "team-d's own verifier and key")
            try cluster.create("namespacedpolicies", "ratify-policy", namespace: "team-d",
                               spec: ["type": "config-policy", "parameters": ["artifactVerificationPolicies": ["application/vnd.cncf.notary.signature": "any"]]])
            try cluster.eventually(["[team-d]\(signed)", signed], [false, true], "team-d's own policy")
            try cluster.api("DELETE", "\(Self.group)/namespaces/team-d/namespacedpolicies/ratify-policy")
            try cluster.eventually(["[team-d]\(signed)"], [true], "team-d's policy deleted")
            // A namespace's store reads only its own namespace's secrets.
            try cluster.create("namespacedstores", "store-oras", namespace: "team-d", spec: ["name": "oras", "parameters": ["useHttp": true, "cosignEnabled": false,
                "authProvider": ["name": "k8Secrets", "secrets": [["secretName": "regcred", "namespace": "gatekeeper-system"]]]]])
            let borrowed = try cluster.status("\(Self.group)/namespaces/team-d/namespacedstores/store-oras")
            #expect(borrowed?["issuccess"] == false)
            #expect(borrowed?["error"]?.stringValue?.contains("is outside namespace team-d") == true, "\(String(describing: borrowed))")
            try cluster.api("POST", "/api/v1/namespaces/team-d/secrets", ["metadata": ["name": "regcred"], "type": "kubernetes.io/dockerconfigjson",
                                                                           "data": [".dockerconfigjson": .string(cluster.dockerConfig)]])
            try cluster.replace("namespacedstores", "store-oras", namespace: "team-d", spec: ["name": "oras", "parameters": ["useHttp": true, "cosignEnabled": false,
                "authProvider": ["name": "k8Secrets", "secrets": [["secretName": "regcred"]]]]])
            try cluster.eventually(["[team-d]\(signed)", signed], [false, true], "team-d's store without cosign signatures")
            // A namespace cannot install plugins (they are shared by the whole cluster).
            try cluster.create("namespacedverifiers", "sneaky", namespace: "team-d", spec: ["name": "notation-venafi-csp", "source": ["artifact": .string("\(host)/plugins/x:v1")]])
            let sneaky = try cluster.status("\(Self.group)/namespaces/team-d/namespacedverifiers/sneaky")
            #expect(sneaky?["issuccess"] == false)
            #expect(sneaky?["error"]?.stringValue?.contains("spec.source is not accepted on namespacedverifiers") == true, "\(String(describing: sneaky))")
            // A namespace whose resources give no usable configuration fails closed on its own;
            // the other namespaces and the cluster keep being rebuilt (the steps below).
            for store in ["one", "two"] {
                try cluster.create("namespacedstores", store, namespace: "team-x", spec: ["name": "oras", "parameters": ["useHttp": true]])
            }
            try cluster.eventually(["[team-x]\(signed)"], [false], "team-x with two stores fails closed")
            let two = try cluster.status("\(Self.group)/namespaces/team-x/namespacedstores/two")
            #expect(two?["error"]?.stringValue?.contains("namespace team-x has no usable configuration") == true, "\(String(describing: two))")
            // ...the cluster store updated, a verifier updated, a key provider deleted, and a
            // (deprecated, still read) CertificateStore without certificates reported as such.
            try cluster.replace("stores", "store-oras", spec: ["name": "oras", "parameters": ["useHttp": true, "cosignEnabled": false,
                "authProvider": ["name": "k8Secrets", "secrets": [["secretName": "regcred", "namespace": "gatekeeper-system"]]]]])
            try cluster.eventually([signed], [false], "the cluster store without cosign signatures")
            try cluster.replace("stores", "store-oras", spec: ["name": "oras", "parameters": ["useHttp": true, "cosignEnabled": true,
                "authProvider": ["name": "k8Secrets", "secrets": [["secretName": "regcred", "namespace": "gatekeeper-system"]]]]])
            try cluster.eventually([signed], [true], "the cluster store restored")
            try cluster.replace("verifiers", "verifier-cosign", spec: Self.cosignVerifier(provider: "missing-key"))
            try cluster.eventually([signed], [false], "the verifier naming a key provider that does not exist")
            try cluster.replace("verifiers", "verifier-cosign", spec: Self.cosignVerifier(provider: "cosign-key"))
            try cluster.eventually([signed], [true], "the verifier restored")
            try cluster.delete("keymanagementproviders", "cosign-key")
            try cluster.eventually([signed], [false], "the key provider deleted")
            try cluster.create("keymanagementproviders", "cosign-key", spec: Self.inlineKey(cluster.key))
            try cluster.eventually([signed], [true], "the key provider created again")
            try cluster.create("certificatestores", "legacy", namespace: "gatekeeper-system", spec: ["provider": "inline", "parameters": [:]])
            let legacy = try cluster.status("\(Self.group)/namespaces/gatekeeper-system/certificatestores/legacy")
            #expect(legacy?["issuccess"] == false)
            #expect(legacy?["error"]?.stringValue?.contains("parameters.value must hold PEM certificates") == true, "\(String(describing: legacy))")

            // A watch that resumes from a compacted resourceVersion gets 410 and relists.
            try cluster.api("POST", "/__compact")
            try cluster.delete("verifiers", "verifier-cosign")
            try cluster.eventually([signed, "[team-a]\(signed)"], [false, false], "after deleting the verifier (seen through a relist)")
        }
    }

    /// Ratify's dynamic plugins with the feature flag on: a Verifier naming `source.artifact` gets
    /// its executable pulled from another registry (with `source.authProvider`'s k8Secrets) into the plugin
    /// directory, pinned by digest, and run for the SBOM attached to an image; changing the
    /// resource takes effect.
    @Test func dynamicPluginIsPulledWithItsSourceCredentialsAndRuns() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        let cluster = try await offPool { try Cluster(environment: ["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS": "1"]) }
        // The plugin lives in another registry, readable only with the source's own authProvider.
        let pluginRegistry = try await offPool { try LocalRegistry(auth: .basic(user: "bob", password: "pl4gins")) }
        defer { cluster.stop(); pluginRegistry.stop() }
        try await offPool {
            let host = cluster.registry.host
            let oci = OCIFixtures(pusher: cluster.registry, maintainTagSchema: true)
            let tool = try oci.pushImage("tool", tag: "v1")
            try oci.attach("tool", to: tool, artifactType: "application/spdx+json", layers: [(mediaType: "application/spdx+json", bytes: Array(#"{"spdxVersion":"SPDX-2.3"}"#.utf8))])
            let script = try Data(contentsOf: URL(fileURLWithPath: FixtureScripts.path("ratify_test_verifier.py")))
            let plugin = try OCIFixtures(pusher: pluginRegistry, maintainTagSchema: false).pushArtifact("plugins/sbom", tag: "v1", artifactType: "application/vnd.ratify.plugin",
                                              layers: [(mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Array(script))])
            let auth = Data("alice:s3cret".utf8).base64EncodedString()
            let dockerConfig = Data(#"{"auths":{"\#(host)":{"auth":"\#(auth)"}}}"#.utf8).base64EncodedString()
            try cluster.api("POST", "/api/v1/namespaces/gatekeeper-system/secrets", ["metadata": ["name": "regcred"], "type": "kubernetes.io/dockerconfigjson",
                                                                                    "data": [".dockerconfigjson": .string(dockerConfig)]])
            let pluginAuth = Data(#"{"auths":{"\#(pluginRegistry.host)":{"auth":"\#(Data("bob:pl4gins".utf8).base64EncodedString())"}}}"#.utf8).base64EncodedString()
            try cluster.api("POST", "/api/v1/namespaces/gatekeeper-system/secrets", ["metadata": ["name": "plugincred"], "type": "kubernetes.io/dockerconfigjson",
                                                                                    "data": [".dockerconfigjson": .string(pluginAuth)]])
            let source: JSONValue = ["artifact": .string("\(pluginRegistry.host)/plugins/sbom:v1"),
                                     "authProvider": ["name": "k8Secrets", "secrets": [["secretName": "plugincred"]]]]
            // The chart's oras.authProviders.k8secretsEnabled: the credentials are the imagePullSecrets
            // of ratify's service account.
            try cluster.api("POST", "/api/v1/namespaces/gatekeeper-system/serviceaccounts", ["metadata": ["name": "ratify-admin"], "imagePullSecrets": [["name": "regcred"]]])
            try cluster.create("stores", "store-oras", spec: ["name": "oras", "parameters": ["useHttp": true,
                "authProvider": ["name": "k8Secrets", "serviceAccountName": "ratify-admin"]]])
            try cluster.create("policies", "ratify-policy", spec: ["type": "config-policy", "parameters": ["artifactVerificationPolicies": ["application/spdx+json": "all"]]])
            let image = "\(host)/tool:v1"
            try cluster.create("verifiers", "verifier-sbom", spec: ["name": "sbom", "artifactTypes": "application/spdx+json",
                "source": source, "parameters": ["behavior": "pass"]])
            try cluster.eventually([image], [true], "the dynamic plugin installed and passing")
            let status = try cluster.status("\(Self.group)/verifiers/verifier-sbom")
            #expect(status?["issuccess"] == true, "\(String(describing: status))")
            #expect(status?["properties"]?["pluginDigest"]?.stringValue == plugin.digest)
            let path = cluster.work.appendingPathComponent("plugins/sbom").path
            #expect(status?["properties"]?["pluginPath"]?.stringValue == path)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == script)
            // The plugin saw the subject and the SBOM's artifact type.
            let request = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path + ".request.json"))))
            #expect(request["env"]?["RATIFY_VERIFIER_SUBJECT"]?.stringValue?.hasPrefix("\(host)/tool") == true)
            #expect(request["stdin"]?["referenceDesc"]?["artifactType"] == "application/spdx+json")

            // Its settings changed: the plugin now fails the SBOM.
            try cluster.replace("verifiers", "verifier-sbom", spec: ["name": "sbom", "artifactTypes": "application/spdx+json",
                "source": source, "parameters": ["behavior": "fail"]])
            try cluster.eventually([image], [false], "the plugin's settings changed to fail")
            // An artifact that does not exist is reported on the resource.
            try cluster.replace("verifiers", "verifier-sbom", spec: ["name": "sbom", "artifactTypes": "application/spdx+json",
                "source": ["artifact": .string("\(pluginRegistry.host)/plugins/missing:v1"), "authProvider": source["authProvider"]!]])
            let end = Date().addingTimeInterval(10)
            var missing: JSONValue?
            while Date() < end {
                missing = try cluster.api("GET", "\(Self.group)/verifiers/verifier-sbom").body?["status"]
                if missing?["error"]?.stringValue?.contains("DOWNLOAD_PLUGIN_FAILURE") == true { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(missing?["issuccess"] == false)
            #expect(missing?["error"]?.stringValue?.contains("plugins/missing:v1") == true, "\(String(describing: missing))")
            try cluster.eventually([image], [false], "no verifier for the SBOM")
        }
    }

    static let vault = "ratify-kv.vault.azure.net"

    /// The Key Vault double, and a cluster whose ratify reaches `ratify-kv.vault.azure.net` on it
    /// with the environment the workload identity webhook injects (no static credential).
    static func keyVaultCluster() async throws -> (CloudDoubles, Cluster) {
        let doubles = try await offPool { try CloudDoubles(registryAuth: "acr") }
        let cluster = try await offPool {
            try Cluster(environment: ["AZURE_FEDERATED_TOKEN_FILE": doubles.serviceAccountToken.path, "AZURE_AUTHORITY_HOST": doubles.url,
                                      "RATIFY_CONNECT_TO": "\(vault):80:127.0.0.1:\(doubles.port)"])
        }
        return (doubles, cluster)
    }

    /// `kmprovider-akv` on the double's vault, refreshed every 2 s; `objects`: its `certificates` / `keys`.
    static func keyVaultProvider(_ objects: JSONObject) -> JSONValue {
        var parameters: JSONObject = ["vaultURI": .string("http://\(vault)/"), "tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                                      "clientID": "1c7ac8b5-7a68-4a2b-9b5e-0c1f4b6f2a11"]
        for member in objects.members { parameters[member.key] = member.value }
        return ["type": "azurekeyvault", "refreshInterval": "2s", "parameters": .object(parameters)]
    }

    /// Issue #20: a KeyManagementProvider of `type: azurekeyvault` (as the chart renders
    /// `kmprovider-akv`) read from the Key Vault double with the pod's workload identity (the
    /// federated token file; no static credential), refreshed every 2 s: a rotated key (a new
    /// latest version) changes the verdict and the status names the new version; a vault that
    /// loses the key fails closed, and the status says why.
    @Test func azureKeyVaultRotationChangesVerdictsAfterTheRefreshInterval() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        let (doubles, cluster) = try await Self.keyVaultCluster()
        defer { doubles.stop() }
        defer { cluster.stop() }
        try await offPool {
            let host = cluster.registry.host
            let signed = "\(host)/app:signed"
            // The vault holds only another key at first.
            try doubles.set("keyvault", "keys", ["cosign-key": [["version": "1111", "pem": .string(cluster.otherKey)]]])
            try cluster.createRegistrySecretAndStore()
            try cluster.create("keymanagementproviders", "kmprovider-akv", spec: Self.keyVaultProvider(["keys": [["name": "cosign-key"]]]))
            try cluster.create("verifiers", "verifier-cosign", spec: Self.cosignVerifier(provider: "kmprovider-akv"))
            try cluster.create("policies", "ratify-policy", spec: ["type": "config-policy", "parameters": ["artifactVerificationPolicies": ["default": "all"]]])
            try cluster.eventually([signed], [false], "with only another key in the vault")
            #expect(try cluster.keyVaultRows("Keys", becoming: ["cosign-key@1111/true"]) == ["cosign-key@1111/true"])
            // Fetched, and still the wrong key: still denied.
            #expect(try cluster.verdicts([signed]) == [false])

            // Rotation: a new latest version with the signing key. No resource changes.
            try doubles.set("keyvault", "keys", ["cosign-key": [["version": "1111", "pem": .string(cluster.otherKey)],
                                                                ["version": "2222", "pem": .string(cluster.key)]]])
            try cluster.eventually([signed], [true], "after the key rotated in the vault")
            #expect(try cluster.keyVaultRows("Keys", becoming: ["cosign-key@2222/true"]) == ["cosign-key@2222/true"])

            // The key disappears from the vault: fail closed, the status says why.
            try doubles.set("keyvault", "keys", [:])
            try cluster.eventually([signed], [false], "after the key was deleted from the vault")
            let status = try cluster.status("\(Self.group)/keymanagementproviders/kmprovider-akv")
            #expect(status?["issuccess"] == false)
            #expect(status?["error"]?.stringValue?.contains("KeyNotFound") == true)
            // No static credential anywhere: the token came from the federated token file.
            #expect(doubles.requests("entra").isEmpty == false)

            // Tenants cannot point ratify's cloud identity anywhere: refused, with the reason.
            let entraBefore = doubles.requests("entra").count
            try cluster.create("namespacedkeymanagementproviders", "tenant-vault", namespace: "team-a", spec: [
                "type": "azurekeyvault", "parameters": ["vaultURI": "https://evil.vault.azure.net", "tenantID": "t", "clientID": "c", "keys": [["name": "k"]]]])
            try cluster.create("namespacedstores", "store-oras", namespace: "team-a", spec: ["name": "oras", "parameters": [
                "authProvider": ["name": "azureWorkloadIdentity", "endpoints": ["evil.example.com"]]]])
            let vaultStatus = try cluster.status("\(Self.group)/namespaces/team-a/namespacedkeymanagementproviders/tenant-vault")
            #expect(vaultStatus?["issuccess"] == false)
            #expect(vaultStatus?["error"]?.stringValue?.contains("not accepted on namespacedkeymanagementproviders") == true, "\(String(describing: vaultStatus))")
            let storeStatus = try cluster.status("\(Self.group)/namespaces/team-a/namespacedstores/store-oras")
            #expect(storeStatus?["issuccess"] == false)
            #expect(storeStatus?["error"]?.stringValue?.contains("not accepted on namespacedstores") == true, "\(String(describing: storeStatus))")
            #expect(doubles.requests("entra").count == entraBefore)
        }
    }

    /// Issue #20, for notation: the vault's certificate (a secret holding the PEM chain) is the
    /// trust store. It first holds another root: denied; a new latest version with the signer's
    /// root is picked up at the next refresh: admitted, the status naming the new version.
    @Test func azureKeyVaultCertificateRotationChangesNotationVerdicts() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        let (doubles, cluster) = try await Self.keyVaultCluster()
        defer { doubles.stop() }
        defer { cluster.stop() }
        try await offPool {
            let oci = OCIFixtures(pusher: cluster.registry, maintainTagSchema: true)
            let image = try oci.pushImage("app", tag: "notation")
            let out = cluster.work.appendingPathComponent("notation")
            try ProcessRunner.python(FixtureScripts.path("make_notation_fixtures.py"), [out.path, image.mediaType, image.digest, String(image.size), "--basic"])
            try oci.attach("app", to: image, artifactType: "application/vnd.cncf.notary.signature",
                           layers: [("application/jose+json", Array(try Data(contentsOf: out.appendingPathComponent("jws-es256.jws"))))])
            let root = try String(contentsOf: out.appendingPathComponent("truststore/x509/ca/wabbit/root.crt"), encoding: .utf8)
            let rogue = try String(contentsOf: out.appendingPathComponent("rogue-root.crt"), encoding: .utf8)
            let signed = "\(cluster.registry.host)/app:notation"
            try doubles.set("keyvault", "certificates", ["notation-ca": [["version": "c1", "contentType": "application/x-pem-file", "value": .string(rogue)]]])
            try cluster.createRegistrySecretAndStore()
            try cluster.create("keymanagementproviders", "kmprovider-akv", spec: Self.keyVaultProvider(["certificates": [["name": "notation-ca"]]]))
            try cluster.create("verifiers", "verifier-notation", spec: [
                "name": "notation", "type": "notation", "artifactTypes": "application/vnd.cncf.notary.signature",
                "parameters": ["verificationCertStores": ["ca": ["ca-certs": ["kmprovider-akv"]]],
                               "trustPolicyDoc": ["version": "1.0", "trustPolicies": [["name": "default", "registryScopes": ["*"],
                                   "signatureVerification": ["level": "strict"], "trustStores": ["ca:ca-certs"], "trustedIdentities": ["*"]]]]]])
            try cluster.create("policies", "ratify-policy", spec: ["type": "config-policy", "parameters": ["artifactVerificationPolicies": ["default": "all"]]])
            #expect(try cluster.keyVaultRows("Certificates", becoming: ["notation-ca@c1/true"]) == ["notation-ca@c1/true"])
            try cluster.eventually([signed], [false], "with another root in the vault")

            try doubles.set("keyvault", "certificates", ["notation-ca": [
                ["version": "c1", "contentType": "application/x-pem-file", "value": .string(rogue)],
                ["version": "c2", "contentType": "application/x-pem-file", "value": .string(root)]]])
            try cluster.eventually([signed], [true], "after the certificate rotated in the vault")
            #expect(try cluster.keyVaultRows("Certificates", becoming: ["notation-ca@c2/true"]) == ["notation-ca@c2/true"])
        }
    }
}
