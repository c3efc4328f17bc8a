import Core
import Crypto
import Foundation
import HTTPClient
import JSON

/// Ratify's `rekorURL` behaviour: a signature that carries no Rekor entry while its trust policy
/// requires the transparency log (`tLogVerify`) is looked up in Rekor — the index searched by the
/// signed content's hash (`POST /api/v1/index/retrieve`), each entry fetched
/// (`GET /api/v1/log/entries/<uuid>`) until one records this signature — and that entry is then
/// verified exactly like a bundled one (its SET and inclusion proof against the trusted root's log
/// keys), all within the verification deadline. Found entries are cached.
public struct RekorLookup: Sendable {
    public static let publicGood = "https://rekor.sigstore.dev"
    /// At most this many candidate entries are fetched per signature.
    static let maxCandidates = 16
    let fetcher: any HTTPFetching
    /// Verified entries (keyed by everything they were checked against), and recent misses.
    let found = TTLCache<RekorBundle>(ttl: .seconds(600), maxEntries: 4096)
    let missed = TTLCache<String>(ttl: .seconds(30), maxEntries: 4096)

    public init(fetcher: any HTTPFetching) { self.fetcher = fetcher }

    public enum Outcome: Sendable {
        case found(RekorBundle)
        case notFound(String)
    }

    /// The entry of `base` that records `signature` over content hashed to `payloadHash` and
    /// that `accept` finds nothing wrong with (nil: a trusted log, this key or certificate).
    /// `binding` names what `accept` checks (key or certificate, trusted logs), so a cached
    /// entry is reused only for the same checks.
    public func find(base: String, signature: [UInt8], payloadHash: Digest, binding: String, deadline: ContinuousClock.Instant,
                     accept: (RekorBundle) -> String?) async -> Outcome {
        let cacheKey = "\(base)|\(payloadHash)|\(Data(signature).base64EncodedString())|\(binding)"
        if let cached = found.get(cacheKey), accept(cached) == nil { return .found(cached) }
        if let reason = missed.get(cacheKey) { return .notFound(reason) }
        let outcome = await search(base: base, signature: signature, payloadHash: payloadHash, deadline: deadline, accept: accept)
        switch outcome {
        case .found(let entry): found.put(cacheKey, entry)
        // Running out of time is this request's problem, not the entry's: not remembered.
        case .notFound(let reason): if ContinuousClock.now + .milliseconds(250) < deadline { missed.put(cacheKey, reason) }
        }
        return outcome
    }

    private func search(base: String, signature: [UInt8], payloadHash: Digest, deadline: ContinuousClock.Instant,
                        accept: (RekorBundle) -> String?) async -> Outcome {
        func budget() -> Duration? {
            let left = deadline - .now
            return left > .milliseconds(10) ? left : nil
        }
        let late = "Rekor at \(base) did not answer before the verification deadline"
        // Each request's timeout is the time left: one that fails at (about) the deadline ran out of it.
        func outOfTime() -> Bool { ContinuousClock.now + .milliseconds(250) >= deadline }
        guard let timeout = budget() else { return .notFound(late) }
        let search: [UInt8]
        do {
            search = try await fetcher.fetch("\(base)/api/v1/index/retrieve", body: JSONWriter.encode(["hash": .string(payloadHash.description)]),
                                             contentType: "application/json", timeout: timeout, maxBytes: 1 << 20)
        } catch {
            return .notFound(outOfTime() ? late : "Rekor at \(base) could not be searched: \(error)")
        }
        guard let uuids = (try? JSONParser.parse(search))?.arrayValue?.compactMap(\.stringValue) else {
            return .notFound("Rekor at \(base) answered the search with something other than a list of entry UUIDs")
        }
        guard !uuids.isEmpty else { return .notFound("Rekor at \(base) has no entry for content \(payloadHash)") }
        var problems: [String] = []
        for uuid in uuids.prefix(Self.maxCandidates) {
            guard !uuid.isEmpty, uuid.allSatisfy({ $0.isHexDigit }) else {
                problems.append("\(uuid.prefix(16)): not an entry UUID")
                continue
            }
            guard let timeout = budget() else { return .notFound(late) }
            let bytes: [UInt8]
            do { bytes = try await fetcher.fetch("\(base)/api/v1/log/entries/\(uuid)", body: nil, contentType: nil, timeout: timeout, maxBytes: 4 << 20) } catch {
                if outOfTime() { return .notFound(late) }
                problems.append("\(uuid.prefix(16))…: \(error)")
                continue
            }
            guard let document = try? JSONParser.parse(bytes), let entry = document.objectValue?.members.first?.value,
                  let bundle = Self.bundle(entry) else {
                problems.append("\(uuid.prefix(16))…: not a Rekor log entry")
                continue
            }
            if let problem = accept(bundle) { problems.append("\(uuid.prefix(16))…: \(problem)") } else { return .found(bundle) }
        }
        let examined = min(uuids.count, Self.maxCandidates)
        return .notFound("none of the \(examined) Rekor entries examined for content \(payloadHash) at \(base) is a trusted record of this signature (\(problems.prefix(4).joined(separator: "; ")))")
    }

    /// A `LogEntryAnon` of Rekor's API: body, integratedTime, logID, logIndex and
    /// `verification {signedEntryTimestamp, inclusionProof {logIndex, rootHash, treeSize, hashes, checkpoint}}`
    /// (hashes in hex there).
    static func bundle(_ entry: JSONValue) -> RekorBundle? {
        guard let body = entry["body"]?.stringValue, let time = entry["integratedTime"]?.intValue,
              let index = entry["logIndex"]?.intValue, let logID = entry["logID"]?.stringValue else { return nil }
        let set = entry["verification"]?["signedEntryTimestamp"]?.stringValue.flatMap { Base64.decode($0, .standard) }.map { Array($0) } ?? []
        var proof: InclusionProof?
        if let p = entry["verification"]?["inclusionProof"], !p.isNull {
            // Held to the same shape rules as a bundle's proof: 32-byte hex hashes, sane indexes.
            guard let root = p["rootHash"]?.stringValue.flatMap(Hash.bytes(hex:)), root.count == 32,
                  let size = p["treeSize"]?.intValue, size > 0, let leaf = p["logIndex"]?.intValue, leaf >= 0,
                  let checkpoint = p["checkpoint"]?.stringValue else { return nil }
            var hashes: [[UInt8]] = []
            for value in p["hashes"]?.arrayValue ?? [] {
                guard let hash = value.stringValue.flatMap(Hash.bytes(hex:)), hash.count == 32 else { return nil }
                hashes.append(hash)
            }
            proof = InclusionProof(logIndex: leaf, treeSize: size, rootHash: root, hashes: hashes, checkpoint: checkpoint)
        }
        return RekorBundle(signedEntryTimestamp: set, body: body, integratedTime: time, logIndex: index, logID: logID, inclusionProof: proof)
    }
}
