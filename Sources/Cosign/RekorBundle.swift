import Core
import Crypto
import Foundation
import JSON

/// cosign's `dev.sigstore.cosign/bundle` annotation: Rekor's promise that an entry was logged.
///
///     {"SignedEntryTimestamp": "<base64>",
///      "Payload": {"body": "<base64 entry>", "integratedTime": 1700000000, "logIndex": 42, "logID": "<hex>"}}
public struct RekorBundle: Sendable, Equatable {
    /// The inclusion promise; empty when the entry carries only an inclusion proof.
    public var signedEntryTimestamp: [UInt8]
    public var body: String
    /// Seconds since the epoch; trusted only when the promise verifies (it is what the SET signs).
    public var integratedTime: Int
    public var logIndex: Int
    public var logID: String
    /// The inclusion proof of a Sigstore bundle's entry (Rekor v2 writes only this).
    public var inclusionProof: InclusionProof? = nil

    public init(signedEntryTimestamp: [UInt8], body: String, integratedTime: Int, logIndex: Int, logID: String, inclusionProof: InclusionProof? = nil) {
        self.signedEntryTimestamp = signedEntryTimestamp
        self.body = body
        self.integratedTime = integratedTime
        self.logIndex = logIndex
        self.logID = logID
        self.inclusionProof = inclusionProof
    }

    /// Whether the integrated time is vouched for by the log (an inclusion promise).
    public var hasPromise: Bool { !signedEntryTimestamp.isEmpty }

    public static func parse(_ text: String) -> RekorBundle? {
        guard let document = try? JSONParser.parse(text), let payload = document["Payload"],
              let set = document["SignedEntryTimestamp"]?.stringValue, let setBytes = Base64.decode(set, .standard),
              let body = payload["body"]?.stringValue, let time = payload["integratedTime"]?.intValue,
              let index = payload["logIndex"]?.intValue, let logID = payload["logID"]?.stringValue else { return nil }
        return RekorBundle(signedEntryTimestamp: Array(setBytes), body: body, integratedTime: time, logIndex: index, logID: logID)
    }

    /// Rekor signs the RFC 8785 canonical JSON of the payload: keys sorted, no whitespace. For
    /// these four fields (strings and integers) that is sorted compact JSON.
    var canonicalPayload: [UInt8] {
        JSONWriter.encode(["body": .string(body), "integratedTime": .int(integratedTime), "logID": .string(logID), "logIndex": .int(logIndex)])
    }

    /// Checks the bundle offline: the SET is a valid signature by the trusted log named by
    /// `logID`, and the logged entry is this signature, by this key (or, keyless, this
    /// certificate), over this payload. Returns nil when it holds, else the reason.
    public func verify(signature: [UInt8], payload: [UInt8], key: PublicKey, certificate: Certificate? = nil, trustedRoot: TrustedRoot) -> String? {
        setProblem(trustedRoot: trustedRoot)
            ?? entryProblem(signature: signature, payloadHash: Digest.of(payload), key: key, certificate: certificate)
    }

    /// The entry must be proven by the trusted log `logID` names: its inclusion promise (SET)
    /// when there is one, its inclusion proof when there is one — both when both are present, as
    /// sigstore-go checks them.
    public func logProblem(trustedRoot: TrustedRoot) -> String? {
        guard hasPromise || inclusionProof != nil else { return "the transparency log entry has neither an inclusion promise nor an inclusion proof" }
        if hasPromise, let problem = setProblem(trustedRoot: trustedRoot) { return problem }
        if let proof = inclusionProof {
            guard let logKey = trustedRoot.logs[logID.lowercased()], let id = Hash.bytes(hex: logID) else {
                return "the inclusion proof names log \(logID), which is not in the trusted root"
            }
            // A proof carries no time: without a promise, the log must be trusted now.
            if !hasPromise, let window = trustedRoot.logWindows[logID.lowercased()], !window.contains(Date()) {
                return "the trusted root trusts log \(logID) only from \(window)"
            }
            guard let body = Base64.decode(body, .standard) else { return "the Rekor entry body is not base64" }
            if let problem = proof.problem(body: Array(body), logKey: logKey, logID: id) { return problem }
        }
        return nil
    }

    /// The SignedEntryTimestamp must be a signature by the trusted log `logID` names.
    public func setProblem(trustedRoot: TrustedRoot) -> String? {
        guard let logKey = trustedRoot.logs[logID.lowercased()] else {
            return "the Rekor bundle names log \(logID), which is not in the trusted root"
        }
        let integrated = Date(timeIntervalSince1970: TimeInterval(integratedTime))
        if let window = trustedRoot.logWindows[logID.lowercased()], !window.contains(integrated) {
            return "the trusted root trusts log \(logID) from \(window); the entry was integrated at \(ISO8601DateFormatter().string(from: integrated))"
        }
        guard logKey.verify(signature: signedEntryTimestamp, message: canonicalPayload, hash: logKey.sigstoreHash) else {
            return "the Rekor bundle's SignedEntryTimestamp is not a valid signature by log \(logID)"
        }
        return nil
    }

    /// The logged entry must hold this signature, by this key or certificate, over content whose
    /// digest is `payloadHash`.
    public func entryProblem(signature: [UInt8], payloadHash: Digest, key: PublicKey, certificate: Certificate?) -> String? {
        let logged: LoggedVerifier
        switch loggedVerifier(signature: signature, payloadHash: payloadHash) {
        case .failure(let reason): return reason.text
        case .success(let verifier): logged = verifier
        }
        // Keyless entries log the signing certificate; keyed ones the public key.
        let loggedCertificate: Certificate?, loggedKey: PublicKey?
        switch logged {
        case .pemBase64(let text):
            guard let pem = Base64.decode(text, .standard) else { return "the Rekor entry names no public key or certificate" }
            loggedCertificate = try? Certificate.pemChain(Array(pem), source: "Rekor entry").first
            loggedKey = loggedCertificate == nil ? try? PublicKey.pem(Array(pem), source: "Rekor entry") : nil
        case .certificateDER(let der):
            loggedCertificate = try? Certificate.der(der, source: "Rekor entry")
            loggedKey = nil
        case .publicKeyDER(let der):
            loggedCertificate = nil
            loggedKey = try? PublicKey.der(der, source: "Rekor entry")
        }
        if let loggedCertificate {
            guard let certificate, loggedCertificate == certificate else { return "the Rekor entry was logged for another certificate" }
            return nil
        }
        // A keyless signature's entry must log its certificate (sigstore-go): a bare key would not
        // bind the identity the policy checks.
        guard certificate == nil else { return "the Rekor entry logged a public key, not the signing certificate" }
        guard let loggedKey, loggedKey.derBytes == key.derBytes else {
            return "the Rekor entry was logged for another key"
        }
        return nil
    }

    /// What an entry says signed: base64 PEM (Rekor v1 bodies) or DER (Rekor v2's v0.0.2).
    enum LoggedVerifier {
        case pemBase64(String)
        case certificateDER([UInt8])
        case publicKeyDER([UInt8])
    }

    struct Reason: Error { let text: String }

    /// The entry's record of this signature over content hashed to `payloadHash`: the base64 PEM
    /// of the key or certificate it was logged with, or why the entry is about something else.
    func loggedVerifier(signature: [UInt8], payloadHash: Digest) -> Result<LoggedVerifier, Reason> {
        guard let bodyBytes = Base64.decode(body, .standard), let entry = try? JSONParser.parse(Array(bodyBytes)), let spec = entry["spec"] else {
            return .failure(Reason(text: "the Rekor entry body is not JSON"))
        }
        // Rekor v2 (rekor-tiles) writes only hashedrekord v0.0.2: the digest and the verifier in
        // protobuf JSON (base64 bytes, DER key or certificate).
        if let v2 = spec["hashedRekordV002"] {
            let algorithms: [String: HashAlgorithm] = ["SHA2_256": .sha256, "SHA2_384": .sha384, "SHA2_512": .sha512]
            guard entry["kind"]?.stringValue == "hashedrekord", entry["apiVersion"]?.stringValue == "0.0.2" else {
                return .failure(Reason(text: "the Rekor v2 entry is not hashedrekord 0.0.2"))
            }
            guard let algorithm = v2["data"]?["algorithm"]?.stringValue.flatMap({ algorithms[$0] }),
                  let digest = v2["data"]?["digest"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }),
                  algorithm == payloadHash.algorithm, Hash.hexString(Array(digest)) == payloadHash.hex else {
                return .failure(Reason(text: "the Rekor entry is for another payload"))
            }
            guard v2["signature"]?["content"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }).map({ Array($0) }) == signature else {
                return .failure(Reason(text: "the Rekor entry holds another signature"))
            }
            let verifier = v2["signature"]?["verifier"]
            if let der = verifier?["x509Certificate"]?["rawBytes"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }) { return .success(.certificateDER(Array(der))) }
            if let der = verifier?["publicKey"]?["rawBytes"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }) { return .success(.publicKeyDER(Array(der))) }
            return .failure(Reason(text: "the Rekor entry names no public key or certificate"))
        }
        // The entry kinds cosign and sigstore-go read: `hashedrekord` and the older `rekord`
        // (the same paths), `dsse`, and `intoto` v0.0.2 (npm and GitHub provenance), whose
        // envelope signature is base64 of the base64 text.
        func decoded(_ value: JSONValue?) -> [UInt8]? { value?.stringValue.flatMap { Base64.decode($0, .standard) } }
        let logged: (hash: JSONValue?, signatures: [(signature: [UInt8]?, verifier: String?)])
        switch entry["kind"]?.stringValue {
        case "hashedrekord", "rekord":
            logged = (spec["data"]?["hash"], [(decoded(spec["signature"]?["content"]), spec["signature"]?["publicKey"]?["content"]?.stringValue)])
        case "dsse":
            logged = (spec["payloadHash"], (spec["signatures"]?.arrayValue ?? []).map { (decoded($0["signature"]), $0["verifier"]?.stringValue) })
        case "intoto":
            let content = spec["content"]
            logged = (content?["payloadHash"], (content?["envelope"]?["signatures"]?.arrayValue ?? []).map { logged in
                (decoded(logged["sig"]).flatMap { Base64.decode($0, .standard) }, logged["publicKey"]?.stringValue)
            })
        case let kind:
            return .failure(Reason(text: "the Rekor entry kind \(kind.map { "\"\($0)\"" } ?? "(none)") is not hashedrekord, rekord, dsse or intoto"))
        }
        guard logged.hash?["algorithm"]?.stringValue == payloadHash.algorithm.rawValue, logged.hash?["value"]?.stringValue == payloadHash.hex else {
            return .failure(Reason(text: "the Rekor entry is for another payload"))
        }
        guard let match = logged.signatures.first(where: { $0.signature == signature }) else {
            return .failure(Reason(text: "the Rekor entry holds another signature"))
        }
        guard let verifier = match.verifier else { return .failure(Reason(text: "the Rekor entry names no public key or certificate")) }
        return .success(.pemBase64(verifier))
    }
}
