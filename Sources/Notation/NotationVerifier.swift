import Core
import Crypto
import Foundation
import JSON

/// Ratify's built-in notation verifier: fetches the signature manifest's envelope, picks the
/// trust policy for the image's repository, runs the Notary Project verification workflow and
/// reports like Ratify (`extensions.Issuer` / `extensions.SN` of the signing certificate).
public struct NotationVerifier: Verifier {
    /// A chain and a signature over small envelopes; revocation fetches are awaited (CRLs are
    /// parsed once per refresh). Verification plugins exec processes: the executor then does
    /// not use the I/O thread at all (`ExecutorFactory`).
    public var runsBriefly: Bool { true }
    public let config: NotationVerifierConfig
    public let providers: (any KeyManagementProviders)?
    public let revocation: (any RevocationChecking)?
    /// Runs Notary Project verification plugins.
    public let runner: any SubprocessRunning
    public var name: String { config.name }
    public var type: String { "notation" }
    public var artifactTypes: [String] { config.artifactTypes }
    public var nestedReferences: [String] { config.nestedReferences }

    public init(config: NotationVerifierConfig, providers: (any KeyManagementProviders)? = nil, revocation: (any RevocationChecking)? = nil,
                runner: any SubprocessRunning = ProcessSubprocessRunner()) {
        self.config = config
        self.providers = providers
        self.revocation = revocation
        self.runner = runner
    }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        func report(_ success: Bool, _ message: String, reason: NotationReason? = nil, remediation: String? = nil, extensions: JSONValue? = nil) -> VerifierReport {
            VerifierReport(subject: subject.description, isSuccess: success, verifierName: name, verifierType: type,
                           referenceDigest: referrer.digest.description, artifactType: referrer.artifactType ?? MediaType.notarySignature,
                           message: message, errorReason: reason?.rawValue, remediation: remediation, extensions: extensions)
        }
        guard subject.digest != nil else {
            return report(false, "the subject has no digest", reason: .subjectNotResolved, remediation: "resolve the image before verifying it")
        }
        // "Evaluation order of trust policies: exact match, then global."
        guard let policy = config.trustPolicies.policy(for: subject.name) else {
            return report(false, "no trust policy applies to \(subject.name): no registryScopes entry names it and there is no global \"*\" policy",
                          reason: .trustPolicyNotFound, remediation: "add \(subject.name) to a trust policy's registryScopes, or add a policy with registryScopes [\"*\"]")
        }
        guard policy.level != .skip else {
            return report(true, "signature verification skipped: trust policy \"\(policy.name)\" has level skip",
                          extensions: ["trustPolicy": .string(policy.name)])
        }
        let envelope: (bytes: [UInt8], mediaType: String)
        let subjectDescriptor: Descriptor
        // The subject's descriptor (compared with the signed one) is looked up alongside the
        // signature: one round trip less on the critical path of a digest-pinned key.
        async let resolved = store.resolve(subject, deadline: deadline)
        do {
            let (manifest, _) = try await store.manifest(referrer, in: subject, deadline: deadline)
            // notation: "the signature manifest requires exactly one signature envelope blob".
            guard manifest.layers.count == 1, let layer = manifest.layers.first else {
                return report(false, "the notation signature manifest \(referrer.digest) has \(manifest.layers.count) layers; exactly one signature envelope is required",
                              reason: .signatureEnvelopeInvalid, remediation: "re-sign the image with notation sign")
            }
            guard SignatureEnvelope.Format(rawValue: layer.mediaType) != nil else {
                return report(false, "the signature envelope media type \"\(layer.mediaType)\" is not application/jose+json or application/cose",
                              reason: .signatureEnvelopeUnsupported, remediation: "re-sign the image with notation sign (JWS or COSE)")
            }
            guard layer.size <= SignatureEnvelope.maxSize else {
                return report(false, "the signature envelope is \(layer.size) bytes; at most \(SignatureEnvelope.maxSize) are accepted",
                              reason: .signatureEnvelopeInvalid, remediation: "re-sign the image with notation sign")
            }
            envelope = (try await store.blob(layer, in: subject, deadline: deadline), layer.mediaType)
            subjectDescriptor = try await resolved
        } catch {
            return report(false, "cannot fetch the notation signature \(referrer.digest): \(error)", reason: .signatureFetchFailure,
                          remediation: "check the registry is reachable and the signature was pushed completely")
        }
        // A signature that names a verification plugin: locate it and check its metadata first
        // (notation-go does this right after integrity; any failure here is fatal at every level).
        var plugin: (VerificationPlugin, VerificationPlugin.Metadata)?
        if let parsed = try? SignatureEnvelope.parse(envelope.bytes, mediaType: envelope.mediaType), let required = parsed.verificationPlugin {
            switch await preparePlugin(required, minVersion: parsed.verificationPluginMinVersion, deadline: deadline) {
            case .failure(let failure):
                return report(false, failure.message, reason: failure.kind == .notInstalled ? .verificationPluginRequired : .verificationPluginFailure,
                              remediation: failure.kind == .notInstalled
                                  ? "install the notation-\(required) plugin in \(config.pluginDirectory) (a Verifier with source.artifact and RATIFY_EXPERIMENTAL_DYNAMIC_PLUGINS, or the verifier's address)"
                                  : "fix or update the notation-\(required) plugin in \(config.pluginDirectory)")
            case .success(let located): plugin = located
            }
        }
        var outcome = NotationVerification.verify(envelope: envelope.bytes, mediaType: envelope.mediaType, subject: subjectDescriptor,
                                                  policy: policy, trustStores: config.trustStores, providers: providers, plugin: plugin?.1)
        if outcome.isSuccess, let signature = outcome.envelope, !(plugin?.1.capabilities.contains(.revocationCheck) ?? false) {
            await checkRevocation(&outcome, envelope: signature, policy: policy, deadline: deadline)
        }
        if outcome.isSuccess, let signature = outcome.envelope, let (runner, metadata) = plugin {
            await runPlugin(runner, metadata: metadata, outcome: &outcome, envelope: signature, policy: policy, deadline: deadline)
        }
        var extensions = JSONObject()
        if let leaf = outcome.envelope?.leaf {
            extensions["Issuer"] = .string(leaf.issuerRFC2253)
            extensions["SN"] = .string(leaf.subjectRFC2253)
        }
        if !outcome.loggedFailures.isEmpty {
            // Failures the level only logs: the pass stands, but nobody has to dig for them.
            extensions["loggedFailures"] = .array(outcome.loggedFailures.map {
                ["check": .string($0.check.rawValue), "errorReason": .string($0.reason.rawValue), "message": .string($0.message)]
            })
        }
        let extensionValue: JSONValue? = extensions.isEmpty ? nil : .object(extensions)
        guard let failure = outcome.enforcedFailure else {
            return report(true, "signature verification success", extensions: extensionValue)
        }
        return report(false, failure.message, reason: failure.reason,
                      remediation: Self.remediation(failure.reason, policy: policy, repository: subject.name), extensions: extensionValue)
    }

    /// notation-go: locate `notation-<name>`, get its metadata (valid, semver version), check
    /// `io.cncf.notary.verificationPluginMinVersion` and that it offers a verifier capability.
    func preparePlugin(_ name: String, minVersion: String?, deadline: ContinuousClock.Instant) async
        -> Result<(VerificationPlugin, VerificationPlugin.Metadata), VerificationPlugin.Failure> {
        let plugin: VerificationPlugin
        switch VerificationPlugin.locate(name, in: config.pluginDirectory, runner: runner) {
        case .failure(let failure): return .failure(failure)
        case .success(let located): plugin = located
        }
        let metadata: VerificationPlugin.Metadata
        switch await plugin.metadata(deadline: deadline) {
        case .failure(let failure): return .failure(failure)
        case .success(let read): metadata = read
        }
        if let minVersion {
            guard let minimum = SemanticVersion(minVersion) else {
                return .failure(.init(kind: .unusable, message: "io.cncf.notary.verificationPluginMinVersion \"\(minVersion)\" is not a valid semantic version"))
            }
            guard metadata.version >= minimum else {
                return .failure(.init(kind: .unusable, message: "found plugin \(name) with version \(metadata.version) but signature verification needs plugin version greater than or equal to \(minimum)"))
            }
        }
        guard !metadata.capabilities.isEmpty else {
            return .failure(.init(kind: .unusable, message: "the signature requires plugin \"\(name)\" with signature verification capabilities (SIGNATURE_VERIFIER.TRUSTED_IDENTITY and/or SIGNATURE_VERIFIER.REVOCATION_CHECK); it offers none"))
        }
        return .success((plugin, metadata))
    }

    /// notation-go `processPluginResponse`: every extended attribute must come back processed
    /// (fatal otherwise); a failed TRUSTED_IDENTITY is an authenticity failure and a failed
    /// REVOCATION_CHECK a revocation failure, each at the policy's action for that check.
    func runPlugin(_ plugin: VerificationPlugin, metadata: VerificationPlugin.Metadata, outcome: inout NotationOutcome,
                   envelope: SignatureEnvelope, policy: TrustPolicy, deadline: ContinuousClock.Instant) async {
        let revocationAction = policy.action(for: .revocation)
        let capabilities = metadata.capabilities.filter { $0 != .revocationCheck || revocationAction != .skip }
        guard !capabilities.isEmpty else { return }
        let request = VerificationPlugin.Request(envelope: envelope, trustedIdentities: policy.writtenTrustedIdentities,
                                                 capabilities: capabilities)
        func fatal(_ message: String) {
            outcome.failures.append(NotationCheckFailure(check: .integrity, action: .enforce, reason: .verificationPluginFailure, message: message))
        }
        let verdict: VerificationPlugin.Verdict
        switch await plugin.verifySignature(request, deadline: deadline) {
        case .failure(let failure): return fatal(failure.message)
        case .success(let answer): verdict = answer
        }
        for attribute in VerificationPlugin.pluginAttributes(envelope) where !verdict.processedAttributes.contains(attribute.key) {
            return fatal("extended critical attribute \"\(attribute.key)\" was not processed by the verification plugin \"\(plugin.name)\" (all extended critical attributes must be processed by the verification plugin)")
        }
        for capability in capabilities {
            guard let result = verdict.results[capability] else {
                return fatal("verification plugin \"\(plugin.name)\" failed to verify \"\(capability.rawValue)\": it answered no result for it")
            }
            guard !result.success else { continue }
            switch capability {
            case .trustedIdentity:
                let action = policy.action(for: .authenticity)
                guard action != .skip else { continue }
                outcome.failures.append(NotationCheckFailure(check: .authenticity, action: action, reason: .trustedIdentityMismatch,
                    message: "trusted identity verification by plugin \"\(plugin.name)\" failed with reason \"\(result.reason ?? "")\""))
            case .revocationCheck:
                outcome.failures.append(NotationCheckFailure(check: .revocation, action: revocationAction, reason: .certificateRevoked,
                    message: "revocation check by verification plugin \"\(plugin.name)\" failed with reason \"\(result.reason ?? "")\""))
            }
            if outcome.enforcedFailure != nil { return }
        }
    }

    /// Revocation runs last among the trust checks and only when the rest passed: it is the one
    /// check that needs the network.
    func checkRevocation(_ outcome: inout NotationOutcome, envelope: SignatureEnvelope, policy: TrustPolicy,
                         deadline: ContinuousClock.Instant) async {
        let action = policy.action(for: .revocation)
        guard action != .skip else { return }
        guard let revocation else { return }
        if let (reason, message) = await revocation.problem(chain: envelope.certificates, deadline: deadline) {
            outcome.failures.append(NotationCheckFailure(check: .revocation, action: action, reason: reason, message: message))
        }
    }

    static func remediation(_ reason: NotationReason, policy: TrustPolicy, repository: String) -> String {
        let stores = policy.trustStores.map(\.description).joined(separator: ", ")
        return switch reason {
        case .signatureEnvelopeInvalid, .signatureEnvelopeUnsupported, .signaturePayloadInvalid:
            "the stored signature is damaged or not a Notary Project signature: re-sign the image with notation sign"
        case .signatureIntegrityFailure:
            "the signature does not match what it signs: re-sign the image with notation sign and check nothing rewrites signatures in the registry"
        case .signatureSubjectMismatch:
            "this signature was made for another artifact: sign this image's digest"
        case .unknownCriticalAttribute, .verificationPluginRequired:
            "sign without the critical attribute or plugin, or verify this artifact with notation and its plugin"
        case .signatureNotTrusted:
            "add the signer's root certificate to trust store(s) \(stores) (verificationCerts), or check the image was signed with the expected certificate"
        case .trustStoreNotConfigured, .trustStoreEmpty, .trustStoreUnavailable:
            "give trust policy \"\(policy.name)\" a trust store with the signer's root certificate (verificationCerts or verificationCertStores)"
        case .trustedIdentityMismatch:
            "add the signing certificate's subject to trustedIdentities of trust policy \"\(policy.name)\", or sign with the expected certificate"
        case .signatureExpired:
            "re-sign the image (the signer set an expiry), or set override expiry: log in trust policy \"\(policy.name)\""
        case .certificateExpired:
            "re-sign with a valid certificate, or timestamp signatures (notation sign --timestamp-url) and add the TSA root to a tsa trust store of trust policy \"\(policy.name)\""
        case .timestampInvalid, .timestampNotTrusted:
            "add the TSA's root certificate to a tsa trust store of trust policy \"\(policy.name)\", or re-sign with a trusted timestamp"
        case .certificateRevoked:
            "a certificate of the signing chain is revoked: re-sign the image with a valid certificate"
        case .revocationUnavailable:
            "make the OCSP responder or CRL reachable from ratify, or set override revocation: log in trust policy \"\(policy.name)\""
        default:
            "check trust policy \"\(policy.name)\" for \(repository)"
        }
    }
}

/// Revocation checking for a signing chain (OCSP first, then CRL), injected so verification
/// stays testable and the network stays at the edge. Returns a reason code and message when a
/// certificate is revoked or its status cannot be determined; nil when every certificate is good.
public protocol RevocationChecking: Sendable {
    func problem(chain: [Certificate], deadline: ContinuousClock.Instant) async -> (NotationReason, String)?
}
