import Configuration
import Core
import Foundation
import JSON
import Plugins
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

    @Test func logLinesAroundTheResultAreSkipped() async throws {
        #expect(try await Self.run("log").0.isSuccess)
    }

    @Test(arguments: [
        ("fail", "license GPL-3.0 is not allowed"),
        ("exit", "exit status 3, msg from stderr 'plugin crashed: cannot read config'"),
        ("nojson", "answered 0 JSON results"),
        ("twojson", "answered 2 JSON results"),
        ("hang", "did not answer within the verification deadline"),
    ])
    func everyFailureOfThePluginIsAFailedReport(behavior: String, message: String) async throws {
        let (report, _) = try await Self.run(behavior, seconds: behavior == "hang" ? 1 : 10)
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
