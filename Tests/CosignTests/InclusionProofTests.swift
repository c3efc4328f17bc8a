import Core
import Crypto
@testable import Cosign
import Foundation
import JSON
import Testing

/// Inclusion proofs of real public-good Rekor entries (sigstore-go's test bundle
/// sigstore.js@2.0.0-provenance, Tests/Conformance/sigstore-go) verify against the public-good
/// trusted root; any change to the path, root, index or checkpoint is refused.
@Suite struct InclusionProofTests {
    static let conformance = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Conformance/sigstore-go")

    static func publicGood() throws -> (RekorBundle, TrustedRoot) {
        let bundle = try SigstoreBundle.parse(Array(try Data(contentsOf: conformance.appendingPathComponent("pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json"))))
        let root = try TrustedRoot.load(path: conformance.appendingPathComponent("examples/trusted-root-public-good.json").path)
        return (try #require(bundle.tlog), root)
    }

    @Test func aPublicGoodEntrysProofAndCheckpointVerify() throws {
        let (tlog, root) = try Self.publicGood()
        let proof = try #require(tlog.inclusionProof)
        #expect(proof.hashes.count == 10 && proof.treeSize == 27_657_875 && proof.checkpoint.contains("rekor.sigstore.dev - 2605736670972794746"))
        #expect(tlog.logProblem(trustedRoot: root) == nil)
        let body = Array(Data(base64Encoded: tlog.body)!)
        let logKey = try #require(root.logs[tlog.logID])
        #expect(proof.problem(body: body, logKey: logKey, logID: Hash.bytes(hex: tlog.logID)!) == nil)
    }

    @Test func anyChangeToTheProofIsRefused() throws {
        let (tlog, root) = try Self.publicGood()
        let proof = try #require(tlog.inclusionProof)
        let body = Array(Data(base64Encoded: tlog.body)!)
        let logKey = try #require(root.logs[tlog.logID]), id = Hash.bytes(hex: tlog.logID)!
        var path = proof
        path.hashes[3][0] ^= 1
        #expect(path.problem(body: body, logKey: logKey, logID: id)?.contains("does not lead from the entry") == true)
        var index = proof
        index.logIndex += 1
        #expect(index.problem(body: body, logKey: logKey, logID: id) != nil)
        var short = proof
        short.hashes.removeLast()
        #expect(short.problem(body: body, logKey: logKey, logID: id)?.contains("audit path") == true)
        #expect(proof.problem(body: body + [0x20], logKey: logKey, logID: id) != nil)
        // The checkpoint: another root in the text breaks its signature.
        var forged = proof
        let lines = proof.checkpoint.components(separatedBy: "\n")
        forged.checkpoint = ([lines[0], lines[1], Data(repeating: 7, count: 32).base64EncodedString()] + lines.dropFirst(3)).joined(separator: "\n")
        #expect(forged.problem(body: body, logKey: logKey, logID: id)?.contains("not a valid signature") == true)
        var unsigned = proof
        unsigned.checkpoint = lines.prefix(3).joined(separator: "\n") + "\n"
        #expect(unsigned.problem(body: body, logKey: logKey, logID: id)?.contains("malformed") == true)
        // A log the trusted root does not hold.
        var other = tlog
        other.logID = String(repeating: "ab", count: 32)
        other.signedEntryTimestamp = []
        #expect(other.logProblem(trustedRoot: root)?.contains("not in the trusted root") == true)
    }

    /// `validFor` windows: a retired log key, CA or CT log is trusted only for what happened
    /// inside its window (sigstore-go) — the embedded public-good root lists retired ones.
    @Test func trustedRootWindowsBoundWhatEachKeyVouchesFor() throws {
        let (tlog, publicGood) = try Self.publicGood()
        var root = publicGood
        #expect(tlog.logProblem(trustedRoot: root) == nil)
        root.logWindows[tlog.logID] = TrustedRoot.Window(start: nil, end: Date(timeIntervalSince1970: 1_672_531_200))  // 2023-01-01
        #expect(tlog.logProblem(trustedRoot: root)?.contains("the entry was integrated at 2023-08-18") == true, "\(String(describing: tlog.logProblem(trustedRoot: root)))")
        let embedded = try #require(PublicGoodTrustedRoot.root)
        let mid2022 = Date(timeIntervalSince1970: 1_654_041_600), y2024 = Date(timeIntervalSince1970: 1_704_067_200)
        #expect(embedded.roots(at: mid2022).count == 2 && embedded.roots(at: y2024).count == 1, "the first Fulcio root retired at the end of 2022")
        #expect(embedded.ctLogWindows.values.contains { $0.end != nil && !$0.contains(y2024) }, "ctfe.sigstore.dev/test retired in 2022")
    }

    /// RFC 9162's algorithm against a tree built here for every size and index up to 17.
    @Test func auditPathsOfEveryShape() {
        func leaf(_ i: Int) -> [UInt8] { InclusionProof.leafHash(Array("leaf \(i)".utf8)) }
        func mth(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
            if leaves.count == 1 { return leaves.first! }
            var k = 1
            while k * 2 < leaves.count { k *= 2 }
            return InclusionProof.nodeHash(mth(leaves.prefix(k)), mth(leaves.dropFirst(k)))
        }
        func path(_ m: Int, _ leaves: ArraySlice<[UInt8]>) -> [[UInt8]] {
            if leaves.count == 1 { return [] }
            var k = 1
            while k * 2 < leaves.count { k *= 2 }
            return m < k ? path(m, leaves.prefix(k)) + [mth(leaves.dropFirst(k))] : path(m - k, leaves.dropFirst(k)) + [mth(leaves.prefix(k))]
        }
        for size in 1...17 {
            let leaves = ArraySlice((0..<size).map(leaf))
            let root = mth(leaves)
            for index in 0..<size {
                let proof = InclusionProof(logIndex: index, treeSize: size, rootHash: root, hashes: path(index, leaves), checkpoint: "")
                #expect(proof.computedRoot(leaf: leaf(index)) == root, "size \(size) index \(index)")
                if size > 1 {
                    let wrong = InclusionProof(logIndex: (index + 1) % size, treeSize: size, rootHash: root, hashes: path(index, leaves), checkpoint: "")
                    #expect(wrong.computedRoot(leaf: leaf(index)) != root, "size \(size) index \(index) as \((index + 1) % size)")
                }
            }
        }
    }
}
