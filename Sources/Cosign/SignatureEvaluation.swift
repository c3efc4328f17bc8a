import Core
import Crypto
import Foundation
import JSON

/// One signature as the trust checks see it, whatever carried it (a `.sig` layer with its
/// annotations, or a Sigstore bundle).
struct SignatureEvidence {
    var digest: String
    /// Base64 signature, as reports show it.
    var signatureText: String
    /// Why the material could not even be read; the signature then fails with this reason.
    var unreadable: String?
    var verifies: (PublicKey) -> Bool = { _ in false }
    /// Whether what was signed names the image (`nil` when it does).
    var subjectProblem: (Digest) -> String? = { _ in "nothing was signed" }
    /// Whether the signed content carries the annotations a policy requires.
    var annotationsProblem: ([String: String]) -> String? = { $0.isEmpty ? nil : "this signature format carries no signed annotations" }
    var certificate: Certificate?
    var chain: [Certificate] = []
    var tlog: RekorBundle?
    /// Why present tlog material cannot be checked (it then fails a policy that needs the log).
    var tlogProblem: String?
    /// SHA-256 (hex) the tlog entry must record for this signature's content.
    /// What the tlog entry must record for this signature's content (hashedrekord `data.hash`,
    /// dsse/intoto `payloadHash`).
    var loggedPayloadHash = Digest.of([])
    var signature: [UInt8] = []
    /// RFC 3161 tokens (DER) over the signature bytes.
    var timestamps: [[UInt8]] = []
    /// Where the tlog entry came from when it was not carried by the signature.
    var tlogSource: String?
}

/// What a looked-up Rekor entry must be bound to.
struct PendingLookup {
    let key: PublicKey
    let certificate: Certificate?
    let root: TrustedRoot
}

struct SignatureResult {
    var digest: String
    var signature: String
    var error: String?
    var key: String?
    var bundleVerified = false
    var timestampVerified = false
    var tlogSource: String?
    /// Set when the signature passed every local check and only lacks its Rekor entry.
    var pendingLookup: PendingLookup?
    /// Keyless: the SAN that matched and the certificate's OIDC issuer.
    var identity: (subject: String, issuer: String)?
}

extension CosignVerifier {
    /// A `.sig` manifest layer: the simple-signing payload blob and its annotations.
    func layerEvidence(_ layer: Descriptor, subject: ImageReference, store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> SignatureEvidence {
        let encoded = layer.annotations[Self.signatureAnnotation] ?? ""
        var evidence = SignatureEvidence(digest: layer.digest.description, signatureText: encoded)
        guard !encoded.isEmpty, let signature = Base64.decode(encoded, .standard) else {
            evidence.unreadable = "annotation \(Self.signatureAnnotation) is missing or not base64"
            return evidence
        }
        let payload: [UInt8]
        if let predicted = SimpleSigning.predictedPayload(for: layer, subject: subject) {
            payload = predicted
        } else {
            do { payload = try await store.blob(layer, in: subject, deadline: deadline) } catch {
                evidence.unreadable = "cannot fetch the signed payload: \(error)"
                return evidence
            }
        }
        evidence.signature = signature
        // cosign and Ratify verify `.sig` signatures with SHA-256 whatever the key's size or
        // curve (cosign `LoadPublicKey(…, crypto.SHA256)`); newer signers hash P-384/P-521 with
        // SHA-384/512. Either is the key holder's signature over this payload.
        evidence.verifies = { key in
            key.verify(signature: signature, message: payload, hash: key.sigstoreHash)
                || (key.sigstoreHash != .sha256 && key.sigstoreHash != nil && key.verify(signature: signature, message: payload, hash: .sha256))
        }
        evidence.subjectProblem = { SimpleSigning.check(payload, subject: $0) }
        evidence.annotationsProblem = { SimpleSigning.annotationsProblem(payload, required: $0) }
        evidence.loggedPayloadHash = Digest.of(payload)
        if let pem = layer.annotations[Self.certificateAnnotation] {
            guard let certificate = try? Certificate.pemChain(Array(pem.utf8), source: Self.certificateAnnotation).first else {
                evidence.unreadable = "annotation \(Self.certificateAnnotation) is not a PEM certificate"
                return evidence
            }
            evidence.certificate = certificate
        }
        // An unreadable chain is an error, as in cosign (`Chain()`) and containers/image — never
        // silently dropped.
        if let pem = layer.annotations[Self.chainAnnotation], !pem.isEmpty {
            guard let chain = try? Certificate.pemChain(Array(pem.utf8), source: Self.chainAnnotation) else {
                evidence.unreadable = "annotation \(Self.chainAnnotation) is not a PEM certificate chain"
                return evidence
            }
            evidence.chain = chain
        }
        if let text = layer.annotations[Self.bundleAnnotation] {
            guard let bundle = RekorBundle.parse(text) else {
                evidence.unreadable = "annotation \(Self.bundleAnnotation) is not a Rekor bundle"
                return evidence
            }
            evidence.tlog = bundle
        }
        if let text = layer.annotations[Self.timestampAnnotation] {
            guard let document = try? JSONParser.parse(text), let encoded = document["SignedRFC3161Timestamp"]?.stringValue,
                  let token = Base64.decode(encoded, .standard) else {
                evidence.unreadable = "annotation \(Self.timestampAnnotation) is not {\"SignedRFC3161Timestamp\": <base64>}"
                return evidence
            }
            evidence.timestamps = [Array(token)]
        }
        return evidence
    }

    /// A Sigstore bundle layer (cosign BUNDLE_SPEC.md): message signature or DSSE envelope.
    func bundleEvidence(_ layer: Descriptor, subject: ImageReference, store: any ReferrerStore, deadline: ContinuousClock.Instant) async -> SignatureEvidence {
        var evidence = SignatureEvidence(digest: layer.digest.description, signatureText: "")
        let bundle: SigstoreBundle
        do {
            bundle = try SigstoreBundle.parse(try await store.blob(layer, in: subject, deadline: deadline))
        } catch let error as CosignError {
            evidence.unreadable = error.message
            return evidence
        } catch {
            evidence.unreadable = "cannot fetch the Sigstore bundle: \(error)"
            return evidence
        }
        evidence.signatureText = Data(bundle.signature).base64EncodedString()
        evidence.signature = bundle.signature
        evidence.verifies = bundle.verifies
        evidence.subjectProblem = bundle.subjectProblem
        evidence.certificate = bundle.certificate
        evidence.chain = bundle.chain
        evidence.tlog = bundle.tlog
        evidence.tlogProblem = bundle.tlogProblem
        evidence.loggedPayloadHash = bundle.loggedPayloadHash
        evidence.timestamps = bundle.timestamps
        return evidence
    }

    /// The trust policy's checks on one signature: keys, or keyless (cosign `verify
    /// --certificate-identity … --certificate-oidc-issuer …`, offline).
    func evaluate(_ evidence: SignatureEvidence, digest: Digest, policy: CosignTrustPolicy) -> SignatureResult {
        var result = SignatureResult(digest: evidence.digest, signature: evidence.signatureText)
        func fail(_ message: String) -> SignatureResult {
            result.error = message
            return result
        }
        if let reason = evidence.unreadable { return fail(reason) }
        let key: PublicKey
        if policy.keyless != nil {
            guard let certificate = evidence.certificate, let certificateKey = try? certificate.publicKey() else {
                return fail("trust policy \(policy.name) is keyless and the signature carries no usable certificate")
            }
            guard evidence.verifies(certificateKey) else {
                return fail("signature does not verify with the key of its certificate (\(certificate.subjectRFC2253.isEmpty ? "Fulcio certificate" : certificate.subjectRFC2253))")
            }
            key = certificateKey
        } else {
            var candidates = policy.keys
            var unavailable: [String] = []
            for reference in policy.providerKeys {
                guard let served = providers?.keys(provider: reference.provider) else {
                    unavailable.append(reference.provider)
                    continue
                }
                candidates += reference.select(served).map { ("\(reference.provider)/\($0.name)", $0.key) }
            }
            guard let match = candidates.first(where: { evidence.verifies($0.key) }) else {
                let missing = unavailable.isEmpty ? "" : "; key management provider(s) \(unavailable.joined(separator: ", ")) not available"
                return fail("signature does not verify with the \(candidates.count) key(s) of trust policy \(policy.name)\(missing)")
            }
            key = match.key
            result.key = match.source
        }
        if let problem = evidence.subjectProblem(digest) ?? evidence.annotationsProblem(policy.annotations) { return fail(problem) }
        var time = Date()
        var timeFromTlog = false
        if policy.tLogVerify {
            // Fail closed: a policy that asks for the transparency log is satisfied only by a
            // signature whose Rekor entry verifies offline against a trusted log key.
            guard let root = policy.keyless?.trust ?? config.trustedRoot, !root.logs.isEmpty else {
                return fail("trust policy \(policy.name) requires a transparency log entry (tLogVerify) but no trustedRoot with Rekor keys is configured")
            }
            guard let tlog = evidence.tlog else {
                if let problem = evidence.tlogProblem { return fail("trust policy \(policy.name) requires a transparency log entry (tLogVerify): \(problem)") }
                // Everything local holds: the entry may be looked up (the caller's next step).
                result.pendingLookup = PendingLookup(key: key, certificate: evidence.certificate, root: root)
                return fail("trust policy \(policy.name) requires a transparency log entry (tLogVerify) and the signature has no Rekor bundle")
            }
            if let problem = tlog.logProblem(trustedRoot: root)
                ?? tlog.entryProblem(signature: evidence.signature, payloadHash: evidence.loggedPayloadHash, key: key, certificate: evidence.certificate) {
                return fail(problem)
            }
            result.bundleVerified = true
            result.tlogSource = evidence.tlogSource
            // Only an inclusion promise vouches for the integrated time (an inclusion proof does
            // not sign it): without one, certificates are checked now.
            if tlog.hasPromise {
                time = Date(timeIntervalSince1970: TimeInterval(tlog.integratedTime))
                timeFromTlog = true
            }
        }
        // RFC 3161 timestamps over the signature, from TSAs of the trusted root: each must verify
        // (as sigstore-go requires); the first gives the signing time when the log gives none.
        var timeSource = timeFromTlog ? " (the Rekor integratedTime)" : ""
        if !evidence.timestamps.isEmpty, let root = policy.keyless?.trust ?? config.trustedRoot, !root.timestampAuthorities.isEmpty {
            for (index, der) in evidence.timestamps.enumerated() {
                let token: TimestampToken
                // sigstore's `signedTimestamp` and cosign's `SignedRFC3161Timestamp` hold the TSA's
                // DER TimeStampResp (RFC 3161 §2.4.2); a bare TimeStampToken is read too.
                do { token = try TimestampToken.parse(response: der) } catch {
                    do { token = try TimestampToken.parse(der) } catch { return fail("RFC 3161 timestamp \(index + 1) is neither a TimeStampResp nor a TimeStampToken: \(error.message)") }
                }
                // The chains' self-signed roots are the anchors; their other certificates (the
                // TSA's own, which tokens often leave out) help build the path.
                let authorities = root.timestampAuthorities(at: token.time)
                if case .failure(let error) = token.verify(message: evidence.signature, roots: authorities.filter(\.isSelfIssued),
                                                           certificates: authorities.filter { !$0.isSelfIssued }) {
                    return fail("RFC 3161 timestamp \(index + 1) does not verify against the trusted root's timestamp authorities: \(error.message)")
                }
                if !timeFromTlog && index == 0 {
                    time = token.time
                    timeSource = " (the RFC 3161 timestamp)"
                }
            }
            result.timestampVerified = true
        }
        if let keyless = policy.keyless, let certificate = evidence.certificate {
            switch Self.keylessProblem(certificate, supplied: evidence.chain, keyless: keyless, at: time, timeSource: timeSource) {
            case .failure(let message): return fail(message.text)
            case .success(let identity): result.identity = identity
            }
        }
        return result
    }

    struct Message: Error { let text: String }

    /// Fulcio certificate checks: chain to a trusted root at `time` (the Rekor integratedTime when
    /// there is one — Fulcio certificates live minutes, so an expired one passes only with a
    /// valid tlog entry), code signing, SAN identity, OIDC issuer, and an embedded SCT from a
    /// trusted CT log when ctLogVerify.
    static func keylessProblem(_ leaf: Certificate, supplied: [Certificate], keyless: KeylessPolicy, at time: Date,
                               timeSource: String) -> Result<(subject: String, issuer: String), Message> {
        // Only the CAs whose trusted-root window includes the signing time (sigstore-go).
        let intermediates = supplied.filter { !$0.isSelfIssued } + keyless.trust.intermediates(at: time)
        if case .failure(let error) = CertificateChain.verify(leaf: leaf, intermediates: intermediates, roots: keyless.trust.roots(at: time), at: time) {
            return .failure(Message(text: "the certificate does not chain to a trusted Fulcio root at \(ISO8601DateFormatter().string(from: time))\(timeSource): \(error.message)"))
        }
        guard leaf.allowsCodeSigning else { return .failure(Message(text: "the certificate's extendedKeyUsage does not allow code signing")) }
        // sigstore's GetSubjectAlternateNames: DNS, email, IP, URI, and the one otherName Fulcio
        // writes (1.3.6.1.4.1.57264.1.7, a username) — other otherNames are not identities.
        let names = leaf.alternativeNames.compactMap { name -> String? in
            if case .other(let oid, _) = name, oid != "1.3.6.1.4.1.57264.1.7" { return nil }
            return name.value
        }
        guard let identity = names.first(where: keyless.identity.matches) else {
            return .failure(Message(text: "the certificate's identities [\(names.joined(separator: ", "))] do not match certificateIdentity \(keyless.identity)"))
        }
        // cosign reads a certificate without the issuer extension (a private PKI's) as issuer
        // "": only a pattern that matches the empty string accepts it. An extension that is
        // present but unreadable is refused.
        let hasIssuerExtension = leaf.extensionValue(oid: "1.3.6.1.4.1.57264.1.8") != nil || leaf.extensionValue(oid: "1.3.6.1.4.1.57264.1.1") != nil
        guard let issuer = hasIssuerExtension ? oidcIssuer(leaf) : "" else {
            return .failure(Message(text: "the certificate's Fulcio OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1) is unreadable"))
        }
        guard keyless.issuer.matches(issuer) else {
            return .failure(Message(text: issuer.isEmpty ? "the certificate has no Fulcio OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1), so its issuer \"\" does not match certificateOIDCIssuer \(keyless.issuer)"
                                                         : "the certificate's OIDC issuer \"\(issuer)\" does not match certificateOIDCIssuer \(keyless.issuer)"))
        }
        if keyless.ctLogVerify {
            let timestamps = SignedCertificateTimestamp.embedded(in: leaf)
            guard !timestamps.isEmpty else { return .failure(Message(text: "the certificate has no embedded SCT and ctLogVerify is true")) }
            let candidates = supplied + keyless.trust.intermediates + keyless.trust.roots
            guard let issuerCertificate = candidates.first(where: { leaf.isIssued(by: $0) }) else {
                return .failure(Message(text: "the certificate's issuer is not known, so its SCT cannot be checked"))
            }
            let verified = timestamps.contains { sct in
                let id = Hash.hexString(sct.logID)
                let when = Date(timeIntervalSince1970: TimeInterval(sct.timestamp) / 1000)
                guard keyless.trust.ctLogWindows[id]?.contains(when) ?? true else { return false }
                return keyless.trust.ctLogs[id].map { sct.verify(certificate: leaf, issuer: issuerCertificate, logKey: $0) } ?? false
            }
            guard verified else {
                return .failure(Message(text: "no embedded SCT verifies with a CT log of the trusted root (log IDs \(timestamps.map { Hash.hexString($0.logID).prefix(16) + "…" }.joined(separator: ", ")))"))
            }
        }
        return .success((identity, issuer))
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
}
