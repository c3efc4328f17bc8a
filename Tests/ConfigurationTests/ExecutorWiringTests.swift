import Core
import Foundation
import JSON
import Logging
import Observability
import Configuration
import RatifyServer
import Registry
import Synchronization
import Testing
import TestSupport

@Suite(.serialized) struct ExecutorWiringTests {
    func config(_ registry: LocalRegistry, verifiers: String = "[]") -> String {
        #"{"store":{"version":"1.0.0","plugins":[{"name":"oras","useHttp":true}]},"policy":{"version":"1.0.0","plugin":{"name":"configPolicy","artifactVerificationPolicies":{"application/vnd.cncf.notary.signature":"any"}}},"verifier":{"version":"1.0.0","plugins":\#(verifiers)}}"#
    }

    @Test func verifyEndpointAnswersReportsAndLogsTheResultLine() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let image = try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("app", tag: "v1") }
        let parsed = try RatifyConfig.parse(Array(config(registry).utf8), source: "test")
        let logs = LogSink.memory()
        let logger = Logger(label: "t") { RatifyLogHandler(label: $0, format: .text, level: .info, sink: logs) }
        let executor = try ExecutorFactory.make(parsed, generation: 1, logger: logger)
        let running = try await RunningServer.start(executor: executor)
        let body = try running.json(try await running.post(verifyPath, providerRequest(["\(registry.host)/app:v1"])))
        let value = try #require(body["response"]?["items"]?.arrayValue?.first?["value"])
        #expect(value["isSuccess"] == false)
        #expect(value["verifierReports"]?.arrayValue?.first?["errorReason"] == "REFERRERS_NOT_FOUND")
        #expect(logs.lines.contains { $0.contains("msg=\"verify result for subject \(registry.host)/app:v1@\(image.digest): {") })
        await running.server.shutdown(gracePeriod: .seconds(1))
        registry.stop()
    }

    @Test func aProviderRequestWithNotationSignedAndUnsignedImagesGetsPerKeyVerdictsInOrder() async throws {
        let registry = try await offPool { try LocalRegistry() }
        let script = FixtureScripts.path("make_notation_fixtures.py")
        let fixtures = registry.directory.appendingPathComponent("notation")
        let image = try await offPool { () -> PushedContent in
            let oci = OCIFixtures(pusher: registry, maintainTagSchema: true)
            let image = try oci.pushImage("app", tag: "signed")
            try oci.pushImage("app", tag: "unsigned")
            // Signatures from an independent generator (jwcrypto / pycose) over the pushed descriptor.
            try ProcessRunner.python(script, [fixtures.path, image.mediaType, image.digest, String(image.size), "--basic"])
            for (name, mediaType) in [("jws-es256.jws", "application/jose+json"), ("cose-es256.cose", "application/cose")] {
                let bytes = Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
                try oci.attach("app", to: image, artifactType: MediaType.notarySignature, layers: [(mediaType, bytes)])
            }
            return image
        }
        let verifiers = #"[{"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature","verificationCerts":["\#(fixtures.path)/truststore"],"trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"default","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:wabbit"],"trustedIdentities":["*"]}]}}]"#
        let parsed = try RatifyConfig.parse(Array(config(registry, verifiers: verifiers).utf8), source: "t")
        let executor = try ExecutorFactory.make(parsed, generation: 1, logger: Logger(label: "t"))
        let running = try await RunningServer.start(executor: executor)
        let keys = ["\(registry.host)/app:signed", "\(registry.host)/app:unsigned", "\(registry.host)/app@\(image.digest)"]
        let body = try running.json(try await running.post(verifyPath, providerRequest(keys)))
        let items = try #require(body["response"]?["items"]?.arrayValue)
        #expect(items.map { $0["key"]?.stringValue } == keys)
        #expect(items.map { $0["value"]?["isSuccess"] } == [true, false, true])
        let reports = items[0]["value"]?["verifierReports"]?.arrayValue ?? []
        #expect(reports.count == 2)
        // `any`: the first signature settles it; the second is reported, not verified.
        #expect(reports.first.map { $0["verifierName"] == "notation" && $0["isSuccess"] == true && $0["extensions"]?["Issuer"] != nil } == true)
        #expect(reports.last?["errorReason"] == "VERIFICATION_NOT_NEEDED" && reports.last?["isSuccess"] == false)
        #expect(items[1]["value"]?["verifierReports"]?.arrayValue?.first?["errorReason"] == "REFERRERS_NOT_FOUND")
        await running.server.shutdown(gracePeriod: .seconds(1))
        registry.stop()
    }

    @Test func unknownVerifierKindIsAConfigErrorWhenTheFileLoads() throws {
        #expect(throws: ConfigurationError.self) { try RatifyConfig.parse(Array(#"{"verifier":{"plugins":[{"name":"no-such-verifier"}]}}"#.utf8), source: "t") }
    }

    @Test func configChangesSwapAtomicallyAndBadOnesAreRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.json").path
        try RatifyConfig.embeddedDefault.write(toFile: path, atomically: true, encoding: .utf8)
        let holder = ExecutorHolder(UnconfiguredExecutor())
        let logs = LogSink.memory()
        let logger = Logger(label: "t") { RatifyLogHandler(label: $0, format: .text, level: .info, sink: logs) }
        let reloader = ConfigReloader(path: path, holder: holder, logger: logger) { config, generation throws(ConfigurationError) in
            try ExecutorFactory.make(config, generation: generation, logger: logger)
        }
        #expect(reloader.reloadIfChanged() == false, "unchanged file: nothing to do")
        try #"{"policy":{"plugin":{"name":"configPolicy","artifactVerificationPolicies":{"default":"any"}}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.reloadIfChanged())
        #expect(holder.generation == 2)
        try #"{"policy":{"plugin":{"name":"configPolicy","artifactVerificationPolicies":{"default":"most"}}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.reloadIfChanged() == false)
        #expect(holder.generation == 2, "the invalid file did not replace the serving configuration")
        #expect(logs.lines.contains { $0.contains("configuration change refused") && $0.contains("artifactVerificationPolicies.default") })
    }

    /// A YAML config is reloaded through the same reader as at start (it went through the JSON
    /// parser before, and every edit was refused with JSON_UNEXPECTED_BYTE).
    @Test func aYAMLConfigEditAppliesLive() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.yaml").path
        try "executor:\n  verificationRequestTimeout: 2900\n".write(toFile: path, atomically: true, encoding: .utf8)
        let holder = ExecutorHolder(UnconfiguredExecutor())
        let logs = LogSink.memory()
        let logger = Logger(label: "t") { RatifyLogHandler(label: $0, format: .text, level: .info, sink: logs) }
        let applied = Mutex<[ConfigPolicy]>([])
        let reloader = ConfigReloader(path: path, holder: holder, logger: logger) { config, generation throws(ConfigurationError) in
            applied.withLock { $0.append(config.policy) }
            return try ExecutorFactory.make(config, generation: generation, logger: logger)
        }
        try "policy:\n  plugin:\n    name: configPolicy\n    artifactVerificationPolicies:\n      default: any\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.reloadIfChanged(), "\(logs.lines)")
        #expect(holder.generation == 2)
        #expect(applied.withLock { $0 } == [ConfigPolicy(defaultRule: .any)])
        #expect(!logs.lines.contains { $0.contains("refused") })
        try "policy: [unclosed\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(reloader.reloadIfChanged() == false)
        #expect(logs.lines.contains { $0.contains("configuration change refused") && $0.contains("is not valid YAML") })
    }

    @Test func verifyCLIExitCodes() async throws {
        let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/ratify").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the ratify binary first (make build)")
        let registry = try await offPool { try LocalRegistry() }
        _ = try await offPool { try OCIFixtures(pusher: registry, maintainTagSchema: true).pushImage("app", tag: "v1") }
        let file = registry.directory.appendingPathComponent("ratify.json").path
        try config(registry).write(toFile: file, atomically: true, encoding: .utf8)
        let unsigned = try await offPool { try ProcessRunner.run(binary, ["verify", "-c", file, "-s", "\(registry.host)/app:v1"]) }
        #expect(unsigned.status == 1)
        #expect(try JSONParser.parse(unsigned.output)["isSuccess"] == false)
        let text = try await offPool { try ProcessRunner.run(binary, ["verify", "-c", file, "-s", "\(registry.host)/app:v1", "-o", "text"]) }
        #expect(text.output.hasPrefix("FAIL \(registry.host)/app:v1@sha256:"))
        #expect(text.output.contains("reason: REFERRERS_NOT_FOUND"))
        let badConfig = try await offPool { try ProcessRunner.run(binary, ["verify", "-c", "/nonexistent.json", "-s", "x"]) }
        #expect(badConfig.status == 2)
        registry.stop()
    }
}

@Suite struct ShippedConfigTests {
    @Test(arguments: ["cosign-keyed.json", "cosign-legacy-key.json"])
    func examplesParseAndNameTheirKeyFiles(_ name: String) throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        // The key files do not exist here; loading the file must say which path is missing.
        do {
            _ = try RatifyConfig.load(path: repository.appendingPathComponent("config/examples/\(name)").path)
            Issue.record("loaded a verifier without its key file")
        } catch {
            #expect(error.message.contains("verifier.plugins[0]"))
            #expect(error.message.contains("/usr/local/ratify-certs/cosign/"))
        }
    }
}

extension ShippedConfigTests {
    @Test func theSupplyChainExampleLoadsWithEveryVerifier() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try RatifyConfig.load(path: repository.appendingPathComponent("config/examples/supply-chain.json").path)
        #expect(config.verifiers.count == 4)
        #expect(config.policy.multiPlatform == .either)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    /// Issue #19: config.json's regoPolicy (inline policy), Ratify's name spellings, and the
    /// load-time errors a Ratify user meets.
    @Test func regoPolicyConfiguration() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        do {
            _ = try RatifyConfig.load(path: repository.appendingPathComponent("config/examples/rego.json").path)
        } catch {
            // The example's trust store path does not exist here; the policy itself parsed.
            #expect(error.message.contains("verifier.plugins[0]"), "\(error)")
        }
        for name in ["regoPolicy", "rego-policy", "RegoPolicy"] {
            let config = try RatifyConfig.parse(Array(#"{"policy":{"version":"1.0.0","plugin":{"name":"\#(name)","policy":"package ratify.policy\ndefault valid := false\n"}}}"#.utf8), source: "t")
            #expect(config.regoPolicy != nil, "\(name)")
        }
        let cases: [(String, String)] = [
            (#"{"name":"regoPolicy"}"#, "needs a policy (inline Rego) or a policyPath"),
            (#"{"name":"regoPolicy","policyPath":"/nonexistent.rego"}"#, "unable to read rego policy file at path /nonexistent.rego"),
            (#"{"name":"regoPolicy","policy":"package other\nvalid := true\n"}"#, "must be in package ratify.policy"),
            (#"{"name":"regoPolicy","policy":"package ratify.policy\nallow := true\n"}"#, "defines no rule valid"),
            (#"{"name":"regoPolicy","policy":"package ratify.policy\nvalid if { input.x with input as 1 }\n"}"#, "policy.plugin.policy:2:20: the with keyword is not supported"),
        ]
        for (plugin, message) in cases {
            do {
                _ = try RatifyConfig.parse(Array(#"{"policy":{"version":"1.0.0","plugin":\#(plugin)}}"#.utf8), source: "t")
                Issue.record("accepted \(plugin)")
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }

    @Test func theKeylessExampleNamesItsTrustedRootPath() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        do {
            _ = try RatifyConfig.load(path: repository.appendingPathComponent("config/examples/cosign-keyless.json").path)
            Issue.record("loaded a keyless verifier without its trusted root")
        } catch {
            #expect(error.message.contains("cosign-keyless.json: verifier.plugins[0].trustedRoot: "), "\(error.message)")
            #expect(error.message.contains("/usr/local/ratify-certs/cosign/trusted_root.json"))
        }
    }

    @Test func theNotationExampleValidatesItsTrustPolicyAndNamesItsTrustStorePath() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        do {
            _ = try RatifyConfig.load(path: repository.appendingPathComponent("config/examples/notation.json").path)
            Issue.record("loaded a notation verifier without its trust store")
        } catch {
            #expect(error.message.hasSuffix("notation.json: verifier.plugins[0].verificationCerts[0]: /usr/local/ratify-certs/notation/truststore does not exist"), "\(error.message)")
        }
    }
}

@Suite struct UnknownKeyWarningTests {
    @Test func everySectionNamesItsUnknownKeys() throws {
        let text = #"{"executor":{"verificationRequestTimeout":100,"retries":3},"logger":{"formatter":"json","colour":true},"policy":{"plugin":{"name":"configPolicy","strict":true}},"verifier":{"plugins":[{"name":"notation","artifactTypes":"x","trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]},"extra":1}]},"extras":{}}"#
        let config = try RatifyConfig.parse(Array(text.utf8), source: "c.json")
        #expect(config.warnings.sorted() == [
            "executor.retries is not a known setting and is ignored",
            "extras is not a known setting and is ignored",
            "logger.colour is not a known setting and is ignored",
            "policy.plugin.strict is not a known setting and is ignored",
            // One list of notation settings, the notation parser's (it was listed twice before).
            "verifier.plugins[0].extra is not a known notation setting and is ignored",
        ].sorted())
    }
}

@Suite struct YAMLConfigTests {
    func load(_ yaml: String) throws -> RatifyConfig {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try RatifyConfig.load(path: file.path)
    }

    @Test func yamlOfTheSameShapeLoadsLikeJSON() throws {
        let config = try load("""
        executor:
          verificationRequestTimeout: 4900
        store:
          version: 1.0.0
          plugins:
            - name: oras
              useHttp: true
              cosignEnabled: true
              ttl: 30
        policy:
          plugin:
            name: configPolicy
            artifactVerificationPolicies:
              "application/vnd.dev.cosign.artifact.sig.v1+json": any
        logger:
          formatter: json
        """)
        #expect(config.verificationRequestTimeout == .milliseconds(4900))
        #expect(config.storeOptions.useHttp && config.storeOptions.cosignEnabled)
        #expect(config.storeOptions.ttl == .seconds(30))
        #expect(config.policy == ConfigPolicy(rules: ["application/vnd.dev.cosign.artifact.sig.v1+json": .any]))
        #expect(config.logFormatter == "json")
        #expect(config.warnings.isEmpty)
    }

    @Test func yamlErrorsNameTheirPath() throws {
        do {
            _ = try load("store:\n  plugins:\n    - name: oras\n      useHttp: \"yes\"\n")
            Issue.record("a quoted string is not a boolean")
        } catch let error as ConfigurationError {
            #expect(error.message.contains("store.plugins[0].useHttp must be true or false"))
        }
        do {
            _ = try load("store: [unclosed\n")
            Issue.record("invalid YAML loaded")
        } catch let error as ConfigurationError {
            #expect(error.message.contains("is not valid YAML"))
        }
    }
}

@Suite struct NotationConfigTests {
    @Test func anInvalidNotationTrustPolicyIsRefusedAtLoad() throws {
        let text = #"{"verifier":{"plugins":[{"name":"notation","artifactTypes":"application/vnd.cncf.notary.signature","trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"default","registryScopes":["*"],"signatureVerification":{"level":"strict","override":{"integrity":"log"}},"trustStores":["ca:certs"],"trustedIdentities":["*"]}]}}]}}"#
        do {
            _ = try RatifyConfig.parse(Array(text.utf8), source: "c.json")
            Issue.record("an invalid trust policy loaded")
        } catch {
            #expect(error.message == "c.json: verifier.plugins[0].trustPolicyDoc.trustPolicies[0].signatureVerification.override.integrity: integrity validation cannot be overridden")
        }
    }
}
