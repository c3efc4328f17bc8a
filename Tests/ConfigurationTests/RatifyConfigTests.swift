import Configuration
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
        (#"{"verifier":{"plugins":[{"name":"sbom"}]}}"#, "verifier.plugins[0].name: verifier \"sbom\" is neither built in (cosign, notation) nor a plugin in"),
        (#"{"verifier":{"plugins":[{"name":"notation"}]}}"#, "verifier.plugins[0].trustPolicyDoc: is required"),
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
}
