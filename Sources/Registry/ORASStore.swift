import Core
import HTTPClient
import Foundation
import JSON
import Synchronization

/// The referrer store over the OCI distribution API (spec v1.1): resolve, referrers (API, then
/// the tag schema fallback), cosign `.sig` tags, manifests and blobs checked against their
/// digests. All I/O goes through one `HTTPTransport` (libcurl) with auth, retries and caches here.
public final class ORASStore: ReferrerStore, Sendable {
    public let options: ORASStoreOptions
    let transport: any HTTPTransport
    let credentials: any CredentialProvider
    /// Called once per HTTP request sent, with the registry host and the status (0 when no
    /// response arrived); feeds `ratify_registry_request_count`.
    let onRequest: @Sendable (_ host: String, _ status: Int) -> Void

    let content: ByteLRUCache
    let resolved: TTLCache<Descriptor>
    let referrerLists: TTLCache<[Descriptor]>
    let authorizations = TTLCache<String>(ttl: .seconds(300))
    let coalescer = Coalescer<[UInt8], RegistryError>(wrap: RegistryError.unexpected)
    let descriptorCoalescer = Coalescer<Descriptor, RegistryError>(wrap: RegistryError.unexpected)
    let listCoalescer = Coalescer<[Descriptor], RegistryError>(wrap: RegistryError.unexpected)
    /// Repositories (`registry/repository`) seen answering 404 (or not an index) on the
    /// referrers API: the tag schema first, for a while. Per repository, not per registry: one
    /// repository's 404 must not hide another's referrers; and not forever.
    let noReferrersAPI = TTLCache<ContinuousClock.Instant>(ttl: .seconds(600))
    /// Repositories whose referrers API answered (an OCI index) lately: listed through the API
    /// alone. Neither known: the API and the tag schema are asked at once (below).
    let referrersAPISeen = TTLCache<Bool>(ttl: .seconds(600))
    /// Resolved tags, referrer lists and content shared with other replicas, under `sharedScope`
    /// (this store's configuration fingerprint). Content read back is checked by digest again.
    let shared: (any SharedCache)?
    let sharedScope: String
    /// The transport's I/O thread, when it is a task executor: shared work runs there too.
    var preferredExecutor: (any TaskExecutor)? { transport as? any TaskExecutor }
    /// Content larger than this stays out of the shared cache (signatures are a few KiB).
    static let maxSharedContent = 256 * 1024

    public init(options: ORASStoreOptions = ORASStoreOptions(), credentials: any CredentialProvider = AnonymousCredentials(),
                transport: any HTTPTransport = CurlMultiTransport.shared,
                onRequest: @escaping @Sendable (_ host: String, _ status: Int) -> Void = { _, _ in },
                shared: (any SharedCache)? = nil, sharedScope: String = "") {
        self.shared = shared
        self.sharedScope = sharedScope
        self.options = options
        self.credentials = credentials
        self.transport = transport
        self.onRequest = onRequest
        content = ByteLRUCache(capacityBytes: options.contentCacheBytes)
        // Bounded by entries and bytes: a descriptor is ~300 bytes in memory.
        resolved = TTLCache(ttl: options.ttl, maxEntries: 10_000, maxBytes: 8 * 1024 * 1024) { _ in 300 }
        referrerLists = TTLCache(ttl: options.ttl, maxEntries: 10_000, maxBytes: 32 * 1024 * 1024) { 64 + $0.count * 300 }
    }

    // MARK: ReferrerStore

    public func resolve(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws -> Descriptor {
        try await resolveDescriptor(reference, deadline: deadline)
    }

    public func cachedDescriptor(_ reference: ImageReference) -> Descriptor? {
        guard options.cacheEnabled else { return nil }
        return resolved.get(Self.resolvedKey(reference).key)
    }

    /// What a reference is resolved by (digest, else tag, else latest) and its cache key.
    private static func resolvedKey(_ reference: ImageReference) -> (target: String, key: String) {
        let target = reference.digest?.description ?? reference.tag ?? "latest"
        return (target, "\(reference.name)@\(target)")
    }

    public func resolveDescriptor(_ reference: ImageReference, deadline: ContinuousClock.Instant) async throws(RegistryError) -> Descriptor {
        let (target, key) = Self.resolvedKey(reference)
        if options.cacheEnabled, let cached = resolved.get(key) { return cached }
        let descriptor = try await descriptorCoalescer.run("resolve \(key)", executor: preferredExecutor) { () throws(RegistryError) -> Descriptor in
            let sharedKey = SharedKey.store(self.sharedScope, "resolve:\(key)")
            if let entry = await self.sharedGet(sharedKey, deadline: deadline), let list = ORASStore.decodeShared(entry),
               list.count == 1, reference.digest == nil || list[0].digest == reference.digest {
                return list[0]
            }
            let descriptor = try await self.fetchDescriptor(reference, target: target, deadline: deadline)
            self.sharedPut(sharedKey, [descriptor])
            return descriptor
        }
        if options.cacheEnabled {
            resolved.put(key, descriptor)
            // Verifiers resolve the subject again by digest (notation compares the signed
            // descriptor with it): answer that from the same lookup.
            if reference.digest == nil { resolved.put("\(reference.name)@\(descriptor.digest)", descriptor) }
        }
        return descriptor
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await referrerDescriptors(of: subject, artifactTypes: artifactTypes, deadline: deadline)
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                          deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await verifiableReferrers(subject, artifactTypes: artifactTypes, verifiable: verifiable, early: nil, deadline: deadline)
    }

    public func referrers(of subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                          early: @escaping @Sendable (Descriptor) -> Void, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        try await verifiableReferrers(subject, artifactTypes: artifactTypes, verifiable: verifiable, early: early, deadline: deadline)
    }

    /// The `.sig` tag is only asked for when a configured verifier checks cosign signatures.
    private func verifiableReferrers(_ subject: ImageReference, artifactTypes: [String]?, verifiable: Set<String>?,
                                     early: (@Sendable (Descriptor) -> Void)?, deadline: ContinuousClock.Instant) async throws -> [Descriptor] {
        let probeCosign = verifiable?.contains(MediaType.cosignSignatureArtifact) ?? true
        return try await referrerDescriptors(of: subject, artifactTypes: artifactTypes, probeCosign: probeCosign, early: early, deadline: deadline)
    }

    public func manifest(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> (Manifest, [UInt8]) {
        let bytes = try await content(descriptor, in: repository, kind: .manifest, deadline: deadline)
        do {
            return (try Manifest.parse(bytes, mediaType: descriptor.mediaType), bytes)
        } catch {
            throw RegistryError(.invalidResponse, "manifest \(descriptor.digest) in \(repository.name): \(error.message)")
        }
    }

    public func blob(_ descriptor: Descriptor, in repository: ImageReference, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        try await content(descriptor, in: repository, kind: .blob, deadline: deadline)
    }

    // MARK: resolve

    private func fetchDescriptor(_ reference: ImageReference, target: String, deadline: ContinuousClock.Instant) async throws(RegistryError) -> Descriptor {
        let response = try await send("HEAD", reference, path: "manifests/\(target)", accept: MediaType.manifestAcceptHeader,
                                      maxBytes: 0, deadline: deadline)
        switch response.status {
        case 200:
            let mediaType = response.header("Content-Type").map { String($0.split(separator: ";")[0]) } ?? ""
            if let header = response.header("Docker-Content-Digest"), let digest = try? Digest.parse(header),
               let size = response.header("Content-Length").flatMap(Int.init) {
                if let pinned = reference.digest, pinned != digest {
                    throw RegistryError(.digestMismatch, "\(reference.name): registry answered digest \(digest) for \(pinned)")
                }
                return Descriptor(mediaType: mediaType, digest: digest, size: size)
            }
            // No digest header: fetch the manifest and hash it ourselves.
            let body = try await send("GET", reference, path: "manifests/\(target)", accept: MediaType.manifestAcceptHeader,
                                      maxBytes: options.maxManifestBytes, deadline: deadline)
            guard body.status == 200 else { throw statusError(body, reference, what: "manifest \(target)") }
            let digest = reference.digest ?? Digest.of(body.body)
            guard digest.matches(body.body) else {
                throw RegistryError(.digestMismatch, "manifest \(reference.name)@\(digest) does not match its digest")
            }
            let type = body.header("Content-Type").map { String($0.split(separator: ";")[0]) } ?? mediaType
            keep(body.body, under: cacheKey(reference, digest))
            return Descriptor(mediaType: type, digest: digest, size: body.body.count)
        default:
            throw statusError(response, reference, what: "manifest \(target)")
        }
    }

    // MARK: content by digest

    enum ContentKind { case manifest, blob }

    private func cacheKey(_ repository: ImageReference, _ digest: Digest) -> String { "\(repository.name)@\(digest)" }

    private func content(_ descriptor: Descriptor, in repository: ImageReference, kind: ContentKind,
                         deadline: ContinuousClock.Instant) async throws(RegistryError) -> [UInt8] {
        let key = cacheKey(repository, descriptor.digest)
        if let cached = content.get(key) { return cached }
        let limit = kind == .manifest ? options.maxManifestBytes : options.maxBlobBytes
        guard descriptor.size <= limit else {
            throw RegistryError(.tooLarge, "\(kind == .manifest ? "manifest" : "blob") \(descriptor.digest) in \(repository.name) is \(descriptor.size) bytes; the limit is \(limit)")
        }
        return try await coalescer.run("content \(key)", executor: preferredExecutor) { () throws(RegistryError) -> [UInt8] in
            let sharedKey = SharedKey.store(self.sharedScope, "content:\(key)")
            // Content-addressed: what the shared cache returns must still match the digest.
            if let entry = await self.sharedGet(sharedKey, deadline: deadline), descriptor.digest.matches(entry),
               descriptor.size == 0 || entry.count == descriptor.size {
                self.content.put(key, entry)
                return entry
            }
            let path = kind == .manifest ? "manifests/\(descriptor.digest)" : "blobs/\(descriptor.digest)"
            let accept = kind == .manifest ? "\(descriptor.mediaType), \(MediaType.manifestAcceptHeader)" : ""
            let response = try await self.send("GET", repository, path: path, accept: accept, maxBytes: limit, deadline: deadline)
            guard response.status == 200 else { throw self.statusError(response, repository, what: path) }
            // Every byte is checked against the digest we asked for; a mismatch is never cached.
            guard descriptor.digest.matches(response.body) else {
                throw RegistryError(.digestMismatch,
                    "\(path) from \(repository.registry)/\(repository.repository) does not match its digest (got \(Digest.of(response.body, algorithm: descriptor.digest.algorithm)))")
            }
            guard descriptor.size == 0 || response.body.count == descriptor.size else {
                throw RegistryError(.digestMismatch, "\(path) is \(response.body.count) bytes; its descriptor says \(descriptor.size)")
            }
            self.keep(response.body, under: key)
            return response.body
        }
    }

    // MARK: referrers

    /// `early`: told of the cosign signature manifest as soon as it arrives, while the
    /// listing may still be on its way (only the caller that starts the lookup is told).
    public func referrerDescriptors(of subject: ImageReference, artifactTypes: [String]?, probeCosign: Bool = true,
                                    early: (@Sendable (Descriptor) -> Void)? = nil,
                                    deadline: ContinuousClock.Instant) async throws(RegistryError) -> [Descriptor] {
        guard let digest = subject.digest else {
            throw RegistryError(.invalidConfiguration, "referrers of \(subject) need a digest; resolve the reference first")
        }
        let filter = artifactTypes.map { Set($0) }
        let cosignWanted = options.cosignEnabled && probeCosign && (filter?.contains(MediaType.cosignSignatureArtifact) ?? true)
        let key = "\(subject.name)@\(digest)|\(artifactTypes?.sorted().joined(separator: ",") ?? "*")|\(cosignWanted ? "sig" : "")"
        if options.cacheEnabled, let cached = referrerLists.get(key) { return cached }
        let list = try await listCoalescer.run("referrers \(key)", executor: preferredExecutor) { () throws(RegistryError) -> [Descriptor] in
            let sharedKey = SharedKey.store(self.sharedScope, "referrers:\(key)")
            if let entry = await self.sharedGet(sharedKey, deadline: deadline), let list = ORASStore.decodeShared(entry) { return list }
            let found = try await self.fetchReferrers(subject, digest: digest, artifactTypes: artifactTypes, filter: filter,
                                                      cosignWanted: cosignWanted, early: early, deadline: deadline)
            self.sharedPut(sharedKey, found)
            return found
        }
        if options.cacheEnabled { referrerLists.put(key, list) }
        return list
    }

    private func fetchReferrers(_ subject: ImageReference, digest: Digest, artifactTypes: [String]?, filter: Set<String>?,
                                cosignWanted: Bool, early: (@Sendable (Descriptor) -> Void)?,
                                deadline: ContinuousClock.Instant) async throws(RegistryError) -> [Descriptor] {
        var found = cosignWanted
            ? try await listReferrersAndCosignTag(subject, digest: digest, artifactTypes: artifactTypes, early: early, deadline: deadline)
            : try await listReferrers(subject, digest: digest, artifactTypes: artifactTypes, deadline: deadline)
        if let filter { found = found.filter { $0.artifactType.map(filter.contains) ?? false } }
        return found
    }

    /// The referrers listing and cosign's signature tag, looked up together: one round trip, not
    /// two. The tag's request goes out first (the listing is the child task, which runs once this
    /// one waits): the .sig answer is the one that starts work — its signature is named at once
    /// (`early`, the caller's filter admits cosign signatures) and checked — so it should come
    /// back first, and that work overlaps the wait for the listing (usually a 404 of the tag
    /// schema) instead of following it.
    private func listReferrersAndCosignTag(_ subject: ImageReference, digest: Digest, artifactTypes: [String]?,
                                           early: (@Sendable (Descriptor) -> Void)?,
                                           deadline: ContinuousClock.Instant) async throws(RegistryError) -> [Descriptor] {
        let listing = Task(executorPreference: preferredExecutor) { () throws(RegistryError) -> [Descriptor] in
            try await self.listReferrers(subject, digest: digest, artifactTypes: artifactTypes, deadline: deadline)
        }
        // Cancelled on every way out: a no-op once it finished, a stop when the tag's lookup
        // failed (or was cancelled, its requests abandoned).
        defer { listing.cancel() }
        let signature: Result<Descriptor?, RegistryError>
        do throws(RegistryError) {
            let found = try await cosignSignature(subject, digest: digest, deadline: deadline)
            if let found, let early { early(found) }
            signature = .success(found)
        } catch {
            signature = .failure(error)
        }
        // The listing's failure is reported first, then the tag's.
        var found = try await Self.value(of: listing)
        if let cosign = try signature.get(), !found.contains(where: { $0.digest == cosign.digest }) { found.append(cosign) }
        return found
    }

    // MARK: shared cache

    /// Digest-checked content into the local cache and, when small, the shared one.
    private func keep(_ bytes: [UInt8], under key: String) {
        content.put(key, bytes)
        if options.cacheEnabled, bytes.count <= ORASStore.maxSharedContent {
            shared?.put(SharedKey.store(sharedScope, "content:\(key)"), bytes, ttl: .seconds(3600))
        }
    }

    /// A shared entry, when the store caches and a shared cache is configured; within the
    /// shared cache's own budget and the caller's deadline.
    private func sharedGet(_ key: String, deadline: ContinuousClock.Instant) async -> [UInt8]? {
        guard options.cacheEnabled, let shared else { return nil }
        return await shared.get(key, deadline: min(deadline, .now + shared.lookupBudget))?.value
    }

    private func sharedPut(_ key: String, _ descriptors: [Descriptor]) {
        guard options.cacheEnabled, let shared else { return }
        shared.put(key, ORASStore.encodeShared(descriptors), ttl: options.ttl)
    }

    static func encodeShared(_ descriptors: [Descriptor]) -> [UInt8] {
        Array(JSONWriter.encodeString(.array(descriptors.map { $0.json() })).utf8)
    }

    static func decodeShared(_ bytes: [UInt8]) -> [Descriptor]? {
        guard let list = (try? JSONParser.parse(bytes))?.arrayValue else { return nil }
        var out: [Descriptor] = []
        for item in list {
            guard let descriptor = try? Descriptor.parse(item, path: "shared") else { return nil }
            out.append(descriptor)
        }
        return out
    }

    /// OCI distribution spec 1.1, "Listing Referrers": the API first; on 404 the tag schema.
    /// A repository whose API answered 404 goes to the tag schema for a while (10 min); once the
    /// 404 is older than `referrersAPIRecheck` the API is asked again (the 404 may have been a
    /// moment's) — once per interval, not once per image.
    private func listReferrers(_ subject: ImageReference, digest: Digest, artifactTypes: [String]?,
                               deadline: ContinuousClock.Instant) async throws(RegistryError) -> [Descriptor] {
        // Past the recheck interval the API is asked again, whatever the tag schema holds (a
        // referrer listed only through the API could decide an `all` rule); within it, the tag schema.
        let apiWorthAsking = noReferrersAPI.get(subject.name).map { ContinuousClock.now - $0 >= options.referrersAPIRecheck } ?? true
        guard apiWorthAsking else { return try await tagSchemaReferrers(subject, digest: digest, deadline: deadline) }
        if referrersAPISeen.get(subject.name) != nil {
            if let found = try await apiReferrers(subject, digest: digest, artifactTypes: artifactTypes, deadline: deadline) { return found }
            return try await tagSchemaReferrers(subject, digest: digest, deadline: deadline)
        }
        // Not known yet whether this repository has the API (a fresh process, or a 404 being
        // re-checked): the tag schema is read alongside the probe, so a registry without the API
        // (distribution 2.x, most mirrors) costs one round trip here, not two. With the API the
        // tag schema's answer is dropped — one request, once per repository per 10 minutes.
        let tagSchema = Task(executorPreference: preferredExecutor) { () throws(RegistryError) -> [Descriptor] in
            try await self.tagSchemaReferrers(subject, digest: digest, deadline: deadline)
        }
        defer { tagSchema.cancel() }
        if let found = try await apiReferrers(subject, digest: digest, artifactTypes: artifactTypes, deadline: deadline) { return found }
        return try await Self.value(of: tagSchema)
    }

    /// The value of a task started alongside the caller's own request. The task is unstructured,
    /// so the caller's cancellation is handed on to it: a cancelled caller does not wait for a
    /// registry that does not answer.
    private static func value<T>(of task: Task<T, any Error>) async throws(RegistryError) -> T {
        switch await withTaskCancellationHandler(operation: { await task.result }, onCancel: { task.cancel() }) {
        case .success(let value): return value
        case .failure(let error as RegistryError): throw error
        case .failure(let error): throw RegistryError.unexpected(error)
        }
    }

    /// The referrers API's pages, or nil when the registry has none for this repository (404, or
    /// a 200 that is not an OCI index): "the client MUST fallback to the tag schema".
    private func apiReferrers(_ subject: ImageReference, digest: Digest, artifactTypes: [String]?,
                              deadline: ContinuousClock.Instant) async throws(RegistryError) -> [Descriptor]? {
        var query = ""
        if let types = artifactTypes, types.count == 1,
           let encoded = types[0].addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) {
            query = "?artifactType=\(encoded)"
        }
        var path = "referrers/\(digest)\(query)"
        var descriptors: [Descriptor] = []
        for page in 0..<50 {
            let response = try await send("GET", subject, path: path, accept: MediaType.ociIndex,
                                          maxBytes: options.maxManifestBytes, deadline: deadline)
            let contentType = response.header("Content-Type").map { String($0.split(separator: ";")[0]) }
            // Only the first page says whether the API exists; a later page's 404 is a broken
            // listing, refused rather than replaced by the tag schema (which could hide referrers).
            if page == 0 && (response.status == 404 || (response.status == 200 && contentType != MediaType.ociIndex)) {
                noReferrersAPI.put(subject.name, .now)
                return nil
            }
            guard response.status == 200 else { throw statusError(response, subject, what: "referrers of \(digest)") }
            let index: Manifest
            do { index = try Manifest.parse(response.body, mediaType: contentType) } catch {
                throw RegistryError(.invalidResponse, "referrers of \(subject.name)@\(digest): \(error.message)")
            }
            noReferrersAPI.remove(subject.name)
            referrersAPISeen.put(subject.name, true)
            descriptors += index.manifests
            guard descriptors.count <= options.maxReferrers else {
                throw RegistryError(.tooLarge, "\(subject.name)@\(digest) has more than \(options.maxReferrers) referrers; the limit is \(options.maxReferrers)")
            }
            guard let next = Self.nextLink(response.headerValues("Link")) else { return descriptors }
            path = next
        }
        throw RegistryError(.invalidResponse, "referrers of \(subject.name)@\(digest): more than 50 pages")
    }

    /// "Referrers Tag Schema": an OCI index tagged `<alg>-<ref>` lists the referrers.
    private func tagSchemaReferrers(_ subject: ImageReference, digest: Digest, deadline: ContinuousClock.Instant) async throws(RegistryError) -> [Descriptor] {
        let response = try await send("GET", subject, path: "manifests/\(digest.referrersTag)", accept: MediaType.ociIndex,
                                      maxBytes: options.maxManifestBytes, deadline: deadline)
        if response.status == 404 { return [] }
        guard response.status == 200 else { throw statusError(response, subject, what: "referrers tag \(digest.referrersTag)") }
        let contentType = response.header("Content-Type").map { String($0.split(separator: ";")[0]) }
        let index: Manifest
        do { index = try Manifest.parse(response.body, mediaType: contentType) } catch {
            throw RegistryError(.invalidResponse, "referrers tag of \(subject.name)@\(digest): \(error.message)")
        }
        guard index.mediaType == MediaType.ociIndex else {
            throw RegistryError(.invalidResponse, "tag \(digest.referrersTag) in \(subject.name) holds \(index.mediaType), not an OCI index")
        }
        guard index.manifests.count <= options.maxReferrers else {
            throw RegistryError(.tooLarge, "\(subject.name)@\(digest) has \(index.manifests.count) referrers; the limit is \(options.maxReferrers)")
        }
        return index.manifests
    }

    /// cosign's convention: the signature manifest is tagged `sha256-<hex>.sig`. Fetched whole
    /// (not HEAD) so the verifier's manifest read is already cached.
    private func cosignSignature(_ subject: ImageReference, digest: Digest, deadline: ContinuousClock.Instant) async throws(RegistryError) -> Descriptor? {
        let tag = "\(digest.referrersTag).sig"
        let response = try await send("GET", subject, path: "manifests/\(tag)", accept: MediaType.manifestAcceptHeader,
                                      maxBytes: options.maxManifestBytes, deadline: deadline)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw statusError(response, subject, what: "cosign signature tag \(tag)") }
        let signatureDigest = Digest.of(response.body)
        if let header = response.header("Docker-Content-Digest"), header != signatureDigest.description {
            throw RegistryError(.digestMismatch, "cosign signature \(tag) in \(subject.name): body digest \(signatureDigest) != header \(header)")
        }
        keep(response.body, under: cacheKey(subject, signatureDigest))
        let mediaType = response.header("Content-Type").map { String($0.split(separator: ";")[0]) } ?? MediaType.ociManifest
        return Descriptor(mediaType: mediaType, digest: signatureDigest, size: response.body.count,
                          artifactType: MediaType.cosignSignatureArtifact)
    }

    /// RFC 8288 `Link: </v2/…?last=…>; rel="next"` → the path after `/v2/<name>/`.
    static func nextLink(_ values: [String]) -> String? {
        for value in values {
            for part in value.split(separator: ",") {
                guard part.contains("rel=\"next\"") || part.contains("rel=next"),
                      let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">") else { continue }
                let target = String(part[part.index(after: open)..<close])
                if let range = target.range(of: "/referrers/") { return "referrers/" + target[range.upperBound...] }
            }
        }
        return nil
    }

    // MARK: errors

    func statusError(_ response: TransportResponse, _ reference: ImageReference, what: String) -> RegistryError {
        let detail = Self.errorDetail(response.body)
        switch response.status {
        case 401, 403:
            return RegistryError(.unauthorized, "\(reference.registry) refused access to \(reference.repository) (\(what)): HTTP \(response.status)\(detail)")
        case 404:
            return RegistryError(.notFound, "\(what) not found in \(reference.name)\(detail)")
        case 429:
            return RegistryError(.rateLimited, "\(reference.registry) rate-limited \(what) (HTTP 429)")
        default:
            return RegistryError(.unexpectedStatus, "\(reference.registry) answered HTTP \(response.status) for \(what) in \(reference.repository)\(detail)")
        }
    }

    /// The first `errors[].message` of a distribution error body, if any.
    static func errorDetail(_ body: [UInt8]) -> String {
        guard !body.isEmpty, let document = try? JSONParser.parse(body),
              let first = document["errors"]?.arrayValue?.first else { return "" }
        let code = first["code"]?.stringValue.map { "\($0): " } ?? ""
        return ": " + code + (first["message"]?.stringValue ?? "")
    }
}
