import CBOR
import Foundation
import Testing

func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite struct CBORDecoderTests {
    /// RFC 8949 Appendix A examples.
    @Test(arguments: [
        ("00", CBORValue.unsigned(0)), ("17", .unsigned(23)), ("1818", .unsigned(24)), ("1903e8", .unsigned(1000)),
        ("1bffffffffffffffff", .unsigned(UInt64.max)), ("20", .negative(0)), ("3863", .negative(99)),
        ("40", .bytes([])), ("4401020304", .bytes([1, 2, 3, 4])), ("60", .text("")), ("6449455446", .text("IETF")),
        ("62c3bc", .text("ü")), ("83010203", .array([.unsigned(1), .unsigned(2), .unsigned(3)])),
        ("a201020304", .map([CBORMapEntry(key: .unsigned(1), value: .unsigned(2)), CBORMapEntry(key: .unsigned(3), value: .unsigned(4))])),
        ("c11a514b67b0", .tagged(1, .unsigned(1_363_896_240))), ("f4", .bool(false)), ("f5", .bool(true)), ("f6", .null),
        ("f7", .undefined), ("f93c00", .float(1.0)), ("f97bff", .float(65504.0)), ("fa47c35000", .float(100000.0)),
        ("fb3ff199999999999a", .float(1.1)), ("f0", .simple(16)), ("f8ff", .simple(255)),
    ])
    func decodesTheRFCExamples(encoded: String, expected: CBORValue) throws {
        #expect(try CBORDecoder.decode(hex(encoded)) == expected)
    }

    @Test(arguments: [
        ("5f42010243030405ff", CBORError.Code.indefiniteLength),   // indefinite byte string
        ("9fff", .indefiniteLength), ("bf6161f5ff", .indefiniteLength), ("ff", .indefiniteLength),
        ("1c", .reserved), ("f801", .reserved),                    // reserved info; simple value < 32 in two bytes
        ("a2010201", .tooLarge),                                   // map missing its last value
        ("", .truncated),
        ("a201020103", .duplicateKey),
        ("62c328", .invalidUTF8),
        ("0001", .trailingBytes),
        ("5bffffffffffffffff", .tooLarge),                         // a byte string claiming 2^64-1 bytes
        ("9b00000000ffffffff00", .tooLarge),                       // an array claiming 4 billion items
        ("1a0102", .tooLarge),                                     // an argument cut short
    ])
    func refusesWhatTheStrictProfileForbids(encoded: String, code: CBORError.Code) {
        #expect(throws: CBORError.self) { try CBORDecoder.decode(hex(encoded)) }
        do { _ = try CBORDecoder.decode(hex(encoded)) } catch { #expect(error.code == code, "\(encoded): \(error)") }
    }

    @Test func boundsNestingDepth() throws {
        let deep = [UInt8](repeating: 0x81, count: 40) + [0x00]
        do {
            _ = try CBORDecoder.decode(deep)
            Issue.record("40 nested arrays must be refused")
        } catch {
            #expect(error.code == .tooDeep)
        }
        let allowed = [UInt8](repeating: 0x81, count: CBORDecoder.maxDepth) + [0x00]
        #expect(throws: Never.self) { try CBORDecoder.decode(allowed) }
    }

    @Test func encodesTheSigStructureHeads() {
        #expect(CBOREncoder.text("Signature1") == [0x6a] + Array("Signature1".utf8))
        #expect(CBOREncoder.bytes([]) == [0x40])
        #expect(CBOREncoder.head(major: 2, 24) == [0x58, 24])
        #expect(CBOREncoder.head(major: 2, 300) == [0x59, 0x01, 0x2c])
        #expect(CBOREncoder.head(major: 2, 70_000) == [0x5a, 0x00, 0x01, 0x11, 0x70])
        #expect(CBOREncoder.arrayHead(4) == [0x84])
    }
}

/// A deterministic mutation fuzzer run on every `make test` (libFuzzer runs longer under
/// `make fuzz`): mutated envelopes must never crash the parsers, and a mutated envelope may
/// only pass when what the signature covers is untouched (e.g. the unsigned signing agent).
