@testable import Configuration
import Core
import Foundation
import JSON
import Testing

@Suite struct RatifyConfigTests {
    @Test func embeddedDefaultConfigLoads() throws {
        let config = try RatifyConfig.parse(Array(RatifyConfig.embeddedDefault.utf8), source: "embedded")
        #expect(config.verificationRequestTimeout == .milliseconds(2900))
        #expect(config.mutationRequestTimeout == .milliseconds(950))
        #expect(config.verifiers.isEmpty)
    }

    @Test func shippedDefaultConfigIsTheEmbeddedOne() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try String(contentsOf: repository.appendingPathComponent("config/config.json"), encoding: .utf8)
        #expect(try JSONParser.parse(shipped) == JSONParser.parse(RatifyConfig.embeddedDefault))
    }

    @Test func readsRatifyConfigFields() throws {
        let text = #"{"executor":{"verificationRequestTimeout":4900},"logger":{"formatter":"json","requestHeaders":{"traceIDHeaderName":["x-trace"]}},"verifier":{"plugins":[{"name":"notation","trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:certs"],"trustedIdentities":["*"]}]}}]}}"#
        let config = try RatifyConfig.parse(Array(text.utf8), source: "c.json")
        #expect(config.verificationRequestTimeout == .milliseconds(4900))
        #expect(config.mutationRequestTimeout == nil)
        #expect(config.logFormatter == "json")
        #expect(config.traceIDHeaderNames == ["x-trace"])
        // Verifiers are typed when the file loads.
        guard case .notation(let notation)? = config.verifiers.first else { Issue.record("no notation verifier: \(config.verifiers)"); return }
        #expect(notation.name == "notation")
    }

    @Test(arguments: [
        ("{", "c.json: JSON_UNEXPECTED_END"),
        ("[]", "the configuration must be a JSON object"),
        (#"{"executor":{"verificationRequestTimeout":"2s"}}"#, "executor.verificationRequestTimeout must be a positive whole number"),
        (#"{"executor":{"mutationRequestTimeout":-1}}"#, "executor.mutationRequestTimeout must be a positive whole number"),
        (#"{"logger":{"formatter":"xml"}}"#, "logger.formatter must be one of text, json, logstash"),
        (#"{"verifier":"x"}"#, "verifier must be an object"),
        (#"{"verifier":{"plugins":[{"name":"sbom-scanner"}]}}"#, "verifier.plugins[0].name: verifier \"sbom-scanner\" is neither built in (cosign, notation, sbom, licensechecker, vulnerabilityreport, schemavalidator) nor a plugin in"),
        (#"{"verifier":{"plugins":[{"name":"notation"}]}}"#, "verifier.plugins[0].trustPolicyDoc: is required"),
        // Issue #16: these were accepted at start and on reload.
        (#"{"verifier":[]}"#, "verifier must be an object, found array"),
        (#"{"store":[]}"#, "store must be an object with a plugins list, found array"),
        (#"{"store":"x"}"#, "store must be an object with a plugins list, found string"),
        (#"{"store":{"plugins":[]}}"#, "store.plugins is empty: name one store"),
        (#"{"executor":{"verifyEverySignature":"yes"}}"#, "executor.verifyEverySignature must be true or false"),
    ])
    func rejectsInvalidConfig(_ text: String, _ message: String) {
        do {
            _ = try RatifyConfig.parse(Array(text.utf8), source: "c.json")
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".hasPrefix("CONFIG_INVALID: "))
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    /// An empty file, `/dev/null` included, says it is empty; a missing file says so.
    @Test func emptyAndMissingFilesSayWhatTheyAre() throws {
        for path in ["/dev/null", FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString).json").path] {
            if path != "/dev/null" { FileManager.default.createFile(atPath: path, contents: Data("  \n".utf8)) }
            defer { if path != "/dev/null" { try? FileManager.default.removeItem(atPath: path) } }
            #expect(throws: ConfigurationError.self) { try RatifyConfig.load(path: path) }
            do { _ = try RatifyConfig.load(path: path) } catch { #expect(error.message.contains("config file \(path) is empty"), "\(error.message)") }
            do { _ = try RatifyConfig.rawDocument(path: path) } catch { #expect(error.message.contains("is empty"), "\(error.message)") }
        }
        do { _ = try RatifyConfig.load(path: "/nonexistent/config.json") } catch { #expect(error.message.contains("does not exist"), "\(error.message)") }
    }
}

/// Replicas share verdicts only under the same fingerprint: it must change with every file the
/// configuration names, nested ones included (notation trust stores keep certificates in
/// x509/<type>/<name>/), and what cannot be read makes it unique to the process.
@Suite struct ConfigFingerprintTests {
    @Test func nestedTrustStoreFilesChangeTheFingerprint() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ratify-fp-\(UUID().uuidString)")
        let store = root.appendingPathComponent("truststore/x509/ca/certs")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try "first CA".write(to: store.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let document = #"{"verifier":{"plugins":[{"name":"x","verificationCerts":["\#(root.path)/truststore"]}]}}"#
        let config = RatifyConfig(document: try JSONParser.parse(document))
        let before = ConfigFingerprint.of(config)
        #expect(ConfigFingerprint.of(config) == before, "stable for the same content")
        try "another CA".write(to: store.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let after = ConfigFingerprint.of(config)
        #expect(after != before, "a certificate three directories down changed it")
        try "x".write(to: store.appendingPathComponent("unreadable.pem"), atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: store.appendingPathComponent("unreadable.pem").path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: store.appendingPathComponent("unreadable.pem").path) }
        if getuid() != 0 {  // root reads anything
            #expect(ConfigFingerprint.contentDigest(root.path + "/truststore").hasPrefix("unshareable-"))
        }
    }
}
