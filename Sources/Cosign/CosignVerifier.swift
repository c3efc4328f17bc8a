import Core
import Crypto
import Foundation
import JSON

/// Ratify's built-in cosign verifier: the `.sig` manifest's simple-signing layers, or Sigstore
/// bundles attached as OCI 1.1 referrers, are checked against the trust policy whose scope
/// matches the image (keys or keyless). It passes when **any** signature verifies, wherever it
/// sits among the layers, and reports every signature.
public struct CosignVerifier: Verifier {
    /// Key or certificate checks over small documents; Rekor lookups are awaited, not blocked on.
    public var runsBriefly: Bool { true }
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"
    public static let bundleAnnotation = "dev.sigstore.cosign/bundle"
    public static let certificateAnnotation = "dev.sigstore.cosign/certificate"
    public static let chainAnnotation = "dev.sigstore.cosign/chain"
    /// cosign's `--timestamp-server-url` result: `{"SignedRFC3161Timestamp": "<base64 DER>"}`, a
    /// TSA's RFC 3161 token over the signature bytes.
    public static let timestampAnnotation = "dev.sigstore.cosign/rfc3161timestamp"
    public static let simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"

    public let config: CosignVerifierConfig
    public var name: String { config.name }
    public var type: String { "cosign" }
    /// The configured types, plus Sigstore bundles (cosign 3's default attachment), which the
    /// same trust policies govern.
    public var artifactTypes: [String] {
        config.artifactTypes.contains(SigstoreBundle.mediaType) ? config.artifactTypes : config.artifactTypes + [SigstoreBundle.mediaType]
    }

    /// Key management providers for `keys: [{provider: …}]`.
    public let providers: (any KeyManagementProviders)?
    /// Rekor lookups for signatures that carry no entry (nil: never looked up).
    public let rekor: RekorLookup?

    public init(config: CosignVerifierConfig, providers: (any KeyManagementProviders)? = nil, rekor: RekorLookup? = nil) {
        self.config = config
        self.providers = providers
        self.rekor = rekor
    }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        func failure(_ reason: CosignReason, _ message: String, _ remediation: String, extensions: JSONValue? = nil) -> VerifierReport {
            VerifierReport(subject: subject.description, isSuccess: false, verifierName: name, verifierType: type,
                           referenceDigest: referrer.digest.description, artifactType: referrer.artifactType ?? MediaType.cosignSignatureArtifact,
                           message: message, errorReason: reason.rawValue, remediation: remediation, extensions: extensions)
        }
        guard let digest = subject.digest else {
            return failure(.subjectNotResolved, "the subject has no digest", "resolve the image before verifying it")
        }
        let policies = config.trustPolicies.map { (scopes: $0.scopes, value: $0) }
        let spellings = [subject.name] + (subject.tag.map { ["\(subject.name):\($0)"] } ?? []) + ["\(subject.name)@\(digest)"]
        guard let policy = ScopeSet.match(spellings, in: policies) else {
            return failure(.trustPolicyNotFound, "no cosign trust policy scope matches \(subject.name)",
                           "add a trust policy whose scopes include \(subject.name) (or \"*\")")
        }
        let manifest: Manifest
        do {
            (manifest, _) = try await store.manifest(referrer, in: subject, deadline: deadline)
        } catch {
            return failure(.signatureFetchFailure, "cannot fetch the cosign signature manifest \(referrer.digest): \(error)",
                           "check the registry is reachable and the signature was pushed completely")
        }
        // cosign's `.sig` layout (simple-signing layers) or an OCI 1.1 Sigstore bundle referrer.
        let isBundle = SigstoreBundle.acceptedMediaTypes.contains(manifest.artifactType ?? referrer.artifactType ?? "")
        // cosign reads every layer of a `.sig` manifest as a signature (`Signatures.Get`); a layer
        // of another media type counts when it carries the signature annotation.
        let layers = manifest.layers.filter {
            isBundle ? SigstoreBundle.acceptedMediaTypes.contains($0.mediaType)
                     : $0.mediaType == Self.simpleSigningMediaType || $0.annotations[Self.signatureAnnotation] != nil
        }
        guard !layers.isEmpty else {
            return failure(.noCosignSignatures, "the cosign signature manifest \(referrer.digest) has no \(isBundle ? "Sigstore bundle" : "simple-signing") layers",
                           "sign the image with cosign sign")
        }
        var results: [SignatureResult] = []
        for layer in layers {
            var evidence = await (isBundle ? bundleEvidence(layer, subject: subject, store: store, deadline: deadline)
                                           : layerEvidence(layer, subject: subject, store: store, deadline: deadline))
            var result = evaluate(evidence, digest: digest, policy: policy)
            // Every local check passed and only the log entry is missing: ask Rekor (Ratify's
            // rekorURL). Only an entry by a trusted log that records this signature, by this key
            // or certificate, over this content, is taken.
            if let pending = result.pendingLookup, let rekor {
                let base = policy.rekorURL ?? RekorLookup.publicGood
                let signature = evidence.signature, payloadHash = evidence.loggedPayloadHash
                let binding = Hash.hex(.sha256, pending.certificate?.derBytes ?? pending.key.derBytes) + "|" + pending.root.logs.keys.sorted().joined(separator: ",")
                let outcome = await rekor.find(base: base, signature: signature, payloadHash: payloadHash, binding: binding, deadline: deadline) { candidate in
                    candidate.logProblem(trustedRoot: pending.root)
                        ?? candidate.entryProblem(signature: signature, payloadHash: payloadHash, key: pending.key, certificate: pending.certificate)
                }
                switch outcome {
                case .found(let entry):
                    evidence.tlog = entry
                    evidence.tlogSource = "looked up in Rekor at \(base)"
                case .notFound(let reason):
                    evidence.tlogProblem = reason
                }
                result = evaluate(evidence, digest: digest, policy: policy)
            }
            results.append(result)
        }
        let passed = results.contains { $0.error == nil }
        let extensions = config.legacy ? legacyExtensions(results) : policyExtensions(results, policy: policy)
        if passed {
            return VerifierReport(subject: subject.description, isSuccess: true, verifierName: name, verifierType: type,
                                  referenceDigest: referrer.digest.description, artifactType: referrer.artifactType ?? MediaType.cosignSignatureArtifact,
                                  message: "cosign verification success. valid signatures found", extensions: extensions)
        }
        let reasons = results.map { "\($0.digest): \($0.error!)" }.joined(separator: "; ")
        return failure(.signatureVerificationFailed,
                       "cosign verification failed: no signature satisfies trust policy \(policy.name): \(reasons)",
                       policy.keyless.map { "sign \(subject.name)@\(digest) keylessly as an identity matching \($0.identity) from issuer \($0.issuer) (trust policy \(policy.name)), with its certificate chaining to the configured Fulcio roots" }
                           ?? "sign \(subject.name)@\(digest) with a key listed in trust policy \(policy.name)", extensions: extensions)
    }

    private func legacyExtensions(_ results: [SignatureResult]) -> JSONValue {
        ["signatures": .array(results.map { result in
            var entry: JSONObject = ["bundleVerified": .bool(result.bundleVerified), "isSuccess": .bool(result.error == nil), "signatureDigest": .string(result.digest)]
            if let error = result.error { entry["error"] = .string(error) }
            return .object(entry)
        })]
    }

    private func policyExtensions(_ results: [SignatureResult], policy: CosignTrustPolicy) -> JSONValue {
        ["signatures": .array(results.map { result in
            var verification: JSONObject = ["signatureDigest": .string(result.digest), "isSuccess": .bool(result.error == nil),
                                            "bundleVerified": .bool(result.bundleVerified)]
            if let error = result.error { verification["error"] = .string(error) }
            if let key = result.key { verification["keyInformation"] = ["file": .string(key)] }
            if let identity = result.identity {
                verification["keyInformation"] = ["certificateIdentity": .string(identity.subject), "certificateOIDCIssuer": .string(identity.issuer)]
            }
            var summary: [JSONValue] = result.error == nil
                ? [result.identity == nil ? "signature verified with key" : "signature verified with a Fulcio certificate", "payload names the image digest"] : []
            if result.bundleVerified { summary.append(.string(result.tlogSource.map { "Rekor entry \($0) and verified" } ?? "Rekor bundle verified offline")) }
            verification["summary"] = .array(summary)
            return ["signature": .string(result.signature), "verifications": .array([.object(verification)])]
        }), "trustPolicy": .string(policy.name)]
    }
}

/// Why a cosign verification failed: the stable `errorReason` of its report.
public enum CosignReason: String, Sendable, CaseIterable {
    case subjectNotResolved = "COSIGN_SUBJECT_NOT_RESOLVED"
    case trustPolicyNotFound = "TRUST_POLICY_NOT_FOUND"
    case signatureFetchFailure = "SIGNATURE_FETCH_FAILURE"
    case noCosignSignatures = "NO_COSIGN_SIGNATURES"
    case signatureVerificationFailed = "SIGNATURE_VERIFICATION_FAILED"
}
