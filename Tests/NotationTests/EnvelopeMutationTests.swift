import CBOR
import Core
import Foundation
@testable import Notation
import Testing

@Suite struct EnvelopeMutationTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            guard !bytes.isEmpty else { break }
            let position = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
            case 1: bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.remove(at: position)
            case 3: bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
            default: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...64, using: &random)))
            }
        }
        return bytes
    }

    @Test(arguments: ["jws-es256", "cose-es256", "cose-expired-timestamp-inside", "jws-expired-timestamp-inside"])
    func mutatedEnvelopesNeverCrashAndOnlyPassWithTheirSignedBytesIntact(name: String) async throws {
        let fixtures = try await NotationFixtures.shared.value
        let original = try fixtures.envelope(name)
        let policy = try trustPolicy(verifyTimestamp: "afterCertExpiry", stores: ["ca:wabbit", "tsa:tsa"])
        let baseline = NotationVerification.verify(envelope: original.bytes, mediaType: original.mediaType, subject: NotationFixtures.subject,
                                                   policy: policy, trustStores: fixtures.stores)
        #expect(baseline.isSuccess)
        var random = SplitMix64(state: UInt64(name.utf8.count) &+ 0x5eed)
        var passes = 0
        for _ in 0..<1500 {
            let mutated = Self.mutate(original.bytes, &random)
            let outcome = NotationVerification.verify(envelope: mutated, mediaType: original.mediaType, subject: NotationFixtures.subject,
                                                      policy: policy, trustStores: fixtures.stores)
            if outcome.isSuccess {
                passes += 1
                #expect(outcome.envelope?.signedBytes == baseline.envelope?.signedBytes)
                #expect(outcome.envelope?.signature == baseline.envelope?.signature)
            } else {
                #expect(outcome.enforcedFailure.map { !$0.message.isEmpty } == true)
            }
        }
        #expect(passes < 1500, "mutations must be able to fail")
    }
}
