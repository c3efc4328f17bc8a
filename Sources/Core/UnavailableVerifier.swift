/// Stands for a configured verifier kind this build does not implement: every artifact it
/// would handle gets a failing report saying so. Never a pass.
public struct UnavailableVerifier: Verifier {
    public let name: String
    public let type: String
    public let artifactTypes: [String]

    public init(name: String, type: String, artifactTypes: [String]) {
        self.name = name
        self.type = type
        self.artifactTypes = artifactTypes
    }

    public func verify(subject: ImageReference, referrer: Descriptor, store: any ReferrerStore,
                       deadline: ContinuousClock.Instant) async -> VerifierReport {
        VerifierReport(subject: subject.description, isSuccess: false, verifierName: name, verifierType: type,
                       referenceDigest: referrer.digest.description, artifactType: referrer.artifactType,
                       message: "the \(type) verifier is configured but this build does not implement it yet",
                       errorReason: "VERIFIER_NOT_AVAILABLE",
                       remediation: "use a build with the \(type) verifier, or sign with a method this build verifies (cosign with keys)")
    }
}
