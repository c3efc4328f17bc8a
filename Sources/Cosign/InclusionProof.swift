import Core
import Crypto
import Foundation
import JSON

/// A transparency-log entry's inclusion proof, as Sigstore bundles carry it
/// (`verificationMaterial.tlogEntries[].inclusionProof`): the entry's leaf index in a tree of
/// `treeSize` leaves, the audit path to `rootHash`, and the log's signed checkpoint for that root.
/// Rekor v2 writes only this (no inclusion promise); public-good Rekor v1 bundles carry both.
public struct InclusionProof: Sendable, Equatable {
    public var logIndex: Int
    public var treeSize: Int
    public var rootHash: [UInt8]
    public var hashes: [[UInt8]]
    public var checkpoint: String

    /// Reads the protobuf-JSON form (int64 as strings, bytes as base64).
    public static func parse(_ value: JSONValue) -> InclusionProof? {
        func int(_ key: String) -> Int? { value[key]?.stringValue.flatMap { Int($0) } ?? value[key]?.intValue }
        func bytes(_ text: JSONValue?) -> [UInt8]? { text?.stringValue.flatMap { Base64.decode($0, .protobufJSON) }.map { Array($0) } }
        guard let index = int("logIndex"), let size = int("treeSize"), index >= 0, size > 0,
              let root = bytes(value["rootHash"]), root.count == 32,
              let list = value["hashes"]?.arrayValue ?? (value["hashes"] == nil ? [] : nil),
              let envelope = value["checkpoint"]?["envelope"]?.stringValue else { return nil }
        var hashes: [[UInt8]] = []
        for entry in list {
            guard let hash = bytes(entry), hash.count == 32 else { return nil }
            hashes.append(hash)
        }
        return InclusionProof(logIndex: index, treeSize: size, rootHash: root, hashes: hashes, checkpoint: envelope)
    }

    /// RFC 6962 §2.1 leaf hash: SHA-256(0x00 || entry).
    static func leafHash(_ entry: [UInt8]) -> [UInt8] { Hash.digest(.sha256, [0x00] + entry) }
    static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { Hash.digest(.sha256, [0x01] + left + right) }

    /// RFC 9162 §2.1.3.2: the root the audit path gives for `leaf` at `logIndex` in a tree of
    /// `treeSize`, or nil when the path has the wrong length for that position.
    func computedRoot(leaf: [UInt8]) -> [UInt8]? {
        guard logIndex < treeSize else { return nil }
        var fn = logIndex, sn = treeSize - 1, r = leaf
        for p in hashes {
            // "If sn is 0, then stop the iteration and fail the proof verification."
            guard sn > 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = Self.nodeHash(p, r)
                // "If LSB(fn) is not set, then right-shift both fn and sn equally until either
                // LSB(fn) is set or fn is 0."
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = Self.nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        // "Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
        // root_hash are equal, then the log has proven the inclusion."
        return sn == 0 ? r : nil
    }

    /// Verifies the proof offline for the entry `body` (the canonicalized entry bytes): the audit
    /// path leads to `rootHash`, and the checkpoint is a note signed by `logKey` (whose log ID is
    /// `logID`, 32 bytes) naming that root. Returns nil when it holds, else the reason.
    public func problem(body: [UInt8], logKey: PublicKey, logID: [UInt8]) -> String? {
        guard let computed = computedRoot(leaf: Self.leafHash(body)) else {
            return "the inclusion proof's audit path (\(hashes.count) hashes) does not fit leaf \(logIndex) of a tree of \(treeSize)"
        }
        guard computed == rootHash else {
            return "the inclusion proof's audit path does not lead from the entry to the proof's root hash"
        }
        switch SignedCheckpoint.parse(checkpoint) {
        case .failure(let reason):
            return "the inclusion proof's checkpoint is malformed: \(reason.text)"
        case .success(let signed):
            if let reason = signed.signatureProblem(logKey: logKey, logID: logID) { return reason }
            guard signed.treeSize == treeSize else {
                return "the log's checkpoint is for a tree of \(signed.treeSize), not the proof's \(treeSize)"
            }
            guard signed.rootHash == rootHash else {
                return "the log's checkpoint names root \(Hash.hexString(signed.rootHash)), not the proof's \(Hash.hexString(rootHash))"
            }
            return nil
        }
    }
}

/// A log checkpoint in the signed-note format (transparency-dev/formats log/README.md, as Rekor
/// writes it):
///
///     <origin>\n<tree size>\n<base64 root hash>\n[<other lines>\n]\n— <name> <base64(key hint || signature)>\n
///
/// The signature covers the note text up to and including the newline before the blank line.
/// Rekor's key hint is the first 4 bytes of the log ID (SHA-256 of the log key's DER).
struct SignedCheckpoint {
    var note: [UInt8]
    var origin: String
    var treeSize: Int
    var rootHash: [UInt8]
    var signatures: [(name: String, hint: [UInt8], signature: [UInt8])]

    struct Reason: Error { let text: String }

    static func parse(_ text: String) -> Result<SignedCheckpoint, Reason> {
        let parts = text.components(separatedBy: "\n\n")
        // sigstore-python and Rekor: exactly one blank line separates the text from the signatures.
        guard parts.count == 2 else { return .failure(Reason(text: "a signed note has exactly one blank line between its text and its signatures")) }
        let body = parts[0] + "\n", block = parts[1]
        let lines = parts[0].components(separatedBy: "\n")
        guard lines.count >= 3, !lines[0].isEmpty else { return .failure(Reason(text: "a checkpoint needs an origin, a tree size and a root hash")) }
        guard let size = Int(lines[1]), size >= 0, String(size) == lines[1] else { return .failure(Reason(text: "the tree size \"\(lines[1])\" is not a decimal number")) }
        guard let root = Base64.decode(lines[2], .standard), root.count == 32 else { return .failure(Reason(text: "the root hash is not 32 bytes of base64")) }
        guard block.hasSuffix("\n") else { return .failure(Reason(text: "the signature block must end with a newline")) }
        var signatures: [(String, [UInt8], [UInt8])] = []
        for line in block.dropLast().components(separatedBy: "\n") {
            // "— <name> <signature>": an em dash (U+2014), a space, the name, a space, base64.
            guard line.hasPrefix("\u{2014} ") else { return .failure(Reason(text: "a signature line must start with an em dash and a space")) }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, let raw = Base64.decode(String(fields[1]), .standard), raw.count > 4 else {
                return .failure(Reason(text: "a signature line must be \"— <name> <base64 of key hint and signature>\""))
            }
            signatures.append((String(fields[0]), Array(raw.prefix(4)), Array(raw.dropFirst(4))))
        }
        guard !signatures.isEmpty else { return .failure(Reason(text: "the note carries no signature")) }
        return .success(SignedCheckpoint(note: Array(body.utf8), origin: lines[0], treeSize: size, rootHash: Array(root), signatures: signatures))
    }

    /// The note must carry a signature by the log: the one whose key hint is the log ID's first
    /// four bytes, valid under `logKey`. Other signers (witnesses) are ignored.
    func signatureProblem(logKey: PublicKey, logID: [UInt8]) -> String? {
        let hint = Array(logID.prefix(4))
        let byLog = signatures.filter { $0.hint == hint }
        guard !byLog.isEmpty else { return "the checkpoint carries no signature by log \(Hash.hexString(logID)) (no key hint \(Hash.hexString(hint)))" }
        guard byLog.contains(where: { logKey.verify(signature: $0.signature, message: note, hash: logKey.sigstoreHash) }) else {
            return "the checkpoint's signature is not a valid signature by log \(Hash.hexString(logID))"
        }
        return nil
    }
}
