import Configuration
import Core
import Foundation
import JSON
import Logging
import Plugins
import Synchronization
import Testing
import TestSupport

/// Verifiers that are not built in run as Ratify verifier plugins: an executable in the plugin
/// directory, found from `config.json` as Ratify finds it, run with Ratify's protocol. The
/// plugin here is Tests/Support/Fixtures/ratify_test_verifier.py, written to that protocol.
@Suite struct RatifyPluginTests {
    /// A plugin directory holding the test plugin as `<type>`.
    static func pluginDirectory(type: String = "licensecheck") throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let target = directory.appendingPathComponent(type)
        try FileManager.default.copyItem(atPath: FixtureScripts.path("ratify_test_verifier.py"), toPath: target.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: target.path)
        return directory
    }

    static func config(_ directory: URL, behavior: String) throws -> RatifyConfig {
        let document = #"""
        {"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": true}]},
         "verifier": {"version": "1.0.0", "pluginBinDirs": ["\#(directory.path)"],
                      "plugins": [{"name": "license", "type": "licensecheck", "artifactTypes": "application/spdx+json",
                                   "behavior": "\#(behavior)", "allowedLicenses": ["MIT"]}]}}
        """#
        return try RatifyConfig.read(Array(document.utf8), path: "config.json")
    }

    static let subject = try! ImageReference.parse("registry.example/app@sha256:" + String(repeating: "a", count: 64))
    static let sbom = Descriptor(mediaType: "application/vnd.oci.image.manifest.v1+json", digest: Digest.of(Array("sbom".utf8)), size: 4,
                                 artifactType: "application/spdx+json")

    static func run(_ behavior: String, seconds: Int = 10) async throws -> (VerifierReport, request: JSONValue?) {
        let directory = try pluginDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try config(directory, behavior: behavior)
        guard case .plugin(let plugin)? = config.verifiers.first else { throw TestFailure("not read as a plugin: \(config.verifiers)") }
        let report = await RatifyPluginVerifier(config: plugin).verify(subject: subject, referrer: sbom, store: MemoryStore(),
                                                                       deadline: .now + .seconds(seconds))
        let recorded = try? Data(contentsOf: directory.appendingPathComponent("licensecheck.request.json"))
        return (report, try recorded.map { try JSONParser.parse(Array($0)) })
    }

    @Test func passingPluginGetsRatifysRequestAndItsResultIsKept() async throws {
        let (report, recorded) = try await Self.run("pass")
        #expect(report.isSuccess, "\(report)")
        #expect(report.verifierName == "license" && report.verifierType == "licensecheck")
        #expect(report.message == "checked \(Self.sbom.digest)")
        #expect(report.extensions?["artifactType"] == "application/spdx+json")
        let request = try #require(recorded)
        #expect(request["env"]?["RATIFY_VERIFIER_COMMAND"] == "VERIFY")
        #expect(request["env"]?["RATIFY_VERIFIER_SUBJECT"]?.stringValue == Self.subject.description)
        #expect(request["env"]?["RATIFY_VERIFIER_VERSION"] == "1.0.0")
        // The plugin's own settings as written, the store's settings, the referrer's descriptor.
        #expect(request["stdin"]?["config"]?["allowedLicenses"] == ["MIT"])
        #expect(request["stdin"]?["storeConfig"]?["store"]?["name"] == "oras")
        #expect(request["stdin"]?["storeConfig"]?["store"]?["useHttp"] == true)
        #expect(request["stdin"]?["referenceDesc"]?["digest"]?.stringValue == Self.sbom.digest.description)
        #expect(request["stdin"]?["referenceDesc"]?["artifactType"] == "application/spdx+json")
    }

    /// Registry credentials the CRD manager read from secrets never reach a plugin.
    @Test func pluginsNeverSeeResolvedRegistryCredentials() async throws {
        let directory = try Self.pluginDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = #"""
        {"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": true,
                   "authProvider": {"name": "k8Secrets", "secrets": [{"secretName": "regcred"}], "resolved": [{"auths": {"r.example": {"auth": "YWxpY2U6czNjcmV0"}}}]}}]},
         "verifier": {"version": "1.0.0", "pluginBinDirs": ["\#(directory.path)"],
                      "plugins": [{"name": "license", "type": "licensecheck", "artifactTypes": "application/spdx+json"}]}}
        """#
        let config = try RatifyConfig.read(Array(document.utf8), path: "config.json")
        guard case .plugin(let plugin)? = config.verifiers.first else { throw TestFailure("not a plugin") }
        _ = await RatifyPluginVerifier(config: plugin).verify(subject: Self.subject, referrer: Self.sbom, store: MemoryStore(), deadline: .now + .seconds(10))
        let recorded = try String(contentsOf: directory.appendingPathComponent("licensecheck.request.json"), encoding: .utf8)
        #expect(recorded.contains("\"secretName\": \"regcred\"") && !recorded.contains("resolved") && !recorded.contains("YWxpY2U6czNjcmV0"), "\(recorded)")
    }

    @Test func logLinesAroundTheResultAreSkipped() async throws {
        #expect(try await Self.run("log").0.isSuccess)
    }

    @Test(arguments: [
        ("fail", "license GPL-3.0 is not allowed"),
        ("exit", "exit status 3, msg from stderr 'plugin crashed: cannot read config'"),
        ("nojson", "answered 0 JSON results"),
        ("twojson", "answered 2 JSON results"),
        ("hang", "did not answer within the verification deadline"),
        // A child left holding the pipes cannot hold the verification past its deadline.
        ("orphan", "did not answer within the verification deadline"),
    ])
    func everyFailureOfThePluginIsAFailedReport(behavior: String, message: String) async throws {
        let (report, _) = try await Self.run(behavior, seconds: ["hang", "orphan"].contains(behavior) ? 1 : 10)
        #expect(!report.isSuccess)
        #expect(report.errorReason == "VERIFY_PLUGIN_FAILURE")
        #expect(report.message.contains(message), "\(report.message)")
    }

    @Test func aVerifierThatIsNeitherBuiltInNorInstalledIsAConfigurationError() throws {
        let directory = try Self.pluginDirectory(type: "other")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect {
            try Self.config(directory, behavior: "pass")
        } throws: { error in
            "\(error)".contains("verifier.plugins[0].type") && "\(error)".contains("PLUGIN_NOT_FOUND") && "\(error)".contains(directory.path)
        }
    }

    @Test func aTypeWithAPathSeparatorIsRefused() {
        #expect(throws: ConfigError.self) {
            try RatifyPluginConfig.parse(["name": "x", "type": "../../bin/sh"], path: "verifier.plugins[0]", directory: "/tmp")
        }
    }

    @Test func dynamicPluginFlagReadsAsRatifyAndTheChartSetIt() {
        #expect(DynamicPlugin.enabled(["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS": "1"]))
        #expect(DynamicPlugin.enabled(["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS": "true"]))
        #expect(!DynamicPlugin.enabled(["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS": "0"]))
        #expect(!DynamicPlugin.enabled([:]))
    }
}

/// Dynamic plugins in the file mode (`ratify verify -c config.json`, as `ratify serve` at start):
/// a verifier with `source.artifact` is pulled from docker-registry — with the source's own
/// `authProvider` (a docker config) from a registry that requires it — before the config is
/// read, then runs for the image's SBOM. With the flag off the error says what to enable.
@Suite(.serialized) struct DynamicPluginFileModeTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/ratify").path

    @Test func aVerifierSourceIsPulledWithItsAuthProviderAndRuns() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        // Images in one registry (the store's credentials), the plugin in another that only the
        // source's own authProvider can read.
        let registry = try await offPool { try LocalRegistry(auth: .basic(user: "alice", password: "s3cret")) }
        let pluginRegistry = try await offPool { try LocalRegistry(auth: .basic(user: "bob", password: "pl4gins")) }
        defer { registry.stop(); pluginRegistry.stop() }
        let work = registry.directory
        try await offPool {
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            let image = try oci.pushImage("tool", tag: "v1")
            try oci.attach("tool", to: image, artifactType: "application/spdx+json", layers: [(mediaType: "application/spdx+json", bytes: Array("{}".utf8))])
            let script = try Data(contentsOf: URL(fileURLWithPath: FixtureScripts.path("ratify_test_verifier.py")))
            try OCIFixtures(pusher: pluginRegistry, maintainTagSchema: false).pushArtifact("plugins/license", tag: "v1", artifactType: "application/vnd.ratify.plugin",
                                                                                           layers: [(mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Array(script))])
        }
        let storeConfig = work.appendingPathComponent("store-docker-config.json").path, sourceConfig = work.appendingPathComponent("source-docker-config.json").path
        try #"{"auths":{"\#(registry.host)":{"auth":"\#(Data("alice:s3cret".utf8).base64EncodedString())"}}}"#.write(toFile: storeConfig, atomically: true, encoding: .utf8)
        try #"{"auths":{"\#(pluginRegistry.host)":{"auth":"\#(Data("bob:pl4gins".utf8).base64EncodedString())"}}}"#.write(toFile: sourceConfig, atomically: true, encoding: .utf8)
        let plugins = work.appendingPathComponent("plugins").path
        let config = work.appendingPathComponent("config.json").path
        try #"""
        {"store": {"version": "1.0.0", "plugins": [{"name": "oras", "useHttp": true, "authProvider": {"name": "dockerConfig", "configPath": "\#(storeConfig)"}}]},
         "executor": {"verificationRequestTimeout": 60000},
         "policy": {"version": "1.0.0", "plugin": {"name": "configPolicy", "artifactVerificationPolicies": {"application/spdx+json": "all"}}},
         "verifier": {"version": "1.0.0", "pluginBinDirs": ["\#(plugins)"], "plugins": [
           {"name": "license", "type": "licensecheck", "artifactTypes": "application/spdx+json", "behavior": "pass",
            "source": {"artifact": "\#(pluginRegistry.host)/plugins/license:v1", "authProvider": {"name": "dockerConfig", "configPath": "\#(sourceConfig)"}}}]}}
        """#.write(toFile: config, atomically: true, encoding: .utf8)
        let subject = "\(registry.host)/tool:v1"
        let on = try await offPool { try ProcessRunner.run("/usr/bin/env", ["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS=1", Self.binary, "verify", "-c", config, "-s", subject]) }
        #expect(on.status == 0, "\(on.output)")
        #expect(on.output.contains("\"isSuccess\": true") && on.output.contains("checked sha256:"), "\(on.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: plugins + "/licensecheck")) == Data(contentsOf: URL(fileURLWithPath: FixtureScripts.path("ratify_test_verifier.py"))))
        // Flag off, plugin not yet there: the load error says what to enable.
        try FileManager.default.removeItem(atPath: plugins)
        let off = try await offPool { try ProcessRunner.run("/usr/bin/env", ["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS=0", Self.binary, "verify", "-c", config, "-s", subject]) }
        #expect(off.status != 0)
        #expect(off.output.contains("PLUGIN_NOT_FOUND") && off.output.contains("downloaded only with RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS=1"), "\(off.output)")
        // A source that does not exist fails the load with DOWNLOAD_PLUGIN_FAILURE.
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "plugins/license:v1", with: "plugins/missing:v1")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let missing = try await offPool { try ProcessRunner.run("/usr/bin/env", ["RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS=1", Self.binary, "verify", "-c", config, "-s", subject]) }
        #expect(missing.status != 0 && missing.output.contains("DOWNLOAD_PLUGIN_FAILURE") && missing.output.contains("verifier.plugins[0].source"), "\(missing.output)")
    }
}

/// `ratify serve --tuf-mirror`: the sigstore trusted root is refreshed through TUF before the
/// verifiers are built (a python-tuf repository laid out as sigstore's CDN); an unreachable or
/// refusing mirror keeps the embedded root, with a warning and a failed-refresh count.
@Suite(.serialized) struct TUFServeTests {
    static let binary = DynamicPluginFileModeTests.binary

    func serve(_ arguments: [String], work: URL) throws -> (log: String, metrics: String) {
        let http = try freePort(), health = try freePort(), metrics = try freePort()
        let children = ChildProcesses(), log = work.appendingPathComponent("serve-\(UUID().uuidString).log").path
        try children.start(Self.binary, ["serve", "--http", "127.0.0.1:\(http)", "--health-port", "127.0.0.1:\(health)",
                                         "--metrics-port", "127.0.0.1:\(metrics)"] + arguments, log: log)
        defer { children.stopAll() }
        // The metrics listener opens after the health one: wait for both (it was flaky).
        try waitForPort(health)
        try waitForPort(metrics)
        let body = try CurlSession().perform(HTTPClientRequest(url: "http://127.0.0.1:\(metrics)/metrics")).bodyText
        return (try String(contentsOfFile: log, encoding: .utf8), body)
    }

    /// python-tuf repositories (make_tuf_repo.py) in `work`, served on loopback.
    static func mirror(_ work: URL) async throws -> (UInt16, ChildProcesses) {
        try await offPool { try ProcessRunner.python(FixtureScripts.path("make_tuf_repo.py"), [work.path]) }
        let port = try freePort(), mirror = ChildProcesses()
        try mirror.start("/usr/bin/env", ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", work.path])
        do { try waitForPort(port) } catch { mirror.stopAll(); throw error }
        return (port, mirror)
    }

    @Test func theTrustedRootIsRefreshedThroughTUFOrKeptWithAWarning() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the ratify binary first (make build)")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-tuf-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let (port, mirror) = try await Self.mirror(work)
        defer { mirror.stopAll() }
        let root = work.appendingPathComponent("root.json").path
        let good = try await offPool { try self.serve(["--tuf-mirror", "http://127.0.0.1:\(port)/cdn", "--tuf-root", root, "--tuf-cache", work.appendingPathComponent("cache").path], work: work) }
        #expect(good.log.contains("sigstore trusted root refreshed through TUF"), "\(good.log)")
        #expect(good.metrics.contains(#"ratify_tuf_refresh_total{result="success"} 1"#), "\(good.metrics)")
        #expect(FileManager.default.fileExists(atPath: work.appendingPathComponent("cache/trusted_root.json").path))
        let stale = try await offPool { try self.serve(["--tuf-mirror", "http://127.0.0.1:\(port)/expired", "--tuf-root", root, "--tuf-cache", work.appendingPathComponent("cache2").path], work: work) }
        #expect(stale.log.contains("TUF refresh from http://127.0.0.1:\(port)/expired failed; keeping embedded public-good") && stale.log.contains("TUF_"), "\(stale.log)")
        #expect(stale.metrics.contains(#"ratify_tuf_refresh_total{result="failure"} 1"#), "\(stale.metrics)")
    }

    /// A refreshed root counts as applied only once the rebuild with it worked: until then each
    /// refresh offers it again (a failed rebuild is retried), afterwards the same root is no news.
    @Test func aRootIsOfferedUntilItsRebuildSucceeds() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-tuf-apply-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let (port, mirror) = try await Self.mirror(work)
        defer { mirror.stopAll() }
        let installed = Mutex<[String]>([])
        let refresher = TrustRefresher(mirror: "http://127.0.0.1:\(port)/cdn", initialRoot: Array(try Data(contentsOf: work.appendingPathComponent("root.json"))),
                                       cacheDirectory: work.appendingPathComponent("cache").path, logger: Logger(label: "test"),
                                       currentSource: { installed.withLock { $0.last ?? "embedded" } },
                                       install: { _, source in installed.withLock { $0.append(source) } })
        let first = try #require(await refresher.refreshOnce())
        #expect(installed.withLock { $0.count } == 1 && installed.withLock { $0[0] }.contains(first))
        // The rebuild failed (nothing marked): the same root is offered again, not installed twice.
        #expect(await refresher.refreshOnce() == first)
        #expect(installed.withLock { $0.count } == 1)
        refresher.markApplied(first)
        #expect(await refresher.refreshOnce() == nil)
    }
}
