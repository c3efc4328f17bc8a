import Core
import Crypto
import Foundation
import HTTPClient
import JSON

/// Why a TUF refresh was refused (TUF specification 1.0, "Detailed client workflow"); every
/// reason leaves the previously trusted metadata in place.
public struct TUFError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case fetch = "TUF_FETCH_FAILED"
        case malformed = "TUF_MALFORMED_METADATA"
        case signatures = "TUF_SIGNATURE_THRESHOLD"
        case rollback = "TUF_ROLLBACK"
        case expired = "TUF_EXPIRED_METADATA"
        case mixAndMatch = "TUF_VERSION_OR_HASH_MISMATCH"
        case length = "TUF_LENGTH_MISMATCH"
        case target = "TUF_TARGET_UNAVAILABLE"
    }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code.rawValue): \(message)" }
}

/// securesystemslib's canonical JSON (what TUF signs): object keys sorted by code point, no
/// whitespace, strings escaping only `\` and `"`, integers only.
public enum CanonicalJSON {
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out)
        return out
    }

    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
        case .number(let text): out += Array(text.utf8)
        case .string(let text): string(text, into: &out)
        case .array(let items):
            out.append(0x5B)
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(0x2C) }
                write(item, into: &out)
            }
            out.append(0x5D)
        case .object(let object):
            out.append(0x7B)
            let members = object.members.sorted { Array($0.key.unicodeScalars.map(\.value)).lexicographicallyPrecedes(Array($1.key.unicodeScalars.map(\.value))) }
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(0x2C) }
                string(member.key, into: &out)
                out.append(0x3A)
                write(member.value, into: &out)
            }
            out.append(0x7D)
        }
    }

    static func string(_ text: String, into out: inout [UInt8]) {
        out.append(0x22)
        for byte in text.utf8 {
            if byte == 0x5C || byte == 0x22 { out.append(0x5C) }
            out.append(byte)
        }
        out.append(0x22)
    }
}

/// One verified TUF metadata file.
struct TUFMetadata {
    let signed: JSONValue
    let bytes: [UInt8]
    var version: Int { signed["version"]?.intValue ?? -1 }
    var type: String { signed["_type"]?.stringValue ?? "" }
    var expires: Date? {
        guard let text = signed["expires"]?.stringValue else { return nil }
        let format = ISO8601DateFormatter()
        if let date = format.date(from: text) { return date }
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.date(from: text)
    }

    static func parse(_ bytes: [UInt8], role: String) throws(TUFError) -> (TUFMetadata, signatures: [(keyid: String, sig: [UInt8])]) {
        guard let document = try? JSONParser.parse(bytes), let signed = document["signed"], signed.objectValue != nil,
              let list = document["signatures"]?.arrayValue else {
            throw TUFError(.malformed, "\(role) metadata is not {signed, signatures} JSON")
        }
        let metadata = TUFMetadata(signed: signed, bytes: bytes)
        guard metadata.type == role else { throw TUFError(.malformed, "\(role) metadata has _type \"\(metadata.type)\"") }
        guard metadata.version >= 1, metadata.expires != nil else { throw TUFError(.malformed, "\(role) metadata needs a positive version and an expires date") }
        let signatures: [(String, [UInt8])] = list.compactMap { entry in
            guard let id = entry["keyid"]?.stringValue, let hex = entry["sig"]?.stringValue, let sig = Hash.bytes(hex: hex) else { return nil }
            return (id, sig)
        }
        return (metadata, signatures)
    }
}

/// A role's keys and threshold, from a root's `keys` and `roles`.
struct TUFRole {
    let keys: [String: (key: PublicKey, scheme: String)]
    let threshold: Int

    init(_ root: JSONValue, name: String) throws(TUFError) {
        guard let role = root["roles"]?[name], let ids = role["keyids"]?.arrayValue?.compactMap(\.stringValue),
              let threshold = role["threshold"]?.intValue, threshold >= 1 else {
            throw TUFError(.malformed, "root has no usable \(name) role")
        }
        var keys: [String: (PublicKey, String)] = [:]
        for id in Set(ids) {
            guard let entry = root["keys"]?[id], let scheme = entry["scheme"]?.stringValue, let text = entry["keyval"]?["public"]?.stringValue else { continue }
            let key: PublicKey?
            if scheme == "ed25519", let raw = Hash.bytes(hex: text), raw.count == 32 {
                // RFC 8410 SubjectPublicKeyInfo around the raw key.
                key = try? PublicKey.der(Hash.bytes(hex: "302a300506032b6570032100")! + raw, source: "TUF key \(id)")
            } else if scheme == "ecdsa-sha2-nistp256", let point = Hash.bytes(hex: text), point.count == 65, point[0] == 0x04 {
                // Early sigstore roots: the uncompressed P-256 point in hex (RFC 5480 SPKI around it).
                key = try? PublicKey.der(Hash.bytes(hex: "3059301306072a8648ce3d020106082a8648ce3d030107034200")! + point, source: "TUF key \(id)")
            } else {
                key = try? PublicKey.pem(Array(text.utf8), source: "TUF key \(id)")
            }
            if let key { keys[id] = (key, scheme) }
        }
        self.keys = keys
        self.threshold = threshold
    }

    /// TUF 5.3.4/5.4.2/…: at least `threshold` distinct keys of the role signed `signed` — keys,
    /// not key IDs: one key listed under several IDs counts once.
    func check(_ metadata: TUFMetadata, signatures: [(keyid: String, sig: [UInt8])], role: String) throws(TUFError) {
        let message = CanonicalJSON.encode(metadata.signed)
        var valid = Set<[UInt8]>()
        for signature in signatures {
            guard let (key, scheme) = keys[signature.keyid], !valid.contains(key.derBytes) else { continue }
            // The scheme must be the key's kind; an unknown scheme verifies nothing.
            let ok: Bool = switch (scheme, key.kind) {
            case ("ed25519", .ed25519): key.verify(signature: signature.sig, message: message, hash: nil)
            case ("rsassa-pss-sha256", .rsa(_)): key.verify(signature: signature.sig, message: message, scheme: .rsaPSSAnySalt(.sha256))
            case ("ecdsa-sha2-nistp256", .ecdsa(curve: "prime256v1")): key.verify(signature: signature.sig, message: message, hash: .sha256)
            case ("ecdsa-sha2-nistp384", .ecdsa(curve: "secp384r1")): key.verify(signature: signature.sig, message: message, hash: .sha384)
            default: false
            }
            if ok { valid.insert(key.derBytes) }
        }
        guard valid.count >= threshold else {
            throw TUFError(.signatures, "\(role) metadata v\(metadata.version) has \(valid.count) valid signature(s) of the \(threshold) its role requires")
        }
    }
}

/// A TUF 1.0 client (the specification's "Detailed client workflow"): it updates the trusted root
/// through each intermediate version (each signed by the old and the new root's threshold), then
/// timestamp → snapshot → targets, checking signatures, versions (rollback), expiry (freeze),
/// the versions, lengths and hashes one file gives for the next (mix-and-match), and fetches a
/// target by the hash its targets metadata gives (consistent snapshots). Verified metadata is
/// kept in `cacheDirectory`, which is the starting point of the next refresh. Delegated targets
/// are not supported (sigstore's repository has none).
public struct TUFClient: Sendable {
    public let metadataURL: String
    public let targetsURL: String
    let fetcher: any HTTPFetching
    public let cacheDirectory: String
    let initialRoot: [UInt8]
    /// At most this many root versions are followed in one refresh.
    static let maxRootRotations = 32
    static let maxMetadataBytes = 4 << 20

    public init(metadataURL: String, targetsURL: String, initialRoot: [UInt8], cacheDirectory: String, fetcher: any HTTPFetching) {
        self.metadataURL = metadataURL.hasSuffix("/") ? String(metadataURL.dropLast()) : metadataURL
        self.targetsURL = targetsURL.hasSuffix("/") ? String(targetsURL.dropLast()) : targetsURL
        self.initialRoot = initialRoot
        self.cacheDirectory = cacheDirectory
        self.fetcher = fetcher
    }

    func cached(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: "\(cacheDirectory)/\(name)").map { Array($0) } }
    func store(_ bytes: [UInt8], as name: String) {
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let path = "\(cacheDirectory)/\(name)", temporary = "\(path).\(UUID().uuidString)"
        if FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) { _ = rename(temporary, path) }
    }

    func fetch(_ url: String, maxBytes: Int, deadline: ContinuousClock.Instant) async throws(TUFError) -> [UInt8]? {
        let left = deadline - .now
        guard left > .zero else { throw TUFError(.fetch, "no time left to fetch \(url)") }
        do {
            return try await fetcher.fetch(url, body: nil, contentType: nil, timeout: left, maxBytes: maxBytes)
        } catch {
            let text = "\(error)"
            if text.contains("HTTP 404") || text.contains("HTTP 403") { return nil }
            if text.contains("-byte limit") { throw TUFError(.length, "\(url) is longer than its metadata allows (\(maxBytes - 1) bytes)") }
            throw TUFError(.fetch, "\(url): \(text)")
        }
    }

    /// 5.2–5.3.9: the trusted root (the cached one, else the one shipped with the client),
    /// followed through every newer version the mirror has; returns its version. Expiry is the
    /// caller's next check.
    public func updateRoot(deadline: ContinuousClock.Instant) async throws(TUFError) -> Int {
        try await updatedRoot(deadline: deadline).version
    }

    func updatedRoot(deadline: ContinuousClock.Instant) async throws(TUFError) -> TUFMetadata {
        var (root, _) = try TUFMetadata.parse(initialRoot, role: "root")
        // A cached root counts only if it is newer and signed by its own root role's threshold.
        if let bytes = cached("root.json"), let (cachedRoot, signatures) = try? TUFMetadata.parse(bytes, role: "root"), cachedRoot.version > root.version,
           (try? TUFRole(cachedRoot.signed, name: "root").check(cachedRoot, signatures: signatures, role: "cached root")) != nil {
            root = cachedRoot
        }
        for _ in 0..<Self.maxRootRotations {
            let next = root.version + 1
            guard let bytes = try await fetch("\(metadataURL)/\(next).root.json", maxBytes: Self.maxMetadataBytes, deadline: deadline) else { break }
            let (candidate, signatures) = try TUFMetadata.parse(bytes, role: "root")
            try TUFRole(root.signed, name: "root").check(candidate, signatures: signatures, role: "root v\(next) (by the trusted root)")
            try TUFRole(candidate.signed, name: "root").check(candidate, signatures: signatures, role: "root v\(next) (by itself)")
            guard candidate.version == next else {
                throw TUFError(.rollback, "\(next).root.json holds version \(candidate.version)")
            }
            root = candidate
            store(bytes, as: "root.json")
        }
        return root
    }

    /// Refreshes the metadata and returns the verified bytes of `target`.
    public func refresh(target: String, now: Date = Date(), deadline: ContinuousClock.Instant) async throws(TUFError) -> [UInt8] {
        let root = try await updatedRoot(deadline: deadline)
        // 5.3.10: a root that has expired ends the update (freeze attack).
        guard let rootExpiry = root.expires, rootExpiry > now else { throw TUFError(.expired, "the trusted root (v\(root.version)) expired \(root.expires.map { "\($0)" } ?? "")") }
        let consistent = root.signed["consistent_snapshot"]?.boolValue ?? false

        // 5.4: timestamp.
        guard let timestampBytes = try await fetch("\(metadataURL)/timestamp.json", maxBytes: 1 << 20, deadline: deadline) else {
            throw TUFError(.fetch, "timestamp.json is not on the mirror")
        }
        let timestamp = try Self.verified(timestampBytes, role: "timestamp", by: root)
        if let trusted = trustedCached("timestamp.json", role: "timestamp", by: root) {
            guard timestamp.version >= trusted.version else {
                throw TUFError(.rollback, "timestamp v\(timestamp.version) is older than the trusted v\(trusted.version)")
            }
            let old = trusted.signed["meta"]?["snapshot.json"]?["version"]?.intValue ?? 0
            guard (timestamp.signed["meta"]?["snapshot.json"]?["version"]?.intValue ?? 0) >= old else {
                throw TUFError(.rollback, "timestamp v\(timestamp.version) names a snapshot older than the trusted v\(old)")
            }
        }
        guard let timestampExpiry = timestamp.expires, timestampExpiry > now else { throw TUFError(.expired, "timestamp v\(timestamp.version) has expired (freeze attack?)") }
        store(timestampBytes, as: "timestamp.json")

        // 5.5: snapshot, as the timestamp describes it.
        guard let snapshotMeta = timestamp.signed["meta"]?["snapshot.json"], let snapshotVersion = snapshotMeta["version"]?.intValue else {
            throw TUFError(.malformed, "timestamp does not describe snapshot.json")
        }
        let snapshotBytes = try await described("snapshot.json", meta: snapshotMeta, consistent: consistent, deadline: deadline)
        let snapshot = try Self.verified(snapshotBytes, role: "snapshot", by: root)
        guard snapshot.version == snapshotVersion else {
            throw TUFError(.mixAndMatch, "snapshot is v\(snapshot.version), the timestamp names v\(snapshotVersion)")
        }
        if let trusted = trustedCached("snapshot.json", role: "snapshot", by: root) {
            for member in trusted.signed["meta"]?.objectValue?.members ?? [] {
                let old = member.value["version"]?.intValue ?? 0
                guard let new = snapshot.signed["meta"]?[member.key]?["version"]?.intValue else {
                    throw TUFError(.rollback, "snapshot v\(snapshot.version) drops \(member.key)")
                }
                guard new >= old else { throw TUFError(.rollback, "snapshot v\(snapshot.version) names \(member.key) v\(new), older than the trusted v\(old)") }
            }
        }
        guard let snapshotExpiry = snapshot.expires, snapshotExpiry > now else { throw TUFError(.expired, "snapshot v\(snapshot.version) has expired") }
        store(snapshotBytes, as: "snapshot.json")

        // 5.6: targets, as the snapshot describes it.
        guard let targetsMeta = snapshot.signed["meta"]?["targets.json"], let targetsVersion = targetsMeta["version"]?.intValue else {
            throw TUFError(.malformed, "snapshot does not describe targets.json")
        }
        let targetsBytes = try await described("targets.json", meta: targetsMeta, consistent: consistent, deadline: deadline)
        let targets = try Self.verified(targetsBytes, role: "targets", by: root)
        guard targets.version == targetsVersion else {
            throw TUFError(.mixAndMatch, "targets is v\(targets.version), the snapshot names v\(targetsVersion)")
        }
        guard let targetsExpiry = targets.expires, targetsExpiry > now else { throw TUFError(.expired, "targets v\(targets.version) has expired") }
        store(targetsBytes, as: "targets.json")

        // 5.7: the target, by its hash when snapshots are consistent; length and hashes checked.
        guard let info = targets.signed["targets"]?[target], let length = info["length"]?.intValue,
              let hashes = info["hashes"]?.objectValue, !hashes.members.isEmpty else {
            throw TUFError(.target, "targets v\(targets.version) does not list \(target)\(targets.signed["delegations"] != nil ? " (delegated targets are not supported)" : "")")
        }
        var name = target
        if consistent {
            // TUF 5.7.3: with consistent snapshots a target is fetched as `<hash>.<name>`.
            guard let sha256 = hashes["sha256"]?.stringValue?.lowercased(), sha256.count == 64, sha256.allSatisfy(\.isHexDigit) else {
                throw TUFError(.target, "targets v\(targets.version) gives \(target) no SHA-256 to fetch it by")
            }
            name = "\(sha256).\(target)"
        }
        guard let bytes = try await fetch("\(targetsURL)/\(name)", maxBytes: length + 1, deadline: deadline) else {
            throw TUFError(.target, "\(name) is not on the mirror")
        }
        try Self.checkDescribed(bytes, length: length, hashes: hashes, what: target, requireHash: true)
        store(bytes, as: target)
        return bytes
    }

    /// A metadata file fetched as the previous one describes it (version-prefixed when snapshots
    /// are consistent), bounded by its length and checked against its hashes when given.
    func described(_ file: String, meta: JSONValue, consistent: Bool, deadline: ContinuousClock.Instant) async throws(TUFError) -> [UInt8] {
        let version = meta["version"]?.intValue ?? 0
        let length = meta["length"]?.intValue
        let name = consistent ? "\(version).\(file)" : file
        guard let bytes = try await fetch("\(metadataURL)/\(name)", maxBytes: (length ?? Self.maxMetadataBytes) + 1, deadline: deadline) else {
            throw TUFError(.fetch, "\(name) is not on the mirror")
        }
        if let length { try Self.checkDescribed(bytes, length: length, hashes: meta["hashes"]?.objectValue, what: name) }
        else if let hashes = meta["hashes"]?.objectValue { try Self.checkDescribed(bytes, length: nil, hashes: hashes, what: name) }
        return bytes
    }

    /// `bytes` parsed as `role` metadata, signed by the threshold of that role's keys in `root`.
    static func verified(_ bytes: [UInt8], role: String, by root: TUFMetadata) throws(TUFError) -> TUFMetadata {
        let (metadata, signatures) = try TUFMetadata.parse(bytes, role: role)
        try TUFRole(root.signed, name: role).check(metadata, signatures: signatures, role: role)
        return metadata
    }

    /// The cached copy of `file` if it still verifies with `root`'s keys for `role`; after a key
    /// rotation an old one no longer counts (spec 5.3.11) and sets no rollback floor.
    func trustedCached(_ file: String, role: String, by root: TUFMetadata) -> TUFMetadata? {
        cached(file).flatMap { try? Self.verified($0, role: role, by: root) }
    }

    /// Length and hashes as the describing metadata gives them. `requireHash`: at least one hash
    /// we compute must be there (a target is only as good as its hash).
    static func checkDescribed(_ bytes: [UInt8], length: Int?, hashes: JSONObject?, what: String, requireHash: Bool = false) throws(TUFError) {
        if let length, bytes.count != length { throw TUFError(.length, "\(what) is \(bytes.count) bytes, its metadata says \(length)") }
        var checked = 0
        for member in hashes?.members ?? [] {
            let algorithm: HashAlgorithm? = switch member.key { case "sha256": .sha256; case "sha384": .sha384; case "sha512": .sha512; default: nil }
            guard let algorithm else { continue }
            guard Hash.hex(algorithm, bytes) == member.value.stringValue?.lowercased() else {
                throw TUFError(.mixAndMatch, "\(what)'s \(member.key) is not the one its metadata gives")
            }
            checked += 1
        }
        if requireHash && checked == 0 { throw TUFError(.target, "\(what) has no SHA-256/384/512 hash in its metadata") }
    }
}
