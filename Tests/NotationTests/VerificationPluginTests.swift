import Core
import Foundation
import JSON
@testable import Notation
import Testing
import TestSupport

/// Notary Project verification plugins (plugin-extensibility.md) as notation-go runs them and
/// Ratify places them (`<directory>/notation-<name>`), driven through the notation verifier with a
/// test plugin (Tests/Support/Fixtures/notation_test_plugin.py) speaking the protocol.
@Suite(.serialized) struct VerificationPluginTests {
    static let pluginName = "com.example.nv2plugin"

    /// One image in an in-memory store, signature fixtures made for it, and its trust store.
    final class World: @unchecked Sendable {
        let store = MemoryStore()
        let subject: Descriptor
        let fixtures: NotationFixtures
        let reference: ImageReference

        init() throws {
            subject = store.putManifest(Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.utf8),
                                        mediaType: MediaType.ociManifest, tag: "v1")
            fixtures = try NotationFixtures(subject: subject)
            reference = ImageReference(registry: "registry.example", repository: "app", tag: "v1", digest: subject.digest)
        }

        /// The signature manifest for one fixture envelope.
        func referrer(_ name: String) throws -> Descriptor {
            let envelope = try fixtures.envelope(name)
            let layer = store.putBlob(envelope.bytes, mediaType: envelope.mediaType)
            let manifest: JSONValue = ["schemaVersion": 2, "mediaType": .string(MediaType.ociManifest), "artifactType": .string(MediaType.notarySignature),
                                       "config": store.putBlob(Array("{}".utf8), mediaType: MediaType.ociEmpty).json(),
                                       "layers": .array([layer.json()]), "subject": subject.json()]
            return store.putManifest(Array(JSONWriter.encodeString(manifest).utf8), mediaType: MediaType.ociManifest, artifactType: MediaType.notarySignature)
        }

        static let shared = Task { try await offPool { try World() } }
    }

    /// A plugin directory holding the test plugin as `notation-<name>` with `behavior`.
    func install(_ behavior: JSONValue, name: String = pluginName) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("notation-plugins-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let executable = directory.appendingPathComponent("notation-\(name)")
        try FileManager.default.copyItem(atPath: FixtureScripts.path("notation_test_plugin.py"), toPath: executable.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: executable.path)
        try Array(JSONWriter.encodeString(behavior).utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: executable.path + ".json")) }
        return directory
    }

    func verifier(_ world: World, plugins: URL, level: String = "strict", identities: String = #"["*"]"#) throws -> NotationVerifier {
        let config = #"{"name":"notation","verificationCerts":["\#(world.fixtures.directory.path)/truststore"],"address":"\#(plugins.path)","trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"\#(level)"},"trustStores":["ca:wabbit"],"trustedIdentities":\#(identities)}]}}"#
        return NotationVerifier(config: try NotationVerifierConfig.parse(try JSONParser.parse(config), path: "verifier").0)
    }

    func verify(_ envelope: String, _ behavior: JSONValue, level: String = "strict", timeout: Duration = .seconds(10)) async throws -> (VerifierReport, URL) {
        let world = try await World.shared.value
        let plugins = try install(behavior)
        let report = await try verifier(world, plugins: plugins, level: level)
            .verify(subject: world.reference, referrer: try world.referrer(envelope), store: world.store, deadline: .now + timeout)
        return (report, plugins)
    }

    func recordedRequest(_ plugins: URL, _ command: String) throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: plugins.appendingPathComponent("notation-\(Self.pluginName).\(command).request.json"))))
    }

    static let both: JSONValue = ["name": .string(pluginName), "version": "1.0.0"]

    /// `base` with one member set.
    func with(_ base: JSONValue, _ key: String, _ value: JSONValue) -> JSONValue {
        var object = base.objectValue ?? JSONObject()
        object[key] = value
        return .object(object)
    }

    @Test(arguments: ["jws-plugin", "cose-plugin"])
    func aSignatureNamingAPluginIsVerifiedByItWithNotationsRequest(_ envelope: String) async throws {
        let (report, plugins) = try await verify(envelope, Self.both)
        #expect(report.isSuccess, "\(report.message)")
        let request = try recordedRequest(plugins, "verify-signature")
        #expect(request["contractVersion"] == "1.0")
        #expect(request["signature"]?["criticalAttributes"]?["signingScheme"] == "notary.x509")
        #expect(request["signature"]?["criticalAttributes"]?["contentType"] == "application/vnd.cncf.notary.payload.v1+json")
        #expect(request["signature"]?["criticalAttributes"]?["expiry"] == "0001-01-01T00:00:00Z", "notation-go sends Go's zero time without an expiry")
        #expect(request["signature"]?["criticalAttributes"]?["extendedAttributes"] == nil)
        #expect(request["signature"]?["unprocessedAttributes"] == .null)
        #expect(request["signature"]?["certificateChain"]?.arrayValue?.count == 3)
        #expect(request["trustPolicy"]?["trustedIdentities"] == ["*"])
        #expect(request["trustPolicy"]?["signatureVerification"] == ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"])
        #expect(try recordedRequest(plugins, "get-plugin-metadata") == .object(JSONObject()))
    }

    @Test func aFailedTrustedIdentityIsAnAuthenticityFailureAtThePolicysAction() async throws {
        var behavior = Self.both
        behavior = with(behavior, "results", ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY": ["success": false, "reason": "not the CSP signing identity"]])
        let (strict, _) = try await verify("jws-plugin", behavior)
        #expect(!strict.isSuccess)
        #expect(strict.errorReason == "TRUSTED_IDENTITY_MISMATCH")
        #expect(strict.message == #"trusted identity verification by plugin "com.example.nv2plugin" failed with reason "not the CSP signing identity""#)
        let (audit, _) = try await verify("jws-plugin", behavior, level: "audit")
        #expect(audit.isSuccess, "audit only logs authenticity")
        #expect(audit.extensions?["loggedFailures"]?.arrayValue?.first?["errorReason"] == "TRUSTED_IDENTITY_MISMATCH")
    }

    @Test func aFailedRevocationCheckFollowsTheRevocationAction() async throws {
        var behavior = Self.both
        behavior = with(behavior, "results", ["SIGNATURE_VERIFIER.REVOCATION_CHECK": ["success": false, "reason": "leaf revoked"]])
        let (strict, _) = try await verify("jws-plugin", behavior)
        #expect(strict.errorReason == "CERTIFICATE_REVOKED")
        #expect(strict.message.contains("revocation check by verification plugin"))
        let (permissive, _) = try await verify("jws-plugin", behavior, level: "permissive")
        #expect(permissive.isSuccess, "permissive logs revocation")
    }

    @Test func revocationIsNotRequestedWhenThePolicySkipsIt() async throws {
        let world = try await World.shared.value
        let plugins = try install(Self.both)
        let config = #"{"name":"notation","verificationCerts":["\#(world.fixtures.directory.path)/truststore"],"address":"\#(plugins.path)","trustPolicyDoc":{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict","override":{"revocation":"skip"}},"trustStores":["ca:wabbit"],"trustedIdentities":["*"]}]}}"#
        let report = await NotationVerifier(config: try NotationVerifierConfig.parse(try JSONParser.parse(config), path: "v").0)
            .verify(subject: world.reference, referrer: try world.referrer("jws-plugin"), store: world.store, deadline: .now + .seconds(10))
        #expect(report.isSuccess, "\(report.message)")
        #expect(try recordedRequest(plugins, "verify-signature")["trustPolicy"]?["signatureVerification"] == ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY"])
    }

    @Test func theMinimumVersionIsComparedAsSemver() async throws {
        let (old, _) = try await verify("jws-plugin-minversion", Self.both)
        #expect(old.errorReason == "VERIFICATION_PLUGIN_FAILURE")
        #expect(old.message.contains("with version 1.0.0 but signature verification needs plugin version greater than or equal to 1.2.0"), "\(old.message)")
        var newer = Self.both
        newer = with(newer, "version", "1.10.0")
        let (passed, _) = try await verify("jws-plugin-minversion", newer)
        #expect(passed.isSuccess, "1.10.0 >= 1.2.0 numerically: \(passed.message)")
        newer = with(newer, "version", "1.2.0-rc.1")
        let (prerelease, _) = try await verify("jws-plugin-minversion", newer)
        #expect(!prerelease.isSuccess, "a pre-release sorts before its release")
        newer = with(newer, "version", "v1.2.0")
        let (invalid, _) = try await verify("jws-plugin-minversion", newer)
        #expect(invalid.message.contains("is not a valid semantic version"), "\(invalid.message)")
    }

    @Test func extendedCriticalAttributesMustComeBackProcessed() async throws {
        let (processed, plugins) = try await verify("jws-plugin-extended", Self.both)
        #expect(processed.isSuccess, "\(processed.message)")
        let request = try recordedRequest(plugins, "verify-signature")
        #expect(request["signature"]?["unprocessedAttributes"] == ["io.example.tenant"])
        #expect(request["signature"]?["criticalAttributes"]?["extendedAttributes"] == ["io.example.tenant": "t1"])
        #expect(request["signature"]?["criticalAttributes"]?["expiry"]?.stringValue?.hasSuffix("Z") == true)
        var lazy = Self.both
        lazy = with(lazy, "processed", [])
        let (unprocessed, _) = try await verify("jws-plugin-extended", lazy, level: "audit")
        #expect(unprocessed.errorReason == "VERIFICATION_PLUGIN_FAILURE", "fatal at every level")
        #expect(unprocessed.message.contains(#"extended critical attribute "io.example.tenant" was not processed"#))
    }

    @Test func protocolFailuresFailClosedWithTheirReason() async throws {
        var malformed = Self.both
        malformed = with(malformed, "verify-signature", ["stdout": "this is not json"])
        let (bad, _) = try await verify("jws-plugin", malformed)
        #expect(bad.errorReason == "VERIFICATION_PLUGIN_FAILURE")
        #expect(bad.message.contains("the response of verify-signature is not a JSON object"), "\(bad.message)")

        var refused = Self.both
        refused = with(refused, "verify-signature", ["exit": 1, "stderr": #"{"errorCode":"ACCESS_DENIED","errorMessage":"the signing service refused the key"}"#])
        let (denied, _) = try await verify("jws-plugin", refused)
        #expect(denied.message.contains("verify-signature failed (ACCESS_DENIED): the signing service refused the key"), "\(denied.message)")

        var crashed = Self.both
        crashed = with(crashed, "get-plugin-metadata", ["exit": 3, "stderr": "segfault"])
        let (crash, _) = try await verify("jws-plugin", crashed)
        #expect(crash.message.contains("get-plugin-metadata exited with status 3: segfault"), "\(crash.message)")

        var missing = Self.both
        missing = with(missing, "results", [:])
        missing = with(missing, "verify-signature", ["stdout": #"{"verificationResults":{},"processedAttributes":[]}"#])
        let (silent, _) = try await verify("jws-plugin", missing)
        #expect(silent.message.contains("failed to verify \"SIGNATURE_VERIFIER.TRUSTED_IDENTITY\""), "\(silent.message)")

        var renamed = Self.both
        renamed = with(renamed, "name", "com.example.other")
        let (wrongName, _) = try await verify("jws-plugin", renamed)
        #expect(wrongName.message.contains("must be named notation-com.example.other"), "\(wrongName.message)")

        var noCapabilities = Self.both
        noCapabilities = with(noCapabilities, "capabilities", ["SIGNATURE_GENERATOR.RAW"])
        let (generator, _) = try await verify("jws-plugin", noCapabilities)
        #expect(generator.message.contains("offers none"), "\(generator.message)")
    }

    @Test func aPluginThatHangsIsStoppedAtTheDeadline() async throws {
        var slow = Self.both
        slow = with(slow, "verify-signature", ["sleep": 30])
        let clock = ContinuousClock()
        let start = clock.now
        let (report, _) = try await verify("jws-plugin", slow, timeout: .seconds(2))
        #expect(clock.now - start < .seconds(10), "the plugin was killed, not waited for")
        #expect(report.errorReason == "VERIFICATION_PLUGIN_FAILURE")
        #expect(report.message.contains("did not finish within the verification deadline"), "\(report.message)")
    }

    @Test func aPluginThatIsNotInstalledFailsWithTheInstallHint() async throws {
        let (report, _) = try await verify("jws-plugin", ["name": "someone.else"])  // installed under another name
        let world = try await World.shared.value
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-plugins-\(UUID().uuidString)")
        let missing = await try verifier(world, plugins: empty)
            .verify(subject: world.reference, referrer: try world.referrer("jws-plugin"), store: world.store, deadline: .now + .seconds(60))
        #expect(missing.errorReason == "VERIFICATION_PLUGIN_REQUIRED")
        #expect(missing.message.contains("notation-com.example.nv2plugin"))
        #expect(missing.remediation?.contains("RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS") == true)
        #expect(!report.isSuccess)
    }

    @Test func withoutAPluginNoSignatureNamingOneCanPass() async throws {
        let world = try await World.shared.value
        let envelope = try world.fixtures.envelope("jws-plugin")
        let outcome = NotationVerification.verify(envelope: envelope.bytes, mediaType: envelope.mediaType, subject: world.subject,
                                                  policy: try trustPolicy(), trustStores: world.fixtures.stores)
        #expect(outcome.enforcedFailure?.reason == .verificationPluginRequired)
    }
}

@Suite struct SemanticVersionTests {
    @Test func comparesAsGoSemverDoes() throws {
        func v(_ text: String) throws -> SemanticVersion { try #require(SemanticVersion(text)) }
        // notation-go TestIsRequiredVerificationPluginVer, plugin 1.0.0.
        for min in ["0.0.9", "1.0.0", "1.0.0-alpha", "1.0.0-alpha.beta"] { #expect(try v("1.0.0") >= v(min), "\(min)") }
        for min in ["1.0.1", "1.0.9", "1.1.0", "1.2.3", "1.1.0-alpha"] { #expect(try v("1.0.0") < v(min), "\(min)") }
        #expect(try v("1.0.0-alpha.1") < v("1.0.0-alpha.beta"), "numeric identifiers sort before alphanumeric")
        #expect(try v("1.0.0-alpha") < v("1.0.0-alpha.1"))
        #expect(try v("1.0.0+a") == v("1.0.0+b"), "build metadata is ignored")
        for invalid in ["v1.0.0", "1.0", "01.0.0", "1.0.0-", ""] { #expect(SemanticVersion(invalid) == nil, "\(invalid)") }
    }
}
