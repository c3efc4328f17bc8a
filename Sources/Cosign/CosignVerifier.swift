import Core
import Crypto
import Foundation
import JSON

/// Ratify's built-in cosign verifier, with keys: the `.sig` manifest's simple-signing layers are
/// checked against the trust policy whose scope matches the image. It passes when **any**
/// signature verifies, wherever it sits among the layers, and reports every signature.
public struct CosignVerifier: Verifier {
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"
    public static let bundleAnnotation = "dev.sigstore.cosign/bundle"
    public static let simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"

    public let config: CosignVerifierConfig
    public var name: String { config.name }
    public var type: String { "cosign" }
    public var artifactTypes: [String] { config.artifactTypes }

    public init(config: CosignVerifierConfig) { self.config = config }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        func failure(_ reason: String, _ message: String, _ remediation: String, extensions: JSONValue? = nil) -> VerifierReport {
            VerifierReport(subject: subject.description, isSuccess: false, verifierName: name, verifierType: type,
                           referenceDigest: referrer.digest.description, artifactType: referrer.artifactType ?? MediaType.cosignSignatureArtifact,
                           message: message, errorReason: reason, remediation: remediation, extensions: extensions)
        }
        guard let digest = subject.digest else {
            return failure("COSIGN_SUBJECT_NOT_RESOLVED", "the subject has no digest", "resolve the image before verifying it")
        }
        let policies = config.trustPolicies.map { (scopes: $0.scopes, value: $0) }
        guard let policy = ScopeSet.match(subject.name, in: policies) else {
            return failure("TRUST_POLICY_NOT_FOUND", "no cosign trust policy scope matches \(subject.name)",
                           "add a trust policy whose scopes include \(subject.name) (or \"*\")")
        }
        let manifest: Manifest
        do {
            (manifest, _) = try await store.manifest(referrer, in: subject, deadline: deadline)
        } catch {
            return failure("SIGNATURE_FETCH_FAILURE", "cannot fetch the cosign signature manifest \(referrer.digest): \(error)",
                           "check the registry is reachable and the signature was pushed completely")
        }
        let layers = manifest.layers.filter { $0.mediaType == Self.simpleSigningMediaType }
        guard !layers.isEmpty else {
            return failure("NO_COSIGN_SIGNATURES", "the cosign signature manifest \(referrer.digest) has no simple-signing layers",
                           "sign the image with cosign sign")
        }
        var results: [SignatureResult] = []
        for layer in layers {
            results.append(await check(layer, subject: subject, digest: digest, policy: policy, store: store, deadline: deadline))
        }
        let passed = results.contains { $0.error == nil }
        let extensions = config.legacy ? legacyExtensions(results) : policyExtensions(results, policy: policy)
        if passed {
            return VerifierReport(subject: subject.description, isSuccess: true, verifierName: name, verifierType: type,
                                  referenceDigest: referrer.digest.description, artifactType: referrer.artifactType ?? MediaType.cosignSignatureArtifact,
                                  message: "cosign verification success. valid signatures found", extensions: extensions)
        }
        let reasons = results.map { "\($0.digest): \($0.error!)" }.joined(separator: "; ")
        return failure("SIGNATURE_VERIFICATION_FAILED",
                       "cosign verification failed: no signature satisfies trust policy \(policy.name): \(reasons)",
                       "sign \(subject.name)@\(digest) with a key listed in trust policy \(policy.name)", extensions: extensions)
    }

    struct SignatureResult {
        var digest: String
        var signature: String
        var error: String?
        var key: String?
        var bundleVerified = false
    }

    private func check(_ layer: Descriptor, subject: ImageReference, digest: Digest, policy: CosignTrustPolicy,
                       store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> SignatureResult {
        let encoded = layer.annotations[Self.signatureAnnotation] ?? ""
        var result = SignatureResult(digest: layer.digest.description, signature: encoded)
        guard !encoded.isEmpty, let signature = Data(base64Encoded: encoded) else {
            result.error = "annotation \(Self.signatureAnnotation) is missing or not base64"
            return result
        }
        let payload: [UInt8]
        do {
            payload = try await store.blob(layer, in: subject, deadline: deadline)
        } catch {
            result.error = "cannot fetch the signed payload: \(error)"
            return result
        }
        guard let key = policy.keys.first(where: { $0.key.verify(signature: Array(signature), message: payload, hash: $0.key.sigstoreHash) }) else {
            result.error = "signature does not verify with the \(policy.keys.count) key(s) of trust policy \(policy.name)"
            return result
        }
        result.key = key.source
        if let problem = SimpleSigning.check(payload, subject: digest) {
            result.error = problem
            return result
        }
        if policy.tLogVerify {
            // Fail closed: a policy that asks for the transparency log is satisfied only by a
            // signature whose Rekor entry verifies offline against a trusted log key.
            guard let text = layer.annotations[Self.bundleAnnotation] else {
                result.error = "trust policy \(policy.name) requires a transparency log entry (tLogVerify) and the signature has no Rekor bundle"
                return result
            }
            guard let root = config.trustedRoot else {
                result.error = "trust policy \(policy.name) requires a transparency log entry (tLogVerify) but no trustedRoot with Rekor keys is configured"
                return result
            }
            guard let bundle = RekorBundle.parse(text) else {
                result.error = "annotation \(Self.bundleAnnotation) is not a Rekor bundle"
                return result
            }
            if let problem = bundle.verify(signature: Array(signature), payload: payload, key: key.key, trustedRoot: root) {
                result.error = problem
                return result
            }
            result.bundleVerified = true
        }
        return result
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
            var summary: [JSONValue] = result.error == nil ? ["signature verified with key", "payload names the image digest"] : []
            if result.bundleVerified { summary.append("Rekor bundle verified offline") }
            verification["summary"] = .array(summary)
            return ["signature": .string(result.signature), "verifications": .array([.object(verification)])]
        }), "trustPolicy": .string(policy.name)]
    }
}
