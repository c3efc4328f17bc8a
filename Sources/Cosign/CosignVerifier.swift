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
    public static let certificateAnnotation = "dev.sigstore.cosign/certificate"
    public static let chainAnnotation = "dev.sigstore.cosign/chain"
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
                       policy.keyless.map { "sign \(subject.name)@\(digest) keylessly as an identity matching \($0.identity) from issuer \($0.issuer) (trust policy \(policy.name)), with its certificate chaining to the configured Fulcio roots" }
                           ?? "sign \(subject.name)@\(digest) with a key listed in trust policy \(policy.name)", extensions: extensions)
    }

    struct SignatureResult {
        var digest: String
        var signature: String
        var error: String?
        var key: String?
        var bundleVerified = false
        /// Keyless: the SAN that matched and the certificate's OIDC issuer.
        var identity: (subject: String, issuer: String)?
    }

    /// Fulcio's OIDC issuer extensions: 1.3.6.1.4.1.57264.1.8 holds a DER UTF8String; the older
    /// 1.3.6.1.4.1.57264.1.1 holds the raw string.
    static func oidcIssuer(_ certificate: Certificate) -> String? {
        if let value = certificate.extensionValue(oid: "1.3.6.1.4.1.57264.1.8"), value.count >= 2, value[0] == 0x0c {
            var length = Int(value[1]), offset = 2
            if value[1] & 0x80 != 0 {
                let count = Int(value[1] & 0x7f)
                guard count <= 2, value.count >= 2 + count else { return nil }
                length = value[2..<(2 + count)].reduce(0) { $0 << 8 | Int($1) }
                offset = 2 + count
            }
            guard value.count == offset + length else { return nil }
            return String(validating: value[offset...], as: UTF8.self)
        }
        return certificate.extensionValue(oid: "1.3.6.1.4.1.57264.1.1").flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// Keyless (cosign `verify --certificate-identity … --certificate-oidc-issuer …`): the
    /// signature verifies with the Fulcio certificate's key, the Rekor bundle (when tLogVerify)
    /// proves when it was logged, the certificate chains to a trusted root *at that time*
    /// (Fulcio certificates live minutes, so an expired one passes only with a valid tlog entry),
    /// its SANs match the identity, its issuer extension the OIDC issuer, and (ctLogVerify) an
    /// embedded SCT from a trusted CT log verifies.
    private func checkKeyless(_ layer: Descriptor, result initial: SignatureResult, signature: [UInt8], payload: [UInt8],
                              digest: Digest, policy: CosignTrustPolicy, keyless: KeylessPolicy) async -> SignatureResult {
        var result = initial
        func fail(_ message: String) -> SignatureResult {
            result.error = message
            return result
        }
        guard let pem = layer.annotations[Self.certificateAnnotation],
              let leaf = try? Certificate.pemChain(Array(pem.utf8), source: Self.certificateAnnotation).first else {
            return fail("trust policy \(policy.name) is keyless and the signature carries no certificate (\(Self.certificateAnnotation))")
        }
        let supplied = layer.annotations[Self.chainAnnotation].flatMap { try? Certificate.pemChain(Array($0.utf8), source: Self.chainAnnotation) } ?? []
        guard let key = try? leaf.publicKey() else { return fail("the signing certificate's key is not usable") }
        guard key.verify(signature: signature, message: payload, hash: key.sigstoreHash) else {
            return fail("signature does not verify with the key of its certificate (\(leaf.subjectRFC2253.isEmpty ? "Fulcio certificate" : leaf.subjectRFC2253))")
        }
        if let problem = SimpleSigning.check(payload, subject: digest) { return fail(problem) }
        var time = Date()
        if policy.tLogVerify {
            guard let text = layer.annotations[Self.bundleAnnotation] else {
                return fail("trust policy \(policy.name) requires a transparency log entry (tLogVerify) and the signature has no Rekor bundle")
            }
            guard let bundle = RekorBundle.parse(text) else { return fail("annotation \(Self.bundleAnnotation) is not a Rekor bundle") }
            if let problem = bundle.verify(signature: signature, payload: payload, key: key, certificate: leaf, trustedRoot: keyless.trust) {
                return fail(problem)
            }
            result.bundleVerified = true
            time = Date(timeIntervalSince1970: TimeInterval(bundle.integratedTime))
        }
        let intermediates = supplied.filter { !$0.isSelfIssued } + keyless.trust.intermediates
        if case .failure(let error) = CertificateChain.verify(leaf: leaf, intermediates: intermediates, roots: keyless.trust.roots, at: time) {
            return fail("the certificate does not chain to a trusted Fulcio root at \(ISO8601DateFormatter().string(from: time))\(result.bundleVerified ? " (the Rekor integratedTime)" : "") : \(error.message)")
        }
        guard leaf.allowsCodeSigning else { return fail("the certificate's extendedKeyUsage does not allow code signing") }
        let names = leaf.alternativeNames.map(\.value)
        guard let identity = names.first(where: keyless.identity.matches) else {
            return fail("the certificate's identities [\(names.joined(separator: ", "))] do not match certificateIdentity \(keyless.identity)")
        }
        guard let issuer = Self.oidcIssuer(leaf) else { return fail("the certificate has no Fulcio OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)") }
        guard keyless.issuer.matches(issuer) else {
            return fail("the certificate's OIDC issuer \"\(issuer)\" does not match certificateOIDCIssuer \(keyless.issuer)")
        }
        if keyless.ctLogVerify {
            let timestamps = SignedCertificateTimestamp.embedded(in: leaf)
            guard !timestamps.isEmpty else { return fail("the certificate has no embedded SCT and ctLogVerify is true") }
            let candidates = supplied + keyless.trust.intermediates + keyless.trust.roots
            guard let issuerCertificate = candidates.first(where: { leaf.isIssued(by: $0) }) else {
                return fail("the certificate's issuer is not known, so its SCT cannot be checked")
            }
            let verified = timestamps.contains { sct in
                keyless.trust.ctLogs[Hash.hexString(sct.logID)].map { sct.verify(certificate: leaf, issuer: issuerCertificate, logKey: $0) } ?? false
            }
            guard verified else {
                return fail("no embedded SCT verifies with a CT log of the trusted root (log IDs \(timestamps.map { Hash.hexString($0.logID).prefix(16) + "…" }.joined(separator: ", ")))")
            }
        }
        result.identity = (identity, issuer)
        return result
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
        if let keyless = policy.keyless {
            return await checkKeyless(layer, result: result, signature: Array(signature), payload: payload, digest: digest, policy: policy, keyless: keyless)
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
            if let identity = result.identity {
                verification["keyInformation"] = ["certificateIdentity": .string(identity.subject), "certificateOIDCIssuer": .string(identity.issuer)]
            }
            var summary: [JSONValue] = result.error == nil
                ? [result.identity == nil ? "signature verified with key" : "signature verified with a Fulcio certificate", "payload names the image digest"] : []
            if result.bundleVerified { summary.append("Rekor bundle verified offline") }
            verification["summary"] = .array(summary)
            return ["signature": .string(result.signature), "verifications": .array([.object(verification)])]
        }), "trustPolicy": .string(policy.name)]
    }
}
