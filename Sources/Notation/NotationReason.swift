/// Why a notation verification failed: the stable `errorReason` of a report, one case per
/// check outcome (the string values are what reports, logs and users' constraints carry).
public enum NotationReason: String, Sendable, CaseIterable, CustomStringConvertible {
    case subjectNotResolved = "SUBJECT_NOT_RESOLVED"
    case trustPolicyNotFound = "TRUST_POLICY_NOT_FOUND"
    case signatureFetchFailure = "SIGNATURE_FETCH_FAILURE"
    case signatureEnvelopeInvalid = "SIGNATURE_ENVELOPE_INVALID"
    case signatureEnvelopeUnsupported = "SIGNATURE_ENVELOPE_UNSUPPORTED"
    case signaturePayloadInvalid = "SIGNATURE_PAYLOAD_INVALID"
    case unknownCriticalAttribute = "UNKNOWN_CRITICAL_ATTRIBUTE"
    case verificationPluginRequired = "VERIFICATION_PLUGIN_REQUIRED"
    case verificationPluginFailure = "VERIFICATION_PLUGIN_FAILURE"
    case signatureIntegrityFailure = "SIGNATURE_INTEGRITY_FAILURE"
    case signatureSubjectMismatch = "SIGNATURE_SUBJECT_MISMATCH"
    case signatureNotTrusted = "SIGNATURE_NOT_TRUSTED"
    case trustStoreNotConfigured = "TRUST_STORE_NOT_CONFIGURED"
    case trustStoreEmpty = "TRUST_STORE_EMPTY"
    case trustStoreUnavailable = "TRUST_STORE_UNAVAILABLE"
    case trustedIdentityMismatch = "TRUSTED_IDENTITY_MISMATCH"
    case signatureExpired = "SIGNATURE_EXPIRED"
    case certificateExpired = "CERTIFICATE_EXPIRED"
    case timestampMissing = "TIMESTAMP_MISSING"
    case timestampInvalid = "TIMESTAMP_INVALID"
    case timestampNotTrusted = "TIMESTAMP_NOT_TRUSTED"
    case certificateRevoked = "CERTIFICATE_REVOKED"
    case revocationUnavailable = "REVOCATION_UNAVAILABLE"

    public var description: String { rawValue }
}

/// The envelope and payload errors' names, as NotationError has always spelled them.
extension NotationReason {
    public static let malformedEnvelope = NotationReason.signatureEnvelopeInvalid
    public static let unsupportedEnvelope = NotationReason.signatureEnvelopeUnsupported
    public static let pluginRequired = NotationReason.verificationPluginRequired
    public static let malformedPayload = NotationReason.signaturePayloadInvalid
}
