import Core
import Crypto
import Foundation

/// One check that did not pass, and what the trust policy says to do about it.
public struct NotationCheckFailure: Sendable, Equatable {
    public let check: TrustPolicy.Check
    public let action: TrustPolicy.Action
    /// Stable reason code (`errorReason` in the report).
    public let reason: NotationReason
    public let message: String
}

/// The verdict on one signature envelope under one trust policy.
public struct NotationOutcome: @unchecked Sendable {
    public let policy: TrustPolicy
    public var envelope: SignatureEnvelope?
    public var failures: [NotationCheckFailure] = []

    /// The first failure the policy enforces: it decides the verdict.
    public var enforcedFailure: NotationCheckFailure? { failures.first { $0.action == .enforce } }
    public var isSuccess: Bool { enforcedFailure == nil }
    /// Failures the policy only logs (permissive / audit levels, `log` overrides).
    public var loggedFailures: [NotationCheckFailure] { failures.filter { $0.action == .log } }
}

/// The Notary Project verification workflow (trust-store-trust-policy.md, "Signature
/// Verification") as a pure function of the envelope bytes, the subject's descriptor, the trust
/// policy, the trust stores and the time. Revocation, which needs the network, is the verifier's
/// next step (`RevocationChecking`).
///
/// Order, as notation-go runs it: integrity → authenticity (trust store, trusted identity) →
/// expiry → authentic timestamp → descriptor match. A failure whose action is `enforce` stops
/// verification; a `log` failure is recorded and verification continues; `skip` skips the check.
public enum NotationVerification {
    /// `plugin`: the verification plugin the signature names, already located and checked
    /// (its metadata). A signature that names a plugin fails without it; with it, the checks
    /// the plugin performs instead are skipped here (notation-go skips the built-in
    /// trusted-identity match when the plugin has SIGNATURE_VERIFIER.TRUSTED_IDENTITY); the
    /// caller then runs the plugin's verify-signature.
    public static func verify(envelope bytes: [UInt8], mediaType: String, subject: Descriptor, policy: TrustPolicy,
                              trustStores: TrustStoreSet, providers: (any KeyManagementProviders)? = nil, now: Date = Date(),
                              plugin: VerificationPlugin.Metadata? = nil) -> NotationOutcome {
        var outcome = NotationOutcome(policy: policy)
        /// Records a failure; true when it is enforced (verification stops).
        func fail(_ check: TrustPolicy.Check, _ reason: NotationReason, _ message: String) -> Bool {
            let action = policy.action(for: check)
            guard action != .skip else { return false }
            outcome.failures.append(NotationCheckFailure(check: check, action: action, reason: reason, message: message))
            return action == .enforce
        }

        // 1. Integrity — always enforced: the envelope parses, the chain is well formed, `alg`
        // matches the signing key, and the signature verifies.
        let envelope: SignatureEnvelope
        do { envelope = try SignatureEnvelope.parse(bytes, mediaType: mediaType) } catch {
            _ = fail(.integrity, error.code, error.message)
            return outcome
        }
        outcome.envelope = envelope
        if let required = envelope.verificationPlugin, plugin?.name != required {
            _ = fail(.integrity, .verificationPluginRequired, "the signature requires verification plugin \"\(required)\"\(envelope.verificationPluginMinVersion.map { " (>= \($0))" } ?? ""), which is not available")
            return outcome
        }
        let delegated = Set(plugin?.capabilities ?? [])
        if let problem = integrityProblem(envelope) {
            _ = fail(.integrity, .signatureIntegrityFailure, problem)
            return outcome
        }
        let payload: NotationPayload
        do { payload = try NotationPayload.parse(envelope.payload) } catch {
            _ = fail(.integrity, error.code, error.message)
            return outcome
        }

        // 2. Authenticity — the chain contains a certificate from the policy's trust stores for
        // this signing scheme, and the signing certificate matches a trusted identity.
        if let (reason, message) = authenticityProblem(envelope, policy: policy, trustStores: trustStores, providers: providers,
                                                       checkIdentity: !delegated.contains(.trustedIdentity)),
           fail(.authenticity, reason, message) {
            return outcome
        }

        // 3. Expiry — "The artifact is considered expired when the current time is greater than
        // or equal to expiry time."
        if let expiry = envelope.expiry, now >= expiry,
           fail(.expiry, .signatureExpired, "the signature expired at \(timestamp(expiry)) (io.cncf.notary.expiry)") {
            return outcome
        }

        // 4. Authentic timestamp.
        if let (reason, message) = timestampProblem(envelope, policy: policy, trustStores: trustStores, providers: providers, now: now),
           fail(.authenticTimestamp, reason, message) {
            return outcome
        }

        // Last: "the targetArtifact … MUST match the descriptor of the artifact being verified"
        // (digest, media type and size; annotations are the signer's metadata).
        let target = payload.targetArtifact
        var mismatches: [String] = []
        if target.digest != subject.digest { mismatches.append("digest \(target.digest) (the subject is \(subject.digest))") }
        if target.mediaType != subject.mediaType { mismatches.append("media type \(target.mediaType) (the subject is \(subject.mediaType))") }
        if target.size != subject.size { mismatches.append("size \(target.size) (the subject is \(subject.size))") }
        if !mismatches.isEmpty {
            outcome.failures.append(NotationCheckFailure(check: .integrity, action: .enforce, reason: .signatureSubjectMismatch,
                                                         message: "the signature is for another artifact: its payload names \(mismatches.joined(separator: ", "))"))
        }
        return outcome
    }

    static func integrityProblem(_ envelope: SignatureEnvelope) -> String? {
        if let problem = CertificateChainRules.violation(envelope.certificates) { return problem }
        let key: PublicKey
        do { key = try envelope.leaf.publicKey() } catch { return "the signing certificate's key cannot be used: \(error.message)" }
        // "verifier of the signature MUST match alg with signature algorithm of the signing key
        // to mitigate algorithm substitution attacks."
        guard let required = SignatureAlgorithm.required(for: key.kind) else {
            return "the signing certificate's key (\(key.kind)) has no Notary Project signature algorithm"
        }
        guard required == envelope.algorithm else {
            return "the envelope declares \(envelope.algorithm.rawValue) but the signing key (\(key.kind)) requires \(required.rawValue)"
        }
        guard key.verify(signature: envelope.signature, message: envelope.signedBytes, scheme: envelope.algorithm.scheme(for: envelope.format)) else {
            return "the \(envelope.algorithm.rawValue) signature does not verify with the signing certificate's key: the envelope was modified or signed by another key"
        }
        return nil
    }

    static func storeCertificates(_ kind: TrustPolicy.TrustStore.Kind, policy: TrustPolicy, trustStores: TrustStoreSet,
                                  providers: (any KeyManagementProviders)?) -> Result<(names: [String], certificates: [Certificate]), TrustStoreError> {
        let stores = policy.trustStores.filter { $0.kind == kind }
        var certificates: [Certificate] = []
        for store in stores {
            switch trustStores.certificates(for: store, providers: providers) {
            case .success(let found): certificates += found
            case .failure(let error): return .failure(error)
            }
        }
        return .success((stores.map(\.description), certificates))
    }

    static func authenticityProblem(_ envelope: SignatureEnvelope, policy: TrustPolicy, trustStores: TrustStoreSet,
                                    providers: (any KeyManagementProviders)?, checkIdentity: Bool = true) -> (NotationReason, String)? {
        // signing-scheme.md: notary.x509 trusts `ca` stores, notary.x509.signingAuthority trusts
        // `signingAuthority` stores.
        let kind: TrustPolicy.TrustStore.Kind = envelope.signingScheme == .x509 ? .ca : .signingAuthority
        let stores: (names: [String], certificates: [Certificate])
        switch storeCertificates(kind, policy: policy, trustStores: trustStores, providers: providers) {
        case .success(let found): stores = found
        case .failure(let error): return (.trustStoreUnavailable, error.message)
        }
        guard !stores.names.isEmpty else {
            return (.trustStoreNotConfigured, "trust policy \"\(policy.name)\" names no \(kind.rawValue) trust store, which \(envelope.signingScheme.rawValue) signatures need")
        }
        guard !stores.certificates.isEmpty else {
            return (.trustStoreEmpty, "trust store(s) \(stores.names.joined(separator: ", ")) of trust policy \"\(policy.name)\" hold no certificates")
        }
        guard envelope.certificates.contains(where: { signer in stores.certificates.contains { $0 == signer } }) else {
            return (.signatureNotTrusted, "the signature is not produced by a trusted signer: its certificate chain (root \"\(envelope.certificates.last!.subject)\") contains no certificate from trust store(s) \(stores.names.joined(separator: ", "))")
        }
        guard checkIdentity else { return nil }
        // notation-go `verifyX509TrustedIdentities`: "*" trusts any signer; otherwise at least one
        // x509.subject identity must be configured (other prefixes are for plugins) and be a
        // subset of the leaf's subject, which must itself parse (C, ST, O; no multi-valued RDN).
        if policy.trustedIdentities.contains(where: { if case .any = $0 { true } else { false } }) { return nil }
        let x509Identities = policy.trustedIdentities.compactMap { identity -> DistinguishedName? in
            if case .x509Subject(let name) = identity { return name }
            return nil
        }
        guard !x509Identities.isEmpty else {
            return (.trustedIdentityMismatch, "trust policy \"\(policy.name)\" configures no x509.subject trusted identity (only \(policy.trustedIdentities.map(\.description).joined(separator: ", "))), which built-in verification needs")
        }
        let subject = DistinguishedName(certificateSubject: envelope.leaf.subjectAttributes)
        guard let subject, ["C", "ST", "O"].allSatisfy({ subject.value($0) != nil }) else {
            return (.trustedIdentityMismatch, "the signing certificate's subject \"\(envelope.leaf.subject)\" cannot be matched: it must name C, ST and O once each, in single-valued RDNs")
        }
        guard policy.trusts(subject: subject) else {
            return (.trustedIdentityMismatch, "the signing certificate's subject \"\(envelope.leaf.subject)\" matches none of trust policy \"\(policy.name)\"'s trustedIdentities [\(policy.trustedIdentities.map(\.description).joined(separator: "; "))]")
        }
        return nil
    }

    static func timestampProblem(_ envelope: SignatureEnvelope, policy: TrustPolicy, trustStores: TrustStoreSet,
                                 providers: (any KeyManagementProviders)?, now: Date) -> (NotationReason, String)? {
        let chain = envelope.certificates
        if envelope.signingScheme == .x509SigningAuthority {
            // signing-scheme.md: the authentic signing time must fall within every certificate's validity.
            let time = envelope.authenticSigningTime!
            if let invalid = chain.first(where: { !$0.isValid(at: time) }) {
                return (.certificateExpired, "certificate \"\(invalid.subject)\" (valid \(timestamp(invalid.notBefore)) to \(timestamp(invalid.notAfter))) was not valid at the authentic signing time \(timestamp(time))")
            }
            return nil
        }
        // notation-go `verifyTimestamp`: timestamp verification is on only when the policy
        // names a tsa trust store, and with `verifyTimestamp: afterCertExpiry` only once a
        // certificate of the chain has expired. Off, "each and every certificate in the
        // certificate chain … must be valid … at the time of signature verification" and a
        // countersignature, if any, is not looked at.
        let expiredNow = chain.first { !$0.isValid(at: now) }
        let tsa: (names: [String], certificates: [Certificate])
        switch storeCertificates(.tsa, policy: policy, trustStores: trustStores, providers: providers) {
        case .success(let found): tsa = found
        case .failure(let error): return (.trustStoreUnavailable, error.message)
        }
        let verifyTimestamp = !tsa.names.isEmpty && (policy.verifyTimestamp == .always || expiredNow != nil)
        guard verifyTimestamp else {
            if let expired = expiredNow {
                return (.certificateExpired, "certificate \"\(expired.subject)\" is not valid now (valid \(timestamp(expired.notBefore)) to \(timestamp(expired.notAfter)))\(tsa.names.isEmpty ? " and trust policy \"\(policy.name)\" names no tsa trust store to verify a timestamp with" : "")")
            }
            return nil
        }
        // "Timestamp countersignature MUST be present" once timestamp verification is on.
        guard let tokenBytes = envelope.timestampToken else {
            return (.timestampMissing, "trust policy \"\(policy.name)\" verifies timestamps (tsa store(s) \(tsa.names.joined(separator: ", ")), verifyTimestamp \(policy.verifyTimestamp.rawValue)) and the signature has no timestamp countersignature")
        }
        guard !tsa.certificates.isEmpty else {
            return (.timestampNotTrusted, "trust store(s) \(tsa.names.joined(separator: ", ")) of trust policy \"\(policy.name)\" hold no TSA certificates")
        }
        let token: TimestampToken
        do { token = try TimestampToken.parse(tokenBytes) } catch {
            return (.timestampInvalid, "the timestamp countersignature is unreadable: \(error.message)")
        }
        // The countersignature is over the envelope's signature value.
        switch token.verify(message: envelope.signature, roots: tsa.certificates) {
        case .failure(let error):
            return (.timestampInvalid, "\(error.message) (trust store(s) \(tsa.names.joined(separator: ", ")))")
        case .success(let tsaChain):
            // notation-go: "Validate timestamping certificate chain" (ValidateTimestampingCertChain).
            if let problem = CertificateChainRules.violation(tsaChain, purpose: .timestamping) {
                return (.timestampInvalid, "the timestamping certificate chain does not meet the Notary Project requirements: \(problem)")
            }
        }
        // The whole range genTime ± accuracy must sit inside every certificate's validity.
        if let invalid = chain.first(where: { !($0.notBefore <= token.earliest && token.latest <= $0.notAfter) }) {
            return (.certificateExpired, "certificate \"\(invalid.subject)\" (valid \(timestamp(invalid.notBefore)) to \(timestamp(invalid.notAfter))) was not valid at the timestamp \(timestamp(token.time))\(token.accuracy > 0 ? " ± \(token.accuracy) s" : "")")
        }
        return nil
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
