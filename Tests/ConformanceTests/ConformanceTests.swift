import Configuration
import Core
import Cosign
import Crypto
import Foundation
import JSON
@testable import Notation

import Registry
import Testing
import TestSupport

/// Every upstream vector through our code, with the verdict the upstream test expects — or, for
/// a case listed in Tests/Conformance/disagreements.json, the verdict recorded there with its
/// reason (so a change either way is noticed and the list stays true).
@Suite struct ConformanceTests {
    @Test(arguments: ConformanceCorpus.cases)
    func upstreamVectorGetsTheUpstreamVerdict(_ vector: ConformanceCase) async throws {
        let (verdict, detail) = try await Self.evaluate(vector)
        // CONFORMANCE_REPORT=file: one line per vector (id, ours, upstream's, why) for a person to read.
        if let report = ProcessInfo.processInfo.environment["CONFORMANCE_REPORT"], let handle = FileHandle(forWritingAtPath: report) {
            handle.seekToEndOfFile()
            handle.write(Data("\(vector.id)\t\(verdict)\t\(vector.expect)\t\(detail.replacingOccurrences(of: "\n", with: " "))\n".utf8))
            try? handle.close()
        }
        if let disagreement = ConformanceCorpus.disagreements[vector.id] {
            #expect(verdict == disagreement.ours,
                    "\(vector.id): recorded disagreement (\(disagreement.why)) no longer holds — ours is now \(verdict) (\(detail)); upstream \(vector.upstream) expects \(vector.expect)")
        } else {
            #expect(verdict == vector.expect, "\(vector.id): ours \(verdict) (\(detail)), upstream \(vector.upstream) expects \(vector.expect)")
        }
    }

    @Test func theCorpusIsLargeEnoughAndEveryDisagreementIsExplained() {
        let cases = ConformanceCorpus.cases
        #expect(cases.count >= 150, "the corpus has \(cases.count) upstream vectors")
        #expect(Set(cases.map(\.id)).count == cases.count, "case ids are unique")
        for (id, disagreement) in ConformanceCorpus.disagreements {
            #expect(cases.contains { $0.id == id }, "disagreements.json names \(id), which is not a case")
            #expect(!disagreement.why.isEmpty, "\(id) needs its reason")
        }
        for vector in cases {
            #expect(["pass", "fail", "good", "revoked"].contains(vector.expect), "\(vector.id): expect \(vector.expect)")
            #expect(!vector.upstream.isEmpty && vector.upstream != "?", "\(vector.id) cites no upstream test")
        }
    }

    static func evaluate(_ vector: ConformanceCase) async throws -> (String, String) {
        switch vector.kind {
        case "x509-chain": return try chain(vector)
        case "notation-envelope": return try notation(vector)
        case "timestamp": return try timestamp(vector)
        case "crl", "ocsp": return try revocation(vector)
        case "cosign-signature", "sigstore-bundle": return try await cosign(vector)
        case "oci-layout": return try await layout(vector)
        default: throw CorpusError("\(vector.id): unknown kind \(vector.kind)")
        }
    }

    static func verdict(_ problem: String?) -> (String, String) { problem.map { ("fail", $0) } ?? ("pass", "") }

    /// PEM (one or more certificates) or DER.
    static func certificates(_ vector: ConformanceCase, _ names: [String]) throws -> [Certificate] {
        try names.flatMap { name -> [Certificate] in
            let bytes = Array(try Data(contentsOf: vector.path(name)))
            if bytes.starts(with: Array("-----".utf8)) || String(decoding: bytes, as: UTF8.self).contains("-----BEGIN") {
                return try Certificate.pemChain(bytes, source: name)
            }
            return [try Certificate.der(bytes, source: name)]
        }
    }

    // MARK: kinds

    static func chain(_ vector: ConformanceCase) throws -> (String, String) {
        let names = vector.fields["certificates"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let chain: [Certificate]
        do { chain = try certificates(vector, names) } catch { return ("fail", "unreadable: \(error)") }
        let purpose: CertificateChainRules.Purpose = vector.string("purpose") == "timestamping" ? .timestamping : .codeSigning
        return verdict(CertificateChainRules.violation(chain, purpose: purpose, signingTime: try vector.date("signingTime")))
    }

    static func notation(_ vector: ConformanceCase) throws -> (String, String) {
        let envelope = try vector.file("envelope")
        let mediaType = vector.string("mediaType") ?? "application/jose+json"
        // A trust policy document or trust store notation refuses to load is a failed
        // verification (notation-go validates the document before verifying).
        let document: TrustPolicyDocument
        let stores: TrustStoreSet
        do {
            document = try TrustPolicyDocument.parse(try JSONParser.parse(try vector.file("trustPolicy")), path: vector.string("trustPolicy")!)
            stores = try TrustStoreSet.load(paths: [vector.path(vector.string("trustStore") ?? "").path], path: "trustStore")
        } catch {
            return ("fail", "configuration refused: \(error)")
        }
        guard let scope = vector.string("scope"), let policy = document.policy(for: scope) else {
            return ("fail", "no trust policy applies to \(vector.string("scope") ?? "(no scope)")")
        }
        var subject: Descriptor
        if let given = vector.fields["subject"], !given.isNull {
            subject = try Descriptor.parse(given, path: "subject")
        } else {
            // The envelope's own target: the descriptor check passes, everything else is tested.
            guard let parsed = try? SignatureEnvelope.parse(envelope, mediaType: mediaType),
                  let payload = try? NotationPayload.parse(parsed.payload) else {
                subject = Descriptor(mediaType: "", digest: Digest.of([]), size: 0)
                return verdict(NotationVerification.verify(envelope: envelope, mediaType: mediaType, subject: subject, policy: policy,
                                                           trustStores: stores, now: try vector.date("now") ?? Date()).enforcedFailure.map { "\($0.reason.rawValue): \($0.message)" })
            }
            subject = payload.targetArtifact
        }
        let outcome = NotationVerification.verify(envelope: envelope, mediaType: mediaType, subject: subject, policy: policy,
                                                  trustStores: stores, now: try vector.date("now") ?? Date())
        return verdict(outcome.enforcedFailure.map { "\($0.reason.rawValue): \($0.message)" })
    }

    static func timestamp(_ vector: ConformanceCase) throws -> (String, String) {
        let bytes = try vector.file("token")
        let token: TimestampToken
        do {
            token = vector.string("format") == "response" ? try TimestampToken.parse(response: bytes) : try TimestampToken.parse(bytes)
        } catch {
            return ("fail", "\(error)")
        }
        let roots: [Certificate]
        do { roots = try certificates(vector, vector.fields["roots"]?.arrayValue?.compactMap(\.stringValue) ?? []) } catch { return ("fail", "\(error)") }
        let result: Result<[Certificate], CryptoError>
        if let digest = vector.fields["messageDigest"] {
            guard let algorithm = digest["algorithm"]?.stringValue.flatMap(HashAlgorithm.init(rawValue:)),
                  let hex = digest["hex"]?.stringValue, let bytes = hexBytes(hex) else {
                throw CorpusError("\(vector.id): messageDigest needs algorithm and hex")
            }
            result = token.verify(messageDigest: bytes, algorithm: algorithm, roots: roots)
        } else {
            result = token.verify(message: try vector.file("message"), roots: roots)
        }
        if case .failure(let error) = result { return ("fail", "\(error)") }
        return ("pass", "")
    }

    static func revocation(_ vector: ConformanceCase) throws -> (String, String) {
        let certificate = try certificates(vector, [vector.string("certificate") ?? ""])[0]
        let issuer = try certificates(vector, [vector.string("issuer") ?? ""])[0]
        let now = try vector.date("now") ?? Date()
        let status = vector.kind == "crl"
            ? CRL.status(crl: try vector.file("crl"), certificate: certificate, issuer: issuer, now: now)
            : OCSP.status(response: try vector.file("ocspResponse"), certificate: certificate, issuer: issuer,
                          anchors: try certificates(vector, vector.fields["anchors"]?.arrayValue?.compactMap(\.stringValue) ?? [vector.string("issuer") ?? ""]), now: now)
        switch status {
        case .good: return ("good", "")
        case .revoked: return ("revoked", "")
        case .unknown(let why): return ("fail", why)
        }
    }

    /// A `.sig` layer or a Sigstore bundle, attached to a subject in an in-memory store and
    /// verified by the cosign verifier as an image's would be.
    static func cosign(_ vector: ConformanceCase) async throws -> (String, String) {
        guard let verifierJSON = vector.fields["verifier"] else { throw CorpusError("\(vector.id): verifier is missing") }
        let config: CosignVerifierConfig
        do {
            config = try CosignVerifierConfig.parse(ConformanceCorpus.absolutePaths(verifierJSON, in: vector.directory), path: "verifier").0
        } catch {
            return ("fail", "config refused: \(error)")
        }
        let digestText = vector.string("digest") ?? vector.string("imageDigest") ?? ""
        guard let digest = try? Digest.parse(digestText) else {
            return ("fail", "the subject digest \"\(digestText)\" is not a digest: nothing can be verified against it")
        }
        let store = MemoryStore()
        let subject = ImageReference(registry: "conformance.test", repository: "subject", digest: digest)
        let layer: Descriptor
        let artifactType: String
        if vector.kind == "sigstore-bundle" {
            artifactType = SigstoreBundle.mediaType
            layer = store.putBlob(try vector.file("bundle"), mediaType: SigstoreBundle.mediaType)
        } else {
            artifactType = MediaType.cosignSignatureArtifact
            let (payload, annotations) = try simpleSigning(vector)
            var descriptor = store.putBlob(payload, mediaType: CosignVerifier.simpleSigningMediaType)
            descriptor.annotations = annotations
            layer = descriptor
        }
        let config0 = store.putBlob(Array("{}".utf8), mediaType: MediaType.ociEmpty)
        let manifest: JSONValue = .object([
            "schemaVersion": .int(2), "mediaType": .string(MediaType.ociManifest), "artifactType": .string(artifactType),
            "config": config0.json(), "layers": .array([layer.json()]),
        ])
        let signature = store.putManifest(Array(JSONWriter.encodeString(manifest).utf8), mediaType: MediaType.ociManifest, artifactType: artifactType)
        let report = await CosignVerifier(config: config).verify(subject: subject, referrer: signature, store: store, deadline: .now + .seconds(60))
        return report.isSuccess ? ("pass", "") : ("fail", report.message)
    }

    /// The payload and layer annotations of a simple-signing case: given directly, or read
    /// from a containers/image `signature-N` file.
    static func simpleSigning(_ vector: ConformanceCase) throws -> ([UInt8], [String: String]) {
        var annotations: [String: String] = [:]
        var payload: [UInt8] = []
        if let file = vector.string("containersImageSignature") {
            (payload, annotations) = try ContainersImageSignature.parse(Array(try Data(contentsOf: vector.path(file))))
        } else {
            payload = try vector.file("payload")
        }
        if let text = vector.string("signature") {
            annotations[CosignVerifier.signatureAnnotation] = text
        } else if let file = vector.string("signatureFile") {
            annotations[CosignVerifier.signatureAnnotation] = String(decoding: try Data(contentsOf: vector.path(file)), as: UTF8.self)
        }
        for member in vector.fields["annotations"]?.objectValue?.members ?? [] {
            if let text = member.value.stringValue {
                annotations[member.key] = text
            } else if let file = member.value["file"]?.stringValue {
                annotations[member.key] = String(decoding: try Data(contentsOf: vector.path(file)), as: UTF8.self)
            }
        }
        return (payload, annotations)
    }

    /// An OCI image layout verified by the executor `ratify verify -s oci-layout:…` builds.
    static func layout(_ vector: ConformanceCase) async throws -> (String, String) {
        let configText = JSONWriter.encodeString(ConformanceCorpus.absolutePaths(try JSONParser.parse(try vector.file("config")), in: vector.directory))
        let config = try RatifyConfig.parse(Array(configText.utf8), source: vector.string("config")!)
        let store = try OCILayoutStore(path: vector.path(vector.string("layout") ?? "").path)
        let executor = try ExecutorFactory.verifyExecutor(config, store: store, generation: 1, logger: .init(label: "conformance"))
        let reference = vector.string("reference") ?? "latest"
        let key = "localhost/layout" + (reference.hasPrefix("@") ? reference : ":\(reference)")
        let item = await executor.execute([key], context: ProviderContext(requestID: vector.id, operation: .verify, deadline: .now + .seconds(60)))[0]
        if let error = item.error { return ("fail", error) }
        return item.value?["isSuccess"] == .bool(true) ? ("pass", "") : ("fail", JSONWriter.encodeString(item.value ?? .null))
    }
}

/// containers/image's serialized sigstore signature (`signature-N` in a `dir:` image):
/// the bytes "\0sigstore-json\n" then JSON `{"mimeType", "payload" (base64), "annotations"}`.
enum ContainersImageSignature {
    static func parse(_ bytes: [UInt8]) throws -> ([UInt8], [String: String]) {
        let prefix = Array("\u{0}sigstore-json\n".utf8)
        guard bytes.starts(with: prefix) else { throw CorpusError("not a containers/image sigstore signature file") }
        let document = try JSONParser.parse(Array(bytes[prefix.count...]))
        guard let encoded = document["payload"]?.stringValue, let payload = Base64.decode(encoded, .standard) else {
            throw CorpusError("the signature file's payload is not base64")
        }
        var annotations: [String: String] = [:]
        for member in document["annotations"]?.objectValue?.members ?? [] { annotations[member.key] = member.value.stringValue }
        return (payload, annotations)
    }
}

func hexBytes(_ hex: String) -> [UInt8]? {
    let characters = Array(hex.utf8)
    guard characters.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    for index in stride(from: 0, to: characters.count, by: 2) {
        guard let byte = UInt8(String(decoding: characters[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
        bytes.append(byte)
    }
    return bytes
}
