/// Where subjects are resolved and their signatures found: an OCI registry in production
/// (Registry module), anything else in tests. Every call is bounded by `deadline`; running out of
/// time is an error, never an empty answer.
public protocol ReferrerStore: Sendable {
    /// Resolves a reference (tag or digest) to the descriptor of its manifest.
    func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor
    /// Artifacts whose `subject` is `subject` (which must carry a digest), optionally only those
    /// of the given artifact types.
    func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor]
    /// The descriptor `reference` resolved to, if cached (no I/O).
    func cachedDescriptor(_ reference: ImageReference) -> Descriptor?
    /// `referrers(of:artifactTypes:)` for a caller whose verifiers handle only `verifiable`
    /// artifact types (nil: every type): the store may skip lookups that could only find
    /// other types (the registry store's cosign `.sig` tag).
    func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                   deadline: ContinuousClock.Instant) async throws -> [Descriptor]
    /// `referrers(of:artifactTypes:verifiable:deadline:)`, telling `early` of a referrer known
    /// before the whole list is (the registry store's cosign `.sig` manifest arrives alongside
    /// the tag-schema listing), so that the caller may start on it while the rest is fetched.
    /// `early` may never be called; a referrer it named may still be missing from the list
    /// (filtered out, or the listing failed): the list alone says what is attached.
    func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                   early: @escaping @Sendable (Descriptor) -> Void, deadline: ContinuousClock.Instant) async throws -> [Descriptor]
    /// A manifest by digest, its bytes checked against the digest.
    func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8])
    /// A blob by digest, its bytes checked against the digest and size.
    func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8]
}

extension ReferrerStore {
    /// The descriptor `reference` resolved to, if the store has it cached (no I/O); nil otherwise.
    public func cachedDescriptor(_ reference: ImageReference) -> Descriptor? { nil }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                          deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await referrers(of: subject, artifactTypes: artifactTypes, deadline: deadline)
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                          early: @escaping @Sendable (Descriptor) -> Void, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await referrers(of: subject, artifactTypes: artifactTypes, verifiable: verifiable, deadline: deadline)
    }
}
