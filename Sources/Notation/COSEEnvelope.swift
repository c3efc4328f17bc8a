import CBOR
import Crypto
import Foundation
import JSON

/// `application/cose`: a `COSE_Sign1_Tagged` message (RFC 9052 §4.2) as
/// signature-envelope-cose.md profiles it.
///
///     18([ protected: bstr .cbor header_map, unprotected: header_map, payload: bstr, signature: bstr ])
enum COSEEnvelope {
    static let sign1Tag: UInt64 = 18
    static let algLabel = CBORValue.unsigned(1), critLabel = CBORValue.unsigned(2), contentTypeLabel = CBORValue.unsigned(3)
    static let x5chainLabel = CBORValue.unsigned(33)
    static let timestampLabel = CBORValue.text("io.cncf.notary.timestampSignature")
    static let signingAgentLabel = CBORValue.text("io.cncf.notary.signingAgent")

    static func parse(_ bytes: [UInt8]) throws(NotationError) -> SignatureEnvelope {
        let message: CBORValue
        do { message = try CBORDecoder.decode(bytes) } catch {
            throw NotationError(.malformedEnvelope, "the COSE envelope is not valid CBOR: \(error)")
        }
        // "Notary Project specifically supports COSE_Sign1_Tagged as a signature envelope."
        guard case .tagged(sign1Tag, .array(let parts)) = message, parts.count == 4 else {
            throw NotationError(.malformedEnvelope, "the COSE envelope is not a COSE_Sign1_Tagged message (tag 18 over a 4-element array)")
        }
        guard let protectedBytes = parts[0].bytesValue else { throw NotationError(.malformedEnvelope, "the COSE protected header is not a byte string") }
        guard let unprotected = parts[1].mapValue else { throw NotationError(.malformedEnvelope, "the COSE unprotected header is not a map") }
        guard let payload = parts[2].bytesValue else {
            throw NotationError(.malformedEnvelope, "the COSE payload is not a byte string (detached payloads are not supported)")
        }
        guard let signature = parts[3].bytesValue, !signature.isEmpty else { throw NotationError(.malformedEnvelope, "the COSE signature is not a non-empty byte string") }
        let protectedMap: [CBORMapEntry]
        do {
            guard let map = try CBORDecoder.decode(protectedBytes).mapValue else {
                throw NotationError(.malformedEnvelope, "the COSE protected header is not a map")
            }
            protectedMap = map
        } catch let error as NotationError { throw error } catch {
            throw NotationError(.malformedEnvelope, "the COSE protected header is not valid CBOR: \(error)")
        }
        let signed = try protectedHeader(protectedMap)
        var certificates: [Certificate] = []
        var timestamp: [UInt8]?
        var agent: String?
        var chainValue = CBORValue.map(protectedMap)[x5chainLabel]  // "Optionally, this header can be presented in the protected header."
        for entry in unprotected {
            switch entry.key {
            case x5chainLabel:
                guard chainValue == nil else { throw NotationError(.malformedEnvelope, "x5chain appears in both COSE headers") }
                chainValue = entry.value
            // notation-core-go reads these by type assertion and ignores what does not fit, and
            // ignores labels it does not know: none of them is signed.
            case timestampLabel:
                if let token = entry.value.bytesValue, !token.isEmpty { timestamp = token }
            case signingAgentLabel:
                agent = entry.value.textValue
            default:
                continue
            }
        }
        // x5chain (RFC 9360 §2): an array of DER certificates, or one bare byte string.
        let chain: [CBORValue] = switch chainValue {
        case .array(let items)?: items
        case .bytes?: [chainValue!]
        default: []
        }
        guard !chain.isEmpty else { throw NotationError(.malformedEnvelope, "the COSE envelope must carry a non-empty x5chain (label 33)") }
        for (index, item) in chain.enumerated() {
            guard let der = item.bytesValue else { throw NotationError(.malformedEnvelope, "x5chain[\(index)] is not a byte string") }
            do { certificates.append(try Certificate.der(der, source: "x5chain[\(index)]")) } catch {
                throw NotationError(.malformedEnvelope, "x5chain[\(index)] is not a DER X.509 certificate")
            }
        }
        // RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad = h'', payload].
        let toBeSigned = CBOREncoder.arrayHead(4) + CBOREncoder.text("Signature1") + CBOREncoder.bytes(protectedBytes)
            + CBOREncoder.bytes([]) + CBOREncoder.bytes(payload)
        return try SignatureEnvelope(format: .cose, signed: signed, signedBytes: toBeSigned, signature: signature, payload: payload,
                                     certificates: certificates, timestampToken: timestamp, signingAgent: agent)
    }

    static func protectedHeader(_ map: [CBORMapEntry]) throws(NotationError) -> SignedAttributes {
        let header = CBORValue.map(map)
        guard let algorithmValue = header[algLabel] else { throw NotationError(.malformedEnvelope, "the COSE protected header has no alg (label 1)") }
        guard let label = algorithmValue.intValue, let algorithm = SignatureAlgorithm(coseLabel: label) else {
            throw NotationError(.malformedEnvelope, "COSE algorithm \(describe(algorithmValue)) is not one of PS256 (-37), PS384 (-38), PS512 (-39), ES256 (-7), ES384 (-35), ES512 (-36)")
        }
        var signed = SignedAttributes(algorithm: algorithm)
        for entry in map { signed.present.insert(name(entry.key)) }
        if let value = header[contentTypeLabel] {
            guard let text = value.textValue else { throw NotationError(.malformedEnvelope, "the COSE content type (label 3) must be a text string") }
            signed.contentType = text
        }
        if let value = header[critLabel] {
            guard let list = value.arrayValue, !list.isEmpty else { throw NotationError(.malformedEnvelope, "the COSE crit (label 2) must be a non-empty array") }
            for entry in list {
                // "It MUST only contain parameters apart from integer labels in the range of 0 to 8."
                if let label = entry.intValue, (0...8).contains(label) {
                    throw NotationError(.malformedEnvelope, "the COSE crit must not list label \(label) (labels 0 to 8 are never critical)")
                }
                guard entry.intValue != nil || entry.textValue != nil else { throw NotationError(.malformedEnvelope, "the COSE crit must list integer or text labels") }
                signed.critical.append(name(entry))
            }
        }
        func text(_ key: String) throws(NotationError) -> String? {
            guard let value = header[.text(key)] else { return nil }
            guard let text = value.textValue, !text.isEmpty else { throw NotationError(.malformedEnvelope, "\(key) must be a non-empty text string") }
            return text
        }
        func time(_ key: String) throws(NotationError) -> Date? {
            guard let value = header[.text(key)] else { return nil }
            // RFC 8949 §3.4.2: tag 1 over an integer or floating-point number of epoch seconds.
            switch value {
            case .tagged(1, .unsigned(let seconds)) where seconds <= UInt64(Int64.max): return Date(timeIntervalSince1970: TimeInterval(seconds))
            case .tagged(1, .negative(let n)) where n < UInt64(Int64.max): return Date(timeIntervalSince1970: -1 - TimeInterval(n))
            case .tagged(1, .float(let seconds)) where seconds.isFinite: return Date(timeIntervalSince1970: seconds)
            default: throw NotationError(.malformedEnvelope, "\(key) must be an epoch date/time (CBOR tag 1)")
            }
        }
        try signed.readNotaryAttributes(text: text, time: time)
        // Text labels only: notation-go skips integer-labelled extended attributes.
        signed.extended = map.compactMap { entry in
            guard let key = entry.key.textValue, !SignedAttributes.system.contains(key) else { return nil }
            return (key: key, value: json(entry.value))
        }
        return signed
    }

    /// A header value as JSON, for a verification plugin: byte strings as standard base64 (as
    /// Go's encoding/json writes []byte), tags by their content.
    static func json(_ value: CBORValue) -> JSONValue {
        switch value {
        case .unsigned(let n): n <= UInt64(Int.max) ? .int(Int(n)) : .number(String(n))
        case .negative(let n): n < UInt64(Int.max) ? .int(-1 - Int(n)) : .number("-\(n)")
        case .bytes(let bytes): .string(Data(bytes).base64EncodedString())
        case .text(let text): .string(text)
        case .array(let items): .array(items.map(json))
        case .map(let entries): .object(JSONObject(entries.map { (key: name($0.key), value: json($0.value)) }))
        case .tagged(_, let inner): json(inner)
        case .bool(let flag): .bool(flag)
        case .null, .undefined, .simple: .null
        case .float(let number): number.isFinite ? .number(String(number)) : .null
        }
    }

    /// A label as a name: text labels as themselves, integers in decimal.
    static func name(_ label: CBORValue) -> String { label.textValue ?? label.intValue.map(String.init) ?? "\(label)" }
    static func describe(_ value: CBORValue) -> String { value.textValue.map { "\"\($0)\"" } ?? value.intValue.map(String.init) ?? "\(value)" }
}
