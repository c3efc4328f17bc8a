import Core
import Foundation

/// An in-memory referrer store (Ratify keeps one for executor tests, `memory_store.go`): tags,
/// manifests, blobs and referrer lists put in by the test, content checked against its digest
/// as a registry's would be.
public final class MemoryStore: ReferrerStore, @unchecked Sendable {
    private let lock = NSLock()
    private var tags: [String: Descriptor] = [:]
    private var content: [Digest: [UInt8]] = [:]
    private var referrerLists: [Digest: [Descriptor]] = [:]

    public init() {}

    /// Stores a manifest (or any JSON document) and returns its descriptor.
    @discardableResult
    public func putManifest(_ bytes: [UInt8], mediaType: String, tag: String? = nil, artifactType: String? = nil) -> Descriptor {
        let descriptor = Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: bytes.count, artifactType: artifactType)
        lock.withLock {
            content[descriptor.digest] = bytes
            if let tag { tags[tag] = descriptor }
        }
        return descriptor
    }

    @discardableResult
    public func putBlob(_ bytes: [UInt8], mediaType: String = "application/octet-stream") -> Descriptor {
        let descriptor = Descriptor(mediaType: mediaType, digest: Digest.of(bytes), size: bytes.count)
        lock.withLock { content[descriptor.digest] = bytes }
        return descriptor
    }

    public func addReferrer(_ referrer: Descriptor, to subject: Digest) {
        lock.withLock { referrerLists[subject, default: []].append(referrer) }
    }

    public func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        try lock.withLock {
            if let digest = reference.digest {
                if let tagged = tags.values.first(where: { $0.digest == digest }) { return tagged }
                if let bytes = content[digest] { return Descriptor(mediaType: MediaType.ociManifest, digest: digest, size: bytes.count) }
            } else if let descriptor = tags[reference.tag ?? "latest"] {
                return descriptor
            }
            throw MemoryStoreError(message: "\(reference) is not in the memory store")
        }
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        let all = lock.withLock { subject.digest.flatMap { referrerLists[$0] } ?? [] }
        guard let types = artifactTypes else { return all }
        return all.filter { $0.artifactType.map(types.contains) ?? false }
    }

    public func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        let bytes = try await blob(descriptor, in: repository, deadline: deadline)
        return (try Manifest.parse(bytes, mediaType: descriptor.mediaType), bytes)
    }

    public func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        guard let bytes = lock.withLock({ content[descriptor.digest] }) else {
            throw MemoryStoreError(message: "\(descriptor.digest) is not in the memory store")
        }
        return bytes
    }
}

public struct MemoryStoreError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
