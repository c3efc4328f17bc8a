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
    let found = TTLCache<RekorBundle>(ttl: .seconds(600), maxEntries: 4096)

    public init(fetcher: any HTTPFetching) { self.fetcher = fetcher }

    public enum Outcome: Sendable {
        case found(RekorBundle)
        case notFound(String)
    }

    /// The entry of `base` that records `signature` over content hashed to `payloadHash`.
    public func find(base: String, signature: [UInt8], payloadHash: Digest, deadline: ContinuousClock.Instant) async -> Outcome {
        let cacheKey = "\(base)|\(payloadHash)|\(Data(signature).base64EncodedString())"
        if let cached = found.get(cacheKey) { return .found(cached) }
        func budget() -> Duration? {
            let left = deadline - .now
            return left > .milliseconds(10) ? left : nil
        }
        guard let timeout = budget() else { return .notFound("no time left before the verification deadline to ask Rekor at \(base)") }
        let search: [UInt8]
        do {
            search = try await fetcher.fetch("\(base)/api/v1/index/retrieve", body: JSONWriter.encode(["hash": .string(payloadHash.description)]),
                                             contentType: "application/json", timeout: timeout, maxBytes: 1 << 20)
        } catch {
            return .notFound(deadline <= .now ? "Rekor at \(base) did not answer before the verification deadline" : "Rekor at \(base) could not be searched: \(error)")
        }
        guard let uuids = (try? JSONParser.parse(search))?.arrayValue?.compactMap(\.stringValue) else {
            return .notFound("Rekor at \(base) answered the search with something other than a list of entry UUIDs")
        }
        guard !uuids.isEmpty else { return .notFound("Rekor at \(base) has no entry for content \(payloadHash)") }
        for uuid in uuids.prefix(Self.maxCandidates) {
            guard uuid.allSatisfy({ $0.isHexDigit }) else { continue }
            guard let timeout = budget() else { return .notFound("Rekor at \(base) did not answer before the verification deadline") }
            let bytes: [UInt8]
            do { bytes = try await fetcher.fetch("\(base)/api/v1/log/entries/\(uuid)", body: nil, contentType: nil, timeout: timeout, maxBytes: 4 << 20) } catch {
                if deadline <= .now { return .notFound("Rekor at \(base) did not answer before the verification deadline") }
                continue
            }
            guard let document = try? JSONParser.parse(bytes), let entry = document.objectValue?.members.first?.value,
                  let bundle = Self.bundle(entry) else { continue }
            if case .success = bundle.loggedVerifier(signature: signature, payloadHash: payloadHash) {
                found.put(cacheKey, bundle)
                return .found(bundle)
            }
        }
        return .notFound("none of Rekor's \(uuids.count) entries for content \(payloadHash) at \(base) records this signature")
    }

    /// A `LogEntryAnon` of Rekor's API: body, integratedTime, logID, logIndex and
    /// `verification {signedEntryTimestamp, inclusionProof {logIndex, rootHash, treeSize, hashes, checkpoint}}`
    /// (hashes in hex there).
    static func bundle(_ entry: JSONValue) -> RekorBundle? {
        guard let body = entry["body"]?.stringValue, let time = entry["integratedTime"]?.intValue,
              let index = entry["logIndex"]?.intValue, let logID = entry["logID"]?.stringValue else { return nil }
        let set = entry["verification"]?["signedEntryTimestamp"]?.stringValue.flatMap { Base64.decode($0, .standard) }.map { Array($0) } ?? []
        var proof: InclusionProof?
        if let p = entry["verification"]?["inclusionProof"], let root = p["rootHash"]?.stringValue.flatMap(Hash.bytes(hex:)),
           let size = p["treeSize"]?.intValue, let leaf = p["logIndex"]?.intValue, let checkpoint = p["checkpoint"]?.stringValue {
            let hashes = (p["hashes"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Hash.bytes(hex:)) }
            proof = InclusionProof(logIndex: leaf, treeSize: size, rootHash: root, hashes: hashes, checkpoint: checkpoint)
        }
        return RekorBundle(signedEntryTimestamp: set, body: body, integratedTime: time, logIndex: index, logID: logID, inclusionProof: proof)
    }
}
