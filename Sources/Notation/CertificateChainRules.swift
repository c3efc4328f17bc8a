internal import CShims
import Crypto

/// The Notary Project's certificate requirements (signature-specification.md, "Certificate
/// Requirements"), applied to the chain in the envelope independently of any trust store.
enum CertificateChainRules {
    enum Purpose { case codeSigning, timestamping }

    /// Checks order, issuance and each certificate's profile. Returns why the chain is
    /// unacceptable, or nil.
    static func violation(_ chain: [Certificate], purpose: Purpose = .codeSigning) -> String? {
        guard let root = chain.last else { return "the certificate chain is empty" }
        // "Valid certificate chain MUST contain a root certificate."
        guard root.isSelfIssued, root.isIssued(by: root) else {
            return "the certificate chain does not end in a self-signed root certificate (last is \"\(root.subject)\")"
        }
        // "The certificate MUST NOT chain to multiple parents/roots … MUST NOT contain a
        // certificate that is unrelated to the certificate chain": each certificate is issued by the next.
        for index in chain.indices.dropLast() where !chain[index].isIssued(by: chain[index + 1]) {
            return "certificate \(index) (\"\(chain[index].subject)\") is not issued by the next certificate in the chain (\"\(chain[index + 1].subject)\")"
        }
        for (index, certificate) in chain.enumerated() {
            // "Any certificate in the certificate chain MUST NOT use SHA1WithRSA and ECDSAWithSHA1 signatures."
            if certificate.isSignedWithSHA1 { return "certificate \"\(certificate.subject)\" is signed with SHA-1" }
            if let problem = keyProblem(certificate) { return problem }
            // "If the certificate chain contains only a root certificate then the root
            // certificate MUST meet Leaf Certificates requirements."
            let problem = index == 0 ? leafProblem(certificate, purpose: purpose) : caProblem(certificate, caBelow: index - 1)
            if let problem { return problem }
        }
        return nil
    }

    /// "For RSA public key, the key length MUST be 2048 bits or higher. For ECDSA public key,
    /// the key length MUST be 256 bits or higher."
    static func keyProblem(_ certificate: Certificate) -> String? {
        guard let key = try? certificate.publicKey() else { return "certificate \"\(certificate.subject)\" has an unsupported or unreadable public key" }
        switch key.kind {
        case .rsa(let bits) where bits < 2048: return "certificate \"\(certificate.subject)\" has an RSA key of \(bits) bits (at least 2048 are required)"
        case .ed25519: return "certificate \"\(certificate.subject)\" has an Ed25519 key, which notary signatures do not allow"
        default: return nil
        }
    }

    static func leafProblem(_ certificate: Certificate, purpose: Purpose) -> String? {
        let name = "\(purpose == .codeSigning ? "signing" : "timestamping") certificate \"\(certificate.subject)\""
        // "basicConstraints … If present, the cA field MUST be set to false." (A lone root acts as the leaf.)
        if certificate.basicConstraints.present && certificate.isCA && !certificate.isSelfIssued {
            return "\(name) is a CA certificate (basicConstraints cA must be false)"
        }
        // "The keyUsage extension MUST be present and MUST be marked critical. Bit positions
        // for digitalSignature MUST be set. … keyEncipherment, dataEncipherment, keyAgreement,
        // keyCertSign, encipherOnly, decipherOnly and cRLSign MUST NOT be set."
        guard certificate.keyUsageExtension.present, let usage = certificate.keyUsage else { return "\(name) has no keyUsage extension" }
        guard certificate.keyUsageExtension.critical else { return "\(name)'s keyUsage extension is not marked critical" }
        guard usage & UInt32(KU_DIGITAL_SIGNATURE) != 0 else { return "\(name)'s keyUsage does not include digitalSignature" }
        let forbidden: [(UInt32, String)] = [(UInt32(KU_KEY_ENCIPHERMENT), "keyEncipherment"), (UInt32(KU_DATA_ENCIPHERMENT), "dataEncipherment"),
                                             (UInt32(KU_KEY_AGREEMENT), "keyAgreement"), (UInt32(KU_ENCIPHER_ONLY), "encipherOnly"),
                                             (UInt32(KU_DECIPHER_ONLY), "decipherOnly"), (UInt32(KU_CRL_SIGN), "cRLSign")]
            + (certificate.isSelfIssued ? [] : [(UInt32(KU_KEY_CERT_SIGN), "keyCertSign")])
        for (bit, label) in forbidden where usage & bit != 0 { return "\(name)'s keyUsage must not include \(label)" }
        // extendedKeyUsage: "If present, the value MAY contain id-kp-codeSigning and MUST NOT
        // contain anyExtendedKeyUsage, serverAuth, clientAuth, emailProtection and timeStamping"
        // (for timestamping certificates: MUST contain timeStamping and not codeSigning).
        if let eku = certificate.extendedKeyUsage {
            var refused: [(UInt32, String)] = [(UInt32(XKU_ANYEKU), "anyExtendedKeyUsage"), (UInt32(XKU_SSL_SERVER), "serverAuth"),
                                               (UInt32(XKU_SSL_CLIENT), "clientAuth"), (UInt32(XKU_SMIME), "emailProtection")]
            switch purpose {
            case .codeSigning: refused.append((UInt32(XKU_TIMESTAMP), "timeStamping"))
            case .timestamping:
                refused.append((UInt32(XKU_CODE_SIGN), "codeSigning"))
                guard eku & UInt32(XKU_TIMESTAMP) != 0 else { return "\(name)'s extendedKeyUsage does not include timeStamping" }
            }
            for (bit, label) in refused where eku & bit != 0 { return "\(name)'s extendedKeyUsage must not include \(label)" }
        }
        return nil
    }

    /// "The basicConstraints extension MUST be present and MUST be marked as critical. The cA
    /// field MUST be set true. … pathLenConstraint … MUST be verified against the depth of the
    /// chain below that CA certificate." and "keyUsage … MUST be marked critical. Bit positions
    /// for keyCertSign MUST be set."
    static func caProblem(_ certificate: Certificate, caBelow: Int) -> String? {
        let name = "CA certificate \"\(certificate.subject)\""
        guard certificate.basicConstraints.present, certificate.isCA else { return "\(name) is not marked as a CA (basicConstraints cA)" }
        guard certificate.basicConstraints.critical else { return "\(name)'s basicConstraints extension is not marked critical" }
        if let limit = certificate.pathLength, caBelow > limit {
            return "\(name) allows \(limit) intermediate CA certificate(s) below it, the chain has \(caBelow)"
        }
        guard certificate.keyUsageExtension.present, let usage = certificate.keyUsage else { return "\(name) has no keyUsage extension" }
        guard certificate.keyUsageExtension.critical else { return "\(name)'s keyUsage extension is not marked critical" }
        guard usage & UInt32(KU_KEY_CERT_SIGN) != 0 else { return "\(name)'s keyUsage does not include keyCertSign" }
        return nil
    }
}
