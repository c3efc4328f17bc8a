import Core
import Foundation
import JSON

/// A referrer store over one OCI image layout directory (image-spec image-layout.md): what
/// `notation verify --oci-layout` and `cosign verify --local-image` read, so images can be
/// verified in CI before anything is pushed. The store is bound to one layout; a reference's
/// registry and repository are only the trust-policy scope it is verified under, its tag or
/// digest is looked up in the layout.
///
/// Referrers are found as a registry without the referrers API offers them, plus what an
/// OCI store written by oras-go holds: every manifest reachable from `index.json` whose
/// `subject` is the image, the referrers tag schema (`sha256-<hex>` tagging an index), and
/// cosign's `sha256-<hex>.sig` tag.
public final class OCILayoutStore: ReferrerStore, Sendable {
    /// image-layout.md: "The name of the annotation for a tag is org.opencontainers.image.ref.name".
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// Manifests and indexes above this size are refused (a layout is local, but may come from anywhere).
    public static let maxManifestBytes = 4 << 20
    public static let maxBlobBytes = 64 << 20
    /// Nested indexes are followed this deep from `index.json`.
    static let maxIndexDepth = 4

    public let root: URL
    /// Every manifest descriptor reachable from index.json (nested indexes included), with the
    /// tag it is listed under, if any.
    let entries: [(descriptor: Descriptor, tag: String?)]
    /// Manifests reachable from index.json that name a subject: subject digest → referrers.
    let bySubject: [Digest: [Descriptor]]

    public init(path: String) throws(RegistryError) {
        let root = URL(fileURLWithPath: path, isDirectory: true)
        self.root = root
        // "The oci-layout file … MUST be a JSON object containing imageLayoutVersion."
        let marker = try Self.read(root.appendingPathComponent("oci-layout"), what: "oci-layout file", limit: 4096)
        guard let layout = try? JSONParser.parse(marker), layout["imageLayoutVersion"]?.stringValue != nil else {
            throw RegistryError(.invalidConfiguration, "\(path) is not an OCI image layout: its oci-layout file has no imageLayoutVersion")
        }
        let indexBytes = try Self.read(root.appendingPathComponent("index.json"), what: "index.json", limit: Self.maxManifestBytes)
        let index: Manifest
        do { index = try Manifest.parse(indexBytes, mediaType: MediaType.ociIndex) } catch {
            throw RegistryError(.invalidResponse, "\(path)/index.json: \(error.message)")
        }
        var entries: [(Descriptor, String?)] = []
        var bySubject: [Digest: [Descriptor]] = [:]
        var seen: Set<Digest> = []
        func walk(_ descriptors: [Descriptor], depth: Int) throws(RegistryError) {
            for descriptor in descriptors {
                entries.append((descriptor, descriptor.annotations[Self.refNameAnnotation]))
                guard seen.insert(descriptor.digest).inserted, depth < Self.maxIndexDepth else { continue }
                // A blob listed in index.json but absent is reported when it is asked for.
                guard let bytes = try? Self.content(root, descriptor, limit: Self.maxManifestBytes),
                      let manifest = try? Manifest.parse(bytes, mediaType: descriptor.mediaType) else { continue }
                if let subject = manifest.subject {
                    let referrer = Descriptor(mediaType: manifest.mediaType, digest: descriptor.digest, size: bytes.count,
                                              artifactType: manifest.effectiveArtifactType, annotations: manifest.annotations)
                    bySubject[subject.digest, default: []].append(referrer)
                }
                if manifest.isIndex { try walk(manifest.manifests, depth: depth + 1) }
            }
        }
        try walk(index.manifests, depth: 0)
        self.entries = entries
        self.bySubject = bySubject
    }

    // MARK: ReferrerStore

    public func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        try descriptor(for: reference)
    }

    public func descriptor(for reference: ImageReference) throws(RegistryError) -> Descriptor {
        if let digest = reference.digest {
            if let listed = entries.first(where: { $0.descriptor.digest == digest }) { return listed.descriptor }
            // Not in index.json, but its blob may be there (a manifest inside an index).
            let bytes = try Self.content(root, Descriptor(mediaType: "", digest: digest, size: 0), limit: Self.maxManifestBytes)
            let manifest: Manifest
            do { manifest = try Manifest.parse(bytes, mediaType: nil) } catch {
                throw RegistryError(.invalidResponse, "\(digest) in \(root.path) is not a manifest: \(error.message)")
            }
            return Descriptor(mediaType: manifest.mediaType, digest: digest, size: bytes.count)
        }
        let tag = reference.tag ?? "latest"
        let tagged = entries.filter { $0.tag == tag }
        guard let first = tagged.first else {
            throw RegistryError(.notFound, "no manifest is tagged \"\(tag)\" in the OCI layout \(root.path) (index.json \(Self.refNameAnnotation))")
        }
        // image-layout.md allows the same name on several entries only for different
        // platforms; a verifier cannot pick one, so that is refused rather than guessed.
        guard Set(tagged.map(\.descriptor.digest)).count == 1 else {
            throw RegistryError(.invalidResponse, "tag \"\(tag)\" names \(tagged.count) different manifests in \(root.path); verify one of them by digest")
        }
        return first.descriptor
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        guard let digest = subject.digest else {
            throw RegistryError(.invalidConfiguration, "referrers of \(subject) need a digest; resolve the reference first")
        }
        var found = bySubject[digest] ?? []
        // The referrers tag schema, as oras-go writes it into a layout for OCI 1.0 targets.
        if let schema = entries.first(where: { $0.tag == digest.referrersTag }) {
            let bytes = try Self.content(root, schema.descriptor, limit: Self.maxManifestBytes)
            if let index = try? Manifest.parse(bytes, mediaType: schema.descriptor.mediaType), index.isIndex {
                found += index.manifests.filter { candidate in !found.contains { $0.digest == candidate.digest } }
            }
        }
        // cosign's `sha256-<hex>.sig` tag.
        if let signature = entries.first(where: { $0.tag == "\(digest.referrersTag).sig" }), !found.contains(where: { $0.digest == signature.descriptor.digest }) {
            var descriptor = signature.descriptor
            descriptor.annotations = [:]
            descriptor.artifactType = MediaType.cosignSignatureArtifact
            found.append(descriptor)
        }
        if let types = artifactTypes.map(Set.init) { found = found.filter { $0.artifactType.map(types.contains) ?? false } }
        return found
    }

    public func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        let bytes = try Self.content(root, descriptor, limit: Self.maxManifestBytes)
        do {
            return (try Manifest.parse(bytes, mediaType: descriptor.mediaType), bytes)
        } catch {
            throw RegistryError(.invalidResponse, "manifest \(descriptor.digest) in \(root.path): \(error.message)")
        }
    }

    public func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try Self.content(root, descriptor, limit: Self.maxBlobBytes)
    }

    // MARK: files

    /// "blobs/<alg>/<encoded>": the bytes, checked against the digest (and the size when the
    /// descriptor gives one), as a registry's are.
    static func content(_ root: URL, _ descriptor: Descriptor, limit: Int) throws(RegistryError) -> [UInt8] {
        let digest = descriptor.digest
        let file = root.appendingPathComponent("blobs").appendingPathComponent(digest.algorithm.rawValue).appendingPathComponent(digest.hex)
        let bytes = try read(file, what: "blob \(digest)", limit: limit)
        guard digest.matches(bytes) else {
            throw RegistryError(.digestMismatch, "blob \(digest) in \(root.path) does not match its digest (got \(Digest.of(bytes, algorithm: digest.algorithm)))")
        }
        guard descriptor.size == 0 || bytes.count == descriptor.size else {
            throw RegistryError(.digestMismatch, "blob \(digest) in \(root.path) is \(bytes.count) bytes; its descriptor says \(descriptor.size)")
        }
        return bytes
    }

    static func read(_ file: URL, what: String, limit: Int) throws(RegistryError) -> [UInt8] {
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else {
            throw RegistryError(.notFound, "\(what) not found at \(file.path)")
        }
        guard size <= limit else { throw RegistryError(.tooLarge, "\(what) at \(file.path) is \(size) bytes; the limit is \(limit)") }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw RegistryError(.connection, "cannot read \(what) at \(file.path)")
        }
        return Array(data)
    }
}
