import Crypto
import Foundation
import JSON

/// A Notary Project signature envelope, whatever its format: what was signed, the signature,
/// the signed attributes and the unsigned ones (signature-specification.md, "Signature
/// Envelope"). Parsing checks the envelope's own rules; trust decisions come later.
public struct SignatureEnvelope: @unchecked Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case jws = "application/jose+json"
        case cose = "application/cose"
    }

    public enum SigningScheme: String, Sendable {
        case x509 = "notary.x509"
        case x509SigningAuthority = "notary.x509.signingAuthority"
    }

    /// "The supported value is `application/vnd.cncf.notary.payload.v1+json`."
    public static let payloadContentType = "application/vnd.cncf.notary.payload.v1+json"
    /// Envelopes larger than this are refused before parsing (notation uses the same bound).
    public static let maxSize = 4 * 1024 * 1024

    public let format: Format
    public let algorithm: SignatureAlgorithm
    /// The bytes the signature covers: `protected.payload` for JWS, the `Sig_structure` for COSE.
    public let signedBytes: [UInt8]
    public let signature: [UInt8]
    public let payload: [UInt8]
    public let signingScheme: SigningScheme
    public let signingTime: Date?
    public let authenticSigningTime: Date?
    public let expiry: Date?
    /// Leaf first, then intermediates, then the root.
    public let certificates: [Certificate]
    public let timestampToken: [UInt8]?
    public let signingAgent: String?
    /// `io.cncf.notary.verificationPlugin`: the Notary Project plugin that must verify this
    /// signature, and `io.cncf.notary.verificationPluginMinVersion`.
    public let verificationPlugin: String?
    public let verificationPluginMinVersion: String?
    /// Protected headers that are not system attributes, for a verification plugin.
    public let extendedAttributes: [(key: String, value: JSONValue)]
    /// The `crit` list of the protected header.
    public let criticalAttributes: [String]

    public static func parse(_ bytes: [UInt8], mediaType: String) throws(NotationError) -> SignatureEnvelope {
        guard let format = Format(rawValue: mediaType) else {
            throw NotationError(.unsupportedEnvelope, "signature envelope media type \"\(mediaType)\" is not application/jose+json or application/cose")
        }
        guard bytes.count <= maxSize else {
            throw NotationError(.malformedEnvelope, "the signature envelope is \(bytes.count) bytes; at most \(maxSize) are accepted")
        }
        switch format {
        case .jws: return try JWSEnvelope.parse(bytes)
        case .cose: return try COSEEnvelope.parse(bytes)
        }
    }

    /// The format-neutral part of parsing: both formats hand over their signed attributes and
    /// this applies the rules the signature specification sets for them.
    init(format: Format, signed: SignedAttributes, signedBytes: [UInt8], signature: [UInt8], payload: [UInt8],
         certificates: [Certificate], timestampToken: [UInt8]?, signingAgent: String?) throws(NotationError) {
        let name = format == .jws ? "JWS" : "COSE"
        guard signed.contentType == Self.payloadContentType else {
            throw NotationError(.malformedEnvelope, "the \(name) content type is \(signed.contentType.map { "\"\($0)\"" } ?? "missing"); it must be \"\(Self.payloadContentType)\"")
        }
        guard let schemeName = signed.signingScheme else {
            throw NotationError(.malformedEnvelope, "the \(name) protected header has no io.cncf.notary.signingScheme")
        }
        guard let scheme = SigningScheme(rawValue: schemeName) else {
            throw NotationError(.malformedEnvelope, "signing scheme \"\(schemeName)\" is not notary.x509 or notary.x509.signingAuthority")
        }
        // "This header MUST contain io.cncf.notary.signingScheme … and optionally contain
        // io.cncf.notary.authenticSigningTime and io.cncf.notary.expiry if these critical headers
        // are present in the signature."
        var mustBeCritical = [SignedAttributes.signingSchemeKey]
        switch scheme {
        case .x509:
            guard signed.signingTime != nil else {
                throw NotationError(.malformedEnvelope, "a notary.x509 signature must carry io.cncf.notary.signingTime")
            }
            guard signed.authenticSigningTime == nil else {
                throw NotationError(.malformedEnvelope, "io.cncf.notary.authenticSigningTime is only valid with the notary.x509.signingAuthority scheme")
            }
        case .x509SigningAuthority:
            guard signed.authenticSigningTime != nil else {
                throw NotationError(.malformedEnvelope, "a notary.x509.signingAuthority signature must carry io.cncf.notary.authenticSigningTime")
            }
            guard signed.signingTime == nil else {
                throw NotationError(.malformedEnvelope, "io.cncf.notary.signingTime is only valid with the notary.x509 scheme")
            }
            mustBeCritical.append(SignedAttributes.authenticSigningTimeKey)
        }
        if let expiry = signed.expiry {
            mustBeCritical.append(SignedAttributes.expiryKey)
            // notation-core-go validateSigningAndExpiryTime: "expiry cannot be equal or before
            // the signing time".
            if let signingTime = signed.signingTime ?? signed.authenticSigningTime, expiry <= signingTime {
                throw NotationError(.malformedEnvelope, "io.cncf.notary.expiry (\(expiry)) is not after the signing time (\(signingTime))")
            }
        }
        if signed.verificationPlugin != nil { mustBeCritical.append(SignedAttributes.verificationPluginKey) }
        if signed.verificationPluginMinVersion != nil { mustBeCritical.append(SignedAttributes.verificationPluginMinVersionKey) }
        for key in mustBeCritical where !signed.critical.contains(key) {
            throw NotationError(.malformedEnvelope, "\(key) must be listed in the \(name) crit header")
        }
        for key in signed.critical {
            guard signed.present.contains(key) else {
                throw NotationError(.malformedEnvelope, "the \(name) crit header lists \(key), which the protected header does not carry")
            }
            // A critical attribute we do not understand fails verification — unless the signature
            // names a verification plugin, which must then process it (`processedAttributes`).
            guard SignedAttributes.understood.contains(key) || signed.verificationPlugin != nil else {
                throw NotationError(.unknownCriticalAttribute, "the signature marks \"\(key)\" critical and this verifier does not understand it")
            }
        }

        guard !certificates.isEmpty else {
            throw NotationError(.malformedEnvelope, "the \(name) envelope carries no certificate chain")
        }
        self.format = format
        self.algorithm = signed.algorithm
        self.signedBytes = signedBytes
        self.signature = signature
        self.payload = payload
        self.signingScheme = scheme
        self.signingTime = signed.signingTime
        self.authenticSigningTime = signed.authenticSigningTime
        self.expiry = signed.expiry
        self.verificationPlugin = signed.verificationPlugin
        self.verificationPluginMinVersion = signed.verificationPluginMinVersion
        self.extendedAttributes = signed.extended
        self.criticalAttributes = signed.critical
        self.certificates = certificates
        self.timestampToken = timestampToken
        self.signingAgent = signingAgent
    }

    public var leaf: Certificate { certificates[0] }
}

/// The protected attributes both formats carry, collected before the shared rules run.
struct SignedAttributes {
    static let signingSchemeKey = "io.cncf.notary.signingScheme"
    static let signingTimeKey = "io.cncf.notary.signingTime"
    static let authenticSigningTimeKey = "io.cncf.notary.authenticSigningTime"
    static let expiryKey = "io.cncf.notary.expiry"
    static let verificationPluginKey = "io.cncf.notary.verificationPlugin"
    static let verificationPluginMinVersionKey = "io.cncf.notary.verificationPluginMinVersion"
    /// Critical attributes this verifier processes (the plugin ones only to refuse them by name).
    /// signingTime too: it is processed, and notation's COSE reader accepts it as critical.
    static let understood: Set<String> = [signingSchemeKey, signingTimeKey, authenticSigningTimeKey, expiryKey,
                                          verificationPluginKey, verificationPluginMinVersionKey]

    var algorithm: SignatureAlgorithm
    var contentType: String?
    var critical: [String] = []
    var signingScheme: String?
    var signingTime: Date?
    var authenticSigningTime: Date?
    var expiry: Date?
    var verificationPlugin: String?
    var verificationPluginMinVersion: String?
    /// Names of every protected header present (for `crit` consistency).
    var present: Set<String> = []
    /// The protected headers that are not system attributes (notation-core-go's "extended
    /// attributes"), in header order, with their values as JSON — what a verification plugin
    /// is handed and must process.
    var extended: [(key: String, value: JSONValue)] = []
    /// The system attributes of both formats, never extended (notation-core-go jws/types.go).
    static let system: Set<String> = ["alg", "cty", "crit", signingSchemeKey, signingTimeKey, authenticSigningTimeKey, expiryKey]

    /// The io.cncf.notary.* attributes, read by each format's own text and time decoders.
    mutating func readNotaryAttributes(text: (String) throws(NotationError) -> String?,
                                       time: (String) throws(NotationError) -> Date?) throws(NotationError) {
        signingScheme = try text(Self.signingSchemeKey)
        signingTime = try time(Self.signingTimeKey)
        authenticSigningTime = try time(Self.authenticSigningTimeKey)
        expiry = try time(Self.expiryKey)
        verificationPlugin = try text(Self.verificationPluginKey)
        verificationPluginMinVersion = try text(Self.verificationPluginMinVersionKey)
    }
}
