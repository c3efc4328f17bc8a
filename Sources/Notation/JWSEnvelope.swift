import Core
import Crypto
import Foundation
import JSON

/// `application/jose+json`: the JWS JSON serialization (flattened) of signature-envelope-jws.md.
///
///     { "payload": b64url, "protected": b64url(JSON), "header": { "x5c": [...],
///       "io.cncf.notary.timestampSignature": b64, "io.cncf.notary.signingAgent": "..." },
///       "signature": b64url }
///
/// notation-core-go reads the envelope and the unprotected header with Go's `encoding/json`:
/// member names match case-insensitively (notation-go's own mock envelopes write
/// `io.cncf.notary.SigningAgent`) and unknown members are ignored. Nothing outside `protected`
/// is signed, so we read them the same way.
enum JWSEnvelope {
    /// `object[key]`, or the first member whose name equals `key` ignoring ASCII case (Go's
    /// `encoding/json` prefers an exact match, then a case-insensitive one).
    static func member(_ object: JSONObject, _ key: String) -> JSONValue? {
        if let exact = object[key] { return exact }
        let folded = key.lowercased()
        return object.members.first { $0.key.lowercased() == folded }?.value
    }

    static func parse(_ bytes: [UInt8]) throws(NotationError) -> SignatureEnvelope {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch {
            throw NotationError(.malformedEnvelope, "the JWS envelope is not valid JSON: \(error)")
        }
        guard let object = document.objectValue else { throw NotationError(.malformedEnvelope, "the JWS envelope is not a JSON object") }
        func string(_ key: String) throws(NotationError) -> String {
            guard let value = member(object, key)?.stringValue, !value.isEmpty else {
                throw NotationError(.malformedEnvelope, "the JWS envelope's \"\(key)\" must be a non-empty string")
            }
            return value
        }
        let protectedText = try string("protected"), payloadText = try string("payload"), signatureText = try string("signature")
        guard let protectedBytes = Base64.decode(protectedText, .rawURL) else { throw NotationError(.malformedEnvelope, "the JWS \"protected\" member is not base64url") }
        guard let payload = Base64.decode(payloadText, .rawURL) else { throw NotationError(.malformedEnvelope, "the JWS \"payload\" member is not base64url") }
        guard let signature = Base64.decode(signatureText, .rawURL) else { throw NotationError(.malformedEnvelope, "the JWS \"signature\" member is not base64url") }
        let signed = try protectedHeader(protectedBytes)

        guard let header = member(object, "header")?.objectValue else {
            throw NotationError(.malformedEnvelope, "the JWS envelope has no unprotected \"header\" object (it carries x5c)")
        }
        guard let chain = member(header, "x5c")?.arrayValue, !chain.isEmpty else {
            throw NotationError(.malformedEnvelope, "the JWS unprotected header must carry a non-empty x5c certificate chain")
        }
        var certificates: [Certificate] = []
        for (index, entry) in chain.enumerated() {
            guard let text = entry.stringValue, let der = Base64.decode(text, .standard) else {
                throw NotationError(.malformedEnvelope, "x5c[\(index)] is not a base64 string")
            }
            do { certificates.append(try Certificate.der(der, source: "x5c[\(index)]")) } catch {
                throw NotationError(.malformedEnvelope, "x5c[\(index)] is not a DER X.509 certificate")
            }
        }
        // Go's encoding/json reads `null` as absent and "" as an empty token: neither is a
        // countersignature.
        var timestamp: [UInt8]?
        if let value = member(header, "io.cncf.notary.timestampSignature"), !value.isNull, value.stringValue != "" {
            guard let text = value.stringValue, let token = Base64.decode(text, .standard), !token.isEmpty else {
                throw NotationError(.malformedEnvelope, "io.cncf.notary.timestampSignature is not a base64 string")
            }
            timestamp = token
        }
        var agent: String?
        if let value = member(header, "io.cncf.notary.signingAgent"), !value.isNull {
            guard let text = value.stringValue else { throw NotationError(.malformedEnvelope, "io.cncf.notary.signingAgent must be a string") }
            agent = text
        }
        // RFC 7515 §5.2: the signing input is ASCII(BASE64URL(protected) || '.' || BASE64URL(payload)).
        return try SignatureEnvelope(format: .jws, signed: signed, signedBytes: Array("\(protectedText).\(payloadText)".utf8),
                                     signature: signature, payload: payload, certificates: certificates,
                                     timestampToken: timestamp, signingAgent: agent)
    }

    static func protectedHeader(_ bytes: [UInt8]) throws(NotationError) -> SignedAttributes {
        let header: JSONObject
        do {
            guard let object = try JSONParser.parse(bytes).objectValue else { throw NotationError(.malformedEnvelope, "the JWS protected header is not a JSON object") }
            header = object
        } catch let error as NotationError { throw error } catch {
            throw NotationError(.malformedEnvelope, "the JWS protected header is not valid JSON: \(error)")
        }
        guard let algorithmName = header["alg"]?.stringValue else { throw NotationError(.malformedEnvelope, "the JWS protected header has no \"alg\"") }
        guard let algorithm = SignatureAlgorithm(rawValue: algorithmName) else {
            throw NotationError(.malformedEnvelope, "JWS algorithm \"\(algorithmName)\" is not one of PS256, PS384, PS512, ES256, ES384, ES512")
        }
        var signed = SignedAttributes(algorithm: algorithm)
        signed.present = Set(header.keys)
        // RFC 7797's "b64": false would change what the signature covers; RFC 7516's "zip" is
        // for encryption. Neither belongs in a Notary Project envelope.
        for key in ["b64", "zip"] where header[key] != nil {
            throw NotationError(.malformedEnvelope, "the JWS protected header must not carry \"\(key)\"")
        }
        if let value = header["cty"] {
            guard let text = value.stringValue else { throw NotationError(.malformedEnvelope, "the JWS \"cty\" must be a string") }
            signed.contentType = text
        }
        if let value = header["crit"] {
            // RFC 7515 §4.1.11: a non-empty array of header parameter names.
            guard let list = value.arrayValue, !list.isEmpty else { throw NotationError(.malformedEnvelope, "the JWS \"crit\" must be a non-empty array of names") }
            for entry in list {
                guard let name = entry.stringValue else { throw NotationError(.malformedEnvelope, "the JWS \"crit\" must only list strings") }
                signed.critical.append(name)
            }
        }
        func text(_ key: String) throws(NotationError) -> String? {
            guard let value = header[key] else { return nil }
            guard let text = value.stringValue, !text.isEmpty else { throw NotationError(.malformedEnvelope, "\(key) must be a non-empty string") }
            return text
        }
        func time(_ key: String) throws(NotationError) -> Date? {
            guard let value = try text(key) else { return nil }
            guard let date = RFC3339.parse(value) else { throw NotationError(.malformedEnvelope, "\(key) \"\(value)\" is not an RFC 3339 time") }
            return date
        }
        try signed.readNotaryAttributes(text: text, time: time)
        signed.extended = header.members.filter { !SignedAttributes.system.contains($0.key) }.map { (key: $0.key, value: $0.value) }
        return signed
    }
}
