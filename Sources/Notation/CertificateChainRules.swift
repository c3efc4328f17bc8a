import Crypto
import Foundation

/// The Notary Project's certificate requirements (signature-specification.md, "Certificate
/// Requirements"), applied to the chain in the envelope independently of any trust store. The
/// shape of each check follows notation-core-go's `ValidateCodeSigningCertChain` and
/// `ValidateTimestampingCertChain` (x509/codesigning_cert_validations.go,
/// timestamp_cert_validations.go), which is what notation and Ratify users' signatures are
/// known to pass; where we are stricter, docs/compatibility.md says so and why.
enum CertificateChainRules {
    enum Purpose { case codeSigning, timestamping }

    /// Checks order, issuance and each certificate's profile, and — when `signingTime` is given —
    /// that every certificate was valid then. Returns why the chain is unacceptable, or nil.
    static func violation(_ chain: [Certificate], purpose: Purpose = .codeSigning, signingTime: Date? = nil) -> String? {
        guard let leaf = chain.first else { return "the certificate chain is empty" }
        // A chain of one: "the certificate chain contains only a root certificate then the root
        // certificate MUST meet Leaf Certificates requirements" — the self-signed signing
        // certificate `notation cert generate-test` makes (digitalSignature, no CA bit). It must
        // sign itself and name itself as issuer; it need not be a CA.
        if chain.count == 1 {
            guard leaf.isSelfSigned else {
                return "the only certificate of the chain (\"\(leaf.subject)\") is not self-signed: its issuer is \"\(leaf.issuer)\" and a chain must end in a self-signed certificate"
            }
            if let problem = validityProblem(leaf, signingTime) { return problem }
            return keyProblem(leaf) ?? leafProblem(leaf, purpose: purpose)
        }
        for (index, certificate) in chain.enumerated() {
            if let problem = validityProblem(certificate, signingTime) { return problem }
            if index == chain.count - 1 {
                // "Valid certificate chain MUST contain a root certificate."
                guard certificate.isSelfSigned else {
                    return "the certificate chain does not end in a self-signed root certificate (last is \"\(certificate.subject)\")"
                }
            } else {
                // notation-core-go refuses a self-signed leaf or intermediate before a root: a
                // redundant root in the middle would let an unrelated certificate ride along.
                if certificate.isSelfSigned {
                    return "\(index == 0 ? "the signing" : "intermediate") certificate \"\(certificate.subject)\" is self-signed but is not the last of the chain"
                }
                // "The certificate MUST NOT chain to multiple parents/roots … MUST NOT contain a
                // certificate that is unrelated to the certificate chain": each certificate is
                // issued by the next.
                guard certificate.isIssued(by: chain[index + 1]) else {
                    return "certificate \(index) (\"\(certificate.subject)\") is not issued by the next certificate in the chain (\"\(chain[index + 1].subject)\")"
                }
            }
            // "Any certificate in the certificate chain MUST NOT use SHA1WithRSA and ECDSAWithSHA1 signatures."
            if certificate.isSignedWithSHA1 { return "certificate \"\(certificate.subject)\" is signed with SHA-1" }
            if let problem = keyProblem(certificate) { return problem }
            let problem = index == 0 ? leafProblem(certificate, purpose: purpose) : caProblem(certificate, caBelow: index - 1, purpose: purpose)
            if let problem { return problem }
        }
        return nil
    }

    static func validityProblem(_ certificate: Certificate, _ signingTime: Date?) -> String? {
        guard let signingTime, !certificate.isValid(at: signingTime) else { return nil }
        return "certificate \"\(certificate.subject)\" (valid \(NotationVerification.timestamp(certificate.notBefore)) to \(NotationVerification.timestamp(certificate.notAfter))) was not valid at the signing time \(NotationVerification.timestamp(signingTime))"
    }

    /// "For RSA public key, the key length MUST be 2048 bits or higher. For ECDSA public key,
    /// the key length MUST be 256 bits or higher." The sizes are enforced where keys are read
    /// (`PublicKey`: RSA ≥ 2048, P-256/384/521 only), whose reason is passed on. (Applied to
    /// every certificate; notation-go checks only the leaf's key — see docs/compatibility.md.)
    static func keyProblem(_ certificate: Certificate) -> String? {
        let key: PublicKey
        do { key = try certificate.publicKey() } catch {
            return "certificate \"\(certificate.subject)\" has an unusable public key: \(error.message)"
        }
        if key.kind == .ed25519 { return "certificate \"\(certificate.subject)\" has an Ed25519 key, which notary signatures do not allow" }
        return nil
    }

    static func leafProblem(_ certificate: Certificate, purpose: Purpose) -> String? {
        let name = "\(purpose == .codeSigning ? "signing" : "timestamping") certificate \"\(certificate.subject)\""
        // "basicConstraints … If present, the cA field MUST be set to false." — a lone
        // self-signed certificate too (notation-core-go: validateLeafBasicConstraints).
        if certificate.hasCABasicConstraint { return "\(name) is a CA certificate (basicConstraints cA must be false)" }
        // "The keyUsage extension MUST be present and MUST be marked critical. Bit positions
        // for digitalSignature MUST be set. … keyEncipherment, dataEncipherment, keyAgreement,
        // keyCertSign, encipherOnly, decipherOnly and cRLSign MUST NOT be set." notation-core-go
        // requires the critical mark on code signing certificates only.
        guard let usage = certificate.keyUsage else { return "\(name) has no keyUsage extension" }
        if purpose == .codeSigning, !certificate.keyUsageExtension.critical { return "\(name)'s keyUsage extension is not marked critical" }
        guard usage.contains(.digitalSignature) else { return "\(name)'s keyUsage does not include digitalSignature" }
        let forbidden = usage.intersection([.keyEncipherment, .dataEncipherment, .keyAgreement, .keyCertSign, .cRLSign, .encipherOnly, .decipherOnly])
        if !forbidden.isEmpty { return "\(name)'s keyUsage must be digitalSignature only, but includes \(forbidden)" }
        switch purpose {
        case .codeSigning:
            // extendedKeyUsage: "If present, the value MAY contain id-kp-codeSigning and MUST NOT
            // contain anyExtendedKeyUsage, serverAuth, emailProtection and timeStamping"
            // (notation-core-go also refuses clientAuth and OCSPSigning).
            guard let eku = certificate.extendedKeyUsage else { return nil }
            let refused = eku.known.intersection([.any, .serverAuth, .clientAuth, .emailProtection, .timeStamping, .ocspSigning])
            if !refused.isEmpty { return "\(name)'s extendedKeyUsage must not include \(refused)" }
        case .timestamping:
            // RFC 3161 §2.3: "The corresponding certificate MUST contain only one instance of the
            // extended key usage field extension … id-kp-timeStamping … MUST be marked as critical."
            guard let eku = certificate.extendedKeyUsage, eku.known == .timeStamping, eku.count == 1 else {
                return "\(name) must have timeStamping as its only extendedKeyUsage"
            }
            guard certificate.extendedKeyUsageExtension.critical else { return "\(name)'s extendedKeyUsage extension is not marked critical" }
        }
        return nil
    }

    /// "The basicConstraints extension MUST be present … The cA field MUST be set true. …
    /// pathLenConstraint … MUST be verified against the depth of the chain below that CA
    /// certificate." and "keyUsage … Bit positions for keyCertSign MUST be set." As in
    /// notation-core-go, the basicConstraints critical mark is not demanded, the keyUsage one
    /// is for code signing chains.
    static func caProblem(_ certificate: Certificate, caBelow: Int, purpose: Purpose) -> String? {
        let name = "CA certificate \"\(certificate.subject)\""
        guard certificate.hasCABasicConstraint else { return "\(name) is not marked as a CA (basicConstraints cA)" }
        if let limit = certificate.pathLength, caBelow > limit {
            return "\(name) allows \(limit) intermediate CA certificate(s) below it, the chain has \(caBelow)"
        }
        guard let usage = certificate.keyUsage else { return "\(name) has no keyUsage extension" }
        if purpose == .codeSigning, !certificate.keyUsageExtension.critical { return "\(name)'s keyUsage extension is not marked critical" }
        guard usage.contains(.keyCertSign) else { return "\(name)'s keyUsage does not include keyCertSign" }
        return nil
    }
}
