import Core
import Crypto
import Foundation
import JSON

/// A Sigstore bundle (protobuf-specs `Bundle`, JSON form) attached to an image as an OCI 1.1
/// referrer (cosign's BUNDLE_SPEC.md): verification material (certificate or key hint, tlog
/// entries) and either a message signature or a DSSE envelope.
public struct SigstoreBundle: Sendable {
    public static let mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
    /// Every spelling sigstore-go's `getBundleVersion` accepts for versions 0.1 to 0.3 (the
    /// same JSON shape; v0.1 entries carry inclusion promises, which is what we verify offline).
    static let acceptedMediaTypes: Set<String> = [mediaType, "application/vnd.dev.sigstore.bundle+json;version=0.1",
                                                  "application/vnd.dev.sigstore.bundle+json;version=0.2",
                                                  "application/vnd.dev.sigstore.bundle+json;version=0.3",
                                                  "application/vnd.dev.sigstore.bundle.v0.1+json", "application/vnd.dev.sigstore.bundle.v0.2+json"]

    public enum Content: Sendable {
        /// `messageSignature`: a signature over a message known by its digest (SHA2_256, and the
        /// SHA2_384 / SHA2_512 sigstore-go also accepts).
        case message(digest: Digest, signature: [UInt8])
        /// `dsseEnvelope` with one signature over PAE(payloadType, payload).
        case dsse(payloadType: String, payload: [UInt8], signature: [UInt8])
    }

    public let certificate: Certificate?
    public let chain: [Certificate]
    public let content: Content
    /// The first tlog entry with an inclusion promise, in the legacy bundle's shape.
    public let tlog: RekorBundle?
    /// Why the bundle's tlog entries cannot be verified offline, when it has some but none usable.
    public var tlogProblem: String? = nil
    /// `verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp`: RFC
    /// 3161 tokens (DER) over the signature.
    public var timestamps: [[UInt8]] = []

    public var signature: [UInt8] {
        switch content {
        case .message(_, let signature), .dsse(_, _, let signature): signature
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(CosignError) -> SigstoreBundle {
        guard let document = try? JSONParser.parse(bytes), document.objectValue != nil else { throw CosignError("the Sigstore bundle is not JSON") }
        guard let type = document["mediaType"]?.stringValue, acceptedMediaTypes.contains(type) else {
            throw CosignError("the Sigstore bundle's mediaType \(document["mediaType"]?.stringValue.map { "\"\($0)\"" } ?? "(none)") is not a supported bundle version")
        }
        guard let material = document["verificationMaterial"] else { throw CosignError("the Sigstore bundle has no verificationMaterial") }
        func der(_ value: JSONValue?, _ what: String) throws(CosignError) -> Certificate {
            guard let text = value?["rawBytes"]?.stringValue, let bytes = Base64.decode(text, .protobufJSON),
                  let certificate = try? Certificate.der(Array(bytes), source: what) else {
                throw CosignError("the Sigstore bundle's \(what) is not a base64 DER certificate")
            }
            return certificate
        }
        var certificates: [Certificate] = []
        if let single = material["certificate"] {
            certificates = [try der(single, "verificationMaterial.certificate")]
        } else if let chain = material["x509CertificateChain"]?["certificates"]?.arrayValue {
            for (index, entry) in chain.enumerated() { certificates.append(try der(entry, "x509CertificateChain.certificates[\(index)]")) }
        }
        let content: Content
        if let message = document["messageSignature"] {
            let algorithms: [String: HashAlgorithm] = ["SHA2_256": .sha256, "SHA2_384": .sha384, "SHA2_512": .sha512]
            guard let algorithm = message["messageDigest"]?["algorithm"]?.stringValue.flatMap({ algorithms[$0] }),
                  let digest = message["messageDigest"]?["digest"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }),
                  digest.count == algorithm.byteCount,
                  let signature = message["signature"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }) else {
                throw CosignError("the Sigstore bundle's messageSignature needs a SHA2_256, SHA2_384 or SHA2_512 messageDigest of that length and a base64 signature")
            }
            content = .message(digest: Digest(algorithm: algorithm, hex: Hash.hexString(digest)), signature: signature)
        } else if let envelope = document["dsseEnvelope"] {
            guard let type = envelope["payloadType"]?.stringValue,
                  let payload = envelope["payload"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }),
                  let signatures = envelope["signatures"]?.arrayValue, signatures.count == 1,
                  let signature = signatures[0]["sig"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }) else {
                throw CosignError("the Sigstore bundle's dsseEnvelope needs a payloadType, a base64 payload and exactly one signature")
            }
            content = .dsse(payloadType: type, payload: Array(payload), signature: Array(signature))
        } else {
            throw CosignError("the Sigstore bundle has neither messageSignature nor dsseEnvelope")
        }
        var tlog: RekorBundle?
        var tlogProblem: String?
        // The first entry with an inclusion promise or an inclusion proof (Rekor v2 writes only
        // the proof); both are checked when both are there. sigstore-go requires a promise only
        // in v0.1 bundles.
        let entries = material["tlogEntries"]?.arrayValue ?? []
        func present(_ entry: JSONValue, _ key: String) -> Bool { entry[key].map { !$0.isNull } ?? false }
        if let entry = entries.first(where: { present($0, "inclusionPromise") || present($0, "inclusionProof") }) {
            guard let body = entry["canonicalizedBody"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }).map({ Data($0).base64EncodedString() }),
                  let index = entry["logIndex"]?.stringValue.flatMap({ Int($0) }) ?? entry["logIndex"]?.intValue,
                  let keyID = entry["logId"]?["keyId"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }) else {
                throw CosignError("the Sigstore bundle's tlog entry needs canonicalizedBody, logIndex and logId")
            }
            var promise: [UInt8] = [], time = 0
            if present(entry, "inclusionPromise") {
                // Rekor signed the body as standard base64 (sigstore-go re-encodes the decoded bytes).
                guard let set = entry["inclusionPromise"]?["signedEntryTimestamp"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }),
                      let integrated = entry["integratedTime"]?.stringValue.flatMap({ Int($0) }) ?? entry["integratedTime"]?.intValue else {
                    throw CosignError("the Sigstore bundle's inclusionPromise needs a signedEntryTimestamp and the entry an integratedTime")
                }
                promise = Array(set)
                time = integrated
            }
            var proof: InclusionProof?
            if present(entry, "inclusionProof") {
                guard let parsed = InclusionProof.parse(entry["inclusionProof"]!) else {
                    throw CosignError("the Sigstore bundle's inclusionProof needs logIndex, treeSize, a 32-byte rootHash, 32-byte hashes and a checkpoint envelope")
                }
                proof = parsed
            }
            tlog = RekorBundle(signedEntryTimestamp: promise, body: body, integratedTime: time, logIndex: index, logID: Hash.hexString(Array(keyID)),
                               inclusionProof: proof)
        } else if !entries.isEmpty {
            tlogProblem = "the bundle's transparency log entry has neither an inclusion promise nor an inclusion proof"
        }
        var timestamps: [[UInt8]] = []
        for (index, entry) in (material["timestampVerificationData"]?["rfc3161Timestamps"]?.arrayValue ?? []).enumerated() {
            guard let token = entry["signedTimestamp"]?.stringValue.flatMap({ Base64.decode($0, .protobufJSON) }) else {
                throw CosignError("the Sigstore bundle's rfc3161Timestamps[\(index)].signedTimestamp is not base64")
            }
            timestamps.append(Array(token))
        }
        var bundle = SigstoreBundle(certificate: certificates.first, chain: Array(certificates.dropFirst()), content: content, tlog: tlog, tlogProblem: tlogProblem)
        bundle.timestamps = timestamps
        return bundle
    }

    /// DSSE's pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
    static func pae(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        Array("DSSEv1 \(type.utf8.count) \(type) \(payload.count) ".utf8) + payload
    }

    /// What the signature covers must name the image: the message digest is the image's
    /// manifest digest, or the in-toto statement lists it among its subjects.
    func subjectProblem(_ digest: Digest) -> String? {
        switch content {
        case .message(let messageDigest, _):
            return messageDigest == digest ? nil : "the bundle's message digest \(messageDigest) is not the image's digest \(digest)"
        case .dsse(let type, let payload, _):
            guard type == "application/vnd.in-toto+json" else { return "the DSSE payload type \"\(type)\" is not application/vnd.in-toto+json" }
            guard let statement = try? JSONParser.parse(payload), let subjects = statement["subject"]?.arrayValue,
                  let statementType = statement["_type"]?.stringValue, statementType.hasPrefix("https://in-toto.io/Statement/") else {
                return "the DSSE payload is not an in-toto statement with subjects"
            }
            let digests = subjects.compactMap { $0["digest"]?[digest.algorithm.rawValue]?.stringValue }
            return digests.contains(digest.hex) ? nil : "the in-toto statement's subjects (\(digests.map { "\(digest.algorithm.rawValue):\($0)" }.joined(separator: ", "))) do not include the image \(digest)"
        }
    }

    /// Whether `key` made the signature.
    func verifies(with key: PublicKey) -> Bool {
        switch content {
        case .message(let digest, let signature): key.verify(signature: signature, digest: Self.bytes(digest), hash: digest.algorithm)
        case .dsse(let type, let payload, let signature): key.verify(signature: signature, message: Self.pae(type, payload), hash: key.sigstoreHash)
        }
    }

    /// What the tlog entry should record: the message digest, or the DSSE payload's SHA-256.
    var loggedPayloadHash: Digest {
        switch content {
        case .message(let digest, _): digest
        case .dsse(_, let payload, _): Digest.of(payload)
        }
    }

    static func bytes(_ digest: Digest) -> [UInt8] {
        let hex = Array(digest.hex.utf8)
        return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }
}

/// Why cosign signature material is unusable.
public struct CosignError: Error, Equatable, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
