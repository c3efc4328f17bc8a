import Core
import Crypto
import Foundation
import JSON

/// cosign's `dev.sigstore.cosign/bundle` annotation: Rekor's promise that an entry was logged.
///
///     {"SignedEntryTimestamp": "<base64>",
///      "Payload": {"body": "<base64 entry>", "integratedTime": 1700000000, "logIndex": 42, "logID": "<hex>"}}
public struct RekorBundle: Sendable, Equatable {
    public var signedEntryTimestamp: [UInt8]
    public var body: String
    public var integratedTime: Int
    public var logIndex: Int
    public var logID: String

    public static func parse(_ text: String) -> RekorBundle? {
        guard let document = try? JSONParser.parse(text), let payload = document["Payload"],
              let set = document["SignedEntryTimestamp"]?.stringValue, let setBytes = Data(base64Encoded: set),
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
        guard let logKey = trustedRoot.logs[logID.lowercased()] else {
            return "the Rekor bundle names log \(logID), which is not in the trusted root"
        }
        guard logKey.verify(signature: signedEntryTimestamp, message: canonicalPayload, hash: logKey.sigstoreHash) else {
            return "the Rekor bundle's SignedEntryTimestamp is not a valid signature by log \(logID)"
        }
        guard let bodyBytes = Data(base64Encoded: body), let entry = try? JSONParser.parse(Array(bodyBytes)),
              let spec = entry["spec"], entry["kind"]?.stringValue == "hashedrekord" else {
            return "the Rekor entry is not a hashedrekord"
        }
        guard spec["data"]?["hash"]?["algorithm"]?.stringValue == "sha256",
              spec["data"]?["hash"]?["value"]?.stringValue == Hash.hex(.sha256, payload) else {
            return "the Rekor entry is for another payload"
        }
        guard let loggedSignature = spec["signature"]?["content"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
              Array(loggedSignature) == signature else {
            return "the Rekor entry holds another signature"
        }
        guard let pemBase64 = spec["signature"]?["publicKey"]?["content"]?.stringValue, let pem = Data(base64Encoded: pemBase64) else {
            return "the Rekor entry names no public key or certificate"
        }
        // Keyless entries log the signing certificate; keyed ones the public key.
        if let logged = try? Certificate.pemChain(Array(pem), source: "Rekor entry").first {
            guard let certificate, logged == certificate else { return "the Rekor entry was logged for another certificate" }
            return nil
        }
        guard let loggedKey = try? PublicKey.pem(Array(pem), source: "Rekor entry"), loggedKey.derBytes == key.derBytes else {
            return "the Rekor entry was logged for another key"
        }
        return nil
    }
}
